"""Benchmark: the splash page and the click-through login, end to end, on real servers.

    python -m bench.login_flow [--write]

What it does, all on 127.0.0.1:
  1. creates a database `portico_bench_<random>` on DATABASE_URL's server, migrates it and seeds
     one merchant (stores, portal settings, routers, an ad campaign) through the services;
  2. starts the portal role as production runs it (`python -m portico.cli serve portal`) in
     its own process, and the simulated routers (`simulators.router`, real MQTT on MQTT_URL,
     acking every command) in a second one; this process is the load generator;
  3. measures, at 64 concurrent keep-alive connections, after a warm-up and bounded by a
     request count and a time (whichever first):
       a) splash GET /fas/<router>/?fas=… for clients the routers know (a pool of fas values),
          with wrk when it is installed (else the aiohttp client, and it says so);
       b) click-through POST /fas/<router>/login, each with a fresh client (new MAC and token),
          so each is a real grant: HTTP -> PostgreSQL -> MQTT cmd -> router ack -> 303;
  4. prints a table, checks that every login was stored and acked, drops the database and, with
     --write, replaces today's section of docs/benchmarks.md.
Exit status 1 when any request failed or the checks do not add up.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import hashlib
import hmac
import json
import math
import os
import platform
import re
import secrets
import shutil
import signal
import socket
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import aiomqtt
import asyncpg
from yarl import URL

import accounts.services as accounts
import ads.services as ads
import portal.services as portal
from controller.services import record_router_status, register_router
from kernel.db import create_pool, migrate
from kernel.mqtt import make_client
from portal.fas import encode_fas
from simulators.router import SimClient, SimulatedRouter

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_MQTT_URL = "mqtt://127.0.0.1:1883"
ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "benchmarks.md"
GATEWAY_NAME = "Bench Mall"
ORIGIN_URL = "http://example.com/"
SPLASH_POOL = 32  # fas values per router reused by the splash scenario
CHILD_START_TIMEOUT = 60.0
# PRODUCT.md §6.
TARGETS = {
    "splash": (4000.0, 50.0),  # requests/s at least, p99 ms below
    "login": (500.0, 100.0),
}
PNG_1X1 = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cf00000301010018dd8db40000000049454e44ae426082"
)


# -- options ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Options:
    database_url: str
    mqtt_url: str
    concurrency: int
    routers: int
    warmup: float
    duration: float
    splash_requests: int
    login_requests: int
    splash_client: str
    wrk_threads: int
    write: bool


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.login_flow",
        description="Splash and click-through login benchmark (see the module docstring).",
    )
    parser.add_argument("--concurrency", type=int, default=64, help="connections (default 64)")
    parser.add_argument("--routers", type=int, default=8, help="simulated routers (default 8)")
    parser.add_argument("--warmup", type=float, default=3.0, help="warm-up seconds (default 3)")
    parser.add_argument(
        "--duration", type=float, default=20.0, help="measured seconds at most (default 20)"
    )
    parser.add_argument(
        "--splash-requests", type=int, default=200_000, help="splash requests at most"
    )
    parser.add_argument("--login-requests", type=int, default=20_000, help="logins at most")
    parser.add_argument(
        "--splash-client",
        choices=("auto", "wrk", "aiohttp"),
        default="auto",
        help="load generator for the splash: wrk when installed (auto), or the aiohttp client",
    )
    parser.add_argument("--wrk-threads", type=int, default=1, help="wrk threads (default 1)")
    parser.add_argument(
        "--write", action="store_true", help="replace today's section of docs/benchmarks.md"
    )
    parser.add_argument("--role", choices=("routers",), help=argparse.SUPPRESS)
    parser.add_argument("--spec", type=Path, help=argparse.SUPPRESS)
    return parser


# -- the fleet: seeded routers and their clients --------------------------------------------------


@dataclass(frozen=True)
class RouterSpec:
    index: int
    router_id: str
    faskey: str
    gateway_mac: str
    mqtt_password: str


@dataclass(frozen=True)
class FleetSpec:
    mqtt_url: str
    portal_url: str
    seed: str  # both processes derive the same clients from it
    clients_per_router: int
    routers: list[RouterSpec]


def bench_client(seed: str, router_index: int, number: int) -> SimClient:
    """Client `number` of router `router_index`: the same in the routers' and the load process."""
    octets = bytes([0xDA, router_index & 0xFF]) + (number & 0xFFFFFFFF).to_bytes(4, "big")
    mac = ":".join(f"{b:02x}" for b in octets)  # locally administered, like a phone's
    ip = f"10.{router_index % 250}.{number // 250 % 250}.{number % 250 + 2}"
    token = hmac.new(seed.encode(), f"{router_index}:{number}".encode(), hashlib.sha256)
    return SimClient(mac=mac, ip=ip, token=token.hexdigest()[:8])  # openNDS-like 8 hex chars


