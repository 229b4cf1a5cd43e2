"""Keeping visits and the hourly/daily rollups current, and `portico analytics rebuild`.

Ingest marks the UTC hours it wrote as dirty (`mark_dirty`, in its own transaction). A job
(`run_rollups`, every ROLLUP_INTERVAL on the controller role) takes each store's dirty hours,
re-sessionises the devices seen in them (analytics/visits.py) from the raw observations and
login events, rewrites those devices' visits, and recomputes — never increments — the rollups
of every store-local hour and day those visits touch. Recomputing makes late and duplicate data
harmless: the answer depends only on what is stored. Several controllers share the work: a
store is taken by one at a time (a transaction advisory lock), its marks claimed with
FOR UPDATE SKIP LOCKED; marks written meanwhile stay for the next run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, TextIO
from zoneinfo import ZoneInfo

import asyncpg

from accounts import services as accounts
from analytics.retention import retention_of
from analytics.settings import FootfallSettings, settings_of
from analytics.visits import Sighting, Visit, sessionise
from kernel.jobs import every
from kernel.progress import ProgressBar
from kernel.sql import load_queries

log = logging.getLogger("portico.analytics.rollups")
queries = load_queries(__file__, "footfall.sql")

ROLLUP_INTERVAL = 20.0  # seconds between runs of the rollup job: rollups lag < 1 min
RETENTION_INTERVAL = 3600.0  # seconds between sweeps of visits past retention
STORES_PER_RUN = 200
DELETE_BATCH = 10_000
MAX_MARK_SPAN = timedelta(days=400)
HOUR = timedelta(hours=1)
OCCUPANCY_REACH = timedelta(minutes=10)  # footfall.sql insert_hourly: the window before a mark
DAY = timedelta(days=1)

Executor = asyncpg.Connection | asyncpg.Pool


async def mark_dirty(
    conn: Executor, merchant_id: uuid.UUID, store_id: uuid.UUID, start: datetime, end: datetime
) -> None:
    """Ingest wrote observations of this store between `start` and `end` (inclusive): have the
    job recompute their hours. Call it in the transaction of the insert; it never waits."""
    if start > end:
        start, end = end, start
    if end - start > MAX_MARK_SPAN:
        raise ValueError(f"observations span {end - start}, more than {MAX_MARK_SPAN}")
    await conn.execute(queries.mark_dirty, merchant_id, store_id, start, end)


# The job ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Recomputed:
    devices: int
    visits: int
    hours: int
    days: int


async def run_rollups(db: asyncpg.Pool, now: datetime | None = None) -> int:
    """One run of the job: every store with dirty hours (up to STORES_PER_RUN); the number of
    stores recomputed."""
    done = 0
    started = time.monotonic()
    for row in await db.fetch(queries.dirty_stores, STORES_PER_RUN):
        try:
            if await _process_store(db, row["merchant_id"], row["store_id"], now):
                done += 1
        except asyncpg.PostgresError:
            # One store's failure must not hold up the others; its marks stay for next time.
            log.exception("could not recompute footfall of store %s", row["store_id"])
    if done:
        log.info("recomputed footfall of %d stores in %.2f s", done, time.monotonic() - started)
    return done


async def _process_store(
    db: asyncpg.Pool, merchant_id: uuid.UUID, store_id: uuid.UUID, now: datetime | None
) -> bool:
    async with db.acquire() as conn, conn.transaction():
        if not await conn.fetchval(queries.try_lock_store, merchant_id, store_id):
            return False  # another controller is on it
        marks = await conn.fetch(queries.claim_dirty, merchant_id, store_id)
        if not marks:
            return False
        store = await accounts.get_store(conn, merchant_id, store_id)
        if store is not None:
            hours = sorted({m["bucket_start"] for m in marks})
            for start, end in _runs(hours):
                result = await recompute(conn, store, start, end, now=now)
                log.debug(
                    "footfall %s %s..%s: %d devices, %d visits, %d hours, %d days",
                    store_id, start.isoformat(), end.isoformat(),
                    result.devices, result.visits, result.hours, result.days,
                )  # fmt: skip
        await conn.execute(
            queries.delete_dirty, merchant_id, store_id, [m["mark_id"] for m in marks]
        )
    return True


def _runs(hours: list[datetime]) -> Iterable[tuple[datetime, datetime]]:
    """Consecutive hours as [start, end) ranges."""
    start = previous = hours[0]
    for hour in hours[1:]:
        if hour - previous > HOUR:
            yield start, previous + HOUR
            start = hour
        previous = hour
    yield start, previous + HOUR


async def recompute(
    conn: asyncpg.Connection,
    store: accounts.Store,
    start: datetime,
    end: datetime,
    *,
    now: datetime | None = None,
) -> Recomputed:
    """Re-sessionise the devices seen at the store in [start, end) and recompute the rollups of
    every hour and day their visits touch (at least those of [start, end)). Rollups of days
    whose visits are past retention are left as they are (their visits are gone)."""
    merchant_id, store_id = store.merchant_id, store.store_id
    now = now or datetime.now(UTC)
    rules = await settings_of(conn, merchant_id, store_id)
    retention = await retention_of(conn, merchant_id)
    raw_horizon = now - timedelta(hours=retention.raw_hours)
    lo, hi, devices, written = await _resessionise(conn, store, rules, start, end, raw_horizon)
    lo, hi = min(lo, start), max(hi, end)
    visits_horizon = now - timedelta(days=retention.visits_days)
    hours, days = await _recompute_rollups(conn, store, rules, lo, hi, visits_horizon)
    await _recompute_login_days(conn, store, start, end)
    return Recomputed(devices, written, hours, days)


async def recompute_locked(
    db: asyncpg.Pool,
    store: accounts.Store,
    start: datetime,
    end: datetime,
    *,
    now: datetime | None = None,
) -> Recomputed:
    """`recompute` in a transaction of its own, holding the store's lock as `rebuild` does
    (the job skips a store another process holds)."""
    async with db.acquire() as conn, conn.transaction():
        await conn.execute(queries.lock_store, store.merchant_id, store.store_id)
        return await recompute(conn, store, start, end, now=now)


async def _resessionise(
    conn: asyncpg.Connection,
    store: accounts.Store,
    rules: FootfallSettings,
    start: datetime,
    end: datetime,
    raw_horizon: datetime,
) -> tuple[datetime, datetime, int, int]:
    """Rewrite the visits of the devices seen in [start, end); the span the old and new visits
    cover, the devices, the visits written."""
    m, s = store.merchant_id, store.store_id
    gap = timedelta(seconds=rules.visit_gap)
    devices = [
        r["device_hash"]
        for r in await conn.fetch(queries.changed_devices, m, s, start, end, rules.detected_rssi)
    ]
    if not devices:
        return start, end, 0, 0
    # Start each device again at its first visit that reaches within the gap of `start` (any
    # visit's first sighting is a valid starting point: see analytics/visits.py). A visit
    # starting before the raw observations kept is left alone: its sightings are gone.
    since = dict.fromkeys(devices, start - gap)
    kept_until: dict[str, datetime] = {}
    for r in await conn.fetch(queries.visits_reaching, m, s, devices, start - gap):
        device = r["device_hash"]
        if r["started_at"] < raw_horizon:
            kept_until[device] = max(kept_until.get(device, r["ended_at"]), r["ended_at"])
        else:
            since[device] = min(since[device], r["started_at"])
    for device, until in kept_until.items():
        since[device] = max(since[device], until + timedelta(microseconds=1))
    earliest = min(since.values())
    per_device: dict[str, list[Sighting]] = defaultdict(list)
    for r in await conn.fetch(queries.sightings_of, m, s, devices, earliest, rules.detected_rssi):
        if r["seen_at"] >= since[r["device_hash"]]:
            per_device[r["device_hash"]].append(
                Sighting(
                    ts=r["seen_at"].timestamp(),
                    rssi=r["rssi"],
                    zone=r["zone"],
                    connected=r["connected"],
                    randomized=r["randomized"],
                )
            )
    for r in await conn.fetch(queries.logins_of, m, s, devices, earliest):
        if r["occurred_at"] >= since[r["device_hash"]]:
            per_device[r["device_hash"]].append(
                Sighting(ts=r["occurred_at"].timestamp(), connected=True, logged_in=True)
            )
    new: list[tuple[str, Visit]] = [
        (device, visit)
        for device, sightings in per_device.items()
        for visit in sessionise(sightings, rules.rules())
    ]
    old = await conn.fetch(queries.delete_visits_from, m, s, list(since), [since[d] for d in since])
    await conn.execute(queries.insert_visits, m, s, *_visit_columns(new))
    spans = [(r["started_at"], r["ended_at"]) for r in old] + [
        (_at(v.start), _at(v.end)) for _, v in new
    ]
    lo = min((a for a, _ in spans), default=start)
    hi = max((b for _, b in spans), default=end)
    return lo, hi, len(devices), len(new)


def _visit_columns(visits: list[tuple[str, Visit]]) -> list[list[Any]]:
    return [
        [d for d, _ in visits],
        [_at(v.start) for _, v in visits],
        [_at(v.end) for _, v in visits],
        [v.zone for _, v in visits],
        [round(v.dwell) for _, v in visits],
        [v.max_rssi for _, v in visits],
        [v.sightings for _, v in visits],
        [v.entered for _, v in visits],
        [v.visitor for _, v in visits],
        [v.connected for _, v in visits],
        [v.logged_in for _, v in visits],
        [v.randomized for _, v in visits],
    ]


def _at(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


async def _recompute_rollups(
    conn: asyncpg.Connection,
    store: accounts.Store,
    rules: FootfallSettings,
    lo: datetime,
    hi: datetime,
    visits_horizon: datetime,
) -> tuple[int, int]:
    """Recompute the store-local hours and days that [lo, hi] touches; (hours, days)."""
    tz = ZoneInfo(store.timezone)
    first_day = lo.astimezone(tz).date()
    last_day = (hi + OCCUPANCY_REACH).astimezone(tz).date()
    # Only whole days still within visit retention: older rollups stay as they were.
    kept_from = visits_horizon.astimezone(tz).date() + DAY
    first_day = max(first_day, kept_from)
    if first_day > last_day:
        return 0, 0
    h0 = max(local_hour_floor(lo, tz), day_start(first_day, tz))
    # Occupancy at a mark counts the visits of the 10 minutes before it: reach that far on.
    h1 = local_hour_floor(hi + OCCUPANCY_REACH, tz) + HOUR
    args = (store.merchant_id, store.store_id)
    rollup = (store.timezone, rules.bounce, rules.engaged, float(rules.visit_cap))
    await conn.execute(queries.delete_hourly, *args, h0, h1)
    await conn.execute(queries.insert_hourly, *args, h0, h1, *rollup)
    # After the hours: a day's occupancy is read from its hourly rows.
    await conn.execute(queries.delete_daily, *args, first_day, last_day)
    await conn.execute(queries.insert_daily, *args, first_day, last_day, *rollup)
    return round((h1 - h0) / HOUR), (last_day - first_day).days + 1


async def _recompute_login_days(
    conn: asyncpg.Connection, store: accounts.Store, start: datetime, end: datetime
) -> None:
    """The login days (loyalty's input) of the store-local days [start, end) touches, from the
    login events: a late, repeated or erased login leaves them right, as for the rollups."""
    tz = ZoneInfo(store.timezone)
    first_day = start.astimezone(tz).date()
    last_day = max(end - timedelta(microseconds=1), start).astimezone(tz).date()
    args = (store.merchant_id, store.store_id, first_day, last_day)
    await conn.execute(queries.delete_login_days, *args)
    await conn.execute(queries.insert_login_days, *args, store.timezone)


def local_hour_floor(at: datetime, tz: ZoneInfo) -> datetime:
    """The start of the store-local hour containing `at`, in UTC."""
    local = at.astimezone(tz)
    return local.replace(minute=0, second=0, microsecond=0).astimezone(UTC)


def day_start(day: date, tz: ZoneInfo) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=tz).astimezone(UTC)


async def delete_old_visits(db: asyncpg.Pool) -> int:
    """Delete visits past their merchant's retention (footfall_retention, 30 days by default),
    in batches; the rollups stay. The number deleted."""
    total = 0
    while True:
        status = await db.execute(queries.delete_old_visits, DELETE_BATCH)
        deleted = int(status.split()[-1])
        total += deleted
        if deleted < DELETE_BATCH:
            break
    if total:
        log.info("deleted %d footfall visits past retention", total)
    return total


async def rollup_forever(db: asyncpg.Pool) -> None:
    """The controller role's jobs: rollups every ROLLUP_INTERVAL, retention every hour."""
    await asyncio.gather(
        every(ROLLUP_INTERVAL, lambda: run_rollups(db), log, "recompute footfall rollups"),
        every(RETENTION_INTERVAL, lambda: delete_old_visits(db), log, "delete old visits"),
    )


# Rebuild ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RebuildResult:
    store_days: int
    visits: int
    skipped_days: int  # older than visit retention: rollups kept as they were


async def rebuild(
    db: asyncpg.Pool,
    first: date,
    last: date,
    *,
    merchant_id: uuid.UUID | None = None,
    store_id: uuid.UUID | None = None,
    out: TextIO | None = None,
    now: datetime | None = None,
) -> RebuildResult:
    """Recompute visits (where raw observations remain) and rollups of the store-local days
    `first`..`last`, for one store, one merchant's stores, or every store with data."""
    if last < first:
        raise ValueError("--to is before --from")
    now = now or datetime.now(UTC)
    stores = await _stores_to_rebuild(db, first, last, merchant_id, store_id)
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    progress = ProgressBar("rebuild", len(stores) * len(days), out or sys.stderr)
    visits = skipped = 0
    for store in stores:
        tz = ZoneInfo(store.timezone)
        retention = await retention_of(db, store.merchant_id)
        oldest_kept = (now - timedelta(days=retention.visits_days)).astimezone(tz).date() + DAY
        for day in days:
            if day < oldest_kept:
                skipped += 1
            else:
                result = await recompute_locked(
                    db, store, day_start(day, tz), day_start(day + DAY, tz), now=now
                )
                visits += result.visits
            progress.step(f"{progress.done + 1}/{progress.total} {store.name} {day}"[:60])
        log.info("rebuilt footfall of %s (%s) %s..%s", store.name, store.store_id, first, last)
    progress.close()
    return RebuildResult(len(stores) * len(days), visits, skipped)


async def _stores_to_rebuild(
    db: asyncpg.Pool,
    first: date,
    last: date,
    merchant_id: uuid.UUID | None,
    store_id: uuid.UUID | None,
) -> list[accounts.Store]:
    if merchant_id is not None and store_id is not None:
        store = await accounts.get_store(db, merchant_id, store_id)
        return [store] if store else []
    if merchant_id is not None:
        return await accounts.list_stores(db, merchant_id)
    # Any time zone: a day either side covers every store-local day of the range.
    lo = datetime(first.year, first.month, first.day, tzinfo=UTC) - DAY
    hi = datetime(last.year, last.month, last.day, tzinfo=UTC) + 2 * DAY
    found = []
    for row in await db.fetch(queries.stores_with_data, first, last, lo, hi):
        store = await accounts.get_store(db, row["merchant_id"], row["store_id"])
        if store is not None and (store_id is None or store.store_id == store_id):
            found.append(store)
    return found


def add_rebuild_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "rebuild",
        help="recompute footfall visits and rollups of a range of days",
        description="Recompute footfall visits (where raw observations are still kept) and "
        "the hourly and daily rollups of the store-local days FROM..TO (inclusive). Days "
        "whose visits are past retention keep their rollups.",
    )
    parser.add_argument("--from", dest="first", required=True, type=_date, metavar="DATE")
    parser.add_argument("--to", dest="last", required=True, type=_date, metavar="DATE")
    parser.add_argument("--merchant", help="only this merchant's stores (id or exact name)")
    parser.add_argument("--store", help="only this store (id or exact name)")


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


