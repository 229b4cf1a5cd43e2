"""What the login benchmarks (login_flow, sms_login, voucher_login) share: the seeded routers,
the simulated routers' process and their clients, the portal process, its CPU time, and the
command line's servers and outcome.

    python -m bench.login_load <fleet.json>

runs the simulated routers of a fleet (the routers process every login bench starts): print
READY with their gateway ports, serve until stdin closes, print STATS.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import hmac
import json
import os
import sys
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import asyncpg
import uvloop

import accounts.services as accounts
import portal.stores as portal
from bench.harness import (
    CHILD_START_TIMEOUT,
    DOCS,
    ROOT,
    BenchError,
    Bounds,
    Child,
    Outcome,
    bench_broker,
    bench_database,
    marker,
    ratio,
    read_tagged_line,
    role_env,
    running_role,
    server_versions,
    spawn,
    stop,
    write_section,
    wrk_post_script,
)
from controller.services import record_router_status, register_router
from kernel.db import create_pool, migrate
from simulators.router import SimClient, SimulatedRouter

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
GATEWAY_NAME = "Bench Mall"
ORIGIN_URL = "http://example.com/"


# -- the fleet: seeded routers and their clients --------------------------------------------------


@dataclass(frozen=True)
class RouterSpec:
    index: int
    router_id: str
    faskey: str
    gateway_mac: str
    mqtt_password: str
    fas_level: int


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


async def seed_routers(
    conn: asyncpg.Connection,
    merchant_id: object,
    count: int,
    *,
    brand: str,
    methods: tuple[str, ...],
    name: str,
    fas_level: int = 1,
    **texts: str,
) -> list[RouterSpec]:
    """`count` routers, two a store, each store's portal offering `methods`: through the services.
    `texts` are more of the store portal's settings (welcome_en, welcome_zh)."""
    specs = []
    store_id = None
    for index in range(count):
        if index % 2 == 0:
            store_id = await accounts.create_store(conn, merchant_id, f"Store {index // 2 + 1}")
            await portal.upsert_store_portal(
                conn,
                merchant_id,
                store_id,
                brand_name=f"{brand} · Store {index // 2 + 1}",
                login_methods=methods,
                session_minutes=120,
                up_kbps=5_000,
                down_kbps=20_000,
                **texts,
            )
        assert store_id is not None
        gateway_mac = f"02:00:5e:00:{index >> 8 & 0xFF:02x}:{index & 0xFF:02x}"
        new = await register_router(
            conn,
            merchant_id,
            store_id,
            f"{name}-{index}",
            f"AP {index + 1}",
            gateway_mac=gateway_mac,
            fas_level=fas_level,
        )
        # No controller role runs in the bench: say the router is online, as its status would.
        await record_router_status(conn, new.router, online=True, status={"v": 1, "online": True})
        specs.append(
            RouterSpec(
                index,
                new.router.router_id,
                new.router.faskey,
                gateway_mac,
                new.mqtt_password,
                fas_level,
            )
        )
    return specs


def sim_router(fleet: FleetSpec, spec: RouterSpec, gateway_port: int = 0) -> SimulatedRouter:
    """A router of the fleet; in the load process, a twin never started, only to build the
    redirects its clients carry (`gateway_port`: the routers process's, from its READY line)."""
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
        fas_level=spec.fas_level,
    )


def carried_fas(twin: SimulatedRouter, client: SimClient) -> str:
    """What the splash's form carries: `fas` (and `&iv=` at levels 2 and 3) as sent."""
    return urlsplit(twin.redirect_url(client, ORIGIN_URL)).query.removeprefix("fas=")