def _gateway_mac(index: int) -> str:
    return f"02:00:5e:00:{index >> 8 & 0xFF:02x}:{index & 0xFF:02x}"


async def seed_tenant(db: asyncpg.Pool, routers: int) -> list[RouterSpec]:
    """One merchant, two routers a store, portal settings and a live ad: through the services."""
    suffix = uuid.uuid4().hex[:8]
    specs = []
    now = datetime.now(UTC)
    async with db.acquire() as conn, conn.transaction():
        merchant_id = await accounts.create_merchant(conn, f"{GATEWAY_NAME} {suffix}")
        store_id = None
        for index in range(routers):
            if index % 2 == 0:
                store_id = await accounts.create_store(conn, merchant_id, f"Store {index // 2 + 1}")
                await portal.upsert_store_portal(
                    conn,
                    merchant_id,
                    store_id,
                    brand_name=f"{GATEWAY_NAME} · Store {index // 2 + 1}",
                    welcome_en="Welcome! Free WiFi for our shoppers.",
                    welcome_zh="欢迎光临！顾客免费 WiFi。",
                    login_methods=("click",),
                    session_minutes=120,
                    up_kbps=5_000,
                    down_kbps=20_000,
                )
            assert store_id is not None
            new = await register_router(
                conn,
                merchant_id,
                store_id,
                f"ap-bench-{suffix}-{index}",
                f"AP {index + 1}",
                gateway_mac=_gateway_mac(index),
            )
            # No controller role runs in the bench: say the router is online, as its status would.
            await record_router_status(
                conn, new.router, online=True, status={"v": 1, "online": True}
            )
            specs.append(
                RouterSpec(
                    index,
                    new.router.router_id,
                    new.router.faskey,
                    _gateway_mac(index),
                    new.mqtt_password,
                )
            )
        await ads.create_campaign(
            conn,
            merchant_id,
            advertiser="Lucky Bean Coffee",
            name="Bench campaign",
            starts_at=now - timedelta(hours=1),
            ends_at=now + timedelta(days=1),
            headline_en="Any latte ¥9.9 this week",
            headline_zh="本周任意拿铁 9.9 元",
            body_en="Two steps from the main entrance.",
            body_zh="主入口旁两步即到。",
            image_type="image/png",
            image=PNG_1X1,
            coupon=("¥10 off a latte", "拿铁立减 10 元", now + timedelta(days=1), 50),
        )
    return specs


def _sim_router(fleet: FleetSpec, spec: RouterSpec, gateway_port: int = 0) -> SimulatedRouter:
    return SimulatedRouter(
        spec.router_id,
        mqtt_url=fleet.mqtt_url,
        password=spec.mqtt_password,
        faskey=spec.faskey,
        portal_url=fleet.portal_url,
        gateway_mac=spec.gateway_mac,
        gateway_name=GATEWAY_NAME,
        gateway_host="127.0.0.1",
        gateway_port=gateway_port,
    )


# -- the routers process --------------------------------------------------------------------------


async def run_routers(spec_path: Path) -> None:
    """Simulated routers with their clients; print READY, serve until stdin closes, print STATS."""
    fleet = _load_fleet(spec_path)
    sims = []
    try:
        for spec in fleet.routers:
            sim = _sim_router(fleet, spec)
            for number in range(fleet.clients_per_router):
                client = bench_client(fleet.seed, spec.index, number)
                sim.clients[client.mac] = client
            await sim.start()
            sims.append(sim)
        ports = {sim.router_id: sim.gateway_port for sim in sims}
        print("READY " + json.dumps(ports), flush=True)
        await asyncio.to_thread(sys.stdin.buffer.read)  # the bench closes our stdin to stop us
    finally:
        granted = sum(c.authenticated for sim in sims for c in sim.clients.values())
        print("STATS " + json.dumps({"granted": granted}), flush=True)
        for sim in sims:
            await sim.stop()


def _load_fleet(path: Path) -> FleetSpec:
    raw = json.loads(path.read_text())
    raw["routers"] = [RouterSpec(**r) for r in raw["routers"]]
    return FleetSpec(**raw)


# -- child processes ------------------------------------------------------------------------------


