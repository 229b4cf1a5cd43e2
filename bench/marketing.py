"""Precision marketing benchmarks (issue 14: trigger evaluation ≥ 20,000 events/s on one core).

    .venv/bin/python -m bench.marketing evaluate [--events 200000] [--write]
    .venv/bin/python -m bench.marketing pipeline [--rate 20000] [--seconds 30] [--write]

evaluate: the trigger engine's pure part (`marketing.engine.Batch`: each event folded into its
shopper's profile, the merchant's tags evaluated, the triggers it sets off found and every
contact decided through the budget), in this process on one core, over a stream drawn from a
stated model: 20 stores of one merchant, 30,000 shoppers; each visit's length lognormal
(median 25 min), a sighting every minute of it (the producers' thinning: at most one a minute
per device and store), a login at a fifth of the visits; a shopper's visits a Poisson process
(rate from a gamma distribution, mean 1.5 a week) over 14 days. Four triggers (an arrival of
a lapsed shopper, a dwell of 20 minutes, a lunchtime arrival of a frequent shopper, an SMS at
login) and the six default tags. Reported: events/s of CPU time and of wall time, beside the
bare aiohttp handler of the same run (its requests/s) for the machine's speed.

pipeline: the whole path after the producers, against the machine's PostgreSQL: events written
into the inbox as the footfall hook writes them (`marketing.intake.record_events`, a batch every
50 ms: each store's sightings of it one row, as a router's report is; about rate / 400 sightings
a row) at `--rate` events/s for `--seconds`, while `portico serve marketing` (the engine and the
dispatcher, production settings, each a process of its own: `serve marketing-engine`, `serve
marketing-dispatch`) decides and dispatches. The stream: 60 × rate shoppers present in the
merchant's 20 stores (their profiles stored first: each seen about once a minute, as the
producers thin sightings), each event a sighting of one of them, 5 % a shopper arriving (an
"every arrival" trigger, portal offer, 10 % holdout: a contact for each). Before the timed run,
one sighting of each present shopper, waited for until the engine has taken them all: the engine
then holds the shoppers in the stores, as one running for a minute does (docs/marketing.md,
"Profiles kept in memory"); that warm-up is reported too (a restarted engine's first minute:
every shopper read once). Reported: events taken per second, the inbox's backlog at the end, and
event → dispatch latency (a contact's sent_at less its event's time) at p50/p99, beside the raw
insert rate of the same inbox with nothing consuming (the baseline) and the bare handler; the
engine process's resident memory at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import math
import os
import random
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from accounts import services as accounts
from bench.harness import (
    BenchError,
    bench_database,
    in_process_baseline,
    machine_facts,
    marker,
    percentile,
    role_env,
    spawn,
    stop,
    write_section,
)
from kernel.db import create_pool, migrate
from marketing import budget, console_budget, intake, profiles, rules, tags, triggers
from marketing.engine import Batch, Config, Event, Trigger, load_config, profile_from_row

STORES = 20
SHOPPERS = 30_000
DAYS = 14
TARGET = 20_000  # events/s on one core
MAX_INSERT = 10_000  # events an insert at most
PREPARE = 15.0  # seconds to draw the timed run's stream before it starts


def stream(events: int, seed: int = 1) -> tuple[uuid.UUID, list[uuid.UUID], list[Event]]:
    """`events` events of the model in the module's docstring, in time order."""
    rng = random.Random(seed)
    merchant = uuid.uuid4()
    stores = [uuid.uuid4() for _ in range(STORES)]
    start = datetime(2026, 11, 2, tzinfo=UTC)
    out: list[Event] = []
    for s in range(SHOPPERS):
        device = f"{s:032x}"
        rate = rng.gammavariate(2.0, 0.75 / 7)  # visits a day, mean 1.5 a week
        at = start + timedelta(days=rng.expovariate(rate) if rate > 0 else DAYS)
        home = rng.choice(stores)
        while at < start + timedelta(days=DAYS):
            # Opening hours 09:00–22:00 Shanghai (01:00–14:00 UTC): a visit starts in them.
            at = at.replace(hour=1 + rng.randrange(13), minute=rng.randrange(60))
            store = home if rng.random() < 0.8 else rng.choice(stores)
            minutes = max(1, int(rng.lognormvariate(3.2, 0.6)))
            for m in range(minutes):
                out.append(
                    Event(
                        merchant,
                        uuid.uuid4(),
                        "sighting",
                        device,
                        store,
                        at + timedelta(minutes=m),
                        {},
                    )
                )
            if rng.random() < 0.2:
                out.append(
                    Event(
                        merchant,
                        uuid.uuid4(),
                        "login",
                        device,
                        store,
                        at + timedelta(seconds=30),
                        {"method": "sms", "identity_hash": f"{s:032x}", "consent_sms": True},
                    )
                )
            at += timedelta(days=rng.expovariate(rate))
    out.sort(key=lambda e: e.occurred_at)
    return merchant, stores, out[:events]


