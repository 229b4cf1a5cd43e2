"""`portico analytics import-pcap` of a capture older than the raw retention (analytics.importer):
its rows go into their own days' partitions, the import recomputes those days' visits and
rollups in its transaction, and after it the retention job drops the raw rows while the rollups
stay. The partitions of old days are attached without locking out live ingest."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import asyncpg
import pytest

from accounts import services as accounts
from analytics import rollups
from analytics.importer import import_pcaps, summary
from analytics.observations import (
    Observation,
    StoreRows,
    ensure_partitions,
    record_observations,
    record_store_observations,
)
from analytics.retention import enforce_retention
from simulators import probes, shoppers
from simulators.pcap_writer import write_pcap
from tests.pg_session import lock_timeout

SECRET = "test-secret-" + "o" * 40
TZ = "Asia/Shanghai"
BROADCAST = "ff:ff:ff:ff:ff:ff"
HOURLY_COLUMNS = (
    "zone, bucket_start, local_start, detected, passers_by, visitors, connected, randomized, "
    "visits, entries, bounces, engaged, dwell_5_20, dwell_20_60, dwell_60_360, dwell_360_plus, "
    "dwell_sum, returning_visits, new_visits, occupancy_avg, occupancy_peak"
)
DAILY_COLUMNS = HOURLY_COLUMNS.replace("bucket_start, local_start", "day")
VISIT_COLUMNS = (
    "device_hash, started_at, ended_at, zone, dwell, max_rssi, sightings, entered, visitor, "
    "connected, logged_in, randomized"
)


def probe(at: datetime, mac: str, rssi: int, seq: int) -> tuple[float, bytes]:
    ts = at.timestamp()
    frame = probes.ProbeFrame(ts, mac, BROADCAST, rssi, seq, 2437, 4, 0, None, "ap-old", 5)
    return ts, probes.frame_bytes(frame)


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=ZoneInfo(TZ))


def morning(day: date) -> list[tuple[float, bytes]]:
    """12 visitors 10:00-10:30 (a probe every 2 min at -60 dBm, their global MACs), 15
    passers-by at 10:05 and 10:06 (-80 dBm; 5 with a random MAC, their counters far apart)."""
    records = []
    for i in range(12):
        records += [
            probe(local(day, 10, minute), f"00:1a:2b:00:00:{i:02x}", -60, minute)
            for minute in range(0, 31, 2)
        ]
    for i in range(15):
        mac = f"02:00:00:00:01:{i:02x}" if i < 5 else f"00:1a:2b:00:01:{i:02x}"
        records += [probe(local(day, 10, m), mac, -80, 300 * i + m) for m in (5, 6)]
    return sorted(records, key=lambda r: r[0])


async def new_store(db: asyncpg.Pool) -> accounts.Store:
    merchant_id = await accounts.create_merchant(db, f"Old capture {uuid.uuid4().hex[:8]}")
    store_id = await accounts.create_store(db, merchant_id, "Shop", TZ)
    store = await accounts.get_store(db, merchant_id, store_id)
    assert store is not None
    return store


async def rollup(db: asyncpg.Pool, store: accounts.Store, table: str, where: str, *args) -> dict:
    row = await db.fetchrow(
        f"SELECT * FROM {table} WHERE merchant_id = $1 AND store_id = $2 AND {where}",  # noqa: S608
        store.merchant_id,
        store.store_id,
        *args,
    )
    return dict(row) if row else {}


async def count(db: asyncpg.Pool, table: str, store: accounts.Store) -> int:
    return await db.fetchval(
        f"SELECT count(*) FROM {table} WHERE merchant_id = $1 AND store_id = $2",  # noqa: S608
        store.merchant_id,
        store.store_id,
    )


@pytest.mark.parametrize("days_ago", [10, 40])
async def test_an_old_capture_gives_its_days_visits_and_rollups(
    db: asyncpg.Pool, tmp_path: Path, days_ago: int
) -> None:
    day = (datetime.now(ZoneInfo(TZ)) - timedelta(days=days_ago)).date()
    path = tmp_path / "old.pcap"
    write_pcap(path, morning(day))
    store = await new_store(db)

    result = await import_pcaps(
        db,
        SECRET,
        [path],
        merchant_id=store.merchant_id,
        store_id=store.store_id,
        zone="ap-old",
        on_recorded=rollups.mark_dirty,  # as the command wires it
    )

    assert (result.recorded.inserted, result.recorded.out_of_window) == (12 * 16 + 15 * 2, 0)
    assert result.recomputed == (day, day)
    assert f"visits and rollups of {day}…{day} recomputed" in summary(result)
    ten = local(day, 10).astimezone(UTC)
    expected = {
        "detected": 27,
        "visitors": 12,
        "passers_by": 15,
        "randomized": 5,
        "visits": 12,
        "entries": 12,
        "bounces": 0,
        "dwell_20_60": 12,
        "dwell_sum": 12 * 1800,
        "new_visits": 12,
        "occupancy_peak": 27,
    }
    for zone in ("", "ap-old"):
        hour = await rollup(
            db, store, "footfall_hourly", "zone = $3 AND bucket_start = $4", zone, ten
        )
        assert {k: hour[k] for k in expected} == expected
    assert (
        await rollup(
            db,
            store,
            "footfall_hourly",
            "zone = '' AND bucket_start = $3",
            ten + timedelta(hours=1),
        )
        == {}
    )  # nobody at 11:00
    daily = await rollup(db, store, "footfall_daily", "zone = '' AND day = $3", day)
    assert (daily["detected"], daily["visitors"], daily["visits"], daily["occupancy_peak"]) == (
        27,
        12,
        12,
        27,
    )
    assert await count(db, "footfall_visits", store) == 27  # the passers-by's too
    assert await count(db, "footfall_dirty", store) == 0  # nothing left for the job
    again = await import_pcaps(
        db, SECRET, [path], merchant_id=store.merchant_id, store_id=store.store_id, zone="ap-old"
    )
    assert (again.recorded.inserted, again.recorded.duplicates, again.recomputed) == (0, 222, None)

    # The retention job drops the old raw rows; visits go after their 30 days, rollups stay.
    await enforce_retention(db)
    assert await count(db, "footfall_observations", store) == 0
    await rollups.delete_old_visits(db)
    assert await count(db, "footfall_visits", store) == (27 if days_ago < 30 else 0)
    assert await rollup(db, store, "footfall_daily", "zone = '' AND day = $3", day) == daily


async def test_the_import_computes_what_the_rollup_job_computes_from_the_same_rows(
    db: asyncpg.Pool, tmp_path: Path
) -> None:
    """A day and a half of a mall store, 12 days ago: the import's day-by-day recompute gives
    the visits and rollups of one recompute of everything, as the job would have computed
    them when the rows were new (on a copy of the rows in a second store)."""
    day = (datetime.now(ZoneInfo(TZ)) - timedelta(days=12)).date()
    start, end = local(day, 8), local(day + timedelta(days=1), 22)
    frames, _truth = shoppers.simulate(shoppers.mall_store("Old", ("ap-old",)), start, end, 5)
    path = tmp_path / "mall.pcap"
    write_pcap(path, ((f.ts, probes.frame_bytes(f)) for f in frames))
    imported, copied = await new_store(db), await new_store(db)

    result = await import_pcaps(
        db,
        SECRET,
        [path],
        merchant_id=imported.merchant_id,
        store_id=imported.store_id,
        zone="ap-old",
        on_recorded=rollups.mark_dirty,
    )
    assert result.recomputed == (day, day + timedelta(days=1))

    async with db.acquire() as conn, conn.transaction():
        await conn.execute(
            "INSERT INTO footfall_observations SELECT $3, $4, zone, seen_at, device_hash, "
            "source, rssi, randomized FROM footfall_observations "
            "WHERE merchant_id = $1 AND store_id = $2",
            imported.merchant_id,
            imported.store_id,
            copied.merchant_id,
            copied.store_id,
        )
        await rollups.recompute(
            conn, copied, start.astimezone(UTC), end.astimezone(UTC), now=end + timedelta(hours=1)
        )

    for table, columns, order, least in (
        ("footfall_visits", VISIT_COLUMNS, "device_hash, started_at", 1000),
        ("footfall_hourly", HOURLY_COLUMNS, "zone, bucket_start", 40),
        ("footfall_daily", DAILY_COLUMNS, "zone, day", 4),  # 2 days, the store and its zone
    ):
        rows = {}
        for store in (imported, copied):
            rows[store.store_id] = await db.fetch(
                f"SELECT {columns} FROM {table} "  # noqa: S608
                f"WHERE merchant_id = $1 AND store_id = $2 ORDER BY {order}",
                store.merchant_id,
                store.store_id,
            )
        assert len(rows[imported.store_id]) >= least, table
        assert comparable(rows[imported.store_id]) == comparable(rows[copied.store_id]), table


def comparable(rows: list[asyncpg.Record]) -> list[dict[str, object]]:
    """Rows as dicts, occupancy averages (float4 sums, whose last bit depends on the order
    the database adds them in) to 4 decimals."""
    return [
        {k: round(v, 4) if k == "occupancy_avg" else v for k, v in dict(row).items()}
        for row in rows
    ]


async def test_old_partitions_are_attached_without_locking_out_live_ingest(
    db: asyncpg.Pool,
) -> None:
    """CREATE TABLE … PARTITION OF in a long transaction would hold every writer of
    footfall_observations until it ends; the import's attached partitions do not."""
    store = await new_store(db)
    old = int(time.time()) - 50 * 86400
    live = Observation(
        store.merchant_id, store.store_id, "ap-live", time.time(), "ab" * 16, "probe", -60, False
    )
    async with db.acquire() as importer, db.acquire() as sensor:
        async with lock_timeout(sensor, "2s"), importer.transaction():
            await record_store_observations(
                importer,
                store.merchant_id,
                store.store_id,
                "ap-old",
                "probe",
                StoreRows([old], ["cd" * 16], [-60], [False]),
            )
            recorded = await record_observations(sensor, [live])  # not held up
            assert recorded.inserted == 1
        # The way the live path creates a partition, for contrast: writers wait for it.
        async with lock_timeout(sensor, "200ms"), importer.transaction():
            await ensure_partitions(
                importer, [datetime.fromtimestamp(old, UTC).date() - timedelta(days=3)]
            )
            with pytest.raises(asyncpg.LockNotAvailableError):
                await record_observations(sensor, [live._replace(seen_at=time.time() + 1)])
    assert await count(db, "footfall_observations", store) == 2