@dataclass
class Child:
    name: str
    proc: asyncio.subprocess.Process
    log_path: Path

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log_path.read_text(errors="replace").splitlines()
        except FileNotFoundError:
            return ""
        return "\n".join(text[-lines:])


async def _spawn(name: str, args: list[str], env: dict[str, str], log_path: Path) -> Child:
    with log_path.open("wb") as log:
        proc = await asyncio.create_subprocess_exec(
            *args,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=log,
            env=env,
            cwd=str(ROOT),
        )
    return Child(name, proc, log_path)


async def _read_tagged_line(child: Child, tag: str, timeout: float) -> str:
    """The first stdout line starting with `tag `, within `timeout` seconds."""
    assert child.proc.stdout is not None
    deadline = time.monotonic() + timeout
    for _ in range(10_000):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        try:
            line = await asyncio.wait_for(child.proc.stdout.readline(), remaining)
        except TimeoutError:
            break
        if not line:
            break
        text = line.decode(errors="replace").strip()
        if text.startswith(tag + " "):
            return text[len(tag) + 1 :]
    raise BenchError(f"{child.name} did not report {tag}; its log ends with:\n{child.log_tail()}")


async def _stop(child: Child, timeout: float = 15.0) -> None:
    proc = child.proc
    if proc.returncode is None:
        if proc.stdin is not None and not proc.stdin.is_closing():
            proc.stdin.close()
        if child.name == "portal":
            proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), timeout)
        except TimeoutError:
            proc.kill()
            await proc.wait()


async def _wait_healthy(child: Child, url: str, timeout: float) -> None:
    async with aiohttp.ClientSession() as session:
        for _ in range(int(timeout / 0.1)):
            if child.proc.returncode is not None:
                break
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                async with session.get(url, timeout=aiohttp.ClientTimeout(total=1)) as resp:
                    if resp.status == 200:
                        return
            await asyncio.sleep(0.1)
    raise BenchError(f"the portal did not come up at {url}; its log ends with:\n{child.log_tail()}")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class BenchError(Exception):
    pass


# -- load generation ------------------------------------------------------------------------------


@dataclass
class Outcome:
    scenario: str
    client: str
    concurrency: int
    requests: int = 0
    errors: int = 0
    seconds: float = 0.0
    p50_ms: float = math.nan
    p99_ms: float = math.nan
    warmup_requests: int = 0
    ok_total: int = 0  # successful requests, warm-up included
    error_samples: list[str] = field(default_factory=list)
    note: str = ""

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else 0.0


@dataclass(frozen=True)
class Bounds:
    warmup_s: float
    warmup_max: int
    duration_s: float
    max_requests: int


def _percentile(sorted_values: list[float], pct: float) -> float:
    if not sorted_values:
        return math.nan
    rank = max(0, math.ceil(pct / 100 * len(sorted_values)) - 1)
    return sorted_values[rank]


async def drive(
    send: Callable[[], Awaitable[str | None]],
    *,
    scenario: str,
    concurrency: int,
    bounds: Bounds,
) -> Outcome:
    """`concurrency` workers calling `send` (None = success, else an error text): a warm-up,
    then requests started until `max_requests` or `duration_s`, whichever comes first."""
    outcome = Outcome(scenario, "aiohttp", concurrency)
    latencies: list[float] = []
    clock = time.perf_counter
    warm_deadline = clock() + bounds.warmup_s
    start: float | None = None
    measure_deadline = math.inf
    issued = 0
    last_done = 0.0

    async def worker() -> None:
        nonlocal start, measure_deadline, issued, last_done
        for _ in range(bounds.warmup_max + bounds.max_requests):
            now = clock()
            if start is None and (
                now >= warm_deadline or outcome.warmup_requests >= bounds.warmup_max
            ):
                start, measure_deadline = now, now + bounds.duration_s
            measured = start is not None
            if measured:
                if issued >= bounds.max_requests or now >= measure_deadline:
                    return
                issued += 1
            else:
                outcome.warmup_requests += 1
            t0 = clock()
            error = await send()
            t1 = clock()
            if error is None:
                outcome.ok_total += 1
            if not measured:
                continue
            last_done = max(last_done, t1)
            outcome.requests += 1
            latencies.append(t1 - t0)
            if error is not None:
                outcome.errors += 1
                if len(outcome.error_samples) < 5:
                    outcome.error_samples.append(error)

    timeout = bounds.warmup_s + bounds.duration_s + 60
    await asyncio.wait_for(asyncio.gather(*(worker() for _ in range(concurrency))), timeout)
    if start is not None:
        outcome.seconds = last_done - start
    latencies.sort()
    outcome.p50_ms = _percentile(latencies, 50) * 1000
    outcome.p99_ms = _percentile(latencies, 99) * 1000
    return outcome