def config(stores: list[uuid.UUID]) -> Config:
    def trigger(
        event: str, rule: dict[str, object], channel: str, offer: str, dwell: int | None = None
    ) -> Trigger:
        return Trigger(
            uuid.uuid4(),
            1,
            event,
            dwell,
            None,
            rules.compile_rule(rules.parse(rule)),
            channel,
            offer,
            0.1,
        )

    triggers = [
        trigger("arrival", {"tag": "lapsed"}, "portal", "welcome-back"),
        trigger("dwell", {"all": []}, "portal", "stay-20", dwell=20),
        trigger(
            "arrival",
            {"all": [{"tag": "frequent"}, {"fact": "lunchtime_now", "op": "=", "value": True}]},
            "webhook",
            "lunch",
        ),
        trigger("login", {"fact": "consent_sms", "op": "=", "value": True}, "sms", "hello-sms"),
    ]
    zone = ZoneInfo("Asia/Shanghai")
    return Config(
        tags.compile_tags(tags.DEFAULTS),
        triggers,
        budget.Settings(),
        dict.fromkeys(stores, zone),
        zone,
    )


def evaluate(events: int) -> dict[str, float]:
    merchant, stores, evs = stream(events)
    batch = Batch({merchant: config(stores)}, {}, {}, {})
    cpu, wall = time.process_time(), time.perf_counter()
    for e in evs:
        batch.apply(e)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    statuses: dict[str, int] = {}
    for c in batch.contacts:
        statuses[c.decision.reason or c.decision.status] = (
            statuses.get(c.decision.reason or c.decision.status, 0) + 1
        )
    return {
        "events": len(evs),
        "cpu_rate": len(evs) / cpu,
        "wall_rate": len(evs) / wall,
        "profiles": len(batch.profiles),
        "contacts": len(batch.contacts),
        **{f"contacts_{k}": v for k, v in statuses.items()},
    }


async def run_evaluate(events: int, write: bool) -> None:
    bare = await in_process_baseline()
    result = evaluate(events)
    date = datetime.now(UTC).strftime("%Y-%m-%d")
    facts = machine_facts()
    outcome = "meets" if result["cpu_rate"] >= TARGET else "misses"
    lines = [
        marker("marketing_evaluate", date),
        f"## {date} · Trigger evaluation (`python -m bench.marketing evaluate`)",
        "",
        f"Machine: nproc {facts['nproc']}, {facts['cpu']}, {facts['ram']} RAM, Linux "
        f"{facts['kernel']}; Python {facts['python']}. Baseline in the same run: a bare aiohttp "
        f"handler (`bench/bare.py`) served {bare.rps:,.0f} requests/s ({bare.client}, 64 "
        "connections).",
        "",
        "The model and what is timed: bench/marketing.py's docstring. "
        f"{int(result['events']):,} events, {int(result['profiles']):,} profiles, "
        f"{int(result['contacts']):,} contacts decided ("
        + ", ".join(f"{k[9:]} {int(v):,}" for k, v in result.items() if k.startswith("contacts_"))
        + ").",
        "",
        "| events/s (CPU time, one core) | × bare | events/s (wall) | × bare | target |",
        "|---|---|---|---|---|",
        f"| {result['cpu_rate']:,.0f} | {result['cpu_rate'] / bare.rps:.2f} | "
        f"{result['wall_rate']:,.0f} | {result['wall_rate'] / bare.rps:.2f} | "
        f"≥ {TARGET:,} ({outcome}) |",
        marker("marketing_evaluate", date, end=True),
    ]
    section = "\n".join(lines)
    print(section)
    if write:
        write_section("marketing_evaluate", date, section)


