"""Footfall at scale: observation ingest into PostgreSQL, capture import, a long history and
the metric queries and dashboard pages on it.

    .venv/bin/python -m bench.footfall ingest  [--rows 1000000] [--workers 2] [--no-marketing]
                                               [--write]
    .venv/bin/python -m bench.footfall capture [--frames 1000000] [--write]
    .venv/bin/python -m bench.footfall import  [--frames 500000] [--write]
    .venv/bin/python -m bench.footfall seed    [--days 90] [--stores 20] [--scale 1]
                                               [--template-days 28] [--keep] [--write]
    .venv/bin/python -m bench.footfall queries --database-url URL [--requests 50] [--write]

Everything comes from the shopper model (simulators/shoppers.py), in a throwaway database
(bench/harness.py, dropped at the end unless `--keep`), beside the bare aiohttp handler
measured in the same run (`× bare`).

- ingest: one mall store's last 23 hours of observations (hashed as analytics.ingest hashes
  them), repeated over as many stores as `--rows` needs, stored through
  `analytics.observations.record_observations` in batches of 5,000 by `--workers` connections
  (the rollups marked, and precision marketing told the stable devices seen, thinned to one
  sighting per device, store and minute, in the same transaction, as the controller does;
  `--no-marketing`: without the marketing hook, for comparison); then the privacy step too
  (`analytics.ingest.FootfallIngest.record`: hashing, prober de-duplication) in one process.
  Target ≥ 50,000 observations/s sustained.
- capture: a pcap (linktype 127) of the model's frames, read by `analytics.capture.read_frames`
  in one process. Target ≥ 100,000 frames/s per core.
- import: the last 23 hours of one router of a busy mall store (the shopper model scaled up
  until its capture holds `--frames`: randomised phones, laptops and appliances with global
  MACs, staff, fixed devices), written by simulators/pcap_writer.py, imported by
  `analytics.importer.import_pcaps` (what `portico analytics import-pcap` runs: reading,
  privacy step, store, rollup marks) into a fresh database, with the reading alone timed in
  the same run. Frames per second of wall time and per CPU second of the process (the
  machine is shared: CPU seconds are the figure that holds). Target ≥ 100,000 frames per
  CPU second.
- seed: `--days` × `--stores` of history (issue 7: 90 days × 20 stores, ≥ 50 M observations).
  The model simulates `--template-days` of a mall store, a food court and a café once (in
  parallel processes), through the parts of the privacy step that depend neither on the store
  nor the day (analytics.ingest: weak and multicast dropped, prober de-duplication, station
  joins filled in, fixed devices left out); every store then replays one of them from its own
  week, its probes hashed with the store's key of the day, other shoppers' devices new per
  store and day, regulars' and staff's the same every day. Day by day, as the days would have
  arrived: observations through `record_observations` (now = the end of that day, so they are
  within the raw retention; rollups marked in the same transaction), logins through
  `analytics.services.record_event`, then the rollup job (`run_rollups`) and the retention job
  (`enforce_retention`: raw day partitions past 24 h dropped) at the end of the day; visits
  past 30 days deleted at the end. The database ends as after 90 days of operation: rollups
  of 90 days, visits of 30, raw observations of the last day. One progress line a day; with
  `--keep` the database stays for `queries` and its URL is printed.
- queries: on the seeded database, `portico serve console` in its own process, signed in as
  an owner of the merchant: each metric of the JSON API (/api/footfall/<metric>) and each
  dashboard page (/footfall…), for one store and for all stores, over 90 days (hours: 31),
  timed over `--requests` sequential GETs after a warm-up, beside a bare aiohttp handler timed
  the same way. Target: each < 200 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import hashlib
import hmac
import itertools
import multiprocessing
import os
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

import accounts.services as accounts
import analytics.services as analytics
from analytics.capture import Frame, read_frames
from analytics.importer import Imported, import_pcaps
from analytics.ingest import (
    FIXED_DAYS,
    LONG_STAY_SECONDS,
    MIN_RSSI,
    PRESENCE_GAP,
    FootfallIngest,
    probe_sighting,
)
from analytics.observations import Observation, record_observations
from analytics.probers import ProberTracker
from analytics.retention import enforce_retention
from analytics.rollups import delete_old_visits, mark_dirty, run_rollups
from analytics.rollups import queries as rollup_queries
from bench.harness import (
    BenchError,
    Bounds,
    Outcome,
    bare_baseline,
    bench_database,
    console_session,
    load_tool,
    machine_facts,
    marker,
    running_bare,
    running_console,
    sign_in,
    timed_gets,
    with_database,
    write_section,
)
from kernel.db import create_pool, migrate
from kernel.privacy import device_hash, merchant_key, probe_key
from marketing.intake import Sightings
from simulators import probes, shoppers
from simulators.pcap_writer import write_header, write_pcap, write_records

SECRET = "bench-secret-" + "x" * 40
BATCH = 5_000
SEED = 7
ZONES = ("ap-1", "ap-2")


def progress(label: str, done: float, total: float, started: float) -> None:
    """One line on a terminal, redrawn; nothing when stderr is not one."""
    if not sys.stderr.isatty():
        return
    width = 30
    filled = int(width * done / max(total, 1))
    rate = done / max(time.monotonic() - started, 1e-9)
    bar = "#" * filled + "." * (width - filled)
    sys.stderr.write(f"\r{label} [{bar}] {done:,.0f}/{total:,.0f} ({rate:,.0f}/s)")
    if done >= total:
        sys.stderr.write("\n")
    sys.stderr.flush()


# -- observations as analytics stores them --------------------------------------------------


def day_observations(
    frames: list[probes.ProbeFrame],
    stations: list[shoppers.StationEvent],
    merchant_id: uuid.UUID,
    store_id: uuid.UUID,
    day: date,
) -> list[Observation]:
    """What analytics.ingest makes of one store-day: probes under the day's probe key (one row
    per device, zone and second), stations under the merchant's key. No prober de-duplication
    (that runs in the privacy-step measurement)."""
    key = probe_key(SECRET, str(merchant_id), str(store_id), day)
    merchant = merchant_key(SECRET, str(merchant_id))
    hashes: dict[str, str] = {}
    rows: dict[tuple[str, str, int], Observation] = {}
    for f in frames:
        if f.rssi < -85:
            continue
        hashed = hashes.get(f.src)
        if hashed is None:
            hashed = hashes[f.src] = hmac.new(key, f.src.encode(), hashlib.sha256).hexdigest()[:32]
        rows.setdefault(
            (f.zone, hashed, int(f.ts)),
            Observation(merchant_id, store_id, f.zone, f.ts, hashed, "probe", f.rssi, f.randomized),
        )
    for e in stations:
        hashed = hmac.new(merchant, e.mac.encode(), hashlib.sha256).hexdigest()[:32]
        rows.setdefault(
            (e.zone, hashed, int(e.ts)),
            Observation(
                merchant_id, store_id, e.zone, e.ts, hashed, "assoc", e.rssi,
                probes.is_randomized(e.mac),
            ),
        )  # fmt: skip
    return sorted(rows.values(), key=lambda o: o.seen_at)


async def make_stores(db: asyncpg.Pool, count: int) -> tuple[uuid.UUID, list[uuid.UUID]]:
    async with db.acquire() as conn, conn.transaction():
        merchant = await accounts.create_merchant(conn, f"Bench footfall {uuid.uuid4().hex[:6]}")
        stores = [await accounts.create_store(conn, merchant, f"Store {n}") for n in range(count)]
    return merchant, stores


# -- ingest -----------------------------------------------------------------------------------


@dataclass
class IngestResult:
    rows: int
    inserted: int
    seconds: float
    privacy_rows: int
    privacy_inserted: int
    privacy_seconds: float
    sightings: Sightings | None  # precision marketing's hook (None: --no-marketing)


async def measure_ingest(
    db: asyncpg.Pool, wanted: int, workers: int, marketing: bool = True
) -> IngestResult:
    now = time.time()
    start, end = now - 23 * 3600, now - 60
    profile = shoppers.mall_store("Bench Mall", ZONES)
    frames_iter, truth = shoppers.simulate(profile, start, end, SEED)
    frames = list(frames_iter)
    placeholder = uuid.uuid4()
    one_store = day_observations(frames, truth.stations, placeholder, placeholder, date.today())
    copies = max(1, -(-wanted // len(one_store)))
    merchant, stores = await make_stores(db, copies + 1)
    batches: list[list[Observation]] = []
    for store in stores[:copies]:
        rows = [
            Observation(merchant, store, o.zone, o.seen_at, o.device_hash, o.source, o.rssi,
                        o.randomized)
            for o in one_store
        ]  # fmt: skip
        batches += [rows[i : i + BATCH] for i in range(0, len(rows), BATCH)]
    total = sum(len(b) for b in batches)
    print(f"ingest: {total:,} observations of {copies} stores in batches of {BATCH:,}", flush=True)
    queue: asyncio.Queue[list[Observation]] = asyncio.Queue()
    for batch in batches:
        queue.put_nowait(batch)
    inserted = 0
    # As the controller role wires it (portico/runtime.py), one per process.
    stream = Sightings() if marketing else None
    seen = stream.seen if stream is not None else None
    started = time.monotonic()

    async def worker() -> None:
        nonlocal inserted
        async with db.acquire() as conn:
            while not queue.empty():
                batch = queue.get_nowait()
                result = await record_observations(
                    conn, batch, on_recorded=mark_dirty, on_devices_seen=seen
                )
                inserted += result.inserted
                progress("ingest", total - queue.qsize() * BATCH, total, started)

    await asyncio.gather(*(worker() for _ in range(workers)))
    seconds = time.monotonic() - started
    # The privacy step too (hashing, prober de-duplication, long stays), one process.
    engine = FootfallIngest(SECRET, on_recorded=mark_dirty, on_devices_seen=seen)
    store = stores[copies]
    sightings = [probe_sighting(f.zone, f.src, f.ts, f.rssi, f.seq, f.fingerprint) for f in frames]
    for e in truth.stations:
        sightings += engine.station_event(e.zone, e.mac, e.ts, e.event, e.rssi)
    sightings.sort(key=lambda s: s.ts)
    privacy_inserted = 0
    began = time.monotonic()
    async with db.acquire() as conn:
        for i in range(0, len(sightings), BATCH):
            result = await engine.record(conn, merchant, store, sightings[i : i + BATCH])
            privacy_inserted += result.inserted
    privacy_seconds = time.monotonic() - began
    return IngestResult(
        total, inserted, seconds, len(sightings), privacy_inserted, privacy_seconds, stream
    )


# -- capture ----------------------------------------------------------------------------------


@dataclass
class CaptureResult:
    frames: int
    megabytes: float
    write_seconds: float
    read_seconds: float
    read: int


def measure_capture(wanted: int, workdir: Path) -> CaptureResult:
    """One day of a mall store's frames, repeated a day later each time, as one pcap."""
    profile = shoppers.mall_store("Bench Mall", ZONES)
    start = shoppers.utc(2026, 11, 23, 16).timestamp()
    frames_iter, _ = shoppers.simulate(profile, start, start + 86400, SEED)
    day = [(f.ts, probes.frame_bytes(f)) for f in frames_iter]
    path = workdir / "bench.pcap"
    began = time.monotonic()
    written = 0
    with path.open("wb") as out:
        write_header(out)
        shift = 0
        while written < wanted:
            take = day[: wanted - written]
            written += write_records(out, ((ts + shift, data) for ts, data in take))
            shift += 86400
    write_seconds = time.monotonic() - began
    began = time.monotonic()
    read = 0
    for _frame in read_frames(path):
        read += 1
    read_seconds = time.monotonic() - began
    return CaptureResult(written, path.stat().st_size / 1e6, write_seconds, read_seconds, read)