@contextlib.asynccontextmanager
async def http_session(concurrency: int) -> AsyncIterator[aiohttp.ClientSession]:
    connector = aiohttp.TCPConnector(limit=concurrency, force_close=False)
    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        yield session


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:200]


async def splash_aiohttp(
    base_url: str, paths: list[str], concurrency: int, bounds: Bounds
) -> Outcome:
    # encoded=True: the fas value goes out as openNDS sends it (base64, not %-encoded).
    urls = [URL(base_url + p, encoded=True) for p in paths]
    counter = iter(range(10**12))

    async with http_session(concurrency) as session:

        async def send() -> str | None:
            url = urls[next(counter) % len(urls)]
            try:
                async with session.get(url, allow_redirects=False) as resp:
                    body = await resp.read()
                    if resp.status != 200 or b"<form" not in body:
                        return f"HTTP {resp.status}"
            except (aiohttp.ClientError, TimeoutError) as exc:
                return _describe(exc)
            return None

        return await drive(send, scenario="splash", concurrency=concurrency, bounds=bounds)


def _wrk_script(paths: list[str], limit: int) -> str:
    for path in paths:
        if not re.fullmatch(r"[A-Za-z0-9/?=+_.&%-]+", path):
            raise BenchError(f"unexpected character in {path!r}")
    table = ",\n".join(f'  "{p}"' for p in paths)
    return f"""-- generated by bench/login_flow.py
local ffi = require("ffi")  -- wrk runs LuaJIT: a monotonic clock in microseconds
ffi.cdef[[
typedef struct {{ long tv_sec; long tv_nsec; }} bench_timespec;
int clock_gettime(int clock_id, bench_timespec *tp);
]]
local ts = ffi.new("bench_timespec")
local function now_us()
  ffi.C.clock_gettime(1, ts)
  return tonumber(ts.tv_sec) * 1000000 + math.floor(tonumber(ts.tv_nsec) / 1000)
end

local paths = {{
{table}
}}
local n = 0
local limit = {limit}
count = 0
bad = 0
first_us = 0
last_us = 0
local threads = {{}}

function setup(thread)
  table.insert(threads, thread)
end

function request()
  if first_us == 0 then first_us = now_us() end
  n = n % #paths + 1
  return wrk.format("GET", paths[n])
end

function response(status, headers, body)
  count = count + 1
  last_us = now_us()
  if status ~= 200 or not string.find(body, "<form", 1, true) then bad = bad + 1 end
  if count >= limit then wrk.thread:stop() end
end

-- The elapsed time runs from the first request sent to the last response read: wrk's own
-- duration would include the rest of -d after every thread stopped at its request limit.
function done(summary, latency, requests)
  local b, first, last = 0, math.huge, 0
  for _, t in ipairs(threads) do
    b = b + t:get("bad")
    if t:get("first_us") > 0 then first = math.min(first, t:get("first_us")) end
    last = math.max(last, t:get("last_us"))
  end
  local elapsed = last > first and last - first or summary.duration
  local e = summary.errors
  io.write(string.format(
    "WRK_RESULT requests=%d elapsed_us=%d connect=%d read=%d write=%d status=%d timeout=%d " ..
    "bad=%d p50_us=%d p99_us=%d\\n",
    summary.requests, elapsed, e.connect, e.read, e.write, e.status, e.timeout, b,
    latency:percentile(50), latency:percentile(99)))
end
"""


