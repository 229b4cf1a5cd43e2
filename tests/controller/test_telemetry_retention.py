"""Router telemetry is kept TELEMETRY_KEEP_DAYS (controller/retention.py): older rows go, in
batches, newer ones stay, and each router's last heartbeat (router_heartbeats, the Routers
page's) stays whatever its age."""

from __future__ import annotations

import time

import asyncpg

from controller import retention, topics
from controller.telemetry import TelemetryIngest
from kernel.mqtt import Delivery
from tests.controller.test_telemetry import MAC, SECRET, event
from tests.factories import Tenant

DAY = 86_400


async def test_telemetry_older_than_its_retention_goes_and_the_rest_stays(
    db: asyncpg.Pool, tenant: Tenant
) -> None:
    ingest = TelemetryIngest(db, SECRET, max_delay=0.001)
    now = int(time.time())
    keep = retention.TELEMETRY_KEEP_DAYS * DAY
    sent = {  # seq: (type, the router's time)
        1: ("heartbeat", now - keep - 2 * DAY),
        2: ("heartbeat", now - keep - DAY),
        3: ("usage", now - keep - DAY),
        4: ("heartbeat", now - keep + DAY),  # within the retention, if only just
        5: ("usage", now - DAY),
        6: ("heartbeat", now + 40 * DAY),  # a clock ahead: goes by when it arrived (below)
        7: ("heartbeat", now + 41 * DAY),  # ... and this one arrived just now
    }
    for seq, (kind, ts) in sent.items():
        fields = {"mac": MAC, "state": "Authenticated", "down_kb": 1, "up_kb": 1}
        payload = event(seq, kind, ts=ts, **(fields if kind == "usage" else {}))
        topic = topics.topic(tenant.router.router_id, "tele")
        await ingest.handle(Delivery(topic, "tele", payload, False))
    await db.execute(
        "UPDATE router_telemetry SET received_at = now() - make_interval(days => $2)"
        " WHERE merchant_id = $1 AND seq = 6",
        tenant.merchant_id,
        retention.TELEMETRY_KEEP_DAYS + 1,
    )
    assert len(await seqs(db, tenant)) == 7

    # In batches of 2: the job goes on until a batch is not full.
    assert await retention.delete_old_telemetry(db, batch=2) >= 4

    assert await seqs(db, tenant) == [4, 5, 7]
    last = await db.fetchval(
        "SELECT data ->> 'uptime_s' FROM router_heartbeats WHERE merchant_id = $1",
        tenant.merchant_id,
    )
    assert last == "107"  # the router's latest heartbeat (its clock ahead): still there
    assert await retention.delete_old_telemetry(db) == 0  # nothing left past the retention


async def seqs(db: asyncpg.Pool, tenant: Tenant) -> list[int]:
    rows = await db.fetch(
        "SELECT seq FROM router_telemetry WHERE merchant_id = $1 ORDER BY seq", tenant.merchant_id
    )
    return [r["seq"] for r in rows]