class FreshClients:
    """Each login a fresh client: the next unused number on the next router, round the fleet
    (numbers below `first` are left to other scenarios, e.g. the splash's pool)."""

    def __init__(self, fleet: FleetSpec, ports: dict[str, int], first: int = 0) -> None:
        self.fleet = fleet
        self.twins = [sim_router(fleet, spec, ports[spec.router_id]) for spec in fleet.routers]
        self._numbers = [first] * len(fleet.routers)
        self._turn = 0

    def next(self) -> tuple[RouterSpec, str]:
        """The next client's router and the `fas` its splash form carries."""
        r = self._turn % len(self.twins)
        self._turn += 1
        spec = self.fleet.routers[r]
        if self._numbers[r] >= self.fleet.clients_per_router:
            raise BenchError("ran out of prepared clients")
        client = bench_client(self.fleet.seed, spec.index, self._numbers[r])
        self._numbers[r] += 1
        return spec, carried_fas(self.twins[r], client)


def wrk_login_scripts(
    workdir: Path,
    name: str,
    post: Callable[[], tuple[str, dict[str, str]]],
    concurrency: int,
    bounds: Bounds,
) -> tuple[Path, Path]:
    """wrk's warm-up and measured scripts, each POST a form from `post` prepared here (a login is
    one click: the load generator should not take the CPU the portal, routers and DB share)."""

    def script(path: Path, limit: int) -> Path:
        forms = [post() for _ in range(limit + concurrency)]  # wrk stops with some in flight
        posts = [(target, urlencode(form)) for target, form in forms]
        path.write_text(wrk_post_script(posts, limit, "/online?s="))
        return path

    return (
        script(workdir / f"{name}-warm.lua", bounds.warmup_max),
        script(workdir / f"{name}.lua", bounds.max_requests),
    )


# -- the routers process --------------------------------------------------------------------------


async def run_routers(spec_path: Path) -> None:
    """Simulated routers with their clients; print READY, serve until stdin closes, print STATS."""
    fleet = _load_fleet(spec_path)
    sims = []
    try:
        for spec in fleet.routers:
            sim = sim_router(fleet, spec)
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


@dataclass
class Routers:
    """The routers process: its gateway ports, and once it stopped, what it counted."""

    child: Child
    ports: dict[str, int]
    stats: dict[str, int] = field(default_factory=dict)


@contextlib.asynccontextmanager
async def simulated_routers(fleet: FleetSpec, workdir: Path) -> AsyncIterator[Routers]:
    """The fleet's routers in a process of their own; `stats` filled when the block ends."""
    spec_path = workdir / "fleet.json"
    spec_path.write_text(json.dumps(asdict(fleet)))
    spec_path.chmod(0o600)
    child = await spawn(
        "routers",
        [sys.executable, "-m", "bench.login_load", str(spec_path)],
        dict(os.environ, PYTHONUNBUFFERED="1"),
        workdir / "routers.log",
    )
    routers = Routers(child, {})
    try:
        routers.ports = json.loads(await read_tagged_line(child, "READY", CHILD_START_TIMEOUT))
        yield routers
    finally:
        if child.proc.returncode is None and child.proc.stdin is not None:
            child.proc.stdin.close()
            with contextlib.suppress(BenchError):
                routers.stats = json.loads(await read_tagged_line(child, "STATS", 15))
        await stop(child)


# -- the portal process ---------------------------------------------------------------------------


def portal_env(database_url: str, mqtt_url: str, port: int, **extra: str) -> dict[str, str]:
    """The portal role's environment as production sets it (harness.role_env; `extra`: more
    settings, e.g. PORTICO_SMS_PROVIDER)."""
    env = role_env(database_url, mqtt_url, PORTICO_PORTAL_PORT=str(port), **extra)
    env.pop("PORTICO_PUBLIC_PORTAL_URL", None)
    return env


@contextlib.asynccontextmanager
async def running_portal(
    fleet: FleetSpec, database_url: str, workdir: Path, *, workers: int = 1, **extra_env: str
) -> AsyncIterator[Child]:
    """The portal role as production runs it (`portico serve portal`), at the fleet's URL."""
    port = int(urlsplit(fleet.portal_url).port or 0)
    env = portal_env(database_url, fleet.mqtt_url, port, **extra_env)
    async with running_role("portal", env, fleet.portal_url, workdir, workers=workers) as child:
        yield child


