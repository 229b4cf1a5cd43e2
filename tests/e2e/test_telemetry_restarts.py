"""End to end: the real agent's telemetry reaches PostgreSQL exactly once while the broker and
then a controller restart, with two controllers sharing the load (`$share/ctrl`).

Mosquitto 2.0 keeps a persistent session's plain subscriptions across its own restart but not
its shared ones, so what routers send between the broker's restart and the controllers'
re-subscription is dropped by the broker; a controller that lost the broker asks the agents to
send their recent telemetry again (`tele_resend`), and the controllers store each event id once.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import asyncpg
import pytest

from controller.commands import CommandSender
from controller.listener import FleetListener
from controller.telemetry import TelemetryIngest, request_resend
from kernel.embedded import PrivateMosquitto, free_port, mosquitto_binary
from tests.factories import make_tenant
from tests.firmware.harness import AgentProcess, Broker, BusyboxEnv, needs_tools

pytestmark = [
    needs_tools,
    pytest.mark.skipif(mosquitto_binary() is None, reason="needs the mosquitto broker binary"),
]

SECRET = "test-secret-" + "x" * 40
AGENTS = 3
# PORTICO_TEST_BROKER_RESTART=0 restarts only a controller (to tell the two apart).
BROKER_RESTART = os.environ.get("PORTICO_TEST_BROKER_RESTART", "1") != "0"


@contextlib.asynccontextmanager
async def controller(url: str, db: asyncpg.Pool, client_id: str) -> AsyncIterator[TelemetryIngest]:
    """A controller as portico.runtime wires one: telemetry ingest, and after losing the
    broker a request to the agents to send their telemetry again."""
    ingest = TelemetryIngest(db, SECRET)
    sender = CommandSender(url, db, ack_timeout=5.0)
    await sender.start()
    fleet = FleetListener(
        url,
        db,
        shared_group="ctrl",
        client_id=client_id,
        routes={"tele": ingest.handle},
        on_resubscribed=lambda lost_at: request_resend(sender, db, lost_at),
    )
    task = asyncio.create_task(fleet.run())
    try:
        await asyncio.wait_for(fleet.connected.wait(), 10)
        yield ingest
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await sender.stop()


def sent_so_far(agent: AgentProcess) -> tuple[str, int]:
    """The agent's last event id. It rewrites tele.seq in place (`echo … >file`) at every
    event, so a read may find it truncated: read again (bounded)."""
    for _ in range(200):
        fields = (agent.env.state_dir / "tele.seq").read_text().split()
        if len(fields) == 2:
            return fields[0], int(fields[1])
        time.sleep(0.005)
    raise AssertionError(f"{agent.device_id}: tele.seq stayed torn: {fields!r}")


async def test_every_event_is_stored_exactly_once_through_restarts(
    db: asyncpg.Pool,
    agent_factory: Callable[..., AgentProcess],
    busybox_bin: Path,
    tmp_path: Path,
) -> None:
    binary = mosquitto_binary()
    assert binary is not None
    server = PrivateMosquitto(binary, tmp_path / "broker", port=free_port())
    server.start()
    await server.ready()
    broker = Broker("127.0.0.1", server.port)
    tenants = [await make_tenant(db, with_ad=False) for _ in range(AGENTS)]
    merchants = [t.merchant_id for t in tenants]
    agents: list[AgentProcess] = []
    ingests: list[TelemetryIngest] = []
    try:
        async with controller(server.url, db, "ctrl-b") as ingest_b:
            ingests.append(ingest_b)
            first_a = controller(server.url, db, "ctrl-a")
            ingests.append(await first_a.__aenter__())
            for n, tenant in enumerate(tenants):
                agent = agent_factory(
                    env=BusyboxEnv.create(tmp_path / f"agent{n}", busybox_bin),
                    device_id=tenant.router.router_id,
                    broker_=broker,
                    heartbeat=1,
                )
                agent.env.set_stations([(f"da:00:00:00:00:{n:02x}", -60 - n, "wlan0")])
                agents.append(agent)
            await asyncio.sleep(3)
            # Both controllers have stored some (asserted at the end): on a busy machine the
            # agents may not all be publishing 3 s after their start, so wait for it.
            async with asyncio.timeout(30):
                while not all(ingest.stored > 0 for ingest in ingests):
                    await asyncio.sleep(0.1)
            if BROKER_RESTART:
                await asyncio.to_thread(server.stop)  # the broker restarts …
                await asyncio.sleep(1)
                server.start()
                await server.ready()
                await asyncio.sleep(3)
            await first_a.__aexit__(None, None, None)  # … and a controller
            await asyncio.sleep(1)
            async with controller(server.url, db, "ctrl-a") as again:
                ingests.append(again)
                await asyncio.sleep(2)
                expected = {a.device_id: sent_so_far(a) for a in agents}
                try:
                    async with asyncio.timeout(40):
                        while not await all_stored(db, merchants, expected):
                            await asyncio.sleep(0.5)
                except TimeoutError:
                    missing = await missing_events(db, merchants, expected)
                    raise AssertionError(f"events never stored: {missing}") from None
                for agent in agents:
                    agent.stop()  # while its broker runs: it forgets its session there
                await asyncio.sleep(1)  # what was in flight lands
    finally:
        for agent in agents:
            agent.stop()
        server.stop()

    rows = await db.fetch(
        "SELECT router_id, boot_id, seq FROM router_telemetry WHERE merchant_id = ANY($1)",
        merchants,
    )
    keys = [(r["router_id"], r["boot_id"], r["seq"]) for r in rows]
    assert len(keys) == len(set(keys))
    for device_id, (epoch, last) in expected.items():
        got = sorted(seq for rid, boot, seq in keys if rid == device_id and boot == epoch)
        assert got[:last] == list(range(1, last + 1)), f"{device_id}: events lost"
    # Each row was counted by the controller that wrote it, and by no other.
    assert sum(ingest.stored for ingest in ingests) == len(rows)
    assert all(ingest.stored > 0 for ingest in ingests[:2])
    types = {
        r["type"]
        for r in await db.fetch(
            "SELECT DISTINCT type FROM router_telemetry WHERE merchant_id = ANY($1)", merchants
        )
    }
    assert {"heartbeat", "station"} <= types


async def all_stored(
    db: asyncpg.Pool, merchants: list[object], expected: dict[str, tuple[str, int]]
) -> bool:
    for device_id, (epoch, last) in expected.items():
        n = await db.fetchval(
            "SELECT count(*) FROM router_telemetry WHERE merchant_id = ANY($1)"
            " AND router_id = $2 AND boot_id = $3 AND seq <= $4",
            merchants,
            device_id,
            epoch,
            last,
        )
        if n < last:
            return False
    return True


async def missing_events(
    db: asyncpg.Pool, merchants: list[object], expected: dict[str, tuple[str, int]]
) -> dict[str, list[int]]:
    """The event ids up to each agent's last that no controller stored."""
    missing = {}
    for device_id, (epoch, last) in expected.items():
        stored = {
            r["seq"]
            for r in await db.fetch(
                "SELECT seq FROM router_telemetry WHERE merchant_id = ANY($1)"
                " AND router_id = $2 AND boot_id = $3",
                merchants,
                device_id,
                epoch,
            )
        }
        gaps = [seq for seq in range(1, last + 1) if seq not in stored]
        if gaps:
            missing[device_id] = gaps
    return missing
