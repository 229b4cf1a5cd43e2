"""Fleet commands through the real broker to the agent's model (controller.fleet_ops)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest

from controller import fleet_ops, topics
from controller.commands import Ack, CommandFailed, CommandSender
from controller.services import record_router_status
from kernel.config import Settings
from simulators.router import SimulatedRouter
from tests.controller.test_listener import device_client
from tests.factories import Tenant, tenant_router


@pytest.fixture
async def sender(settings: Settings, db: asyncpg.Pool) -> AsyncIterator[CommandSender]:
    sender = CommandSender(settings.mqtt_url, db, ack_timeout=2.0, ttl=30)
    await sender.start()
    yield sender
    await sender.stop()


@pytest.fixture
async def router(settings: Settings, tenant: Tenant) -> AsyncIterator[SimulatedRouter]:
    sim = tenant_router(tenant, settings.mqtt_url)
    await sim.start(http=False)
    yield sim
    await sim.stop()
    # Its retained status would reach every listener that subscribes later.
    async with device_client(settings, tenant.router.router_id) as client:
        status = topics.topic(tenant.router.router_id, "status")
        await client.publish(status, b"", qos=1, retain=True)


async def test_diagnose_returns_checked_facts(
    router: SimulatedRouter, sender: CommandSender, tenant: Tenant, db: asyncpg.Pool
) -> None:
    router.add_client("aa:bb:cc:00:00:61", "10.0.0.61")

    diag = await fleet_ops.diagnose(sender, tenant.router.ref)

    assert diag.nds_running and "Current clients: 1" in diag.nds_status
    assert diag.boot_id == router.agent.boot_id
    assert abs(diag.skew_s) <= 2
    stored = await db.fetchrow(
        "SELECT op, status FROM router_commands WHERE merchant_id = $1 AND op = 'diagnostics'",
        tenant.merchant_id,
    )
    assert tuple(stored) == ("diagnostics", "done")


async def test_reboot_names_the_boot_and_a_retry_does_not_reboot_twice(
    router: SimulatedRouter, sender: CommandSender, tenant: Tenant, db: asyncpg.Pool
) -> None:
    # What the listener stores of the router's status (its boot id).
    status = {"v": 1, "online": True, "boot_id": router.agent.boot_id}
    await record_router_status(db, tenant.router, online=True, status=status)

    first = await fleet_ops.reboot(sender, db, tenant.router.ref)
    again = await fleet_ops.reboot(sender, db, tenant.router.ref)  # status not yet updated

    assert (first.status, first.msg) == ("done", "rebooting")
    assert (again.status, again.msg) == ("done", "already rebooted")
    assert router.agent.reboots == 1


async def test_reboot_of_a_router_without_a_boot_id_is_refused(
    sender: CommandSender, tenant: Tenant, db: asyncpg.Pool
) -> None:
    # make_tenant's status is the Last Will's: no boot id, the router is offline.
    with pytest.raises(CommandFailed, match="no boot id"):
        await fleet_ops.reboot(sender, db, tenant.router.ref)
    count = await db.fetchval(
        "SELECT count(*) FROM router_commands WHERE merchant_id = $1", tenant.merchant_id
    )
    assert count == 0


GOOD = {
    "agent": "portico-agent/1.0",
    "fw": "OpenWrt",
    "clock": 1_764_000_000,
    "uptime_s": 5,
    "mem_total_kb": 100,
    "mem_free_kb": 50,
    "load": [0.1, 0, 2],
    "boot_id": "b",
    "nds_rc": 3,
    "nds_status": "x" * 10_000,
}


@pytest.mark.parametrize(
    "diag",
    [
        None,
        {**GOOD, "clock": "now"},
        {**GOOD, "uptime_s": -1},
        {**GOOD, "nds_rc": True},
        {**GOOD, "load": [1, 2]},
        {**GOOD, "load": ["1", 2, 3]},
        {**GOOD, "nds_status": 5},
        {k: v for k, v in GOOD.items() if k != "boot_id"},
    ],
)
def test_hostile_diagnostics_are_refused(diag: dict | None) -> None:
    with pytest.raises(fleet_ops.BadDiagnostics):
        fleet_ops.parse_diagnostics(Ack("c" * 8, "done", "ok", "", None, diag))


def test_diagnostics_are_bounded_and_skew_is_measured() -> None:
    diag = fleet_ops.parse_diagnostics(
        Ack("c" * 8, "done", "ok", "", None, GOOD), now=1_764_000_010
    )

    assert diag.skew_s == -10 and not diag.nds_running
    assert len(diag.nds_status) == fleet_ops.MAX_TEXT
    with pytest.raises(CommandFailed):
        fleet_ops.parse_diagnostics(Ack("c" * 8, "rejected", "bad_args", "", None, GOOD))
