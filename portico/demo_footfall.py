"""The demo stores' footfall: shoppers' phones around them, live and as recent history.

`portico demo` (portico/demo.py) starts a `PresenceFeed` (simulators/presence.py) per demo
store: the store's agent routers send the `probes` and `station` telemetry of the people the
shopper model (simulators/shoppers.py) puts around the store, in real time. At start, the
last `HISTORY_DAYS` days of the same model are fed through analytics (`backfill`), in the
background, so the dashboards have trends at once; a later start only adds what is missing.
The model is seeded per store, so history and live are the same people.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
import zlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import asyncpg

import accounts.services as accounts
import analytics.services as analytics
from analytics.ingest import FootfallIngest, probe_sighting
from analytics.rollups import mark_dirty
from kernel.config import Settings
from kernel.privacy import device_hash
from simulators import shoppers
from simulators.presence import PresenceFeed, RouterLink
from simulators.probes import ProbeFrame
from simulators.router import SimulatedRouter

if TYPE_CHECKING:
    from portico.demo import RunningRouter

log = logging.getLogger("portico.demo.footfall")

HISTORY_DAYS = 14
HISTORY_CHUNK = 3 * 3600.0  # seconds of history per ingest call
RAW_HOURS = 23.5  # the part of history fed as observations (analytics keeps raw data 24 h)


def demo_profile(store: int, name: str, zones: Sequence[str]) -> shoppers.StoreProfile:
    """The ground floor is a mall shop, the food court a food court; both about half as busy
    as the models' defaults (a few hundred shoppers a day)."""
    if store == 0:
        return shoppers.mall_store(name, zones, scale=0.5)
    return shoppers.food_court(name, zones, scale=0.5)


def store_seed(name: str) -> int:
    return zlib.crc32(name.encode())


@dataclass(frozen=True)
class DemoStore:
    index: int
    name: str
    profile: shoppers.StoreProfile
    routers: tuple[SimulatedRouter, ...]  # the ones whose agent speaks MQTT: the zones


def demo_stores(fleet: Sequence[RunningRouter], store_names: Sequence[str]) -> list[DemoStore]:
    """Each store's agent routers (a router without our agent has no monitor-mode summary)."""
    stores = []
    for index, name in enumerate(store_names):
        routers = tuple(
            r.sim
            for r in fleet
            if r.demo.store == index and isinstance(r.sim, SimulatedRouter) and r.sim.with_agent
        )
        if routers:
            zones = [r.router_id for r in routers]
            stores.append(DemoStore(index, name, demo_profile(index, name, zones), routers))
    return stores


async def start_presence(
    settings: Settings, stores: Sequence[DemoStore], passwords: dict[str, str]
) -> list[PresenceFeed]:
    feeds = []
    for store in stores:
        links = [RouterLink(r.router_id, passwords[r.router_id], r.agent) for r in store.routers]
        feed = PresenceFeed(
            store.profile, links, mqtt_url=settings.mqtt_url, seed=store_seed(store.name)
        )
        feed.start()
        feeds.append(feed)
    return feeds


async def stop_presence(feeds: Sequence[PresenceFeed]) -> None:
    for feed in feeds:
        await feed.stop()
        stats = feed.stats
        log.info(
            "presence of %s: %d probe observations and %d station events sent, %d dropped",
            feed.profile.name,
            stats.probes_sent,
            stats.stations_sent,
            stats.dropped,
        )


# -- history -------------------------------------------------------------------------------

# What one chunk of history goes through: (merchant, store, frames heard, station events,
# the chunk's end) -> observations stored.
Ingest = Callable[
    [uuid.UUID, uuid.UUID, list[ProbeFrame], list[shoppers.StationEvent], float], Awaitable[int]
]


