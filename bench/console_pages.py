"""Every console page's time on a merchant's history (issue 10: p95 < 300 ms).

    .venv/bin/python -m bench.console_pages --database-url URL [--requests 40]
                                            [--page-seconds 20] [--write]

On a database seeded by `python -m bench.footfall seed … --keep` and then
`python -m bench.console_history --database-url URL` (bench/README.md), `portico serve console`
runs in its own process (production settings) beside the bare aiohttp handler (bench/bare.py).
Every GET route of the console's route table (portico/route_table.py: a route any package adds
is walked too) but those EXEMPT names is filled with the history's records (the busiest store,
its router, logo and opening-night vouchers, a member of its staff, the first advertiser's
campaign and file: console_history.find_history) and asked once as each role: owner, staff
(given the busiest store), advertiser (its admin), operator; a public route anonymously. Each
role that gets a 200 has the page timed: a warm-up, then up to `--requests` GETs one at a time
(one user clicking) or `--page-seconds`, whichever comes first, each from sending the request to
reading the whole answer on loopback (the bare handler, timed the same way, shows the client's
share: well under a millisecond). Reported: p50 and p95 per page and role, the p95 against the
bare handler's.

Exit status 1, naming them, when a route could not be filled (a path parameter the history has
no record for), answers a 5xx, is answered 200 to no role, answers anything but a 200 while
timed, or misses p95 < 300 ms. `--write` puts the table in docs/benchmarks.md (the lead's).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import tempfile
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import asyncpg

from bench.console_history import PASSWORD, History, find_history
from bench.footfall import SECRET
from bench.harness import (
    BenchError,
    Bounds,
    Outcome,
    console_session,
    describe,
    machine_facts,
    marker,
    running_bare,
    running_console,
    sign_in,
    timed_gets,
    write_section,
)
from kernel.config import load_settings
from kernel.db import create_pool
from portico.console_app import make_console_app
from portico.route_table import Route, UnfilledParameter, paths, route_table

TARGET_MS = 300.0
ROLES = ("owner", "staff", "advertiser", "operator")
ANONYMOUS = "anonymous"
SECTION = "console-pages"

# GET routes not timed, and why. Every other GET route is, as each role that gets it.
EXEMPT = {
    "/": "a redirect to the sign-in page or the dashboard",
    "/healthz": "a probe's answer",
    "/email-outbox": "development only (404 in production)",
    "/static/vendor/{name}": "a script file from npm",
    "/static/footfall/{name}": "a script file (the dashboards')",
    "/static/portal/look-preview.js": "a script file (the Portal page's preview)",
    "/api/advertiser/v1/openapi.json": "a fixed document, no merchant's data",
    "/api/pos/v1/openapi.json": "a fixed document, no merchant's data",
    "/signup/verify": "needs the token of an emailed link",
    "/invite": "needs the token of an emailed link",
    "/password/reset": "needs the token of an emailed link",
}


@dataclass(frozen=True)
class Page:
    route: Route
    path: str
    role: str

    def __str__(self) -> str:
        return f"{self.path} as {self.role}"


@dataclass
class Walk:
    pages: list[Page] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


async def status_of(session: aiohttp.ClientSession, url: str) -> int | str:
    """The answer's status, or what went wrong."""
    try:
        async with session.get(url, allow_redirects=False) as response:
            await response.read()
            return response.status
    except (aiohttp.ClientError, TimeoutError) as exc:
        return describe(exc)


async def walk(
    routes: list[Route],
    ids: Mapping[str, str],
    clients: Mapping[str, aiohttp.ClientSession],
    base_url: str,
) -> Walk:
    """Each GET route but EXEMPT ones filled from `ids` and asked once as each role in
    `clients` (a public route: as ANONYMOUS): the pages to time, and what went wrong (a route
    not filled, a 5xx or error, a path no role gets a 200 for, an EXEMPT route that is none)."""
    found = Walk()
    templates = {r.template for r in routes}
    found.problems += [f"EXEMPT names no route: {t}" for t in sorted(set(EXEMPT) - templates)]
    for route in routes:
        if route.method != "GET" or route.template in EXEMPT:
            continue
        try:
            filled = paths(route, ids)
        except UnfilledParameter as exc:
            found.problems.append(f"could not be filled: {exc}")
            continue
        roles = (ANONYMOUS,) if route.public else ROLES
        for path in filled:
            answers = {role: await status_of(clients[role], base_url + path) for role in roles}
            for role, status in answers.items():
                if status == 200:
                    found.pages.append(Page(route, path, role))
                elif not isinstance(status, int) or status >= 500:
                    found.problems.append(f"{path} as {role}: {status}")
            if 200 not in answers.values():
                seen = ", ".join(f"{role} {status}" for role, status in answers.items())
                found.problems.append(f"{path}: no role gets a 200 ({seen})")
    return found


@dataclass
class Timed:
    page: Page
    outcome: Outcome

    @property
    def meets(self) -> bool:
        return self.outcome.errors == 0 and self.outcome.p95_ms < TARGET_MS


async def time_pages(
    pages: list[Page],
    clients: Mapping[str, aiohttp.ClientSession],
    base_url: str,
    bounds: Bounds,
) -> list[Timed]:
    timed = []
    for page in pages:
        outcome = await timed_gets(
            clients[page.role], base_url + page.path, scenario=str(page), bounds=bounds
        )
        timed.append(Timed(page, outcome))
        print(f"pages: {row(timed[-1])}", flush=True)
    return timed


