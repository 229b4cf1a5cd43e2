"""What every benchmark shares: child processes, the platform's roles as production runs them,
load (wrk or aiohttp; one user's timed GETs), a throwaway database, facts about the machine,
the bare-handler baseline, and sections of docs/benchmarks.md.

Absolute figures differ widely between machines of the same kind, so every run also measures a
bare aiohttp handler (bench/bare.py) on the same machine with the same load generator, and each
figure is reported beside it as a ratio (PRODUCT.md §6).
"""

from __future__ import annotations

import asyncio
import contextlib
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
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import aiomqtt
import asyncpg
import paho.mqtt.client as mqtt

from bench.light_http import LightConnection, LightHttpError
from controller import topics
from kernel.embedded import mosquitto_binary, private_mosquitto
from kernel.mqtt import make_client, parse_mqtt_url

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "benchmarks.md"
CHILD_START_TIMEOUT = 60.0


# -- child processes ------------------------------------------------------------------------------


@dataclass
class Child:
    name: str
    proc: asyncio.subprocess.Process
    log_path: Path
    terminate: bool = False  # stop with SIGTERM (a server); else by closing its stdin

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log_path.read_text(errors="replace").splitlines()
        except FileNotFoundError:
            return ""
        return "\n".join(text[-lines:])


async def spawn(
    name: str, args: list[str], env: dict[str, str], log_path: Path, *, terminate: bool = False
) -> Child:
    with log_path.open("wb") as log:
        proc = await asyncio.create_subprocess_exec(
            *args,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=log,
            env=env,
            cwd=str(ROOT),
        )
    return Child(name, proc, log_path, terminate)


async def read_tagged_line(child: Child, tag: str, timeout: float) -> str:
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


def cpu_seconds(pid: int) -> float:
    """User + system CPU time so far of a process and its children (`--workers`), from
    /proc/<pid>/stat (proc(5): utime, stime) and /proc/<pid>/task/<pid>/children."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    own = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return own + sum(cpu_seconds(int(child)) for child in children)


async def stop(child: Child, timeout: float = 15.0) -> None:
    proc = child.proc
    if proc.returncode is None:
        if proc.stdin is not None and not proc.stdin.is_closing():
            proc.stdin.close()
        if child.terminate:
            proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), timeout)
        except TimeoutError:
            proc.kill()
            await proc.wait()


async def wait_healthy(child: Child, url: str, timeout: float) -> None:
    async with aiohttp.ClientSession() as session:
        for _ in range(int(timeout / 0.1)):
            if child.proc.returncode is not None:
                break
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                async with session.get(url, timeout=aiohttp.ClientTimeout(total=1)) as resp:
                    if resp.status == 200:
                        return
            await asyncio.sleep(0.1)
    tail = child.log_tail()
    raise BenchError(f"{child.name} did not come up at {url}; its log ends with:\n{tail}")


def free_port() -> int:
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
    p95_ms: float = math.nan
    p99_ms: float = math.nan
    warmup_requests: int = 0
    ok_total: int = 0  # successful requests, warm-up included
    error_samples: list[str] = field(default_factory=list)
    note: str = ""
    # The server's CPU time per measured request (its processes' user + system time over the
    # measured run ÷ its requests), when the run was told the server's pid: unlike requests a
    # second, it hardly moves when other work shares the machine.
    server_cpu_us: float = math.nan
    body_bytes: int = 0  # timed_gets: the size of the last answer's body

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else 0.0


@dataclass(frozen=True)
class Bounds:
    warmup_s: float
    warmup_max: int
    duration_s: float
    max_requests: int


MAX_IN_FLIGHT = 512  # a paced run gives up offering requests beyond this many unanswered


async def paced(
    send: Callable[[], Awaitable[str | None]],
    *,
    scenario: str,
    client: str,
    rate: float,
    duration: float,
) -> Outcome:
    """`send` started at `rate` a second for `duration` seconds, whatever the answers (an open
    loop: a slow server meets a queue, as shoppers and tills do not wait for each other). Each
    latency runs from when its request was due, so a late start counts against it; `send`
    answers None or what went wrong."""
    outcome = Outcome(scenario, client, 0)
    clock = time.perf_counter
    latencies: list[float] = []
    in_flight: set[asyncio.Task[None]] = set()

    async def one(due: float) -> None:
        error = await send()
        done = clock()
        latencies.append(done - due)
        outcome.requests += 1
        if error is None:
            outcome.ok_total += 1
        else:
            outcome.errors += 1
            if len(outcome.error_samples) < 5:
                outcome.error_samples.append(error)

    dropped = 0
    start = clock()
    for n in range(math.ceil(rate * duration)):
        due = start + n / rate
        await asyncio.sleep(max(0.0, due - clock()))
        if len(in_flight) >= MAX_IN_FLIGHT:  # far behind: a request nobody answers at all
            dropped += 1
            continue
        task = asyncio.create_task(one(due))
        in_flight.add(task)
        task.add_done_callback(in_flight.discard)
        outcome.concurrency = max(outcome.concurrency, len(in_flight))
    await asyncio.wait_for(asyncio.gather(*in_flight), 60)
    outcome.seconds = clock() - start
    if dropped:
        outcome.note = f"{dropped:,} not started: {MAX_IN_FLIGHT} already waiting"
    set_percentiles(outcome, latencies)
    return outcome


def set_percentiles(outcome: Outcome, latencies: list[float]) -> None:
    """The outcome's p50, p95 and p99 in milliseconds from latencies in seconds."""
    latencies.sort()
    outcome.p50_ms = percentile(latencies, 50) * 1000
    outcome.p95_ms = percentile(latencies, 95) * 1000
    outcome.p99_ms = percentile(latencies, 99) * 1000