# -- import: `portico analytics import-pcap` end to end --------------------------------------

IMPORT_ZONE = "ap-1"
FRAMES_PER_SCALE = 29_000  # one router's frames in 23 hours of mall_store at scale 1


@dataclass
class ImportResult:
    frames: int
    megabytes: float
    scale: float
    simulate_seconds: float
    write_seconds: float
    read_cpu: float  # CPU seconds of reading the file alone
    wall: float
    cpu: float
    imported: Imported
    stored: int
    postgres: str

    @property
    def per_cpu_second(self) -> float:
        return self.imported.frames / self.cpu

    @property
    def per_second(self) -> float:
        return self.imported.frames / self.wall


async def measure_import(wanted: int, workdir: Path, database_url: str) -> ImportResult:
    """A capture of about `wanted` frames, imported into a fresh database (see the module
    docstring) by a process of its own, as the command runs: not this one, which holds the
    simulation's millions of objects for the garbage collector to walk."""
    scale = max(1.0, wanted / FRAMES_PER_SCALE)
    now = time.time()
    began = time.monotonic()
    frames, _truth = shoppers.simulate(
        shoppers.mall_store("Bench Mall", (IMPORT_ZONE,), scale), now - 23 * 3600, now - 60, SEED
    )
    records = [(f.ts, probes.frame_bytes(f)) for f in frames]
    simulate_seconds = time.monotonic() - began
    path = workdir / "import.pcap"
    began = time.monotonic()
    write_pcap(path, records)
    write_seconds = time.monotonic() - began
    del records, _truth
    print(
        f"import: {path.stat().st_size / 1e6:,.0f} MB capture (scale {scale:.1f}, simulated in "
        f"{simulate_seconds:.0f} s)",
        flush=True,
    )
    await migrate(database_url)
    db = await create_pool(database_url, size=2)
    try:
        merchant, stores = await make_stores(db, 1)
        spawn = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(1, mp_context=spawn) as child:
            read_cpu, imported, wall, cpu = await asyncio.get_running_loop().run_in_executor(
                child, import_in_child, database_url, str(path), merchant, stores[0]
            )
        stored = await db.fetchval(
            "SELECT count(*) FROM footfall_observations WHERE store_id = $1", stores[0]
        )
        postgres = str(await db.fetchval("SHOW server_version")).split(" ")[0]
    finally:
        await db.close()
    if stored != imported.recorded.inserted or imported.recomputed is not None:
        raise BenchError(f"stored {stored:,} rows, the import says {imported.recorded}")
    return ImportResult(
        imported.frames, path.stat().st_size / 1e6, scale, simulate_seconds, write_seconds,
        read_cpu, wall, cpu, imported, stored, postgres,
    )  # fmt: skip


