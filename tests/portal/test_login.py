"""The shopper's login through the portal against a simulated router on the real broker."""

from __future__ import annotations

import html
import logging
import re
import time
import uuid
from urllib.parse import parse_qs, urlsplit

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from kernel.config import Settings
from portal.fas import encode_fas, sha256_hex
from simulators.router import SimClient, SimulatedRouter
from tests.factories import Tenant, make_tenant


@pytest.fixture
async def tenant(db: asyncpg.Pool) -> Tenant:
    return await make_tenant(db, session_minutes=45)


def splash_path(sim: SimulatedRouter, fields: dict[str, str]) -> str:
    return f"/fas/{sim.router_id}/?fas={encode_fas(fields)}"


async def active_sessions(db: asyncpg.Pool, tenant: Tenant) -> list[asyncpg.Record]:
    return await db.fetch(
        "SELECT * FROM portal_sessions WHERE merchant_id = $1 AND status = 'active'",
        tenant.merchant_id,
    )


async def test_splash_shows_brand_ad_and_coupon_in_both_languages(
    portal_client: TestClient, router: SimulatedRouter
) -> None:
    client = router.add_client("aa:bb:cc:00:00:01", "10.0.0.5")
    path = splash_path(router, router.fas_fields(client))
    zh = await portal_client.get(path, headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"})
    assert zh.status == 200
    text = await zh.text()
    assert "为你奉茶" in text and "领取优惠券" in text and "连接上网" in text
    en = await portal_client.get(path, headers={"Accept-Language": "en-US,en;q=0.9"})
    text = await en.text()
    assert "Tea for you" in text and "Get coupon" in text and "Connect" in text
    assert "http://" not in re.sub(r'href="[^"]*"|action="[^"]*"', "", text.split("<body>")[0])
    assert en.headers["X-Content-Type-Options"] == "nosniff"


async def test_click_through_grants_access_and_records_the_login(
    portal_client: TestClient, router: SimulatedRouter, tenant: Tenant, db: asyncpg.Pool
) -> None:
    client = router.add_client("aa:bb:cc:00:00:02", "10.0.0.6")
    fields = router.fas_fields(client, origin_url="http://example.com/start")
    response = await portal_client.post(
        f"/fas/{router.router_id}/login",
        data={"fas": encode_fas(fields), "accept": "1", "lang": "en"},
        allow_redirects=False,
    )
    assert response.status == 303
    # Straight to the portal's own online page: the agent's grant is done, no gateway hop.
    target = urlsplit(response.headers["Location"])
    assert (target.netloc, target.path) == ("", f"/fas/{router.router_id}/online")
    query = parse_qs(target.query)
    assert query["next"] == ["http://example.com/start"] and query["lang"] == ["en"]
    assert client.authenticated and client.grant["minutes"] == 45
    assert client.grant["down_kbps"] == 4000
    sessions = await active_sessions(db, tenant)
    assert len(sessions) == 1 and sessions[0]["client_mac"] == "aa:bb:cc:00:00:02"
    assert query["s"] == [str(sessions[0]["session_id"])]
    assert sessions[0]["device_hash"] != "aa:bb:cc:00:00:02"
    command = await db.fetchrow(
        "SELECT status, op FROM router_commands WHERE merchant_id = $1 AND command_id = $2",
        tenant.merchant_id,
        sessions[0]["command_id"],
    )
    assert (command["op"], command["status"]) == ("auth", "done")
    logins = await db.fetchval(
        "SELECT count(*) FROM events WHERE merchant_id = $1 AND kind = 'login'",
        tenant.merchant_id,
    )
    assert logins == 1


async def test_terms_must_be_accepted(
    portal_client: TestClient, router: SimulatedRouter, tenant: Tenant, db: asyncpg.Pool
) -> None:
    client = router.add_client("aa:bb:cc:00:00:03", "10.0.0.7")
    response = await portal_client.post(
        f"/fas/{router.router_id}/login",
        data={"fas": encode_fas(router.fas_fields(client)), "lang": "en"},
        allow_redirects=False,
    )
    assert response.status == 400
    assert "Please accept the terms" in await response.text()
    assert not client.authenticated
    assert await active_sessions(db, tenant) == []


@pytest.mark.parametrize("forgery", ["other_mac", "wrong_hid"])
async def test_forged_redirect_gets_no_grant(
    portal_client: TestClient,
    router: SimulatedRouter,
    tenant: Tenant,
    db: asyncpg.Pool,
    forgery: str,
) -> None:
    victim = router.add_client("aa:bb:cc:00:00:04", "10.0.0.8")
    fields = router.fas_fields(victim)
    if forgery == "other_mac":
        fields["clientmac"] = "aa:bb:cc:00:00:99"  # a device the router has never seen
    else:
        fields["hid"] = sha256_hex("deadbeef")  # a token the router never issued
    response = await portal_client.post(
        f"/fas/{router.router_id}/login",
        data={"fas": encode_fas(fields), "accept": "1", "lang": "en"},
        allow_redirects=False,
    )
    assert response.status == 403
    assert "could not confirm your device" in await response.text()
    assert not victim.authenticated
    assert await active_sessions(db, tenant) == []


@pytest.mark.parametrize(
    ("path", "status", "text"),
    [
        ("/fas/ap-nobody/?fas=" + encode_fas({"hid": "a" * 64}), 404, "not registered"),
        ("/fas/{router}/?fas=%%%garbage", 400, "not valid"),
        ("/fas/{router}/?fas=" + "QUFB" * 2000, 400, "not valid"),
        ("/fas/{router}/", 400, "not valid"),
        ("/fas/" + "x" * 300 + "/?fas=QUFB", 404, "not registered"),
    ],
)
async def test_bad_redirects_get_a_clear_error_page(
    portal_client: TestClient, router: SimulatedRouter, path: str, status: int, text: str
) -> None:
    response = await portal_client.get(
        path.replace("{router}", router.router_id), headers={"Accept-Language": "en"}
    )
    assert response.status == status
    assert text in await response.text()


async def test_wrong_gateway_mac_is_refused(
    portal_client: TestClient, db: asyncpg.Pool, settings: Settings
) -> None:
    tenant = await make_tenant(db, gateway_mac="02:00:00:00:00:aa", with_ad=False)
    fields = {
        "hid": "b" * 64,
        "clientip": "10.0.0.9",
        "clientmac": "aa:bb:cc:00:00:05",
        "gatewayaddress": "192.168.8.1:2050",
        "gatewaymac": "020000000001",
    }
    response = await portal_client.get(
        f"/fas/{tenant.router.router_id}/?fas={encode_fas(fields)}",
        headers={"Accept-Language": "en"},
    )
    assert response.status == 400


async def test_no_ack_gives_try_again_page_and_no_session(
    portal_client: TestClient, db: asyncpg.Pool, caplog: pytest.LogCaptureFixture
) -> None:
    tenant = await make_tenant(db, with_ad=False)  # no simulated router answers for it
    fields = {
        "hid": "c" * 64,
        "clientip": "10.0.0.10",
        "clientmac": "aa:bb:cc:00:00:06",
        "gatewayaddress": "192.168.8.1:2050",
    }
    raw = encode_fas(fields)
    with caplog.at_level(logging.ERROR, logger="portico.controller.commands"):
        response = await portal_client.post(
            f"/fas/{tenant.router.router_id}/login",
            data={"fas": raw, "accept": "1", "lang": "en"},
            allow_redirects=False,
        )
    assert response.status == 503
    text = await response.text()
    assert "did not answer in time" in text and "Try again" in text
    # One tap on Try again posts the same login again.
    assert f'action="/fas/{tenant.router.router_id}/login"' in text
    assert f'name="fas" value="{raw}"' in text
    assert any("got no ack" in r.getMessage() for r in caplog.records)
    assert await active_sessions(db, tenant) == []
    statuses = await db.fetch(
        "SELECT status FROM router_commands WHERE merchant_id = $1", tenant.merchant_id
    )
    assert [r["status"] for r in statuses] == ["timeout"]


async def test_coupon_claim_shows_a_code_once_per_device(
    portal_client: TestClient, router: SimulatedRouter, tenant: Tenant, db: asyncpg.Pool
) -> None:
    client = router.add_client("aa:bb:cc:00:00:07", "10.0.0.11")
    form = {"fas": encode_fas(router.fas_fields(client)), "coupon": str(tenant.coupon_id)}
    first = await portal_client.post(f"/fas/{router.router_id}/coupon", data=form)
    assert first.status == 200
    code = re.search(r'id="coupon-code">([^<]+)<', await first.text())  # check char may be *~$=
    assert code is not None
    second = await portal_client.post(f"/fas/{router.router_id}/coupon", data=form)
    assert code.group(1) in await second.text()
    bad = await portal_client.post(
        f"/fas/{router.router_id}/coupon", data={**form, "coupon": "nope"}
    )
    assert bad.status == 404
    other = await portal_client.post(
        f"/fas/{router.router_id}/coupon",
        data={**form, "coupon": str(uuid.uuid4())},
        headers={"Accept-Language": "en"},
    )
    assert other.status == 404
    assert "This coupon is not available" in await other.text()
    claims = await db.fetchval(
        "SELECT count(*) FROM events WHERE merchant_id = $1 AND kind = 'coupon_claim'",
        tenant.merchant_id,
    )
    assert claims == 1  # the repeat claim showed the same code and counted nothing


async def test_ad_impression_counts_only_signed_image_fetches(
    portal_client: TestClient, router: SimulatedRouter, tenant: Tenant, db: asyncpg.Pool
) -> None:
    client = router.add_client("aa:bb:cc:00:00:08", "10.0.0.12")
    page = await (await portal_client.get(splash_path(router, router.fas_fields(client)))).text()
    image_url = re.search(r'<img src="(/ad/show/[^"]+)"', page).group(1)
    token = image_url.removeprefix("/ad/show/")
    assert f'name="ad" value="{token}"' in page  # the coupon form carries the placement
    browser = {"User-Agent": "Mozilla/5.0 (Linux; Android 14) Mobile Safari/537.36"}
    assert (await portal_client.get(image_url, headers=browser)).status == 200
    assert (await portal_client.get(image_url, headers=browser)).status == 200  # counted once
    assert (await portal_client.get(image_url + "x", headers=browser)).status == 404
    count = await db.fetchval(
        "SELECT count(*) FROM ad_events WHERE merchant_id = $1 AND kind = 'impression'",
        tenant.merchant_id,
    )
    assert count == 1


async def test_sessions_are_restored_after_opennds_restarts(
    portal_client: TestClient, router: SimulatedRouter, tenant: Tenant, db: asyncpg.Pool, sender
) -> None:
    import portal.sessions

    client = router.add_client("aa:bb:cc:00:00:09", "10.0.0.13")
    response = await portal_client.post(
        f"/fas/{router.router_id}/login",
        data={"fas": encode_fas(router.fas_fields(client)), "accept": "1"},
        allow_redirects=False,
    )
    assert response.status == 303
    router.restart_nds()
    assert not client.authenticated
    report = await portal.sessions.restore_sessions(db, sender, tenant.router)
    assert report.count("restored") == 1
    assert client.authenticated and 44 <= client.grant["minutes"] <= 45
    assert client.grant["down_kbps"] == 4000


async def login_to_online_page(
    portal_client: TestClient, router: SimulatedRouter, client: SimClient, **fields: str
) -> str:
    """Log `client` in and return the online page link the login ended on."""
    response = await portal_client.post(
        f"/fas/{router.router_id}/login",
        data={"fas": encode_fas({**router.fas_fields(client), **fields}), "accept": "1"},
        headers={"Accept-Language": "en"},
        allow_redirects=False,
    )
    assert response.status == 303, await response.text()
    return response.headers["Location"]


async def test_the_online_page_shows_time_data_coupon_and_the_way_on(
    portal_client: TestClient, router: SimulatedRouter, tenant: Tenant
) -> None:
    client = router.add_client("aa:bb:cc:00:00:0a", "10.0.0.14")
    form = {"fas": encode_fas(router.fas_fields(client)), "coupon": str(tenant.coupon_id)}
    claimed = await (await portal_client.post(f"/fas/{router.router_id}/coupon", data=form)).text()
    code = re.search(r'id="coupon-code">([^<]+)<', claimed).group(1)

    link = await login_to_online_page(
        portal_client, router, client, originurl="http%3A%2F%2Fexample.com%2Fnews"
    )
    page = await portal_client.get(link)

    assert page.status == 200
    text = html.unescape(await page.text())
    assert "You're online" in text and tenant.brand_name in text
    assert re.search(r'id="time-left">Time left: <strong>4[45] min</strong>', text)
    assert "Data: <strong>no limit</strong>" in text
    assert code in text  # the coupon stays in view after the login
    assert 'href="http://example.com/news"' in text
    zh = await portal_client.get(link.replace("lang=en", "lang=zh-CN"))
    assert "您已连接网络" in await zh.text() and "剩余时间" in await zh.text()


@pytest.mark.parametrize("tamper", ["sig", "next", "session"])
async def test_an_online_link_that_we_did_not_sign_is_refused(
    portal_client: TestClient, router: SimulatedRouter, tamper: str
) -> None:
    client = router.add_client("aa:bb:cc:00:00:0b", "10.0.0.15")
    link = await login_to_online_page(portal_client, router, client)
    parts = urlsplit(link)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    if tamper == "sig":
        query["sig"] = "0" * 32
    elif tamper == "next":
        query["next"] = "http://evil.example/"
    else:
        query["s"] = str(uuid.uuid4())
    response = await portal_client.get(parts.path, params=query)
    assert response.status == 404
    assert "This page link is not valid" in await response.text()


async def test_an_online_link_of_another_router_is_refused(
    portal_client: TestClient, router: SimulatedRouter, db: asyncpg.Pool
) -> None:
    client = router.add_client("aa:bb:cc:00:00:0c", "10.0.0.16")
    link = await login_to_online_page(portal_client, router, client)
    other = await make_tenant(db, with_ad=False)
    response = await portal_client.get(link.replace(router.router_id, other.router.router_id))
    assert response.status == 404


async def test_an_ended_session_says_so(
    portal_client: TestClient, router: SimulatedRouter, tenant: Tenant, db: asyncpg.Pool
) -> None:
    client = router.add_client("aa:bb:cc:00:00:0d", "10.0.0.17")
    link = await login_to_online_page(portal_client, router, client)
    await db.execute(
        "UPDATE portal_sessions SET expires_at = now() - interval '1 minute'"
        " WHERE merchant_id = $1",
        tenant.merchant_id,
    )
    text = await (await portal_client.get(link)).text()
    assert "Your WiFi session has ended" in text and "Time left" not in text


async def test_openNDS_sending_an_authenticated_client_back_gets_the_online_page(
    portal_client: TestClient, router: SimulatedRouter, tenant: Tenant
) -> None:
    # authenticated() (openNDS src/http_microhttpd.c) rebuilds the query from MHD's decoded
    # arguments and appends status=authenticated; there is no fas.
    path = (
        f"/fas/{router.router_id}/?tok={'a' * 64}"
        "&redir=http://captive.apple.com/hotspot-detect.html&status=authenticated"
    )
    response = await portal_client.get(path, headers={"Accept-Language": "en"})
    assert response.status == 200
    text = html.unescape(await response.text())
    assert "You're online" in text and tenant.brand_name in text


async def test_the_authenticated_bounce_with_no_query_gets_the_online_page(
    portal_client: TestClient, router: SimulatedRouter
) -> None:
    response = await portal_client.get(f"/fas/{router.router_id}/&status=authenticated")
    assert response.status == 200
    assert "You&#39;re online" in await response.text() or "您已连接网络" in await response.text()


async def test_a_router_the_controller_knows_is_offline_fails_at_once(
    portal_client: TestClient, db: asyncpg.Pool, caplog: pytest.LogCaptureFixture
) -> None:
    tenant = await make_tenant(db, with_ad=False, online=False)  # its Last Will was the last word
    fields = {
        "hid": "d" * 64,
        "clientip": "10.0.0.18",
        "clientmac": "aa:bb:cc:00:00:0e",
        "gatewayaddress": "192.168.8.1:2050",
    }
    started = time.monotonic()
    response = await portal_client.post(
        f"/fas/{tenant.router.router_id}/login",
        data={"fas": encode_fas(fields), "accept": "1", "lang": "en"},
        allow_redirects=False,
    )
    assert time.monotonic() - started < 1.0  # not after the ack timeout
    assert response.status == 503
    text = html.unescape(await response.text())
    assert "not connected to us right now" in text and "Try again" in text
    commands = await db.fetchval(
        "SELECT count(*) FROM router_commands WHERE merchant_id = $1", tenant.merchant_id
    )
    assert commands == 0 and await active_sessions(db, tenant) == []