def percentile(sorted_values: list[float], pct: float) -> float:
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
    tool: str = "aiohttp",
) -> Outcome:
    """`concurrency` workers calling `send` (None = success, else an error text): a warm-up,
    then requests started until `max_requests` or `duration_s`, whichever comes first."""
    outcome = Outcome(scenario, tool, concurrency)
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
    set_percentiles(outcome, latencies)
    return outcome


@contextlib.asynccontextmanager
async def http_session(concurrency: int) -> AsyncIterator[aiohttp.ClientSession]:
    connector = aiohttp.TCPConnector(limit=concurrency, force_close=False)
    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        yield session


def describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:200]


async def timed_gets(
    session: aiohttp.ClientSession,
    url: str,
    *,
    scenario: str,
    bounds: Bounds,
    expect: bytes = b"",
) -> Outcome:
    """GETs of one URL one at a time, as one user clicking (`drive` with one worker): a
    warm-up, then up to `bounds.max_requests` timed, each from sending the request to reading
    the whole answer. The session carries who asks (its cookie jar: a signed-in user). An
    answer that is not a 200 with `expect` in its body counts as an error. On loopback with one
    request at a time the client's share is what the bare handler's latency shows (well under a
    millisecond): the rest is the server's time."""
    size = 0

    async def send() -> str | None:
        nonlocal size
        try:
            async with session.get(url, allow_redirects=False) as resp:
                body = await resp.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            return describe(exc)
        size = len(body)
        if resp.status != 200 or expect not in body:
            return f"HTTP {resp.status}: {body[:120]!r}"
        return None

    outcome = await drive(send, scenario=scenario, concurrency=1, bounds=bounds)
    outcome.body_bytes = size
    return outcome


def wrk_script(paths: list[str], limit: int, expect: str) -> str:
    """A wrk Lua script: GET the paths in turn, count answers that are not 200 or lack `expect`,
    stop each thread after `limit` responses, print one WRK_RESULT line."""
    if not re.fullmatch(r"[A-Za-z0-9 <>:_.-]+", expect):
        raise BenchError(f"unexpected character in {expect!r}")
    for path in paths:
        if not re.fullmatch(r"[A-Za-z0-9/?=+_.&%:-]+", path):
            raise BenchError(f"unexpected character in {path!r}")
    return _wrk_lua(
        items=",\n".join(f'  "{p}"' for p in paths),
        request='return wrk.format("GET", items[n])',
        bad=f'status ~= 200 or not string.find(body, "{expect}", 1, true)',
        limit=limit,
        cycle=True,
    )


