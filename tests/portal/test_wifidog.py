"""Conformance of the WiFiDog auth-server endpoints (portal/wifidog.py) with wifidog-gateway.

Requests are built as wifidog-gateway builds them (parameter names and order of
auth_server_request, src/centralserver.c; ping(), src/ping_thread.c; http_callback_404,
src/http.c), plus hostile variants.
"""

from __future__ import annotations

import asyncio
import html
import re
import uuid
from dataclasses import dataclass
from urllib.parse import parse_qs, urlencode, urlsplit

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from controller.services import Router, register_router
from portal import liveness, wifidog_store
from portal import stores as portal_stores
from tests.factories import Tenant, make_tenant

GW_ADDRESS, GW_PORT = "192.168.1.1", 2060
MAC, IP = "0a:11:22:33:44:55", "192.168.1.23"


@dataclass(frozen=True)
class Wd:
    tenant: Tenant
    router: Router


async def make_wd(db: asyncpg.Pool, **portal: object) -> Wd:
    tenant = await make_tenant(db)
    async with db.acquire() as conn:
        if portal:
            await portal_stores.upsert_store_portal(
                conn, tenant.merchant_id, tenant.store_id, brand_name=tenant.brand_name, **portal
            )  # type: ignore[arg-type]
        new = await register_router(
            conn,
            tenant.merchant_id,
            tenant.store_id,
            f"wd-{uuid.uuid4().hex[:10]}",
            "WiFiDog AP",
            gateway="wifidog",
        )
    return Wd(tenant, new.router)


@pytest.fixture
async def wd(db: asyncpg.Pool) -> Wd:
    return await make_wd(db)


def login_query(gw_id: str, mac: str = MAC, ip: str = IP, url: str = "http://example.com/x") -> str:
    # http_callback_404: "%sgw_address=%s&gw_port=%d&gw_id=%s&ip=%s&mac=%s&url=%s"
    from urllib.parse import quote

    return (
        f"/wifidog/login/?gw_address={GW_ADDRESS}&gw_port={GW_PORT}&gw_id={gw_id}&ip={ip}"
        f"&mac={mac}&url={quote(url, safe='')}"
    )


def auth_query(
    stage: str, gw_id: str, token: str, mac: str = MAC, ip: str = IP, inc: int = 0, out: int = 0
) -> str:
    # auth_server_request: "stage=%s&ip=%s&mac=%s&token=%s&incoming=%llu&outgoing=%llu&gw_id=%s"
    return (
        f"/wifidog/auth/?stage={stage}&ip={ip}&mac={mac}&token={token}&incoming={inc}"
        f"&outgoing={out}&gw_id={gw_id}"
    )


def ticket_of(page: str) -> str:
    match = re.search(r'name="fas" value="([^"]+)"', page)
    assert match, "splash has no hidden ticket"
    return html.unescape(match.group(1))


async def issue(client: TestClient, wd: Wd, mac: str = MAC, ip: str = IP) -> str:
    page = await client.get(login_query(wd.router.router_id, mac, ip))
    assert page.status == 200
    ticket = ticket_of(await page.text())
    response = await client.post(
        "/wifidog/login/", data={"fas": ticket, "accept": "1", "lang": "en"}, allow_redirects=False
    )
    assert response.status == 302
    location = urlsplit(response.headers["Location"])
    assert (location.scheme, location.hostname, location.port) == ("http", GW_ADDRESS, GW_PORT)
    assert location.path == "/wifidog/auth"
    return parse_qs(location.query)["token"][0]


async def auth(client: TestClient, path: str) -> tuple[int, str]:
    response = await client.get(path)
    return response.status, await response.text()


def code(body: str) -> int:
    match = re.search(r"Auth: (-?\d+)", body)
    assert match, body
    return int(match.group(1))


# -- login/ ----------------------------------------------------------------------------------


async def test_login_page_shows_the_stores_splash_with_ad_and_coupon(
    portal_client: TestClient, wd: Wd
) -> None:
    response = await portal_client.get(
        login_query(wd.router.router_id), headers={"Accept-Language": "zh-CN"}
    )
    assert response.status == 200
    text = await response.text()
    assert wd.tenant.brand_name in text and "为你奉茶" in text and "领取优惠券" in text
    assert 'action="/wifidog/login/"' in text and 'action="/wifidog/coupon"' in text
    assert "lang=en" in text  # the language switch stays on the WiFiDog page


