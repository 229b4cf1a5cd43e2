"""Campaign reports for advertisers and merchants (issue 9 item 8, docs/ad-reports.md).

Over a range of local days: the exposed group's delivery (impressions, reach, frequency,
clicks, CTR) for the whole campaign and per line item, creative and day; the outcomes per
shopper of the exposed group and of the holdout (claims, redemptions, return visits within the
attribution window); and the incremental lift, exposed rate − holdout rate, with a 95 %
Newcombe hybrid score interval (built on each group's Wilson interval).

Privacy (PRODUCT.md §4): a row or group about fewer than 50 distinct shoppers shows none of
its figures; a click or conversion count about 1 to 9 shoppers is hidden (0 is shown, as in
analytics/metrics.py); a hidden figure is not given away by the total less the rows shown
(complementary suppression); a lift is shown only when both groups have 50 shoppers and
neither of its counts is hidden. Shopper-level rows stay in this module's memory: nothing
here returns them.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

from analytics import services as analytics
from kernel.sql import load_queries
from kernel.stats import newcombe

queries = load_queries(__file__, "reports.sql")

MIN_SHOPPERS = 50  # a row or group about fewer shoppers shows nothing
MIN_CONVERTERS = 10  # a click or conversion count about 1 to 9 shoppers is hidden
DEFAULT_WINDOW_DAYS = 7
MAX_WINDOW_DAYS = 30
MAX_RANGE_DAYS = 366
OUTCOMES = ("claims", "redemptions", "returns")

# What a hidden cell says instead of its number (the pages translate these keys).
FEWER_THAN_SHOPPERS = "fewer_than_50"
FEWER_THAN_CONVERTERS = "fewer_than_10"
NOT_ENOUGH = "not_enough_shoppers"


class ReportError(ValueError):
    """A report's parameters are wrong; `field` names which."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class CampaignUnknown(LookupError):
    """Not a campaign of this advertiser."""


Cell = int | float | str | None  # a number, or why it is hidden (FEWER_THAN_*), or None (n/a)


@dataclass(frozen=True)
class Lift:
    """Exposed rate − holdout rate, and its 95 % interval (fractions); or not shown."""

    shown: bool
    difference: float | None = None
    low: float | None = None
    high: float | None = None


@dataclass
class Group:
    shoppers: Cell
    claims: Cell
    redemptions: Cell
    returns: Cell
    claim_rate: Cell = None
    redemption_rate: Cell = None
    return_rate: Cell = None


@dataclass
class Row:
    """One row of the delivery table: `key` is the line item, creative or day (None: total)."""

    key: Any
    impressions: Cell
    reach: Cell
    frequency: Cell
    clicks: Cell
    ctr: Cell


@dataclass
class Report:
    campaign_id: uuid.UUID
    campaign_name: str
    first: date
    last: date
    timezone: str
    window_days: int
    total: Row
    line_items: list[Row]
    creatives: list[Row]
    days: list[Row]
    exposed: Group
    holdout: Group
    lift: dict[str, Lift] = field(default_factory=dict)


# Suppression ------------------------------------------------------------------------------------


def _converters(value: int) -> Cell:
    return FEWER_THAN_CONVERTERS if 0 < value < MIN_CONVERTERS else value


def _row(key: Any, raw: dict[str, int]) -> Row:
    if raw["reach"] < MIN_SHOPPERS:
        return Row(key, *(FEWER_THAN_SHOPPERS,) * 5)
    clicks: Cell = raw["clicks"]
    ctr: Cell = round(raw["clicks"] / raw["impressions"], 4)
    if 0 < raw["clickers"] < MIN_CONVERTERS:
        clicks = ctr = FEWER_THAN_CONVERTERS
    return Row(
        key,
        raw["impressions"],
        raw["reach"],
        round(raw["impressions"] / raw["reach"], 2),
        clicks,
        ctr,
    )


def _hide_complements(rows: list[Row], raw: list[dict[str, int]], total: Row) -> None:
    """A hidden row's impressions or clicks would be the total less the rows shown: while the
    total shows that figure, hide the smallest shown rows too until the hidden ones are two or
    more and stand for at least the threshold's shoppers together (as the footfall store
    comparison does, analytics/metrics.py)."""
    for name, rate, basis, threshold in (
        ("impressions", None, "reach", MIN_SHOPPERS),
        ("clicks", "ctr", "clickers", MIN_CONVERTERS),
    ):
        if not isinstance(getattr(total, name), int):
            continue
        hidden = [  # a hidden 0 gives nothing away (0 is shown anyway)
            i for i, r in enumerate(rows) if isinstance(getattr(r, name), str) and raw[i][name] > 0
        ]
        shown = sorted(
            (raw[i][name], i)
            for i, r in enumerate(rows)
            if not isinstance(getattr(r, name), str) and raw[i][name] > 0
        )
        while (
            hidden and shown and (len(hidden) < 2 or sum(raw[i][basis] for i in hidden) < threshold)
        ):
            _, i = shown.pop(0)
            hidden.append(i)
            if name == "impressions":  # the whole row: reach and frequency go with them
                rows[i] = Row(rows[i].key, *(FEWER_THAN_SHOPPERS,) * 5)
            else:
                setattr(rows[i], name, FEWER_THAN_CONVERTERS)
                setattr(rows[i], rate, FEWER_THAN_CONVERTERS)


