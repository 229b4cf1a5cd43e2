"""Returning shoppers and roaming (portal/returning.py, portal/returning_views.py), through the
portal app against simulated routers on the real broker and the real PostgreSQL."""

from __future__ import annotations

import html
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

import accounts.services as accounts
from ads import tracking
from controller.services import record_router_status, register_router
from kernel.config import Settings
from kernel.privacy import device_hash
from kernel.web import SETTINGS
from portal import identities, returning, stores
from portal.fas import encode_fas
from simulators.router import SimClient, SimulatedRouter
from tests.factories import Tenant, make_tenant

WELCOME = 'id="returning-form"'


@dataclass(frozen=True)
class Store:
    store_id: uuid.UUID
    sim: SimulatedRouter


async def set_portal(
    db: asyncpg.Pool,
    merchant_id: uuid.UUID,
    store_id: uuid.UUID,
    methods: tuple[str, ...] = ("click", "email"),
    returning_days: int = 7,
) -> None:
    await stores.upsert_store_portal(
        db,
        merchant_id,
        store_id,
        brand_name=f"Store {store_id.hex[:6]}",
        login_methods=methods,
        session_minutes=30,
        returning_days=returning_days,
    )
    stores._gateways.clear()  # the 5-second cache of store portals: the change shows at once


async def open_store(
    db: asyncpg.Pool, settings: Settings, merchant_id: uuid.UUID, **portal: object
) -> Store:
    """Another store of the merchant with its own router (simulated, started)."""
    async with db.acquire() as conn, conn.transaction():
        store_id = await accounts.create_store(conn, merchant_id, f"Store {uuid.uuid4().hex[:6]}")
        new = await register_router(
            conn, merchant_id, store_id, f"ap-{uuid.uuid4().hex[:10]}", "AP"
        )
        await record_router_status(conn, new.router, online=True, status={"v": 1, "online": True})
    await set_portal(db, merchant_id, store_id, **portal)  # type: ignore[arg-type]
    sim = SimulatedRouter(
        new.router.router_id,
        mqtt_url=settings.mqtt_url,
        password=new.mqtt_password,
        faskey=new.router.faskey,
        portal_url="http://portal.test",
        gateway_mac="02:00:00:00:00:02",
        gateway_host="192.168.9.1",
        gateway_port=2050,
    )
    await sim.start(http=False)
    return Store(store_id, sim)


@pytest.fixture
async def tenant(db: asyncpg.Pool) -> Tenant:
    tenant = await make_tenant(db, with_ad=True)
    await set_portal(db, tenant.merchant_id, tenant.store_id)
    return tenant


@pytest.fixture
async def second(db: asyncpg.Pool, settings: Settings, tenant: Tenant) -> AsyncIterator[Store]:
    store = await open_store(db, settings, tenant.merchant_id)
    yield store
    await store.sim.stop()


async def splash(
    portal: TestClient, sim: SimulatedRouter, client: SimClient, lang: str = "en"
) -> str:
    path = f"/fas/{sim.router_id}/?fas={encode_fas(sim.fas_fields(client))}"
    response = await portal.get(path, headers={"Accept-Language": lang})
    assert response.status == 200
    return await response.text()


async def click_login(portal: TestClient, sim: SimulatedRouter, client: SimClient) -> None:
    data = {"fas": encode_fas(sim.fas_fields(client)), "accept": "1", "lang": "en"}
    response = await portal.post(f"/fas/{sim.router_id}/login", data=data, allow_redirects=False)
    assert response.status == 303 and client.authenticated


async def email_login(
    portal: TestClient, sim: SimulatedRouter, client: SimClient, address: str
) -> None:
    data = {
        "fas": encode_fas(sim.fas_fields(client)),
        "accept": "1",
        "lang": "en",
        "email": address,
    }
    response = await portal.post(f"/fas/{sim.router_id}/email", data=data, allow_redirects=False)
    assert response.status == 303 and client.authenticated


async def post_returning(
    portal: TestClient, sim: SimulatedRouter, client: SimClient
) -> tuple[int, str, str]:
    data = {"fas": encode_fas(sim.fas_fields(client)), "lang": "en"}
    response = await portal.post(
        f"/fas/{sim.router_id}/returning", data=data, allow_redirects=False
    )
    return response.status, response.headers.get("Location", ""), await response.text()