@pytest.mark.parametrize(
    ("mutate", "status", "text"),
    [
        (lambda q: q.replace("gw_id=", "gw_id=nope-"), 404, "not registered"),
        (lambda q: q.replace("&mac=" + MAC, ""), 400, "could not identify your device"),
        (lambda q: q + "&ip=10.0.0.9", 400, "not valid"),
        (lambda q: q.replace("gw_port=2060", "gw_port=70000"), 400, "not valid"),
        (lambda q: q.replace("gw_port=2060", "gw_port=%C2%B2"), 400, "not valid"),
        (
            lambda q: q.replace("gw_address=192.168.1.1", "gw_address=evil.example"),
            400,
            "not valid",
        ),
        (lambda q: q.replace("mac=" + MAC, "mac=zz"), 400, "not valid"),
        (lambda q: q + "&url=" + "a" * 3000, 400, "not valid"),
        (lambda q: q.replace("&gw_id=", "&x="), 400, "not valid"),
    ],
)
async def test_login_page_refuses_hostile_redirects(
    portal_client: TestClient, wd: Wd, mutate, status: int, text: str
) -> None:
    path = mutate(login_query(wd.router.router_id))
    response = await portal_client.get(path, headers={"Accept-Language": "en"})
    assert response.status == status
    assert text in await response.text()


async def test_an_opennds_router_is_not_served_as_wifidog(
    portal_client: TestClient, wd: Wd
) -> None:
    response = await portal_client.get(login_query(wd.tenant.router.router_id))
    assert response.status == 404
    status, body = await auth(
        portal_client, auth_query("login", wd.tenant.router.router_id, "a" * 32)
    )
    assert code(body) == 0 and status == 403


async def test_connect_requires_the_terms_and_a_ticket_we_signed(
    portal_client: TestClient, wd: Wd
) -> None:
    page = await portal_client.get(login_query(wd.router.router_id))
    ticket = ticket_of(await page.text())
    no_terms = await portal_client.post(
        "/wifidog/login/", data={"fas": ticket, "lang": "en"}, headers={"Accept-Language": "en"}
    )
    assert no_terms.status == 400 and "accept the terms" in await no_terms.text()
    forged = ticket.replace(".", ".x", 1)
    bad = await portal_client.post("/wifidog/login/", data={"fas": forged, "accept": "1"})
    assert bad.status == 400


# -- auth/?stage=login -----------------------------------------------------------------------


async def test_login_stage_accepts_a_token_once_and_records_the_login(
    portal_client: TestClient, wd: Wd, db: asyncpg.Pool
) -> None:
    token = await issue(portal_client, wd)
    status, body = await auth(portal_client, auth_query("login", wd.router.router_id, token))
    assert (status, code(body)) == (200, 1)
    session = await db.fetchrow(
        "SELECT * FROM portal_sessions WHERE merchant_id = $1 AND router_id = $2",
        wd.tenant.merchant_id,
        wd.router.router_id,
    )
    assert session["status"] == "active" and session["client_mac"] == MAC
    events = await db.fetch(
        "SELECT data FROM events WHERE merchant_id = $1 AND kind = 'login'", wd.tenant.merchant_id
    )
    assert [e["data"]["session"] for e in events] == [str(session["session_id"])]
    # The same phone back at its gateway's auth URL (a reload): its session goes on, no second.
    _, again = await auth(portal_client, auth_query("login", wd.router.router_id, token))
    assert code(again) == 1
    assert (
        await db.fetchval(
            "SELECT count(*) FROM portal_sessions WHERE merchant_id = $1", wd.tenant.merchant_id
        )
        == 1
    )
    # A used token is nobody else's.
    other = auth_query("login", wd.router.router_id, token, mac="0a:00:00:00:00:77")
    assert code((await auth(portal_client, other))[1]) == 0
    # Once the session ended, the token opens nothing.
    await db.execute(
        "UPDATE portal_sessions SET status = 'ended' WHERE merchant_id = $1",
        wd.tenant.merchant_id,
    )
    await db.execute("SELECT 1")


async def test_login_stage_refuses_another_mac_or_ip_unknown_and_expired_tokens(
    portal_client: TestClient, wd: Wd, db: asyncpg.Pool
) -> None:
    gw = wd.router.router_id
    token = await issue(portal_client, wd)
    assert (
        code(
            (await auth(portal_client, auth_query("login", gw, token, mac="0a:00:00:00:00:99")))[1]
        )
        == 0
    )
    assert (
        code((await auth(portal_client, auth_query("login", gw, token, ip="192.168.1.99")))[1]) == 0
    )
    assert code((await auth(portal_client, auth_query("login", gw, "Z" * 32)))[1]) == 0
    assert code((await auth(portal_client, auth_query("login", gw, "short")))[1]) == 0
    # The right client still can: a refused attempt does not burn the token.
    assert code((await auth(portal_client, auth_query("login", gw, token)))[1]) == 1
    late = await issue(portal_client, wd, mac="0a:00:00:00:00:42")
    await db.execute(
        "UPDATE wifidog_tokens SET expires_at = now() - interval '1 s' WHERE token = $1", late
    )
    assert (
        code((await auth(portal_client, auth_query("login", gw, late, mac="0a:00:00:00:00:42")))[1])
        == 0
    )