DatabaseOpener = Callable[[Any], contextlib.AbstractAsyncContextManager[asyncpg.Pool]]


def main_rebuild(args: argparse.Namespace) -> int:
    """`portico analytics rebuild`. The composition root may give `args.database`: a function
    of the settings opening the platform's pool (portico.runtime.database); else DATABASE_URL."""
    try:
        return asyncio.run(_main_rebuild(args))
    except RebuildError as exc:
        print(f"portico analytics rebuild: {exc}", file=sys.stderr)
        return 1


class RebuildError(Exception):
    pass


async def _main_rebuild(args: argparse.Namespace) -> int:
    from kernel.config import load_settings

    settings = load_settings()
    opener: DatabaseOpener = args.database  # portico.runtime.database (portico/cli.py)
    if args.last < args.first:
        raise RebuildError("--to is before --from")
    async with opener(settings) as db:
        merchant_id, store_id = await _resolve(db, args.merchant, args.store)
        result = await rebuild(
            db, args.first, args.last, merchant_id=merchant_id, store_id=store_id
        )
    print(
        f"rebuilt {result.store_days} store-days ({result.visits} visits); "
        f"{result.skipped_days} store-days past visit retention kept their rollups"
    )
    return 0


async def _resolve(
    db: asyncpg.Pool, merchant: str | None, store: str | None
) -> tuple[uuid.UUID | None, uuid.UUID | None]:
    if store:
        found = await accounts.find_stores(db, store, merchant)
        if len(found) != 1:
            what = "no store" if not found else f"{len(found)} stores"
            raise RebuildError(f"{what} match --store {store!r}; give its id or --merchant")
        return found[0][0].merchant_id, found[0][0].store_id
    if merchant:
        try:
            return uuid.UUID(merchant), None
        except ValueError:
            merchant_id = await accounts.merchant_named(db, merchant)
        if merchant_id is None:
            raise RebuildError(f"no merchant {merchant!r}")
        return merchant_id, None
    return None, None