def wrk_post_script(posts: list[tuple[str, str]], limit: int, expect_location: str) -> str:
    """A wrk Lua script for one thread: POST each (path, urlencoded form) once, in turn, and
    stop after `limit` responses (give `limit` + connections posts: requests in flight when the
    thread stops must not repeat one); an answer that is not a 303 to a Location holding
    `expect_location` is counted bad. Print one WRK_RESULT line."""
    if limit > len(posts):
        raise BenchError(f"{len(posts)} posts for {limit} responses")
    if not re.fullmatch(r"[A-Za-z0-9/?=_.-]+", expect_location):
        raise BenchError(f"unexpected character in {expect_location!r}")
    for path, body in posts:
        if not re.fullmatch(r"[A-Za-z0-9/_.-]+", path) or not re.fullmatch(
            r"[A-Za-z0-9=+_.&%-]+", body
        ):
            raise BenchError(f"unexpected character in {path!r} or its form")
    return _wrk_lua(
        items=",\n".join(f'  {{"{path}", "{body}"}}' for path, body in posts),
        request=(
            'return wrk.format("POST", items[n][1], '
            '{["Content-Type"] = "application/x-www-form-urlencoded"}, items[n][2])'
        ),
        bad=(
            f'status ~= 303 or not string.find(headers["Location"] or "", '
            f'"{expect_location}", 1, true)'
        ),
        limit=limit,
        cycle=False,
    )


def wrk_json_post_script(
    path: str,
    bodies: list[str],
    limit: int,
    *,
    headers: dict[str, str],
    numbered_header: tuple[str, str] | None = None,
    expect_status: int = 200,
) -> str:
    """A wrk Lua script for one thread: POST each JSON body to `path` once, in turn, with
    `headers`, and stop after `limit` responses (give `limit` + connections bodies, as
    wrk_post_script); with `numbered_header` (name, prefix) that header is the prefix and the
    request's number (an Idempotency-Key of its own). An answer whose status is not
    `expect_status` is counted bad. Print one WRK_RESULT line. The bodies are the only
    constants per request: LuaJIT allows a function about 65,000."""
    if limit > len(bodies):
        raise BenchError(f"{len(bodies)} bodies for {limit} responses")
    safe = re.compile(r"[A-Za-z0-9 {}\":,/_.-]+")
    texts = [path, *bodies, *headers, *headers.values(), *(numbered_header or ())]
    if not re.fullmatch(r"[A-Za-z0-9/_.-]+", path) or not all(map(safe.fullmatch, texts)):
        raise BenchError(f"unexpected character in a post to {path!r}")
    sent = {"Content-Type": "application/json", **headers}
    request = "local h = {" + ", ".join(f'["{k}"] = [[{v}]]' for k, v in sent.items()) + "}\n"
    if numbered_header is not None:
        name, prefix = numbered_header
        request += f'  h["{name}"] = "{prefix}" .. n\n'
    request += f'  return wrk.format("POST", "{path}", h, items[n])'
    return _wrk_lua(
        items=",\n".join(f"  [[{body}]]" for body in bodies),
        request=request,
        bad=f"status ~= {int(expect_status)}",
        limit=limit,
        cycle=False,
    )


