"""The privacy step of footfall: raw sightings (a MAC heard at a zone) to hashed observations.

Every input goes through here: probe requests (a capture file, analytics/importer.py, or the
compact `probes` telemetry a router sends), station join/leave and usage events (the
controller's telemetry). In order (PRODUCT.md §3, §5; docs/footfall-ingest.md):

1. multicast and broadcast source addresses are dropped, and so is a sighting weaker than
   −85 dBm (not "detected"); one without an RSSI (raw 802.11 captures) is kept;
2. `randomized` is the MAC's locally administered bit;
3. staff and fixed devices are dropped: the store's list (footfall_fixed_devices: listed by
   the merchant, or detected: seen over 6 h a day on 3 of the last 7 days). A device is known
   there by its stable, merchant-keyed `device_hash`; only devices whose MAC is stable can be
   recognised (associated devices, and probers with a global MAC);
4. a probe becomes `probe_hash` (rotates daily per store) of the MAC the sensor's
   `ProberTracker` (analytics/probers.py) picks for its device, so one phone probing from many
   random MACs counts once; an association becomes `device_hash`.

The raw MAC, and a probe's fingerprint, stay in memory: only hashes reach the database.

Long stays are counted in memory per store and store-local day, for stable hashes only: the
time a device was present (gaps up to PRESENCE_GAP added up). When a device passes 6 h on a
day, a footfall_long_stays row is written; a device with long stays on 3 of the last 7 days
becomes a detected fixed device, and its observations are dropped from then on. Each
controller process counts what it receives: with several sharing the routers' messages, a
device's time is split among them (docs/footfall-ingest.md).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import asyncpg

import accounts.services as accounts
from analytics.capture import SUBTYPE_PROBE_REQ, Frame
from analytics.observations import (
    FUTURE_SLACK,
    Observation,
    OnDevicesSeen,
    OnRecorded,
    Recorded,
    StoreRows,
    record_observations,
    record_store_observations,
)
from kernel.privacy import device_hash, merchant_key, normalize_mac, probe_key
from kernel.sql import load_queries

log = logging.getLogger("portico.analytics.ingest")
queries = load_queries(__file__, "observations.sql")

MIN_RSSI = -85  # dBm: weaker is not "detected" (PRODUCT.md §3)
LONG_STAY_SECONDS = 6 * 3600
FIXED_DAYS = 3  # long stays on this many …
FIXED_WINDOW_DAYS = 7  # … of the last this many days make a fixed device
PRESENCE_GAP = 300  # seconds between two sightings still counted as present in between
STORE_TTL = 60.0  # seconds a store's time zone and fixed devices are trusted
STATION_FILL = 300  # seconds between the assoc observations filled in from join to leave
STATION_CAP = 12 * 3600  # the longest stretch filled in (a visit's cap)
BROADCAST = "ff:ff:ff:ff:ff:ff"
_HASH_CACHE = 200_000  # hashes remembered per store and day before the cache starts anew
_NORMAL_MAC = re.compile(r"[0-9a-f]{2}(?::[0-9a-f]{2}){5}")  # kernel.privacy.normalize_mac's


class Tracker(Protocol):
    """analytics.probers.ProberTracker: the MAC that stands for a probe's device."""

    def assign(self, frame: Frame) -> str: ...


def default_tracker() -> Tracker:
    from analytics.probers import ProberTracker

    return ProberTracker()


@dataclass(frozen=True, slots=True)
class Sighting:
    """A device heard at a zone (a sensor or access point: its router id). `mac` raw, as
    heard; `frame`: a probe request's frame for the prober tracker (memory only)."""

    zone: str
    mac: str
    ts: float
    rssi: int | None
    source: str  # 'probe' | 'assoc'
    frame: Frame | None = None


def probe_sighting(
    zone: str, mac: str, ts: float, rssi: int | None, seq: int, fingerprint: int
) -> Sighting:
    """A probe request summarised by a router (the `probes` telemetry), as a sighting whose
    frame carries what the prober tracker reads from a captured one."""
    frame = Frame(
        ts=ts,
        src=mac,
        dst=BROADCAST,
        rssi=rssi,
        seq=seq,
        freq=None,
        subtype=SUBTYPE_PROBE_REQ,
        fingerprint=fingerprint,
        ssid=None,
    )
    return Sighting(zone, mac, ts, rssi, "probe", frame)


