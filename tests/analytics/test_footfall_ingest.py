"""The privacy step of footfall (analytics.ingest, kernel.privacy.probe_hash): raw sightings
become hashed observations; multicast, weak, staff and fixed devices are dropped; long stays
are found; station joins and leaves become presence; and no raw MAC reaches any table."""

from __future__ import annotations

import re
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import asyncpg

from accounts import services as accounts
from analytics.capture import Frame
from analytics.ingest import (
    LONG_STAY_SECONDS,
    STATION_CAP,
    FootfallIngest,
    Sighting,
    _Store,
    list_fixed_device,
    probe_sighting,
    unlist_fixed_device,
)
from kernel.privacy import device_hash, probe_hash
from tests.analytics.raw_macs import tables_holding
from tests.clock import clear_of_midnight

SECRET = "test-secret-" + "x" * 40
ZONE = "ap-ingest"


async def utc_store(db: asyncpg.Pool) -> tuple[uuid.UUID, uuid.UUID]:
    """A merchant with one store on UTC (its local day is the UTC day)."""
    tag = uuid.uuid4().hex[:8]
    merchant_id = await accounts.create_merchant(db, f"Ingest {tag}")
    store_id = await accounts.create_store(db, merchant_id, f"Shop {tag}", "UTC")
    return merchant_id, store_id


def mac(prefix: str, n: int) -> str:
    """A MAC unique to this test run: `prefix` its first octet."""
    tail = uuid.uuid4().bytes[:4]
    return ":".join([prefix, f"{n:02x}", *(f"{b:02x}" for b in tail)])


async def rows_of(db: asyncpg.Pool, merchant_id: uuid.UUID) -> list[asyncpg.Record]:
    return await db.fetch(
        "SELECT * FROM footfall_observations WHERE merchant_id = $1 ORDER BY seen_at, device_hash",
        merchant_id,
    )


def test_probe_hash_rotates_daily_per_store_and_looks_like_device_hash() -> None:
    m, s, other = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
    day = date(2026, 11, 30)
    phone = "da:a1:19:00:00:01"
    hashed = probe_hash(SECRET, m, s, day, phone)
    assert re.fullmatch(r"[0-9a-f]{32}", hashed)
    assert len(hashed) == len(device_hash(SECRET, m, phone))
    assert hashed == probe_hash(SECRET, m, s, day, phone)  # stable within the day and store
    assert (
        len(
            {
                hashed,
                probe_hash(SECRET, m, s, day + timedelta(days=1), phone),
                probe_hash(SECRET, m, other, day, phone),
                probe_hash(SECRET, str(uuid.uuid4()), s, day, phone),
                probe_hash("another-secret" + "y" * 40, m, s, day, phone),
                device_hash(SECRET, m, phone),
            }
        )
        == 6
    )


async def test_sightings_become_hashed_flagged_observations(db: asyncpg.Pool) -> None:
    merchant_id, store_id = await utc_store(db)
    ingest = FootfallIngest(SECRET)
    # one UTC day from t to t + 10 (the store's): the probe hash is salted per day
    t = float(int(clear_of_midnight(time.time(), 120)) - 120)
    first, rotated = mac("da", 1), mac("de", 2)  # one phone changing its random MAC
    laptop = mac("00", 3)  # a global (manufacturer) address
    associated = mac("d6", 4)
    multicast, weak = mac("01", 5), mac("02", 6)
    sightings = [
        probe_sighting(ZONE, first, t, -60, 100, 0xABCD0001),
        probe_sighting(ZONE, rotated, t + 5, -61, 103, 0xABCD0001),
        probe_sighting(ZONE, laptop, t + 6, -70, 7, 0x12345678),
        Sighting(ZONE, associated, t + 7, -55, "assoc"),
        probe_sighting(ZONE, multicast, t + 8, -50, 9, 1),
        probe_sighting(ZONE, weak, t + 9, -86, 10, 2),
        Sighting(ZONE, "ff:ff:ff:ff:ff:ff", t + 10, -40, "assoc"),
    ]
    async with db.acquire() as conn:
        result = await ingest.record(conn, merchant_id, store_id, sightings)
    assert result.inserted == 4
    assert ingest.counts["dropped_multicast"] == 2 and ingest.counts["dropped_weak"] == 1
    day = datetime.fromtimestamp(t, UTC).date()
    m, s = str(merchant_id), str(store_id)
    got = [
        (r["seen_at"].timestamp(), r["device_hash"], r["source"], r["rssi"], r["randomized"])
        for r in await rows_of(db, merchant_id)
    ]
    assert got == [
        (t, probe_hash(SECRET, m, s, day, first), "probe", -60, True),
        (t + 5, probe_hash(SECRET, m, s, day, first), "probe", -61, True),  # de-duplicated
        (t + 6, probe_hash(SECRET, m, s, day, laptop), "probe", -70, False),
        (t + 7, device_hash(SECRET, m, associated), "assoc", -55, True),
    ]
    assert await tables_holding(db, [first, rotated, laptop, associated, multicast, weak]) == {}


