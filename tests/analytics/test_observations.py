"""Storing hashed footfall observations (analytics.observations): per second, once, within
retention, into day partitions that exist or are made on demand, and the rollups' hook in the
same transaction."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from analytics.observations import (
    FUTURE_SLACK,
    Observation,
    raw_keep_hours,
    record_observations,
    window_days,
)
from tests.factories import make_tenant


def obs(tenant, seen_at: float, device: str = "d" * 32, **kw: object) -> Observation:
    fields: dict[str, object] = {
        "zone": tenant.router.router_id,
        "source": "probe",
        "rssi": -60,
        "randomized": True,
        **kw,
    }
    return Observation(
        tenant.merchant_id, tenant.store_id, seen_at=seen_at, device_hash=device, **fields
    )  # type: ignore[arg-type]


async def stored(db: asyncpg.Pool, merchant_id: uuid.UUID) -> list[asyncpg.Record]:
    return await db.fetch(
        "SELECT * FROM footfall_observations WHERE merchant_id = $1 ORDER BY seen_at, device_hash",
        merchant_id,
    )


async def test_rows_are_stored_per_second_once(db: asyncpg.Pool) -> None:
    tenant = await make_tenant(db, with_ad=False)
    now = time.time()
    t = float(int(now) - 600)
    rows = [
        obs(tenant, t + 0.2, rssi=-70),
        obs(tenant, t + 0.9, rssi=-50),  # the same second: one row, the strongest signal
        obs(tenant, t + 1.5),
        obs(tenant, t + 1.5, device="e" * 32, source="assoc", rssi=None, randomized=False),
    ]
    async with db.acquire() as conn:
        first = await record_observations(conn, rows)
        again = await record_observations(conn, rows)  # a redelivered batch
    assert (first.inserted, first.duplicates, first.out_of_window) == (3, 1, 0)
    assert (again.inserted, again.duplicates) == (0, 4)
    got = await stored(db, tenant.merchant_id)
    assert [(r["seen_at"], r["device_hash"], r["rssi"], r["source"]) for r in got] == [
        (datetime.fromtimestamp(t, UTC), "d" * 32, -50, "probe"),
        (datetime.fromtimestamp(t + 1, UTC), "d" * 32, -60, "probe"),
        (datetime.fromtimestamp(t + 1, UTC), "e" * 32, None, "assoc"),
    ]
    assert got[2]["randomized"] is False and got[0]["store_id"] == tenant.store_id


async def test_rows_outside_retention_or_from_the_future_are_not_stored(db: asyncpg.Pool) -> None:
    tenant = await make_tenant(db, with_ad=False)
    now = time.time()
    async with db.acquire() as conn:
        # 24 h, unless another test of the run gave its merchant longer (the window is the
        # longest any merchant keeps: the console's retention test saves 48 h)
        keep = await raw_keep_hours(conn)
        assert keep >= 24
        rows = [
            obs(tenant, now - (keep + 1) * 3600),  # older than the raw retention
            obs(tenant, now + FUTURE_SLACK + 60),  # a broken clock
            obs(tenant, now - (keep - 1) * 3600),  # late, but within retention: lands
        ]
        result = await record_observations(conn, rows, now=now)
    assert (result.inserted, result.out_of_window) == (1, 2)
    assert len(await stored(db, tenant.merchant_id)) == 1


async def test_a_missing_day_partition_within_retention_is_created_on_demand(
    db: asyncpg.Pool,
) -> None:
    tenant = await make_tenant(db, with_ad=False)
    # "now" ten days ahead: no partition exists for that day yet.
    later = time.time() + 10 * 86400
    day = datetime.fromtimestamp(later, UTC).date()
    name = f"footfall_partitions.obs_{day:%Y%m%d}"
    assert await db.fetchval("SELECT to_regclass($1)", name) is None
    async with db.acquire() as conn:
        result = await record_observations(conn, [obs(tenant, later)], now=later)
        assert day in await window_days(conn, later)
    assert result.inserted == 1
    assert await db.fetchval("SELECT to_regclass($1)::text", name) == name


async def test_there_is_no_default_partition(db: asyncpg.Pool) -> None:
    tenant = await make_tenant(db, with_ad=False)
    far = datetime.now(UTC) + timedelta(days=400)
    with pytest.raises(asyncpg.CheckViolationError, match="no partition"):
        await db.execute(
            "INSERT INTO footfall_observations VALUES ($1, $2, 'z', $3, 'h', 'probe', -60, true)",
            tenant.merchant_id,
            tenant.store_id,
            far,
        )


async def test_the_hook_runs_in_the_same_transaction_with_the_new_range(
    db: asyncpg.Pool,
) -> None:
    tenant = await make_tenant(db, with_ad=False)
    t = float(int(time.time()) - 300)
    calls = []

    async def on_recorded(conn, merchant_id, store_id, earliest, latest) -> None:
        assert conn.is_in_transaction()
        calls.append((merchant_id, store_id, earliest, latest))

    rows = [obs(tenant, t), obs(tenant, t + 40, device="f" * 32)]
    async with db.acquire() as conn:
        await record_observations(conn, rows, on_recorded=on_recorded)
        await record_observations(conn, rows, on_recorded=on_recorded)  # nothing new: no call
    assert calls == [
        (
            tenant.merchant_id,
            tenant.store_id,
            datetime.fromtimestamp(t, UTC),
            datetime.fromtimestamp(t + 40, UTC),
        )
    ]

    async def failing(*_args: object) -> None:
        raise RuntimeError("the rollups could not mark the range")

    other = await make_tenant(db, with_ad=False)
    async with db.acquire() as conn:
        with pytest.raises(RuntimeError):
            await record_observations(conn, [obs(other, t)], on_recorded=failing)
    assert await stored(db, other.merchant_id) == []  # rolled back with the hook


async def test_writers_meeting_a_new_day_at_once_each_get_its_partition(db: asyncpg.Pool) -> None:
    """footfall_ensure_partition from several transactions at once: one creates the day's
    partition, the others find it, none fails (a bench once met DuplicateTableError here)."""
    day = datetime(2099, 1, 1, tzinfo=UTC).date() + timedelta(days=uuid.uuid4().int % 3000)

    async def ensure() -> bool:
        async with db.acquire() as conn, conn.transaction():
            created = await conn.fetchval("SELECT footfall_ensure_partition($1)", day)
            await conn.execute("SELECT pg_sleep(0.05)")  # hold the transaction open a while
            return bool(created)

    created = await asyncio.gather(*(ensure() for _ in range(6)))

    assert created.count(True) == 1, created
    name = "obs_" + day.strftime("%Y%m%d")
    assert await db.fetchval("SELECT to_regclass($1) IS NOT NULL", f"footfall_partitions.{name}")
    await db.execute(f'DROP TABLE footfall_partitions."{name}"')
