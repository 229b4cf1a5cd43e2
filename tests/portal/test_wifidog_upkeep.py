"""WiFiDog upkeep: expired and spent tokens are purged (wifidog_store.purge_tokens), and
unregistered gw_ids are refused without a database query (wifidog_store.KnownGateways)."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from controller.services import register_router
from portal import stores as portal_stores
from portal import wifidog, wifidog_store
from tests.portal.test_wifidog import (
    MAC,
    Wd,
    auth,
    auth_query,
    code,
    issue,
    login_query,
    make_wd,
)

# -- purge -----------------------------------------------------------------------------------


async def _exists(db: asyncpg.Pool, token: str) -> bool:
    return await db.fetchval("SELECT count(*) FROM wifidog_tokens WHERE token = $1", token) == 1


async def _age_token(db: asyncpg.Pool, token: str, expired_ago: str) -> None:
    """Move a token's issue and expiry into the past (used_at stays before expires_at)."""
    await db.execute(
        "UPDATE wifidog_tokens SET expires_at = now() - $2::text::interval,"
        " issued_at = now() - $2::text::interval - interval '5 min',"
        " used_at = CASE WHEN used_at IS NULL THEN NULL"
        "               ELSE now() - $2::text::interval - interval '1 min' END"
        " WHERE token = $1",
        token,
        expired_ago,
    )


async def _logged_in(client: TestClient, wd: Wd, mac: str) -> str:
    token = await issue(client, wd, mac=mac)
    _, body = await auth(client, auth_query("login", wd.router.router_id, token, mac=mac))
    assert code(body) == 1
    return token


async def _session_of(db: asyncpg.Pool, token: str, *, status: str, expires_ago: str) -> None:
    await db.execute(
        "UPDATE portal_sessions s SET status = $2, expires_at = now() - $3::text::interval"
        " FROM wifidog_tokens t"
        " WHERE t.token = $1 AND s.merchant_id = t.merchant_id AND s.session_id = t.session_id",
        token,
        status,
        expires_ago,
    )


async def test_purge_removes_only_tokens_that_can_serve_nothing(
    portal_client: TestClient, db: asyncpg.Pool
) -> None:
    wd = await make_wd(db)
    fresh = await issue(portal_client, wd, mac="0a:00:00:00:01:01")
    late = await issue(portal_client, wd, mac="0a:00:00:00:01:02")
    await _age_token(db, late, "30 minutes")  # expired, still within the hour's grace
    stale = await issue(portal_client, wd, mac="0a:00:00:00:01:03")
    await _age_token(db, stale, "2 hours")
    # Used tokens: a long session still on; sessions ended or expired recently; and the spent.
    long_on = await _logged_in(portal_client, wd, "0a:00:00:00:02:01")
    await _age_token(db, long_on, "3 days")
    await _session_of(db, long_on, status="active", expires_ago="-2 days")
    ended_today = await _logged_in(portal_client, wd, "0a:00:00:00:02:02")
    await _age_token(db, ended_today, "2 hours")
    await _session_of(db, ended_today, status="ended", expires_ago="-1 hour")
    expired_today = await _logged_in(portal_client, wd, "0a:00:00:00:02:03")
    await _age_token(db, expired_today, "3 days")
    await _session_of(db, expired_today, status="active", expires_ago="2 hours")
    ended_long_ago = await _logged_in(portal_client, wd, "0a:00:00:00:02:04")
    await _age_token(db, ended_long_ago, "2 days")
    await _session_of(db, ended_long_ago, status="ended", expires_ago="-1 hour")
    expired_long_ago = await _logged_in(portal_client, wd, "0a:00:00:00:02:05")
    await _age_token(db, expired_long_ago, "3 days")
    await _session_of(db, expired_long_ago, status="active", expires_ago="2 days")

    purged = await wifidog_store.purge_tokens(db)

    assert purged.unused >= 1 and purged.used >= 2
    kept = [fresh, late, long_on, ended_today, expired_today]
    gone = [stale, ended_long_ago, expired_long_ago]
    assert [await _exists(db, t) for t in kept] == [True] * len(kept)
    assert [await _exists(db, t) for t in gone] == [False] * len(gone)
    # The sessions themselves (and the login events) stay; only the tokens go.
    sessions = await db.fetchval(
        "SELECT count(*) FROM portal_sessions WHERE merchant_id = $1", wd.tenant.merchant_id
    )
    assert sessions == 5
    # A purged token is unknown to the gateway's stage=login and counters: Auth: 0.
    gw = wd.router.router_id
    _, body = await auth(portal_client, auth_query("login", gw, stale, mac="0a:00:00:00:01:03"))
    assert code(body) == 0
    counters = auth_query("counters", gw, expired_long_ago, mac="0a:00:00:00:02:05")
    assert code((await auth(portal_client, counters))[1]) == 0
    # The still-live long session goes on.
    counters = auth_query("counters", gw, long_on, mac="0a:00:00:00:02:01")
    assert code((await auth(portal_client, counters))[1]) == 1


