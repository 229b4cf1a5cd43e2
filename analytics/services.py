"""Recording events and reading login counts; other domains call these, never the tables. A
shopper's export and erasure request (portico/shopper_data.py) reads and erases what analytics
keeps of their devices (`export_shopper`, `erase_shopper`: analytics/privacy.py)."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
from aiohttp import web

from analytics import dashboard_assets, visits
from analytics.privacy import AnalyticsErased as AnalyticsErased
from analytics.privacy import erase_shopper as erase_shopper
from analytics.privacy import export_shopper as export_shopper
from analytics.rollups import mark_dirty
from kernel.sql import load_queries

queries = load_queries(__file__)

# What a visit is, for other domains that sessionise sightings as footfall does (marketing).
VISIT_GAP_SECONDS = visits.DEFAULT_GAP
VISIT_CAP_SECONDS = visits.DEFAULT_CAP

# Ad impressions are ads' own events now (ad_events, ads/delivery.py); older rows may hold the
# kind "ad_impression", which nothing records any more.
EVENT_KINDS = frozenset({"login", "logout", "coupon_claim"})


@dataclass(frozen=True)
class StoreLogins:
    store_id: uuid.UUID
    logins: int
    devices: int
    last_login: datetime | None


async def record_event(
    conn: asyncpg.Connection | asyncpg.Pool,
    merchant_id: uuid.UUID,
    kind: str,
    *,
    store_id: uuid.UUID | None = None,
    device_hash: str | None = None,
    data: dict[str, Any] | None = None,
    occurred_at: datetime | None = None,
) -> None:
    if kind not in EVENT_KINDS:
        raise ValueError(f"unknown event kind {kind!r}")
    await conn.execute(
        queries.insert_event, merchant_id, store_id, kind, device_hash, data or {}, occurred_at
    )
    if kind == "login" and store_id is not None:  # a login makes its shopper a visitor
        at = occurred_at or datetime.now(UTC)
        await mark_dirty(conn, merchant_id, store_id, at, at)


@dataclass(frozen=True)
class Event:
    """One event for `record_events` (the fields of `record_event`)."""

    merchant_id: uuid.UUID
    kind: str
    store_id: uuid.UUID | None = None
    device_hash: str | None = None
    data: dict[str, Any] | None = None


async def record_events(conn: asyncpg.Connection | asyncpg.Pool, events: list[Event]) -> None:
    """Several events in one statement (a group commit of logins), each at now()."""
    for event in events:
        if event.kind not in EVENT_KINDS:
            raise ValueError(f"unknown event kind {event.kind!r}")
    await conn.execute(
        queries.insert_events,
        [e.merchant_id for e in events],
        [e.store_id for e in events],
        [e.kind for e in events],
        [e.device_hash for e in events],
        [e.data or {} for e in events],
    )
    now = datetime.now(UTC)
    stores = {(e.merchant_id, e.store_id) for e in events if e.kind == "login" and e.store_id}
    for merchant_id, store_id in stores:  # the footfall rollups recompute their hour
        await mark_dirty(conn, merchant_id, store_id, now, now)


def day_bounds(day: datetime, timezone: str) -> tuple[datetime, datetime]:
    """Start and end of the calendar day containing `day`, in the store's time zone."""
    local = day.astimezone(ZoneInfo(timezone))
    start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return start, start + timedelta(days=1)


async def logins_by_store(
    db: asyncpg.Pool, merchant_id: uuid.UUID, start: datetime, end: datetime
) -> dict[uuid.UUID, StoreLogins]:
    rows = await db.fetch(queries.logins_by_store_between, merchant_id, start, end)
    return {r["store_id"]: StoreLogins(**dict(r)) for r in rows}


async def recent_logins(
    db: asyncpg.Pool, merchant_id: uuid.UUID, since: datetime, limit: int = 50
) -> list[asyncpg.Record]:
    return await db.fetch(queries.recent_logins, merchant_id, since, limit)


async def logins_today(
    db: asyncpg.Pool,
    merchant_id: uuid.UUID,
    store_timezones: Mapping[uuid.UUID, str],
    now: datetime,
) -> dict[uuid.UUID, StoreLogins]:
    """Each store's logins on its own calendar day at `now`; stores without any count as 0."""
    stores_by_zone: dict[str, list[uuid.UUID]] = defaultdict(list)
    for store_id, timezone in store_timezones.items():
        stores_by_zone[timezone].append(store_id)
    # One query per time zone in use: stores sharing a zone share the same day bounds.
    result = {}
    for timezone, store_ids in stores_by_zone.items():
        start, end = day_bounds(now, timezone)
        counts = await logins_by_store(db, merchant_id, start, end)
        for store_id in store_ids:
            result[store_id] = counts.get(store_id) or StoreLogins(store_id, 0, 0, None)
    return result


_returns = load_queries(__file__, "returns.sql")


async def returning_shoppers(
    db: asyncpg.Pool | asyncpg.Connection,
    shoppers: list[tuple[uuid.UUID, str, datetime]],
    window: timedelta,
    *,
    after: timedelta = timedelta(hours=1),
) -> set[tuple[uuid.UUID, str, datetime]]:
    """Which of `shoppers` (merchant, pseudonym, moment) came back to a venue of that merchant
    from `after` past their moment until `window` past it: a portal login or a footfall visit
    as a visitor starting then (the ad reports' return visits; `after` leaves out the visit
    during which the moment happened). Those that did, as given."""
    if not shoppers:
        return set()
    rows = await db.fetch(
        _returns.returning_shoppers,
        [s[0] for s in shoppers],
        [s[1] for s in shoppers],
        [s[2] for s in shoppers],
        after,
        window,
    )
    return {(r["merchant_id"], r["identity"], r["at"]) for r in rows}


@dataclass(frozen=True)
class ChartScripts:
    """The console's chart scripts, served by the console itself (analytics/dashboard_assets.py):
    chart.js (None when it is not installed: a page shows its tables only) and the script that
    draws the charts a page describes in `<script type="application/json" id="footfall-charts">`
    (static/footfall.js; its spec: analytics.dashboards.Charts)."""

    chart: str | None
    draw: str


def chart_scripts(app: web.Application) -> ChartScripts:
    """For another domain's console page that draws charts as the footfall pages do."""
    assets = app[dashboard_assets.ASSETS]
    return ChartScripts(assets.chart.url if assets.chart else None, assets.own["footfall.js"].url)
