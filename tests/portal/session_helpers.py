"""What the session-policy tests share: a store with a policy, a shopper's click-through login
against a simulated router over the real broker, and a controller that ingests the router's
telemetry (the agent's `usage` reports) into PostgreSQL as the controller role does."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from urllib.parse import parse_qs, urlsplit

import asyncpg
from aiohttp.test_utils import TestClient

import portal.stores as portal_stores
from controller.listener import FleetListener
from controller.telemetry import TelemetryIngest
from kernel.config import Settings
from kernel.mqtt import make_client
from kernel.privacy import device_hash
from portal.fas import encode_fas
from simulators.router import SimClient, SimulatedRouter
from tests.factories import Tenant, make_tenant


async def policy_tenant(db: asyncpg.Pool, **policy: object) -> Tenant:
    """A tenant whose store has this session policy (rates 1000/4000 kbit/s as make_tenant's)."""
    minutes = int(policy.pop("session_minutes", 45))  # type: ignore[call-overload]
    tenant = await make_tenant(db, session_minutes=minutes)
    await portal_stores.upsert_store_portal(
        db,
        tenant.merchant_id,
        tenant.store_id,
        brand_name=tenant.brand_name,
        session_minutes=minutes,
        up_kbps=1000,
        down_kbps=4000,
        **policy,  # type: ignore[arg-type]
    )
    return tenant


async def log_in(
    portal: TestClient, sim: SimulatedRouter, mac: str, ip: str = "10.0.0.5"
) -> tuple[SimClient, str]:
    """A shopper's click-through login; the client and its online page's link."""
    client = sim.add_client(mac, ip)
    fields = sim.fas_fields(client, origin_url="http://example.com/start")
    response = await portal.post(
        f"/fas/{sim.router_id}/login",
        data={"fas": encode_fas(fields), "accept": "1", "lang": "en"},
        allow_redirects=False,
    )
    assert response.status == 303, await response.text()
    assert client.authenticated
    return client, response.headers["Location"]


def form_of(link: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(link).query).items()}


async def session_row(db: asyncpg.Pool, tenant: Tenant) -> asyncpg.Record:
    rows = await db.fetch(
        "SELECT * FROM portal_sessions WHERE merchant_id = $1 ORDER BY started_at",
        tenant.merchant_id,
    )
    assert len(rows) == 1, rows
    return rows[0]


async def commands(db: asyncpg.Pool, tenant: Tenant, op: str) -> list[asyncpg.Record]:
    return await db.fetch(
        "SELECT op, args, status, sent_by FROM router_commands"
        " WHERE merchant_id = $1 AND op = $2 ORDER BY created_at",
        tenant.merchant_id,
        op,
    )


@contextlib.asynccontextmanager
async def telemetry_ingest(settings: Settings, db: asyncpg.Pool) -> AsyncIterator[None]:
    """The controller's consumer of `tele` (and `status`), as portico/runtime.py wires it."""
    ingest = TelemetryIngest(db, settings.secret_key)
    client_id = f"test-sessions-{uuid.uuid4().hex[:8]}"
    fleet = FleetListener(
        settings.mqtt_url,
        db,
        shared_group=None,
        client_id=client_id,
        routes={"tele": ingest.handle},
    )
    task = asyncio.create_task(fleet.run())
    try:
        await asyncio.wait_for(fleet.connected.wait(), 10)
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        # Its persistent session would stay on a shared broker, queueing every router's tele.
        async with make_client(
            settings.mqtt_url, "forget", identifier=client_id, clean_session=True
        ):
            pass


async def report_usage(
    db: asyncpg.Pool, settings: Settings, sim: SimulatedRouter, tenant: Tenant, mac: str
) -> asyncpg.Record:
    """One heartbeat of the simulated agent; waits until its usage report of `mac` is stored."""
    device = device_hash(settings.secret_key, str(tenant.merchant_id), mac)
    before = await _usage_count(db, tenant, device)
    await sim.publish_telemetry()
    deadline = time.monotonic() + 10
    while await _usage_count(db, tenant, device) == before:
        assert time.monotonic() < deadline, "the usage report was not stored"
        await asyncio.sleep(0.05)
    return await db.fetchrow(
        "SELECT data FROM router_telemetry WHERE merchant_id = $1 AND type = 'usage'"
        " AND device_hash = $2 ORDER BY received_at DESC, seq DESC LIMIT 1",
        tenant.merchant_id,
        device,
    )


async def _usage_count(db: asyncpg.Pool, tenant: Tenant, device: str) -> int:
    return await db.fetchval(
        "SELECT count(*) FROM router_telemetry WHERE merchant_id = $1 AND type = 'usage'"
        " AND device_hash = $2",
        tenant.merchant_id,
        device,
    )