def come_back(sim: SimulatedRouter, client: SimClient) -> SimClient:
    """The phone again later: its session ended (openNDS deleted the client), and rejoining
    makes it a new client with a new token (client_list_add_client)."""
    sim.nds.ndsctl_deauth(client.mac)
    return sim.add_client(client.mac, client.ip)


async def last_session(db: asyncpg.Pool, merchant_id: uuid.UUID) -> asyncpg.Record:
    return await db.fetchrow(
        "SELECT * FROM portal_sessions WHERE merchant_id = $1 ORDER BY started_at DESC LIMIT 1",
        merchant_id,
    )


async def age_sessions(db: asyncpg.Pool, merchant_id: uuid.UUID, days: float) -> None:
    """The merchant's sessions so far began `days` ago (time passes)."""
    await db.execute(
        "UPDATE portal_sessions SET started_at = started_at - make_interval(secs => $2),"
        " expires_at = expires_at - make_interval(secs => $2), status = 'ended',"
        " client_mac = NULL WHERE merchant_id = $1",
        merchant_id,
        days * 86400,
    )
    await db.execute(
        "UPDATE shopper_devices SET last_login_at = last_login_at - make_interval(secs => $2)"
        " WHERE merchant_id = $1",
        merchant_id,
        days * 86400,
    )


async def test_no_check_and_no_welcome_when_the_store_has_returning_off(
    portal_client: TestClient, router: SimulatedRouter, tenant: Tenant, db: asyncpg.Pool
) -> None:
    await set_portal(db, tenant.merchant_id, tenant.store_id, returning_days=0)
    client = router.add_client("aa:bb:cc:20:00:01", "10.0.2.1")
    await click_login(portal_client, router, client)
    assert WELCOME not in await splash(portal_client, router, client)
    _router, portal = await stores.store_gateway(db, router.router_id)
    visit = stores.Visit(tenant.router, portal, None, "0" * 32)  # type: ignore[arg-type]
    # Returning off: no query at all (no pool to query here).
    assert await returning.recognise(None, visit) is None  # type: ignore[arg-type]
    status, _, text = await post_returning(portal_client, router, client)
    assert status == 403 and "not available here" in text


async def test_a_device_seen_within_the_window_is_welcomed_back_and_let_in_with_one_tap(
    portal_client: TestClient, router: SimulatedRouter, tenant: Tenant, db: asyncpg.Pool
) -> None:
    client = router.add_client("aa:bb:cc:20:00:02", "10.0.2.2")
    assert WELCOME not in await splash(portal_client, router, client)  # a first visit
    await click_login(portal_client, router, client)
    first = await last_session(db, tenant.merchant_id)
    await age_sessions(db, tenant.merchant_id, 6.5)
    client = come_back(router, client)
    page = html.unescape(await splash(portal_client, router, client))
    assert WELCOME in page and "Welcome back!" in page
    assert page.index('class="ad"') < page.index(WELCOME)  # the ad first, then Continue
    assert 'id="connect"' in page  # the store's other methods stay below
    assert "Welcome back" not in await splash(
        portal_client, router, router.add_client("aa:bb:cc:20:00:99", "10.0.2.99")
    )
    zh = await splash(portal_client, router, client, "zh-CN")
    assert "欢迎回来" in zh

    status, location, _ = await post_returning(portal_client, router, client)
    assert status == 303 and urlsplit(location).path == f"/fas/{router.router_id}/online"
    assert client.authenticated
    session = await last_session(db, tenant.merchant_id)
    assert session["session_id"] != first["session_id"]
    assert session["method"] == "returning" and session["identity_hash"] is None
    assert session["terms_version"] == "1" and session["device_hash"] == first["device_hash"]
    # Told, and able to log out: the online page has its Log out.
    online = await (await portal_client.get(location)).text()
    assert 'id="logout"' in online


async def test_a_device_seen_before_the_window_logs_in_again(
    portal_client: TestClient, router: SimulatedRouter, tenant: Tenant, db: asyncpg.Pool
) -> None:
    client = router.add_client("aa:bb:cc:20:00:03", "10.0.2.3")
    await click_login(portal_client, router, client)
    await age_sessions(db, tenant.merchant_id, 7.01)
    assert WELCOME not in await splash(portal_client, router, client)
    sessions = await db.fetchval(
        "SELECT count(*) FROM portal_sessions WHERE merchant_id = $1", tenant.merchant_id
    )
    status, _, text = await post_returning(portal_client, router, client)  # a forged post
    assert status == 403 and "Please log in below" in text
    assert (
        await db.fetchval(
            "SELECT count(*) FROM portal_sessions WHERE merchant_id = $1", tenant.merchant_id
        )
        == sessions
    )