async def _run_wrk(
    url: str, script: Path, concurrency: int, threads: int, seconds: float
) -> dict[str, int]:
    args = [
        "wrk",
        f"-t{threads}",
        f"-c{concurrency}",
        f"-d{max(1, math.ceil(seconds))}s",
        "--timeout",
        "10s",
        "-s",
        str(script),
        url,
    ]
    proc = await asyncio.create_subprocess_exec(
        *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    out, _ = await asyncio.wait_for(proc.communicate(), seconds + 60)
    text = out.decode(errors="replace")
    match = re.search(r"^WRK_RESULT (.*)$", text, re.MULTILINE)
    if proc.returncode != 0 or not match:
        raise BenchError(f"wrk failed (exit {proc.returncode}):\n{text[-2000:]}")
    return {k: int(v) for k, v in (item.split("=") for item in match.group(1).split())}


async def splash_wrk(
    base_url: str, paths: list[str], opts: Options, bounds: Bounds, workdir: Path
) -> Outcome:
    outcome = Outcome("splash", "wrk", opts.concurrency)
    threads = max(1, opts.wrk_threads)
    url = base_url + "/healthz"  # host and port only: every request's path comes from the script
    warm = workdir / "warm.lua"
    warm.write_text(_wrk_script(paths, math.ceil(bounds.warmup_max / threads)))
    measured = workdir / "splash.lua"
    measured.write_text(_wrk_script(paths, math.ceil(bounds.max_requests / threads)))
    result = await _run_wrk(url, warm, opts.concurrency, threads, bounds.warmup_s)
    outcome.warmup_requests = result["requests"]
    result = await _run_wrk(url, measured, opts.concurrency, threads, bounds.duration_s)
    errors = sum(result[k] for k in ("connect", "read", "write", "timeout")) + result["bad"]
    outcome.requests = result["requests"]
    outcome.errors = errors
    outcome.seconds = result["elapsed_us"] / 1e6
    outcome.p50_ms = result["p50_us"] / 1000
    outcome.p99_ms = result["p99_us"] / 1000
    if errors:
        outcome.error_samples.append(json.dumps(result))
    return outcome


async def login_aiohttp(
    base_url: str,
    fleet: FleetSpec,
    twins: list[SimulatedRouter],
    concurrency: int,
    bounds: Bounds,
) -> Outcome:
    """Each login a fresh client (the next unused number on the next router)."""
    next_number = [SPLASH_POOL] * len(twins)
    turn = iter(range(10**12))

    async with http_session(concurrency) as session:

        async def send() -> str | None:
            r = next(turn) % len(twins)
            number = next_number[r]
            if number >= fleet.clients_per_router:
                return "ran out of prepared clients"
            next_number[r] += 1
            twin, spec = twins[r], fleet.routers[r]
            client = bench_client(fleet.seed, spec.index, number)
            fields = twin.fas_fields(client, ORIGIN_URL)
            form = {"fas": encode_fas(fields), "accept": "1", "lang": "en"}
            expected = f"/fas/{spec.router_id}/online?s="
            try:
                async with session.post(
                    f"{base_url}/fas/{spec.router_id}/login", data=form, allow_redirects=False
                ) as resp:
                    await resp.read()
                    if resp.status != 303:
                        return f"HTTP {resp.status}"
                    if not resp.headers.get("Location", "").startswith(expected):
                        return "303 to an unexpected place"
            except (aiohttp.ClientError, TimeoutError) as exc:
                return _describe(exc)
            return None

        return await drive(send, scenario="login", concurrency=concurrency, bounds=bounds)


# -- facts about the machine and the servers -------------------------------------------------------


def machine_facts() -> dict[str, str]:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    ram = "unknown"
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    return {
        "nproc": str(len(os.sched_getaffinity(0))),
        "cpu": cpu,
        "ram": ram,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "aiohttp": aiohttp.__version__,
        "wrk": _wrk_version(),
    }


def _wrk_version() -> str:
    path = shutil.which("wrk")
    if not path:
        return "not installed"
    import subprocess

    try:
        out = subprocess.run(
            [path, "--version"], capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    match = re.search(r"wrk (\S+)", out.stdout + out.stderr)
    return match.group(1) if match else "unknown"


async def server_versions(db: asyncpg.Pool, mqtt_url: str) -> dict[str, str]:
    postgres = str(await db.fetchval("SHOW server_version"))
    mosquitto = "unknown"
    with contextlib.suppress(aiomqtt.MqttError, TimeoutError):
        async with asyncio.timeout(5):
            async with make_client(mqtt_url, "bench") as client:
                await client.subscribe("$SYS/broker/version")
                async for message in client.messages:
                    mosquitto = bytes(message.payload).decode(errors="replace")  # type: ignore[arg-type]
                    break
    return {"postgres": postgres.split(" ")[0], "mqtt_broker": mosquitto}


# -- the run --------------------------------------------------------------------------------------


def _with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path="/" + name))


@contextlib.asynccontextmanager
async def bench_database(server_url: str) -> AsyncIterator[str]:
    name = f"portico_bench_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(server_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield _with_database(server_url, name)
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@dataclass
class Report:
    date: str
    facts: dict[str, str]
    opts: Options
    outcomes: list[Outcome]
    checks: list[str]
    problems: list[str]
    server: dict[str, str]


