"""The console page benchmark (bench/console_pages.py) on a small history: the footfall seed's
merchant made by hand (2 stores, a few hours of logins), bench/console_history.py's add-on
history on it, the console in process. The walk fills and answers every GET route of the route
table; a route it cannot fill, a path no role gets, an answer that is not a 200 while timed and a
p95 over the target are each named. About 10 s."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from aiohttp.test_utils import TestServer

import accounts.services as accounts
import analytics.services as analytics
from bench import console_history
from bench.console_pages import (
    EXEMPT,
    ROLES,
    TARGET_MS,
    Page,
    Timed,
    Walk,
    misses,
    signed_in,
    time_pages,
    walk,
)
from bench.harness import Bounds, Outcome
from kernel.config import Settings
from portico.console_app import make_console_app
from portico.route_table import Route, route_table

LOGINS = 40


@pytest.fixture(scope="module")
async def history(database_url: str, db: asyncpg.Pool, mqtt_url: str) -> console_history.History:
    """The footfall seed's merchant in small (what bench.footfall seed leaves: stores and
    logins), then the add-on history, added twice: the second run adds nothing."""
    async with db.acquire() as conn, conn.transaction():
        merchant_id = await accounts.create_merchant(conn, console_history.MERCHANT_NAME)
        stores = [await accounts.create_store(conn, merchant_id, f"Store {n}") for n in range(2)]
    start = datetime.now(UTC) - timedelta(hours=6)
    for n in range(LOGINS):
        device = hashlib.sha256(f"shopper-{n % 25}".encode()).hexdigest()[:32]
        await analytics.record_event(
            db, merchant_id, "login", store_id=stores[n % 2], device_hash=device,
            occurred_at=start + timedelta(minutes=8 * n),
        )  # fmt: skip
    first = await console_history.add_history(database_url, mqtt_url)
    before = await rows(db)
    again = await console_history.add_history(database_url, mqtt_url)
    assert await rows(db) == before, "the second run added rows"
    assert again == first
    return first


async def rows(db: asyncpg.Pool) -> dict[str, int]:
    """Rows of every table (a check of the test's own)."""
    tables = await db.fetch(
        "SELECT table_name FROM information_schema.tables"
        " WHERE table_schema = 'public' AND table_type = 'BASE TABLE'"
    )
    return {
        t["table_name"]: await db.fetchval(f'SELECT count(*) FROM "{t["table_name"]}"')  # noqa: S608
        for t in tables
    }


@pytest.fixture(scope="module")
async def console(settings: Settings, db: asyncpg.Pool) -> AsyncIterator[tuple[str, list[Route]]]:
    app = make_console_app(settings, db)
    async with TestServer(app) as server:
        yield str(server.make_url("")).rstrip("/"), route_table(app)


async def test_the_walk_fills_and_answers_every_get_route(
    history: console_history.History, console: tuple[str, list[Route]]
) -> None:
    base_url, routes = console
    async with signed_in(base_url, history) as clients:
        walked = await walk(routes, history.ids, clients, base_url)
        timed = await time_pages(
            [p for p in walked.pages if p.path == "/dashboard"], clients, base_url, QUICK
        )
    assert walked.problems == []
    gets = {r.template for r in routes if r.method == "GET"} - set(EXEMPT)
    assert {p.route.template for p in walked.pages} == gets
    assert {p.role for p in walked.pages} >= {*ROLES, "anonymous"}
    assert [t.page.role for t in timed] == ["owner", "staff"]
    assert all(t.outcome.requests == 2 and t.outcome.errors == 0 for t in timed)


QUICK = Bounds(5.0, 1, 5.0, 2)


async def test_a_route_it_cannot_fill_or_nobody_gets_is_named(
    history: console_history.History, console: tuple[str, list[Route]]
) -> None:
    base_url, routes = console
    ids = {k: v for k, v in history.ids.items() if k != "router_id"}
    ids["batch_id"] = str(uuid.uuid4())
    async with signed_in(base_url, history) as clients:
        walked = await walk(routes, ids, clients, base_url)
        gone = Page(
            Route("GET", "/vouchers/{batch_id}", False), f"/vouchers/{ids['batch_id']}", "owner"
        )
        (timed,) = await time_pages([gone], clients, base_url, QUICK)
    unfilled = [p for p in walked.problems if p.startswith("could not be filled")]
    with_router = [r for r in routes if r.method == "GET" and "{router_id}" in r.template]
    assert len(unfilled) == len(with_router) > 0 and all("{router_id}" in p for p in unfilled)
    assert f"/vouchers/{ids['batch_id']}: no role gets a 200" in "\n".join(walked.problems)
    assert timed.outcome.errors == 2
    assert misses(walked, [timed])[-1].startswith(f"{gone}: 2 of 2 answers not a 200")


def test_a_page_over_the_target_is_named() -> None:
    page = Page(Route("GET", "/audit", False), "/audit", "owner")
    slow = Outcome("slow", "aiohttp", 1, requests=20, p50_ms=120.0, p95_ms=TARGET_MS + 1)
    fast = Outcome("fast", "aiohttp", 1, requests=20, p50_ms=120.0, p95_ms=TARGET_MS - 1)
    walked = Walk()
    assert misses(walked, [Timed(page, fast)]) == []
    (missed,) = misses(walked, [Timed(page, slow)])
    assert missed == f"/audit as owner: p95 {TARGET_MS + 1:.0f} ms (p50 120 ms, 20 requests)"
