"""Benchmark: the WiFiDog auth-server endpoints a gateway calls, on real servers.

    python -m bench.wifidog [--write]

All on 127.0.0.1: a bare aiohttp handler first (the baseline), then a throwaway database
`portico_bench_<random>` with one merchant and one WiFiDog router seeded through the services,
the portal role as production runs it (`portico serve portal`) in its own process, and
`--clients` phones logged in through the real protocol (login/ page, Connect, the gateway's
`auth/?stage=login`). Then, at 64 keep-alive connections, after a warm-up, bounded by a request
count and a time:
  a) `auth/?stage=counters` for those phones (valid token; the usage is written to PostgreSQL
     before the answer), each answered `Auth: 1`;
  b) `ping/` for the router, each answered `Pong`.
Targets (PRODUCT.md §6): `/auth` ≥ 25% of the bare handler (≥ 5,000/s), `/ping` ≥ 50%
(≥ 10,000/s). Exit status 1 when a request failed or the usage did not reach PostgreSQL.
"""

from __future__ import annotations

import argparse
import asyncio
import html
import os
import re
import secrets
import sys
import tempfile
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

import aiohttp
import asyncpg

import accounts.services as accounts
import portal.stores as portal
from bench.harness import (
    CHILD_START_TIMEOUT,
    DOCS,
    ROOT,
    BenchError,
    Bounds,
    Outcome,
    bare_baseline,
    bench_broker,
    bench_database,
    free_port,
    load_tool,
    machine_facts,
    marker,
    measure_get,
    ratio,
    server_versions,
    spawn,
    stop,
    wait_healthy,
    write_section,
)
from controller.services import register_router
from kernel.db import create_pool, migrate

NAME = "wifidog"
DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
GW_ADDRESS, GW_PORT = "192.168.1.1", 2060
# requests/s at least, share of the bare handler at least (PRODUCT.md §6)
TARGETS = {"auth": (5000.0, 0.25), "ping": (10000.0, 0.50)}


@dataclass(frozen=True)
class Phone:
    mac: str
    ip: str
    token: str


async def seed(db: asyncpg.Pool) -> str:
    """One merchant, one store, one WiFiDog router; its gw_id."""
    suffix = uuid.uuid4().hex[:8]
    async with db.acquire() as conn, conn.transaction():
        merchant_id = await accounts.create_merchant(conn, f"Bench WiFiDog {suffix}")
        store_id = await accounts.create_store(conn, merchant_id, "Store 1")
        await portal.upsert_store_portal(
            conn, merchant_id, store_id, brand_name="Bench", session_minutes=600
        )
        new = await register_router(
            conn, merchant_id, store_id, f"wd-bench-{suffix}", "AP 1", gateway="wifidog"
        )
    return new.router.router_id


async def log_in(http: aiohttp.ClientSession, base_url: str, gw_id: str, n: int) -> Phone:
    """What a phone and its gateway do: login/ page, Connect, then auth/?stage=login."""
    mac = "0a:" + ":".join(f"{b:02x}" for b in n.to_bytes(5, "big"))
    ip = f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 250 + 2}"
    query = (
        f"gw_address={GW_ADDRESS}&gw_port={GW_PORT}&gw_id={gw_id}&ip={ip}&mac={mac}"
        f"&url={quote('http://example.com/', safe='')}"
    )
    async with http.get(f"{base_url}/wifidog/login/?{query}") as page:
        text = await page.text()
    ticket = re.search(r'name="fas" value="([^"]+)"', text)
    if page.status != 200 or ticket is None:
        raise BenchError(f"login/ answered {page.status} without a form")
    form = {"fas": html.unescape(ticket.group(1)), "accept": "1", "lang": "en"}
    async with http.post(f"{base_url}/wifidog/login/", data=form, allow_redirects=False) as r:
        location = r.headers.get("Location", "")
    token = parse_qs(urlsplit(location).query).get("token", [""])[0]
    if not token:
        raise BenchError(f"Connect answered {r.status} {location!r}")
    login = auth_path("login", gw_id, Phone(mac, ip, token), 0)
    async with http.get(base_url + login) as r:
        if "Auth: 1" not in await r.text():
            raise BenchError(f"stage=login refused a fresh token ({r.status})")
    return Phone(mac, ip, token)


def auth_path(stage: str, gw_id: str, phone: Phone, incoming: int) -> str:
    # auth_server_request (wifidog-gateway src/centralserver.c): this order of parameters
    return (
        f"/wifidog/auth/?stage={stage}&ip={phone.ip}&mac={phone.mac}&token={phone.token}"
        f"&incoming={incoming}&outgoing={incoming // 10}&gw_id={gw_id}"
    )


