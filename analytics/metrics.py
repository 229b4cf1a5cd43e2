"""Footfall metrics (PRODUCT.md §3; docs/footfall-metrics.md) read from the rollups.

Each function takes a `Scope` (the merchant, one store or several, a zone, a range of
store-local days) and returns JSON-ready values with the names of the cells suppressed:
a count of 1 to 9 devices or visits, and any rate or median computed from one, is replaced by
None (PRODUCT.md §3 privacy: report cells under 10 devices are suppressed; 0 is shown).
Device counts over more than one day are sums of daily distinct counts (device-days): probe
hashes rotate daily, so the same phone cannot be recognised across days anyway.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

from accounts.services import Store
from analytics import occupancy as estimator
from analytics.settings import occupancy_calibration
from kernel.sql import load_queries

queries = load_queries(__file__, "footfall.sql")

SUPPRESS_BELOW = 10
GRANULARITIES = ("hour", "day", "week", "month")
COUNTS = (
    "detected",
    "passers_by",
    "visitors",
    "connected",
    "randomized",
    "visits",
    "entries",
    "bounces",
    "engaged",
    "dwell_5_20",
    "dwell_20_60",
    "dwell_60_360",
    "dwell_360_plus",
    "dwell_sum",
    "returning_visits",
    "new_visits",
)
# Each rate: numerator, denominator (both counts, suppressed with either).
RATES = {
    "capture_rate": ("visitors", "detected"),
    "bounce_rate": ("bounces", "entries"),
    "engaged_rate": ("engaged", "entries"),
    "returning_share": ("returning_visits", "visits"),
    "randomized_share": ("randomized", "detected"),
}
SUMMARY = (
    "detected",
    "passers_by",
    "visitors",
    "connected",
    "capture_rate",
    "visits",
    "median_dwell",
    "mean_dwell",
    "bounce_rate",
    "engaged_rate",
    "returning_share",
    "randomized_share",
)
MEASURES = (*COUNTS, *RATES, "mean_dwell")
DWELL_BUCKETS = {
    "5-20m": "dwell_5_20",
    "20-60m": "dwell_20_60",
    "1-6h": "dwell_60_360",
    "6h+": "dwell_360_plus",
}
LOYALTY_CLASSES = ("first_time", "daily", "weekly", "biweekly", "monthly")
LOYALTY_LOOKBACK_DAYS = 56  # login history before the period that classifies a shopper
USUAL_WEEKS = 4  # "the usual": the mean of the same weekday and hour over this many weeks
OCCUPANCY_WINDOW = timedelta(minutes=10)
OCCUPANCY_HOURS = 24


@dataclass(frozen=True)
class Scope:
    """What a metric is about. `stores`: the merchant's stores asked for (one, or all);
    `zone`: '' for whole stores; `first`..`last`: store-local days, inclusive."""

    merchant_id: uuid.UUID
    stores: tuple[Store, ...]
    zone: str
    first: date
    last: date
    granularity: str = "day"

    @property
    def store_ids(self) -> list[uuid.UUID]:
        return [s.store_id for s in self.stores]

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    def previous(self) -> Scope:
        """The period of the same length just before this one."""
        length = timedelta(days=self.days)
        return Scope(
            self.merchant_id,
            self.stores,
            self.zone,
            self.first - length,
            self.last - length,
            self.granularity,
        )


class Suppressed:
    """Collects the names of suppressed cells while values are made safe to show."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def count(self, name: str, value: int) -> int | None:
        if 0 < value < SUPPRESS_BELOW:
            self.names.append(name)
            return None
        return value

    def derived(self, name: str, value: float | None, *basis: int) -> float | None:
        if any(0 < b < SUPPRESS_BELOW for b in basis):
            self.names.append(name)
            return None
        return value


