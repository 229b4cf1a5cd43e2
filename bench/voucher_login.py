"""Benchmark: voucher logins end to end, on real servers (issue 8: ≥ 500/s).

    python -m bench.voucher_login [--write]

What it does, all on 127.0.0.1 (the pattern of bench/login_flow.py, with the routers and
portal processes of bench/login_load.py):
  1. measures the bare aiohttp handler (bench/bare.py) with the same load generator: the
     baseline every figure is reported against;
  2. creates a database `portico_bench_<random>` on DATABASE_URL's server, migrates it and seeds
     one merchant through the services: stores offering the voucher login, routers, and
     batches of single-device vouchers (portal/vouchers.py), one fresh code for every login;
  3. starts the portal role as production runs it (`python -m portico.cli serve portal`) in its
     own process and the simulated routers (real MQTT, an ack for every command) in another;
  4. POSTs /fas/<router>/voucher at 64 keep-alive connections, each a fresh client (new MAC and
     token) with a fresh code, so each login is the whole thing: HTTP -> the code's row locked,
     checked and taken in PostgreSQL -> MQTT grant -> router ack -> session stored -> 303; with
     wrk (one thread, the forms prepared beforehand) when installed, else the aiohttp client;
     after a warm-up, bounded by a request count and a time (whichever first);
  5. measures the portal process's CPU time over the measured run (/proc/<pid>/stat);
  6. checks that every login answered 303 is a session with its voucher, an acked command, a
     granted client and a used code; drops the database; with --write, replaces today's section
     of docs/benchmarks.md.
Exit status 1 when any request failed or the checks do not add up.
"""

from __future__ import annotations

import argparse
import math
import re
import secrets
import sys
import tempfile
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
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
    http_session,
    load_tool,
    machine_facts,
    ratio,
    wrk_warm_then_measure,
)
from bench.login_load import (
    GATEWAY_NAME,
    FleetSpec,
    FreshClients,
    RouterSpec,
    Summary,
    bench_main,
    bench_servers,
    load_parser,
    logged_errors,
    markdown_report,
    refuse_remote,
    running_portal,
    seed_routers,
    server_urls,
    simulated_routers,
    text_report,
    wrk_login_scripts,
)
from portal import vouchers

SECTION = "voucher_login"
TARGET_RPS = 500.0  # issue 8
CODES_PER_BATCH = vouchers.LIMITS["count"][1]


@dataclass(frozen=True)
class Options:
    database_url: str
    mqtt_url: str
    concurrency: int
    routers: int
    warmup: float
    duration: float
    requests: int
    client: str
    write: bool


def _parser() -> argparse.ArgumentParser:
    parser = load_parser(
        "python -m bench.voucher_login",
        "Voucher login benchmark (see the module docstring).",
        requests=12_000,
    )
    parser.add_argument("--routers", type=int, default=8, help="simulated routers (default 8)")
    return parser


# -- seeding --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Seeded:
    merchant_id: uuid.UUID
    routers: list[RouterSpec]
    codes: list[str]


async def seed(db: asyncpg.Pool, routers: int, codes: int) -> Seeded:
    """One merchant, two routers a store offering the voucher login, and `codes` single-device
    vouchers of one hour for any of its stores: through the services."""
    suffix = uuid.uuid4().hex[:8]
    async with db.acquire() as conn, conn.transaction():
        merchant_id = await accounts.create_merchant(conn, f"{GATEWAY_NAME} {suffix}")
        specs = await seed_routers(
            conn,
            merchant_id,
            routers,
            brand=GATEWAY_NAME,
            methods=("voucher",),
            name=f"ap-vbench-{suffix}",
        )
    made: list[str] = []
    now = datetime.now(UTC)
    for start in range(0, codes, CODES_PER_BATCH):
        count = min(CODES_PER_BATCH, codes - start)
        spec = vouchers.BatchSpec(f"Bench {start // CODES_PER_BATCH}", None, 60, 0, 1, None, count)
        batch_id = await vouchers.create_batch(db, merchant_id, spec, now=now)
        made += [v.code for v in await vouchers.codes_of_batch(db, merchant_id, batch_id)]
    return Seeded(merchant_id, specs, made)


# -- the logins -----------------------------------------------------------------------------------


class Posts:
    """Each login's form: the next fresh client (round the routers) and the next fresh code."""

    def __init__(self, clients: FreshClients, codes: list[str]) -> None:
        self.clients = clients
        self.codes = iter(codes)

    def next(self) -> tuple[str, dict[str, str]]:
        spec, carried = self.clients.next()
        code = next(self.codes, None)
        if code is None:
            raise BenchError("ran out of vouchers")
        form = {"fas": carried, "code": code, "accept": "1", "lang": "en"}
        return f"/fas/{spec.router_id}/voucher", form


