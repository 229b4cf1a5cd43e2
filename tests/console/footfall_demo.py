"""Weeks of realistic footfall for the dashboards' browser test and screenshots.

The people come from simulators/shoppers.py (its `Truth`: who was at the store when); each
visit becomes the observations ingest would have stored for it (analytics/ingest.py: a keyed
hash per device, a sighting a minute, RSSI inside or outside the storefront), logins become
portal login events, and helper C's rollup job (analytics/rollups.py) computes the rest — the
same tables and functions as production, without the radio layer (the accuracy and ingest
tests cover that). Staff and fixed devices are left out, as ingest filters them.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import asyncpg

from accounts import services as accounts
from analytics import services as analytics
from analytics.rollups import mark_dirty
from simulators.shoppers import StoreProfile, simulate
from tests.analytics.footfall_streams import device, settle

SIGHTING = 60  # seconds between a shopper's sightings
PASSING = 20  # seconds between a passer-by's sightings
COLUMNS = (
    "merchant_id",
    "store_id",
    "zone",
    "seen_at",
    "device_hash",
    "source",
    "rssi",
    "randomized",
)


def _day_bounds(day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    start = datetime(day.year, day.month, day.day, tzinfo=tz)
    return start.astimezone(UTC), (start + timedelta(days=1)).astimezone(UTC)


async def seed_day(
    db: asyncpg.Pool,
    store: accounts.Store,
    profile: StoreProfile,
    day: date,
    now: datetime,
    seed: int = 7,
) -> int:
    """One store-local day (up to `now`) of `profile` at `store`; the visits written."""
    start, end = _day_bounds(day, ZoneInfo(store.timezone))
    end = min(end, now)
    if end <= start:
        return 0
    _frames, truth = simulate(profile, start, end, seed)
    rng = random.Random(f"{seed}:{store.store_id}:{day}")
    rows: dict[tuple[str, str, datetime], tuple[object, ...]] = {}
    visits = 0
    for visit in truth.visits:
        if visit.kind not in ("shopper", "passer_by"):
            continue
        visits += 1
        stable = visit.logged_in or (visit.assoc_mac is not None and visit.kind == "shopper")
        who = device(visit.person if stable else f"{visit.person}:{day}:{visit.start}")
        step = SIGHTING if visit.inside else PASSING
        at = visit.start
        while at <= visit.end:
            seen = datetime.fromtimestamp(int(at), UTC)
            rssi = rng.randint(-66, -50) if visit.inside else rng.randint(-84, -72)
            source = "assoc" if stable else "probe"
            rows[(visit.zone, who, seen)] = (
                store.merchant_id,
                store.store_id,
                visit.zone,
                seen,
                who,
                source,
                rssi,
                not stable,
            )
            at += step
    async with db.acquire() as conn, conn.transaction():
        for utc_day in {start.date(), (end - timedelta(seconds=1)).date()}:
            await conn.execute("SELECT footfall_ensure_partition($1)", utc_day)
        await conn.copy_records_to_table(
            "footfall_observations", records=list(rows.values()), columns=COLUMNS
        )
        for login in truth.logins:
            await analytics.record_event(
                conn,
                store.merchant_id,
                "login",
                store_id=store.store_id,
                device_hash=device(login.person),
                data={"method": "sms"},
                occurred_at=datetime.fromtimestamp(login.ts, UTC),
            )
        await mark_dirty(conn, store.merchant_id, store.store_id, start, end)
    await settle(db, min(end + timedelta(hours=1), now))
    return visits


async def seed_days(
    db: asyncpg.Pool,
    store: accounts.Store,
    profile: StoreProfile,
    days: int,
    now: datetime,
    seed: int = 7,
) -> int:
    """The `days` store-local days up to and including today (until `now`)."""
    today = now.astimezone(ZoneInfo(store.timezone)).date()
    total = 0
    for back in range(days - 1, -1, -1):
        total += await seed_day(db, store, profile, today - timedelta(days=back), now, seed)
    return total