async def test_visits_of_an_earlier_import_whose_raw_rows_are_gone_are_kept(
    db: asyncpg.Pool, tmp_path: Path
) -> None:
    """Two captures of one day imported apart, the retention job between them: the second
    import cannot rebuild the first one's visits (their sightings are gone), so it leaves them
    as they are and starts its own after them."""
    day = (datetime.now(ZoneInfo(TZ)) - timedelta(days=5)).date()
    mac = "00:1a:2b:00:02:01"
    first, second = tmp_path / "first.pcap", tmp_path / "second.pcap"
    write_pcap(first, [probe(local(day, 10, m), mac, -60, m) for m in range(0, 31, 2)])
    write_pcap(second, [probe(local(day, 10, m), mac, -60, m) for m in range(36, 59, 2)])
    store = await new_store(db)
    where = dict(merchant_id=store.merchant_id, store_id=store.store_id, zone="ap-old")

    await import_pcaps(db, SECRET, [first], **where)  # type: ignore[arg-type]
    await enforce_retention(db)
    await import_pcaps(db, SECRET, [second], **where)  # type: ignore[arg-type]

    visits = await db.fetch(
        "SELECT started_at, ended_at, sightings FROM footfall_visits "
        "WHERE merchant_id = $1 AND store_id = $2 ORDER BY started_at",
        store.merchant_id,
        store.store_id,
    )
    assert [(v["started_at"], v["ended_at"], v["sightings"]) for v in visits] == [
        (local(day, 10), local(day, 10, 30), 16),
        (local(day, 10, 36), local(day, 10, 58), 12),
    ]