def _wrk_lua(*, items: str, request: str, bad: str, limit: int, cycle: bool) -> str:
    next_item = "n = n % #items + 1" if cycle else "n = math.min(n + 1, #items)"
    return f"""-- generated by bench/harness.py
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

local items = {{
{items}
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
  {next_item}
  {request}
end

function response(status, headers, body)
  count = count + 1
  last_us = now_us()
  if {bad} then bad = bad + 1 end
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


async def run_wrk(
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
        "wrk": wrk_version(),
    }


def wrk_version() -> str:
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


def with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path="/" + name))


@contextlib.asynccontextmanager
async def bench_database(server_url: str) -> AsyncIterator[str]:
    name = f"portico_bench_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(server_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield with_database(server_url, name)
        finally:
            await forget_routers(with_database(server_url, name))
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def forget_routers(database_url: str) -> None:
    """On a shared broker (MQTT_URL), clear the retained statuses of the database's routers:
    a real router's stays, a bench's would pile up run after run, and every controller
    started later reads them all."""
    url = os.environ.get("MQTT_URL")
    if not url:
        return
    conn = await asyncpg.connect(database_url)
    try:
        router_ids = [r["router_id"] for r in await conn.fetch("SELECT router_id FROM routers")]
    except asyncpg.UndefinedTableError:
        return  # not migrated yet: no routers
    finally:
        await conn.close()
    await asyncio.to_thread(clear_retained_statuses, url, router_ids)


def clear_retained_statuses(url: str, router_ids: list[str]) -> None:
    """An empty retained message to each router's status topic (MQTT 3.1.1 §3.3.1.3: the
    broker then keeps none)."""
    if not router_ids:
        return
    broker = parse_mqtt_url(url)
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    if broker.username:
        client.username_pw_set(broker.username, broker.password)
    if broker.tls:
        client.tls_set()
    client.connect(broker.host, broker.port)
    client.loop_start()
    try:
        for router_id in router_ids:
            status = topics.topic(router_id, "status")
            message = client.publish(status, b"", qos=1, retain=True)
            message.wait_for_publish(timeout=5)
    finally:
        client.loop_stop()
        client.disconnect()


async def measure_wrk(
    base_url: str,
    paths: list[str],
    *,
    scenario: str,
    expect: str,
    concurrency: int,
    threads: int,
    bounds: Bounds,
    workdir: Path,
    server_pid: int | None = None,
) -> Outcome:
    """A warm-up run, then the measured run, of wrk over `paths` (each answered 200 with
    `expect` in the body, or it counts as an error). With `server_pid`, the server's CPU time
    per measured request too (`Outcome.server_cpu_us`)."""
    outcome = Outcome(scenario, "wrk", concurrency)
    threads = max(1, threads)
    url = base_url + "/"  # host and port only: every request's path comes from the script
    warm = workdir / f"{scenario}-warm.lua"
    warm.write_text(wrk_script(paths, math.ceil(bounds.warmup_max / threads), expect))
    measured = workdir / f"{scenario}.lua"
    measured.write_text(wrk_script(paths, math.ceil(bounds.max_requests / threads), expect))
    if server_pid is None:
        return await wrk_warm_then_measure(outcome, url, warm, measured, threads, bounds)
    before: list[float] = []
    await wrk_warm_then_measure(
        outcome,
        url,
        warm,
        measured,
        threads,
        bounds,
        lambda: before.append(cpu_seconds(server_pid)),
    )
    if outcome.requests:
        outcome.server_cpu_us = (cpu_seconds(server_pid) - before[0]) / outcome.requests * 1e6
    return outcome


async def wrk_warm_then_measure(
    outcome: Outcome,
    url: str,
    warm: Path,
    measured: Path,
    threads: int,
    bounds: Bounds,
    before_measured: Callable[[], object] | None = None,
) -> Outcome:
    """Run wrk with the warm-up script, then (after `before_measured`, e.g. reading a CPU
    clock) with the measured one; fill in `outcome`."""
    result = await run_wrk(url, warm, outcome.concurrency, threads, bounds.warmup_s)
    outcome.warmup_requests = result["requests"]
    warm_errors = sum(result[k] for k in ("connect", "read", "write", "timeout")) + result["bad"]
    if before_measured is not None:
        before_measured()
    result = await run_wrk(url, measured, outcome.concurrency, threads, bounds.duration_s)
    errors = sum(result[k] for k in ("connect", "read", "write", "timeout")) + result["bad"]
    outcome.requests = result["requests"]
    outcome.errors = errors
    outcome.ok_total = outcome.warmup_requests + outcome.requests - errors - warm_errors
    outcome.seconds = result["elapsed_us"] / 1e6
    outcome.p50_ms = result["p50_us"] / 1000
    outcome.p99_ms = result["p99_us"] / 1000
    if errors:
        outcome.error_samples.append(json.dumps(result))
    return outcome


async def measure_get(
    base_url: str,
    paths: list[str],
    *,
    scenario: str,
    expect: str,
    tool: str,
    concurrency: int,
    threads: int,
    bounds: Bounds,
    workdir: Path,
    server_pid: int | None = None,
) -> Outcome:
    """GETs of `paths` with wrk, or with the aiohttp or the light client (bench/light_http.py)
    when `tool` says so. `server_pid`: see measure_wrk (wrk only)."""
    if tool == "light":
        return await _measure_light(
            base_url,
            paths,
            scenario=scenario,
            expect=expect,
            concurrency=concurrency,
            bounds=bounds,
        )
    if tool == "wrk":
        return await measure_wrk(
            base_url,
            paths,
            scenario=scenario,
            expect=expect,
            concurrency=concurrency,
            threads=threads,
            bounds=bounds,
            workdir=workdir,
            server_pid=server_pid,
        )
    from yarl import URL

    # encoded=True: a path goes out exactly as given (a fas value is base64, not %-encoded).
    urls = [URL(base_url + path, encoded=True) for path in paths]
    counter = iter(range(10**12))
    wanted = expect.encode()
    async with http_session(concurrency) as session:

        async def send() -> str | None:
            url = urls[next(counter) % len(urls)]
            try:
                async with session.get(url, allow_redirects=False) as resp:
                    body = await resp.read()
                    if resp.status != 200 or wanted not in body:
                        return f"HTTP {resp.status}"
            except (aiohttp.ClientError, TimeoutError) as exc:
                return describe(exc)
            return None

        return await drive(send, scenario=scenario, concurrency=concurrency, bounds=bounds)


async def _measure_light(
    base_url: str,
    paths: list[str],
    *,
    scenario: str,
    expect: str,
    concurrency: int,
    bounds: Bounds,
) -> Outcome:
    address = urlsplit(base_url)
    assert address.hostname is not None and address.port is not None
    idle: asyncio.Queue[LightConnection] = asyncio.Queue()
    for _ in range(concurrency):
        idle.put_nowait(LightConnection(address.hostname, address.port))
    counter = iter(range(10**12))
    wanted = expect.encode()

    async def send() -> str | None:
        conn = await idle.get()
        try:
            answer = await conn.get(paths[next(counter) % len(paths)])
        except (LightHttpError, TimeoutError) as exc:
            return describe(exc)
        finally:
            idle.put_nowait(conn)
        if answer.status != 200 or wanted not in answer.body:
            return f"HTTP {answer.status}"
        return None

    try:
        return await drive(
            send, scenario=scenario, concurrency=concurrency, bounds=bounds, tool="light"
        )
    finally:
        while not idle.empty():
            await idle.get_nowait().close()


# -- the broker ---------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def bench_broker(workdir: Path) -> AsyncIterator[tuple[str, str]]:
    """MQTT_URL when set, else a private Mosquitto configured as Portico configures its own
    (kernel.embedded: set_tcp_nodelay, without which every command and ack waits about 40 ms on
    Nagle). Yields (url, how it was chosen)."""
    url = os.environ.get("MQTT_URL")
    if url:
        yield url, "MQTT_URL"
        return
    binary = mosquitto_binary()
    if binary is None:
        raise BenchError("no MQTT_URL and no mosquitto binary (apt-get install -y mosquitto)")
    with private_mosquitto(binary, workdir / "broker") as url:
        yield url, "a private Mosquitto with Portico's configuration (set_tcp_nodelay true)"


# -- the bare-handler baseline ----------------------------------------------------------------


@contextlib.asynccontextmanager
async def running_bare(workdir: Path) -> AsyncIterator[tuple[Child, str]]:
    """The bare aiohttp handler (bench/bare.py, uvloop as the portal uses) in a process of its
    own: the child and its URL (`GET /` answers "ok")."""
    port = free_port()
    child = await spawn(
        "bare",
        [sys.executable, "-m", "bench.bare", str(port)],
        dict(os.environ, PYTHONUNBUFFERED="1"),
        workdir / "bare.log",
        terminate=True,
    )
    try:
        base_url = f"http://127.0.0.1:{port}"
        await wait_healthy(child, base_url + "/", CHILD_START_TIMEOUT)
        yield child, base_url
    finally:
        await stop(child)


async def bare_baseline(
    *, tool: str, concurrency: int, threads: int, bounds: Bounds, workdir: Path
) -> Outcome:
    """The same load on the bare aiohttp handler (running_bare): what one process on this
    machine can serve at best."""
    async with running_bare(workdir) as (child, base_url):
        return await measure_get(
            base_url,
            ["/"],
            scenario="bare",
            expect="ok",
            tool=tool,
            concurrency=concurrency,
            threads=threads,
            bounds=bounds,
            workdir=workdir,
            server_pid=child.proc.pid,
        )


async def in_process_baseline() -> Outcome:
    """The bare handler under the standard load (64 connections, one thread, 5 s after a 1 s
    warm-up), for a benchmark that measures work in its own process beside it."""
    with tempfile.TemporaryDirectory(prefix="portico-bench-bare-") as tmp:
        tool, _ = load_tool("auto")
        return await bare_baseline(
            tool=tool,
            concurrency=64,
            threads=1,
            bounds=Bounds(1.0, 5_000, 5.0, 200_000),
            workdir=Path(tmp),
        )


# -- the platform's roles, as production runs them ------------------------------------------


def role_env(database_url: str, mqtt_url: str, **settings: str) -> dict[str, str]:
    """A role's environment as production sets it: this shell's, but PORTICO_CONFIG, with the
    servers, production mode on loopback, a fresh secret key and `settings` (e.g.
    PORTICO_CONSOLE_PORT; PORTICO_SECRET_KEY: the key a seeded database was made with). This
    shell's PORTICO_DB_POOL_SIZE and PORTICO_LOG_LEVEL are kept."""
    env = {k: v for k, v in os.environ.items() if k != "PORTICO_CONFIG"}
    env.update(
        DATABASE_URL=database_url,
        MQTT_URL=mqtt_url,
        PORTICO_ENV="production",
        PORTICO_BIND="127.0.0.1",
        PORTICO_SECRET_KEY=secrets.token_urlsafe(48),
        PYTHONUNBUFFERED="1",
    )
    env.update(settings)
    return env