def _rate(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def present(
    totals: dict[str, int], fields: Iterable[str], hide: Suppressed, prefix: str = ""
) -> dict[str, Any]:
    """The requested fields of a row of summed counts, computed and suppressed."""
    out: dict[str, Any] = {}
    for name in fields:
        label = f"{prefix}{name}"
        if name in RATES:
            num, den = RATES[name]
            out[name] = hide.derived(
                label, _rate(totals[num], totals[den]), totals[num], totals[den]
            )
        elif name == "mean_dwell":
            mean = round(totals["dwell_sum"] / totals["visits"]) if totals["visits"] else None
            out[name] = hide.derived(label, mean, totals["visits"])
        elif name == "median_dwell":
            out[name] = hide.derived(label, totals.get("median_dwell"), totals.get("median_n", 0))
        else:
            out[name] = hide.count(label, totals[name])
    return out


# Summary, trend, dwell ------------------------------------------------------------------------


def _bin_edges() -> list[int]:
    """Lower edges (seconds) of the dwell histogram's bins (footfall_daily.dwell_hist)."""
    return (
        [60 * m for m in range(60)]
        + [3600 + 300 * k for k in range(60)]
        + [21600 + 1800 * k for k in range(12)]
        + [43200]
    )


DWELL_BINS = _bin_edges()


def median_of_histogram(counts: list[int]) -> tuple[int | None, int]:
    """The lower edge of the bin holding the median visit (to the minute below 1 h, 5 minutes
    to 6 h, 30 minutes beyond), and the number of visits; None when there are none."""
    n = sum(counts)
    if n == 0:
        return None, 0
    half, seen = (n + 1) // 2, 0
    for edge, count in zip(DWELL_BINS, counts, strict=True):
        seen += count
        if seen >= half:
            return edge, n
    raise AssertionError("unreachable: the counts sum to n")


async def _totals(db: asyncpg.Pool, scope: Scope, median: bool = True) -> dict[str, Any]:
    """Summed daily counts of the scope, with the median dwell (`median_dwell`, `median_n`)."""
    row = await db.fetchrow(
        queries.daily_totals,
        scope.merchant_id,
        scope.store_ids,
        scope.zone,
        scope.first,
        scope.last,
    )
    totals: dict[str, Any] = {k: int(row[k] or 0) for k in COUNTS}
    if not median:
        return totals
    counts = [0] * len(DWELL_BINS)
    for r in await db.fetch(
        queries.dwell_histogram,
        scope.merchant_id,
        scope.store_ids,
        scope.zone,
        scope.first,
        scope.last,
    ):
        counts[r["bin"] - 1] = int(r["n"])
    totals["median_dwell"], totals["median_n"] = median_of_histogram(counts)
    return totals


async def summary(db: asyncpg.Pool, scope: Scope) -> dict[str, Any]:
    totals = await _totals(db, scope)
    hide = Suppressed()
    return {"values": present(totals, SUMMARY, hide), "suppressed": hide.names}


def periods(scope: Scope) -> list[date | datetime]:
    """The starts of the periods of the scope's range at its granularity (store-local)."""
    if scope.granularity == "hour":
        start = datetime(scope.first.year, scope.first.month, scope.first.day)
        return [start + timedelta(hours=h) for h in range(24 * scope.days)]
    starts: list[date | datetime] = []
    day = scope.first
    while day <= scope.last:
        start = _period_start(day, scope.granularity)
        if not starts or starts[-1] != start:
            starts.append(start)
        day += timedelta(days=1)
    return starts


def _period_start(day: date, granularity: str) -> date:
    if granularity == "week":
        return day - timedelta(days=day.weekday())
    if granularity == "month":
        return day.replace(day=1)
    return day


def _needs(measure: str) -> tuple[str, ...]:
    """The counts a measure is computed from."""
    if measure in RATES:
        return RATES[measure]
    if measure == "mean_dwell":
        return ("dwell_sum", "visits")
    return (measure,)


async def _series_totals(
    db: asyncpg.Pool, scope: Scope, keys: tuple[str, ...] = COUNTS
) -> dict[Any, dict[str, int]]:
    """Summed counts (those named by `keys`) per period start."""
    if scope.granularity == "hour":
        lo = datetime(scope.first.year, scope.first.month, scope.first.day)
        rows = await db.fetch(
            queries.hourly_series,
            scope.merchant_id,
            scope.store_ids,
            scope.zone,
            lo,
            lo + timedelta(days=scope.days),
        )
    else:
        rows = await db.fetch(
            queries.daily_series,
            scope.merchant_id,
            scope.store_ids,
            scope.zone,
            scope.first,
            scope.last,
            scope.granularity,
        )
    return {r["period"]: {k: int(r[k] or 0) for k in keys} for r in rows}


EMPTY = dict.fromkeys(COUNTS, 0)


def _label(period: date | datetime) -> str:
    return (
        period.isoformat(timespec="minutes") if isinstance(period, datetime) else period.isoformat()
    )


async def trend(db: asyncpg.Pool, scope: Scope, measure: str = "visits") -> dict[str, Any]:
    """`measure` per period, beside the same measure of the previous period of the same length
    (aligned by position: the first day of this range with the first day of the last one)."""
    before = scope.previous()
    keys = _needs(measure)
    now_totals = await _series_totals(db, scope, keys)
    then_totals = await _series_totals(db, before, keys)
    hide = Suppressed()
    series = []
    for current, previous in zip(periods(scope), periods(before), strict=False):
        now_row = now_totals.get(current, EMPTY)
        then_row = then_totals.get(previous, EMPTY)
        series.append(
            {
                "period": _label(current),
                "value": present(now_row, [measure], hide, f"{_label(current)}.")[measure],
                "previous_period": _label(previous),
                "previous": present(then_row, [measure], hide, f"{_label(previous)}.")[measure],
            }
        )
    return {
        "measure": measure,
        "previous_from": before.first.isoformat(),
        "previous_to": before.last.isoformat(),
        "series": series,
        "suppressed": hide.names,
    }


async def dwell(db: asyncpg.Pool, scope: Scope) -> dict[str, Any]:
    totals = await _totals(db, scope, median=False)
    hide = Suppressed()
    values = {label: hide.count(label, totals[column]) for label, column in DWELL_BUCKETS.items()}
    values |= present(totals, ["bounce_rate", "engaged_rate"], hide)
    return {"values": values, "suppressed": hide.names}


async def stores(db: asyncpg.Pool, scope: Scope) -> dict[str, Any]:
    """The summary of each store of the scope, for comparison."""
    args = (scope.merchant_id, scope.store_ids, scope.zone, scope.first, scope.last)
    totals: dict[uuid.UUID, dict[str, Any]] = {
        s.store_id: dict.fromkeys(COUNTS, 0) for s in scope.stores
    }
    for r in await db.fetch(queries.daily_totals_by_store, *args):
        totals[r["store_id"]] = {k: int(r[k] or 0) for k in COUNTS}
    histograms = {s.store_id: [0] * len(DWELL_BINS) for s in scope.stores}
    for r in await db.fetch(queries.dwell_histogram_by_store, *args):
        histograms[r["store_id"]][r["bin"] - 1] = int(r["n"])
    hide = Suppressed()
    rows = []
    for store in scope.stores:
        one = totals[store.store_id]
        one["median_dwell"], one["median_n"] = median_of_histogram(histograms[store.store_id])
        rows.append(
            {
                "store": str(store.store_id),
                "name": store.name,
                "timezone": store.timezone,
                **present(one, SUMMARY, hide, f"{store.store_id}."),
            }
        )
    _hide_complements(rows, [totals[s.store_id] for s in scope.stores], hide)
    return {"series": rows, "suppressed": hide.names}


def _hide_complements(
    rows: list[dict[str, Any]], raw: list[dict[str, int]], hide: Suppressed
) -> None:
    """A store's hidden count would be the all-stores total less the stores shown: hide the
    smallest shown ones of that column too, until the hidden ones are two or more and add up
    to at least SUPPRESS_BELOW; then every rate built on a hidden count (the rate times the
    other count would give it back)."""
    for name in (f for f in SUMMARY if f in COUNTS):
        hidden = [i for i, row in enumerate(rows) if row[name] is None and raw[i][name] > 0]
        shown = sorted(
            (raw[i][name], i)
            for i, row in enumerate(rows)
            if row[name] is not None and raw[i][name] > 0
        )
        while (
            hidden
            and shown
            and (len(hidden) < 2 or sum(raw[i][name] for i in hidden) < SUPPRESS_BELOW)
        ):
            _, i = shown.pop(0)
            rows[i][name] = None
            hide.names.append(f"{rows[i]['store']}.{name}")
            hidden.append(i)
    for i, row in enumerate(rows):
        for rate, parts in RATES.items():
            if row.get(rate) is not None and any(
                part in row and row[part] is None and raw[i][part] > 0 for part in parts
            ):
                row[rate] = None
                hide.names.append(f"{row['store']}.{rate}")


# Heatmap, occupancy, loyalty --------------------------------------------------------------------


async def heatmap(db: asyncpg.Pool, scope: Scope) -> dict[str, Any]:
    """Visits by store-local weekday (0 = Monday) and hour: 7 rows of 24; and the peak."""
    lo = datetime(scope.first.year, scope.first.month, scope.first.day)
    rows = await db.fetch(
        queries.heatmap,
        scope.merchant_id,
        scope.store_ids,
        scope.zone,
        lo,
        lo + timedelta(days=scope.days),
    )
    grid = [[0] * 24 for _ in range(7)]
    for r in rows:
        grid[int(r["weekday"]) - 1][int(r["hour"])] = int(r["visits"])
    by_hour = [sum(grid[d][h] for d in range(7)) for h in range(24)]
    peak_hour = max(range(24), key=lambda h: (by_hour[h], -h)) if any(by_hour) else None
    cell = max(((d, h) for d in range(7) for h in range(24)), key=lambda c: grid[c[0]][c[1]])
    hide = Suppressed()
    visits = [[hide.count(f"{d}.{h}", grid[d][h]) for h in range(24)] for d in range(7)]
    peak_visits: int | None = 0
    if peak_hour is not None:
        peak_visits = hide.count("peak_hour_visits", by_hour[peak_hour])
        # The hour's total less its shown cells would give away a hidden one.
        if peak_visits is not None and any(visits[d][peak_hour] is None for d in range(7)):
            hide.names.append("peak_hour_visits")
            peak_visits = None
    values = {
        "visits": visits,
        "peak_hour": peak_hour,
        "peak_hour_visits": peak_visits,
        "peak_weekday_hour": list(cell) if any(by_hour) else None,
    }
    return {"values": values, "suppressed": hide.names}


async def occupancy(db: asyncpg.Pool, scope: Scope, now: datetime | None = None) -> dict[str, Any]:
    """Devices present now (distinct devices seen in the last 10 minutes, PRODUCT.md §3)
    against the usual for this weekday and hour (the mean hourly occupancy of the same
    store-local weekday and hour over the last USUAL_WEEKS weeks), and the last 24 hours."""
    now = now or datetime.now(UTC)
    current = await db.fetchval(
        queries.devices_seen_since,
        scope.merchant_id,
        scope.store_ids,
        scope.zone or None,
        now - OCCUPANCY_WINDOW,
        now,
    )
    pairs = []
    for store in scope.stores:
        local_hour = now.astimezone(ZoneInfo(store.timezone)).replace(
            minute=0, second=0, microsecond=0, tzinfo=None
        )
        pairs += [
            (store.store_id, local_hour - timedelta(weeks=k)) for k in range(1, USUAL_WEEKS + 1)
        ]
    usual_sum = await db.fetchval(
        queries.occupancy_at,
        scope.merchant_id,
        [p[0] for p in pairs],
        scope.zone,
        [p[1] for p in pairs],
    )
    usual = (usual_sum or 0.0) / USUAL_WEEKS
    series = {
        r["bucket_start"]: (r["occupancy_avg"], r["occupancy_peak"])
        for r in await db.fetch(
            queries.occupancy_since,
            scope.merchant_id,
            scope.store_ids,
            scope.zone,
            now - timedelta(hours=OCCUPANCY_HOURS),
        )
    }
    people = await _people_now(db, scope, now)
    hide = Suppressed()
    tz = ZoneInfo(scope.stores[0].timezone) if len(scope.stores) == 1 else UTC
    values = {
        "now": hide.count("now", current),
        "people_now": None if people is None else hide.derived("people_now", people, round(people)),
        "usual": hide.derived("usual", round(usual, 1), round(usual)),
        "at": now.astimezone(tz).isoformat(timespec="seconds"),
        "series": [
            {
                "period": start.astimezone(tz).isoformat(timespec="minutes"),
                "average": hide.derived(f"{start.isoformat()}.average", round(avg, 1), round(avg)),
                "peak": hide.count(f"{start.isoformat()}.peak", int(peak)),
            }
            for start, (avg, peak) in sorted(series.items())
        ],
    }
    return {"values": values, "suppressed": hide.names}


async def _people_now(db: asyncpg.Pool, scope: Scope, now: datetime) -> float | None:
    """People present in the last complete 5-minute window by the calibrated estimator
    (analytics/occupancy.py); None unless every store of the scope has a calibration."""
    params = estimator.EstimatorParams()
    window = estimator.window_of(now.timestamp()) - estimator.WINDOW
    reach = estimator.WINDOW * (params.smooth + 1) + 60 * params.pad_minutes
    total = 0.0
    for store in scope.stores:
        calibration = await occupancy_calibration(db, scope.merchant_id, store.store_id)
        if calibration is None:
            return None
        rows = await db.fetch(
            queries.recent_observations,
            scope.merchant_id,
            store.store_id,
            scope.zone or None,
            datetime.fromtimestamp(window - reach, UTC),
            now,
        )
        observations = [
            estimator.Observation(
                r["seen_at"].timestamp(), r["device_hash"], r["rssi"], r["randomized"]
            )
            for r in rows
        ]
        features = estimator.window_features(observations, [window], params)[window]
        total += calibration.apply(features)
    return round(total, 1)


def loyalty_class(days: list[date]) -> str:
    """The class of a shopper's distinct login days, in order (two or more): by the median gap
    between consecutive days (percentile_cont(0.5): the mean of the middle two when even)."""
    gaps = sorted((b - a).days for a, b in itertools.pairwise(days))
    middle = len(gaps) // 2
    median = gaps[middle] if len(gaps) % 2 else (gaps[middle - 1] + gaps[middle]) / 2
    if median <= 2:
        return "daily"
    if median <= 9:
        return "weekly"
    if median <= 18:
        return "biweekly"
    return "monthly"


async def loyalty(db: asyncpg.Pool, scope: Scope) -> dict[str, Any]:
    """Logged-in shoppers of the period by how often they come (docs/footfall-metrics.md)."""
    lo = scope.first - timedelta(days=LOYALTY_LOOKBACK_DAYS)
    window = (scope.merchant_id, scope.store_ids, lo, scope.last)
    # Most shoppers logged in on one day only (first time): counted in the database; the few
    # with more days are fetched with their days and classed here.
    found = await db.fetchrow(queries.loyalty_shoppers, *window, scope.first)
    counts = dict.fromkeys(LOYALTY_CLASSES, 0)
    counts["first_time"] = found["single"]
    repeaters = found["repeaters"] or []
    for row in await db.fetch(queries.loyalty_days_of, *window, repeaters):
        counts[loyalty_class(row["days"])] += 1
    hide = Suppressed()
    values: dict[str, Any] = {k: hide.count(k, v) for k, v in counts.items()}
    total = sum(counts.values())
    values["shoppers"] = hide.count("shoppers", total)
    if hide.names and values["shoppers"] is not None:  # the total less the shown classes
        hide.names.append("shoppers")  # would give away the hidden ones
        values["shoppers"] = None
    return {"values": values, "suppressed": hide.names}