async def test_purge_is_bounded_by_batches(portal_client: TestClient, db: asyncpg.Pool) -> None:
    wd = await make_wd(db)
    tokens = [await issue(portal_client, wd, mac=f"0a:00:00:00:03:{i:02x}") for i in range(3)]
    for token in tokens:
        await _age_token(db, token, "2 hours")
    purged = await wifidog_store.purge_tokens(db, batch=1, max_batches=2)
    assert purged.unused == 2  # two statements of one row each, then it stops
    assert sum([await _exists(db, t) for t in tokens]) == 1
    await wifidog_store.purge_tokens(db)
    assert sum([await _exists(db, t) for t in tokens]) == 0


async def test_the_periodic_purge_runs_until_cancelled(
    portal_client: TestClient, db: asyncpg.Pool
) -> None:
    wd = await make_wd(db)
    token = await issue(portal_client, wd)
    await _age_token(db, token, "2 hours")
    task = asyncio.create_task(wifidog_store.purge_tokens_forever(db, interval=0.05))
    try:
        for _ in range(100):
            if not await _exists(db, token):
                break
            await asyncio.sleep(0.05)
        assert not await _exists(db, token)
        assert not task.done()
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


# -- unregistered gw_ids ---------------------------------------------------------------------


@pytest.fixture
def lookups(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The gw_ids that reached services.store_gateway (the per-router look-up)."""
    seen: list[str] = []
    real = portal_stores.store_gateway

    async def counting(db: asyncpg.Pool, router_id: str) -> object:
        seen.append(router_id)
        return await real(db, router_id)

    monkeypatch.setattr(portal_stores, "store_gateway", counting)
    return seen


def _random_id() -> str:
    return f"wd-{uuid.uuid4().hex[:12]}"


async def test_a_flood_of_random_gw_ids_does_not_reach_the_database(
    portal_client: TestClient,
    db: asyncpg.Pool,
    lookups: list[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    wd = await make_wd(db)
    known = wifidog.known_gateways(portal_client.server.app)
    known.refresh = 60.0
    wifidog.unknown_gateway_log._next = 0.0  # an earlier test may have used up this period
    pong = await portal_client.get(f"/wifidog/ping/?gw_id={wd.router.router_id}")
    assert pong.status == 200
    loads, registered = known.loads, len(known._ids)
    assert loads >= 1 and lookups == [wd.router.router_id]

    async def hostile(i: int) -> int:
        gw = _random_id()
        if i % 3 == 0:
            response = await portal_client.get(f"/wifidog/ping/?gw_id={gw}")
            assert "Pong" not in await response.text()
            return response.status
        if i % 3 == 1:
            status, body = await auth(portal_client, auth_query("login", gw, "a" * 32))
            assert code(body) == 0
            return status
        return (await portal_client.get(login_query(gw))).status

    statuses = await asyncio.gather(*(hostile(i) for i in range(300)))
    assert set(statuses) <= {403, 404}
    assert known.loads == loads  # no reload, no look-up, no memory per random id
    assert lookups == [wd.router.router_id]
    assert len(known._ids) == registered
    # Nor the log: one warning for the burst of 100 unknown auth requests, not 100.
    unknown = [r for r in caplog.records if "unknown gateway" in r.getMessage()]
    assert 1 <= len(unknown) <= 2, [r.getMessage() for r in unknown]


async def test_a_stale_set_is_reloaded_once_however_many_misses_arrive(
    portal_client: TestClient, lookups: list[str]
) -> None:
    known = wifidog.known_gateways(portal_client.server.app)
    known.refresh = 60.0
    known._loaded_at = float("-inf")  # stale
    before = known.loads
    await asyncio.gather(
        *(portal_client.get(f"/wifidog/ping/?gw_id={_random_id()}") for _ in range(50))
    )
    assert known.loads == before + 1 and lookups == []


async def test_a_router_registered_after_a_miss_is_served_within_the_refresh(
    portal_client: TestClient, db: asyncpg.Pool
) -> None:
    wd = await make_wd(db)
    assert wifidog_store.KNOWN_GATEWAYS_REFRESH <= 5  # "within a few seconds"
    known = wifidog.known_gateways(portal_client.server.app)
    # 2 s, not less: the registration and the second request must fall within it on a busy
    # machine (at 0.3 s a slow insert let the second request reload and find the router)
    known.refresh = 2.0
    gw = _random_id()
    before_miss = time.monotonic()  # the miss's reload starts after this
    missed = await portal_client.get(f"/wifidog/ping/?gw_id={gw}")
    assert missed.status == 404
    loads = known.loads
    async with db.acquire() as conn:
        registered = await register_router(
            conn, wd.tenant.merchant_id, wd.tenant.store_id, gw, "New AP", gateway="wifidog"
        )
    # Within the refresh the miss stands (no query) ...
    assert (await portal_client.get(f"/wifidog/ping/?gw_id={gw}")).status == 404
    assert known.loads == loads
    await asyncio.sleep(max(0.0, before_miss + known.refresh - time.monotonic()) + 0.05)
    # ... then the new router is served: ping, the splash and a login.
    pong = await portal_client.get(f"/wifidog/ping/?gw_id={gw}")
    assert pong.status == 200 and "Pong" in await pong.text()
    assert (await portal_client.get(login_query(gw))).status == 200
    token = await issue(portal_client, Wd(wd.tenant, registered.router), mac=MAC)
    assert code((await auth(portal_client, auth_query("login", gw, token)))[1]) == 1