@contextlib.asynccontextmanager
async def running_role(
    role: str, env: dict[str, str], url: str, workdir: Path, *, workers: int = 1
) -> AsyncIterator[Child]:
    """A role as production runs it (`portico serve <role>`), answering at `url`."""
    child = await spawn(
        role,
        [sys.executable, "-m", "portico.cli", "serve", role, "--workers", str(workers)],
        env,
        workdir / f"{role}-{workers}.log",
        terminate=True,
    )
    try:
        await wait_healthy(child, f"{url}/healthz", CHILD_START_TIMEOUT)
        if workers > 1:
            await asyncio.sleep(2)  # every worker listening, not just the first
        yield child
    finally:
        await stop(child)


@contextlib.asynccontextmanager
async def running_console(
    database_url: str, workdir: Path, **settings: str
) -> AsyncIterator[tuple[Child, str]]:
    """`portico serve console` in a process of its own on `database_url` (production settings
    and `settings`, as role_env; MQTT_URL from this shell, else the loopback broker): the child
    and its URL."""
    port = free_port()
    env = role_env(
        database_url,
        os.environ.get("MQTT_URL", "mqtt://127.0.0.1:1883"),
        PORTICO_CONSOLE_PORT=str(port),
        PORTICO_DATA_DIR=str(workdir / "var"),
        **settings,
    )
    url = f"http://127.0.0.1:{port}"
    async with running_role("console", env, url, workdir) as child:
        yield child, url