def _splash_client(opts: Options) -> tuple[str, str]:
    """Which client measures the splash, and a note when wrk was wanted but is missing."""
    has_wrk = shutil.which("wrk") is not None
    if opts.splash_client == "aiohttp":
        return "aiohttp", ""
    if has_wrk:
        return "wrk", ""
    note = (
        "wrk is not installed (apt-get install -y wrk): the splash was measured with the "
        "aiohttp client, which takes CPU from the server on this machine"
    )
    if opts.splash_client == "wrk":
        raise BenchError(note.split(":")[0])
    return "aiohttp", note


async def run(opts: Options) -> Report:
    tool, tool_note = _splash_client(opts)
    if tool_note:
        print(f"NOTE: {tool_note}", file=sys.stderr)
    facts = machine_facts()
    concurrency = opts.concurrency
    per_router = SPLASH_POOL + math.ceil((opts.login_requests + 2000) / opts.routers) + concurrency
    with tempfile.TemporaryDirectory(prefix="portico-bench-") as tmp:
        workdir = Path(tmp)
        async with bench_database(opts.database_url) as database_url:
            await migrate(database_url)
            db = await create_pool(database_url, size=2)
            try:
                server = await server_versions(db, opts.mqtt_url)
                specs = await seed_tenant(db, opts.routers)
                port = _free_port()
                portal_url = f"http://127.0.0.1:{port}"
                fleet = FleetSpec(
                    opts.mqtt_url, portal_url, secrets.token_hex(8), per_router, specs
                )
                spec_path = workdir / "fleet.json"
                spec_path.write_text(json.dumps(asdict(fleet)))
                spec_path.chmod(0o600)
                server.update(_server_settings())
                print(
                    f"seeded {opts.routers} routers; starting the portal and the routers",
                    file=sys.stderr,
                )
                outcomes, checks, problems = await _measure(
                    opts, tool, fleet, spec_path, database_url, workdir, db
                )
            finally:
                await db.close()
    if tool_note:
        for outcome in outcomes:
            if outcome.scenario == "splash":
                outcome.note = tool_note
    date = datetime.now(UTC).strftime("%Y-%m-%d")
    return Report(date, facts, opts, outcomes, checks, problems, server)


def _server_settings() -> dict[str, str]:
    return {
        "db_pool_size": os.environ.get("PORTICO_DB_POOL_SIZE") or "10 (default)",
        "log_level": os.environ.get("PORTICO_LOG_LEVEL") or "INFO (default)",
    }