async def test_listed_fixed_devices_are_dropped(db: asyncpg.Pool) -> None:
    merchant_id, store_id = await utc_store(db)
    till, shopper = mac("00", 1), mac("00", 2)
    hashed = await list_fixed_device(db, SECRET, merchant_id, store_id, till.upper())
    assert hashed == device_hash(SECRET, str(merchant_id), till)
    ingest = FootfallIngest(SECRET)
    t = float(int(time.time()) - 60)
    async with db.acquire() as conn:
        await ingest.record(
            conn,
            merchant_id,
            store_id,
            [
                probe_sighting(ZONE, till, t, -40, 1, 7),
                Sighting(ZONE, till, t + 1, -40, "assoc"),
                probe_sighting(ZONE, shopper, t + 2, -60, 1, 8),
            ],
        )
    assert ingest.counts["dropped_fixed"] == 2
    assert len(await rows_of(db, merchant_id)) == 1
    assert await tables_holding(db, [till, shopper]) == {}
    # Off the list: counted again (by an ingest whose store cache is fresh).
    assert await unlist_fixed_device(db, SECRET, merchant_id, store_id, till) is True
    assert await unlist_fixed_device(db, SECRET, merchant_id, store_id, till) is False
    async with db.acquire() as conn:
        await FootfallIngest(SECRET).record(
            conn, merchant_id, store_id, [probe_sighting(ZONE, till, t + 3, -40, 2, 7)]
        )
    assert len(await rows_of(db, merchant_id)) == 2


def long_stay_start(now: float) -> float:
    """A start for 6.7 h of presence within one UTC day and the last 24 h."""
    at = datetime.fromtimestamp(now, UTC)
    midnight = at.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()
    return now - 6.9 * 3600 if at.hour >= 7 else midnight - 7.5 * 3600


async def test_a_device_seen_over_6h_on_3_of_7_days_becomes_fixed(db: asyncpg.Pool) -> None:
    merchant_id, store_id = await utc_store(db)
    staff = mac("00", 9)
    stable = device_hash(SECRET, str(merchant_id), staff)
    start = long_stay_start(time.time())
    day = datetime.fromtimestamp(start, UTC).date()
    # Long stays on two earlier days of the week (as earlier runs of ingest wrote them).
    for back in (2, 5):
        await db.execute(
            "INSERT INTO footfall_long_stays VALUES ($1, $2, $3, $4, 25000)",
            merchant_id,
            store_id,
            day - timedelta(days=back),
            stable,
        )
    ingest = FootfallIngest(SECRET)
    # A probe a minute for 6.7 h, with a 21-minute gap that does not count as presence.
    times = [start + 60 * i for i in range(int(6.7 * 60)) if not 100 <= i < 120]
    sightings = [probe_sighting(ZONE, staff, ts, -50, i % 4096, 5) for i, ts in enumerate(times)]
    async with db.acquire() as conn:
        for chunk in range(0, len(sightings), 50):
            await ingest.record(conn, merchant_id, store_id, sightings[chunk : chunk + 50])
    stays = await db.fetch(
        "SELECT day, seconds FROM footfall_long_stays WHERE merchant_id = $1 ORDER BY day",
        merchant_id,
    )
    assert [s["day"] for s in stays] == [day - timedelta(days=5), day - timedelta(days=2), day]
    assert LONG_STAY_SECONDS < stays[-1]["seconds"] <= 6.7 * 3600 - 21 * 60
    fixed = await db.fetch(
        "SELECT device_hash, reason FROM footfall_fixed_devices WHERE merchant_id = $1",
        merchant_id,
    )
    assert [(f["device_hash"], f["reason"]) for f in fixed] == [(stable, "detected")]
    assert len(await rows_of(db, merchant_id)) == len(sightings)
    # From the batch after the one that made it fixed on, its observations are dropped.
    later = [probe_sighting(ZONE, staff, times[-1] + 60 * i, -50, i, 5) for i in range(1, 11)]
    async with db.acquire() as conn:
        await ingest.record(conn, merchant_id, store_id, later)
    assert ingest.counts["dropped_fixed"] == 10
    assert len(await rows_of(db, merchant_id)) == len(sightings)
    assert await tables_holding(db, [staff]) == {}