def row(t: Timed) -> str:
    o = t.outcome
    errors = f" {o.errors} errors: {o.error_samples[:1]}" if o.errors else ""
    return (
        f"{t.page.path} as {t.page.role}: p50 {o.p50_ms:.1f} ms, p95 {o.p95_ms:.1f} ms, "
        f"{o.requests} requests, {o.body_bytes:,} bytes{errors}"
    )


def misses(walked: Walk, timed: list[Timed]) -> list[str]:
    """What makes the run fail: the walk's problems, then each page that missed."""
    return walked.problems + [missed(t) for t in timed if not t.meets]


def missed(t: Timed) -> str:
    o = t.outcome
    if o.errors:
        return f"{t.page}: {o.errors} of {o.requests} answers not a 200: {o.error_samples[:1]}"
    return f"{t.page}: p95 {o.p95_ms:,.0f} ms (p50 {o.p50_ms:,.0f} ms, {o.requests} requests)"


@contextlib.asynccontextmanager
async def signed_in(
    base_url: str, history: History
) -> AsyncIterator[dict[str, aiohttp.ClientSession]]:
    """A client session for each role, signed in through the sign-in form (ANONYMOUS: none)."""
    async with contextlib.AsyncExitStack() as stack:
        clients = {}
        for role in (ANONYMOUS, *ROLES):
            clients[role] = await stack.enter_async_context(console_session(base_url))
            if role != ANONYMOUS:
                await sign_in(clients[role], base_url, history.emails[role], PASSWORD)
        yield clients


async def console_routes(db: asyncpg.Pool) -> list[Route]:
    """The console's route table, read from the application the console process serves."""
    return route_table(make_console_app(load_settings({}), db))


@dataclass
class Result:
    history: History
    bare: Outcome
    timed: list[Timed]
    problems: list[str]
    postgres: str


async def run(args: argparse.Namespace, workdir: Path) -> Result:
    db = await create_pool(args.database_url, size=2)
    try:
        history = await find_history(db)
        routes = await console_routes(db)
        postgres = str(await db.fetchval("SHOW server_version")).split(" ")[0]
    finally:
        await db.close()
    bounds = Bounds(30.0, 2, args.page_seconds, args.requests)
    bare_bounds = Bounds(5.0, 20, args.page_seconds, max(200, args.requests))
    async with (
        running_bare(workdir) as (_bare, bare_url),
        running_console(args.database_url, workdir, PORTICO_SECRET_KEY=SECRET) as (_, base_url),
        signed_in(base_url, history) as clients,
    ):
        bare = await timed_gets(
            clients[ANONYMOUS], bare_url + "/", scenario="bare", bounds=bare_bounds, expect=b"ok"
        )
        walked = await walk(routes, history.ids, clients, base_url)
        print(f"pages: {len(walked.pages)} pages to time", flush=True)
        timed = await time_pages(walked.pages, clients, base_url, bounds)
    return Result(history, bare, timed, misses(walked, timed), postgres)


def report(result: Result, args: argparse.Namespace) -> str:
    date = f"{datetime.now(UTC):%Y-%m-%d}"
    facts = machine_facts()
    bare = result.bare
    lines = [
        marker(SECTION, date),
        f"## {date} · Console pages (`python -m bench.console_pages`)",
        "",
        f"Machine: {facts['cpu']}, {facts['nproc']} cores, {facts['ram']} RAM, Linux "
        f"{facts['kernel']}; Python {facts['python']}; PostgreSQL {result.postgres}. Baseline in "
        f"the same run, timed the same way: the bare aiohttp handler answered in "
        f"{bare.p50_ms:.2f} ms median, {bare.p95_ms:.2f} ms p95.",
        "",
        f"On the seeded history ({result.history.stores} stores, "
        f"{result.history.logins:,} logins: `bench.footfall seed`, then "
        "`bench.console_history`), `portico serve console` in its own process (production "
        "settings); each page as each role that gets it, a warm-up, then up to "
        f"{args.requests} GETs one at a time or {args.page_seconds:g} s. `p95 × bare`: the "
        "p95 against the bare handler's.",
        "",
        "| page | role | p50 ms | p95 ms | p95 × bare | bytes | < 300 ms |",
        "|---|---|---|---|---|---|---|",
    ]
    for t in result.timed:
        o = t.outcome
        lines.append(
            f"| `{t.page.path}` | {t.page.role} | {o.p50_ms:.1f} | {o.p95_ms:.1f} | "
            f"{o.p95_ms / bare.p95_ms:,.1f} | {o.body_bytes:,} | {'yes' if t.meets else '**no**'} |"
        )
    lines += ["", f"- not timed (EXEMPT): {', '.join(f'`{k}` ({v})' for k, v in EXEMPT.items())}."]
    lines.append(
        "- target: every console page p95 < 300 ms: "
        + ("all meet." if not result.problems else f"{len(result.problems)} problems:")
    )
    lines += [f"  - {p}" for p in result.problems]
    lines.append(marker(SECTION, date, end=True))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--database-url", required=True, help="the seeded database")
    parser.add_argument("--requests", type=int, default=40, help="timed GETs a page at most")
    parser.add_argument(
        "--page-seconds", type=float, default=20.0, help="seconds of timed GETs a page at most"
    )
    parser.add_argument("--write", action="store_true", help="write docs/benchmarks.md")
    args = parser.parse_args()
    try:
        with tempfile.TemporaryDirectory(prefix="portico-bench-console-") as tmp:
            result = asyncio.run(run(args, Path(tmp)))
    except BenchError as exc:
        sys.exit(f"console_pages: {exc}")
    section = report(result, args)
    print(section)
    if args.write:
        write_section(SECTION, f"{datetime.now(UTC):%Y-%m-%d}", section)
    if result.problems:
        print("\n".join(["console_pages: FAILED:", *result.problems]), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