async def test_roaming_to_another_store_of_the_merchant(
    portal_client: TestClient,
    router: SimulatedRouter,
    second: Store,
    tenant: Tenant,
    db: asyncpg.Pool,
) -> None:
    mac = "aa:bb:cc:20:00:04"
    await click_login(portal_client, router, router.add_client(mac, "10.0.2.4"))
    there = second.sim.add_client(mac, "10.0.9.4")
    assert WELCOME in await splash(portal_client, second.sim, there)
    status, _, _ = await post_returning(portal_client, second.sim, there)
    assert status == 303 and there.authenticated
    session = await last_session(db, tenant.merchant_id)
    assert (session["store_id"], session["method"]) == (second.store_id, "returning")


async def test_no_roaming_across_merchants(
    portal_client: TestClient, router: SimulatedRouter, db: asyncpg.Pool, settings: Settings
) -> None:
    mac = "aa:bb:cc:20:00:05"
    await click_login(portal_client, router, router.add_client(mac, "10.0.2.5"))
    stranger = await make_tenant(db, with_ad=False)
    elsewhere = await open_store(db, settings, stranger.merchant_id)
    try:
        there = elsewhere.sim.add_client(mac, "10.0.9.5")
        assert WELCOME not in await splash(portal_client, elsewhere.sim, there)
        status, _, _ = await post_returning(portal_client, elsewhere.sim, there)
        assert status == 403 and not there.authenticated
    finally:
        await elsewhere.sim.stop()


async def test_a_device_is_recognised_by_the_identity_it_logged_in_as(
    portal_client: TestClient,
    router: SimulatedRouter,
    second: Store,
    tenant: Tenant,
    db: asyncpg.Pool,
) -> None:
    address = f"roamer.{uuid.uuid4().hex[:6]}@example.com"
    laptop = router.add_client("aa:bb:cc:20:00:06", "10.0.2.6")
    phone = router.add_client("aa:bb:cc:20:00:07", "10.0.2.7")
    await email_login(portal_client, router, laptop, address)
    await email_login(portal_client, router, phone, address)
    # Weeks pass; only the laptop comes back (to the other store), by email again.
    await age_sessions(db, tenant.merchant_id, 30)
    await email_login(
        portal_client, second.sim, second.sim.add_client(laptop.mac, "10.0.9.6"), address
    )
    # The phone's own sessions are a month old, but its identity was online today.
    at_second = second.sim.add_client(phone.mac, "10.0.9.7")
    page = await splash(portal_client, second.sim, at_second)
    assert WELCOME in page
    status, _, _ = await post_returning(portal_client, second.sim, at_second)
    assert status == 303 and at_second.authenticated
    session = await last_session(db, tenant.merchant_id)
    laptop_session = await db.fetchrow(
        "SELECT identity_hash FROM portal_sessions WHERE merchant_id = $1 AND method = 'email'"
        " ORDER BY started_at DESC LIMIT 1",
        tenant.merchant_id,
    )
    assert session["method"] == "returning"
    assert session["identity_hash"] == laptop_session["identity_hash"] is not None
    # The splash's ad was placed for the identity, not the device: its caps count the shopper.
    token = re.search(r'src="/ad/show/([^"]+)"', page).group(1)
    settings = portal_client.app[SETTINGS]
    placement = tracking.decode(settings.secret_key, token)
    assert placement is not None and placement.identity == session["identity_hash"]
    # What cannot be known: the same phone with a new random MAC is nobody we know yet.
    fresh = second.sim.add_client("da:00:00:20:00:07", "10.0.9.8")
    assert WELCOME not in await splash(portal_client, second.sim, fresh)