@dataclass
class _Fold:
    """Probe frames folded into rows: {(device's MAC, second): [hash, rssi, randomized]} (of
    the first frame of the strongest signal), with what was left out, frame by frame."""

    newest: float  # later rows are refused (record_observations' FUTURE_SLACK)
    rows: dict[tuple[str, int], list[Any]] = field(default_factory=dict)
    folded: int = 0  # frames of a second that already had a row
    out_of_window: int = 0


@dataclass
class _Presence:
    seconds: float = 0.0
    last: float = 0.0
    written: float = 0.0  # seconds when last written to footfall_long_stays


@dataclass
class _Store:
    timezone: ZoneInfo
    fixed: set[str]
    read_at: float
    day: date | None = None
    day_span: tuple[float, float] = (0.0, -1.0)
    probe_key: bytes = b""
    probe_hashes: dict[str, str] = field(default_factory=dict)
    stays: dict[date, dict[str, _Presence]] = field(default_factory=dict)


class FootfallIngest:
    """Sightings to stored observations for one process (the controller's telemetry, or an
    import). Keeps in memory: per-sensor prober trackers, stores' time zones and fixed devices
    (refreshed every STORE_TTL), long-stay time, stations joined and not yet left."""

    def __init__(
        self,
        secret_key: str,
        *,
        on_recorded: OnRecorded | None = None,
        on_devices_seen: OnDevicesSeen | None = None,
        tracker_factory: Callable[[], Tracker] = default_tracker,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._secret = secret_key
        self._on_recorded = on_recorded
        self._on_devices_seen = on_devices_seen
        self._tracker_factory = tracker_factory
        self._clock = clock
        self._trackers: dict[str, Tracker] = {}
        self._stores: dict[tuple[uuid.UUID, uuid.UUID], _Store] = {}
        self._merchant_keys: dict[uuid.UUID, bytes] = {}
        self._joined: dict[tuple[str, str], tuple[float, int | None]] = {}
        # Per merchant: raw MAC -> _facts (memory only, like the MACs themselves).
        self._macs: dict[uuid.UUID, dict[str, tuple[str | None, bool, bool, str]]] = {}
        self.counts: dict[str, int] = {}

    def _count(self, what: str, n: int = 1) -> None:
        self.counts[what] = self.counts.get(what, 0) + n

    async def record(
        self,
        conn: asyncpg.Connection,
        merchant_id: uuid.UUID,
        store_id: uuid.UUID,
        sightings: Iterable[Sighting],
        *,
        now: float | None = None,
    ) -> Recorded:
        """Hash, filter and store one store's sightings (in the caller's transaction if any);
        on_recorded is called with what was new, on_devices_seen with the stable devices seen
        (analytics.observations). `now`: the time the sightings arrived at (history fed
        afterwards, as by the demo), for the raw retention window."""
        store = await self._store(conn, merchant_id, store_id)
        rows, stays = self._rows(merchant_id, store_id, store, sightings)
        recorded = await record_observations(
            conn,
            rows,
            on_recorded=self._on_recorded,
            on_devices_seen=self._on_devices_seen,
            now=now,
        )
        await self._long_stays(conn, merchant_id, store_id, store, stays)
        self._count("inserted", recorded.inserted)
        self._count("duplicates", recorded.duplicates)
        self._count("out_of_window", recorded.out_of_window)
        return recorded

    async def record_probes(
        self,
        conn: asyncpg.Connection,
        merchant_id: uuid.UUID,
        store_id: uuid.UUID,
        zone: str,
        frames: Sequence[Frame],
        *,
        shift: float = 0.0,
    ) -> Recorded:
        """`record` of the sightings `Sighting(zone, f.src, f.ts + shift, f.rssi, "probe", f)`
        of captured probe requests (analytics/importer.py), made for speed: the same rows,
        counts and long stays, except that rows older than the raw retention are stored too
        (record_store_observations). No object per frame, and the frames of one device and
        second are folded into one row (the strongest signal, as record_observations keeps)
        before they are hashed and sent."""
        store = await self._store(conn, merchant_id, store_id)
        fold = _Fold(time.time() + FUTURE_SLACK)
        stays = self._fold_probes(fold, merchant_id, store_id, store, zone, frames, shift)
        rows = StoreRows(
            [second for _device, second in fold.rows],
            [row[0] for row in fold.rows.values()],
            [row[1] for row in fold.rows.values()],
            [row[2] for row in fold.rows.values()],
        )
        recorded = await record_store_observations(
            conn, merchant_id, store_id, zone, "probe", rows, on_recorded=self._on_recorded
        )
        # Counted per frame, as record counts them.
        recorded.out_of_window += fold.out_of_window
        recorded.duplicates += fold.folded
        await self._long_stays(conn, merchant_id, store_id, store, stays)
        self._count("inserted", recorded.inserted)
        self._count("duplicates", recorded.duplicates)
        self._count("out_of_window", recorded.out_of_window)
        return recorded

    def _fold_probes(
        self,
        fold: _Fold,
        merchant_id: uuid.UUID,
        store_id: uuid.UUID,
        store: _Store,
        zone: str,
        frames: Sequence[Frame],
        shift: float,
    ) -> list[tuple[date, str, float]]:
        """_rows for probe frames, step by step the same, into `fold`; the long stays."""
        stays: list[tuple[date, str, float]] = []
        rows, newest = fold.rows, fold.newest
        device_key = self._merchant_key(merchant_id)
        known = self._macs.setdefault(merchant_id, {})
        if len(known) > _HASH_CACHE:
            known.clear()
        tracker = self._trackers.get(zone)
        if tracker is None:
            tracker = self._trackers[zone] = self._tracker_factory()
        assign = tracker.assign
        day, (day_from, day_to) = store.day, store.day_span
        for frame in frames:
            facts = known.get(frame.src)
            if facts is None:
                facts = known[frame.src] = self._facts(device_key, frame.src)
            mac, multicast, randomized, stable = facts
            rssi = frame.rssi
            if mac is None:
                self._count("bad_sighting")
                continue
            if multicast:
                self._count("dropped_multicast")
                continue
            if rssi is not None and rssi < MIN_RSSI:
                self._count("dropped_weak")
                continue
            if not randomized and stable in store.fixed:
                self._count("dropped_fixed")
                continue
            ts = frame.ts + shift
            if day is None or not day_from <= ts < day_to:  # _day's own test, inlined
                day = self._day(merchant_id, store_id, store, ts)
                day_from, day_to = store.day_span
            if not randomized:
                stay = self._stay(store, day, stable, ts)
                if stay is not None:
                    stays.append((day, stable, stay))
            device = assign(frame)
            second = int(ts)
            if second > newest:
                fold.out_of_window += 1
                continue
            row = rows.get((device, second))
            if row is None:
                # One device and second: one day, so one hash.
                rows[(device, second)] = [self._probe_hash(store, device), rssi, randomized]
            else:
                fold.folded += 1
                if (rssi or -128) > (row[1] or -128):  # record_observations' rule
                    row[1:] = rssi, randomized
        return stays

    async def _long_stays(
        self,
        conn: asyncpg.Connection,
        merchant_id: uuid.UUID,
        store_id: uuid.UUID,
        store: _Store,
        stays: list[tuple[date, str, float]],
    ) -> None:
        for day, device, seconds in stays:
            fixed = await conn.fetchval(
                queries.record_long_stay,
                merchant_id,
                store_id,
                day,
                device,
                int(seconds),
                FIXED_DAYS,
                day - timedelta(days=FIXED_WINDOW_DAYS - 1),
            )
            if fixed and device not in store.fixed:
                store.fixed.add(device)
                log.info("a device of store %s is now a fixed device (long stays)", store_id)

    async def _store(
        self, conn: asyncpg.Connection, merchant_id: uuid.UUID, store_id: uuid.UUID
    ) -> _Store:
        now = time.monotonic()
        store = self._stores.get((merchant_id, store_id))
        if store is not None and now - store.read_at < STORE_TTL:
            return store
        found = await accounts.get_store(conn, merchant_id, store_id)
        if found is None:
            raise LookupError(f"no store {store_id} of merchant {merchant_id}")
        fixed = {
            r["device_hash"]
            for r in await conn.fetch(queries.fixed_devices_of_store, merchant_id, store_id)
        }
        if store is None:
            store = self._stores[(merchant_id, store_id)] = _Store(
                ZoneInfo(found.timezone), fixed, now
            )
        else:
            store.timezone, store.fixed, store.read_at = ZoneInfo(found.timezone), fixed, now
        return store

    def _merchant_key(self, merchant_id: uuid.UUID) -> bytes:
        key = self._merchant_keys.get(merchant_id)
        if key is None:
            key = self._merchant_keys[merchant_id] = merchant_key(self._secret, str(merchant_id))
        return key

    def _rows(
        self,
        merchant_id: uuid.UUID,
        store_id: uuid.UUID,
        store: _Store,
        sightings: Iterable[Sighting],
    ) -> tuple[list[Observation], list[tuple[date, str, float]]]:
        rows: list[Observation] = []
        stays: list[tuple[date, str, float]] = []
        device_key = self._merchant_key(merchant_id)
        known = self._macs.setdefault(merchant_id, {})
        if len(known) > _HASH_CACHE:
            known.clear()
        for sighting in sightings:
            # What a MAC is (multicast, randomised, its stable hash) is worked out once.
            facts = known.get(sighting.mac)
            if facts is None:
                facts = known[sighting.mac] = self._facts(device_key, sighting.mac)
            mac, multicast, randomized, stable_hash = facts
            if mac is None or sighting.source not in ("probe", "assoc"):
                self._count("bad_sighting")
                continue
            if multicast:
                self._count("dropped_multicast")
                continue
            if sighting.rssi is not None and sighting.rssi < MIN_RSSI:
                self._count("dropped_weak")
                continue
            stable = None
            if sighting.source == "assoc" or not randomized:
                stable = stable_hash or self._stable(device_key, mac)
                if stable in store.fixed:
                    self._count("dropped_fixed")
                    continue
            day = self._day(merchant_id, store_id, store, sighting.ts)
            if stable is not None:
                stay = self._stay(store, day, stable, sighting.ts)
                if stay is not None:
                    stays.append((day, stable, stay))
            if sighting.source == "assoc":
                hashed = stable
            else:
                tracker = self._trackers.get(sighting.zone)
                if tracker is None:
                    tracker = self._trackers[sighting.zone] = self._tracker_factory()
                representative = mac if sighting.frame is None else tracker.assign(sighting.frame)
                hashed = self._probe_hash(store, representative)
            assert hashed is not None
            rows.append(
                Observation(
                    merchant_id,
                    store_id,
                    sighting.zone,
                    sighting.ts,
                    hashed,
                    sighting.source,
                    sighting.rssi,
                    randomized,
                )
            )
        return rows, stays

    @staticmethod
    def _probe_hash(store: _Store, representative: str) -> str:
        """kernel.privacy.probe_hash with the store's key of the day, remembered for the day."""
        hashed = store.probe_hashes.get(representative)
        if hashed is None:
            if len(store.probe_hashes) >= _HASH_CACHE:
                store.probe_hashes.clear()
            hashed = hmac.new(store.probe_key, representative.encode(), hashlib.sha256).hexdigest()
            hashed = store.probe_hashes[representative] = hashed[:32]
        return hashed

    @staticmethod
    def _facts(device_key: bytes, raw: str) -> tuple[str | None, bool, bool, str]:
        """(normal form or None, multicast, randomised, stable device_hash) of a MAC; the
        hash only for a global MAC (a random one needs it only when it is associated)."""
        # A captured MAC is in normal form already (checked at a third of normalize_mac's cost).
        mac = raw if _NORMAL_MAC.fullmatch(raw) else normalize_mac(raw)
        if mac is None:
            return None, False, False, ""
        first = int(mac[:2], 16)
        randomized = bool(first & 0x02)
        stable = "" if randomized else FootfallIngest._stable(device_key, mac)
        return mac, bool(first & 0x01), randomized, stable

    @staticmethod
    def _stable(device_key: bytes, mac: str) -> str:
        """kernel.privacy.device_hash, with the merchant's key already derived."""
        return hmac.new(device_key, mac.encode(), hashlib.sha256).hexdigest()[:32]

    def _day(self, merchant_id: uuid.UUID, store_id: uuid.UUID, store: _Store, ts: float) -> date:
        """The store-local day of `ts`; the store's probe key follows the day."""
        start, end = store.day_span
        if start <= ts < end and store.day is not None:
            return store.day
        local = datetime.fromtimestamp(ts, store.timezone)
        day = local.date()
        midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
        following = (midnight + timedelta(days=1, hours=3)).replace(hour=0)
        store.day, store.day_span = day, (midnight.timestamp(), following.timestamp())
        store.probe_key = probe_key(self._secret, str(merchant_id), str(store_id), day)
        store.probe_hashes = {}
        return day

    def _stay(self, store: _Store, day: date, device: str, ts: float) -> float | None:
        """Add a stable device's time present; its seconds when it is a long stay to write."""
        stays = store.stays.get(day)
        if stays is None:
            stays = store.stays[day] = {}
            for old in [d for d in store.stays if d < day - timedelta(days=1)]:
                del store.stays[old]
        presence = stays.get(device)
        if presence is None:
            stays[device] = _Presence(0.0, ts)
            return None
        if ts <= presence.last:
            return None  # out of order or replayed: counted once
        if ts - presence.last <= PRESENCE_GAP:
            presence.seconds += ts - presence.last
        presence.last = ts
        # Written when it passes the threshold, then again each hour it grows.
        if presence.seconds > LONG_STAY_SECONDS and presence.seconds - presence.written >= (
            3600 if presence.written else 0
        ):
            presence.written = presence.seconds
            return presence.seconds
        return None

    def station_event(
        self, zone: str, mac: str, ts: float, event: str, rssi: int | None
    ) -> list[Sighting]:
        """A station join/leave as `assoc` sightings: the join itself; at the leave, one every
        STATION_FILL seconds since the join (at most STATION_CAP back) and the leave. A leave
        whose join this process did not see (a restart, another controller) gives the leave
        only. A join is remembered (in memory, for the leave) until STATION_CAP has passed."""
        key = (zone, mac)
        if event == "join":
            self._joined[key] = (ts, rssi)
            if len(self._joined) % 1024 == 0:
                self._forget_stale_joins()
            return [Sighting(zone, mac, ts, rssi, "assoc")]
        joined = self._joined.get(key)  # kept: a redelivered leave fills in the same again
        sightings = []
        if joined is not None and joined[0] < ts:
            start = max(joined[0], ts - STATION_CAP)
            signal = joined[1] if joined[1] is not None else rssi
            at = start
            while at < ts:
                sightings.append(Sighting(zone, mac, at, signal, "assoc"))
                at += STATION_FILL
        sightings.append(Sighting(zone, mac, ts, rssi, "assoc"))
        return sightings

    def _forget_stale_joins(self) -> None:
        oldest = self._clock() - STATION_CAP
        for key in [k for k, (ts, _) in self._joined.items() if ts < oldest]:
            del self._joined[key]


async def list_fixed_device(
    conn: asyncpg.Connection | asyncpg.Pool,
    secret_key: str,
    merchant_id: uuid.UUID,
    store_id: uuid.UUID,
    mac: str,
) -> str:
    """A merchant names a staff or fixed device of a store by its MAC: kept only as the
    merchant-keyed hash, which is returned. Its observations are dropped from the next
    refresh of each ingest's store cache (STORE_TTL) on."""
    normal = normalize_mac(mac)
    if normal is None:
        raise ValueError(f"{mac!r} is not a MAC address")
    hashed = device_hash(secret_key, str(merchant_id), normal)
    await conn.execute(queries.list_fixed_device, merchant_id, store_id, hashed)
    return hashed


async def unlist_fixed_device(
    conn: asyncpg.Connection | asyncpg.Pool,
    secret_key: str,
    merchant_id: uuid.UUID,
    store_id: uuid.UUID,
    mac: str,
) -> bool:
    """Take a MAC off a store's list; whether it was listed."""
    normal = normalize_mac(mac)
    if normal is None:
        raise ValueError(f"{mac!r} is not a MAC address")
    hashed = device_hash(secret_key, str(merchant_id), normal)
    result = await conn.execute(queries.unlist_fixed_device, merchant_id, store_id, hashed)
    return result.endswith(" 1")
