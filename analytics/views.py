"""The merchant dashboard: today's logins per store and the latest logins.

Reads only through `accounts.services` and `analytics.services`; the merchants shown are the
signed-in user's memberships, so every query is scoped to a merchant the user belongs to.
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import asyncpg
from aiohttp import web

from accounts import services as accounts
from accounts.web import render_page
from analytics import services as analytics
from controller import services as controller
from kernel.web import DB

RECENT_WINDOW = timedelta(hours=24)
RECENT_LIMIT = 10
DEVICE_ID_LENGTH = 8  # enough to tell devices apart on one screen
KNOWN_METHODS = frozenset({"click", "sms", "voucher", "email", "returning"})
# A WiFiDog gateway pings every CheckInterval (60 s by default) and has no Last Will: one not
# heard from for this long is shown offline.
PING_SILENCE = timedelta(minutes=3)


@dataclass(frozen=True)
class StoreRow:
    name: str
    timezone: str
    logins: int
    devices: int
    last_login: str  # store-local "HH:MM", or "" when none today


@dataclass(frozen=True)
class RecentLogin:
    time: str  # store-local "HH:MM:SS", with "MM-DD" before it when not today
    store: str | None  # None when the store is not (or no longer) one of the merchant's
    device: str
    method: str
    method_id: str | None  # the catalog's name for a known method


@dataclass(frozen=True)
class RouterRow:
    name: str
    router_id: str
    store: str | None
    kind_id: str  # the catalog's name of its gateway: openNDS level N, or WiFiDog
    online: bool
    last_seen: str  # store-local, or "" when never


@dataclass(frozen=True)
class MerchantPanel:
    membership: accounts.Membership
    stores: list[StoreRow]
    total_logins: int
    recent: list[RecentLogin]
    routers: list[RouterRow]
    updated: str
    zone: str


async def dashboard(request: web.Request, session: accounts.ConsoleSession) -> web.Response:
    db = request.app[DB]
    now = datetime.now(UTC)
    panels = [
        await _merchant_panel(db, membership, now, session.user.user_id)
        for membership in await accounts.memberships_of(db, session.user.user_id)
    ]
    return render_page(request, "analytics/dashboard.html", panels=panels)


async def _merchant_panel(
    db: asyncpg.Pool, membership: accounts.Membership, now: datetime, user_id: uuid.UUID
) -> MerchantPanel:
    merchant_id = membership.merchant_id
    stores = await accounts.visible_stores(db, merchant_id, user_id)  # staff: their stores
    zones = {s.store_id: s.timezone for s in stores}
    today = await analytics.logins_today(db, merchant_id, zones, now)
    rows = [_store_row(store, today[store.store_id]) for store in stores]
    recent = await analytics.recent_logins(db, merchant_id, now - RECENT_WINDOW, RECENT_LIMIT)
    by_id = {s.store_id: s for s in stores}
    zone = Counter(zones.values()).most_common(1)[0][0] if zones else "UTC"
    routers = await controller.list_routers(db, merchant_id)
    owner = membership.role == "owner"  # staff: only their stores' logins and routers
    return MerchantPanel(
        membership=membership,
        stores=rows,
        total_logins=sum(r.logins for r in rows),
        recent=[_recent_login(r, by_id, now) for r in recent if owner or r["store_id"] in by_id],
        routers=[_router_row(r, by_id, now) for r in routers if owner or r["store_id"] in by_id],
        updated=now.astimezone(ZoneInfo(zone)).strftime("%H:%M:%S"),
        zone=zone,
    )


def _store_row(store: accounts.Store, counts: analytics.StoreLogins) -> StoreRow:
    last = counts.last_login
    return StoreRow(
        name=store.name,
        timezone=store.timezone,
        logins=counts.logins,
        devices=counts.devices,
        last_login=last.astimezone(ZoneInfo(store.timezone)).strftime("%H:%M") if last else "",
    )


def _router_row(
    record: asyncpg.Record, stores: dict[uuid.UUID, accounts.Store], now: datetime
) -> RouterRow:
    store = stores.get(record["store_id"])
    zone = ZoneInfo(store.timezone) if store else UTC
    seen = record["last_seen"]
    online = bool(record["online"])
    if record["gateway"] == "wifidog":
        online = online and seen is not None and now - seen < PING_SILENCE
        kind_id = "gateway_wifidog"
    else:
        kind_id = f"gateway_opennds_{record['fas_level']}"
    local = seen.astimezone(zone) if seen else None
    same_day = local is not None and local.date() == now.astimezone(zone).date()
    return RouterRow(
        name=record["name"],
        router_id=record["router_id"],
        store=store.name if store else None,
        kind_id=kind_id,
        online=online,
        last_seen=local.strftime("%H:%M:%S" if same_day else "%m-%d %H:%M") if local else "",
    )


def _recent_login(
    record: asyncpg.Record, stores: dict[uuid.UUID, accounts.Store], now: datetime
) -> RecentLogin:
    store = stores.get(record["store_id"])
    zone = ZoneInfo(store.timezone) if store else UTC
    local = record["occurred_at"].astimezone(zone)
    same_day = local.date() == now.astimezone(zone).date()
    method = record["method"] or ""
    return RecentLogin(
        time=local.strftime("%H:%M:%S" if same_day else "%m-%d %H:%M"),
        store=store.name if store else None,
        device=(record["device_hash"] or "")[:DEVICE_ID_LENGTH],
        method=method,
        method_id=f"method_{method}" if method in KNOWN_METHODS else None,
    )
