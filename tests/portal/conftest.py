"""The portal's test fixtures: a simulated router on the real broker for the module's tenant."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from kernel.config import Settings
from simulators.router import SimulatedRouter
from tests.factories import Tenant


@pytest.fixture
async def router(settings: Settings, tenant: Tenant) -> AsyncIterator[SimulatedRouter]:
    """The `tenant` fixture's router, answering commands over MQTT; its gateway's HTTP side is
    not served (the e2e tests and tests/simulators exercise that)."""
    sim = SimulatedRouter(
        tenant.router.router_id,
        mqtt_url=settings.mqtt_url,
        password=tenant.mqtt_password,
        faskey=tenant.router.faskey,
        portal_url="http://portal.test",
        gateway_mac="02:00:00:00:00:01",
        gateway_host="192.168.8.1",
        gateway_port=2050,
    )
    await sim.start(http=False)
    yield sim
    await sim.stop()
