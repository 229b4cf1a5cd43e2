"""Fleet: the command round trip at 2,000 routers, and the controller's footprint with 10,000
idle routers connected.

    .venv/bin/python -m bench.fleet [--routers 2000] [--rate 400] [--seconds 10]
                                    [--idle 10000] [--idle-seconds 60] [--write]

Everything on 127.0.0.1, as Portico deploys it: a PostgreSQL database of its own, the routers
registered through the services (each with its own MQTT password), a private Mosquitto with
the password and ACL files the controller writes from PostgreSQL (controller.broker_auth), and
simulated routers in child processes, each router on its own MQTT connection with its own
credentials, its Last Will and retained status, answering every command at once (the agent's
own time on a real router is not what this measures).

1. Round trip: `--routers` routers connected; this process sends `ping` to random ones through
   the real `CommandSender` (command row in PostgreSQL, publish, wait for the ack, ack stored) at
   `--rate` a second, open loop, for `--seconds`; p50/p99 of each send, start to ack stored.
2. Idle: `portico serve controller` runs while `--idle` routers connect (each sends its
   retained status and a heartbeat batch every 60 s, at a random offset); once all are
   connected and the controller has caught up, its CPU and memory over `--idle-seconds`.

A bare aiohttp handler is measured first (bench/bare.py), the machine's speed for the record.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import resource
import secrets
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import aiomqtt
import asyncpg

import accounts.services as accounts
from bench.harness import (
    CHILD_START_TIMEOUT,
    BenchError,
    Bounds,
    Child,
    Outcome,
    bare_baseline,
    bench_database,
    load_tool,
    machine_facts,
    marker,
    read_tagged_line,
    spawn,
    stop,
    write_section,
)
from controller import broker_auth, topics
from controller.commands import CommandSender
from controller.services import RouterRef, register_router
from kernel.db import create_pool, migrate
from kernel.embedded import PrivateMosquitto, free_port, mosquitto_binary
from kernel.mqtt import NO_DELAY, parse_mqtt_url
from simulators.agent import ack, tele_batches

ROUTERS_PER_PROCESS = 2500
HEARTBEAT_S = 60


# -- the routers (child processes) ----------------------------------------------------------------


async def run_routers(url: str, spec_path: Path) -> None:
    """Connect each router of the spec, answer its commands, heartbeat; print READY once all
    are connected, STATS when stdin closes."""
    spec = json.loads(await asyncio.to_thread(spec_path.read_text))
    address = parse_mqtt_url(url)
    acks = 0
    connected = 0
    ready = asyncio.Event()

    async def router(router_id: str, password: str, start: asyncio.Semaphore) -> None:
        nonlocal acks, connected
        status = topics.topic(router_id, "status")
        async with start:
            client = aiomqtt.Client(
                address.host,
                address.port,
                username=router_id,
                password=password,
                identifier=router_id,
                will=aiomqtt.Will(status, topics.encode({"online": False}), qos=1, retain=True),
                keepalive=120,
                socket_options=NO_DELAY,  # as the agent's and the controller's clients
            )
            await client.__aenter__()
        try:
            await client.subscribe(topics.topic(router_id, "cmd"), qos=1)
            await client.publish(
                status, topics.encode({"online": True, "ts": int(time.time())}), qos=1, retain=True
            )
            connected += 1
            if connected == len(spec):
                ready.set()
            beats = asyncio.create_task(heartbeat(client, router_id))
            async for message in client.messages:
                command = json.loads(bytes(message.payload))  # type: ignore[arg-type]
                answer = ack(command["id"], "done", "ok")
                await client.publish(topics.topic(router_id, "ack"), json.dumps(answer), qos=1)
                acks += 1
            beats.cancel()
        finally:
            with contextlib.suppress(aiomqtt.MqttError):
                await client.__aexit__(None, None, None)

    async def heartbeat(client: aiomqtt.Client, router_id: str) -> None:
        await asyncio.sleep(random.uniform(0, HEARTBEAT_S))
        epoch, seq = secrets.token_hex(6), 0
        while True:
            seq += 1
            event = topics.encode(
                {
                    "id": f"{epoch}-{seq}",
                    "type": "heartbeat",
                    "ts": int(time.time()),
                    "uptime_s": seq * HEARTBEAT_S,
                    "load": [0.1, 0.1, 0.1],
                    "agent": "bench",
                }
            )
            for batch in tele_batches([event]):
                await client.publish(topics.topic(router_id, "tele"), batch, qos=1)
            await asyncio.sleep(HEARTBEAT_S)

    start = asyncio.Semaphore(50)  # connects in flight at once
    tasks = [asyncio.create_task(router(rid, pw, start)) for rid, pw in spec]
    await asyncio.wait_for(ready.wait(), CHILD_START_TIMEOUT * 4)
    print("READY {}", flush=True)
    await asyncio.to_thread(sys.stdin.readline)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    print(f"STATS {json.dumps({'acks': acks})}", flush=True)


# -- the run --------------------------------------------------------------------------------------


@dataclass
class Footprint:
    seconds: float
    cpu_percent: float  # of one core
    rss_mb: float
    peak_rss_mb: float


def footprint_of(pid: int, since: tuple[float, float]) -> Footprint:
    """CPU over the time since `since` (its cpu_seconds, monotonic) and memory now."""
    cpu, at = since
    seconds = time.monotonic() - at
    fields = Path(f"/proc/{pid}/status").read_text().splitlines()
    kb = {f.split(":")[0]: int(f.split()[1]) for f in fields if f.startswith(("VmRSS", "VmHWM"))}
    return Footprint(
        seconds,
        100 * (cpu_seconds(pid) - cpu) / seconds,
        kb["VmRSS"] / 1024,
        kb["VmHWM"] / 1024,
    )


def mosquitto_version(binary: str) -> str:
    """`mosquitto version 2.0.11` (the broker's $SYS topics are closed to the accounts)."""
    import subprocess

    out = subprocess.run([binary, "-h"], capture_output=True, text=True, check=False).stdout
    return out.splitlines()[0] if out else "mosquitto (version unknown)"


def cpu_seconds(pid: int) -> float:
    stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


async def spawn_routers(
    name: str, url: str, routers: list[tuple[str, str]], workdir: Path
) -> list[Child]:
    children = []
    for i in range(0, len(routers), ROUTERS_PER_PROCESS):
        spec = workdir / f"{name}-{i}.json"
        spec.write_text(json.dumps(routers[i : i + ROUTERS_PER_PROCESS]))
        children.append(
            await spawn(
                f"{name}-{i}",
                [sys.executable, "-m", "bench.fleet", "--role", "routers", url, str(spec)],
                dict(os.environ, PYTHONUNBUFFERED="1"),
                workdir / f"{name}-{i}.log",
            )
        )
    for child in children:
        await read_tagged_line(child, "READY", CHILD_START_TIMEOUT * 4)
    return children


async def stop_routers(children: list[Child]) -> int:
    acks = 0
    for child in children:
        assert child.proc.stdin is not None
        child.proc.stdin.close()
        with contextlib.suppress(BenchError):
            acks += json.loads(await read_tagged_line(child, "STATS", 60))["acks"]
        await stop(child)
    return acks


async def round_trip(
    url: str, db: asyncpg.Pool, refs: list[RouterRef], rate: float, seconds: float
) -> tuple[list[float], dict[str, int]]:
    """`ping` to random routers at `rate` a second for `seconds`, open loop: each send's time."""
    sender = CommandSender(url, db, ack_timeout=5)
    await sender.start()
    times: list[float] = []
    outcomes: dict[str, int] = {}

    async def one(ref: RouterRef) -> None:
        started = time.perf_counter()
        try:
            result = await sender.send(ref, "ping", {})
            status = result.status
        except Exception as exc:  # counted and reported: a bench reports what failed
            status = type(exc).__name__
        times.append(time.perf_counter() - started)
        outcomes[status] = outcomes.get(status, 0) + 1

    try:
        tasks = []
        begin = time.perf_counter()
        for n in range(int(rate * seconds)):
            await asyncio.sleep(max(0.0, begin + n / rate - time.perf_counter()))
            tasks.append(asyncio.create_task(one(random.choice(refs))))
        await asyncio.gather(*tasks)
    finally:
        await sender.stop()
    return times, outcomes


async def seed(db: asyncpg.Pool, count: int) -> list[tuple[str, str]]:
    """One merchant and store, `count` routers: (router_id, MQTT password) each."""
    out = []
    async with db.acquire() as conn, conn.transaction():
        merchant = await accounts.create_merchant(conn, "Bench fleet")
        store = await accounts.create_store(conn, merchant, "Bench mall")
        for n in range(count):
            new = await register_router(conn, merchant, store, f"ap-fleet-{n}", f"AP {n}")
            out.append((new.router.router_id, new.mqtt_password))
    return out


async def run(opts: argparse.Namespace) -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # children and the broker inherit
    if hard < opts.idle + 1000:
        raise BenchError(f"the open-file limit ({hard}) is too low for {opts.idle} routers")
    binary = mosquitto_binary()
    if binary is None:
        raise BenchError("no mosquitto binary (apt-get install -y mosquitto)")
    server = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    with tempfile.TemporaryDirectory(prefix="portico-bench-fleet-") as tmp:
        workdir = Path(tmp)
        tool = load_tool("auto")
        bare = await bare_baseline(
            tool=tool,
            concurrency=64,
            threads=1,
            bounds=Bounds(2, 5_000, 5, 200_000),
            workdir=workdir,
        )
        async with bench_database(server) as database_url:
            await migrate(database_url)
            db = await create_pool(database_url, size=10)
            try:
                routers = await seed(db, max(opts.routers, opts.idle))
                refs = [
                    RouterRef(r["merchant_id"], r["router_id"])
                    for r in await db.fetch("SELECT merchant_id, router_id FROM routers")
                ]
                port = free_port()
                controller = broker_auth.generate_account("controller", "127.0.0.1", port)
                files = broker_auth.BrokerFiles(workdir / "auth", [controller.account])
                await files.sync(db)
                broker = PrivateMosquitto(
                    binary,
                    workdir / "broker",
                    port,
                    password_file=files.passwd_path,
                    acl_file=files.acl_path,
                )
                broker.start()
                try:
                    await broker.ready()
                    versions = {
                        "postgres": str(await db.fetchval("SHOW server_version")).split(" ")[0],
                        "mqtt_broker": mosquitto_version(binary),
                    }
                    result = await measure(
                        opts, controller.url, database_url, db, routers, refs, workdir, broker
                    )
                finally:
                    await asyncio.to_thread(broker.stop)
            finally:
                await db.close()
    report(opts, result, versions, bare)


async def measure(
    opts: argparse.Namespace,
    url: str,
    database_url: str,
    db: asyncpg.Pool,
    routers: list[tuple[str, str]],
    refs: list[RouterRef],
    workdir: Path,
    broker: PrivateMosquitto,
) -> dict[str, object]:
    print(
        f"round trip: {opts.routers} routers, {opts.rate}/s for {opts.seconds} s", file=sys.stderr
    )
    children = await spawn_routers("rt", url, routers[: opts.routers], workdir)
    try:
        await round_trip(url, db, refs[: opts.routers], opts.rate, 2)  # warm-up
        times, outcomes = await round_trip(url, db, refs[: opts.routers], opts.rate, opts.seconds)
    finally:
        acks = await stop_routers(children)
    print(f"idle: {opts.idle} routers, the controller for {opts.idle_seconds} s", file=sys.stderr)
    env = dict(
        os.environ,
        DATABASE_URL=database_url,
        MQTT_URL=url,
        PORTICO_ENV="production",
        PORTICO_SECRET_KEY=secrets.token_urlsafe(48),
        PORTICO_CONTROLLER_ID="bench-ctrl",
        PYTHONUNBUFFERED="1",
    )
    ctrl = await spawn(
        "controller",
        [sys.executable, "-m", "portico.cli", "serve", "controller"],
        env,
        workdir / "controller.log",
        terminate=True,
    )
    try:
        await asyncio.sleep(3)
        started = time.monotonic()
        idle_children = await spawn_routers("idle", url, routers[: opts.idle], workdir)
        connect_s = time.monotonic() - started
        async with asyncio.timeout(120):  # the controller has read every router's status
            while await db.fetchval("SELECT count(*) FROM routers WHERE online") < opts.idle:  # noqa: ASYNC110 (a database, not an event)
                await asyncio.sleep(1)
        await asyncio.sleep(5)
        pids = {"controller": ctrl.proc.pid, "broker": broker.process.pid}
        since = {name: (cpu_seconds(pid), time.monotonic()) for name, pid in pids.items()}
        await asyncio.sleep(opts.idle_seconds)
        controller_fp = footprint_of(pids["controller"], since["controller"])
        broker_fp = footprint_of(pids["broker"], since["broker"])
        heartbeats = await db.fetchval("SELECT count(*) FROM router_telemetry")
        await stop_routers(idle_children)
    finally:
        await stop(ctrl)
    return {
        "times": times,
        "outcomes": outcomes,
        "acks": acks,
        "connect_s": connect_s,
        "controller": controller_fp,
        "broker": broker_fp,
        "heartbeats": heartbeats,
        "controller_errors": sum(
            1 for line in ctrl.log_tail(10**6).splitlines() if " ERROR " in line
        ),
    }


def report(
    opts: argparse.Namespace, r: dict[str, object], versions: dict[str, str], bare: Outcome
) -> None:
    times = sorted(r["times"])  # type: ignore[arg-type]
    p50 = statistics.median(times) * 1000
    p99 = times[int(len(times) * 0.99) - 1] * 1000
    ctrl: Footprint = r["controller"]  # type: ignore[assignment]
    brk: Footprint = r["broker"]  # type: ignore[assignment]
    date = datetime.now(UTC).strftime("%Y-%m-%d")
    facts = machine_facts()
    sent = len(times)
    done = r["outcomes"].get("done", 0)  # type: ignore[attr-defined]
    lines = [
        marker("fleet", date),
        f"## {date} · Fleet: command round trip and idle routers (`python -m bench.fleet`)",
        "",
        f"Machine: nproc {facts['nproc']}, {facts['cpu']}, {facts['ram']} RAM, Linux "
        f"{facts['kernel']}; Python {facts['python']}; PostgreSQL {versions['postgres']}, "
        f"{versions['mqtt_broker']} (private, per-router accounts and ACLs from PostgreSQL); "
        "everything on loopback. A bare aiohttp handler served "
        f"{bare.rps:,.0f} requests/s (p99 {bare.p99_ms:.1f} ms) in the same run.",
        "",
        f"Round trip: {opts.routers:,} routers, each on its own MQTT connection with its own "
        "credentials, in child processes, answering at once; `ping` to random routers through "
        f"`CommandSender` at {opts.rate:g}/s for {opts.seconds:g} s, open loop (command stored, "
        "published, ack received and stored).",
        "",
        "| routers | commands | done | p50 ms | p99 ms | max ms | × bare p99 |",
        "|---|---|---|---|---|---|---|",
        f"| {opts.routers:,} | {sent:,} | {done:,} | {p50:.1f} | {p99:.1f} | "
        f"{times[-1] * 1000:.1f} | {p99 / bare.p99_ms:.1f}× |",
        "",
        f"Idle: {opts.idle:,} routers connected (in {r['connect_s']:.0f} s; each a retained "
        f"status and a heartbeat every {HEARTBEAT_S} s), `portico serve controller` measured "
        f"over {ctrl.seconds:.0f} s once every router was online in PostgreSQL.",
        "",
        "| process | CPU (of one core) | RSS MB | peak RSS MB |",
        "|---|---|---|---|",
        f"| controller | {ctrl.cpu_percent:.1f} % | {ctrl.rss_mb:.0f} | {ctrl.peak_rss_mb:.0f} |",
        f"| Mosquitto | {brk.cpu_percent:.1f} % | {brk.rss_mb:.0f} | {brk.peak_rss_mb:.0f} |",
        "",
        f"- Round trip p99 {p99:.1f} ms, target < 200 ms "
        f"({'meets' if p99 < 200 and done == sent else 'misses'}); outcomes {r['outcomes']}, "
        f"acks the routers sent {r['acks']:,} (warm-up included).",
        f"- Idle: heartbeats stored {r['heartbeats']:,}; errors in the controller's log: "
        f"{r['controller_errors']}.",
        marker("fleet", date, end=True),
    ]
    section = "\n".join(lines)
    print(section)
    if opts.write:
        write_section("fleet", date, section)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--routers", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=400)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--idle", type=int, default=10000)
    parser.add_argument("--idle-seconds", type=float, default=60)
    parser.add_argument("--write", action="store_true")
    parser.add_argument("--role", choices=("routers",), help=argparse.SUPPRESS)
    parser.add_argument("args", nargs="*", help=argparse.SUPPRESS)
    opts = parser.parse_args()
    if opts.role == "routers":
        url, spec = opts.args
        asyncio.run(run_routers(url, Path(spec)))
        return
    asyncio.run(run(opts))


if __name__ == "__main__":
    main()
