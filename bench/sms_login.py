"""Benchmark: the SMS-code login end to end (send + verify + grant), on real servers.

    python -m bench.sms_login [--write]

What it does, all on 127.0.0.1:
  1. measures the bare aiohttp handler (bench/bare.py) with the same load generator (the light
     client of bench/light_http.py on uvloop: a login is a sequence of requests around a
     database read, not one a tool could replay; the aiohttp client took ~1.3 ms of CPU a
     login from the 2 cores the portal and PostgreSQL share here);
  2. creates a database `portico_bench_<random>`, migrates it and seeds one merchant (stores
     with SMS login, routers) through the services;
  3. starts the portal role as production runs it (`python -m portico.cli serve portal`, the
     development SMS provider "outbox") in its own process and the simulated routers of
     bench.login_load (real MQTT, an ack for every command) in a second one; this process is
     the load generator and the phones;
  4. drives 64 concurrent shoppers, after a warm-up, bounded by a count and a time: each a
     fresh client with its own number: POST sms/send (rate limits, code stored, text into the
     outbox) → the phone reads its text (one indexed query on sms_outbox) → POST sms/verify
     (attempt counted, identity remembered, MQTT grant acked by the router, session stored) →
     303 to the online page. The latency is the whole of it. Each connection comes from its
     own loopback address, as shoppers come from many stores (the portal limits sends per IP);
  5. prints a table, checks that every login is a session by "sms" with its identity, a used
     code and a granted client, reports the portal's CPU time per login, drops the database
     and, with --write, replaces today's section of docs/benchmarks.md.
Exit status 1 when a login failed or the checks do not add up.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import html
import math
import os
import re
import secrets
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg

import accounts.services as accounts
from bench.harness import (
    BenchError,
    Bounds,
    Outcome,
    bare_baseline,
    cpu_seconds,
    describe,
    drive,
    free_port,
    machine_facts,
    marker,
    paced,
    ratio,
)
from bench.light_http import LightConnection, LightHttpError
from bench.login_load import (
    FleetSpec,
    FreshClients,
    RouterSpec,
    bench_main,
    bench_servers,
    logged_errors,
    markdown_table,
    outcome_row,
    refuse_remote,
    running_portal,
    seed_routers,
    server_urls,
    simulated_routers,
    text_table,
)
from kernel.privacy import mask_phone
from portal.identities import normalize_phone

SECTION = "sms_login"
TARGET_RPS, TARGET_P99_MS = 300.0, 150.0  # issue 8
# Mobile prefixes: login n texts 1PP 1234 NNNN, its masked form (1PP****NNNN) its own.
PREFIXES = ("30", "31", "32", "35", "36", "37", "38", "39", "50", "51", "52", "55", "56", "57")
_REF = re.compile(r'name="ref" value="([^"]+)"')
_ERROR = re.compile(r'class="error"[^>]*>([^<]*)<')


def _error_text(page: str) -> str:
    """The message a refused request's page shows, for the error samples."""
    found = _ERROR.search(page)
    return html.unescape(found.group(1))[:120] if found else ""


@dataclass(frozen=True)
class Options:
    database_url: str
    mqtt_url: str
    concurrency: int
    routers: int
    warmup: float
    duration: float
    max_logins: int
    rate: float  # logins a second offered in the paced run
    portal_workers: int
    write: bool


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.sms_login",
        description="SMS-code login benchmark (see the module docstring).",
    )
    parser.add_argument("--concurrency", type=int, default=64, help="shoppers at once (64)")
    parser.add_argument("--routers", type=int, default=8, help="simulated routers (default 8)")
    parser.add_argument("--warmup", type=float, default=3.0, help="warm-up seconds (default 3)")
    parser.add_argument("--duration", type=float, default=15.0, help="measured seconds at most")
    parser.add_argument("--max-logins", type=int, default=12_000, help="measured logins at most")
    parser.add_argument(
        "--rate", type=float, default=TARGET_RPS, help="logins/s of the paced run (default 300)"
    )
    parser.add_argument(
        "--portal-workers", type=int, default=1, help="portal processes (default 1)"
    )
    parser.add_argument("--write", action="store_true", help="replace today's docs section")
    return parser


