"""Raw MACs in router commands are kept only while something may read them (PRODUCT.md §5), and
router telemetry for TELEMETRY_KEEP_DAYS.

A command's `mac` (and an `auth`'s `hid`) is read while its ack may still come and while a grant
given up on may have to be undone (controller/commands.py: within a minute). Ten minutes on,
`scrub_forever` (run by the controller role) removes both from the command's args; what it
did, to which router, when, by whom and with what outcome stays: that is the audit log.

`router_telemetry` (migration 0009: a heartbeat a minute per router, a `usage` row a minute per
client, station joins and leaves) is read only by the portal's live sessions, for the newest
`usage` report of each device since its session began (controller.services.client_usage); the
session job keeps what each session used on the session itself (portal/session_usage.py), and
each router's last heartbeat is kept in `router_heartbeats` (migration 0043: one row per
router, whatever its age), which the console's Routers page reads. In the same run,
`scrub_forever` deletes the rows older than TELEMETRY_KEEP_DAYS, in batches (by the router's
time; a row the router dated in the future goes that long after it arrived).
"""

from __future__ import annotations

import logging

import asyncpg

from kernel.jobs import every
from kernel.sql import load_queries

log = logging.getLogger("portico.controller.retention")
queries = load_queries(__file__)

KEEP_SECONDS = 600
BATCH = 10_000
INTERVAL = 300.0  # seconds between runs
# Days router telemetry is kept (docs/mqtt-contract.md, "How the controller consumes"). Only a
# device's newest `usage` report is read, and the agent reports every client openNDS holds each
# minute: a month loses nothing but the last report of a device gone from its router for a
# month while its session still runs (a voucher's may last a year).
TELEMETRY_KEEP_DAYS = 30


async def scrub_command_macs(db: asyncpg.Pool, keep: float = KEEP_SECONDS) -> int:
    """Scrub every command older than `keep` seconds, in batches; how many were scrubbed."""
    total = 0
    while True:
        result = await db.execute(queries.scrub_command_macs, float(keep), BATCH)
        scrubbed = int(result.rsplit(" ", 1)[-1])
        total += scrubbed
        if scrubbed < BATCH:
            return total


async def delete_old_telemetry(
    db: asyncpg.Pool, keep_days: int = TELEMETRY_KEEP_DAYS, batch: int = BATCH
) -> int:
    """Delete the router telemetry older than `keep_days` (see the module's docstring), in
    batches of `batch` rows; how many rows were deleted."""
    total = 0
    while True:
        result = await db.execute(queries.delete_old_telemetry, keep_days, batch)
        deleted = int(result.rsplit(" ", 1)[-1])
        total += deleted
        if deleted < batch:
            return total


async def scrub_forever(db: asyncpg.Pool, interval: float = INTERVAL) -> None:
    """`scrub_command_macs` and `delete_old_telemetry` every `interval` seconds until
    cancelled (kernel.jobs.every)."""

    async def run() -> None:
        scrubbed = await scrub_command_macs(db)
        if scrubbed:
            log.info("removed the MAC and hid of %d settled commands", scrubbed)
        deleted = await delete_old_telemetry(db)
        if deleted:
            log.info(
                "deleted %d router telemetry rows older than %d days",
                deleted,
                TELEMETRY_KEEP_DAYS,
            )

    await every(interval, run, log, "scrub command MACs and old telemetry")
