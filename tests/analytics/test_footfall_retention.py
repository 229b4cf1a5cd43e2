"""Footfall retention (analytics.retention): day partitions made ahead and dropped whole once
their day is past the raw retention; merchants' shorter settings; old long stays and fixed
devices that no longer qualify. On a database of its own: it drops today's partitions."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from accounts import services as accounts
from analytics.observations import Observation, record_observations
from analytics.retention import Enforced, Retention, enforce_retention, retention_of, set_retention
from kernel.db import create_pool, migrate


@pytest.fixture
async def own_db(server_url: str) -> AsyncIterator[asyncpg.Pool]:
    name = f"portico_retention_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(server_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = urlunsplit(urlsplit(server_url)._replace(path="/" + name))
    try:
        await migrate(url)
        pool = await create_pool(url, size=3)
        try:
            yield pool
        finally:
            await pool.close()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def partitions(db: asyncpg.Pool) -> list[str]:
    rows = await db.fetch(
        """SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
           WHERE i.inhparent = 'footfall_observations'::regclass ORDER BY 1"""
    )
    return [r["relname"] for r in rows]


def at(day: date, hour: float = 0) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() + hour * 3600


def name(day: date) -> str:
    return f"obs_{day:%Y%m%d}"


async def migration_day(db: asyncpg.Pool) -> date:
    """The UTC day the migration ran on, which made the day partitions: today, or yesterday
    when midnight passed between the migration and the test's reading of the clock."""
    made = await partitions(db)
    today = datetime.now(UTC).date()
    for day in (today, today - timedelta(days=1)):
        # The migration made the day's yesterday, the day and the next two days.
        if made == [name(day + timedelta(days=n)) for n in range(-1, 3)]:
            return day
    raise AssertionError(f"not the partitions of a migration today or yesterday: {made}")


async def merchant(db: asyncpg.Pool) -> tuple[uuid.UUID, uuid.UUID]:
    merchant_id = await accounts.create_merchant(db, f"Retention {uuid.uuid4().hex[:8]}")
    return merchant_id, await accounts.create_store(db, merchant_id, "Shop", "UTC")


async def put(db: asyncpg.Pool, m: uuid.UUID, s: uuid.UUID, ts: float, now: float) -> None:
    row = Observation(m, s, "ap-1", ts, uuid.uuid4().hex, "probe", -60, True)
    async with db.acquire() as conn:
        assert (await record_observations(conn, [row], now=now)).inserted == 1


async def test_partitions_are_made_ahead_and_dropped_whole_after_24h(
    own_db: asyncpg.Pool,
) -> None:
    today = await migration_day(own_db)  # checks it made yesterday's to the day after next
    m, s = await merchant(own_db)
    await put(own_db, m, s, at(today, 1), at(today, 2))
    await put(own_db, m, s, at(today, 23), at(today, 23.5))

    # At 23:00 the next day: today's rows are under 24 h old: kept; yesterday's day is gone.
    done = await enforce_retention(own_db, now=at(today + timedelta(days=1), 23))
    assert done.partitions_dropped == [name(today - timedelta(days=1))]
    assert done.partitions_created == [name(today + timedelta(days=3))]
    assert await own_db.fetchval("SELECT count(*) FROM footfall_observations") == 2

    # Once the whole of today is 24 h old, its partition goes, with both rows.
    done = await enforce_retention(own_db, now=at(today + timedelta(days=2), 0))
    assert done.partitions_dropped == [name(today)]
    assert await own_db.fetchval("SELECT count(*) FROM footfall_observations") == 0
    assert await partitions(own_db) == [name(today + timedelta(days=n)) for n in range(1, 5)]
    again = await enforce_retention(own_db, now=at(today + timedelta(days=2), 0.2))
    assert again == Enforced([], [])  # a second run has nothing to do


async def test_a_longer_setting_keeps_partitions_and_a_shorter_one_deletes_rows(
    own_db: asyncpg.Pool,
) -> None:
    today = await migration_day(own_db)
    long_m, long_s = await merchant(own_db)
    short_m, short_s = await merchant(own_db)
    other_m, other_s = await merchant(own_db)
    await set_retention(own_db, long_m, Retention(raw_hours=48, visits_days=90))
    await set_retention(own_db, short_m, Retention(raw_hours=6))
    assert await retention_of(own_db, long_m) == Retention(48, 90)
    assert await retention_of(own_db, other_m) == Retention(24, 30)
    for m, s in ((long_m, long_s), (short_m, short_s), (other_m, other_s)):
        await put(own_db, m, s, at(today, 1), at(today, 2))

    done = await enforce_retention(own_db, now=at(today, 10))  # 9 h after the rows
    assert done.observations_deleted == 1
    left = await own_db.fetch("SELECT merchant_id FROM footfall_observations")
    assert {r["merchant_id"] for r in left} == {long_m, other_m}

    # 24 h after the end of the day the default would drop it; 48 h keeps it for long_m,
    # while the merchant on the default loses its row.
    done = await enforce_retention(own_db, now=at(today + timedelta(days=2), 1))
    assert done.partitions_dropped == [name(today - timedelta(days=1))]
    assert name(today) in await partitions(own_db)
    assert done.observations_deleted == 1
    left = await own_db.fetch("SELECT merchant_id FROM footfall_observations")
    assert [r["merchant_id"] for r in left] == [long_m]


@pytest.mark.parametrize(
    "retention", [Retention(raw_hours=0), Retention(raw_hours=169), Retention(visits_days=0)]
)
async def test_out_of_range_settings_are_refused(db: asyncpg.Pool, retention: Retention) -> None:
    m, _ = await merchant(db)
    with pytest.raises(ValueError):
        await set_retention(db, m, retention)
    assert await retention_of(db, m) == Retention()


async def test_old_long_stays_go_and_detected_devices_are_released(own_db: asyncpg.Pool) -> None:
    today = datetime.now(UTC).date()
    m, s = await merchant(own_db)
    for device, days in (("staff", (0, 1, 2)), ("gone", (6, 7, 8))):
        for back in days:
            await own_db.execute(
                "INSERT INTO footfall_long_stays VALUES ($1, $2, $3, $4, 30000)",
                m,
                s,
                today - timedelta(days=back),
                device,
            )
    for device, reason in (("staff", "detected"), ("gone", "detected"), ("till", "listed")):
        await own_db.execute(
            "INSERT INTO footfall_fixed_devices VALUES ($1, $2, $3, $4)", m, s, device, reason
        )
    done = await enforce_retention(own_db, now=at(today, 12))
    assert (done.long_stays_deleted, done.fixed_released) == (1, 1)
    fixed = await own_db.fetch("SELECT device_hash FROM footfall_fixed_devices ORDER BY 1")
    assert [f["device_hash"] for f in fixed] == ["staff", "till"]
