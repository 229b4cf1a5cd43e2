"""Loyalty's input, footfall_login_days (migration 0019): one row per logged-in shopper, store
and store-local day, recomputed by the rollup job from the login events, and filled from the
login events already stored when the migration runs."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg

from analytics import metrics
from analytics.metrics import Scope
from kernel.db import MIGRATIONS_DIR, create_pool, migrate
from tests.analytics.footfall_streams import device, local, login, new_store, settle
from tests.kernel.test_migrations import empty_database  # noqa: F401 (a fixture)

DAY_ = (datetime.now(UTC) - timedelta(days=2)).date()
NOW = local(DAY_, 23)


async def login_days(db: asyncpg.Pool, store_id: object) -> set[tuple[str, object]]:
    rows = await db.fetch(
        "SELECT device_hash, day FROM footfall_login_days WHERE store_id = $1", store_id
    )
    return {(r["device_hash"], r["day"]) for r in rows}


async def test_days_are_the_store_local_days_of_the_logins(db: asyncpg.Pool) -> None:
    store = await new_store(db, timezone="America/New_York")
    late_evening = local(DAY_, 23, 30, tz="America/New_York")  # the next day in UTC
    await login(db, store, "a", late_evening)
    await login(db, store, "a", late_evening + timedelta(minutes=5))  # the same day again
    await login(db, store, "b", local(DAY_, 9, tz="America/New_York"))
    await settle(db, NOW + timedelta(days=1))

    assert await login_days(db, store.store_id) == {(device("a"), DAY_), (device("b"), DAY_)}


async def test_a_late_login_changes_the_class_once_the_job_has_run(db: asyncpg.Pool) -> None:
    store = await new_store(db)
    await login(db, store, "s", local(DAY_, 12))
    await settle(db, NOW)
    period = Scope(store.merchant_id, (store,), "", DAY_, DAY_, "day")
    before = await login_days(db, store.store_id)
    first = await metrics.loyalty(db, period)

    # A login of the day before arrives late (a router's spool sent after a reconnection).
    await login(db, store, "s", local(DAY_ - timedelta(days=1), 12))
    assert await login_days(db, store.store_id) == before  # not before the job runs
    await settle(db, NOW)

    assert await login_days(db, store.store_id) == {
        (device("s"), DAY_),
        (device("s"), DAY_ - timedelta(days=1)),
    }
    # One shopper: counted in its class, and hidden there as too few to show.
    assert "first_time" in first["suppressed"] and first["values"]["daily"] == 0
    result = await metrics.loyalty(db, period)
    assert "daily" in result["suppressed"] and result["values"]["first_time"] == 0


async def test_the_migration_fills_the_days_from_stored_logins(
    empty_database: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    before = tmp_path / "migrations"
    before.mkdir()
    for path in sorted(MIGRATIONS_DIR.glob("00*.sql")):
        if path.name < "0019":
            shutil.copy(path, before / path.name)
    await migrate(empty_database, before)
    db = await create_pool(empty_database, size=2)
    try:
        store = await new_store(db, timezone="Asia/Shanghai")
        await login(db, store, "x", local(DAY_, 0, 30))  # 16:30 UTC the day before
        await login(db, store, "x", local(DAY_, 10))
        await login(db, store, "y", local(DAY_ - timedelta(days=3), 10))

        assert 19 in await migrate(empty_database)

        assert await login_days(db, store.store_id) == {
            (device("x"), DAY_),
            (device("y"), DAY_ - timedelta(days=3)),
        }
    finally:
        await db.close()


async def test_loyalty_classes_agree_with_the_databases_median(db: asyncpg.Pool) -> None:
    """metrics.loyalty_class takes the median gap as PostgreSQL's percentile_cont(0.5) does."""
    cases = [[0, 2], [0, 1, 9], [0, 3, 12], [0, 9, 19, 21], [0, 18], [0, 19], [0, 1, 2, 20, 40]]
    for offsets in cases:
        days = [DAY_ + timedelta(days=o) for o in offsets]
        median = await db.fetchval(
            """SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY g)
               FROM (SELECT d - lag(d) OVER (ORDER BY d) AS g FROM unnest($1::date[]) d) x
               WHERE g IS NOT NULL""",
            days,
        )
        expected = (
            "daily"
            if median <= 2
            else "weekly"
            if median <= 9
            else "biweekly"
            if median <= 18
            else "monthly"
        )
        assert metrics.loyalty_class(days) == expected, offsets
