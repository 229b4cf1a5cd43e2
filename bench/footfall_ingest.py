"""Footfall ingest into PostgreSQL (issue 7: ≥ 50,000 observations/s sustained).

Two figures on a throwaway database:
- `store`: already-hashed rows through analytics.observations.record_observations (one
  INSERT … SELECT FROM unnest per batch), against the alternative of COPY into a temporary
  table and INSERT … SELECT … ON CONFLICT DO NOTHING from it;
- `ingest`: raw sightings through analytics.ingest.FootfallIngest (the privacy step: HMACs,
  the prober tracker, the staff filter) and then the same store.

Rows look like a fleet's: `--stores` stores with 4 zones each, devices that come back each
second for a while (one row per device, zone and second), timestamps within the last hour.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python -m bench.footfall_ingest --rows 1000000 --writers 2
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import random
import time
import uuid

import asyncpg

from accounts import services as accounts
from analytics.ingest import FootfallIngest, Sighting
from analytics.observations import Observation, record_observations
from bench.harness import bench_database
from kernel.db import create_pool, migrate

SECRET = "bench-secret-" + "x" * 40


async def stores(db: asyncpg.Pool, n: int) -> list[tuple[uuid.UUID, uuid.UUID]]:
    merchant_id = await accounts.create_merchant(db, "Bench footfall")
    return [
        (merchant_id, await accounts.create_store(db, merchant_id, f"Shop {i}", "UTC"))
        for i in range(n)
    ]


def sightings(n: int, seed: int) -> list[tuple[int, Sighting]]:
    """`n` sightings as (store index, sighting): devices present for runs of seconds."""
    rng = random.Random(seed)
    now = int(time.time()) - 3600
    out = []
    while len(out) < n:
        store = rng.randrange(1 << 30)
        mac = ":".join(f"{b:02x}" for b in [0xDA, *rng.randbytes(5)])
        zone, start = f"ap-{rng.randrange(4)}", now + rng.randrange(3000)
        for second in range(rng.randrange(1, 60)):
            out.append((store, Sighting(zone, mac, start + second, -60, "probe")))
    return out[:n]


async def run_store(
    db: asyncpg.Pool, keys: list[tuple[uuid.UUID, uuid.UUID]], args: argparse.Namespace
) -> float:
    rows = [
        Observation(*keys[s % len(keys)], x.zone, x.ts, _hash(x.mac), "probe", -60, True)
        for s, x in sightings(args.rows, 1)
    ]
    return await _timed(db, rows, args, _store_batch if args.method == "unnest" else _copy_batch)


async def _store_batch(conn: asyncpg.Connection, batch: list[Observation]) -> None:
    await record_observations(conn, batch)


async def _copy_batch(conn: asyncpg.Connection, batch: list[Observation]) -> None:
    async with conn.transaction():
        await conn.execute("CREATE TEMP TABLE obs_in (LIKE footfall_observations) ON COMMIT DROP")
        await conn.copy_records_to_table(
            "obs_in",
            records=[
                (
                    r.merchant_id,
                    r.store_id,
                    r.zone,
                    _at(r.seen_at),
                    r.device_hash,
                    r.source,
                    r.rssi,
                    r.randomized,
                )
                for r in batch
            ],
        )
        await conn.execute(
            "INSERT INTO footfall_observations SELECT * FROM obs_in ON CONFLICT DO NOTHING"
        )


def _hash(mac: str) -> str:
    return hashlib.sha256(mac.encode()).hexdigest()[:32]


def _at(ts: float):
    from datetime import UTC, datetime

    return datetime.fromtimestamp(int(ts), UTC)


async def _timed(db, items, args, write) -> float:
    batches = [items[i : i + args.batch] for i in range(0, len(items), args.batch)]
    queue: asyncio.Queue[list] = asyncio.Queue()
    for batch in batches:
        queue.put_nowait(batch)

    async def writer() -> None:
        async with db.acquire() as conn:
            while not queue.empty():
                await write(conn, queue.get_nowait())

    started = time.perf_counter()
    await asyncio.gather(*(writer() for _ in range(args.writers)))
    return len(items) / (time.perf_counter() - started)


async def run_ingest(
    db: asyncpg.Pool, keys: list[tuple[uuid.UUID, uuid.UUID]], args: argparse.Namespace
) -> float:
    items = sightings(args.rows, 2)
    ingests = [FootfallIngest(SECRET) for _ in range(args.writers)]
    per_writer = iter(ingests)

    async def write(conn: asyncpg.Connection, batch: list[tuple[int, Sighting]]) -> None:
        ingest = write.ingest.get(id(conn)) or write.ingest.setdefault(id(conn), next(per_writer))
        by_store: dict[tuple[uuid.UUID, uuid.UUID], list[Sighting]] = {}
        for s, sighting in batch:
            by_store.setdefault(keys[s % len(keys)], []).append(sighting)
        async with conn.transaction():
            for (m, s), group in by_store.items():
                await ingest.record(conn, m, s, group)

    write.ingest = {}  # type: ignore[attr-defined]
    return await _timed(db, items, args, write)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=500_000)
    parser.add_argument("--batch", type=int, default=5000)
    parser.add_argument("--writers", type=int, default=2)
    parser.add_argument("--stores", type=int, default=20)
    parser.add_argument("--method", choices=("unnest", "copy"), default="unnest")
    parser.add_argument("--what", choices=("store", "ingest"), default="store")
    args = parser.parse_args()
    server = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    async with bench_database(server) as url:
        await migrate(url)
        db = await create_pool(url, size=args.writers + 1)
        try:
            keys = await stores(db, args.stores)
            run = run_store if args.what == "store" else run_ingest
            rate = await run(db, keys, args)
        finally:
            await db.close()
    label = args.method if args.what == "store" else "privacy step + unnest"
    print(
        f"footfall {args.what} ({label}): {rate:,.0f} observations/s "
        f"({args.rows:,} rows, batches of {args.batch:,}, {args.writers} writers)"
    )


if __name__ == "__main__":
    asyncio.run(main())