def ping_path(gw_id: str, n: int) -> str:
    # ping (wifidog-gateway src/ping_thread.c): gw_id, sys_uptime, sys_memfree, sys_load,
    # wifidog_uptime
    return (
        f"/wifidog/ping/?gw_id={gw_id}&sys_uptime={1000 + n}&sys_memfree=20480"
        f"&sys_load=0.{n % 100:02d}&wifidog_uptime={500 + n}"
    )


@dataclass
class Report:
    date: str
    facts: dict[str, str]
    server: dict[str, str]
    bare: Outcome
    outcomes: list[Outcome]
    checks: list[str]
    problems: list[str]
    clients: int


async def run(opts: argparse.Namespace) -> Report:
    tool, note = load_tool(opts.client)
    database_url_server = os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL
    for url in (database_url_server, os.environ.get("MQTT_URL") or "mqtt://127.0.0.1"):
        if urlsplit(url).hostname not in ("127.0.0.1", "localhost", "::1"):
            raise BenchError(f"refusing to benchmark against a non-loopback server: {url}")
    bounds = Bounds(opts.warmup, 5_000, opts.duration, opts.requests)
    load = {"tool": tool, "concurrency": opts.concurrency, "threads": 1, "bounds": bounds}
    with tempfile.TemporaryDirectory(prefix="portico-bench-") as tmp:
        workdir = Path(tmp)
        print(f"bare aiohttp handler: {tool}, {opts.concurrency} connections", file=sys.stderr)
        bare = await bare_baseline(workdir=workdir, **load)
        async with (
            bench_broker(workdir) as (mqtt_url, _choice),
            bench_database(database_url_server) as database_url,
        ):
            await migrate(database_url)
            db = await create_pool(database_url, size=2)
            try:
                server = await server_versions(db, mqtt_url)
                gw_id = await seed(db)
                port = free_port()
                base_url = f"http://127.0.0.1:{port}"
                env = dict(
                    os.environ,
                    DATABASE_URL=database_url,
                    MQTT_URL=mqtt_url,
                    PORTICO_ENV="production",
                    PORTICO_BIND="127.0.0.1",
                    PORTICO_PORTAL_PORT=str(port),
                    PORTICO_SECRET_KEY=secrets.token_urlsafe(48),
                    PYTHONUNBUFFERED="1",
                )
                child = await spawn(
                    "portal",
                    [sys.executable, "-m", "portico.cli", "serve", "portal"],
                    env,
                    workdir / "portal.log",
                    terminate=True,
                )
                try:
                    await wait_healthy(child, f"{base_url}/healthz", CHILD_START_TIMEOUT)
                    async with aiohttp.ClientSession() as http:
                        phones = [
                            await log_in(http, base_url, gw_id, n) for n in range(opts.clients)
                        ]
                    print(f"{len(phones)} phones logged in", file=sys.stderr)
                    counters = [auth_path("counters", gw_id, p, 4096) for p in phones]
                    pings = [ping_path(gw_id, n) for n in range(64)]
                    print(f"auth: {tool}, {opts.concurrency} connections", file=sys.stderr)
                    auth = await measure_get(
                        base_url,
                        counters,
                        scenario="auth",
                        expect="Auth: 1",
                        workdir=workdir,
                        **load,
                    )
                    print(f"ping: {tool}, {opts.concurrency} connections", file=sys.stderr)
                    ping = await measure_get(
                        base_url, pings, scenario="ping", expect="Pong", workdir=workdir, **load
                    )
                finally:
                    await stop(child)
                checks, problems = await _verify(db, len(phones), child.log_tail(10**6))
            finally:
                await db.close()
    for outcome in (bare, auth, ping):
        outcome.note = note
        if outcome.errors:
            problems.append(f"{outcome.scenario}: {outcome.errors} errors: {outcome.error_samples}")
    date = datetime.now(UTC).strftime("%Y-%m-%d")
    return Report(date, machine_facts(), server, bare, [auth, ping], checks, problems, opts.clients)


