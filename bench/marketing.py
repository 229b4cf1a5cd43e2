"""Precision marketing benchmarks (issue 14: trigger evaluation ≥ 20,000 events/s on one core).

    .venv/bin/python -m bench.marketing evaluate [--events 200000] [--write]

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
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from bench.harness import Bounds, bare_baseline, load_tool, machine_facts, marker, write_section
from marketing import budget, rules, tags
from marketing.engine import Batch, Config, Event, Trigger

STORES = 20
SHOPPERS = 30_000
DAYS = 14
TARGET = 20_000  # events/s on one core


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
    with tempfile.TemporaryDirectory(prefix="portico-bench-marketing-") as tmp:
        tool, _ = load_tool("auto")
        bare = await bare_baseline(
            tool=tool,
            concurrency=64,
            threads=1,
            bounds=Bounds(1.0, 5_000, 5.0, 200_000),
            workdir=Path(tmp),
        )
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
        "| events/s (CPU time, one core) | events/s (wall) | × bare | target |",
        "|---|---|---|---|",
        f"| {result['cpu_rate']:,.0f} | {result['wall_rate']:,.0f} | "
        f"{result['cpu_rate'] / bare.rps:.2f} | ≥ {TARGET:,} ({outcome}) |",
        marker("marketing_evaluate", date, end=True),
    ]
    section = "\n".join(lines)
    print(section)
    if write:
        write_section("marketing_evaluate", date, section)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("mode", choices=["evaluate"])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    asyncio.run(run_evaluate(args.events, args.write))


if __name__ == "__main__":
    main()
