"""openNDS FAS level 3: a login through authmon's queue, authmon's requests, hostile polls and
the queue under concurrency (portal/authmon.py, portal/authmon_views.py)."""

from __future__ import annotations

import asyncio
import base64
import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from urllib.parse import urlsplit

import aiohttp
import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from controller.services import CommandSender, find_router
from portal import authmon, grants, session_end, stores, vouchers
from portal.fas import sha256_hex
from simulators.authmon import AuthmonModel
from simulators.opennds import Gateway, OpenNds
from tests.factories import TEST_ACTOR, Tenant, make_tenant


async def level_3_tenant(db: asyncpg.Pool, *, online: bool = False) -> Tenant:
    """A level-3 router; `online=False`: its agent is not connected, so authmon grants."""
    tenant = await make_tenant(db, session_minutes=30, online=online)
    await db.execute(
        "UPDATE routers SET fas_level = 3 WHERE merchant_id = $1 AND router_id = $2",
        tenant.merchant_id,
        tenant.router.router_id,
    )
    return tenant


@pytest.fixture
async def tenant(db: asyncpg.Pool) -> Tenant:
    return await level_3_tenant(db)


def gateway_of(tenant: Tenant, portal: str) -> Gateway:
    nds = OpenNds(faskey=tenant.router.faskey)
    return Gateway(
        nds=nds,
        fas_url=f"{portal}/fas/{tenant.router.router_id}/",
        faskey=tenant.router.faskey,
        gateway_name="Level Three",
        gateway_mac="02:00:00:00:00:03",
        gateway_address="192.168.8.1:2050",
        fas_level=3,
    )


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


@pytest.fixture
async def authmon_session(portal_client: TestClient) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def test_a_login_waits_for_authmon_and_ends_online(
    portal_client: TestClient,
    authmon_session: aiohttp.ClientSession,
    tenant: Tenant,
    db: asyncpg.Pool,
) -> None:
    portal = str(portal_client.make_url("")).rstrip("/")
    gw = gateway_of(tenant, portal)
    model = AuthmonModel(gw.nds, url=gw.fas_url, gateway_hash=gw.gateway_hash)
    assert await model.clear(authmon_session) == ""  # authmon.sh's first request, at its start
    phone = gw.nds.add_client("aa:bb:cc:00:03:01", "10.0.0.31")
    # an origin with its own query: the online link must keep it encoded (a real run saw 404)
    redirect = gw.splash_redirect(phone, "http://example.com/a?b=c&d=e")
    assert "&iv=" in redirect
    splash = await portal_client.get(path_of(redirect))
    assert splash.status == 200
    page = await splash.text()
    carried = re.search(r'name="fas" value="([^"]*)"', page)
    assert carried is not None
    form = {"fas": carried.group(1).replace("&amp;", "&"), "accept": "1", "lang": "en"}
    login = await portal_client.post(
        f"/fas/{tenant.router.router_id}/login", data=form, allow_redirects=False
    )
    assert login.status == 303
    connecting = login.headers["Location"]
    assert "/connecting?" in connecting
    waiting = await portal_client.get(connecting)
    assert waiting.status == 200
    assert 'http-equiv="refresh"' in await waiting.text()
    assert phone.state == "Preauthenticated"

    acked = await model.poll_once(authmon_session)
    assert acked == [sha256_hex(sha256_hex(phone.token) + tenant.router.faskey)]
    assert phone.state == "Authenticated"
    assert phone.grant["minutes"] == 30 and phone.grant["down_kbps"] == 4000
    assert [entry[2] for entry in model.log[-2:]] == [
        f"* {acked[0]}%2030%201000%204000%200%200%20" + model.log[-2][2].split("%20")[-1],
        "ack",
    ]
    done = await portal_client.get(connecting, allow_redirects=False)
    assert done.status == 303 and "/online?" in done.headers["Location"]
    online = await portal_client.get(done.headers["Location"])
    assert "You&#39;re online" in await online.text()
    sessions = await db.fetch(
        "SELECT method, command_id FROM portal_sessions WHERE merchant_id = $1",
        tenant.merchant_id,
    )
    assert [(s["method"], s["command_id"][:8]) for s in sessions] == [("click", "authmon-")]
    # acked entries are forgotten: the next poll has nothing
    assert await model.poll_once(authmon_session) == []
    assert model.log[-2][2] == "*"