async def logins_wrk(
    base_url: str, posts: Posts, concurrency: int, bounds: Bounds, workdir: Path, pid: int
) -> tuple[Outcome, float]:
    """wrk, one thread, posting forms prepared here: a warm-up run, then the measured run, and
    the portal's CPU seconds over the measured run."""
    warm, measured = wrk_login_scripts(workdir, "voucher", posts.next, concurrency, bounds)
    outcome = Outcome("voucher_login", "wrk", concurrency)
    before: list[float] = []
    await wrk_warm_then_measure(
        outcome, base_url + "/", warm, measured, 1, bounds, lambda: before.append(cpu_seconds(pid))
    )
    return outcome, cpu_seconds(pid) - before[0]


async def logins_aiohttp(base_url: str, posts: Posts, concurrency: int, bounds: Bounds) -> Outcome:
    async with http_session(concurrency) as session:

        async def send() -> str | None:
            try:
                path, form = posts.next()
            except BenchError as exc:
                return str(exc)
            try:
                async with session.post(base_url + path, data=form, allow_redirects=False) as r:
                    body = await r.text()
                    if r.status != 303 or "/online?s=" not in r.headers.get("Location", ""):
                        said = re.search(r'role="alert">([^<]*)<', body)  # the page's error
                        return f"HTTP {r.status}" + (f": {said.group(1)}" if said else "")
            except (aiohttp.ClientError, TimeoutError) as exc:
                return describe(exc)
            return None

        outcome = await drive(
            send, scenario="voucher_login", concurrency=concurrency, bounds=bounds
        )
    return outcome


# -- the run --------------------------------------------------------------------------------------


@dataclass
class Report:
    date: str
    facts: dict[str, str]
    server: dict[str, str]
    opts: Options
    bare: Outcome
    login: Outcome
    portal_cpu: float  # CPU seconds of the portal process over the measured run
    checks: list[str]
    problems: list[str]


async def run(opts: Options) -> Report:
    tool, note = load_tool(opts.client)
    facts = machine_facts()
    bounds = Bounds(opts.warmup, 2_000, opts.duration, opts.requests)
    logins_needed = bounds.warmup_max + bounds.max_requests + 2 * opts.concurrency
    with tempfile.TemporaryDirectory(prefix="portico-bench-") as tmp:
        workdir = Path(tmp)
        print(f"bare aiohttp handler: {tool}, {opts.concurrency} connections", file=sys.stderr)
        bare = await bare_baseline(
            tool=tool,
            concurrency=opts.concurrency,
            threads=1,
            bounds=Bounds(opts.warmup, 5_000, opts.duration, 200_000),
            workdir=workdir,
        )
        async with bench_servers(opts.database_url, workdir, pool_size=2) as servers:
            server = servers.versions
            seeded = await seed(servers.db, opts.routers, logins_needed)
            per_router = math.ceil(logins_needed / opts.routers) + 1
            fleet = FleetSpec(
                servers.mqtt_url,
                f"http://127.0.0.1:{free_port()}",
                secrets.token_hex(8),
                per_router,
                seeded.routers,
            )
            print(
                f"seeded {opts.routers} routers and {len(seeded.codes):,} vouchers",
                file=sys.stderr,
            )
            login, cpu, stats, portal_log = await _measure(
                opts, tool, fleet, seeded, servers.database_url, workdir, bounds
            )
            checks, problems = await _verify(servers.db, seeded, login, stats, portal_log)
    if note and login.client == "aiohttp":
        login.note = note
    date = datetime.now(UTC).strftime("%Y-%m-%d")
    return Report(date, facts, server, opts, bare, login, cpu, checks, problems)


async def _measure(
    opts: Options,
    tool: str,
    fleet: FleetSpec,
    seeded: Seeded,
    database_url: str,
    workdir: Path,
    bounds: Bounds,
) -> tuple[Outcome, float, dict[str, int], str]:
    async with simulated_routers(fleet, workdir) as routers:
        posts = Posts(FreshClients(fleet, routers.ports), seeded.codes)
        async with running_portal(fleet, database_url, workdir) as portal_proc:
            print(f"voucher login: {tool}, {opts.concurrency} connections", file=sys.stderr)
            pid = portal_proc.proc.pid
            if tool == "wrk":
                login, cpu = await logins_wrk(
                    fleet.portal_url, posts, opts.concurrency, bounds, workdir, pid
                )
            else:
                before = cpu_seconds(pid)
                login = await logins_aiohttp(fleet.portal_url, posts, opts.concurrency, bounds)
                cpu = cpu_seconds(pid) - before  # warm-up included
            portal_log = portal_proc.log_tail(10**7)
    return login, cpu, routers.stats, portal_log