async def test_a_token_used_by_many_at_once_lets_exactly_one_through(
    portal_client: TestClient, wd: Wd, db: asyncpg.Pool
) -> None:
    token = await issue(portal_client, wd)
    path = auth_query("login", wd.router.router_id, token)
    replies = await asyncio.gather(*(auth(portal_client, path) for _ in range(12)))
    # One phone asking twelve times at once: one session, and the phone is let through.
    assert [code(body) for _, body in replies] == [1] * 12
    sessions = await db.fetchval(
        "SELECT count(*) FROM portal_sessions WHERE merchant_id = $1 AND router_id = $2",
        wd.tenant.merchant_id,
        wd.router.router_id,
    )
    assert sessions == 1


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/wifidog/auth/?ip=1.2.3.4&mac=0a:11:22:33:44:55&token=x&gw_id={gw}", -1),
        ("/wifidog/auth/?stage=hack&ip=1.2.3.4&mac=0a:11:22:33:44:55&token=x&gw_id={gw}", -1),
        (
            "/wifidog/auth/?stage=login&stage=login&ip=1.2.3.4&mac=0a:11:22:33:44:55&token=x&gw_id={gw}",
            0,
        ),
        ("/wifidog/auth/?stage=login&ip=1.2.3.4&mac=0a:11:22:33:44:55&gw_id={gw}", 0),
        ("/wifidog/auth/?stage=login&ip=1.2.3.4&mac=bad&token=" + "a" * 32 + "&gw_id={gw}", 0),
        (
            "/wifidog/auth/?stage=counters&ip=1.2.3.4&mac=0a:11:22:33:44:55&token="
            + "a" * 32
            + "&incoming=-5&gw_id={gw}",
            -1,
        ),
        (
            "/wifidog/auth/?stage=counters&ip=1.2.3.4&mac=0a:11:22:33:44:55&token="
            + "a" * 32
            + "&incoming="
            + "9" * 25
            + "&gw_id={gw}",
            -1,
        ),
        (
            "/wifidog/auth/?stage=login&ip=1.2.3.4&mac=0a:11:22:33:44:55&token="
            + "a" * 32
            + "&gw_id="
            + "g" * 65,
            0,
        ),
    ],
)
async def test_auth_answers_bad_requests_with_a_clear_auth_code(
    portal_client: TestClient, wd: Wd, path: str, expected: int
) -> None:
    status, body = await auth(portal_client, path.format(gw=wd.router.router_id))
    assert status in (400, 403) and code(body) == expected
    assert "Messages: " in body


# -- counters and logout ---------------------------------------------------------------------


async def online_token(client: TestClient, wd: Wd) -> str:
    token = await issue(client, wd)
    assert code((await auth(client, auth_query("login", wd.router.router_id, token)))[1]) == 1
    return token


async def session_of(db: asyncpg.Pool, wd: Wd, token: str) -> asyncpg.Record:
    return await db.fetchrow(
        "SELECT s.*, u.incoming, u.outgoing FROM wifidog_tokens t"
        " JOIN portal_sessions s USING (merchant_id, session_id)"
        " LEFT JOIN wifidog_usage u USING (merchant_id, session_id)"
        " WHERE t.merchant_id = $1 AND t.token = $2",
        wd.tenant.merchant_id,
        token,
    )


async def test_counters_are_stored_before_the_answer(
    portal_client: TestClient, wd: Wd, db: asyncpg.Pool
) -> None:
    token = await online_token(portal_client, wd)
    gw = wd.router.router_id
    _, body = await auth(portal_client, auth_query("counters", gw, token, inc=5000, out=700))
    assert code(body) == 1
    row = await session_of(db, wd, token)
    assert (row["incoming"], row["outgoing"]) == (5000, 700)
    # apfree-wifidog's names, and an older report that arrives late, never go backwards.
    apfree = auth_query("counters", gw, token).replace(
        "incoming=0&outgoing=0", "incoming_bytes=9000&outgoing_bytes=100"
    )
    assert code((await auth(portal_client, apfree))[1]) == 1
    row = await session_of(db, wd, token)
    assert (row["incoming"], row["outgoing"]) == (9000, 700)
    other = auth_query("counters", gw, token, mac="0a:00:00:00:00:07", inc=1)
    assert code((await auth(portal_client, other))[1]) == 0
    assert (await session_of(db, wd, token))["status"] == "active"


