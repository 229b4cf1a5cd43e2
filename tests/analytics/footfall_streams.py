"""Crafted footfall event streams for the rollup, metric and API tests: observation rows
written straight into footfall_observations (as analytics/observations.py stores them) and
logins through analytics.services.record_event, each followed by the ingest hook mark_dirty."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta

import asyncpg

from accounts import services as accounts
from analytics import services as analytics
from analytics.rollups import mark_dirty, run_rollups


async def new_store(db: asyncpg.Pool, timezone: str = "Asia/Shanghai") -> accounts.Store:
    tag = uuid.uuid4().hex[:8]
    merchant_id = await accounts.create_merchant(db, f"Footfall {tag}")
    store_id = await accounts.create_store(db, merchant_id, f"Shop {tag}", timezone)
    store = await accounts.get_store(db, merchant_id, store_id)
    assert store is not None
    return store


def device(name: str) -> str:
    """A stand-in for a keyed device hash (the tests never need the MAC)."""
    return hashlib.sha256(name.encode()).hexdigest()[:32]


def every(start: datetime, end: datetime, step: timedelta) -> list[datetime]:
    times, at = [], start
    while at <= end:
        times.append(at)
        at += step
    return times


async def observe(
    db: asyncpg.Pool,
    store: accounts.Store,
    who: str,
    times: Iterable[datetime],
    *,
    rssi: int | None = -60,
    zone: str = "ap-1",
    source: str = "probe",
    randomized: bool = False,
) -> None:
    times = sorted(t.replace(microsecond=0) for t in times)
    async with db.acquire() as conn, conn.transaction():
        days = sorted({t.astimezone(UTC).date() for t in times})
        for day in days:
            await conn.execute("SELECT footfall_ensure_partition($1)", day)
        await conn.executemany(
            """INSERT INTO footfall_observations
               (merchant_id, store_id, zone, seen_at, device_hash, source, rssi, randomized)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING""",
            [
                (store.merchant_id, store.store_id, zone, t, device(who), source, rssi, randomized)
                for t in times
            ],
        )
        await mark_dirty(conn, store.merchant_id, store.store_id, times[0], times[-1])


async def login(db: asyncpg.Pool, store: accounts.Store, who: str, at: datetime) -> None:
    async with db.acquire() as conn, conn.transaction():
        await analytics.record_event(
            conn,
            store.merchant_id,
            "login",
            store_id=store.store_id,
            device_hash=device(who),
            data={"method": "click"},
            occurred_at=at,
        )
        await mark_dirty(conn, store.merchant_id, store.store_id, at, at)


async def settle(db: asyncpg.Pool, now: datetime) -> None:
    """Run the rollup job until nothing is dirty."""
    while await run_rollups(db, now=now):
        pass


def local(day: date, hour: int, minute: int = 0, tz: str = "Asia/Shanghai") -> datetime:
    from zoneinfo import ZoneInfo

    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=ZoneInfo(tz))