async def backfill(
    settings: Settings,
    db: asyncpg.Pool,
    merchant_id: uuid.UUID,
    store_ids: dict[str, uuid.UUID],
    stores: Sequence[DemoStore],
    *,
    days: float = HISTORY_DAYS,
    now: float | None = None,
    ingest: Ingest | None = None,
) -> None:
    """Feed the last `days` days of each store's model through analytics, from where the
    store's simulated history ends (its last login) to `now`, a few hours at a time: logins
    all along, and what the routers heard for the last RAW_HOURS (analytics refuses raw
    observations older than its raw retention, analytics.observations)."""
    now = time.time() if now is None else now
    ingest = ingest or analytics_ingest(settings, db)
    for store in stores:
        store_id = store_ids[store.name]
        start = await _history_start(db, merchant_id, store_id, now - days * 86400, now)
        if start >= now - 60:
            log.info("footfall history of %s is there already", store.name)
            continue
        began, stored, logins = time.monotonic(), 0, 0
        raw_from = now - RAW_HOURS * 3600
        chunk = start
        while chunk < now:
            until = min(now, chunk + HISTORY_CHUNK)
            frames, truth = shoppers.simulate(store.profile, chunk, until, store_seed(store.name))
            if until > raw_from:
                heard = [f for f in frames if f.ts >= raw_from]
                stations = [e for e in truth.stations if e.ts >= raw_from]
                stored += await ingest(merchant_id, store_id, heard, stations, until)
            logins += await _record_logins(settings, db, merchant_id, store_id, truth.logins)
            chunk = until
            await asyncio.sleep(0)  # the demo stays responsive while history is fed
        log.info(
            "footfall history of %s: %.1f days, %d observations and %d logins in %.0f s",
            store.name,
            (now - start) / 86400,
            stored,
            logins,
            time.monotonic() - began,
        )


async def _history_start(
    db: asyncpg.Pool, merchant_id: uuid.UUID, store_id: uuid.UUID, earliest: float, now: float
) -> float:
    """Where history is missing: after the store's last login (simulated logins of an
    earlier demo run, or real ones), else `earliest`."""
    counts = await analytics.logins_by_store(
        db, merchant_id, datetime.fromtimestamp(earliest, UTC), datetime.fromtimestamp(now, UTC)
    )
    last = counts.get(store_id)
    if last is None or last.last_login is None:
        return earliest
    return max(earliest, last.last_login.timestamp() + 1)


async def _record_logins(
    settings: Settings,
    db: asyncpg.Pool,
    merchant_id: uuid.UUID,
    store_id: uuid.UUID,
    logins: Sequence[shoppers.Login],
) -> int:
    """The model's portal logins as the portal records them (analytics.record_event, the
    device as the merchant's keyed hash)."""
    async with db.acquire() as conn, conn.transaction():
        for login in logins:
            await analytics.record_event(
                conn,
                merchant_id,
                "login",
                store_id=store_id,
                device_hash=device_hash(settings.secret_key, str(merchant_id), login.mac),
                data={"method": "click", "router": login.zone},
                occurred_at=datetime.fromtimestamp(login.ts, UTC),
            )
    return len(logins)


def analytics_ingest(settings: Settings, db: asyncpg.Pool) -> Ingest:
    """History through analytics' privacy step (analytics.ingest.FootfallIngest), the
    rollups marked in the same transaction (analytics.rollups.mark_dirty), as the controller
    does for the routers' telemetry."""
    engine = FootfallIngest(settings.secret_key, on_recorded=mark_dirty)

    async def ingest(
        merchant_id: uuid.UUID,
        store_id: uuid.UUID,
        frames: list[ProbeFrame],
        stations: list[shoppers.StationEvent],
        until: float,
    ) -> int:
        sightings = [
            probe_sighting(f.zone, f.src, f.ts, f.rssi, f.seq, f.fingerprint) for f in frames
        ]
        for e in stations:
            sightings += engine.station_event(e.zone, e.mac, e.ts, e.event, e.rssi)
        sightings.sort(key=lambda s: s.ts)
        async with db.acquire() as conn:
            recorded = await engine.record(conn, merchant_id, store_id, sightings)
        return recorded.inserted

    return ingest


@dataclass
class DemoFootfall:
    feeds: list[PresenceFeed]
    history: asyncio.Task[None]

    async def stop(self) -> None:
        self.history.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.history
        await stop_presence(self.feeds)


async def start(
    settings: Settings,
    db: asyncpg.Pool,
    merchant_id: uuid.UUID,
    fleet: Sequence[RunningRouter],
    store_names: Sequence[str],
    passwords: dict[str, str],
) -> DemoFootfall:
    """The demo stores' live presence, and their history fed in the background."""
    stores = demo_stores(fleet, store_names)
    feeds = await start_presence(settings, stores, passwords)
    store_ids = {s.name: s.store_id for s in await accounts.list_stores(db, merchant_id)}
    history = asyncio.create_task(
        backfill(settings, db, merchant_id, store_ids, stores), name="demo-footfall-history"
    )
    history.add_done_callback(_log_failure)
    return DemoFootfall(feeds, history)


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("the footfall history stopped", exc_info=task.exception())
