"""Telemetry ingest: N simulated routers, each on its own MQTT connection, publish heartbeat
events (QoS 1, in batches of up to 16 KiB, as the agent's spool flush does) to a private
Mosquitto; the controller's consumer
(kernel.mqtt.Consumer + controller.telemetry.TelemetryIngest, as `portico serve controller`
wires them) writes them to PostgreSQL in batches before it acks them.

    .venv/bin/python -m bench.telemetry [--routers 2000] [--events 100] [--write]

The routers run in a child process (so they do not share the controller's CPU time slices in
one event loop); the rate is events stored ÷ seconds from the first publish to the last row,
and the run checks that every event was stored exactly once. Two modes: live (ingest while
the routers publish) and backlog (the controller drains what queued while it was away). The
broker is started with
`max_inflight_messages 1000`: Mosquitto's default of 20 unacked messages per client would cap
each telemetry batch at 20 events (docs/mqtt-contract.md, "How the controller consumes").
"""

from __future__ import annotations

import argparse
import asyncio
import os
import pwd
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import asyncpg

import accounts.services as accounts
from bench.harness import (
    BenchError,
    Bounds,
    Outcome,
    bare_baseline,
    bench_database,
    free_port,
    load_tool,
    machine_facts,
    marker,
    server_versions,
    write_section,
)
from controller import topics
from controller.listener import FleetListener
from controller.services import record_router_status, register_router
from controller.telemetry import TelemetryIngest
from kernel.db import create_pool, migrate
from kernel.embedded import mosquitto_binary
from kernel.mqtt import make_client
from simulators.agent import tele_batches

SECRET = "bench-secret-" + "x" * 40


def broker_config(port: int, state: Path) -> str:
    return "\n".join(
        [
            f"user {pwd.getpwuid(os.geteuid()).pw_name}",
            f"listener {port} 127.0.0.1",
            "allow_anonymous true",
            "persistence false",
            "set_tcp_nodelay true",
            "max_inflight_messages 1000",
            "max_queued_messages 1000000",
            "max_connections -1",
            f"log_dest file {state / 'mosquitto.log'}",
            "log_type error",
        ]
    )


async def publish(url: str, prefix: str, routers: int, events: int) -> None:
    """The child process: connect every router, wait for "go", publish, report."""
    clients = [make_client(url, "bench-router") for _ in range(routers)]
    for i in range(0, routers, 100):
        await asyncio.gather(*(c.__aenter__() for c in clients[i : i + 100]))
    print("connected", flush=True)
    await asyncio.to_thread(sys.stdin.readline)
    started = time.monotonic()

    def spool(n: int) -> list[bytes]:
        return [
            topics.encode(
                {
                    "id": f"0be0c4{n:06x}-{seq}",
                    "type": "heartbeat",
                    "ts": int(time.time()),
                    "uptime_s": seq,
                    "load": [0.1, 0.1, 0.1],
                    "agent": "bench",
                }
            )
            for seq in range(1, events + 1)
        ]

    async def one(n: int, payload: bytes) -> None:
        await clients[n].publish(topics.topic(f"{prefix}{n}", "tele"), payload, qos=1)

    # A spool flush as the agent sends it (send_tele): the events in batches of up to 16 KiB,
    # each router's back to back (mosquitto_pub -l does not wait for one PUBACK before the
    # next PUBLISH either).
    flushes = [tele_batches(spool(n)) for n in range(routers)]
    await asyncio.gather(*(one(n, batch) for n in range(routers) for batch in flushes[n]))
    print(f"sent {routers * events} {time.monotonic() - started:.3f}", flush=True)
    for client in clients:
        await client.__aexit__(None, None, None)


async def seed(db: asyncpg.Pool, prefix: str, routers: int) -> None:
    async with db.acquire() as conn, conn.transaction():
        merchant = await accounts.create_merchant(conn, "Bench telemetry")
        store = await accounts.create_store(conn, merchant, "Bench store")
        for n in range(routers):
            new = await register_router(conn, merchant, store, f"{prefix}{n}", f"AP {n}")
            await record_router_status(conn, new.router, online=True, status={"v": 1})


async def run(routers: int, events: int, write: bool) -> None:
    binary = mosquitto_binary()
    if binary is None:
        raise BenchError("needs the mosquitto broker binary (apt-get install -y mosquitto)")
    server_url = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    prefix = f"tb{os.getpid()}-"
    with tempfile.TemporaryDirectory(prefix="portico-bench-tele-") as tmp:
        state = Path(tmp)
        # The same machine's bare aiohttp handler, measured first in this run (the yardstick
        # every benchmark reports beside its figures, docs/benchmarks.md).
        tool, _note = load_tool("auto")
        bare = await bare_baseline(
            tool=tool,
            concurrency=64,
            threads=1,
            bounds=Bounds(2.0, 5_000, 10.0, 200_000),
            workdir=state,
        )
        port = free_port()
        (state / "mosquitto.conf").write_text(broker_config(port, state))
        broker = await asyncio.create_subprocess_exec(binary, "-c", str(state / "mosquitto.conf"))
        url = f"mqtt://127.0.0.1:{port}"
        try:
            await asyncio.sleep(0.5)
            async with bench_database(server_url) as database_url:
                await migrate(database_url)
                db = await create_pool(database_url, size=10)
                try:
                    results = []
                    for mode in ("live", "backlog"):
                        ids = f"{prefix}{mode[0]}"
                        await seed(db, ids, routers)
                        backlog = mode == "backlog"
                        result = await measure(db, url, ids, routers, events, backlog=backlog)
                        results.append((mode, result))
                    versions = await server_versions(db, url)
                finally:
                    await db.close()
        finally:
            broker.terminate()
            await broker.wait()
    report(routers, events, results, versions, bare, write)


