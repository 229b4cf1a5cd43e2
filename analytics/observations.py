"""Storing footfall observations: already-hashed rows into `footfall_observations`, fast.

Rows come from analytics/ingest.py (the privacy step): a device is only ever a keyed hash
here. One row per device, zone and second (seen_at is truncated to the second); a row stored
before is skipped (ON CONFLICT DO NOTHING), so a redelivered batch or a re-imported capture
changes nothing. Rows are written with one `INSERT … SELECT FROM unnest(arrays)` per batch
(measured against COPY into a temporary table in docs/footfall-ingest.md).

The table is partitioned by UTC day with no default partition: a row is accepted only within
the raw retention (the longest merchant setting, 24 h by default, before now) and not more
than FUTURE_SLACK after now (a router's broken clock); the partition of a day in that window
is created when missing (a late row from yesterday after a restart still lands). Rows outside
are counted as `out_of_window`, not stored. An import of an old capture (analytics/importer.py)
stores older rows too (record_store_observations): their days' partitions are attached in its
transaction, and the retention job drops them once it has committed.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import NamedTuple

import asyncpg

from kernel.sql import load_queries

log = logging.getLogger("portico.analytics.observations")
queries = load_queries(__file__, "observations.sql")

DEFAULT_RAW_HOURS = 24
FUTURE_SLACK = 3600  # seconds a row may be ahead of our clock

# Called in the same transaction after rows were stored: what is new for one store
# (analytics.rollups.mark_dirty has this signature).
OnRecorded = Callable[
    [asyncpg.Connection, uuid.UUID, uuid.UUID, datetime, datetime], Awaitable[object]
]

# Called in the same transaction with one store's stable devices of the call: (device_hash,
# unix seconds) of its `assoc` rows (a device joined to the WiFi: its hash does not rotate,
# unlike a probe's), duplicates of earlier calls included. The composition root wires it to
# precision marketing's live stream (portico/runtime.py); it runs on the telemetry's hot path.
OnDevicesSeen = Callable[
    [asyncpg.Connection, uuid.UUID, uuid.UUID, list[tuple[str, float]]], Awaitable[object]
]


class Observation(NamedTuple):
    """One row of footfall_observations. `seen_at`: unix seconds (truncated when stored)."""

    merchant_id: uuid.UUID
    store_id: uuid.UUID
    zone: str
    seen_at: float
    device_hash: str
    source: str  # 'probe' | 'assoc'
    rssi: int | None
    randomized: bool


@dataclass
class Recorded:
    """What one call stored: rows new to the table, rows skipped as seen before, rows outside
    the retention window (not stored)."""

    inserted: int = 0
    duplicates: int = 0
    out_of_window: int = 0

    def add(self, other: Recorded) -> None:
        self.inserted += other.inserted
        self.duplicates += other.duplicates
        self.out_of_window += other.out_of_window


async def raw_keep_hours(conn: asyncpg.Connection) -> int:
    """How many hours raw observations are kept: the longest merchant setting, at least 24."""
    return await conn.fetchval(queries.raw_keep_hours, DEFAULT_RAW_HOURS)


async def ensure_partitions(conn: asyncpg.Connection, days: Iterable[date]) -> list[date]:
    """Create the partitions of these UTC days where missing; the days created now. Cheap
    when they exist (a catalog look-up each), so it runs before every insert."""
    rows = await conn.fetch(queries.ensure_partitions, sorted(set(days)))
    created = [r["day"] for r in rows if r["created"]]
    for day in created:
        log.info("created the footfall partition of %s", day)
    return created


async def attach_partitions(conn: asyncpg.Connection, days: Iterable[date]) -> list[date]:
    """Create the partitions of these UTC days where missing, as ensure_partitions does, but
    for a long transaction (an import): CREATE TABLE … PARTITION OF would hold an ACCESS
    EXCLUSIVE lock on footfall_observations until it commits (every insert and query waits),
    while a table created apart and attached holds SHARE UPDATE EXCLUSIVE (they go on). The
    partition's indexes are built by the attach. The days created now."""
    created = []
    for day in [r["day"] for r in await conn.fetch(queries.missing_partitions, sorted(set(days)))]:
        name = f"obs_{day:%Y%m%d}"  # footfall_ensure_partition's name and lock
        await conn.execute(queries.lock_partition, name)
        if await conn.fetchval(queries.partition_exists, name):
            continue
        await conn.execute(
            f"CREATE TABLE footfall_partitions.{name} "
            "(LIKE footfall_observations INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"
        )
        await conn.execute(
            f"ALTER TABLE footfall_observations ATTACH PARTITION footfall_partitions.{name} "
            f"FOR VALUES FROM ('{day.isoformat()} 00:00+00') "
            f"TO ('{(day + timedelta(days=1)).isoformat()} 00:00+00')"
        )
        log.info("created the footfall partition of %s (attached)", day)
        created.append(day)
    return created


async def window_days(conn: asyncpg.Connection, now: float | None = None) -> list[date]:
    """The UTC days a row may fall on now (within retention, up to FUTURE_SLACK ahead)."""
    now = time.time() if now is None else now
    first = _utc_day(int(now - await raw_keep_hours(conn) * 3600))
    last = _utc_day(int(now + FUTURE_SLACK))
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


