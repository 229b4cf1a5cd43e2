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
          so each is a real grant: HTTP -> PostgreSQL -> MQTT cmd -> router ack -> 303; with
          wrk too (one thread, the forms prepared beforehand), so the load generator takes
          little of the CPU the portal, the routers and PostgreSQL share;
  4. prints a table, checks that every login was stored and acked, drops the database and, with
     --write, replaces today's section of docs/benchmarks.md.
Exit status 1 when any request failed or the checks do not add up.
"""

from __future__ import annotations

import argparse
import collections
import math
import os
import re
import secrets
import sys
import tempfile
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
import asyncpg

import accounts.services as accounts
import ads.services as ads
from bench.harness import (
    BenchError,
    Bounds,
    Child,
    Outcome,
    bare_baseline,
    describe,
    drive,
    free_port,
    http_session,
    load_tool,
    machine_facts,
    marker,
    measure_get,
    ratio,
    wrk_warm_then_measure,
)
from bench.login_load import (
    GATEWAY_NAME,
    ORIGIN_URL,
    FleetSpec,
    FreshClients,
    RouterSpec,
    bench_client,
    bench_main,
    bench_servers,
    logged_errors,
    markdown_table,
    outcome_row,
    refuse_remote,
    running_portal,
    seed_routers,
    server_urls,
    sim_router,
    simulated_routers,
    text_table,
    wrk_login_scripts,
)

SPLASH_POOL = 32  # fas values per router reused by the splash scenario


def section_name(fas_level: int) -> str:
    """This benchmark's sections in docs/benchmarks.md, one per FAS level."""
    return "login_flow" if fas_level == 1 else f"login_flow_level{fas_level}"


# PRODUCT.md §6 and issue 5: requests/s at least, p99 ms below, share of the bare handler at least.
TARGETS: dict[str, tuple[float | None, float | None, float | None]] = {
    "splash": (4000.0, 50.0, 0.30),
    "login": (1000.0, 100.0, None),
    "splash_workers": (None, None, None),
}
PNG_1X1 = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010802000000907753de"
    "0000000c49444154789c633811a00100032401411d199fc40000000049454e44ae426082"
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
    portal_workers: int  # processes for the all-cores splash; 0: one per core
    fas_level: int  # openNDS's FAS level of every router: 1, 2 or 3
    write: bool
    splash_only: bool = False  # the bare handler and the one-process splash, nothing else


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
        "--fas-level",
        type=int,
        choices=(1, 2, 3),
        default=1,
        help="openNDS FAS level of the routers (default 1; 3: encrypted redirects)",
    )
    parser.add_argument(
        "--portal-workers",
        type=int,
        default=0,
        help="portal processes for the all-cores splash (default: one per core)",
    )
    parser.add_argument(
        "--splash-only",
        action="store_true",
        help="measure only the bare handler and the one-process splash (for profiling; "
        "not with --write)",
    )
    parser.add_argument(
        "--write", action="store_true", help="replace today's section of docs/benchmarks.md"
    )
    return parser


# -- seeding -------------------------------------------------------------------------------------


async def seed_tenant(db: asyncpg.Pool, routers: int, fas_level: int) -> list[RouterSpec]:
    """One merchant, two routers a store, portal settings and a live ad: through the services."""
    suffix = uuid.uuid4().hex[:8]
    now = datetime.now(UTC)
    async with db.acquire() as conn, conn.transaction():
        merchant_id = await accounts.create_merchant(conn, f"{GATEWAY_NAME} {suffix}")
        specs = await seed_routers(
            conn,
            merchant_id,
            routers,
            brand=GATEWAY_NAME,
            methods=("click",),
            name=f"ap-bench-{suffix}",
            fas_level=fas_level,
            welcome_en="Welcome! Free WiFi for our shoppers.",
            welcome_zh="欢迎光临！顾客免费 WiFi。",
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
            image=PNG_1X1,
            coupon=("¥10 off a latte", "拿铁立减 10 元", now + timedelta(days=1), 50),
        )
    return specs


# -- the logins ----------------------------------------------------------------------------------


async def login_aiohttp(
    base_url: str, clients: FreshClients, concurrency: int, bounds: Bounds
) -> Outcome:
    """Each login a fresh client, posting the click-through form."""
    async with http_session(concurrency) as session:

        async def send() -> str | None:
            try:
                spec, carried = clients.next()
            except BenchError as exc:
                return str(exc)
            form = {"fas": carried, "accept": "1", "lang": "en"}
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
                return describe(exc)
            return None

        return await drive(send, scenario="login", concurrency=concurrency, bounds=bounds)