PRESENT_SQL = """
INSERT INTO marketing_profiles (merchant_id, profile_key, created_at, visit_store,
    visit_started_at, last_seen_at, visits_total, recent_visits, tags, updated_at)
SELECT $1, 'd:' || md5(i::text), now() - interval '30 days', ($2::uuid[])[1 + i % $3],
       now() - interval '10 minutes', now() - interval '30 seconds', 3,
       ARRAY[now() - interval '20 days', now() - interval '10 days', now() - interval '10 minutes'],
       $5::jsonb, now()
FROM generate_series(0, $4 - 1) AS i
"""


async def seed_present(
    db: Any, merchant: uuid.UUID, stores: list[uuid.UUID], count: int
) -> list[tuple[str, uuid.UUID]]:
    """`count` shoppers in the stores now (their profiles stored: a visit 10 minutes old, two
    earlier visits), each staying in one store, tagged as the engine tags them now (so their
    first sighting is not a change to write): (device hash, store)."""
    await db.execute(PRESENT_SQL, merchant, stores, len(stores), 1, {}, timeout=600)
    async with db.acquire() as conn:
        config = await load_config(conn, merchant)
        row = await conn.fetchrow(
            "SELECT * FROM marketing_profiles WHERE merchant_id = $1", merchant
        )
        await conn.execute("DELETE FROM marketing_profiles WHERE merchant_id = $1", merchant)
    seeded = profile_from_row(row)
    tagged = config.tags.evaluate(profiles.facts(seeded, datetime.now(UTC), config.zone))
    await db.execute(PRESENT_SQL, merchant, stores, len(stores), count, tagged, timeout=600)
    # md5 here only names synthetic devices the way the SQL above does (no security).
    names = (hashlib.md5(str(i).encode(), usedforsecurity=False).hexdigest() for i in range(count))
    return [(name, stores[i % len(stores)]) for i, name in enumerate(names)]


TICK = 0.05  # seconds between the producer's inserts


def draw_stream(
    merchant: uuid.UUID,
    stores: list[uuid.UUID],
    rate: int,
    seconds: float,
    present: list[tuple[str, uuid.UUID]],
    start: datetime,
) -> list[list[tuple[Any, ...]]]:
    """The stream, drawn before it is played (the producer's own work kept out of the timed
    run, on a machine it shares with the engine): for each TICK from `start`, its sightings at
    `rate` a second, of the `present` shoppers, 5 % of them a shopper arriving (added to them),
    each named as Sightings.seen names it and stamped with its tick's time; as the inbox rows
    `intake.record_events` would insert (`intake.sightings_rows`)."""
    rng = random.Random(7)
    ticks = []
    drawn = 0
    for tick in range(round(seconds / TICK)):
        now = start + timedelta(seconds=tick * TICK)
        minute = int(now.timestamp()) // intake.SIGHTING_SECONDS
        events = []
        for _ in range(round(rate * TICK * (tick + 1)) - drawn):
            if not present or rng.random() < 0.05:
                present.append((uuid.uuid4().hex, rng.choice(stores)))
                device, store = present[-1]
            else:
                device, store = present[rng.randrange(len(present))]
            sighting = intake.sighting_id(merchant, store, device, minute)
            events.append(intake.InboxEvent(merchant, "sighting", device, store, now, {}, sighting))
        drawn += len(events)
        ticks.append(intake.sightings_rows(events))
    return ticks


async def play(db: Any, ticks: list[list[tuple[Any, ...]]], tick_seconds: float = TICK) -> int:
    """Insert each tick's rows at its time (a tick late is inserted at once, catching up), as
    `intake.record_events` does; how many sightings."""
    started = time.monotonic()
    played = 0
    for tick, rows in enumerate(ticks):
        await asyncio.sleep(max(0.0, started + tick * tick_seconds - time.monotonic()))
        async with db.acquire() as conn:
            for row in rows:
                await conn.execute(intake.queries.insert_sightings, *row)
                played += len(row[3])
    return played


async def warm(db: Any, merchant: uuid.UUID, present: list[tuple[str, uuid.UUID]]) -> float:
    """One sighting of each present shopper, then wait (at most 10 minutes) until the engine
    has taken them all: how long it took, in seconds."""
    started = time.monotonic()
    now = datetime.now(UTC)
    for i in range(0, len(present), MAX_INSERT):
        await intake.record_events(
            db,
            [
                intake.InboxEvent(merchant, "sighting", device, store, now)
                for device, store in present[i : i + MAX_INSERT]
            ],
        )
    for _ in range(6000):
        if not await intake.waiting(db):
            return time.monotonic() - started
        await asyncio.sleep(0.1)
    raise BenchError("the engine did not take the warm-up's sightings in 10 minutes")