async def test_a_level_3_router_with_its_agent_online_is_not_queued(db: asyncpg.Pool) -> None:
    tenant = await level_3_tenant(db, online=True)
    router = await find_router(db, tenant.router.router_id)
    assert router is not None and router.fas_level == 3
    visit = stores.Visit(router, None, None, "d")  # type: ignore[arg-type]
    assert not grants.granted_by_authmon(visit)


async def test_an_unacked_grant_expires_into_a_could_not_connect_page(
    portal_client: TestClient, tenant: Tenant, db: asyncpg.Pool
) -> None:
    gw = gateway_of(tenant, "http://portal.test")
    phone = gw.nds.add_client("aa:bb:cc:00:03:02", "10.0.0.32")
    redirect = gw.splash_redirect(phone)
    carried = redirect.split("?fas=", 1)[1]
    login = await portal_client.post(
        f"/fas/{tenant.router.router_id}/login",
        data={"fas": carried, "accept": "1"},
        allow_redirects=False,
    )
    assert login.status == 303
    await db.execute(
        "UPDATE authmon_grants SET expires_at = now() WHERE merchant_id = $1",
        tenant.merchant_id,
    )
    late = await portal_client.get(login.headers["Location"])
    assert late.status == 503


async def test_a_grant_taken_twice_without_an_ack_says_the_shopper_may_be_online(
    portal_client: TestClient, tenant: Tenant, db: asyncpg.Pool
) -> None:
    """authmon's ack was lost (or openNDS refused twice): the portal cannot tell. After two
    offers the page says pages may open already; once expired, "could not confirm", not
    "could not let you through"."""
    gw = gateway_of(tenant, "http://portal.test")
    phone = gw.nds.add_client("aa:bb:cc:00:03:03", "10.0.0.33")
    carried = gw.splash_redirect(phone, "http://example.com/").split("?fas=", 1)[1]
    login = await portal_client.post(
        f"/fas/{tenant.router.router_id}/login",
        data={"fas": carried, "accept": "1", "lang": "en"},
        allow_redirects=False,
    )
    connecting = login.headers["Location"]
    view = poll_form("view", gw.gateway_hash, "none")
    offered = await portal_client.post(f"/fas/{tenant.router.router_id}/", data=view)
    assert (await offered.text()).startswith("* ")  # handed over once: a plain wait
    assert 'id="maybe-online"' not in await (await portal_client.get(connecting)).text()

    again = await portal_client.post(f"/fas/{tenant.router.router_id}/", data=view)
    assert (await again.text()).startswith("* ")  # no ack came: handed over again
    page = await (await portal_client.get(connecting)).text()
    assert 'id="maybe-online"' in page and 'href="http://example.com/"' in page
    assert 'http-equiv="refresh"' in page  # and it keeps checking

    await db.execute(
        "UPDATE authmon_grants SET expires_at = now() WHERE merchant_id = $1",
        tenant.merchant_id,
    )
    late = await portal_client.get(connecting)
    text = await late.text()
    assert late.status == 504 and "did not confirm that you are online" in text
    assert "Not confirmed yet" in text and "Something went wrong" not in text
    assert not await db.fetchval(
        "SELECT count(*) FROM portal_sessions WHERE merchant_id = $1", tenant.merchant_id
    )


def poll_form(action: str, gateway_hash: str, payload: str) -> dict[str, str]:
    return {
        "auth_get": action,
        "gatewayhash": gateway_hash,
        "payload": base64.b64encode(payload.encode()).decode(),
    }