def _group(shoppers: int, counts: dict[str, int]) -> Group:
    if shoppers < MIN_SHOPPERS:
        return Group(*(FEWER_THAN_SHOPPERS,) * 7)
    cells = {name: _converters(counts[name]) for name in OUTCOMES}
    rates = {
        name: (round(counts[name] / shoppers, 4) if isinstance(cells[name], int) else cells[name])
        for name in OUTCOMES
    }
    return Group(
        shoppers,
        cells["claims"],
        cells["redemptions"],
        cells["returns"],
        rates["claims"],
        rates["redemptions"],
        rates["returns"],
    )


def _lift(exposed: Group, holdout: Group, name: str, raw: dict[str, dict[str, int]]) -> Lift:
    """Shown only when both groups and both counts are (else the difference and the shown
    rate would give a hidden count back)."""
    if not (isinstance(exposed.shoppers, int) and isinstance(holdout.shoppers, int)):
        return Lift(False)
    if isinstance(getattr(exposed, name), str) or isinstance(getattr(holdout, name), str):
        return Lift(False)
    d, low, high = newcombe(
        raw["exposed"][name], exposed.shoppers, raw["holdout"][name], holdout.shoppers
    )
    return Lift(True, round(d, 4), round(low, 4), round(high, 4))


# The report -------------------------------------------------------------------------------------


def local_range(first: date, last: date, timezone: str) -> tuple[datetime, datetime]:
    """The instants from `first`'s local midnight to the one after `last`."""
    zone = ZoneInfo(timezone)
    return (
        datetime.combine(first, time(), zone),
        datetime.combine(last + timedelta(days=1), time(), zone),
    )


def check_range(first: date, last: date, window_days: int) -> None:
    if last < first:
        raise ReportError("last", "the range ends before it starts")
    if (last - first).days >= MAX_RANGE_DAYS:
        raise ReportError("last", f"a report covers at most {MAX_RANGE_DAYS} days")
    if not 1 <= window_days <= MAX_WINDOW_DAYS:
        raise ReportError("window", f"the window is 1 to {MAX_WINDOW_DAYS} days")


async def campaign_report(
    db: asyncpg.Pool,
    advertiser_id: uuid.UUID,
    campaign_id: uuid.UUID,
    first: date,
    last: date,
    *,
    timezone: str = "Asia/Shanghai",
    window_days: int = DEFAULT_WINDOW_DAYS,
    merchant_id: uuid.UUID | None = None,
) -> Report:
    """The campaign's report over local days `first`…`last` in `timezone`, at every venue or
    only at `merchant_id`'s. Raises CampaignUnknown for another advertiser's campaign."""
    check_range(first, last, window_days)
    campaign = await db.fetchrow(queries.campaign_of_advertiser, advertiser_id, campaign_id)
    if campaign is None:
        raise CampaignUnknown(f"advertiser {advertiser_id} has no campaign {campaign_id}")
    start, end = local_range(first, last, timezone)
    window = timedelta(days=window_days)
    args = (advertiser_id, campaign_id, start, end, merchant_id)
    # The delivery tables and the groups' outcomes read apart, each on its own connection of
    # the pool: the page waits for the slower of the two, not for their sum.
    breakdown, (shoppers, returned) = await asyncio.gather(
        db.fetch(queries.breakdown, *args, timezone), _outcomes(db, args, window)
    )

    def raw_of(r: asyncpg.Record) -> dict[str, int]:
        return {k: r[k] for k in ("impressions", "reach", "clicks", "clickers")}

    empty = {"impressions": 0, "reach": 0, "clicks": 0, "clickers": 0}
    total_raw = next((raw_of(r) for r in breakdown if r["dim"] == "total"), empty)
    total = _row(None, total_raw)
    tables: dict[str, list[Row]] = {}
    for dim, key in (("line_item", "line_item_id"), ("creative", "creative_id"), ("day", "day")):
        # A row with clicks but no impression in the range (its impression the day before)
        # is kept, hidden: dropped, its clicks would be the total's less the rows shown.
        picked = sorted((r for r in breakdown if r["dim"] == dim), key=lambda r: r[key])
        raws = [raw_of(r) for r in picked]
        rows = [_row(r[key], raw) for r, raw in zip(picked, raws, strict=True)]
        _hide_complements(rows, raws, total)
        tables[dim] = rows

    counts = {g: {"shoppers": 0, "claims": 0, "redemptions": 0, "returns": 0} for g in GROUPS}
    for r in shoppers:
        c = counts["exposed" if r["exposed"] else "holdout"]
        c["shoppers"] += 1
        c["claims"] += r["claimed"]
        c["redemptions"] += r["redeemed"]
        c["returns"] += any((r["merchant_id"], d, r["first_at"]) in returned for d in r["devices"])
    exposed = _group(counts["exposed"]["shoppers"], counts["exposed"])
    holdout = _group(counts["holdout"]["shoppers"], counts["holdout"])
    return Report(
        campaign_id=campaign_id,
        campaign_name=campaign["name"],
        first=first,
        last=last,
        timezone=timezone,
        window_days=window_days,
        total=total,
        line_items=tables["line_item"],
        creatives=tables["creative"],
        days=tables["day"],
        exposed=exposed,
        holdout=holdout,
        lift={name: _lift(exposed, holdout, name, counts) for name in OUTCOMES},
    )