def phone_number(n: int) -> str:
    """Login n's number (E.164); distinct masked forms for up to 140,000 logins."""
    prefix = PREFIXES[n // 10_000 % len(PREFIXES)]
    return f"+861{prefix}1234{n % 10_000:04d}"


# -- seeding --------------------------------------------------------------------------------------


async def seed(db: asyncpg.Pool, routers: int) -> tuple[uuid.UUID, list[RouterSpec]]:
    """One merchant, two routers a store, SMS login on every store: through the services."""
    suffix = uuid.uuid4().hex[:8]
    async with db.acquire() as conn, conn.transaction():
        merchant_id = await accounts.create_merchant(conn, f"SMS Bench {suffix}")
        specs = await seed_routers(
            conn, merchant_id, routers, brand="SMS Bench", methods=("sms",), name=f"ap-sms-{suffix}"
        )
    return merchant_id, specs


# -- the shoppers --------------------------------------------------------------------------------


class Shoppers:
    """Fresh clients with their own numbers, each login over a connection of its own address."""

    def __init__(
        self,
        clients: FreshClients,
        phones: asyncpg.Pool,
        merchant_id: uuid.UUID,
    ) -> None:
        self._clients = clients
        self._phones = phones
        self._merchant_id = merchant_id
        self._next = iter(range(10**9))
        self._phones_idle: asyncio.Queue[LightConnection] = asyncio.Queue()
        self._analyzing: asyncio.Task[None] | None = None

    async def open(self, concurrency: int) -> None:
        portal = urlsplit(self._clients.fleet.portal_url)
        assert portal.hostname is not None and portal.port is not None
        for n in range(concurrency):
            local = f"127.0.{n // 250 + 1}.{n % 250 + 2}"  # each phone its own address
            self._phones_idle.put_nowait(LightConnection(portal.hostname, portal.port, local))
        self._analyzing = asyncio.create_task(self._analyze_outbox())

    async def close(self) -> None:
        if self._analyzing is not None:
            self._analyzing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._analyzing
        while not self._phones_idle.empty():
            await self._phones_idle.get_nowait().close()

    async def _analyze_outbox(self) -> None:
        """The outbox's statistics kept fresh, as autovacuum's analyze keeps them in production:
        the bench's database is new, and CI's PostgreSQL runs without autovacuum. Without them
        the planner read the phones' texts through the merchant's whole outbox (1.2 ms of
        PostgreSQL's CPU a login by 11,000 logins, more than all of the portal's statements)."""
        while True:
            await self._phones.execute("ANALYZE sms_outbox")
            await asyncio.sleep(2.0)

    async def login(self) -> str | None:
        """One shopper from splash form to online page; None, or what went wrong."""
        n = next(self._next)
        try:
            spec, carried = self._clients.next()
        except BenchError as exc:
            return str(exc)
        base = f"/fas/{spec.router_id}"
        phone = phone_number(n)
        conn = await self._phones_idle.get()
        try:
            since = datetime.now(UTC) - timedelta(seconds=0.2)  # this host's clock, as the DB's
            form = {"fas": carried, "phone": phone, "accept": "1", "lang": "en"}
            answer = await conn.post_form(f"{base}/sms/send", form)
            page = answer.text()
            if answer.status != 200:
                return f"send: HTTP {answer.status} {_error_text(page)}"
            found = _REF.search(page)
            if found is None:
                return "send: no code form"
            code = await self._read_text(phone, since)
            if code is None:
                return "no text in the outbox"
            form = {"fas": carried, "ref": html.unescape(found.group(1)), "code": code}
            answer = await conn.post_form(f"{base}/sms/verify", {**form, "lang": "en"})
            location = answer.headers.get("location", "")
            if answer.status != 303 or not location.startswith(f"/fas/{spec.router_id}/online"):
                return f"verify: HTTP {answer.status}"
        except (LightHttpError, TimeoutError) as exc:
            return describe(exc)
        finally:
            self._phones_idle.put_nowait(conn)
        return None

    async def _read_text(self, phone: str, since: datetime) -> str | None:
        """The phone receives its text: the newest outbox row to its masked number."""
        body = await self._phones.fetchval(
            """SELECT body FROM sms_outbox
               WHERE created_at > $1 AND merchant_id = $2 AND masked_phone = $3
               ORDER BY created_at DESC LIMIT 1""",
            since,
            self._merchant_id,
            mask_phone(phone),
        )
        return body[:6] if body else None


# -- the run ---------------------------------------------------------------------------------------


@dataclass
class Report:
    date: str
    facts: dict[str, str]
    server: dict[str, str]
    opts: Options
    bare: Outcome
    capacity: Outcome  # closed loop: as many logins as `concurrency` shoppers make
    paced: Outcome  # open loop at `opts.rate`
    cpu_ms: dict[str, float]  # CPU milliseconds a login, by process: both runs and the warm-up
    checks: list[str]
    problems: list[str]


@dataclass
class Measured:
    capacity: Outcome
    paced: Outcome
    cpu: dict[str, float]  # CPU seconds by process, over both runs
    stats: dict[str, int]
    portal_log: str


async def run(opts: Options) -> Report:
    facts = machine_facts()
    for n in range(0, 10_000 * len(PREFIXES), 9_999):  # every prefix and ending: mobiles
        normalize_phone(phone_number(n))
    with tempfile.TemporaryDirectory(prefix="portico-bench-sms-") as tmp:
        workdir = Path(tmp)
        print(f"bare aiohttp handler: light, {opts.concurrency} connections", file=sys.stderr)
        bare = await bare_baseline(
            tool="light",
            concurrency=opts.concurrency,
            threads=1,
            bounds=Bounds(opts.warmup, 5_000, opts.duration / 2, 100_000),
            workdir=workdir,
        )
        async with bench_servers(opts.database_url, workdir, pool_size=8) as servers:
            opts = replace(opts, mqtt_url=servers.mqtt_url)
            merchant_id, specs = await seed(servers.db, opts.routers)
            measured = await _measure(
                opts, workdir, servers.database_url, servers.db, merchant_id, specs
            )
            checks, problems = await _verify(servers.db, measured)
            server = servers.versions
    logins = max(1, measured.capacity.ok_total + measured.paced.ok_total)
    date = datetime.now(UTC).strftime("%Y-%m-%d")
    return Report(
        date,
        facts,
        server,
        opts,
        bare,
        measured.capacity,
        measured.paced,
        {name: seconds * 1000 / logins for name, seconds in measured.cpu.items()},
        checks,
        problems,
    )


async def _measure(
    opts: Options,
    workdir: Path,
    database_url: str,
    db: asyncpg.Pool,
    merchant_id: uuid.UUID,
    specs: list[RouterSpec],
) -> Measured:
    port = free_port()
    total = opts.max_logins + 2_000 + math.ceil(opts.rate * opts.duration) + opts.concurrency
    fleet = FleetSpec(
        opts.mqtt_url,
        f"http://127.0.0.1:{port}",
        secrets.token_hex(8),
        math.ceil(total / opts.routers) + 2,
        specs,
    )
    async with simulated_routers(fleet, workdir) as routers:
        clients = FreshClients(fleet, routers.ports, first=1)  # the routers' client 0 unused
        async with running_portal(
            fleet, database_url, workdir, workers=opts.portal_workers, PORTICO_SMS_PROVIDER="outbox"
        ) as portal_proc:
            shoppers = Shoppers(clients, db, merchant_id)
            await shoppers.open(opts.concurrency)
            parts = {"portal": [portal_proc.proc.pid], "routers": [routers.child.proc.pid]}
            before = await _cpu(db, parts)
            try:
                print(f"sms login: {opts.concurrency} shoppers at once", file=sys.stderr)
                capacity = await drive(
                    shoppers.login,
                    scenario="sms_login",
                    concurrency=opts.concurrency,
                    bounds=Bounds(opts.warmup, 2_000, opts.duration, opts.max_logins),
                    tool="light",
                )
                print(f"sms login: {opts.rate:g} a second", file=sys.stderr)
                paced_run = await paced(
                    shoppers.login,
                    scenario="sms_login_paced",
                    client="light",
                    rate=opts.rate,
                    duration=opts.duration,
                )
            finally:
                await shoppers.close()
            after = await _cpu(db, parts)
            cpu = {
                name: sum(t - before[name].get(pid, 0.0) for pid, t in times.items())
                for name, times in after.items()
            }
        portal_log = portal_proc.log_tail(10**7)
    return Measured(capacity, paced_run, cpu, routers.stats, portal_log)


async def _cpu(db: asyncpg.Pool, parts: dict[str, list[int]]) -> dict[str, dict[int, float]]:
    """CPU seconds so far of each part's processes; PostgreSQL's are the backends of the
    bench's database (the portal's and the phones'; one that closed takes its time with it)."""
    rows = await db.fetch("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
    pids = {**parts, "PostgreSQL": [row["pid"] for row in rows]}
    seconds = {name: {pid: _cpu_or_gone(pid) for pid in found} for name, found in pids.items()}
    seconds["load generator"] = {os.getpid(): time.process_time()}
    return seconds


def _cpu_or_gone(pid: int) -> float:
    try:
        return cpu_seconds(pid)
    except FileNotFoundError:  # a backend that closed: its time is lost to the measure
        return 0.0


async def _verify(db: asyncpg.Pool, measured: Measured) -> tuple[list[str], list[str]]:
    """Every login answered 303 is an "sms" session with its identity, a used code and a
    client the router let through."""
    sessions = await db.fetchval(
        "SELECT count(*) FROM portal_sessions WHERE method = 'sms' AND identity_hash IS NOT NULL"
    )
    used = await db.fetchval("SELECT count(*) FROM sms_codes WHERE used_at IS NOT NULL")
    identities = await db.fetchval(
        "SELECT count(*) FROM shopper_identities WHERE verified_at IS NOT NULL"
    )
    texts = await db.fetchval("SELECT count(*) FROM sms_outbox")
    granted = measured.stats.get("granted", -1)
    ok = measured.capacity.ok_total + measured.paced.ok_total
    checks = [
        f"logins answered 303 (warm-up included): {ok}",
        f"sms sessions with an identity: {sessions}",
        f"codes used: {used}",
        f"verified numbers: {identities}",
        f"texts in the outbox: {texts}",
        f"clients the simulated routers let through: {granted}",
    ]
    problems = []
    if not ok == sessions == used == identities == granted:
        problems.append("logins, sessions, codes, numbers and grants do not add up")
    for outcome in (measured.capacity, measured.paced):
        if outcome.errors:
            problems.append(
                f"{outcome.scenario}: {outcome.errors} logins failed, e.g. {outcome.error_samples}"
            )
    errors = logged_errors(measured.portal_log)
    if errors:
        problems.append(f"the portal logged {len(errors)} errors, e.g. {errors[:3]}")
    return checks, problems


# -- output ---------------------------------------------------------------------------------------


def _verdicts(report: Report) -> list[str]:
    capacity, paced_run, bare = report.capacity, report.paced, report.bare
    rps = "meets" if capacity.rps >= TARGET_RPS else "misses"
    served = paced_run.rps >= 0.98 * report.opts.rate
    held = served and not paced_run.errors and not paced_run.note
    p99 = "meets" if held and paced_run.p99_ms < TARGET_P99_MS else "misses"
    return [
        f"throughput: {capacity.rps:,.0f} logins/s with {capacity.concurrency} shoppers at once, "
        f"{ratio(capacity, bare):.1%} of the bare handler's {bare.rps:,.0f} requests/s; "
        f"target ≥ {TARGET_RPS:,.0f}/s ({rps})",
        f"latency at {report.opts.rate:g} logins/s offered: {paced_run.rps:,.0f}/s served, p99 "
        f"{paced_run.p99_ms:.1f} ms, p50 {paced_run.p50_ms:.1f} ms; target p99 < "
        f"{TARGET_P99_MS:.0f} ms ({p99}){'; ' + paced_run.note if paced_run.note else ''}",
        "CPU a login: " + ", ".join(f"{name} {ms:.2f} ms" for name, ms in report.cpu_ms.items()),
        _ceiling(report),
    ]


def _ceiling(report: Report) -> str:
    """What the CPU a login costs allows on this machine, everything on its cores."""
    total = sum(report.cpu_ms.values())
    cores = int(report.facts["nproc"])
    portal = report.cpu_ms["portal"]
    return (
        f"ceiling: {total:.2f} ms of CPU a login in these processes (the broker not counted) "
        f"allow about {cores * 1000 / total:,.0f}/s on {cores} cores with nothing else running; "
        f"the portal's {portal:.2f} ms about {1000 / portal:,.0f}/s for each core it gets "
        "(`--workers`)"
    )


def _rows(report: Report) -> list[list[str]]:
    named = (
        ("bare aiohttp handler", report.bare),
        ("SMS-code login, closed loop", report.capacity),
        (f"SMS-code login at {report.opts.rate:g}/s", report.paced),
    )
    return [outcome_row(name, o, report.bare, client=False, share=".1%") for name, o in named]


HEADERS = ["scenario", "conns", "count", "seconds", "errors", "per s", "× bare", "p50 ms", "p99 ms"]


def format_table(report: Report) -> str:
    out = ["", *text_table(HEADERS, _rows(report)), "", *_verdicts(report), "", *report.checks]
    out += [f"PROBLEM: {p}" for p in report.problems]
    return "\n".join(out)


def format_markdown(report: Report) -> str:
    f, s, o = report.facts, report.server, report.opts
    table = markdown_table(HEADERS, _rows(report))
    problems = [f"- **Problem:** {p}" for p in report.problems] or ["- Errors: none."]
    return "\n".join(
        [
            marker(SECTION, report.date),
            f"## {report.date} · SMS-code login (`python -m bench.sms_login`)",
            "",
            f"Machine: nproc {f['nproc']}, {f['cpu']}, {f['ram']} RAM, Linux {f['kernel']}; "
            f"Python {f['python']}, aiohttp {f['aiohttp']}; PostgreSQL {s['postgres']}, "
            f"{s['mqtt_broker']} ({s['broker_choice']}); everything on loopback.",
            "",
            "The bare aiohttp handler (`bench/bare.py`) first, with the same load generator (the "
            "light client of `bench/light_http.py`, on uvloop); then the portal role as "
            "production runs it (`portico serve portal`, one process, SMS provider `outbox`), "
            f"{o.routers} simulated routers (real MQTT, an ack for every command) in another "
            "process, and the shoppers in a third, each connection from its own loopback "
            "address. A login: POST sms/send (rate limits, code, outbox) → the text read from "
            "the outbox → POST sms/verify (attempt, identity, MQTT grant acked, session) → 303 "
            "to the online page; its latency is all of that. Closed loop: "
            f"{o.concurrency} shoppers at once, {o.warmup:g} s warm-up, then up to "
            f"{o.max_logins:,} logins or {o.duration:g} s. Paced: {o.rate:g} logins started a "
            f"second for {o.duration:g} s whatever the answers, each latency from when it was "
            "due.",
            "",
            *table,
            "",
            *[f"- {verdict}." for verdict in _verdicts(report)],
            *problems,
            "",
            "Checks: " + "; ".join(report.checks) + ".",
            marker(SECTION, report.date, end=True),
        ]
    )


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if min(args.concurrency, args.routers, args.max_logins) < 1 or args.concurrency > 1000:
        print(
            "--concurrency (1-1000), --routers and --max-logins must be positive", file=sys.stderr
        )
        return 2
    database_url, mqtt_url = server_urls()
    opts = Options(
        database_url=database_url,
        mqtt_url=mqtt_url,
        concurrency=args.concurrency,
        routers=args.routers,
        warmup=max(0.0, args.warmup),
        duration=max(0.5, args.duration),
        max_logins=args.max_logins,
        rate=args.rate,
        portal_workers=args.portal_workers,
        write=args.write,
    )
    if refuse_remote(opts.database_url, opts.mqtt_url):
        return 2
    return bench_main(
        run(opts), format_table, format_markdown, SECTION, write=opts.write, on_uvloop=True
    )


if __name__ == "__main__":
    sys.exit(main())
