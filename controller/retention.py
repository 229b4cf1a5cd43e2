"""Raw MACs in router commands are kept only while something may read them (PRODUCT.md §5).

A command's `mac` (and an `auth`'s `hid`) is read while its ack may still come and while a grant
given up on may have to be undone (controller/commands.py: within a minute). Ten minutes on,
`scrub_forever` (run by the controller role) removes both from the command's args; what it
did, to which router, when, by whom and with what outcome stays: that is the audit log.
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


async def scrub_command_macs(db: asyncpg.Pool, keep: float = KEEP_SECONDS) -> int:
    """Scrub every command older than `keep` seconds, in batches; how many were scrubbed."""
    total = 0
    while True:
        result = await db.execute(queries.scrub_command_macs, float(keep), BATCH)
        scrubbed = int(result.rsplit(" ", 1)[-1])
        total += scrubbed
        if scrubbed < BATCH:
            return total


async def scrub_forever(db: asyncpg.Pool, interval: float = INTERVAL) -> None:
    """`scrub_command_macs` every `interval` seconds until cancelled (kernel.jobs.every)."""

    async def run() -> None:
        scrubbed = await scrub_command_macs(db)
        if scrubbed:
            log.info("removed the MAC and hid of %d settled commands", scrubbed)

    await every(interval, run, log, "scrub command MACs")