async def test_counters_kick_a_client_over_the_stores_quota(
    portal_client: TestClient, db: asyncpg.Pool
) -> None:
    wd = await make_wd(db, down_quota_kb=10)
    token = await online_token(portal_client, wd)
    gw = wd.router.router_id
    assert (
        code((await auth(portal_client, auth_query("counters", gw, token, inc=10 * 1024)))[1]) == 1
    )
    _, body = await auth(portal_client, auth_query("counters", gw, token, inc=10 * 1024 + 1))
    assert code(body) == 0 and "quota" in body
    row = await session_of(db, wd, token)
    assert row["status"] == "ended" and row["client_mac"] is None and row["incoming"] == 10241
    assert code((await auth(portal_client, auth_query("counters", gw, token)))[1]) == 0


async def test_counters_kick_a_client_whose_session_expired(
    portal_client: TestClient, wd: Wd, db: asyncpg.Pool
) -> None:
    token = await online_token(portal_client, wd)
    await db.execute(
        "UPDATE portal_sessions SET expires_at = now() - interval '1 s'"
        " WHERE merchant_id = $1 AND router_id = $2",
        wd.tenant.merchant_id,
        wd.router.router_id,
    )
    wifidog_store._sessions.clear()  # the cache would notice within SESSION_CACHE_TTL
    _, body = await auth(portal_client, auth_query("counters", wd.router.router_id, token, inc=1))
    assert code(body) == 0 and "expired" in body
    assert (await session_of(db, wd, token))["status"] == "ended"


async def test_a_session_another_worker_extended_is_not_ended_as_expired(
    portal_client: TestClient, wd: Wd, db: asyncpg.Pool
) -> None:
    """This worker cached the session as run out; another worker's Extend moved its end since:
    the counters stage must not end it (wifidog_end_session checks the end on the row)."""
    token = await online_token(portal_client, wd)
    move_end = (
        "UPDATE portal_sessions SET expires_at = now() + make_interval(secs => $3)"
        " WHERE merchant_id = $1 AND router_id = $2"
    )
    args = (wd.tenant.merchant_id, wd.router.router_id)
    await db.execute(move_end, *args, -1.0)
    wifidog_store._sessions.clear()
    assert (await wifidog_store.token_session(db, wd.router, token)).expired  # cached so
    await db.execute(move_end, *args, 1800.0)
    _, body = await auth(portal_client, auth_query("counters", wd.router.router_id, token, inc=1))
    assert code(body) == 1
    row = await session_of(db, wd, token)
    assert row["status"] == "active" and row["client_mac"] is not None


async def test_logout_ends_the_session_and_the_online_page_says_so(
    portal_client: TestClient, wd: Wd, db: asyncpg.Pool
) -> None:
    token = await online_token(portal_client, wd)
    gw = wd.router.router_id
    page = await portal_client.get(f"/wifidog/portal/?gw_id={gw}&token={token}&lang=en")
    assert page.status == 200 and "Time left" in await page.text()
    _, body = await auth(portal_client, auth_query("logout", gw, token, inc=3, out=4))
    assert code(body) == 0
    assert (await session_of(db, wd, token))["status"] == "ended"
    page = await portal_client.get(f"/wifidog/portal/?gw_id={gw}&token={token}&lang=en")
    assert "has ended" in await page.text()


async def test_the_portal_page_links_to_the_shoppers_wallet(
    portal_client: TestClient, wd: Wd
) -> None:
    token = await online_token(portal_client, wd)
    gw = wd.router.router_id
    page = await (await portal_client.get(f"/wifidog/portal/?gw_id={gw}&token={token}")).text()
    link = re.search(r'id="wallet-link" href="([^"]+)"', page)
    assert link and link.group(1).startswith(f"/fas/{gw}/wallet?")
    wallet = await portal_client.get(html.unescape(link.group(1)))
    assert wallet.status == 200 and 'id="wallet-empty"' in await wallet.text()