def import_in_child(
    database_url: str, path: str, merchant: uuid.UUID, store: uuid.UUID
) -> tuple[float, Imported, float, float]:
    """In the child: CPU seconds of reading the file alone, then the import with its wall and
    CPU seconds."""
    cpu = time.process_time()
    for _frame in read_frames(path):
        pass
    read_cpu = time.process_time() - cpu
    imported, wall, cpu = asyncio.run(_import(database_url, path, merchant, store))
    return read_cpu, imported, wall, cpu


async def _import(
    database_url: str, path: str, merchant: uuid.UUID, store: uuid.UUID
) -> tuple[Imported, float, float]:
    db = await create_pool(database_url, size=2)
    try:
        wall, cpu = time.monotonic(), time.process_time()
        imported = await import_pcaps(
            db,
            SECRET,
            [path],
            merchant_id=merchant,
            store_id=store,
            zone=IMPORT_ZONE,
            on_recorded=mark_dirty,  # as portico/cli.py wires the command
            progress=sys.stderr,
        )
        return imported, time.monotonic() - wall, time.process_time() - cpu
    finally:
        await db.close()


# -- seed: 90 days × 20 stores of history ----------------------------------------------------

MERCHANT_NAME = "Bench footfall history"
TIMEZONE = "Asia/Shanghai"  # the shopper model's and the stores' (accounts.create_store)
TEMPLATE_START = date(2026, 10, 5)  # a Monday: template day i falls on weekday i % 7
LASTING = ("regular-", "staff-", "fixed-")  # shoppers.Store's people who come back as themselves
PROFILES = 3  # mall_store, food_court, cafe

# (seconds after the store-local midnight, zone, MAC standing for the device, source, rssi,
# randomized): an observation before hashing.
TemplateRow = tuple[int, str, str, str, int, bool]


@dataclass
class TemplateDay:
    """One store-local day of a profile, as the privacy step leaves it before hashing."""

    rows: list[TemplateRow]  # by time
    people: dict[str, str]  # an associating MAC -> the shopper model's person
    logins: list[tuple[int, str, str]]  # (seconds after midnight, zone, MAC)


def seed_profile(index: int, scale: float) -> shoppers.StoreProfile:
    name = f"Bench store profile {index}"
    maker = (shoppers.mall_store, shoppers.food_court, shoppers.cafe)[index % PROFILES]
    return maker(name, ZONES, scale)


def build_template(index: int, days: int, scale: float) -> list[TemplateDay]:
    """`days` store-local days of profile `index` from the shopper model, through the steps of
    analytics.ingest.FootfallIngest that depend neither on the store nor on the day: weak
    (< -85 dBm) and multicast sightings dropped, each sensor's probes de-duplicated by an
    analytics.probers.ProberTracker, station joins and leaves filled in
    (FootfallIngest.station_event), fixed devices (> 6 h on >= 3 days) left out, one row per
    device, zone, source and second (the strongest). Still by MAC: the replay hashes."""
    profile = seed_profile(index, scale)
    tz = ZoneInfo(profile.timezone)
    start = datetime(TEMPLATE_START.year, TEMPLATE_START.month, TEMPLATE_START.day, tzinfo=tz)
    midnights = [int((start + timedelta(days=d)).timestamp()) for d in range(days + 1)]
    frames, truth = shoppers.simulate(profile, midnights[0], midnights[-1], SEED + index)
    kept: list[dict[tuple[str, str, str, int], tuple[int, bool]]] = [{} for _ in range(days)]
    stable: dict[tuple[int, str], list[float]] = defaultdict(list)  # (day, MAC) -> times

    def add(ts: float, zone: str, mac: str, source: str, rssi: int, randomized: bool) -> int:
        day = bisect.bisect_right(midnights, ts) - 1
        if 0 <= day < days:
            key = (zone, mac, source, int(ts) - midnights[day])
            old = kept[day].get(key)
            if old is None or rssi > old[0]:
                kept[day][key] = (rssi, randomized)
        return day

    trackers = {zone: ProberTracker() for zone in profile.zones}
    for f in frames:
        if f.rssi < MIN_RSSI or int(f.src[:2], 16) & 1:
            continue
        representative = trackers[f.zone].assign(Frame(*f[:9]))
        randomized = probes.is_randomized(f.src)
        day = add(f.ts, f.zone, representative, "probe", f.rssi, randomized)
        if not randomized:
            stable[(day, f.src)].append(f.ts)
    clock = [float(midnights[0])]
    engine = FootfallIngest(SECRET, clock=lambda: clock[0])  # its joins follow model time
    people: dict[str, str] = {}
    for e in truth.stations:
        clock[0] = e.ts
        people[e.mac] = e.person
        for s in engine.station_event(e.zone, e.mac, e.ts, e.event, e.rssi):
            if s.rssi is None or s.rssi >= MIN_RSSI:
                day = add(s.ts, s.zone, s.mac, "assoc", s.rssi or 0, probes.is_randomized(s.mac))
                stable[(day, s.mac)].append(s.ts)
    fixed = fixed_devices(stable)
    template = []
    for day in range(days):
        rows = [
            (offset, zone, mac, source, rssi, randomized)
            for (zone, mac, source, offset), (rssi, randomized) in kept[day].items()
            if mac not in fixed
        ]
        rows.sort()
        logins = [
            (int(login.ts) - midnights[day], login.zone, login.mac)
            for login in truth.logins
            if midnights[day] <= login.ts < midnights[day + 1]
        ]
        template.append(TemplateDay(rows, people, logins))
    return template