def resident_mib(pid: int) -> float:
    """A process's resident memory (Linux), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise BenchError(f"no VmRSS for process {pid}")


async def run_pipeline(rate: int, seconds: float, write: bool) -> None:
    server_url = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    mqtt_url = os.environ.get("MQTT_URL", "mqtt://127.0.0.1:1883")
    bare = await in_process_baseline()
    with tempfile.TemporaryDirectory(prefix="portico-bench-marketing-") as tmp:
        async with bench_database(server_url) as url:
            await migrate(url)
            db = await create_pool(url, size=4)
            try:
                async with db.acquire() as conn:
                    merchant = await accounts.create_merchant(conn, "Bench marketing")
                    stores = [
                        await accounts.create_store(conn, merchant, f"Store {i}")
                        for i in range(STORES)
                    ]
                await triggers.save_trigger(
                    db,
                    merchant,
                    triggers.TriggerSpec(
                        "欢迎",
                        "Welcome",
                        "arrival",
                        {"all": []},
                        "portal",
                        "welcome",
                        message_zh="欢迎光临",
                        message_en="Welcome",
                        holdout_share=0.1,
                    ),
                )
                # No quiet hours: the bench runs at any hour (21:00-09:00 would suppress all).
                await db.execute(
                    console_budget.queries.save_budget, merchant, 1, 3, dtime(0), dtime(0), 50
                )
                # The baseline: the same inserts with nothing consuming them, flat out.
                flat_out = draw_stream(merchant, stores, rate, 10.0, [], datetime.now(UTC))
                began = time.monotonic()
                raw = await play(db, flat_out, tick_seconds=0.0) / (time.monotonic() - began)
                await db.execute("DELETE FROM marketing_inbox")
                await db.execute("DELETE FROM marketing_profiles")
                # Each present shopper seen about once a minute (the producers' thinning).
                present = await seed_present(db, merchant, stores, 60 * rate)
                await db.execute("VACUUM ANALYZE marketing_profiles", timeout=600)
                env = role_env(url, mqtt_url, PORTICO_DATA_DIR=str(Path(tmp) / "var"))
                # The engine and the dispatcher, each a process (docs/marketing.md).
                children = [
                    await spawn(
                        part,
                        [sys.executable, "-m", "portico.cli", "serve", part],
                        env,
                        Path(tmp) / f"{part}.log",
                        terminate=True,
                    )
                    for part in ("marketing-engine", "marketing-dispatch")
                ]
                try:
                    for child in children:
                        for _ in range(600):
                            if "marketing role up" in child.log_path.read_text(errors="replace"):
                                break
                            await asyncio.sleep(0.1)
                        else:
                            raise BenchError(f"{child.name} did not start:\n{child.log_tail()}")
                    warm_up = await warm(db, merchant, present)
                    started = datetime.now(UTC) + timedelta(seconds=PREPARE)
                    stream = draw_stream(merchant, stores, rate, seconds, present, started)
                    await asyncio.sleep(max(0.0, (started - datetime.now(UTC)).total_seconds()))
                    produced = await play(db, stream)
                    backlog = await intake.waiting(db)
                    await asyncio.sleep(10)  # what was decided gets dispatched
                    left = await intake.waiting(db)
                    rss = resident_mib(children[0].proc.pid)
                finally:
                    for child in children:
                        await stop(child)
                rows = await db.fetch(
                    "SELECT extract(epoch FROM sent_at - decided_at) AS s FROM marketing_contacts"
                    " WHERE sent_at IS NOT NULL AND decided_at >= $1",
                    started,
                )
                windows = await db.fetch(
                    "SELECT floor(extract(epoch FROM event_at - $1) / 5) * 5 AS w, count(*) AS n,"
                    " percentile_cont(0.5) WITHIN GROUP (ORDER BY sent_at - decided_at) AS p50,"
                    " percentile_cont(0.99) WITHIN GROUP (ORDER BY sent_at - decided_at) AS p99"
                    " FROM marketing_contacts WHERE sent_at IS NOT NULL AND decided_at >= $1"
                    " GROUP BY 1 ORDER BY 1",
                    started,
                )
                taking = {
                    int(w["w"]): w["p99"].total_seconds()
                    for w in await db.fetch(
                        "SELECT floor(extract(epoch FROM occurred_at - $1) / 5) * 5 AS w,"
                        " percentile_cont(0.99) WITHIN GROUP (ORDER BY done_at - occurred_at)"
                        " AS p99 FROM marketing_inbox WHERE occurred_at >= $1 AND done_at"
                        " IS NOT NULL GROUP BY 1",
                        started,
                    )
                }
                statuses = dict(
                    await db.fetch(
                        "SELECT status, count(*) FROM marketing_contacts GROUP BY status"
                    )
                )
            finally:
                await db.close()
    latencies = sorted(float(r["s"]) for r in rows)
    result = {
        "rate": rate,
        "seconds": seconds,
        "produced": produced,
        "raw": raw,
        "backlog": backlog,
        "left": left,
        "taken": (produced - backlog) / seconds,
        "p50": percentile(latencies, 50) if latencies else math.nan,
        "p99": percentile(latencies, 99) if latencies else math.nan,
        "dispatched": len(latencies),
        "statuses": statuses,
        "warm_up": warm_up,
        "windows": [
            (
                int(w["w"]),
                w["n"],
                w["p50"].total_seconds(),
                w["p99"].total_seconds(),
                taking.get(int(w["w"]), math.nan),
            )
            for w in windows
        ],
        "rss": rss,
    }
    report_pipeline(result, bare.rps, write)


def report_pipeline(r: dict[str, Any], bare_rps: float, write: bool) -> None:
    date = datetime.now(UTC).strftime("%Y-%m-%d")
    facts = machine_facts()
    windows = r["windows"]
    keeps_up = r["backlog"] <= r["rate"]  # at most a second's events waiting at the end
    lines = [
        marker("marketing_pipeline", date),
        f"## {date} · Event → dispatch (`python -m bench.marketing pipeline`)",
        "",
        f"Machine: nproc {facts['nproc']}, {facts['cpu']}, {facts['ram']} RAM, Linux "
        f"{facts['kernel']}; Python {facts['python']}. Baselines in the same run: the bare aiohttp "
        f"handler served {bare_rps:,.0f} requests/s; the inbox took {r['raw']:,.0f} raw inserts/s "
        "with nothing consuming.",
        "",
        "The path and the stream: bench/marketing.py's docstring.",
        "",
        "| offered events/s | taken events/s | × bare | × raw inserts | backlog at the end | "
        "contacts dispatched | p50 s | p99 s | target |",
        "|---|---|---|---|---|---|---|---|---|",
        f"| {r['rate']:,} for {r['seconds']:.0f} s | {r['taken']:,.0f} | "
        f"{r['taken'] / bare_rps:.2f} | {r['taken'] / r['raw']:.2f} | "
        f"{r['backlog']:,} ({r['left']:,} 10 s later) | "
        f"{r['dispatched']:,} | {r['p50']:.2f} | {r['p99']:.2f} | p99 < 5 s at ≥ 20,000/s "
        f"({'meets' if keeps_up and r['p99'] < 5 and r['rate'] >= TARGET else 'misses'}) |",
        "",
        f"- contacts by status: {r['statuses']}.",
        "- by the events' 5 s of the run (contacts, their p50 s and p99 s; the p99 s from an "
        "event to the engine taking its row): "
        + "; ".join(
            f"{w}–{w + 5} s: {n:,}, {p50:.2f}, {p99:.2f}; {took:.2f}"
            for w, n, p50, p99, took in windows
        )
        + ".",
        f"- warm-up (one sighting of each of the {60 * r['rate']:,} present shoppers, the engine "
        f"reading each once): {r['warm_up']:.0f} s, "
        f"{60 * r['rate'] / r['warm_up']:,.0f} shoppers/s; the engine process then held "
        f"{r['rss']:,.0f} MiB resident at the end.",
        marker("marketing_pipeline", date, end=True),
    ]
    section = "\n".join(lines)
    print(section)
    if write:
        write_section("marketing_pipeline", date, section)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("mode", choices=["evaluate", "pipeline"])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--rate", type=int, default=TARGET)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    if args.mode == "evaluate":
        asyncio.run(run_evaluate(args.events, args.write))
    else:
        asyncio.run(run_pipeline(args.rate, args.seconds, args.write))


if __name__ == "__main__":
    main()