@pytest.mark.parametrize(
    ("form", "status"),
    [
        ({}, 400),
        (poll_form("list", "a" * 64, "none"), 400),  # not used by authmon.sh: refused
        (poll_form("view", "A" * 64, "none"), 400),
        (poll_form("view", "a" * 63, "none"), 400),
        ({"auth_get": "view", "gatewayhash": "a" * 64, "payload": "%%%"}, 400),
        ({"auth_get": "view", "gatewayhash": "a" * 64, "payload": "//79"}, 400),  # not utf-8
        (poll_form("view", "a" * 64, "rhid1 rhid2"), 400),
        (poll_form("view", "a" * 64, "* not-an-rhid"), 400),
        (poll_form("view", "a" * 64, "* " + " ".join(["b" * 64] * 65)), 400),
    ],
)
async def test_hostile_polls_are_refused_plainly(
    portal_client: TestClient, tenant: Tenant, form: dict[str, str], status: int
) -> None:
    response = await portal_client.post(f"/fas/{tenant.router.router_id}/", data=form)
    assert response.status == status
    assert (await response.text()).startswith("ERROR: ")


async def test_polls_for_routers_not_served_this_way_are_refused(
    portal_client: TestClient, tenant: Tenant, db: asyncpg.Pool
) -> None:
    form = poll_form("view", "c" * 64, "none")
    unknown = await portal_client.post("/fas/ap-nobody/", data=form)
    assert unknown.status == 403 and "not registered" in await unknown.text()
    level_1 = await make_tenant(db)
    other = await portal_client.post(f"/fas/{level_1.router.router_id}/", data=form)
    assert other.status == 403 and "FAS level 3" in await other.text()
    # once the router's real gatewayhash is known (from a verified redirect), others are refused
    await db.execute(
        "INSERT INTO authmon_routers (merchant_id, router_id, gateway_hash) VALUES ($1, $2, $3)",
        tenant.merchant_id,
        tenant.router.router_id,
        "d" * 64,
    )
    wrong = await portal_client.post(f"/fas/{tenant.router.router_id}/", data=form)
    assert wrong.status == 403
    right = await portal_client.post(
        f"/fas/{tenant.router.router_id}/", data=poll_form("view", "d" * 64, "none")
    )
    assert right.status == 200 and await right.text() == "*"


async def test_the_wget_form_of_a_poll_is_answered_too(
    portal_client: TestClient, tenant: Tenant
) -> None:
    """libopennds.sh wget_request: GET <fas_url>?auth_get=&gatewayhash=&payload=."""
    response = await portal_client.get(
        f"/fas/{tenant.router.router_id}/",
        params=poll_form("view", "e" * 64, "none"),
    )
    assert response.status == 200 and await response.text() == "*"


async def test_an_accepted_poll_says_when_authmon_was_heard_but_not_that_the_agent_is_online(
    portal_client: TestClient, tenant: Tenant, db: asyncpg.Pool
) -> None:
    """The portal grants through authmon exactly when the agent is offline, so a poll must not
    mark the router online; it is kept apart, for the console (authmon_seen_at)."""
    from portal import liveness

    refused = await portal_client.post("/fas/ap-nobody/", data=poll_form("view", "c" * 64, "none"))
    assert refused.status == 403
    response = await portal_client.post(
        f"/fas/{tenant.router.router_id}/", data=poll_form("view", "e" * 64, "none")
    )
    assert response.status == 200
    await liveness.authmon_recorder(db).drain()
    row = await db.fetchrow(
        "SELECT online, authmon_seen_at FROM routers WHERE merchant_id = $1 AND router_id = $2",
        tenant.merchant_id,
        tenant.router.router_id,
    )
    assert row["online"] is False and row["authmon_seen_at"] is not None