def logged_errors(log: str) -> list[str]:
    """The ERROR and Traceback lines of a process's log."""
    return [line for line in log.splitlines() if " ERROR " in line or "Traceback" in line]


# -- the servers a run uses -----------------------------------------------------------------------


@dataclass
class Servers:
    database_url: str  # the run's throwaway database
    mqtt_url: str
    db: asyncpg.Pool
    versions: dict[str, str]  # server_versions and broker_choice, for the report


@contextlib.asynccontextmanager
async def bench_servers(server_url: str, workdir: Path, pool_size: int) -> AsyncIterator[Servers]:
    """The broker (MQTT_URL's, or a private one) and a migrated throwaway database."""
    async with (
        bench_broker(workdir) as (mqtt_url, broker_choice),
        bench_database(server_url) as database_url,
    ):
        await migrate(database_url)
        db = await create_pool(database_url, size=pool_size)
        try:
            versions = await server_versions(db, mqtt_url)
            versions["broker_choice"] = broker_choice
            yield Servers(database_url, mqtt_url, db, versions)
        finally:
            await db.close()


# -- report and command line ----------------------------------------------------------------------


def outcome_row(name: str, o: Outcome, bare: Outcome, *, client: bool, share: str) -> list[str]:
    """A table row: the outcome's figures, its share of the bare handler formatted as `share`."""
    return [
        name,
        *([o.client] if client else []),
        str(o.concurrency),
        f"{o.requests:,}",
        f"{o.seconds:.1f}",
        str(o.errors),
        f"{o.rps:,.0f}",
        f"{ratio(o, bare):{share}}",
        f"{o.p50_ms:.1f}",
        f"{o.p99_ms:.1f}",
    ]


