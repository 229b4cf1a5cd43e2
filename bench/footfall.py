"""Footfall at scale: observation ingest into PostgreSQL, capture import, and a long history.

    .venv/bin/python -m bench.footfall ingest  [--rows 1000000] [--workers 2] [--write]
    .venv/bin/python -m bench.footfall capture [--frames 1000000] [--write]
    .venv/bin/python -m bench.footfall seed    [--days 90] [--stores 20] [--keep]

Everything comes from the shopper model (simulators/shoppers.py), in a throwaway database
(bench/harness.py, dropped at the end unless `--keep`), beside the bare aiohttp handler
measured in the same run (`× bare`).

- ingest: one mall store's last 23 hours of observations (hashed as analytics.ingest hashes
  them), repeated over as many stores as `--rows` needs, stored through
  `analytics.observations.record_observations` in batches of 5,000 by `--workers` connections
  (the rollups marked in the same transaction, as the controller does); then the privacy step
  too (`analytics.ingest.FootfallIngest.record`: hashing, prober de-duplication) in one
  process. Target ≥ 50,000 observations/s sustained.
- capture: a pcap (linktype 127) of the model's frames, read by `analytics.capture.read_frames`
  in one process. Target ≥ 100,000 frames/s per core.
- seed: `--days` × `--stores` of history (mall, food-court and café stores in turn), every day
  simulated, hashed and stored with its logins, for the query and dashboard timings on a
  realistic volume (issue 7: 90 days × 20 stores, ≥ 50 M observations). Prints progress; with
  `--keep` the database stays for the query benchmarks and its URL is printed.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import os
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import asyncpg

import accounts.services as accounts
import analytics.services as analytics
from analytics.capture import read_frames
from analytics.ingest import FootfallIngest, probe_sighting
from analytics.observations import Observation, record_observations
from analytics.rollups import mark_dirty
from bench.harness import (
    Bounds,
    Outcome,
    bare_baseline,
    bench_database,
    load_tool,
    machine_facts,
    marker,
    with_database,
    write_section,
)
from kernel.db import create_pool, migrate
from kernel.privacy import device_hash, merchant_key, probe_key
from simulators import probes, shoppers
from simulators.pcap_writer import write_header, write_records

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


async def measure_ingest(db: asyncpg.Pool, wanted: int, workers: int) -> IngestResult:
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
    started = time.monotonic()

    async def worker() -> None:
        nonlocal inserted
        async with db.acquire() as conn:
            while not queue.empty():
                batch = queue.get_nowait()
                result = await record_observations(conn, batch, on_recorded=mark_dirty)
                inserted += result.inserted
                progress("ingest", total - queue.qsize() * BATCH, total, started)

    await asyncio.gather(*(worker() for _ in range(workers)))
    seconds = time.monotonic() - started
    # The privacy step too (hashing, prober de-duplication, long stays), one process.
    engine = FootfallIngest(SECRET, on_recorded=mark_dirty)
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
    return IngestResult(total, inserted, seconds, len(sightings), privacy_inserted, privacy_seconds)


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


# -- seed -------------------------------------------------------------------------------------


def seed_profile(index: int) -> shoppers.StoreProfile:
    name = f"Bench store {index}"
    return (shoppers.mall_store, shoppers.food_court, shoppers.cafe)[index % 3](name, ZONES)


async def seed_history(db: asyncpg.Pool, days: int, store_count: int) -> tuple[int, int, float]:
    """`days` × `store_count` store-days through record_observations (each day with `now` at
    its end, so that history is accepted) and their logins; (observations, logins, seconds)."""
    merchant, stores = await make_stores(db, store_count)
    today = datetime.now(UTC).date()
    first = today - timedelta(days=days)
    total_days = days * store_count
    stored = logins = done = 0
    began = time.monotonic()
    for n, store in enumerate(stores):
        profile = seed_profile(n)
        for d in range(days):
            day = first + timedelta(days=d)
            start = datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()
            frames, truth = shoppers.simulate(profile, start, start + 86400, SEED + n)
            rows = day_observations(list(frames), truth.stations, merchant, store, day)
            async with db.acquire() as conn, conn.transaction():
                for i in range(0, len(rows), BATCH):
                    result = await record_observations(
                        conn, rows[i : i + BATCH], on_recorded=mark_dirty, now=start + 86400
                    )
                    stored += result.inserted
                for login in truth.logins:
                    await analytics.record_event(
                        conn, merchant, "login", store_id=store,
                        device_hash=device_hash(SECRET, str(merchant), login.mac),
                        data={"method": "click", "router": login.zone},
                        occurred_at=datetime.fromtimestamp(login.ts, UTC),
                    )  # fmt: skip
            logins += len(truth.logins)
            done += 1
            progress("seed", done, total_days, began)
    return stored, logins, time.monotonic() - began


# -- running and reporting -------------------------------------------------------------------


async def run(args: argparse.Namespace) -> None:
    server_url = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    with tempfile.TemporaryDirectory(prefix="portico-bench-footfall-") as tmp:
        workdir = Path(tmp)
        tool, _note = load_tool("auto")
        bare = await bare_baseline(
            tool=tool, concurrency=64, threads=1, bounds=Bounds(2.0, 5_000, 10.0, 200_000),
            workdir=workdir,
        )  # fmt: skip
        if args.part == "capture":
            result = measure_capture(args.frames, workdir)
            report_capture(result, bare, args.write)
            return
        if args.part == "seed" and args.keep:
            name = f"portico_bench_footfall_{uuid.uuid4().hex[:8]}"
            admin = await asyncpg.connect(server_url)
            await admin.execute(f'CREATE DATABASE "{name}"')
            await admin.close()
            await seed_into(with_database(server_url, name), args, keep=True)
            return
        async with bench_database(server_url) as database_url:
            if args.part == "seed":
                await seed_into(database_url, args, keep=False)
                return
            await migrate(database_url)
            db = await create_pool(database_url, size=max(4, args.workers + 2))
            try:
                result = await measure_ingest(db, args.rows, args.workers)
                postgres = str(await db.fetchval("SHOW server_version")).split(" ")[0]
            finally:
                await db.close()
        report_ingest(result, args.workers, bare, postgres, args.write)


async def seed_into(database_url: str, args: argparse.Namespace, *, keep: bool) -> None:
    await migrate(database_url)
    db = await create_pool(database_url, size=4)
    try:
        stored, logins, seconds = await seed_history(db, args.days, args.stores)
    finally:
        await db.close()
    print(
        f"seed: {args.days} days × {args.stores} stores: {stored:,} observations and "
        f"{logins:,} logins in {seconds:,.0f} s ({stored / seconds:,.0f} observations/s)"
    )
    if keep:
        print(f"kept: {database_url}")


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
        marker("footfall-ingest", date_, end=True),
    ]
    _emit("footfall-ingest", date_, lines, write)


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


def _emit(name: str, date_: str, lines: list[str], write: bool) -> None:
    section = "\n".join(lines)
    print(section)
    if write:
        write_section(name, date_, section)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("part", choices=("ingest", "capture", "seed"))
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--frames", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--stores", type=int, default=20)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--write", action="store_true")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