def _portal_env(database_url: str, mqtt_url: str, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PORTICO_CONFIG",)}
    env.pop("PORTICO_PUBLIC_PORTAL_URL", None)
    env.update(
        DATABASE_URL=database_url,
        MQTT_URL=mqtt_url,
        PORTICO_ENV="production",
        PORTICO_BIND="127.0.0.1",
        PORTICO_PORTAL_PORT=str(port),
        PORTICO_SECRET_KEY=secrets.token_urlsafe(48),
        PYTHONUNBUFFERED="1",
    )
    return env


async def _measure(
    opts: Options,
    tool: str,
    fleet: FleetSpec,
    spec_path: Path,
    database_url: str,
    workdir: Path,
    db: asyncpg.Pool,
) -> tuple[list[Outcome], list[str], list[str]]:
    port = int(urlsplit(fleet.portal_url).port or 0)
    python = sys.executable
    routers = await _spawn(
        "routers",
        [python, "-m", "bench.login_flow", "--role", "routers", "--spec", str(spec_path)],
        dict(os.environ, PYTHONUNBUFFERED="1"),
        workdir / "routers.log",
    )
    portal_proc: Child | None = None
    stats: dict[str, int] = {}
    try:
        ports = json.loads(await _read_tagged_line(routers, "READY", CHILD_START_TIMEOUT))
        portal_proc = await _spawn(
            "portal",
            [python, "-m", "portico.cli", "serve", "portal"],
            _portal_env(database_url, opts.mqtt_url, port),
            workdir / "portal.log",
        )
        await _wait_healthy(portal_proc, f"{fleet.portal_url}/healthz", CHILD_START_TIMEOUT)
        twins = [_sim_router(fleet, spec, ports[spec.router_id]) for spec in fleet.routers]
        paths = [
            urlsplit(twin.redirect_url(bench_client(fleet.seed, spec.index, n), ORIGIN_URL))
            ._replace(scheme="", netloc="")
            .geturl()
            for twin, spec in zip(twins, fleet.routers, strict=True)
            for n in range(SPLASH_POOL)
        ]
        splash_bounds = Bounds(opts.warmup, 5_000, opts.duration, opts.splash_requests)
        print(f"splash: {tool}, {opts.concurrency} connections", file=sys.stderr)
        if tool == "wrk":
            splash = await splash_wrk(fleet.portal_url, paths, opts, splash_bounds, workdir)
        else:
            splash = await splash_aiohttp(fleet.portal_url, paths, opts.concurrency, splash_bounds)
        print(f"login: aiohttp, {opts.concurrency} connections", file=sys.stderr)
        login_bounds = Bounds(opts.warmup, 2_000, opts.duration, opts.login_requests)
        login = await login_aiohttp(fleet.portal_url, fleet, twins, opts.concurrency, login_bounds)
    finally:
        if portal_proc is not None:
            await _stop(portal_proc)
        if routers.proc.returncode is None:
            with contextlib.suppress(BenchError):
                stats = json.loads(await _read_tagged_line_after_stop(routers))
        await _stop(routers)
    checks, problems = await _verify(db, login, stats, portal_proc)
    for outcome in (splash, login):
        if outcome.errors:
            problems.append(
                f"{outcome.scenario}: {outcome.errors} errors, e.g. {outcome.error_samples}"
            )
    return [splash, login], checks, problems


async def _read_tagged_line_after_stop(child: Child) -> str:
    assert child.proc.stdin is not None
    child.proc.stdin.close()
    return await _read_tagged_line(child, "STATS", 15)


async def _verify(
    db: asyncpg.Pool, login: Outcome, stats: dict[str, int], portal_proc: Child | None
) -> tuple[list[str], list[str]]:
    """Every login answered 303 is a stored session, an acked command and a granted client."""
    sessions = await db.fetchval("SELECT count(*) FROM portal_sessions")
    commands = dict(
        await db.fetch("SELECT status, count(*) FROM router_commands GROUP BY status ORDER BY 1")
    )
    granted = stats.get("granted", -1)
    checks = [
        f"logins answered 303 (warm-up included): {login.ok_total}",
        f"sessions stored: {sessions}",
        f"router commands by status: {commands}",
        f"clients the simulated routers let through: {granted}",
    ]
    problems = []
    if not sessions == commands.get("done", 0) == granted == login.ok_total:
        problems.append("logins, sessions, acked commands and grants do not add up: " + str(checks))
    if portal_proc is not None:
        lines = portal_proc.log_tail(10**7).splitlines()
        errors = [line for line in lines if " ERROR " in line or "Traceback" in line]
        if errors:
            problems.append(f"the portal logged {len(errors)} errors, e.g. {errors[:3]}")
        warnings = collections.Counter(
            re.sub(r"\d+", "N", line.split(" WARNING ", 1)[1])
            for line in lines
            if " WARNING " in line
        )
        if warnings:
            top = "; ".join(f"{n} × {text!r}" for text, n in warnings.most_common(3))
            checks.append(f"portal log warnings: {top}")
    return checks, problems


# -- output ---------------------------------------------------------------------------------------


def _verdict(outcome: Outcome) -> str:
    rps_target, p99_target = TARGETS[outcome.scenario]
    rate = "meets" if outcome.rps >= rps_target else "misses"
    tail = "meets" if outcome.p99_ms < p99_target else "misses"
    return (
        f"{outcome.rps:,.0f}/s is {outcome.rps / rps_target:.0%} of the ≥ {rps_target:,.0f}/s "
        f"target ({rate}); p99 {outcome.p99_ms:.1f} ms vs < {p99_target:.0f} ms ({tail})"
    )


SCENARIO_NAMES = {"splash": "splash GET", "login": "click-through login"}


def _rows(report: Report) -> list[list[str]]:
    rows = []
    for o in report.outcomes:
        rps_target, p99_target = TARGETS[o.scenario]
        rows.append(
            [
                SCENARIO_NAMES[o.scenario],
                o.client,
                str(o.concurrency),
                f"{o.requests:,}",
                f"{o.seconds:.1f}",
                str(o.errors),
                f"{o.rps:,.0f}",
                f"{o.p50_ms:.1f}",
                f"{o.p99_ms:.1f}",
                f"≥ {rps_target:,.0f}/s, p99 < {p99_target:.0f} ms",
            ]
        )
    return rows


HEADERS = [
    "scenario",
    "client",
    "conns",
    "requests",
    "seconds",
    "errors",
    "req/s",
    "p50 ms",
    "p99 ms",
    "target",
]


def format_table(report: Report) -> str:
    rows = [HEADERS, *_rows(report)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADERS))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    out = ["", *lines, ""]
    out += [f"{SCENARIO_NAMES[o.scenario]}: {_verdict(o)}" for o in report.outcomes]
    out += [f"note: {o.note}" for o in report.outcomes if o.note]
    out += ["", *report.checks]
    out += [f"PROBLEM: {p}" for p in report.problems]
    return "\n".join(out)


