import uuid
from datetime import UTC, datetime, timedelta

import asyncpg

from accounts import services as accounts
from analytics import services as analytics


def test_day_bounds_follow_the_store_calendar_day() -> None:
    # 15:59:59 UTC is 23:59:59 in Shanghai; one second later it is the next day there.
    before = datetime(2025, 3, 1, 15, 59, 59, tzinfo=UTC)
    after = before + timedelta(seconds=1)

    start, end = analytics.day_bounds(before, "Asia/Shanghai")
    next_start, _ = analytics.day_bounds(after, "Asia/Shanghai")

    assert start == datetime(2025, 2, 28, 16, 0, tzinfo=UTC)
    assert end == next_start == datetime(2025, 3, 1, 16, 0, tzinfo=UTC)
    assert analytics.day_bounds(before, "UTC") == analytics.day_bounds(after, "UTC")


def test_day_bounds_on_a_daylight_saving_day_span_23_hours() -> None:
    start, end = analytics.day_bounds(datetime(2025, 3, 9, 12, tzinfo=UTC), "America/New_York")

    assert start == datetime(2025, 3, 9, 5, tzinfo=UTC)  # midnight EST
    assert end == datetime(2025, 3, 10, 4, tzinfo=UTC)  # midnight EDT
    # Same-zone subtraction is wall-clock time; the real length shows in UTC.
    assert end.astimezone(UTC) - start.astimezone(UTC) == timedelta(hours=23)


async def test_logins_today_counts_each_store_in_its_own_day(db: asyncpg.Pool) -> None:
    merchant = await accounts.create_merchant(db, "Two zones")
    shanghai = await accounts.create_store(db, merchant, "Shanghai", "Asia/Shanghai")
    london = await accounts.create_store(db, merchant, "London", "Europe/London")
    quiet = await accounts.create_store(db, merchant, "Quiet", "Asia/Shanghai")
    now = datetime(2025, 6, 1, 17, 0, tzinfo=UTC)  # 01:00 on 2 June in Shanghai, 18:00 in London
    for store in (shanghai, london):
        for minute, device in ((15 * 60 + 30, "a"), (16 * 60 + 30, "b"), (16 * 60 + 40, "b")):
            occurred = datetime(2025, 6, 1, tzinfo=UTC) + timedelta(minutes=minute)
            await analytics.record_event(
                db, merchant, "login", store_id=store, device_hash=device, occurred_at=occurred
            )

    zones = {s.store_id: s.timezone for s in await accounts.list_stores(db, merchant)}
    today = await analytics.logins_today(db, merchant, zones, now)

    # 15:30 UTC is still 1 June in Shanghai (yesterday there at `now`), but today in London.
    assert (today[shanghai].logins, today[shanghai].devices) == (2, 1)
    assert (today[london].logins, today[london].devices) == (3, 2)
    assert today[london].last_login == datetime(2025, 6, 1, 16, 40, tzinfo=UTC)
    assert today[quiet] == analytics.StoreLogins(quiet, 0, 0, None)


async def test_logins_today_ignores_other_merchants(db: asyncpg.Pool) -> None:
    merchant = await accounts.create_merchant(db, "Mine")
    store = await accounts.create_store(db, merchant, "Store")
    other = await accounts.create_merchant(db, "Theirs")
    now = datetime.now(UTC)
    # An event filed under another merchant with my store id must not leak into my counts.
    await analytics.record_event(db, other, "login", store_id=store, device_hash="x")

    today = await analytics.logins_today(db, merchant, {store: "Asia/Shanghai"}, now)

    assert today[store].logins == 0
    assert await analytics.logins_today(db, uuid.uuid4(), {}, now) == {}


async def test_returning_shoppers_came_back_by_login_or_as_a_visitor_within_the_span(
    db: asyncpg.Pool,
) -> None:
    merchant = await accounts.create_merchant(db, "Returns")
    store = await accounts.create_store(db, merchant, "Store")
    other = await accounts.create_merchant(db, "Elsewhere")
    other_store = await accounts.create_store(db, other, "Store")
    moment = datetime(2025, 6, 1, 4, 0, tzinfo=UTC)
    window = timedelta(days=7)
    await analytics.record_event(
        db, merchant, "login", store_id=store, device_hash="login", occurred_at=moment + window / 2
    )
    await analytics.record_event(
        db, merchant, "login", store_id=store, device_hash="both", occurred_at=moment
    )
    visits = (  # (merchant, store, device, after the moment, as a visitor)
        (merchant, store, "visit", timedelta(hours=1), True),  # from the hour on: counts
        (merchant, store, "both", timedelta(days=2), True),
        (merchant, store, "passer", timedelta(days=2), False),  # walked past: not a return
        (merchant, store, "same-visit", timedelta(minutes=59), True),
        (merchant, store, "too-late", window, True),
        (other, other_store, "elsewhere", timedelta(days=2), True),
    )
    for merchant_id, store_id, device, after, visitor in visits:
        await db.execute(
            """INSERT INTO footfall_visits (merchant_id, store_id, device_hash, started_at,
               ended_at, zone, dwell, max_rssi, sightings, entered, visitor, connected,
               logged_in, randomized)
               VALUES ($1, $2, $3, $4, $4, 'ap-1', 0, -60, 1, true, $5, false, false, false)""",
            merchant_id,
            store_id,
            device,
            moment + after,
            visitor,
        )
    devices = ("login", "visit", "both", "passer", "same-visit", "too-late", "elsewhere", "none")
    asked = [(merchant, device, moment) for device in devices]

    came_back = await analytics.returning_shoppers(db, asked, window)

    assert came_back == {(merchant, device, moment) for device in ("login", "visit", "both")}