async def test_the_shopper_logs_out_from_the_portal_page_and_the_gateway_is_told_at_its_next_check(
    portal_client: TestClient, wd: Wd, db: asyncpg.Pool
) -> None:
    token = await online_token(portal_client, wd)
    gw = wd.router.router_id
    page = await (
        await portal_client.get(f"/wifidog/portal/?gw_id={gw}&token={token}&lang=en")
    ).text()
    form = re.search(r'<form method="post" action="([^"]+)" id="logout-form"', page)
    assert form and form.group(1) == "/wifidog/logout"
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page))
    assert fields == {"gw_id": gw, "token": token, "lang": "en"}
    # Hostile forms first: an unknown token, another router's id, a repeated field.
    logout = form.group(1)
    assert (await portal_client.post(logout, data={**fields, "token": "q" * 32})).status == 404
    other = await make_wd(db)
    assert (
        await portal_client.post(form.group(1), data={**fields, "gw_id": other.router.router_id})
    ).status == 404
    repeated = [*fields.items(), ("token", token)]
    assert (await portal_client.post(logout, data=repeated)).status == 400
    assert (await session_of(db, wd, token))["status"] == "active"

    done = await portal_client.post(form.group(1), data=fields)
    assert done.status == 200 and "within a minute" in await done.text()
    row = await session_of(db, wd, token)
    assert row["status"] == "ended" and row["client_mac"] is None
    events = await db.fetchval(
        "SELECT count(*) FROM events WHERE merchant_id = $1 AND kind = 'logout'",
        wd.tenant.merchant_id,
    )
    assert events == 1
    # The gateway's next counters report is answered Auth: 0 (it drops the client), and a
    # second submission finds the session ended without a second logout event.
    _, body = await auth(portal_client, auth_query("counters", gw, token, inc=9))
    assert code(body) == 0
    assert (await portal_client.post(form.group(1), data=fields)).status == 200
    assert events == await db.fetchval(
        "SELECT count(*) FROM events WHERE merchant_id = $1 AND kind = 'logout'",
        wd.tenant.merchant_id,
    )
    page = await (
        await portal_client.get(f"/wifidog/portal/?gw_id={gw}&token={token}&lang=en")
    ).text()
    assert "has ended" in page and "logout-form" not in page


async def test_portal_page_refuses_unknown_tokens_and_other_routers(
    portal_client: TestClient, wd: Wd, db: asyncpg.Pool
) -> None:
    token = await online_token(portal_client, wd)
    other = await make_wd(db)
    assert (
        await portal_client.get(f"/wifidog/portal/?gw_id={wd.router.router_id}&token={'q' * 32}")
    ).status == 404
    assert (
        await portal_client.get(f"/wifidog/portal/?gw_id={other.router.router_id}&token={token}")
    ).status == 404
    assert (await portal_client.get(f"/wifidog/portal/?gw_id=nope&token={token}")).status == 404


# -- ping/ and gw_message --------------------------------------------------------------------


async def test_ping_answers_pong_and_records_liveness(
    portal_client: TestClient, wd: Wd, db: asyncpg.Pool
) -> None:
    gw = wd.router.router_id
    query = urlencode(
        {
            "gw_id": gw,
            "sys_uptime": 5000,
            "sys_memfree": 20480,
            "sys_load": "0.12",
            "wifidog_uptime": 300,
        }
    )
    response = await portal_client.get(f"/wifidog/ping/?{query}")
    assert response.status == 200 and "Pong" in await response.text()
    await liveness.ping_recorder(db).drain()
    row = await db.fetchrow(
        "SELECT online, last_seen, last_status FROM routers"
        " WHERE merchant_id = $1 AND router_id = $2",
        wd.tenant.merchant_id,
        gw,
    )
    assert row["online"] and row["last_seen"] is not None
    assert row["last_status"]["sys_uptime"] == 5000 and row["last_status"]["sys_load"] == 0.12
    unknown = await portal_client.get("/wifidog/ping/?gw_id=nobody-here")
    assert unknown.status == 404 and "Pong" not in await unknown.text()
    bad = await portal_client.get(f"/wifidog/ping/?gw_id={gw}&sys_load=high")
    assert bad.status == 400 and "Pong" not in await bad.text()


@pytest.mark.parametrize(
    ("path", "lang", "status", "text"),
    [
        ("/wifidog/gw_message.php?message=denied&token=x", "en", 403, "did not let your device"),
        ("/wifidog/gw_message.php?message=denied&token=x", "zh-CN", 403, "未允许您的设备"),
        ("/wifidog/gw_message?message=activate", "en", 200, "confirm your account"),
        ("/wifidog/gw_message.php?message=failed_validation", "zh-CN", 200, "未在规定时间内确认"),
        ("/wifidog/gw_message.php?message=<script>", "en", 400, "does not exist"),
        ("/wifidog/gw_message.php", "en", 400, "not valid"),
    ],
)
async def test_gateway_messages(
    portal_client: TestClient, path: str, lang: str, status: int, text: str
) -> None:
    response = await portal_client.get(path, headers={"Accept-Language": lang})
    assert response.status == status
    body = await response.text()
    assert text in body and "<script>" not in body