def _marker(date: str, end: bool = False) -> str:
    return f"<!-- {'/' if end else ''}login_flow {date} -->"


def format_markdown(report: Report) -> str:
    f, s, o = report.facts, report.server, report.opts
    table = ["| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
    table += ["| " + " | ".join(row) + " |" for row in _rows(report)]
    verdicts = [f"- {SCENARIO_NAMES[x.scenario]}: {_verdict(x)}." for x in report.outcomes]
    notes = [f"- Note: {x.note}." for x in report.outcomes if x.note]
    problems = [f"- **Problem:** {p}" for p in report.problems] or ["- Errors: none."]
    return "\n".join(
        [
            _marker(report.date),
            f"## {report.date} · login flow (`python -m bench.login_flow`)",
            "",
            f"Machine: nproc {f['nproc']}, {f['cpu']}, {f['ram']} RAM, Linux {f['kernel']}; "
            f"Python {f['python']}, aiohttp {f['aiohttp']}; PostgreSQL {s['postgres']}, "
            f"{s['mqtt_broker']}, wrk {f['wrk']}; everything on loopback.",
            "",
            "Measured: the portal role as production runs it (`portico serve portal`, "
            f"DB pool {s['db_pool_size']}, log level {s['log_level']}) in one process; "
            f"{o.routers} simulated routers (real MQTT, an ack for every command) in a second; "
            f"the load generator in a third. {o.concurrency} keep-alive connections; "
            f"{o.warmup:g} s warm-up, then up to {o.splash_requests:,} splash requests / "
            f"{o.login_requests:,} logins or {o.duration:g} s, whichever came first. Splash: GET "
            f"with a valid fas for a known client (a pool of {SPLASH_POOL} per router), page "
            "with an ad. Login: each a fresh client, POST → PostgreSQL → MQTT cmd → agent "
            "ack → session stored → 303 to the portal's online page.",
            "",
            *table,
            "",
            "Where we stand against PRODUCT.md §6:",
            "",
            *verdicts,
            *notes,
            *problems,
            "",
            "Checks: " + "; ".join(report.checks) + ".",
            _marker(report.date, end=True),
        ]
    )


DOCS_HEADER = """# Benchmarks

Sections between `<!-- login_flow DATE -->` markers are written by
`python -m bench.login_flow --write`: one per day, a rerun on the same day replaces it.
"""


def write_docs(report: Report, path: Path = DOCS) -> None:
    text = path.read_text() if path.exists() else DOCS_HEADER
    section = format_markdown(report)
    start, end = _marker(report.date), _marker(report.date, end=True)
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.DOTALL)
    if pattern.search(text):
        text = pattern.sub(lambda _m: section, text)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text.rstrip("\n") + "\n")


# -- entry point ----------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.role == "routers":
        asyncio.run(run_routers(args.spec))
        return 0
    for name in ("concurrency", "routers", "splash_requests", "login_requests", "wrk_threads"):
        if getattr(args, name) < 1:
            print(f"--{name.replace('_', '-')} must be at least 1", file=sys.stderr)
            return 2
    opts = Options(
        database_url=os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL,
        mqtt_url=os.environ.get("MQTT_URL") or DEFAULT_MQTT_URL,
        concurrency=args.concurrency,
        routers=args.routers,
        warmup=max(0.0, args.warmup),
        duration=max(0.5, args.duration),
        splash_requests=args.splash_requests,
        login_requests=args.login_requests,
        splash_client=args.splash_client,
        wrk_threads=args.wrk_threads,
        write=args.write,
    )
    for url in (opts.database_url, opts.mqtt_url):
        if urlsplit(url).hostname not in ("127.0.0.1", "localhost", "::1"):
            print(f"refusing to benchmark against a non-loopback server: {url}", file=sys.stderr)
            return 2
    try:
        report = asyncio.run(run(opts))
    except BenchError as exc:
        print(f"bench failed: {exc}", file=sys.stderr)
        return 1
    print(format_table(report))
    if opts.write:
        write_docs(report)
        print(f"\nwrote {DOCS.relative_to(ROOT)}")
    return 1 if report.problems else 0


if __name__ == "__main__":
    sys.exit(main())