async def _verify(
    db: asyncpg.Pool, seeded: Seeded, login: Outcome, stats: dict[str, int], portal_log: str
) -> tuple[list[str], list[str]]:
    """Every login answered 303 is a session with its code, an acked command, a granted
    client and a code used once by one device."""
    m = seeded.merchant_id
    sessions = await db.fetchval(
        "SELECT count(*) FROM portal_sessions WHERE merchant_id = $1 AND method = 'voucher'"
        " AND voucher_code IS NOT NULL",
        m,
    )
    used = await db.fetchval(
        "SELECT count(*) FROM vouchers WHERE merchant_id = $1 AND first_used_at IS NOT NULL", m
    )
    devices = await db.fetchval("SELECT count(*) FROM voucher_devices WHERE merchant_id = $1", m)
    acked = await db.fetchval(
        "SELECT count(*) FROM router_commands WHERE merchant_id = $1 AND status = 'done'", m
    )
    granted = stats.get("granted", -1)
    checks = [
        f"logins answered 303 (warm-up included): {login.ok_total}",
        f"voucher sessions stored: {sessions}",
        f"codes used: {used} (devices on them: {devices})",
        f"acked grants: {acked}",
        f"clients the simulated routers let through: {granted}",
    ]
    problems = []
    # wrk stops with up to one request per connection in flight: finished by the portal, stored
    # but not counted, in each of its two runs.
    in_flight = 2 * login.concurrency if login.client == "wrk" else 0
    if not sessions == used == devices == acked == granted or not (
        login.ok_total <= sessions <= login.ok_total + in_flight
    ):
        problems.append("logins, sessions, codes, grants do not add up: " + "; ".join(checks))
    if login.errors:
        problems.append(f"{login.errors} failed logins, e.g. {login.error_samples}")
    errors = logged_errors(portal_log)
    if errors:
        problems.append(f"the portal logged {len(errors)} errors, e.g. {errors[:3]}")
    return checks, problems


# -- output ---------------------------------------------------------------------------------------


def _verdict(report: Report) -> str:
    o = report.login
    verdict = "meets" if o.rps >= TARGET_RPS else "misses"
    # The aiohttp client's CPU reading includes the warm-up; wrk's does not.
    logins = o.ok_total if o.client == "aiohttp" else o.requests
    per_login = report.portal_cpu / logins * 1000 if logins else math.nan
    return (
        f"{o.rps:,.0f}/s, {ratio(o, report.bare):.1%} of the bare handler's "
        f"{report.bare.rps:,.0f}/s; target ≥ {TARGET_RPS:,.0f}/s ({verdict}); the portal "
        f"process used {report.portal_cpu:.1f} CPU s in {o.seconds:.1f} s "
        f"({per_login:.2f} ms a login)"
    )


def _summary(report: Report) -> Summary:
    return Summary(
        "voucher login", report.bare, report.login, _verdict(report), report.checks, report.problems
    )


def format_table(report: Report) -> str:
    return text_report(_summary(report))


def format_markdown(report: Report) -> str:
    o = report.opts
    return markdown_report(
        _summary(report),
        section=SECTION,
        date=report.date,
        title="voucher login (`python -m bench.voucher_login`)",
        facts=report.facts,
        server=report.server,
        method=(
            "voucher logins against the portal role as production runs it "
            "(`portico serve portal`, one process), with "
            f"{o.routers} simulated routers (real MQTT, an ack for every command) in another "
            f"process. {o.concurrency} keep-alive connections; {o.warmup:g} s warm-up, then up "
            f"to {o.requests:,} logins or {o.duration:g} s. Each login a fresh client and a "
            "fresh single-device code: POST → the code's row locked, checked and taken → MQTT "
            "grant → agent ack → session stored with its voucher → 303 to the online page."
        ),
    )


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if min(args.concurrency, args.routers, args.requests) < 1:
        print("--concurrency, --routers and --requests must be at least 1", file=sys.stderr)
        return 2
    database_url, mqtt_url = server_urls()
    opts = Options(
        database_url=database_url,
        mqtt_url=mqtt_url,
        concurrency=args.concurrency,
        routers=args.routers,
        warmup=max(0.0, args.warmup),
        duration=max(0.5, args.duration),
        requests=args.requests,
        client=args.client,
        write=args.write,
    )
    if refuse_remote(opts.database_url, opts.mqtt_url):
        return 2
    return bench_main(run(opts), format_table, format_markdown, SECTION, write=opts.write)


if __name__ == "__main__":
    sys.exit(main())