async def test_the_queue_under_concurrent_logins_polls_and_acks(
    tenant: Tenant, db: asyncpg.Pool
) -> None:
    router = await find_router(db, tenant.router.router_id)
    assert router is not None
    gateway_hash = "f" * 64
    hids = [sha256_hex(f"token-{i}") for i in range(40)]

    async def login(hid: str) -> uuid.UUID:
        return await authmon.enqueue(
            db,
            router,
            hid=hid,
            gateway_hash=gateway_hash,
            session_id=uuid.uuid4(),
            device_hash=hid[:16],
            client_mac="aa:bb:cc:00:00:01",
            client_ip="10.0.0.1",
            method="click",
            terms_version="1",
            policy=(30, 0, 0, 0, 0),
        )

    # the same client twice at once ends in one queued grant with one session id
    first, second = await asyncio.gather(login(hids[0]), login(hids[0]))
    assert first == second
    await asyncio.gather(*(login(h) for h in hids[1:]))
    view = authmon.Poll("view", gateway_hash, "none")
    listed = (await authmon.answer(db, router, view)).split()
    assert listed[0] == "*" and len(listed) == 1 + authmon.BATCH
    rhids = [authmon.ack_rhids("* " + sha256_hex(h + router.faskey))[0] for h in hids]  # type: ignore[index]
    # five authmons (or one retrying) ack everything at once, each rhid several times
    acks = [authmon.Poll("view", gateway_hash, "* " + " ".join(rhids[i::3])) for i in range(3)]
    results = await asyncio.gather(*(authmon.answer(db, router, a) for a in acks * 5))
    assert set(results) == {"ack"}
    sessions = await db.fetchval(
        "SELECT count(*) FROM portal_sessions WHERE merchant_id = $1", tenant.merchant_id
    )
    assert sessions == 40
    assert await authmon.answer(db, router, view) == "*"


async def test_clear_forgets_stale_grants_but_not_ones_queued_just_before_it(
    tenant: Tenant, db: asyncpg.Pool
) -> None:
    """Recorded on the real gateway: authmon's start-up `clear` came after the first phone had
    logged in, and wiped its grant."""
    router = await find_router(db, tenant.router.router_id)
    assert router is not None
    for n, hid in enumerate(["1" * 64, "2" * 64]):
        await authmon.enqueue(
            db,
            router,
            hid=hid,
            gateway_hash="9" * 64,
            session_id=uuid.uuid4(),
            device_hash=f"d{n}",
            client_mac="aa:bb:cc:00:00:09",
            client_ip="10.0.0.9",
            method="click",
            terms_version="1",
            policy=(30, 0, 0, 0, 0),
        )
    await db.execute(
        "UPDATE authmon_grants SET created_at = now() - interval '1 minute'"
        " WHERE merchant_id = $1 AND rhid = $2",
        tenant.merchant_id,
        sha256_hex("1" * 64 + router.faskey),
    )
    assert await authmon.answer(db, router, authmon.Poll("clear", "9" * 64, "none")) == ""
    listed = await authmon.answer(db, router, authmon.Poll("view", "9" * 64, "none"))
    assert (
        listed
        == "* "
        + sha256_hex("2" * 64 + router.faskey)
        + "%2030%200%200%200%200%20"
        + listed.split("%20")[-1]
    )


# Recorded 2026-11-30 04:08 UTC from a real openNDS 11.0.0beta (b9fbb8d) at fas_secure_enabled 3
# (tests/gateways, level3-authmon): authmon.sh's requests as the portal received them, verbatim
# (authmon asked before `ndsctl status` answered, hence the empty NDS version).
REAL_USER_AGENT = "openNDS(authmon;NDS:;)"
REAL_HASH = "e32d6aea7a7094fb5743c6c7c7db0c8f66e100aa8c48840199b39418daa2d780"
REAL_REQUESTS = [
    (f"auth_get=clear&gatewayhash={REAL_HASH}&payload=bm9uZQ%3D%3D", ""),
    (f"auth_get=view&gatewayhash={REAL_HASH}&payload=bm9uZQ%3D%3D", "*"),
    (f"auth_get=view&gatewayhash={REAL_HASH}&payload=Kg%3D%3D", "ack"),  # "*": nothing acked
]


