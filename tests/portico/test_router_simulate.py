"""`portico router simulate CODE`: a simulated openNDS router installed with an install code, as
install.sh installs a real one (it redeems the code at the portal), whose captive page then
sends a phone to that store's splash. A code the portal refuses gives its reason."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import replace

import aiohttp
import asyncpg
import pytest
from aiohttp.test_utils import TestServer

import accounts.services as accounts
from controller import provisioning
from controller.services import CommandSender
from kernel.config import Settings
from kernel.embedded import free_port
from portico import routers
from portico.runtime import portal_app
from tests.factories import TEST_ACTOR


@pytest.fixture
async def portal(
    settings: Settings, db: asyncpg.Pool, sender: CommandSender
) -> AsyncIterator[Settings]:
    """The portal on a real port; the settings a `portico` command beside it would read (the
    claim answers with its URL and the broker's)."""
    port = free_port()
    served = replace(
        settings, public_portal_url=f"http://127.0.0.1:{port}", public_mqtt_url=settings.mqtt_url
    )
    server = TestServer(portal_app(served, db, sender), host="127.0.0.1", port=port)
    await server.start_server()
    try:
        yield served
    finally:
        await server.close()
        await db.execute("DELETE FROM claim_attempts WHERE client_ip = '127.0.0.1'")


async def test_a_simulated_router_installed_with_its_code_shows_the_store(
    portal: Settings, db: asyncpg.Pool
) -> None:
    store_name = f"Kiosk {uuid.uuid4().hex[:6]}"
    async with db.acquire() as conn:
        merchant_id = await accounts.create_merchant(conn, f"M {uuid.uuid4().hex[:8]}")
        store_id = await accounts.create_store(conn, merchant_id, store_name)
        added, claim = await provisioning.add_router(conn, merchant_id, store_id, actor=TEST_ACTOR)

    router = await routers.simulate(portal, claim.code)
    try:
        assert router.router_id == added.router_id
        async with aiohttp.ClientSession() as session:
            async with session.get(f"http://{router.gateway_address}/") as page:
                assert page.status == 200
                assert store_name in await page.text()
                assert f"/fas/{added.router_id}/" in str(page.url)
        # The code is used: the router holds its own broker password now.
        with pytest.raises(routers.CommandError, match="refused the install code"):
            await routers.simulate(portal, claim.code)
    finally:
        await router.stop()


async def test_an_unknown_code_is_refused_with_the_portals_reason(portal: Settings) -> None:
    with pytest.raises(routers.CommandError, match=r"refused the install code: .+"):
        await routers.simulate(portal, "zzzzzzzzzzzzzzzzzzzz")