def fixed_devices(stable: dict[tuple[int, str], list[float]]) -> set[str]:
    """Stable MACs present over LONG_STAY_SECONDS (gaps up to PRESENCE_GAP added up) on at
    least FIXED_DAYS days: what analytics.ingest learns to drop after a few days."""
    long_days: dict[str, int] = defaultdict(int)
    for (_day, mac), times in stable.items():
        times.sort()
        present = sum(b - a for a, b in itertools.pairwise(times) if b - a <= PRESENCE_GAP)
        if present > LONG_STAY_SECONDS:
            long_days[mac] += 1
    return {mac for mac, n in long_days.items() if n >= FIXED_DAYS}


def other_device(mac: str, salt: str) -> str:
    """Another device of the same kind: the first octet kept (its randomised and multicast
    bits), the other five drawn from a hash of `salt` and the MAC."""
    digest = hashlib.blake2b(f"{salt}|{mac}".encode(), digest_size=5).hexdigest()
    return mac[:2] + "".join(":" + digest[i : i + 2] for i in range(0, 10, 2))


@dataclass
class Replay:
    """The templates played by each store on each day: store n plays profile n % 3, starting
    (n // 3) weeks into the template, so the stores of one profile are not in step. Probes are
    hashed with the store's key of the day (kernel.privacy.probe_hash, as FootfallIngest
    does); an associating MAC becomes another device per store (regulars, staff and fixed
    devices: the same one every day) or per store and day (everyone else), hashed with the
    merchant's key (kernel.privacy.device_hash, as the portal hashes logins)."""

    merchant: uuid.UUID
    stores: list[uuid.UUID]
    templates: list[list[TemplateDay]]
    cut: float  # nothing after this moment (the last day is today: up to now)

    def store_day(
        self, n: int, day: date
    ) -> tuple[list[Observation], list[tuple[datetime, str, str]]]:
        merchant, store = self.merchant, self.stores[n]
        template = self.templates[n % PROFILES]
        today = template[((day - TEMPLATE_START).days + 7 * (n // PROFILES)) % len(template)]
        midnight = int(
            datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(TIMEZONE)).timestamp()
        )
        key = probe_key(SECRET, str(merchant), str(store), day)
        hashes: dict[tuple[str, str], str] = {}
        rows = []
        for offset, zone, mac, source, rssi, randomized in today.rows:
            ts = midnight + offset
            if ts > self.cut:
                break
            hashed = hashes.get((source, mac))
            if hashed is None:
                if source == "probe":
                    hashed = hmac.new(key, mac.encode(), hashlib.sha256).hexdigest()[:32]
                else:
                    hashed = self.assoc_hash(n, day, mac, today.people.get(mac, ""))
                hashes[(source, mac)] = hashed
            rows.append(Observation(merchant, store, zone, ts, hashed, source, rssi, randomized))
        logins = [
            (
                datetime.fromtimestamp(midnight + offset, UTC),
                zone,
                self.assoc_hash(n, day, mac, today.people.get(mac, "")),
            )
            for offset, zone, mac in today.logins
            if midnight + offset <= self.cut
        ]
        return rows, logins

    def assoc_hash(self, n: int, day: date, mac: str, person: str) -> str:
        salt = str(n) if person.startswith(LASTING) else f"{n}:{day.isoformat()}"
        return device_hash(SECRET, str(self.merchant), other_device(mac, salt))


@dataclass
class SeedResult:
    days: int
    stores: int
    scale: float
    template_days: int
    template_seconds: float
    inserted: int = 0
    duplicates: int = 0
    out_of_window: int = 0
    logins: int = 0
    ingest_seconds: float = 0.0
    rollup_seconds: float = 0.0
    retention_seconds: float = 0.0
    seconds: float = 0.0
    final: dict[str, Any] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.inserted / self.ingest_seconds if self.ingest_seconds else 0.0


async def build_templates(days: int, scale: float, workers: int) -> list[list[TemplateDay]]:
    loop = asyncio.get_running_loop()
    with ProcessPoolExecutor(max_workers=max(1, min(workers, PROFILES))) as pool:
        return list(
            await asyncio.gather(
                *(
                    loop.run_in_executor(pool, build_template, index, days, scale)
                    for index in range(PROFILES)
                )
            )
        )


async def make_history_stores(db: asyncpg.Pool, count: int) -> tuple[uuid.UUID, list[uuid.UUID]]:
    async with db.acquire() as conn, conn.transaction():
        merchant = await accounts.create_merchant(conn, MERCHANT_NAME)
        stores = [
            await accounts.create_store(conn, merchant, f"Store {n} ({kind})", TIMEZONE)
            for n, kind in ((n, ("mall", "food court", "café")[n % PROFILES]) for n in range(count))
        ]
    return merchant, stores


async def seed_history(db: asyncpg.Pool, args: argparse.Namespace) -> SeedResult:
    """`args.days` store-local days × `args.stores` stores, day by day as they would have
    arrived: each store's observations through record_observations (now = the end of that
    day; the rollups marked in the same transaction) and its logins through record_event; then
    the rollup job (run_rollups, now = the end of the day) and the retention job
    (enforce_retention: raw partitions past 24 h dropped). At the end, the visits past
    retention are deleted (delete_old_visits)."""
    began = time.monotonic()
    templates = await build_templates(args.template_days, args.scale, args.workers)
    result = SeedResult(
        args.days, args.stores, args.scale, args.template_days, time.monotonic() - began
    )
    sizes = [sum(len(d.rows) for d in t) / len(t) for t in templates]
    print(
        f"seed: templates of {args.template_days} days built in {result.template_seconds:.0f} s "
        f"(observations a day: {', '.join(f'{s:,.0f}' for s in sizes)})",
        flush=True,
    )
    merchant, stores = await make_history_stores(db, args.stores)
    cut = time.time()
    tz = ZoneInfo(TIMEZONE)
    today = datetime.fromtimestamp(cut, tz).date()
    first = today - timedelta(days=args.days - 1)
    replay = Replay(merchant, stores, templates, cut)
    # The retention job keeps the day partitions ready ahead (and concurrent first inserts of a
    # day would race to create its partition: DuplicateTableError).
    await enforce_retention(
        db, now=datetime(first.year, first.month, first.day, tzinfo=tz).timestamp()
    )
    for d in range(args.days):
        day = first + timedelta(days=d)
        following = datetime(day.year, day.month, day.day, tzinfo=tz) + timedelta(days=1)
        end = min(cut, following.timestamp())
        t0 = time.monotonic()
        inserted = await ingest_day(db, replay, day, end, args.workers, result)
        t1 = time.monotonic()
        at = datetime.fromtimestamp(end, UTC)
        for _ in range(10):  # marks written while it ran wait for the next run
            await asyncio.gather(*(run_rollups(db, now=at) for _ in range(args.workers)))
            if not await db.fetchval(rollup_queries.dirty_count):
                break
        t2 = time.monotonic()
        done = await enforce_retention(db, now=end)
        await autovacuum(db)
        t3 = time.monotonic()
        result.ingest_seconds += t1 - t0
        result.rollup_seconds += t2 - t1
        result.retention_seconds += t3 - t2
        dropped = (
            f"; dropped {', '.join(done.partitions_dropped)}" if done.partitions_dropped else ""
        )
        print(
            f"seed: day {d + 1}/{args.days} {day}: {inserted:,} observations in {t1 - t0:.1f} s "
            f"({inserted / max(t1 - t0, 1e-9):,.0f}/s), rollups {t2 - t1:.1f} s, retention "
            f"{t3 - t2:.1f} s{dropped}; total {result.inserted:,}",
            flush=True,
        )
        progress("seed", d + 1, args.days, began)
    await delete_old_visits(db)
    await autovacuum(db)
    result.seconds = time.monotonic() - began
    result.final = await history_facts(db, merchant)
    return result


# What autovacuum would keep current in production; it is off on some test servers (`SHOW
# autovacuum`), and without statistics the planner picks nested loops over the growing tables.
VACUUMED = ("footfall_visits", "footfall_hourly", "footfall_daily", "footfall_dirty", "events")


# The pool's 30 s statement timeout is for requests; a VACUUM of a 90-day table on a busy
# machine took longer (a seed lost 43 minutes to it).
MAINTENANCE_TIMEOUT = 1800.0


async def autovacuum(db: asyncpg.Pool) -> None:
    async with db.acquire() as conn:
        for table in VACUUMED:
            await conn.execute(f"VACUUM (ANALYZE) {table}", timeout=MAINTENANCE_TIMEOUT)
        await conn.execute("ANALYZE footfall_observations", timeout=MAINTENANCE_TIMEOUT)


async def ingest_day(
    db: asyncpg.Pool, replay: Replay, day: date, now: float, workers: int, result: SeedResult
) -> int:
    """Every store's observations and logins of one day, by `workers` connections."""
    queue: asyncio.Queue[int] = asyncio.Queue()
    for n in range(len(replay.stores)):
        queue.put_nowait(n)
    inserted = 0

    async def worker() -> None:
        nonlocal inserted
        async with db.acquire() as conn:
            while not queue.empty():
                n = queue.get_nowait()
                rows, logins = replay.store_day(n, day)
                for i in range(0, len(rows), BATCH):
                    recorded = await record_observations(
                        conn, rows[i : i + BATCH], on_recorded=mark_dirty, now=now
                    )
                    inserted += recorded.inserted
                    result.inserted += recorded.inserted
                    result.duplicates += recorded.duplicates
                    result.out_of_window += recorded.out_of_window
                async with conn.transaction():
                    for at, zone, hashed in logins:
                        await analytics.record_event(
                            conn, replay.merchant, "login", store_id=replay.stores[n],
                            device_hash=hashed, data={"method": "click", "router": zone},
                            occurred_at=at,
                        )  # fmt: skip
                result.logins += len(logins)

    await asyncio.gather(*(worker() for _ in range(workers)))
    return inserted


async def history_facts(db: asyncpg.Pool, merchant: uuid.UUID) -> dict[str, Any]:
    """What the database holds at the end (read directly: a benchmark's check)."""
    facts: dict[str, Any] = {}
    for table, column in (
        ("footfall_daily", "day"),
        ("footfall_hourly", "local_start"),
        ("footfall_visits", "started_at"),
        ("footfall_observations", "seen_at"),
    ):
        row = await db.fetchrow(
            f"SELECT count(*) AS n, min({column}) AS lo, max({column}) AS hi FROM {table} "  # noqa: S608 - fixed names
            "WHERE merchant_id = $1",
            merchant,
        )
        facts[table] = (row["n"], row["lo"], row["hi"])
    facts["logins"] = await db.fetchval(
        "SELECT count(*) FROM events WHERE merchant_id = $1 AND kind = 'login'", merchant
    )
    facts["autovacuum"] = await db.fetchval("SHOW autovacuum")
    facts["database_size"] = await db.fetchval(
        "SELECT pg_size_pretty(pg_database_size(current_database()))"
    )
    return facts


# -- queries: the metrics and pages on that history ------------------------------------------

MEMBER_PASSWORD = "bench footfall history"  # a throwaway account of a throwaway database
TARGET_MS = 200.0


@dataclass(frozen=True)
class Endpoint:
    name: str  # what is asked, e.g. "trend day 90 d"
    scope: str  # "1 store" | "20 stores"
    path: str
    expect: bytes


@dataclass
class Timed:
    endpoint: Endpoint
    outcome: Outcome


def endpoints(store: uuid.UUID, count: int, today: date) -> list[Endpoint]:
    """Each metric of the API and each dashboard page, for one store and for all stores, over
    the longest ranges they allow or show (90 days; hours over 31)."""
    d90, d31 = (today - timedelta(days=89)).isoformat(), (today - timedelta(days=30)).isoformat()
    to = today.isoformat()
    api = [
        ("summary 90 d", "summary", f"from={d90}&to={to}"),
        ("trend hour 31 d", "trend", f"granularity=hour&from={d31}&to={to}"),
        ("trend day 90 d", "trend", f"granularity=day&from={d90}&to={to}"),
        ("trend week 90 d", "trend", f"granularity=week&from={d90}&to={to}"),
        ("trend month 90 d", "trend", f"granularity=month&from={d90}&to={to}"),
        ("dwell 90 d", "dwell", f"from={d90}&to={to}"),
        ("loyalty 90 d", "loyalty", f"from={d90}&to={to}"),
        ("occupancy now", "occupancy", ""),
        ("heatmap 90 d", "heatmap", f"from={d90}&to={to}"),
        ("stores 90 d", "stores", f"from={d90}&to={to}"),
    ]
    pages = [
        ("page overview (today)", "/footfall", ""),
        ("page trends 90 d", "/footfall/trends", f"granularity=day&from={d90}&to={to}"),
        ("page dwell 90 d", "/footfall/dwell", f"from={d90}&to={to}"),
        ("page heatmap 90 d", "/footfall/heatmap", f"from={d90}&to={to}"),
        ("page stores 90 d", "/footfall/stores", f"from={d90}&to={to}"),
    ]
    found = []
    for which, scope in ((str(store), "1 store"), ("all", f"{count} stores")):
        for name, metric, query in api:
            path = f"/api/footfall/{metric}?store={which}" + (f"&{query}" if query else "")
            found.append(Endpoint(f"API {name}", scope, path, b'"metric"'))
        for name, page, query in pages:
            path = f"{page}?store={which}" + (f"&{query}" if query else "")
            found.append(Endpoint(name, scope, path, b"</html>"))
    return found


async def add_member(
    database_url: str,
) -> tuple[uuid.UUID, list[accounts.Store], str, dict[str, Any]]:
    """A new owner of the seeded merchant, who signs in for the timings."""
    db = await create_pool(database_url, size=2)
    try:
        merchant = await accounts.merchant_named(db, MERCHANT_NAME)
        if merchant is None:
            raise BenchError(f"no merchant {MERCHANT_NAME!r} here: run `seed --keep` first")
        stores = await accounts.list_stores(db, merchant)
        email = f"bench-{uuid.uuid4().hex[:10]}@example.com"
        user = await accounts.create_user(db, email, "Bench member", MEMBER_PASSWORD)
        await accounts.add_membership(db, merchant, user, "owner")
        facts = await history_facts(db, merchant)
        facts["postgres"] = str(await db.fetchval("SHOW server_version")).split(" ")[0]
    finally:
        await db.close()
    return merchant, stores, email, facts


@dataclass
class QueriesResult:
    bare: Outcome
    timed: list[Timed]
    facts: dict[str, Any]
    requests: int


async def measure_queries(args: argparse.Namespace, workdir: Path) -> QueriesResult:
    database_url = args.database_url
    _merchant, stores, email, facts = await add_member(database_url)
    if not stores:
        raise BenchError("the seeded merchant has no stores")
    bounds = Bounds(60.0, args.warmup, 600.0, args.requests)
    async with (
        running_bare(workdir) as (_bare, bare_url),
        running_console(database_url, workdir) as (_console, base_url),
        console_session(base_url) as session,
    ):
        bare = await timed_gets(
            session, bare_url + "/", scenario="bare", bounds=bounds, expect=b"ok"
        )
        await sign_in(session, base_url, email, MEMBER_PASSWORD)
        today = datetime.now(ZoneInfo(stores[0].timezone)).date()
        timed = []
        for endpoint in endpoints(stores[0].store_id, len(stores), today):
            outcome = await timed_gets(
                session,
                base_url + endpoint.path,
                scenario=endpoint.name,
                bounds=bounds,
                expect=endpoint.expect,
            )
            timed.append(Timed(endpoint, outcome))
            print(
                f"queries: {endpoint.name} ({endpoint.scope}): median {outcome.p50_ms:.1f} "
                f"ms, p99 {outcome.p99_ms:.1f} ms, {outcome.body_bytes:,} bytes"
                + (
                    f", errors {outcome.errors}: {outcome.error_samples[:1]}"
                    if outcome.errors
                    else ""
                ),
                flush=True,
            )
    return QueriesResult(bare, timed, facts, args.requests)


# -- running and reporting -------------------------------------------------------------------


async def run(args: argparse.Namespace) -> None:
    server_url = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    with tempfile.TemporaryDirectory(prefix="portico-bench-footfall-") as tmp:
        workdir = Path(tmp)
        if args.part == "queries":
            if not args.database_url:
                raise BenchError("queries needs --database-url (the URL `seed --keep` printed)")
            report_queries(await measure_queries(args, workdir), args.write)
            return
        tool, _note = load_tool("auto")
        bare = await bare_baseline(
            tool=tool, concurrency=64, threads=1, bounds=Bounds(2.0, 5_000, 10.0, 200_000),
            workdir=workdir,
        )  # fmt: skip
        if args.part == "capture":
            result = measure_capture(args.frames or 1_000_000, workdir)
            report_capture(result, bare, args.write)
            return
        if args.part == "import":
            async with bench_database(server_url) as database_url:
                imported = await measure_import(args.frames or 500_000, workdir, database_url)
            report_import(imported, bare, args.write)
            return
        if args.part == "seed" and args.keep:
            name = f"portico_bench_footfall_{uuid.uuid4().hex[:8]}"
            admin = await asyncpg.connect(server_url)
            await admin.execute(f'CREATE DATABASE "{name}"')
            await admin.close()
            database_url = with_database(server_url, name)
            print(f"seed: into {database_url} (kept)", flush=True)
            report_seed(await seed_into(database_url, args), bare, database_url, args.write)
            return
        async with bench_database(server_url) as database_url:
            if args.part == "seed":
                report_seed(await seed_into(database_url, args), bare, "", args.write)
                return
            await migrate(database_url)
            db = await create_pool(database_url, size=max(4, args.workers + 2))
            try:
                result = await measure_ingest(db, args.rows, args.workers, not args.no_marketing)
                postgres = str(await db.fetchval("SHOW server_version")).split(" ")[0]
            finally:
                await db.close()
        report_ingest(result, args.workers, bare, postgres, args.write)


async def seed_into(database_url: str, args: argparse.Namespace) -> SeedResult:
    await migrate(database_url)
    db = await create_pool(database_url, size=max(4, args.workers + 2))
    try:
        return await seed_history(db, args)
    finally:
        await db.close()


def _header(title: str, bare: Outcome, extra: str = "") -> list[str]:
    facts = machine_facts()
    return [
        f"## {datetime.now(UTC):%Y-%m-%d} · {title}",
        "",
        f"Machine: nproc {facts['nproc']}, {facts['cpu']}, {facts['ram']} RAM, Linux "
        f"{facts['kernel']}; Python {facts['python']}{extra}. Baseline in the same run: a bare "
        f"aiohttp handler served {bare.rps:,.0f} requests/s ({bare.client}, 64 connections).",
        "",
    ]


def report_ingest(r: IngestResult, workers: int, bare: Outcome, postgres: str, write: bool) -> None:
    date_ = f"{datetime.now(UTC):%Y-%m-%d}"
    rate = r.inserted / r.seconds
    privacy = r.privacy_rows / r.privacy_seconds
    lines = [marker("footfall-ingest", date_)]
    lines += _header(
        "Footfall observation ingest (`python -m bench.footfall ingest`)",
        bare,
        f"; PostgreSQL {postgres}",
    )
    lines += [
        "| path | observations | stored | seconds | observations/s | × bare |",
        "|---|---|---|---|---|---|",
        f"| record_observations, {workers} connections, batches of {BATCH:,} | {r.rows:,} | "
        f"{r.inserted:,} | {r.seconds:.1f} | {rate:,.0f} | {rate / bare.rps:.1f} |",
        f"| FootfallIngest.record (privacy step), 1 connection | {r.privacy_rows:,} sightings | "
        f"{r.privacy_inserted:,} | {r.privacy_seconds:.1f} | {privacy:,.0f} sightings/s | "
        f"{privacy / bare.rps:.1f} |",
        "",
        f"- target ≥ 50,000 observations/s sustained: {'meets' if rate >= 50_000 else 'misses'}"
        f" ({rate:,.0f}/s).",
        _marketing_line(r.sightings),
        marker("footfall-ingest", date_, end=True),
    ]
    _emit("footfall-ingest", date_, lines, write)


def _marketing_line(sightings: Sightings | None) -> str:
    if sightings is None:
        return "- without precision marketing's hook (`--no-marketing`)."
    return (
        f"- precision marketing's hook in the same transactions: {sightings.sent:,} sightings to "
        f"its inbox, {sightings.thinned:,} stable-device rows thinned (one per device, store and "
        "minute)."
    )


def report_capture(r: CaptureResult, bare: Outcome, write: bool) -> None:
    date_ = f"{datetime.now(UTC):%Y-%m-%d}"
    rate = r.read / r.read_seconds
    lines = [marker("footfall-capture", date_)]
    lines += _header("Capture import (`python -m bench.footfall capture`)", bare)
    lines += [
        f"A pcap of the shopper model's frames ({r.frames:,} frames, {r.megabytes:,.0f} MB, "
        f"written by simulators/pcap_writer.py in {r.write_seconds:.1f} s), read by "
        f"`analytics.capture.read_frames` in one process: {r.read:,} frames in "
        f"{r.read_seconds:.2f} s = **{rate:,.0f} frames/s** ({rate / bare.rps:.1f} × bare); "
        f"target ≥ 100,000 frames/s per core: {'meets' if rate >= 100_000 else 'misses'}.",
        marker("footfall-capture", date_, end=True),
    ]
    _emit("footfall-capture", date_, lines, write)


def report_import(r: ImportResult, bare: Outcome, write: bool) -> None:
    date_ = f"{datetime.now(UTC):%Y-%m-%d}"
    i = r.imported
    per_cpu, per_second = r.per_cpu_second, r.per_second
    dropped = ", ".join(f"{v:,} {k.removeprefix('dropped_')}" for k, v in i.dropped.items())
    dropped = dropped or "none"
    lines = [marker("footfall-import", date_)]
    lines += _header(
        "Capture import end to end (`python -m bench.footfall import`)",
        bare,
        f"; PostgreSQL {r.postgres}",
    )
    lines += [
        f"The last 23 hours of one router of a busy mall store (the shopper model at scale "
        f"{r.scale:.1f}: {i.frames:,} probe requests, {r.megabytes:,.0f} MB, simulated in "
        f"{r.simulate_seconds:.0f} s and written by simulators/pcap_writer.py in "
        f"{r.write_seconds:.1f} s), imported by `analytics.importer.import_pcaps` (what "
        "`portico analytics import-pcap` runs: reading, privacy step with prober "
        "de-duplication, store, rollup marks; one transaction) in a process of its own, into a "
        f"fresh database: {i.recorded.inserted:,} observations stored (one per device and "
        f"second: {i.recorded.duplicates:,} more frames folded into them); dropped: {dropped}.",
        "",
        "| | frames/s | × bare |",
        "|---|---|---|",
        f"| import, per CPU second of the process ({r.cpu:.2f} s) | **{per_cpu:,.0f}** | "
        f"{per_cpu / bare.rps:.1f} |",
        f"| import, per second of wall time ({r.wall:.2f} s; PostgreSQL works meanwhile) | "
        f"{per_second:,.0f} | {per_second / bare.rps:.1f} |",
        f"| reading alone (`read_frames`), per CPU second, same run | "
        f"{i.frames / r.read_cpu:,.0f} | {i.frames / r.read_cpu / bare.rps:.1f} |",
        "",
        f"- target ≥ 100,000 frames per CPU second: {'meets' if per_cpu >= 100_000 else 'misses'}"
        f" ({per_cpu:,.0f}).",
        marker("footfall-import", date_, end=True),
    ]
    _emit("footfall-import", date_, lines, write)


def report_seed(r: SeedResult, bare: Outcome, database_url: str, write: bool) -> None:
    date_ = f"{datetime.now(UTC):%Y-%m-%d}"
    lines = [marker("footfall-seed", date_)]
    lines += _header(
        f"Footfall history: seeding {r.days} days × {r.stores} stores "
        "(`python -m bench.footfall seed`)",
        bare,
    )
    final = r.final
    daily, hourly, visits, raw = (
        final["footfall_daily"],
        final["footfall_hourly"],
        final["footfall_visits"],
        final["footfall_observations"],
    )
    enough = r.inserted >= 50_000_000
    lines += [
        f"The shopper model (simulators/shoppers.py, scale {r.scale:g}) simulated "
        f"{r.template_days} days of a mall store, a food court and a café once "
        f"({r.template_seconds:.0f} s, in parallel processes), through the privacy step's "
        "store- and day-independent parts (weak and multicast dropped, prober de-duplication "
        "per sensor, station joins filled in, fixed devices left out); store n replays "
        "profile n mod 3 from week n div 3 of it (the stores of a profile are not in step), "
        "its probes hashed with the store's key of the day, other shoppers' devices new per "
        "store and day, regulars' and staff's the same every day. Day by day, as the days of "
        "operation would have arrived: every store's observations through "
        "`record_observations` (`now` = the end of the day, rollups marked in the same "
        "transaction) and its logins through `record_event`, then `run_rollups` and "
        "`enforce_retention` at the end of the day; finally `delete_old_visits`.",
        "",
        "| | |",
        "|---|---|",
        f"| observations stored | **{r.inserted:,}** (duplicates {r.duplicates:,}, outside the "
        f"window {r.out_of_window:,}) |",
        f"| ingest rate, {BATCH:,}-row batches, rollup marks and logins included | "
        f"{r.rate:,.0f} observations/s ({r.rate / bare.rps:.1f} × bare) |",
        f"| logins recorded | {r.logins:,} |",
        f"| time: ingest / rollups / retention and VACUUM ANALYZE / all (templates included) | "
        f"{r.ingest_seconds:,.0f} s / {r.rollup_seconds:,.0f} s / {r.retention_seconds:,.0f} s "
        f"/ {r.seconds:,.0f} s |",
        f"| end: daily rollup rows | {daily[0]:,} ({daily[1]} … {daily[2]}) |",
        f"| end: hourly rollup rows | {hourly[0]:,} |",
        f"| end: visits (30 days kept) | {visits[0]:,} (from {_when(visits[1])}) |",
        f"| end: raw observations (24 h kept, by day partitions) | {raw[0]:,} (from "
        f"{_when(raw[1])}) |",
        f"| database size | {final['database_size']} |",
        "",
        f"- target ≥ 50 M observations ingested: {'meets' if enough else 'misses'} "
        f"({r.inserted / 1e6:.1f} M).",
        f"- reproduce: `.venv/bin/python -m bench.footfall seed --days {r.days} --stores "
        f"{r.stores} --template-days {r.template_days} --scale {r.scale:g} --keep --write`, "
        "then `queries --database-url URL --write` (below).",
        f"- PostgreSQL autovacuum on this server: {r.final.get('autovacuum', '?')}; the seed "
        "runs VACUUM (ANALYZE) of the footfall tables and events after each day, as autovacuum "
        "would (without statistics the rollups slowed from 5 s to 17 s a day within 5 days).",
        marker("footfall-seed", date_, end=True),
    ]
    _emit("footfall-seed", date_, lines, write)
    if database_url:
        print(f"kept: {database_url}")


def _when(value: Any) -> str:
    return f"{value:%Y-%m-%d %H:%M} UTC" if isinstance(value, datetime) else str(value)


def report_queries(r: QueriesResult, write: bool) -> None:
    date_ = f"{datetime.now(UTC):%Y-%m-%d}"
    facts = machine_facts()
    bare = r.bare
    final = r.facts
    daily, visits, raw = (
        final["footfall_daily"],
        final["footfall_visits"],
        final["footfall_observations"],
    )
    lines = [
        marker("footfall-queries", date_),
        f"## {date_} · Footfall history: queries and dashboard pages "
        "(`python -m bench.footfall queries`)",
        "",
        f"Machine: nproc {facts['nproc']}, {facts['cpu']}, {facts['ram']} RAM, Linux "
        f"{facts['kernel']}; Python {facts['python']}; PostgreSQL {final['postgres']}. "
        f"Baseline in the same run, timed the same way: the bare aiohttp handler answered in "
        f"{bare.p50_ms:.2f} ms median, {bare.p99_ms:.2f} ms p99.",
        "",
        f"On the seeded history (the section above: {daily[0]:,} daily rollup rows from "
        f"{daily[1]} to {daily[2]}, {visits[0]:,} visits, {raw[0]:,} raw observations, "
        f"{final['logins']:,} logins; {final['database_size']}), `portico serve console` in "
        "its own process (production settings), signed in as an owner of the merchant; for each "
        f"endpoint, a warm-up, then {r.requests} sequential GETs (one user clicking) with the "
        "aiohttp client. `× bare`: the median against the bare handler's median.",
        "",
        "| endpoint | stores | median ms | p99 ms | median × bare | bytes | < 200 ms |",
        "|---|---|---|---|---|---|---|",
    ]
    misses = []
    for t in r.timed:
        o = t.outcome
        ok = o.errors == 0 and o.p99_ms < TARGET_MS
        if not ok:
            misses.append(f"{t.endpoint.name} ({t.endpoint.scope})")
        errors = f" ({o.errors} errors)" if o.errors else ""
        lines.append(
            f"| {t.endpoint.name} | {t.endpoint.scope} | {o.p50_ms:.1f} | {o.p99_ms:.1f} | "
            f"{o.p50_ms / bare.p50_ms:,.0f} | {o.body_bytes:,} | {'yes' if ok else 'no'}{errors} |"
        )
    lines += [
        "",
        "- target: each metric query and dashboard page < 200 ms (p99 here): "
        + ("all meet." if not misses else f"miss: {', '.join(misses)}."),
        "- reproduce: `.venv/bin/python -m bench.footfall seed … --keep --write` (above; it "
        "prints the database URL), then `.venv/bin/python -m bench.footfall queries "
        f"--database-url URL --requests {r.requests} --write`; drop the database afterwards.",
        marker("footfall-queries", date_, end=True),
    ]
    _emit("footfall-queries", date_, lines, write)


def _emit(name: str, date_: str, lines: list[str], write: bool) -> None:
    section = "\n".join(lines)
    print(section)
    if write:
        write_section(name, date_, section)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("part", choices=("ingest", "capture", "import", "seed", "queries"))
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument(
        "--frames", type=int, default=0, help="capture: 1,000,000; import: 500,000 (default)"
    )
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--stores", type=int, default=20)
    parser.add_argument("--scale", type=float, default=1.0, help="the shopper model's scale")
    parser.add_argument("--template-days", type=int, default=28)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument(
        "--no-marketing", action="store_true", help="ingest: without marketing's sighting hook"
    )
    parser.add_argument("--database-url", default="", help="queries: the seeded database")
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--write", action="store_true")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
