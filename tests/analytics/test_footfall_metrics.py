"""Each footfall metric on a crafted event stream with a known answer (analytics/metrics.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import asyncpg
import pytest

from accounts import services as accounts
from analytics import metrics
from analytics.metrics import Scope, median_of_histogram
from analytics.occupancy import Calibration
from analytics.settings import InvalidFootfallSetting, set_occupancy_calibration, update_settings
from tests.analytics.footfall_streams import every, local, login, new_store, observe, settle

MIN = timedelta(minutes=1)
DAY_ = (datetime.now(UTC) - timedelta(days=2)).date()
NOW = local(DAY_, 23)


def scope(
    store: accounts.Store,
    first: date = DAY_,
    last: date = DAY_,
    zone: str = "",
    granularity: str = "day",
) -> Scope:
    return Scope(store.merchant_id, (store,), zone, first, last, granularity)


async def morning(
    db: asyncpg.Pool, store: accounts.Store, day: date = DAY_, visitors: int = 12
) -> None:
    """`visitors` visitors 10:00-10:30 in zone ap-1 (every 2 min at -60 dBm); 15 passers-by at
    10:05 and 10:06 (-80 dBm) in ap-2, 5 of them with random MACs."""
    for i in range(visitors):
        await observe(db, store, f"v{i}", every(local(day, 10), local(day, 10, 30), 2 * MIN))
    for i in range(15):
        times = [local(day, 10, 5), local(day, 10, 6)]
        await observe(db, store, f"p{i}", times, rssi=-80, zone="ap-2", randomized=i < 5)


@pytest.fixture(scope="module")
async def shop(db: asyncpg.Pool) -> accounts.Store:
    """One store with a known history: DAY_ the morning above; the day before 11 visitors
    (v0..v10, who come back on DAY_: returning) and 15 passers-by (new hashes each day in
    real life; here the same, but passers-by are never counted as returning)."""
    store = await new_store(db)
    await morning(db, store)
    await morning(db, store, DAY_ - timedelta(days=1), visitors=11)
    await settle(db, NOW)
    return store


async def test_summary(db: asyncpg.Pool, shop: accounts.Store) -> None:
    result = await metrics.summary(db, scope(shop))

    assert result["values"] == {
        "detected": 27,
        "passers_by": 15,
        "visitors": 12,
        "connected": 0,
        "capture_rate": round(12 / 27, 4),
        "visits": 12,
        "median_dwell": 1800,
        "mean_dwell": 1800,
        "bounce_rate": 0.0,
        "engaged_rate": 1.0,
        # v0..v10 came the day before too: 11 of 12 visits are returning.
        "returning_share": round(11 / 12, 4),
        "randomized_share": None,  # 5 random-MAC devices: under 10, suppressed
    }
    assert result["suppressed"] == ["randomized_share"]


async def test_summary_of_two_days_sums_daily_devices(
    db: asyncpg.Pool, shop: accounts.Store
) -> None:
    values = (await metrics.summary(db, scope(shop, DAY_ - timedelta(days=1))))["values"]

    assert (values["detected"], values["visitors"], values["visits"]) == (27 + 26, 23, 23)
    assert values["randomized_share"] == round(10 / 53, 4)


async def test_summary_of_a_zone(db: asyncpg.Pool, shop: accounts.Store) -> None:
    one = (await metrics.summary(db, scope(shop, zone="ap-1")))["values"]
    two = (await metrics.summary(db, scope(shop, zone="ap-2")))["values"]

    assert (one["detected"], one["visitors"], one["passers_by"]) == (12, 12, 0)
    assert (two["detected"], two["visitors"], two["passers_by"], two["visits"]) == (15, 0, 15, 0)
    assert two["median_dwell"] is None


async def test_trend_by_day_against_the_previous_period(
    db: asyncpg.Pool, shop: accounts.Store
) -> None:
    result = await metrics.trend(db, scope(shop), "visits")

    assert result["series"] == [
        {
            "period": DAY_.isoformat(),
            "value": 12,
            "previous_period": (DAY_ - timedelta(days=1)).isoformat(),
            "previous": 11,
        }
    ]
    assert (result["previous_from"], result["previous_to"]) == (
        (DAY_ - timedelta(days=1)).isoformat(),
    ) * 2


async def test_trend_by_hour_and_by_week(db: asyncpg.Pool, shop: accounts.Store) -> None:
    hours = await metrics.trend(db, scope(shop, granularity="hour"), "detected")
    weeks = await metrics.trend(
        db, scope(shop, DAY_ - timedelta(days=13), DAY_, granularity="week"), "visits"
    )

    assert len(hours["series"]) == 24
    ten = hours["series"][10]
    assert ten["period"] == f"{DAY_.isoformat()}T10:00"
    assert (ten["value"], ten["previous"]) == (27, 26)
    assert [p["value"] for p in hours["series"][:10]] == [0] * 10
    by_week = {p["period"]: p["value"] for p in weeks["series"]}
    monday = DAY_ - timedelta(days=DAY_.weekday())
    yesterday_monday = (DAY_ - timedelta(days=1)) - timedelta(
        days=(DAY_ - timedelta(days=1)).weekday()
    )
    assert sum(v for v in by_week.values()) == 23
    assert by_week[monday.isoformat()] == (12 if monday != yesterday_monday else 23)


async def test_a_rate_trend_is_suppressed_under_ten(db: asyncpg.Pool, shop: accounts.Store) -> None:
    result = await metrics.trend(db, scope(shop), "randomized_share")

    assert result["series"][0]["value"] is None
    assert result["suppressed"] == [
        f"{DAY_.isoformat()}.randomized_share",
        f"{(DAY_ - timedelta(days=1)).isoformat()}.randomized_share",
    ]


async def test_dwell_buckets(db: asyncpg.Pool, shop: accounts.Store) -> None:
    result = await metrics.dwell(db, scope(shop))

    assert result["values"] == {
        "5-20m": 0,
        "20-60m": 12,
        "1-6h": 0,
        "6h+": 0,
        "bounce_rate": 0.0,
        "engaged_rate": 1.0,
    }


async def test_heatmap_and_peak_hour(db: asyncpg.Pool, shop: accounts.Store) -> None:
    result = await metrics.heatmap(db, scope(shop, DAY_ - timedelta(days=1)))

    grid = result["values"]["visits"]
    assert grid[DAY_.weekday()][10] == 12
    assert grid[(DAY_ - timedelta(days=1)).weekday()][10] == 11
    assert sum(v or 0 for row in grid for v in row) == 23
    assert result["values"]["peak_hour"] == 10
    assert result["values"]["peak_hour_visits"] == 23
    assert result["values"]["peak_weekday_hour"] == [DAY_.weekday(), 10]


async def test_the_peak_hours_total_does_not_give_away_a_hidden_cell(db: asyncpg.Pool) -> None:
    store = await new_store(db)
    await morning(db, store, visitors=12)
    await morning(db, store, DAY_ - timedelta(days=1), visitors=3)  # a cell under 10
    await settle(db, NOW)

    result = await metrics.heatmap(db, scope(store, DAY_ - timedelta(days=1)))

    values = result["values"]
    assert values["visits"][(DAY_ - timedelta(days=1)).weekday()][10] is None
    assert values["visits"][DAY_.weekday()][10] == 12
    assert values["peak_hour"] == 10
    assert values["peak_hour_visits"] is None  # 15 less the shown 12 would be the hidden 3
    assert "peak_hour_visits" in result["suppressed"]


async def test_occupancy_now_against_the_usual(db: asyncpg.Pool) -> None:
    store = await new_store(db)
    await morning(db, store)
    # The same weekday one and two weeks before: 24 devices all through 10:00-11:00.
    for weeks in (1, 2):
        day = DAY_ - timedelta(weeks=weeks)
        for i in range(24):
            await observe(
                db, store, f"w{weeks}-{i}", every(local(day, 10), local(day, 10, 55), 5 * MIN)
            )
    await settle(db, NOW)

    uncalibrated = await metrics.occupancy(db, scope(store), now=local(DAY_, 10, 20))
    await set_occupancy_calibration(
        db,
        store.merchant_id,
        store.store_id,
        Calibration(w_random=2.0, w_static=1.0, intercept=0.5),
    )

    result = await metrics.occupancy(db, scope(store), now=local(DAY_, 10, 20))

    assert uncalibrated["values"]["people_now"] is None
    values = result["values"]
    # The estimator's last complete window, 10:15-10:20, smoothed with its neighbours: the 12
    # visitors (static MACs, -60 dBm) in each; the passers-by are below its RSSI threshold.
    assert values["people_now"] == 12 * 1.0 + 0.5
    # Seen in the last 10 minutes at 10:20: the 12 visitors (the passers-by left at 10:06).
    assert values["now"] == 12
    assert values["usual"] == 12.0  # (24 + 24 + 0 + 0) / 4 weeks
    ten = next(p for p in values["series"] if p["period"].startswith(f"{DAY_.isoformat()}T10:00"))
    assert (ten["average"], ten["peak"]) == (round(153 / 12, 1), 27)
    assert values["at"] == local(DAY_, 10, 20).isoformat(timespec="seconds")


async def test_occupancy_of_a_quiet_store_is_suppressed(db: asyncpg.Pool) -> None:
    store = await new_store(db)
    await observe(db, store, "lonely", every(local(DAY_, 9), local(DAY_, 9, 30), 2 * MIN))
    await settle(db, NOW)

    result = await metrics.occupancy(db, scope(store), now=local(DAY_, 9, 20))

    assert result["values"]["now"] is None
    assert "now" in result["suppressed"]


async def test_loyalty_classes_from_logins(db: asyncpg.Pool) -> None:
    store = await new_store(db)
    plans = {
        "daily": [0, 1, 2, 3, 4],  # days before DAY_ with a login
        "weekly": [0, 7, 14],
        "first": [0],
        "monthly": [0, 40],
        "biweekly": [0, 14],
    }
    sizes = {"daily": 10, "weekly": 10, "first": 11, "monthly": 10, "biweekly": 3}
    for plan, days_before in plans.items():
        for i in range(sizes[plan]):
            for back in days_before:
                await login(db, store, f"{plan}{i}", local(DAY_ - timedelta(days=back), 12))
    # Logged in before the period only: not a shopper of the period.
    await login(db, store, "gone", local(DAY_ - timedelta(days=3), 12))
    await settle(db, NOW)

    result = await metrics.loyalty(db, scope(store))

    assert result["values"] == {
        "first_time": 11,
        "daily": 10,
        "weekly": 10,
        "biweekly": None,
        "monthly": 10,
        "shoppers": None,  # 44 less the shown classes would give away the hidden 3
    }
    assert result["suppressed"] == ["biweekly", "shoppers"]


async def test_store_comparison(db: asyncpg.Pool, shop: accounts.Store) -> None:
    second = await accounts.create_store(db, shop.merchant_id, "Small shop", "Europe/London")
    small = await accounts.get_store(db, shop.merchant_id, second)
    assert small is not None
    for i in range(3):
        at = local(DAY_, 14, tz="Europe/London")
        await observe(db, small, f"s{i}", every(at, at + 20 * MIN, 2 * MIN))
    await settle(db, NOW)

    result = await metrics.stores(db, Scope(shop.merchant_id, (shop, small), "", DAY_, DAY_))

    big, little = result["series"]
    assert (big["name"], big["passers_by"]) == (shop.name, 15)
    assert (little["name"], little["timezone"], little["visits"], little["median_dwell"]) == (
        "Small shop",
        "Europe/London",
        None,
        None,
    )
    assert f"{second}.visits" in result["suppressed"]
    everything = await metrics.summary(db, Scope(shop.merchant_id, (shop, small), "", DAY_, DAY_))
    assert everything["values"]["visits"] == 15
    # 15 less a shown 12 would give the small shop's 3 away: the big shop's visits (and
    # visitors, detected) are hidden too, and the rates that would give them back.
    assert (big["visits"], big["visitors"], big["detected"]) == (None, None, None)
    assert big["capture_rate"] is None and f"{shop.store_id}.visits" in result["suppressed"]


def test_the_median_dwell_is_the_lower_edge_of_the_median_visits_bin() -> None:
    counts = [0] * 133
    counts[3] = 2  # 3-4 min
    counts[30] = 1  # 30-31 min
    counts[60 + 12] = 2  # 2 h - 2 h 05
    assert median_of_histogram(counts) == (1800, 5)
    counts[132] = 2  # 12 h
    assert median_of_histogram(counts) == (3600 + 12 * 300, 7)
    assert median_of_histogram([0] * 133) == (None, 0)


async def test_the_median_dwell_outlives_the_visits(db: asyncpg.Pool) -> None:
    store = await new_store(db)
    await morning(db, store)
    await settle(db, NOW)
    await db.execute("DELETE FROM footfall_visits WHERE merchant_id = $1", store.merchant_id)

    values = (await metrics.summary(db, scope(store)))["values"]

    assert (values["visits"], values["median_dwell"]) == (12, 1800)


async def test_a_stricter_inside_threshold_changes_who_is_a_visitor(db: asyncpg.Pool) -> None:
    store = await new_store(db)
    await update_settings(db, store.merchant_id, store.store_id, inside_rssi=-55)
    await morning(db, store)  # the visitors at -60 dBm are outside now
    await settle(db, NOW)

    values = (await metrics.summary(db, scope(store)))["values"]

    assert (values["visitors"], values["passers_by"], values["visits"]) == (0, 27, 0)


async def test_settings_are_checked(db: asyncpg.Pool) -> None:
    store = await new_store(db)
    for bad in ({"inside_rssi": 5}, {"visit_gap": 10}, {"bogus": 1}, {"bounce": True}):
        with pytest.raises(InvalidFootfallSetting):
            await update_settings(db, store.merchant_id, store.store_id, **bad)
    with pytest.raises(InvalidFootfallSetting, match="below detected"):
        await update_settings(db, store.merchant_id, store.store_id, inside_rssi=-90)
    with pytest.raises(InvalidFootfallSetting, match="finite"):
        await set_occupancy_calibration(
            db, store.merchant_id, store.store_id, Calibration(float("nan"), 1.0, 0.0)
        )