async def login_wrk(
    base_url: str, clients: FreshClients, concurrency: int, bounds: Bounds, workdir: Path
) -> Outcome:
    """The same logins driven by wrk (one thread; each POST a fresh client, prepared here)."""

    def post() -> tuple[str, dict[str, str]]:
        spec, carried = clients.next()
        return f"/fas/{spec.router_id}/login", {"fas": carried, "accept": "1", "lang": "en"}

    warm, measured = wrk_login_scripts(workdir, "login", post, concurrency, bounds)
    outcome = Outcome("login", "wrk", concurrency)
    return await wrk_warm_then_measure(outcome, base_url + "/", warm, measured, 1, bounds)


# -- the run --------------------------------------------------------------------------------------


@dataclass
class Report:
    date: str
    facts: dict[str, str]
    opts: Options
    bare: Outcome
    outcomes: list[Outcome]
    checks: list[str]
    problems: list[str]
    server: dict[str, str]


async def run(opts: Options) -> Report:
    tool, tool_note = load_tool(opts.splash_client)
    if tool_note:
        print(f"NOTE: {tool_note}", file=sys.stderr)
    facts = machine_facts()
    concurrency = opts.concurrency
    per_router = SPLASH_POOL + math.ceil((opts.login_requests + 2000) / opts.routers) + concurrency
    with tempfile.TemporaryDirectory(prefix="portico-bench-") as tmp:
        workdir = Path(tmp)
        print(f"bare aiohttp handler: {tool}, {concurrency} connections", file=sys.stderr)
        bare = await bare_baseline(
            tool=tool,
            concurrency=concurrency,
            threads=opts.wrk_threads,
            bounds=Bounds(opts.warmup, 5_000, opts.duration, opts.splash_requests),
            workdir=workdir,
        )
        async with bench_servers(opts.database_url, workdir, pool_size=2) as servers:
            opts = replace(opts, mqtt_url=servers.mqtt_url)
            server = servers.versions
            specs = await seed_tenant(servers.db, opts.routers, opts.fas_level)
            portal_url = f"http://127.0.0.1:{free_port()}"
            fleet = FleetSpec(opts.mqtt_url, portal_url, secrets.token_hex(8), per_router, specs)
            server.update(_server_settings())
            print(
                f"seeded {opts.routers} routers; starting the portal and the routers",
                file=sys.stderr,
            )
            outcomes, checks, problems = await _measure(
                opts, tool, fleet, servers.database_url, workdir, servers.db
            )
    if tool_note:
        for outcome in [bare, *outcomes]:
            if outcome.client == "aiohttp" and outcome.scenario != "login":
                outcome.note = tool_note
    date = datetime.now(UTC).strftime("%Y-%m-%d")
    return Report(date, facts, opts, bare, outcomes, checks, problems, server)


def _server_settings() -> dict[str, str]:
    return {
        "db_pool_size": os.environ.get("PORTICO_DB_POOL_SIZE") or "10 (default)",
        "log_level": os.environ.get("PORTICO_LOG_LEVEL") or "INFO (default)",
    }


async def _measure(
    opts: Options,
    tool: str,
    fleet: FleetSpec,
    database_url: str,
    workdir: Path,
    db: asyncpg.Pool,
) -> tuple[list[Outcome], list[str], list[str]]:
    portal_logs: list[Child] = []
    splash_bounds = Bounds(opts.warmup, 5_000, opts.duration, opts.splash_requests)
    async with simulated_routers(fleet, workdir) as routers:
        twins = [sim_router(fleet, spec, routers.ports[spec.router_id]) for spec in fleet.routers]
        paths = [
            urlsplit(twin.redirect_url(bench_client(fleet.seed, spec.index, n), ORIGIN_URL))
            ._replace(scheme="", netloc="")
            .geturl()
            for twin, spec in zip(twins, fleet.routers, strict=True)
            for n in range(SPLASH_POOL)
        ]

        async def splash(scenario: str, server_pid: int) -> Outcome:
            print(f"{scenario}: {tool}, {opts.concurrency} connections", file=sys.stderr)
            return await measure_get(
                fleet.portal_url,
                paths,
                scenario=scenario,
                expect="<form",
                tool=tool,
                concurrency=opts.concurrency,
                threads=opts.wrk_threads,
                bounds=splash_bounds,
                workdir=workdir,
                server_pid=server_pid,
            )

        async with running_portal(fleet, database_url, workdir, workers=1) as portal_proc:
            portal_logs.append(portal_proc)
            one = await splash("splash", portal_proc.proc.pid)
            if opts.splash_only:
                return [one], [], _errors([one])
            print(f"login: {tool}, {opts.concurrency} connections", file=sys.stderr)
            login_bounds = Bounds(opts.warmup, 2_000, opts.duration, opts.login_requests)
            clients = FreshClients(fleet, routers.ports, first=SPLASH_POOL)
            if tool == "wrk":
                login = await login_wrk(
                    fleet.portal_url, clients, opts.concurrency, login_bounds, workdir
                )
            else:
                login = await login_aiohttp(
                    fleet.portal_url, clients, opts.concurrency, login_bounds
                )
        workers = opts.portal_workers or len(os.sched_getaffinity(0))
        async with running_portal(fleet, database_url, workdir, workers=workers) as portal_proc:
            portal_logs.append(portal_proc)
            many = await splash("splash_workers", portal_proc.proc.pid)
            many.note = f"`portico serve portal --workers {workers}`"
    checks, problems = await _verify(db, login, routers.stats, portal_logs)
    return [one, login, many], checks, problems + _errors([one, login, many])


