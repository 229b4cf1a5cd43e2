"""Logging out from the online page: the router deauths first, then the session ends."""

from __future__ import annotations

import asyncio
import html
from urllib.parse import parse_qs, urlsplit

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from controller.services import record_router_status
from portal import stores as portal_stores
from portal.fas import encode_fas
from simulators.opennds import Ndsctl
from simulators.router import SimClient, SimulatedRouter
from tests.factories import Tenant, make_tenant


@pytest.fixture
async def tenant(db: asyncpg.Pool) -> Tenant:
    return await make_tenant(db, session_minutes=45, with_ad=False)


async def log_in(portal: TestClient, sim: SimulatedRouter, mac: str) -> tuple[SimClient, str]:
    """A shopper's login; returns the client and its online page's link."""
    client = sim.add_client(mac, "10.0.0.5")
    fields = sim.fas_fields(client, origin_url="http://example.com/start")
    response = await portal.post(
        f"/fas/{sim.router_id}/login",
        data={"fas": encode_fas(fields), "accept": "1", "lang": "en"},
        allow_redirects=False,
    )
    assert response.status == 303 and client.authenticated
    return client, response.headers["Location"]


def form_of(link: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(link).query).items()}


async def session_row(db: asyncpg.Pool, tenant: Tenant) -> asyncpg.Record:
    return await db.fetchrow(
        "SELECT status, client_mac, session_id FROM portal_sessions WHERE merchant_id = $1",
        tenant.merchant_id,
    )


async def logout_events(db: asyncpg.Pool, tenant: Tenant) -> list[asyncpg.Record]:
    return await db.fetch(
        "SELECT store_id, device_hash, data FROM events WHERE merchant_id = $1 AND kind = 'logout'",
        tenant.merchant_id,
    )


async def deauths_sent(db: asyncpg.Pool, tenant: Tenant) -> int:
    return await db.fetchval(
        "SELECT count(*) FROM router_commands WHERE merchant_id = $1 AND op = 'deauth'",
        tenant.merchant_id,
    )


@pytest.mark.parametrize(
    ("lang", "button", "done"),
    [("en", "Log out", "You're logged out"), ("zh-CN", "退出登录", "您已退出登录")],
)
async def test_log_out_deauths_ends_the_session_and_drops_the_mac(
    portal_client: TestClient,
    router: SimulatedRouter,
    tenant: Tenant,
    db: asyncpg.Pool,
    lang: str,
    button: str,
    done: str,
) -> None:
    client, link = await log_in(portal_client, router, "aa:bb:cc:10:00:01")
    page = await portal_client.get(link.replace("lang=en", f"lang={lang}"))
    text = await page.text()
    assert button in text and f'action="/fas/{router.router_id}/logout"' in text

    response = await portal_client.post(
        f"/fas/{router.router_id}/logout", data={**form_of(link), "lang": lang}
    )

    assert response.status == 200
    assert done in html.unescape(await response.text())
    assert "aa:bb:cc:10:00:01" not in router.clients  # openNDS deleted the deauthed client
    assert not client.authenticated or client.mac not in router.clients
    row = await session_row(db, tenant)
    assert (row["status"], row["client_mac"]) == ("ended", None)
    [event] = await logout_events(db, tenant)
    assert event["store_id"] == tenant.store_id and event["data"]["session"] == str(
        row["session_id"]
    )
    after = await portal_client.get(link)
    after_text = await after.text()
    assert "Your WiFi session has ended" in after_text and "Log out" not in after_text


async def test_a_second_submission_is_harmless(
    portal_client: TestClient, router: SimulatedRouter, tenant: Tenant, db: asyncpg.Pool
) -> None:
    _client, link = await log_in(portal_client, router, "aa:bb:cc:10:00:02")
    path = f"/fas/{router.router_id}/logout"

    first, second = await asyncio.gather(
        portal_client.post(path, data=form_of(link)), portal_client.post(path, data=form_of(link))
    )
    third = await portal_client.post(path, data=form_of(link))

    assert [r.status for r in (first, second, third)] == [200, 200, 200]
    assert "You're logged out" in html.unescape(await third.text())
    assert len(await logout_events(db, tenant)) == 1
    assert await deauths_sent(db, tenant) <= 2  # the third found the session ended
    assert (await session_row(db, tenant))["status"] == "ended"