GROUPS = ("exposed", "holdout")


async def _outcomes(
    db: asyncpg.Pool, args: tuple[Any, ...], window: timedelta
) -> tuple[list[asyncpg.Record], set[tuple[uuid.UUID, str, datetime]]]:
    """The campaign's shoppers in the range (with their claims and redemptions) and which of
    their devices came back within the window: a shopper came back when any device did."""
    shoppers = await db.fetch(queries.shoppers, *args, window)
    returned = await analytics.returning_shoppers(
        db,
        [(r["merchant_id"], d, r["first_at"]) for r in shoppers for d in r["devices"]],
        window,
    )
    return shoppers, returned


@dataclass(frozen=True)
class RanAt:
    advertiser_id: uuid.UUID
    campaign_id: uuid.UUID
    name: str
    advertiser_name: str


async def campaigns_at_merchant(
    db: asyncpg.Pool, merchant_id: uuid.UUID, since: datetime
) -> list[RanAt]:
    """The campaigns with events in the merchant's venues since `since`, by name."""
    ran = await db.fetch(queries.campaigns_at_merchant, merchant_id, since)
    if not ran:
        return []
    rows = await db.fetch(
        queries.campaign_names,
        [r["advertiser_id"] for r in ran],
        [r["campaign_id"] for r in ran],
    )
    return [RanAt(**dict(r)) for r in rows]


def as_json(report: Report) -> dict[str, Any]:
    """The report as the JSON API gives it: hidden cells are null with their reason in
    `suppressed` ({path: reason})."""
    suppressed: dict[str, str] = {}

    def cell(path: str, value: Cell) -> int | float | None:
        if isinstance(value, str):
            suppressed[path] = value
            return None
        return value

    def row(path: str, r: Row) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in ("impressions", "reach", "frequency", "clicks", "ctr"):
            out[name] = cell(f"{path}.{name}", getattr(r, name))
        return out

    def keyed(name: str, rows: list[Row]) -> list[dict[str, Any]]:
        return [{"key": str(r.key)} | row(f"{name}[{i}]", r) for i, r in enumerate(rows)]

    def group(name: str, g: Group) -> dict[str, Any]:
        return {
            k: cell(f"{name}.{k}", getattr(g, k))
            for k in (
                "shoppers",
                "claims",
                "redemptions",
                "returns",
                "claim_rate",
                "redemption_rate",
                "return_rate",
            )
        }

    lift = {}
    for name, value in report.lift.items():
        if value.shown:
            lift[name] = {"difference": value.difference, "low": value.low, "high": value.high}
        else:
            lift[name] = None
            suppressed[f"lift.{name}"] = NOT_ENOUGH
    return {
        "campaign_id": str(report.campaign_id),
        "campaign_name": report.campaign_name,
        "first": report.first.isoformat(),
        "last": report.last.isoformat(),
        "timezone": report.timezone,
        "window_days": report.window_days,
        "total": row("total", report.total),
        "line_items": keyed("line_items", report.line_items),
        "creatives": keyed("creatives", report.creatives),
        "days": keyed("days", report.days),
        "exposed": group("exposed", report.exposed),
        "holdout": group("holdout", report.holdout),
        "lift": lift,
        "suppressed": suppressed,
    }