async def _verify(db: asyncpg.Pool, clients: int, log: str) -> tuple[list[str], list[str]]:
    """The usage the counters carried is in PostgreSQL, and the portal logged no error."""
    recorded = await db.fetchval(
        "SELECT count(*) FROM wifidog_usage WHERE incoming = 4096 AND outgoing = 409"
    )
    checks = [f"sessions whose usage (4096/409 bytes) reached PostgreSQL: {recorded} of {clients}"]
    problems = []
    if recorded != clients:
        problems.append("not every phone's counters reached PostgreSQL: " + checks[0])
    errors = [line for line in log.splitlines() if " ERROR " in line or "Traceback" in line]
    if errors:
        problems.append(f"the portal logged {len(errors)} errors, e.g. {errors[:3]}")
    return checks, problems


def _verdict(outcome: Outcome, bare: Outcome) -> str:
    rps_target, share_target = TARGETS[outcome.scenario]
    share = ratio(outcome, bare)
    return (
        f"{outcome.rps:,.0f}/s, {share:.0%} of the bare handler's {bare.rps:,.0f}/s: target "
        f"≥ {share_target:.0%} ({'meets' if share >= share_target else 'misses'}), "
        f"≥ {rps_target:,.0f}/s ({'meets' if outcome.rps >= rps_target else 'misses'} "
        "on this machine)"
    )


HEADERS = ["endpoint", "client", "conns", "requests", "seconds", "errors", "req/s", "× bare",
           "p50 ms", "p99 ms"]  # fmt: skip
LABELS = {"bare": "bare aiohttp handler", "auth": "auth/?stage=counters", "ping": "ping/"}


def _rows(report: Report) -> list[list[str]]:
    return [
        [
            LABELS[o.scenario],
            o.client,
            str(o.concurrency),
            f"{o.requests:,}",
            f"{o.seconds:.1f}",
            str(o.errors),
            f"{o.rps:,.0f}",
            f"{ratio(o, report.bare):.0%}",
            f"{o.p50_ms:.1f}",
            f"{o.p99_ms:.1f}",
        ]
        for o in [report.bare, *report.outcomes]
    ]


def format_markdown(report: Report) -> str:
    f, s = report.facts, report.server
    table = ["| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
    table += ["| " + " | ".join(row) + " |" for row in _rows(report)]
    notes = sorted({o.note for o in [report.bare, *report.outcomes] if o.note})
    return "\n".join(
        [
            marker(NAME, report.date),
            f"## {report.date} · WiFiDog auth server (`python -m bench.wifidog`)",
            "",
            f"Machine: nproc {f['nproc']}, {f['cpu']}, {f['ram']} RAM, Linux {f['kernel']}; "
            f"Python {f['python']}, aiohttp {f['aiohttp']}; PostgreSQL {s['postgres']}, "
            f"wrk {f['wrk']}; everything on loopback.",
            "",
            "Measured, one after another: a bare aiohttp handler (`bench/bare.py`, one process) "
            "as the baseline; then the portal role as production runs it (`portico serve "
            f"portal`, one process) answering {report.clients} phones logged in through the "
            "protocol: `auth/?stage=counters` with a valid token (usage written to PostgreSQL "
            "before the answer, in group commits) and `ping/` (liveness recorded).",
            "",
            *table,
            "",
            *(f"- {LABELS[o.scenario]}: {_verdict(o, report.bare)}." for o in report.outcomes),
            *(f"- Note: {n}." for n in notes),
            *([f"- **Problem:** {p}" for p in report.problems] or ["- Errors: none."]),
            "",
            "Checks: " + "; ".join(report.checks) + ".",
            marker(NAME, report.date, end=True),
        ]
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.wifidog", description=__doc__)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--clients", type=int, default=256, help="phones logged in (default 256)")
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--duration", type=float, default=15.0)
    parser.add_argument("--requests", type=int, default=300_000, help="per endpoint, at most")
    parser.add_argument("--client", choices=("auto", "wrk", "aiohttp"), default="auto")
    parser.add_argument("--write", action="store_true", help="write docs/benchmarks.md")
    return parser


def main(argv: list[str] | None = None) -> int:
    opts = _parser().parse_args(argv)
    if min(opts.concurrency, opts.clients, opts.requests) < 1:
        print("--concurrency, --clients and --requests must be at least 1", file=sys.stderr)
        return 2
    try:
        report = asyncio.run(run(opts))
    except BenchError as exc:
        print(f"bench failed: {exc}", file=sys.stderr)
        return 1
    section = format_markdown(report)
    print(section)
    if opts.write:
        write_section(NAME, report.date, section)
        print(f"\nwrote {DOCS.relative_to(ROOT)}")
    return 1 if report.problems else 0


if __name__ == "__main__":
    sys.exit(main())
