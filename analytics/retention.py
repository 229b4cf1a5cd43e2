"""Footfall retention (PRODUCT.md §5): raw observations kept hours, not longer.

`enforce_retention` (every 10 minutes in the controller role, `retention_forever`):
- creates the day partitions of today and the next two days (UTC), so inserts never wait;
- drops each day partition once its whole day is older than the raw retention: the longest
  merchant setting (footfall_retention.raw_hours), 24 h by default. When one merchant keeps
  longer, the others' older rows (their setting, or the default) are deleted row by row;
- deletes long stays older than 7 days, detected fixed devices that no longer meet the rule,
  and OS families of devices not seen within the visits retention (30 days by default).

Visits and rollups (analytics/visits.py, analytics/rollups.py) read `retention_of` for their
own limits.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg

from analytics.ingest import FIXED_DAYS, FIXED_WINDOW_DAYS
from analytics.observations import DEFAULT_RAW_HOURS, days_ahead, ensure_partitions
from kernel.jobs import every
from kernel.sql import load_queries

log = logging.getLogger("portico.analytics.retention")
queries = load_queries(__file__, "observations.sql")

INTERVAL = 600.0  # seconds between runs
DEFAULT_VISITS_DAYS = 30
LONG_STAY_DAYS = FIXED_WINDOW_DAYS  # long stays older than this are of no use


@dataclass(frozen=True)
class Retention:
    raw_hours: int = DEFAULT_RAW_HOURS
    visits_days: int = DEFAULT_VISITS_DAYS


@dataclass
class Enforced:
    partitions_created: list[str]
    partitions_dropped: list[str]
    observations_deleted: int = 0
    long_stays_deleted: int = 0
    fixed_released: int = 0
    device_os_deleted: int = 0


async def retention_of(db: asyncpg.Pool | asyncpg.Connection, merchant_id: uuid.UUID) -> Retention:
    """A merchant's footfall retention (the defaults when it set none)."""
    row = await db.fetchrow(queries.retention_of, merchant_id)
    return Retention(row["raw_hours"], row["visits_days"]) if row else Retention()


async def set_retention(
    db: asyncpg.Pool | asyncpg.Connection, merchant_id: uuid.UUID, retention: Retention
) -> None:
    if not 1 <= retention.raw_hours <= 168:
        raise ValueError("raw observations are kept 1 … 168 hours")
    if not 1 <= retention.visits_days <= 3650:
        raise ValueError("visits are kept 1 … 3650 days")
    await db.execute(queries.set_retention, merchant_id, retention.raw_hours, retention.visits_days)


def _deleted(result: str) -> int:
    return int(result.rsplit(" ", 1)[-1])


async def enforce_retention(db: asyncpg.Pool, now: float | None = None) -> Enforced:
    """One run of the retention job (see the module's docstring)."""
    now = time.time() if now is None else now
    moment = datetime.fromtimestamp(now, UTC)
    async with db.acquire() as conn:
        async with conn.transaction():
            created = await ensure_partitions(conn, days_ahead(now))
        keep_hours = await conn.fetchval(queries.raw_keep_hours, DEFAULT_RAW_HOURS)
        async with conn.transaction():
            dropped = [
                r["dropped"]
                for r in await conn.fetch(
                    queries.drop_partitions, moment - timedelta(hours=keep_hours)
                )
            ]
        done = Enforced([f"obs_{d:%Y%m%d}" for d in created], dropped)
        if keep_hours > DEFAULT_RAW_HOURS:  # partitions outlive the default: delete rows
            done.observations_deleted += _deleted(
                await conn.execute(
                    queries.delete_default_observations_before,
                    moment - timedelta(hours=DEFAULT_RAW_HOURS),
                )
            )
        for row in await conn.fetch(queries.shorter_raw_retention, keep_hours):
            done.observations_deleted += _deleted(
                await conn.execute(
                    queries.delete_merchant_observations_before,
                    row["merchant_id"],
                    moment - timedelta(hours=row["raw_hours"]),
                )
            )
        today = moment.date()
        done.long_stays_deleted = _deleted(
            await conn.execute(
                queries.delete_old_long_stays, today - timedelta(days=LONG_STAY_DAYS)
            )
        )
        done.fixed_released = _deleted(
            await conn.execute(
                queries.delete_undetected_fixed,
                today - timedelta(days=FIXED_WINDOW_DAYS - 1),
                FIXED_DAYS,
            )
        )
        done.device_os_deleted = _deleted(
            await conn.execute(
                queries.delete_old_device_os,
                moment - timedelta(days=DEFAULT_VISITS_DAYS),
            )
        )
    return done


async def retention_forever(db: asyncpg.Pool, interval: float = INTERVAL) -> None:
    """`enforce_retention` every `interval` seconds until cancelled (kernel.jobs.every)."""

    async def run() -> None:
        done = await enforce_retention(db)
        if done.partitions_dropped:
            log.info("dropped footfall partitions %s", ", ".join(done.partitions_dropped))
        if done.observations_deleted or done.long_stays_deleted or done.fixed_released:
            log.info(
                "footfall retention: %d observations, %d long stays deleted; %d devices no "
                "longer fixed",
                done.observations_deleted,
                done.long_stays_deleted,
                done.fixed_released,
            )

    await every(interval, run, log, "enforce footfall retention")