def console_session(base_url: str) -> aiohttp.ClientSession:
    """A client session for the console at `base_url`: its session cookie is Secure
    (production), so this loopback origin is told to count as secure."""
    jar = aiohttp.CookieJar(unsafe=True, treat_as_secure_origin=[base_url])
    return aiohttp.ClientSession(cookie_jar=jar, timeout=aiohttp.ClientTimeout(total=60))


async def sign_in(session: aiohttp.ClientSession, base_url: str, email: str, password: str) -> None:
    """The console's sign-in form, as a browser fills it in (tests/console/test_console_app.py):
    the session's cookie jar then holds the signed-in user's session."""
    async with session.get(f"{base_url}/login") as page:
        match = re.search(r'name="csrf_token" value="([^"]+)"', await page.text())
    if match is None:
        raise BenchError("the sign-in page has no CSRF field")
    form = {"email": email, "password": password, "csrf_token": match.group(1)}
    async with session.post(f"{base_url}/login", data=form, allow_redirects=False) as resp:
        if resp.status != 303:
            raise BenchError(f"sign-in answered {resp.status}: {(await resp.text())[:200]}")


def load_tool(choice: str) -> tuple[str, str]:
    """Which client generates GET load, and a note when wrk was wanted but is missing."""
    has_wrk = shutil.which("wrk") is not None
    if choice == "aiohttp":
        return "aiohttp", ""
    if has_wrk:
        return "wrk", ""
    note = (
        "wrk is not installed (apt-get install -y wrk): GETs were measured with the aiohttp "
        "client, which takes CPU from the server on this machine"
    )
    if choice == "wrk":
        raise BenchError(note.split(":")[0])
    return "aiohttp", note


# -- docs/benchmarks.md -------------------------------------------------------------------------

DOCS_HEADER = """# Benchmarks

Each section between `<!-- NAME DATE -->` markers is written by `python -m bench.NAME --write`:
one per benchmark and day; a rerun on the same day replaces it. Every figure stands beside a
bare aiohttp handler measured in the same run on the same machine (`× bare`), since absolute
figures differ widely between machines.
"""


def marker(name: str, date: str, end: bool = False) -> str:
    return f"<!-- {'/' if end else ''}{name} {date} -->"


def write_section(name: str, date: str, section: str, path: Path = DOCS) -> None:
    """Put `section` (which starts and ends with its markers) into docs/benchmarks.md."""
    text = path.read_text() if path.exists() else DOCS_HEADER
    start, end = marker(name, date), marker(name, date, end=True)
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.DOTALL)
    if pattern.search(text):
        text = pattern.sub(lambda _m: section, text)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text.rstrip("\n") + "\n")


def ratio(outcome: Outcome, bare: Outcome) -> float:
    return outcome.rps / bare.rps if bare.rps > 0 else math.nan