async def measure(
    db: asyncpg.Pool, url: str, prefix: str, routers: int, events: int, *, backlog: bool
) -> dict[str, float]:
    ingest = TelemetryIngest(db, SECRET)
    fleet = FleetListener(
        url, db, shared_group="ctrl", client_id="bench-ctrl", routes={"tele": ingest.handle}
    )
    # Backlog mode: the controller's session exists, but it is away while the routers publish;
    # then it drains what the broker queued for it (its ingest alone, not the routers' speed).
    listening = asyncio.create_task(fleet.run())
    if backlog:
        await asyncio.wait_for(fleet.connected.wait(), 10)
        listening.cancel()
        await asyncio.gather(listening, return_exceptions=True)
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.telemetry",
        "--publish",
        url,
        prefix,
        str(routers),
        str(events),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert child.stdin is not None and child.stdout is not None
    try:
        if not backlog:
            await asyncio.wait_for(fleet.connected.wait(), 10)
        line = await asyncio.wait_for(child.stdout.readline(), 300)
        if not line.startswith(b"connected"):
            raise BenchError(f"the routers did not connect: {line!r}")
        total = routers * events
        started = time.monotonic()
        child.stdin.write(b"go\n")
        await child.stdin.drain()
        if backlog:
            sent_first = (await asyncio.wait_for(child.stdout.readline(), 600)).split()
            await child.wait()
            started = time.monotonic()
            listening = asyncio.create_task(fleet.run())
        count = 0
        async with asyncio.timeout(600):
            while count < total:
                await asyncio.sleep(0.1)
                count = await count_rows(db, prefix)
        took = time.monotonic() - started
        if backlog:
            sent_line = sent_first
        else:
            sent_line = (await asyncio.wait_for(child.stdout.readline(), 60)).split()
            await child.wait()
        await asyncio.sleep(1)
        stored = await count_rows(db, prefix)
        return {
            "total": total,
            "stored": stored,
            "seconds": took,
            "rate": total / took,
            "publish_seconds": float(sent_line[2]),
            "rows_counted": ingest.stored,
            "refused": sum(v for k, v in fleet.metrics.snapshot().items() if "refused" in k),
        }
    finally:
        listening.cancel()
        if child.returncode is None:
            child.kill()


async def count_rows(db: asyncpg.Pool, prefix: str) -> int:
    return await db.fetchval(
        "SELECT count(*) FROM router_telemetry WHERE starts_with(router_id, $1)", prefix
    )


def report(
    routers: int,
    events: int,
    results: list[tuple[str, dict[str, float]]],
    versions: dict[str, str],
    bare: Outcome,
    write: bool,
) -> None:
    date = datetime.now(UTC).strftime("%Y-%m-%d")
    facts = machine_facts()
    lines = [
        marker("telemetry", date),
        f"## {date} · Telemetry ingest (`python -m bench.telemetry`)",
        "",
        f"Machine: nproc {facts['nproc']}, {facts['cpu']}, {facts['ram']} RAM, Linux "
        f"{facts['kernel']}; Python {facts['python']}; PostgreSQL {versions['postgres']}, "
        f"{versions['mqtt_broker']} (max_inflight_messages 1000); everything on loopback.",
        "",
        f"{routers:,} routers, each on its own MQTT connection in one child process, publish "
        f"{events} heartbeat events each (QoS 1, back to back, in batches of up to 16 KiB as "
        "the agent's spool flush sends them); one "
        "controller (persistent session, `$share/ctrl`) stores them in batches before acking. "
        "*live*: the controller ingests while the routers publish (seconds from the first "
        "publish to the last row stored); *backlog*: the routers publish while the controller is "
        "away and it then drains what the broker queued for its session (its ingest alone).",
        "",
        f"Baseline in the same run: a bare aiohttp handler (`bench/bare.py`) served "
        f"{bare.rps:,.0f} requests/s ({bare.client}, 64 connections); `× bare` is events/s "
        "over those requests/s.",
        "",
        "| mode | events | stored | seconds | events/s | × bare | routers' publish s |",
        "|---|---|---|---|---|---|---|",
    ]
    for mode, r in results:
        lines.append(
            f"| {mode} | {int(r['total']):,} | {int(r['stored']):,} | {r['seconds']:.1f} | "
            f"{r['rate']:,.0f} | {r['rate'] / bare.rps:.0%} | {r['publish_seconds']:.1f} |"
        )
    lines.append("")
    for mode, r in results:
        verdict = "meets" if r["rate"] >= 20_000 else "misses"
        lines.append(
            f"- {mode}: {r['rate']:,.0f} events/s ({r['rate'] / bare.rps:.0%} of the bare "
            f"handler's {bare.rps:,.0f} requests/s), target ≥ 20,000/s ({verdict}); exactly once: "
            f"{int(r['stored']):,} rows for {int(r['total']):,} events, "
            f"{int(r['rows_counted']):,} counted as written, {int(r['refused'])} refused."
        )
    lines.append(marker("telemetry", date, end=True))
    section = "\n".join(lines)
    print(section)
    if write:
        write_section("telemetry", date, section)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--routers", type=int, default=2000)
    parser.add_argument("--events", type=int, default=100)
    parser.add_argument("--write", action="store_true")
    parser.add_argument("--publish", nargs=4, metavar=("URL", "PREFIX", "ROUTERS", "EVENTS"))
    args = parser.parse_args()
    if args.publish:
        url, prefix, routers, events = args.publish
        asyncio.run(publish(url, prefix, int(routers), int(events)))
        return
    asyncio.run(run(args.routers, args.events, args.write))


if __name__ == "__main__":
    main()