@pytest.mark.parametrize(
    "tamper",
    [
        lambda f: {**f, "sig": "0" * 32},
        lambda f: {**f, "s": "00000000-0000-0000-0000-000000000000"},
        lambda f: {**f, "next": "http://evil.example/"},
        lambda f: {k: v for k, v in f.items() if k != "sig"},
        lambda f: {"s": "not-a-uuid", "sig": "x", "next": ""},
        lambda f: {},
    ],
)
async def test_a_link_we_did_not_sign_logs_nobody_out(
    portal_client: TestClient, router: SimulatedRouter, tenant: Tenant, db: asyncpg.Pool, tamper
) -> None:
    client, link = await log_in(portal_client, router, "aa:bb:cc:10:00:03")

    response = await portal_client.post(
        f"/fas/{router.router_id}/logout",
        data=tamper(form_of(link)),
        headers={"Accept-Language": "en"},
    )

    assert response.status == 404
    assert "not valid" in await response.text()
    assert client.authenticated
    assert (await session_row(db, tenant))["status"] == "active"
    assert await deauths_sent(db, tenant) == 0


async def test_another_routers_session_cannot_be_logged_out(
    portal_client: TestClient, router: SimulatedRouter, tenant: Tenant, db: asyncpg.Pool
) -> None:
    client, link = await log_in(portal_client, router, "aa:bb:cc:10:00:04")
    other = await make_tenant(db, with_ad=False)

    response = await portal_client.post(f"/fas/{other.router.router_id}/logout", data=form_of(link))

    assert response.status == 404
    assert client.authenticated and (await session_row(db, tenant))["status"] == "active"


async def test_a_refused_deauth_keeps_the_session_and_offers_try_again(
    portal_client: TestClient, router: SimulatedRouter, tenant: Tenant, db: asyncpg.Pool
) -> None:
    client, link = await log_in(portal_client, router, "aa:bb:cc:10:00:05")
    real_deauth = router.nds.ndsctl_deauth
    router.nds.ndsctl_deauth = lambda mac: Ndsctl(1, "ndsctl: lock busy")  # type: ignore[method-assign]

    refused = await portal_client.post(f"/fas/{router.router_id}/logout", data=form_of(link))

    assert refused.status == 503
    text = await refused.text()
    assert "still online" in text and 'id="retry"' in text
    assert f'name="sig" value="{form_of(link)["sig"]}"' in text
    row = await session_row(db, tenant)
    assert (row["status"], row["client_mac"]) == ("active", "aa:bb:cc:10:00:05")
    assert client.authenticated and await logout_events(db, tenant) == []

    router.nds.ndsctl_deauth = real_deauth  # type: ignore[method-assign]
    retried = await portal_client.post(f"/fas/{router.router_id}/logout", data=form_of(link))
    assert retried.status == 200 and (await session_row(db, tenant))["status"] == "ended"


async def test_an_offline_router_gets_a_clear_page_at_once(
    portal_client: TestClient, router: SimulatedRouter, tenant: Tenant, db: asyncpg.Pool
) -> None:
    client, link = await log_in(portal_client, router, "aa:bb:cc:10:00:06")
    await record_router_status(db, tenant.router, online=False, status={"v": 1, "online": False})
    portal_stores._gateways.clear()  # the portal's router cache (services.SETTINGS_TTL)

    response = await portal_client.post(f"/fas/{router.router_id}/logout", data=form_of(link))

    assert response.status == 503
    assert "not connected to us right now" in await response.text()
    assert await deauths_sent(db, tenant) == 0
    assert client.authenticated and (await session_row(db, tenant))["status"] == "active"