async def test_real_authmon_requests_are_answered_as_recorded(
    portal_client: TestClient, tenant: Tenant
) -> None:
    for body, answer in REAL_REQUESTS:
        response = await portal_client.post(
            f"/fas/{tenant.router.router_id}/",
            data=body.encode(),
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "User-Agent": REAL_USER_AGENT,
            },
        )
        assert (response.status, await response.text()) == (200, answer)


async def voucher_login_at_level_3(
    portal_client: TestClient, tenant: Tenant, gw: Gateway, mac: str, code: str
) -> str:
    """A voucher login at the level-3 router: the connecting page's URL (the grant queued)."""
    phone = gw.nds.add_client(mac, "10.0.0.35")
    carried = gw.splash_redirect(phone, "http://example.com/").split("?fas=", 1)[1]
    login = await portal_client.post(
        f"/fas/{tenant.router.router_id}/voucher",
        data={"fas": carried, "code": code, "accept": "1", "lang": "en"},
        allow_redirects=False,
    )
    assert login.status == 303, await login.text()
    return login.headers["Location"]


async def test_a_voucher_revoked_before_or_while_authmon_grants_lets_no_one_stay(
    portal_client: TestClient, tenant: Tenant, db: asyncpg.Pool, sender: CommandSender
) -> None:
    """Staff revoke a leaked code while its logins wait for authmon: a grant not handed over
    yet is withdrawn (the shopper is told it did not work); one authmon already took ends as
    'staff' when its ack comes (openNDS let the phone through; no agent here to deauth it)."""
    await stores.set_login_policy(
        db, tenant.merchant_id, tenant.store_id, login_methods=("click", "voucher")
    )
    batch_id = await vouchers.create_batch(
        db,
        tenant.merchant_id,
        vouchers.BatchSpec("Leaked", None, 120, 0, 2, None, 1),
        now=datetime.now(UTC),
    )
    [voucher] = await vouchers.codes_of_batch(db, tenant.merchant_id, batch_id)
    gw = gateway_of(tenant, "http://portal.test")
    router_path = f"/fas/{tenant.router.router_id}/"
    taken = await voucher_login_at_level_3(
        portal_client, tenant, gw, "aa:bb:cc:00:03:05", voucher.code
    )
    offered = await portal_client.post(router_path, data=poll_form("view", gw.gateway_hash, "none"))
    [star, entry] = (await offered.text()).split(" ")
    assert star == "*"
    rhid = entry.split("%20")[0]
    waiting = await voucher_login_at_level_3(
        portal_client, tenant, gw, "aa:bb:cc:00:03:06", voucher.code
    )

    assert await vouchers.revoke_code(
        db, tenant.merchant_id, batch_id, voucher.code, actor=TEST_ACTOR
    )

    # The second grant is withdrawn: the next poll hands over nothing.
    nothing = await portal_client.post(router_path, data=poll_form("view", gw.gateway_hash, "none"))
    assert await nothing.text() == "*"
    assert (await portal_client.get(waiting)).status == 503
    # authmon had taken the first; its ack makes a session that is due at once.
    ack = await portal_client.post(
        router_path, data=poll_form("view", gw.gateway_hash, f"* {rhid}")
    )
    assert await ack.text() == "ack"
    await session_end.end_due_sessions(db, sender)
    rows = await db.fetch(
        "SELECT voucher_code, status, end_reason FROM portal_sessions WHERE merchant_id = $1",
        tenant.merchant_id,
    )
    assert [tuple(r) for r in rows] == [(voucher.code, "ended", "staff")]
    assert taken != waiting
