"""The demo stores' footfall: shoppers' phones around them, live and as recent history.

`portico demo` (portico/demo.py) starts a `PresenceFeed` (simulators/presence.py) per demo
store: the store's agent routers send the `probes` and `station` telemetry of the people the
shopper model (simulators/shoppers.py) puts around the store, in real time. At start, the
last `HISTORY_DAYS` days of the same model are fed through analytics (`backfill`), in the
background, so the dashboards have trends at once; a later start only adds what is missing.
The model is seeded per store, so history and live are the same people. History is fed as it
would have arrived (each chunk at its own time: analytics keeps raw observations 24 h) and its
rollups are computed at once, before the retention job drops the old days' raw observations.
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
from zoneinfo import ZoneInfo

import asyncpg

import accounts.services as accounts
import analytics.services as analytics
from analytics.ingest import FootfallIngest, probe_sighting
from analytics.rollups import mark_dirty, recompute_locked
from kernel.config import Settings
from kernel.privacy import device_hash
from simulators import shoppers
from simulators.presence import PresenceFeed, RouterLink
from simulators.probes import ProbeFrame
from simulators.router import SimulatedRouter

log = logging.getLogger("portico.demo.footfall")

HISTORY_DAYS = 28  # the dashboards' default range and their 'usual' (the last 4 weeks)
HISTORY_CHUNK = 3 * 3600.0  # seconds of history per ingest call


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


def demo_stores(
    placed: Sequence[tuple[int, object]], store_names: Sequence[str]
) -> list[DemoStore]:
    """Each store's agent routers, from (store index, simulated router) pairs (a router
    without our agent has no monitor-mode summary)."""
    stores = []
    for index, name in enumerate(store_names):
        routers = tuple(
            sim
            for store, sim in placed
            if store == index and isinstance(sim, SimulatedRouter) and sim.with_agent
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
            "presence of %s: %d probe observations, %d station events and %d logged-in "
            "clients' usage reports sent, %d dropped",
            feed.profile.name,
            stats.probes_sent,
            stats.stations_sent,
            stats.usage_sent,
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
    whole_days: bool = False,
    ingest: Ingest | None = None,
) -> None:
    """Feed the last `days` days of each store's model through analytics, from where the
    store's simulated history ends (its last login) to `now`, a few hours at a time, each chunk
    as it would have arrived at its end (what the routers heard and the logins), its rollups
    computed at once (analytics.rollups.recompute_locked). `whole_days`: from the store-local
    midnight before (a part day would pull the dashboards' 'usual' down)."""
    now = time.time() if now is None else now
    ingest = ingest or analytics_ingest(settings, db)
    for store in stores:
        store_id = store_ids[store.name]
        found = await accounts.get_store(db, merchant_id, store_id)
        earliest = now - days * 86400
        if whole_days and found is not None:
            earliest = _local_midnight(earliest, found.timezone)
        start = await _history_start(db, merchant_id, store_id, earliest, now)
        if found is None or start >= now - 60:
            log.info("footfall history of %s is there already", store.name)
            continue
        began, stored, logins = time.monotonic(), 0, 0
        chunk = start
        while chunk < now:
            until = min(now, chunk + HISTORY_CHUNK)
            # The model is plain CPU work: in a thread, so the demo's pages keep answering.
            frames, truth = await asyncio.to_thread(
                _simulated, store.profile, chunk, until, store_seed(store.name)
            )
            stored += await ingest(merchant_id, store_id, frames, truth.stations, until)
            logins += await _record_logins(settings, db, merchant_id, store_id, truth.logins)
            await recompute_locked(db, found, _at(chunk), _at(until), now=_at(until))
            chunk = until
        log.info(
            "footfall history of %s: %.1f days, %d observations and %d logins in %.0f s",
            store.name,
            (now - start) / 86400,
            stored,
            logins,
            time.monotonic() - began,
        )


def _simulated(
    profile: shoppers.StoreProfile, start: float, end: float, seed: int
) -> tuple[list[ProbeFrame], shoppers.Truth]:
    frames, truth = shoppers.simulate(profile, start, end, seed)
    return list(frames), truth


def _local_midnight(ts: float, timezone: str) -> float:
    """The start of the store-local day of `ts`."""
    local = datetime.fromtimestamp(ts, ZoneInfo(timezone))
    return local.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()


def _at(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


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
            recorded = await engine.record(conn, merchant_id, store_id, sightings, now=until)
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
    placed: Sequence[tuple[int, object]],  # (store index, simulated router or gateway)
    store_names: Sequence[str],
    passwords: dict[str, str],
) -> DemoFootfall:
    """The demo stores' live presence, and their history fed in the background."""
    stores = demo_stores(placed, store_names)
    feeds = await start_presence(settings, stores, passwords)
    store_ids = {s.name: s.store_id for s in await accounts.list_stores(db, merchant_id)}
    history = asyncio.create_task(
        backfill(settings, db, merchant_id, store_ids, stores, whole_days=True),
        name="demo-footfall-history",
    )
    history.add_done_callback(_log_failure)
    return DemoFootfall(feeds, history)


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("the footfall history stopped", exc_info=task.exception())