async def test_a_store_without_click_through_lets_back_only_identities_it_accepts(
    portal_client: TestClient,
    router: SimulatedRouter,
    second: Store,
    tenant: Tenant,
    db: asyncpg.Pool,
    settings: Settings,
) -> None:
    await set_portal(db, tenant.merchant_id, second.store_id, methods=("email",))
    anonymous = "aa:bb:cc:20:00:08"
    await click_login(portal_client, router, router.add_client(anonymous, "10.0.2.8"))
    assert WELCOME not in await splash(
        portal_client, second.sim, second.sim.add_client(anonymous, "10.0.9.9")
    )
    known = "aa:bb:cc:20:00:09"
    await email_login(
        portal_client, router, router.add_client(known, "10.0.2.9"), "known@example.com"
    )
    assert WELCOME in await splash(
        portal_client, second.sim, second.sim.add_client(known, "10.0.9.10")
    )
    # An SMS-only store wants a phone number an SMS code proved; an email is not one.
    await set_portal(db, tenant.merchant_id, second.store_id, methods=("sms",))
    assert WELCOME not in await splash(
        portal_client, second.sim, second.sim.add_client(known, "10.0.9.10")
    )
    # A verified phone number that logged in on this device is let back there.
    phone_device = "aa:bb:cc:20:00:0a"
    device = device_hash(settings.secret_key, str(tenant.merchant_id), phone_device)
    phone = await identities.remember(
        db, settings.secret_key, tenant.merchant_id, "phone", "+8613812345678", verified=True
    )
    await identities.link_device(db, tenant.merchant_id, device, phone.hash)
    await click_login(portal_client, router, router.add_client(phone_device, "10.0.2.10"))
    await db.execute(
        "UPDATE portal_sessions SET identity_hash = $2, method = 'sms'"
        " WHERE merchant_id = $1 AND device_hash = $3",
        tenant.merchant_id,
        phone.hash,
        device,
    )  # as the SMS login records it (portal/sms.py)
    assert WELCOME in await splash(
        portal_client, second.sim, second.sim.add_client(phone_device, "10.0.9.11")
    )


async def test_voucher_and_staff_ended_sessions_do_not_make_a_returning_shopper(
    portal_client: TestClient, router: SimulatedRouter, tenant: Tenant, db: asyncpg.Pool
) -> None:
    client = router.add_client("aa:bb:cc:20:00:0b", "10.0.2.11")
    await click_login(portal_client, router, client)
    assert WELCOME in await splash(portal_client, router, client)
    await db.execute(
        "UPDATE portal_sessions SET method = 'voucher' WHERE merchant_id = $1", tenant.merchant_id
    )  # a voucher carries its own time and data: it is not a way back in for free
    assert WELCOME not in await splash(portal_client, router, client)
    await db.execute(
        "UPDATE portal_sessions SET method = 'click', status = 'ended', end_reason = 'staff',"
        " ended_at = now(), client_mac = NULL WHERE merchant_id = $1",
        tenant.merchant_id,
    )
    assert WELCOME not in await splash(portal_client, router, client)


async def test_returning_through_a_wifidog_gateway(
    portal_client: TestClient, tenant: Tenant, db: asyncpg.Pool
) -> None:
    async with db.acquire() as conn:
        new = await register_router(
            conn,
            tenant.merchant_id,
            tenant.store_id,
            f"wd-{uuid.uuid4().hex[:10]}",
            "WD",
            gateway="wifidog",
        )
    gw_id, mac, ip = new.router.router_id, "0a:11:22:33:44:77", "192.168.1.25"
    login = (
        f"/wifidog/login/?gw_address=192.168.1.1&gw_port=2060&gw_id={gw_id}&ip={ip}&mac={mac}"
        "&url=http%3A%2F%2Fexample.com%2F"
    )

    async def through(path: str, data: dict[str, str]) -> str:
        page = await (await portal_client.get(login, headers={"Accept-Language": "en"})).text()
        ticket = html.unescape(re.search(r'name="fas" value="([^"]+)"', page).group(1))
        response = await portal_client.post(
            path, data={"fas": ticket, "lang": "en", **data}, allow_redirects=False
        )
        assert response.status == 302, await response.text()
        token = parse_qs(urlsplit(response.headers["Location"]).query)["token"][0]
        auth = await portal_client.get(
            f"/wifidog/auth/?stage=login&ip={ip}&mac={mac}&token={token}&incoming=0"
            f"&outgoing=0&gw_id={gw_id}"
        )
        assert "Auth: 1" in await auth.text()
        return page

    first = await through("/wifidog/login/", {"accept": "1"})
    assert WELCOME not in first
    again = await through("/wifidog/returning", {})
    assert WELCOME in again and 'action="/wifidog/returning"' in again
    session = await last_session(db, tenant.merchant_id)
    assert session["method"] == "returning"
