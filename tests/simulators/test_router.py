"""The simulated router on the real broker, behind the real portal: logins end online."""

from __future__ import annotations

import html
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import aiohttp
import asyncpg
import pytest
from aiohttp.test_utils import TestServer

from controller.services import CommandSender
from kernel.config import Settings
from portal.app import make_portal_app
from simulators.router import SimulatedRouter
from tests.factories import Tenant, make_tenant

LOGINS = 200


@pytest.fixture
async def tenant(db: asyncpg.Pool) -> Tenant:
    return await make_tenant(db, session_minutes=30)


@pytest.fixture
async def portal_server(settings: Settings, db: asyncpg.Pool) -> AsyncIterator[TestServer]:
    # The production waits (grants 12 s): the router retries refused grants inside them.
    sender = CommandSender(settings.mqtt_url, db, ack_timeout=5.0, grant_timeout=12.0)
    await sender.start()
    server = TestServer(make_portal_app(settings, db, sender))
    await server.start_server()
    yield server
    await server.close()
    await sender.stop()


@pytest.fixture
async def refusing_router(
    settings: Settings, tenant: Tenant, portal_server: TestServer
) -> AsyncIterator[SimulatedRouter]:
    sim = SimulatedRouter(
        tenant.router.router_id,
        mqtt_url=settings.mqtt_url,
        password=tenant.mqtt_password,
        faskey=tenant.router.faskey,
        portal_url=str(portal_server.make_url("")),
        gateway_mac="02:00:00:00:00:01",
        refusal_rate=0.5,  # as often as a real openNDS 11 refused (issue 15)
        refusal_run=4.0,  # and in runs, as a real one does
        retry_pauses=(0.02, 0.05),
    )
    await sim.start()
    yield sim
    await sim.stop()


async def test_every_login_ends_on_the_online_page_at_half_refusals(
    refusing_router: SimulatedRouter, tenant: Tenant, db: asyncpg.Pool
) -> None:
    gateway = f"http://{refusing_router.gateway_address}/"
    ended_online = 0
    async with aiohttp.ClientSession() as browser:
        for _ in range(LOGINS):
            # A new phone: the gateway sends it to the splash; it ticks the box and connects.
            splash = await browser.get(gateway)
            assert splash.status == 200, await splash.text()
            fas = splash.url.query["fas"]
            done = await browser.post(
                splash.url.with_query(None) / "login",
                data={"fas": fas, "accept": "1", "lang": "en"},
            )
            page = html.unescape(await done.text())
            if done.status == 200 and "You're online" in page and "Time left" in page:
                ended_online += 1
            assert urlsplit(str(done.url)).path.endswith("/online")

    assert ended_online == LOGINS
    assert all(c.authenticated for c in refusing_router.clients.values())
    attempts = await db.fetch(
        "SELECT attempts FROM router_commands WHERE merchant_id = $1", tenant.merchant_id
    )
    total = sum(row["attempts"] for row in attempts)
    assert len(attempts) == LOGINS and total > LOGINS  # refusals happened, and were retried


async def test_a_phone_let_through_reaches_what_it_asked_for(
    refusing_router: SimulatedRouter,
) -> None:
    # A browser keeps the gateway's cookie (the demo's stand-in for the phone's MAC), as
    # Chromium does for the demo's 127.0.0.1 routers.
    asked = f"http://{refusing_router.gateway_address}/news?id=7"
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
        splash = await browser.get(asked)
        again = await browser.get(asked)  # the same phone, not yet through: the same client
        assert again.url.query["fas"] == splash.url.query["fas"]
        done = await browser.post(
            splash.url.with_query(None) / "login",
            data={"fas": splash.url.query["fas"], "accept": "1", "lang": "en"},
        )
        assert "/online" in str(done.url)
        assert f'href="{html.escape(asked)}"' in await done.text()  # Continue: where it was going
        through = await browser.get(asked, allow_redirects=False)

    assert through.status == 200
    assert "let your phone through" in await through.text()
    assert len(refusing_router.clients) == 1