async def record_observations(
    conn: asyncpg.Connection,
    rows: list[Observation],
    *,
    on_recorded: OnRecorded | None = None,
    on_devices_seen: OnDevicesSeen | None = None,
    now: float | None = None,
) -> Recorded:
    """Store `rows` (duplicates skipped); then `on_recorded` once per store with the range of
    what was new, and `on_devices_seen` once per store with stable devices among the rows
    kept. Runs in the caller's transaction when there is one, else in its own, so the rows
    and what the hooks write commit together."""
    if conn.is_in_transaction():
        return await _record(conn, rows, on_recorded, on_devices_seen, now)
    async with conn.transaction():
        return await _record(conn, rows, on_recorded, on_devices_seen, now)


async def _record(
    conn: asyncpg.Connection,
    rows: list[Observation],
    on_recorded: OnRecorded | None,
    on_devices_seen: OnDevicesSeen | None,
    now: float | None,
) -> Recorded:
    result = Recorded()
    if not rows:
        return result
    now = time.time() if now is None else now
    oldest = now - await raw_keep_hours(conn) * 3600
    newest = now + FUTURE_SLACK
    # One row per key: the strongest signal of a second wins.
    unique: dict[tuple[object, ...], Observation] = {}
    for row in rows:
        second = int(row.seen_at)
        if not oldest <= second <= newest:
            result.out_of_window += 1
            continue
        key = (row.merchant_id, row.store_id, row.zone, row.device_hash, second)
        kept = unique.get(key)
        if kept is None or (row.rssi or -128) > (kept.rssi or -128):
            unique[key] = row
    if not unique:
        return result
    seconds = [key[4] for key in unique]
    await ensure_partitions(conn, _days_of(seconds))
    kept_rows = list(unique.values())
    stores = await conn.fetch(
        queries.insert_observations,
        [r.merchant_id for r in kept_rows],
        [r.store_id for r in kept_rows],
        [r.zone for r in kept_rows],
        seconds,
        [r.device_hash for r in kept_rows],
        [r.source for r in kept_rows],
        [r.rssi for r in kept_rows],
        [r.randomized for r in kept_rows],
    )
    for store in stores:
        result.inserted += store["inserted"]
        if on_recorded is not None:
            await on_recorded(
                conn, store["merchant_id"], store["store_id"], store["earliest"], store["latest"]
            )
    result.duplicates = len(rows) - result.out_of_window - result.inserted
    if on_devices_seen is not None:
        await _tell_devices_seen(conn, kept_rows, on_devices_seen)
    return result


async def _tell_devices_seen(
    conn: asyncpg.Connection, rows: list[Observation], on_devices_seen: OnDevicesSeen
) -> None:
    stable: dict[tuple[uuid.UUID, uuid.UUID], list[tuple[str, float]]] = {}
    for row in rows:
        if row.source == "assoc":
            stable.setdefault((row.merchant_id, row.store_id), []).append(
                (row.device_hash, row.seen_at)
            )
    for (merchant_id, store_id), devices in stable.items():
        await on_devices_seen(conn, merchant_id, store_id, devices)


async def record_store_observations(
    conn: asyncpg.Connection,
    merchant_id: uuid.UUID,
    store_id: uuid.UUID,
    zone: str,
    source: str,
    rows: StoreRows,
    *,
    on_recorded: OnRecorded | None = None,
) -> Recorded:
    """record_observations for rows of one store, zone and source already one per device and
    second (analytics.ingest.FootfallIngest.record_probes, for imports): only their varying
    columns are sent, which halves the cost of encoding them. Rows older than the raw
    retention are stored too, their days' partitions attached (attach_partitions); the caller
    leaves out rows too far in the future. Runs in the caller's transaction if any."""
    if conn.is_in_transaction():
        return await _record_store(conn, merchant_id, store_id, zone, source, rows, on_recorded)
    async with conn.transaction():
        return await _record_store(conn, merchant_id, store_id, zone, source, rows, on_recorded)


async def _record_store(
    conn: asyncpg.Connection,
    merchant_id: uuid.UUID,
    store_id: uuid.UUID,
    zone: str,
    source: str,
    rows: StoreRows,
    on_recorded: OnRecorded | None,
) -> Recorded:
    result = Recorded()
    if not rows.seconds:
        return result
    await attach_partitions(conn, _days_of(rows.seconds))
    new = await conn.fetchrow(
        queries.insert_store_observations, merchant_id, store_id, zone, source, *rows
    )
    result.inserted = new["inserted"]
    result.duplicates = len(rows.seconds) - result.inserted
    if result.inserted and on_recorded is not None:
        await on_recorded(conn, merchant_id, store_id, new["earliest"], new["latest"])
    return result


class StoreRows(NamedTuple):
    """record_store_observations' rows, by column."""

    seconds: list[int]  # unix seconds
    device_hashes: list[str]
    rssi: list[int | None]
    randomized: list[bool]


_EPOCH = date(1970, 1, 1)


def _days_of(seconds: Iterable[int]) -> list[date]:
    """The UTC days of these unix seconds."""
    return [_EPOCH + timedelta(days=d) for d in {s // 86400 for s in seconds}]


def _utc_day(second: int) -> date:
    return datetime.fromtimestamp(second, UTC).date()


def days_ahead(now: float, ahead: int = 2) -> list[date]:
    """Today (UTC) and the next `ahead` days: the partitions kept ready."""
    today = _utc_day(int(now))
    return [today + timedelta(days=n) for n in range(ahead + 1)]
