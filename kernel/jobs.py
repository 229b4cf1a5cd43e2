"""Background upkeep: run a job every so often for as long as a role runs."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable

import asyncpg

# What a job may meet while the database is away or restarting: logged, tried again next time.
TRANSIENT = (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError)


async def every(
    interval: float, job: Callable[[], Awaitable[object]], log: logging.Logger, what: str
) -> None:
    """`job()` every `interval` seconds until cancelled, the first time after a random part of
    one (processes started together do not all run it together). A failed run is logged and
    tried again at the next; `what` names the job in the log."""
    await asyncio.sleep(random.uniform(0.1, 1.0) * interval)
    while True:
        try:
            await job()
        except TRANSIENT:
            log.exception("could not %s; trying again in %.0f s", what, interval)
        await asyncio.sleep(interval)