def _errors(outcomes: list[Outcome]) -> list[str]:
    return [
        f"{o.scenario}: {o.errors} errors, e.g. {o.error_samples}" for o in outcomes if o.errors
    ]


async def _verify(
    db: asyncpg.Pool, login: Outcome, stats: dict[str, int], portals: list[Child]
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
    # wrk stops a run with up to one request per connection in flight: the portal finishes
    # those (stored, never counted), at most one per connection in each of the two runs.
    in_flight = 2 * login.concurrency if login.client == "wrk" else 0
    if not sessions == commands.get("done", 0) == granted or not (
        login.ok_total <= sessions <= login.ok_total + in_flight
    ):
        problems.append("logins, sessions, acked commands and grants do not add up: " + str(checks))
    for portal_proc in portals:
        log = portal_proc.log_tail(10**7)
        errors = logged_errors(log)
        if errors:
            problems.append(f"the portal logged {len(errors)} errors, e.g. {errors[:3]}")
        warnings = collections.Counter(
            re.sub(r"\d+", "N", line.split(" WARNING ", 1)[1])
            for line in log.splitlines()
            if " WARNING " in line
        )
        if warnings:
            top = "; ".join(f"{n} × {text!r}" for text, n in warnings.most_common(3))
            checks.append(f"portal log warnings: {top}")
    return checks, problems


# -- output ---------------------------------------------------------------------------------------


def _verdict(outcome: Outcome, report: Report) -> str:
    rps_target, p99_target, ratio_target = TARGETS[outcome.scenario]
    share = ratio(outcome, report.bare)
    parts = [
        f"{outcome.rps:,.0f}/s, {share:.0%} of the bare handler's {report.bare.rps:,.0f}/s",
    ]
    if ratio_target is not None:
        verdict = "meets" if share >= ratio_target else "misses"
        parts.append(f"target ≥ {ratio_target:.0%} ({verdict})")
    if rps_target is not None:
        verdict = "meets" if outcome.rps >= rps_target else "misses"
        parts.append(f"≥ {rps_target:,.0f}/s ({verdict})")
    if p99_target is not None:
        verdict = "meets" if outcome.p99_ms < p99_target else "misses"
        parts.append(f"p99 {outcome.p99_ms:.1f} ms vs < {p99_target:.0f} ms ({verdict})")
    if not math.isnan(outcome.server_cpu_us) and not math.isnan(report.bare.server_cpu_us):
        # CPU per request hardly moves with other load on the machine, unlike requests a second
        cpu_share = report.bare.server_cpu_us / outcome.server_cpu_us
        parts.append(
            f"server CPU {outcome.server_cpu_us:.0f} µs a request, the bare handler's "
            f"{report.bare.server_cpu_us:.0f} µs ({cpu_share:.0%} by CPU)"
        )
    if outcome.scenario == "splash_workers":
        one = next(o for o in report.outcomes if o.scenario == "splash")
        speedup = outcome.rps / one.rps if one.rps else math.nan
        parts.append(f"{speedup:.2f}× one worker on {report.facts['nproc']} cores")
    return "; ".join(parts)


SCENARIO_NAMES = {
    "bare": "bare aiohttp handler",
    "splash": "splash GET",
    "login": "click-through login",
    "splash_workers": "splash GET, all cores",
}


def _rows(report: Report) -> list[list[str]]:
    return [
        outcome_row(SCENARIO_NAMES[o.scenario], o, report.bare, client=True, share=".0%")
        for o in [report.bare, *report.outcomes]
    ]


HEADERS = [
    "scenario",
    "client",
    "conns",
    "requests",
    "seconds",
    "errors",
    "req/s",
    "× bare",
    "p50 ms",
    "p99 ms",
]


def format_table(report: Report) -> str:
    out = ["", *text_table(HEADERS, _rows(report)), ""]
    out += [f"{SCENARIO_NAMES[o.scenario]}: {_verdict(o, report)}" for o in report.outcomes]
    out += [f"note: {o.note}" for o in [report.bare, *report.outcomes] if o.note]
    out += ["", *report.checks]
    out += [f"PROBLEM: {p}" for p in report.problems]
    return "\n".join(out)


def format_markdown(report: Report) -> str:
    f, s, o = report.facts, report.server, report.opts
    table = markdown_table(HEADERS, _rows(report))
    verdicts = [f"- {SCENARIO_NAMES[x.scenario]}: {_verdict(x, report)}." for x in report.outcomes]
    notes = [
        f"- {SCENARIO_NAMES[x.scenario]}: {x.note}."
        for x in [report.bare, *report.outcomes]
        if x.note
    ]
    problems = [f"- **Problem:** {p}" for p in report.problems] or ["- Errors: none."]
    return "\n".join(
        [
            marker(section_name(o.fas_level), report.date),
            f"## {report.date} · login flow, FAS level {o.fas_level} "
            f"(`python -m bench.login_flow --fas-level {o.fas_level}`)",
            "",
            f"Machine: nproc {f['nproc']}, {f['cpu']}, {f['ram']} RAM, Linux {f['kernel']}; "
            f"Python {f['python']}, aiohttp {f['aiohttp']}; PostgreSQL {s['postgres']}, "
            f"{s['mqtt_broker']} ({s['broker_choice']}), wrk {f['wrk']}; everything on loopback.",
            "",
            "Measured, one after another: a bare aiohttp handler (`bench/bare.py`, uvloop, one "
            "process) as the baseline; the portal role as production runs it (`portico serve "
            f"portal`, DB pool {s['db_pool_size']}, log level {s['log_level']}) in one process, "
            "then with one worker per core; "
            f"{o.routers} simulated routers (real MQTT, an ack for every command) in another "
            f"process; the load generator in a third. {o.concurrency} keep-alive connections; "
            f"{o.warmup:g} s warm-up, then up to {o.splash_requests:,} splash requests / "
            f"{o.login_requests:,} logins or {o.duration:g} s, whichever came first. Splash: GET "
            f"with a valid fas for a known client (a pool of {SPLASH_POOL} per router), page "
            "with an ad. Login: each a fresh client, POST → PostgreSQL → MQTT cmd → agent "
            "ack → session stored → 303 to the portal's online page; with wrk, one thread "
            "posting forms prepared beforehand (a login is one click: the load generator "
            "should not take the CPU the portal, the routers and PostgreSQL share).",
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
            marker(section_name(o.fas_level), report.date, end=True),
        ]
    )


# -- entry point ----------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    for name in ("concurrency", "routers", "splash_requests", "login_requests", "wrk_threads"):
        if getattr(args, name) < 1:
            print(f"--{name.replace('_', '-')} must be at least 1", file=sys.stderr)
            return 2
    database_url, mqtt_url = server_urls()
    opts = Options(
        database_url=database_url,
        mqtt_url=mqtt_url,  # "": a private Mosquitto (bench_broker)
        concurrency=args.concurrency,
        routers=args.routers,
        warmup=max(0.0, args.warmup),
        duration=max(0.5, args.duration),
        splash_requests=args.splash_requests,
        login_requests=args.login_requests,
        splash_client=args.splash_client,
        wrk_threads=args.wrk_threads,
        portal_workers=args.portal_workers,
        fas_level=args.fas_level,
        write=args.write,
        splash_only=args.splash_only,
    )
    if opts.splash_only and opts.write:
        print("--splash-only measures too little for --write", file=sys.stderr)
        return 2
    if refuse_remote(opts.database_url, opts.mqtt_url):
        return 2
    section = section_name(opts.fas_level)
    return bench_main(run(opts), format_table, format_markdown, section, write=opts.write)


if __name__ == "__main__":
    sys.exit(main())