def text_table(headers: list[str], rows: list[list[str]]) -> list[str]:
    """Columns padded to their widest cell, a rule under the headers."""
    rows = [headers, *rows]
    widths = [max(len(row[i]) for row in rows) for i in range(len(headers))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return lines


def markdown_table(headers: list[str], rows: list[list[str]]) -> list[str]:
    table = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    return table + ["| " + " | ".join(row) + " |" for row in rows]


SUMMARY_HEADERS = ["scenario", "client", "conns", "requests", "seconds", "errors", "req/s"]
SUMMARY_HEADERS += ["× bare", "p50 ms", "p99 ms"]


@dataclass(frozen=True)
class Summary:
    """What a bench that measures one scenario beside the bare handler reports: the two
    outcomes, its verdict, its checks and problems."""

    name: str  # the scenario, e.g. "voucher login"
    bare: Outcome
    measured: Outcome
    verdict: str
    checks: list[str]
    problems: list[str]
    more: tuple[tuple[str, Outcome], ...] = ()  # further rows: (scenario, outcome)

    def rows(self) -> list[list[str]]:
        named = (("bare aiohttp handler", self.bare), (self.name, self.measured), *self.more)
        return [outcome_row(name, o, self.bare, client=True, share=".1%") for name, o in named]

    def notes(self) -> list[str]:
        outcomes = (self.bare, self.measured, *(o for _name, o in self.more))
        return [o.note for o in outcomes if o.note]


def text_report(summary: Summary) -> str:
    """The table, the verdict, notes, checks and problems as the terminal shows them."""
    out = ["", *text_table(SUMMARY_HEADERS, summary.rows()), ""]
    out += [f"{summary.name}: {summary.verdict}", *[f"note: {n}" for n in summary.notes()]]
    out += ["", *summary.checks, *[f"PROBLEM: {p}" for p in summary.problems]]
    return "\n".join(out)


def markdown_report(
    summary: Summary,
    *,
    section: str,
    date: str,
    title: str,
    facts: dict[str, str],
    server: dict[str, str],
    method: str,
) -> str:
    """The section of docs/benchmarks.md: `title`, the machine, what was measured after the
    bare handler and how (`method`), the table, the verdict, notes, problems and checks,
    between its markers."""
    f, s = facts, server
    problems = [f"- **Problem:** {p}" for p in summary.problems] or ["- Errors: none."]
    notes = [f"- {note}." for note in summary.notes()]
    return "\n".join(
        [
            marker(section, date),
            f"## {date} · {title}",
            "",
            f"Machine: nproc {f['nproc']}, {f['cpu']}, {f['ram']} RAM, Linux {f['kernel']}; "
            f"Python {f['python']}, aiohttp {f['aiohttp']}; PostgreSQL {s['postgres']}, "
            f"{s['mqtt_broker']} ({s['broker_choice']}), wrk {f['wrk']}; everything on loopback.",
            "",
            "Measured, one after the other: the bare aiohttp handler (`bench/bare.py`) as the "
            "baseline; then " + method,
            "",
            *markdown_table(SUMMARY_HEADERS, summary.rows()),
            "",
            f"- {summary.name[:1].upper()}{summary.name[1:]}: {summary.verdict}.",
            *notes,
            *problems,
            "",
            "Checks: " + "; ".join(summary.checks) + ".",
            marker(section, date, end=True),
        ]
    )


def load_parser(prog: str, description: str, requests: int) -> argparse.ArgumentParser:
    """The options every closed-loop bench takes (`--requests`: `requests` at most by default);
    the bench adds its own."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--concurrency", type=int, default=64, help="connections (default 64)")
    parser.add_argument("--warmup", type=float, default=3.0, help="warm-up seconds (default 3)")
    parser.add_argument(
        "--duration", type=float, default=15.0, help="measured seconds at most (default 15)"
    )
    parser.add_argument(
        "--requests", type=int, default=requests, help=f"requests at most (default {requests:,})"
    )
    parser.add_argument(
        "--client",
        choices=("auto", "wrk", "aiohttp"),
        default="auto",
        help="load generator: wrk when installed (auto), or the aiohttp client",
    )
    parser.add_argument(
        "--write", action="store_true", help="replace today's section of docs/benchmarks.md"
    )
    return parser


def server_urls() -> tuple[str, str]:
    """DATABASE_URL's server and MQTT_URL ("": a private Mosquitto, see harness.bench_broker)."""
    return os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL, os.environ.get("MQTT_URL", "")


def refuse_remote(*urls: str) -> bool:
    """Say so and answer True when a server is not on loopback (nothing is measured then)."""
    for url in urls:
        if urlsplit(url or "mqtt://127.0.0.1").hostname not in ("127.0.0.1", "localhost", "::1"):
            print(f"refusing to benchmark against a non-loopback server: {url}", file=sys.stderr)
            return True
    return False


def bench_main(
    run: Coroutine[Any, Any, Any],
    table: Callable[[Any], str],
    markdown: Callable[[Any], str],
    section: str,
    *,
    write: bool,
    on_uvloop: bool = False,
) -> int:
    """Run a bench, print its report's table and with `write` replace today's `section` of
    docs/benchmarks.md; the exit status: 1 when it failed or its report has problems.
    `on_uvloop`: the load generator's loop is uvloop's, as the servers' (a lighter generator
    leaves more of a small machine's cores to what it measures)."""
    try:
        report = uvloop.run(run) if on_uvloop else asyncio.run(run)
    except BenchError as exc:
        print(f"bench failed: {exc}", file=sys.stderr)
        return 1
    print(table(report))
    if write:
        write_section(section, report.date, markdown(report))
        print(f"\nwrote {DOCS.relative_to(ROOT)}")
    return 1 if report.problems else 0


if __name__ == "__main__":
    asyncio.run(run_routers(Path(sys.argv[1])))