async def test_a_device_on_2_days_only_is_not_fixed(db: asyncpg.Pool) -> None:
    merchant_id, store_id = await utc_store(db)
    staff = mac("00", 10)
    start = long_stay_start(time.time())
    ingest = FootfallIngest(SECRET)
    sightings = [probe_sighting(ZONE, staff, start + 60 * i, -50, i, 5) for i in range(400)]
    async with db.acquire() as conn:
        await ingest.record(conn, merchant_id, store_id, sightings)
    assert (
        await db.fetchval(
            "SELECT count(*) FROM footfall_long_stays WHERE merchant_id = $1", merchant_id
        )
        == 1
    )
    assert (
        await db.fetchval(
            "SELECT count(*) FROM footfall_fixed_devices WHERE merchant_id = $1", merchant_id
        )
        == 0
    )
    assert len(await rows_of(db, merchant_id)) == 400


def test_randomised_probers_are_not_tracked_for_long_stays() -> None:
    ingest = FootfallIngest(SECRET, tracker_factory=lambda: _Own())
    store = _fresh_store()
    phone = mac("da", 11)
    rows, stays = ingest._rows(
        uuid.uuid4(),
        uuid.uuid4(),
        store,
        [probe_sighting(ZONE, phone, 1_764_000_000 + 60 * i, -50, i, 5) for i in range(400)],
    )
    assert len(rows) == 400 and stays == [] and store.stays == {}


class _Own:
    """A tracker that keeps each MAC apart (the real one is tested in test_probers)."""

    def assign(self, frame: Frame) -> str:
        return frame.src


def _fresh_store() -> _Store:
    """The ingest's private per-store state, for a store on UTC."""
    return _Store(ZoneInfo("UTC"), set(), time.monotonic())


def test_station_join_and_leave_fill_presence_every_5_minutes() -> None:
    ingest = FootfallIngest(SECRET)
    phone = mac("da", 12)
    t = 1_764_000_000.0
    assert [s.ts for s in ingest.station_event(ZONE, phone, t, "join", -60)] == [t]
    leave = ingest.station_event(ZONE, phone, t + 1800, "leave", -70)
    assert [s.ts - t for s in leave] == [0, 300, 600, 900, 1200, 1500, 1800]
    assert {s.source for s in leave} == {"assoc"} and leave[1].rssi == -60
    assert leave[-1].rssi == -70
    # The leave comes again (redelivered): the same sightings, stored once.
    assert ingest.station_event(ZONE, phone, t + 1800, "leave", -70) == leave
    # A leave whose join was not seen here: the leave alone.
    other = mac("da", 13)
    assert [s.ts for s in ingest.station_event(ZONE, other, t, "leave", None)] == [t]
    # Presence is filled in for 12 h at most.
    ingest.station_event(ZONE, other, t, "join", -50)
    long = ingest.station_event(ZONE, other, t + 20 * 3600, "leave", -50)
    assert long[0].ts == t + 20 * 3600 - STATION_CAP and len(long) == STATION_CAP // 300 + 1
