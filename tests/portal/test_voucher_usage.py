"""A voucher's data limit is the voucher's, across its devices and sessions
(portal/session_usage.py, docs/logins.md "Vouchers: one data limit"): each session's use is
kept on it whatever ends it, a new session gets what is left, the session job ends all of a
voucher's sessions once they used it together, and a used-up voucher is refused. Against the
real database and broker, with a simulated openNDS router and the controller's telemetry
ingest."""

from __future__ import annotations

import asyncio
import html
import json
import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from controller.services import CommandSender, record_router_status, register_router
from kernel.config import Settings
from kernel.db import create_pool
from kernel.privacy import device_hash
from portal import session_end, stores, vouchers
from portal.session_usage import MAX_USED_KB, Reading, Usage, fold
from simulators.router import SimulatedRouter
from tests.factories import TEST_ACTOR, Tenant, make_tenant
from tests.portal.session_helpers import form_of, report_usage, telemetry_ingest
from tests.portal.test_voucher_login import enable_vouchers, new_code, post_voucher

LIMIT_KB = 10_000  # the voucher's data limit
A, B, C = "aa:bb:cc:31:00:01", "aa:bb:cc:31:00:02", "aa:bb:cc:31:00:03"
CAPTIVE = {"Accept": "application/captive+json"}


@pytest.fixture
async def tenant(db: asyncpg.Pool) -> Tenant:
    tenant = await make_tenant(db, with_ad=False)
    await enable_vouchers(db, tenant)  # the store's own quota (100,000 kB) is not the voucher's
    return tenant


@pytest.fixture
async def ingest(settings: Settings, db: asyncpg.Pool) -> AsyncIterator[None]:
    async with telemetry_ingest(settings, db):
        yield


async def shared_code(db: asyncpg.Pool, tenant: Tenant, devices: int = 2) -> str:
    return await new_code(db, tenant, minutes=120, max_devices=devices, quota_kb=LIMIT_KB)


async def online(portal_client: TestClient, router: SimulatedRouter, mac: str, code: str) -> str:
    status, location, page = await post_voucher(portal_client, router, mac, code)
    assert status == 303, page
    return location


async def use(
    db: asyncpg.Pool,
    settings: Settings,
    router: SimulatedRouter,
    tenant: Tenant,
    mac: str,
    down_kb: int,
) -> None:
    """The client downloads `down_kb` more, and the agent reports it."""
    router.nds.traffic(mac, down_kb=down_kb, up_kb=1)
    await report_usage(db, settings, router, tenant, mac)


async def sessions_of(db: asyncpg.Pool, tenant: Tenant) -> list[asyncpg.Record]:
    return await db.fetch(
        "SELECT client_mac, device_hash, status, end_reason, down_used_kb FROM portal_sessions"
        " WHERE merchant_id = $1 ORDER BY started_at",
        tenant.merchant_id,
    )


async def bytes_remaining(portal_client: TestClient, router: SimulatedRouter, link: str) -> int:
    query = urlsplit(link).query
    response = await portal_client.get(
        f"/captive-api/{router.router_id}/session?{query}", headers=CAPTIVE
    )
    return json.loads(await response.text())["bytes-remaining"]


async def test_two_devices_share_the_vouchers_data_limit(
    portal_client: TestClient,
    router: SimulatedRouter,
    tenant: Tenant,
    db: asyncpg.Pool,
    sender: CommandSender,
    settings: Settings,
    ingest: None,
) -> None:
    code = await shared_code(db, tenant)
    first = await online(portal_client, router, A, code)
    assert router.clients[A].grant["down_quota_kb"] == LIMIT_KB
    await use(db, settings, router, tenant, A, 3000)

    # The second phone gets what the first left, read from the agent's last report.
    second = await online(portal_client, router, B, code)
    assert router.clients[B].grant["down_quota_kb"] == LIMIT_KB - 3000
    # Both pages and both RFC 8908 answers say what is left of the voucher, not of a session.
    page = html.unescape(await (await portal_client.get(second)).text())
    assert "7 of 10 MB download" in page
    assert await bytes_remaining(portal_client, router, first) == 7000 * 1024
    assert await bytes_remaining(portal_client, router, second) == 7000 * 1024

    await use(db, settings, router, tenant, B, 2000)
    await session_end.end_due_sessions(db, sender)  # keeps both sessions' use

    assert await bytes_remaining(portal_client, router, first) == 5000 * 1024
    assert await bytes_remaining(portal_client, router, second) == 5000 * 1024
    assert "lang=en" in first
    zh = html.unescape(
        await (await portal_client.get(first.replace("lang=en", "lang=zh-CN"))).text()
    )
    en = html.unescape(await (await portal_client.get(first)).text())
    assert "5 of 10 MB download" in en, en
    assert "下载 5 MB（共 10 MB）" in zh
    rows = await sessions_of(db, tenant)
    assert [(r["status"], r["down_used_kb"]) for r in rows] == [("active", 3000), ("active", 2000)]


async def test_a_device_that_logs_in_again_gets_what_is_left_not_a_fresh_limit(
    portal_client: TestClient,
    router: SimulatedRouter,
    tenant: Tenant,
    db: asyncpg.Pool,
    settings: Settings,
    ingest: None,
) -> None:
    code = await shared_code(db, tenant, devices=1)
    link = await online(portal_client, router, A, code)
    await use(db, settings, router, tenant, A, 4000)
    # The shopper logs out: the session's last report is kept on it as it ends.
    logout = await portal_client.post(
        f"/fas/{router.router_id}/logout",
        data=form_of(link),
    )
    assert logout.status == 200
    [ended] = await sessions_of(db, tenant)
    assert (ended["status"], ended["end_reason"], ended["down_used_kb"]) == (
        "ended",
        "logout",
        4000,
    )

    await online(portal_client, router, A, code)  # back the next hour, the same phone

    assert router.clients[A].grant["down_quota_kb"] == LIMIT_KB - 4000


@pytest.mark.parametrize("how", ["expired", "revoked", "router lost"])
async def test_a_session_keeps_its_last_report_whatever_ends_it(
    portal_client: TestClient,
    router: SimulatedRouter,
    tenant: Tenant,
    db: asyncpg.Pool,
    sender: CommandSender,
    settings: Settings,
    ingest: None,
    how: str,
) -> None:
    """The agent's last report, not yet read by the session job, is kept as the session ends
    (at its expiry, by a revocation, with its router gone offline)."""
    code = await shared_code(db, tenant)
    await online(portal_client, router, A, code)
    await use(db, settings, router, tenant, A, 2500)
    if how == "revoked":
        batch_id = await db.fetchval(
            "SELECT batch_id FROM vouchers WHERE merchant_id = $1 AND code = $2",
            tenant.merchant_id,
            code,
        )
        assert await vouchers.revoke_code(db, tenant.merchant_id, batch_id, code, actor=TEST_ACTOR)
    else:
        await db.execute(
            "UPDATE portal_sessions SET expires_at = now() - interval '1 s' WHERE merchant_id = $1",
            tenant.merchant_id,
        )
    if how == "router lost":
        await record_router_status(db, tenant.router, online=False, status={"v": 1})

    await session_end.end_due_sessions(db, sender)

    [row] = await sessions_of(db, tenant)
    reason = "staff" if how == "revoked" else "expired"
    assert (row["status"], row["end_reason"], row["down_used_kb"]) == ("ended", reason, 2500)


async def test_the_limit_reached_while_both_are_online_ends_both(
    portal_client: TestClient,
    router: SimulatedRouter,
    tenant: Tenant,
    db: asyncpg.Pool,
    sender: CommandSender,
    settings: Settings,
    ingest: None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    code = await shared_code(db, tenant, devices=3)
    other = await new_code(db, tenant, quota_kb=LIMIT_KB)  # another voucher runs on
    await online(portal_client, router, A, code)
    await online(portal_client, router, B, code)
    await online(portal_client, router, C, other)
    assert router.clients[B].grant["down_quota_kb"] == LIMIT_KB  # A had used nothing yet
    # Each stays under its own grant's quota; together they pass the voucher's.
    await use(db, settings, router, tenant, A, 6000)
    await use(db, settings, router, tenant, B, 4500)
    await use(db, settings, router, tenant, C, 9000)

    report = await session_end.end_due_sessions(db, sender)

    rows = await sessions_of(db, tenant)
    assert [(r["status"], r["end_reason"]) for r in rows] == [
        ("ended", "quota"),
        ("ended", "quota"),
        ("active", None),
    ]
    assert [r["down_used_kb"] for r in rows] == [6000, 4500, 9000]
    assert report.quota == 2 and report.deauthed == 2
    assert A not in router.clients and B not in router.clients  # the router let them go
    assert router.clients[C].authenticated
    # A second run has nothing more to end.
    again = await session_end.end_due_sessions(db, sender)
    assert again.quota == 0

    # Used up: a third phone, and the first one again, are refused, in the shopper's language.
    with caplog.at_level("INFO", logger="portico.portal.vouchers"):
        status, _, page = await post_voucher(portal_client, router, "aa:bb:cc:31:00:09", code)
    assert status == 403 and "This voucher's data has been used up" in html.unescape(page)
    assert 'name="code"' in page
    assert any("data used" in r.getMessage() for r in caplog.records)
    status, _, page = await post_voucher(portal_client, router, A, code, lang="zh-CN")
    assert status == 403 and "该上网券的流量已用完" in page
    assert not router.clients[A].authenticated
    assert len(await sessions_of(db, tenant)) == 3


async def test_a_voucher_used_up_by_ended_sessions_is_refused(
    portal_client: TestClient,
    router: SimulatedRouter,
    tenant: Tenant,
    db: asyncpg.Pool,
    sender: CommandSender,
    settings: Settings,
    ingest: None,
) -> None:
    code = await shared_code(db, tenant)
    await online(portal_client, router, A, code)
    await use(db, settings, router, tenant, A, LIMIT_KB)  # at its grant's quota
    await session_end.end_due_sessions(db, sender)
    [row] = await sessions_of(db, tenant)
    assert (row["end_reason"], row["down_used_kb"]) == ("quota", LIMIT_KB)

    status, _, page = await post_voucher(portal_client, router, B, code)

    assert status == 403 and "data has been used up" in html.unescape(page)
    assert not router.clients[B].authenticated
    devices = await db.fetchval(
        "SELECT count(*) FROM voucher_devices WHERE merchant_id = $1 AND code = $2",
        tenant.merchant_id,
        code,
    )
    assert devices == 1  # the refused phone took no device place


async def test_a_counter_that_goes_back_gives_no_data_back(
    portal_client: TestClient,
    router: SimulatedRouter,
    tenant: Tenant,
    db: asyncpg.Pool,
    sender: CommandSender,
    settings: Settings,
    ingest: None,
) -> None:
    """openNDS's counters start again (a restart, a reboot): what was used stays used."""
    code = await shared_code(db, tenant)
    await online(portal_client, router, A, code)
    await use(db, settings, router, tenant, A, 3000)
    await session_end.end_due_sessions(db, sender)
    router.nds.clients[A].incoming = 0  # the counters reset under the same grant
    router.nds.clients[A].outgoing = 0
    await use(db, settings, router, tenant, A, 1000)
    await session_end.end_due_sessions(db, sender)
    [row] = await sessions_of(db, tenant)
    assert row["down_used_kb"] == 4000  # not 1000 (the counter), not 3000 (its highest)

    # A new grant of the client (an openNDS restart's restore) starts a new counter too.
    await db.execute(
        "UPDATE router_commands SET acked_at = now() WHERE merchant_id = $1 AND op = 'auth'",
        tenant.merchant_id,
    )
    await use(db, settings, router, tenant, A, 500)  # the counter reads 1500 in the new grant
    await session_end.end_due_sessions(db, sender)

    [row] = await sessions_of(db, tenant)
    assert row["down_used_kb"] == 5500
    status, _, _ = await post_voucher(portal_client, router, B, code)
    assert status == 303
    assert router.clients[B].grant["down_quota_kb"] == LIMIT_KB - 5500


async def test_replayed_old_and_hostile_reports_do_not_corrupt_the_sums(
    portal_client: TestClient,
    router: SimulatedRouter,
    tenant: Tenant,
    db: asyncpg.Pool,
    sender: CommandSender,
    settings: Settings,
    ingest: None,
) -> None:
    code = await shared_code(db, tenant)
    await online(portal_client, router, A, code)
    await use(db, settings, router, tenant, A, 2000)
    await session_end.end_due_sessions(db, sender)
    device = device_hash(settings.secret_key, str(tenant.merchant_id), A)
    last = await db.fetchrow(
        "SELECT * FROM router_telemetry WHERE merchant_id = $1 AND device_hash = $2"
        " ORDER BY occurred_at DESC LIMIT 1",
        tenant.merchant_id,
        device,
    )

    async def report(seconds: int, down_kb: int, boot: str | None = None) -> None:
        """A report as a router could send it (the ingest keeps what passes its checks)."""
        data = {**last["data"], "down_kb": down_kb}
        await db.execute(
            "INSERT INTO router_telemetry (merchant_id, router_id, boot_id, seq, type,"
            " occurred_at, device_hash, data) VALUES ($1, $2, $3, $4, 'usage', $5, $6, $7)",
            tenant.merchant_id,
            router.router_id,
            boot or uuid.uuid4().hex[:12],
            1,
            last["occurred_at"] + timedelta(seconds=seconds),
            device,
            data,
        )

    # The same report again (another run, a replay): counted once.
    await session_end.end_due_sessions(db, sender)
    # An older report arriving late, with a larger counter than it could have had: not read.
    await report(-30, 9000)
    await session_end.end_due_sessions(db, sender)
    [row] = await sessions_of(db, tenant)
    assert row["down_used_kb"] == 2000

    # A hostile router's largest counters, going back and forth: the sums stop at their cap,
    # never overflow, never go back, and the job goes on.
    await report(5, 2**53)
    await session_end.end_due_sessions(db, sender)
    await report(10, 0)
    await report(15, 2**53)
    await session_end.end_due_sessions(db, sender)
    [row] = await sessions_of(db, tenant)
    assert row["down_used_kb"] == MAX_USED_KB
    assert row["status"] == "ended"  # the voucher's limit is used: the job ended it
    # The voucher is used up, and its sum is read without overflow.
    status, _, _ = await post_voucher(portal_client, router, B, code)
    assert status == 403


# -- the fold, alone -----------------------------------------------------------------------

T0 = datetime(2026, 12, 1, tzinfo=UTC)


def at(seconds: int) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_the_fold_counts_growth_resets_and_new_grants_and_never_gives_back() -> None:
    used = Usage()
    used = fold(used, Reading("g1", 100, 10, at(0)))
    used = fold(used, Reading("g1", 250, 20, at(60)))
    assert (used.down_kb, used.up_kb) == (250, 20)
    used = fold(used, Reading("g1", 250, 20, at(60)))  # read again: nothing more
    assert used.down_kb == 250
    used = fold(used, Reading("g1", 999, 99, at(30)))  # older than the last read: not read
    assert used.down_kb == 250
    used = fold(used, Reading("g1", 40, 25, at(120)))  # the counter reset: 40 more
    assert (used.down_kb, used.up_kb) == (290, 45)
    used = fold(used, Reading("g2", 300, 0, at(180)))  # a new grant's counter: all it holds
    assert (used.down_kb, used.up_kb) == (590, 45)
    used = fold(used, Reading("g2", -5, -5, at(240)))  # garbled: no negative use
    assert used.down_kb == 590 and used.epoch_down_kb == 0
    used = fold(used, Reading("g2", 2**70, 0, at(300)))
    used = fold(used, Reading("g3", 2**70, 0, at(360)))
    assert used.down_kb == MAX_USED_KB


async def test_redemption_holds_vouchers_without_a_data_limit_as_before(
    portal_client: TestClient, router: SimulatedRouter, tenant: Tenant, db: asyncpg.Pool
) -> None:
    code = await new_code(db, tenant, max_devices=2, quota_kb=0)
    await online(portal_client, router, A, code)
    await online(portal_client, router, B, code)
    assert router.clients[B].grant["down_quota_kb"] == 100_000  # the store's own


async def test_a_wifidog_sessions_counters_are_kept_and_count_against_the_voucher(
    portal_client: TestClient, db: asyncpg.Pool
) -> None:
    tenant = await make_tenant(db, with_ad=False)
    await enable_vouchers(db, tenant)
    async with db.acquire() as conn:
        new = await register_router(
            conn,
            tenant.merchant_id,
            tenant.store_id,
            f"wd-{uuid.uuid4().hex[:10]}",
            "WD",
            gateway="wifidog",
        )
    code = await shared_code(db, tenant)
    gw = new.router.router_id

    async def wifidog_login(mac: str, ip: str) -> str:
        page = await portal_client.get(
            f"/wifidog/login/?gw_address=192.168.1.1&gw_port=2060&gw_id={gw}&ip={ip}&mac={mac}"
            "&url=http%3A%2F%2Fexample.com%2F"
        )
        ticket = html.unescape(
            re.search(r'name="fas" value="([^"]+)"', await page.text()).group(1)  # type: ignore[union-attr]
        )
        response = await portal_client.post(
            "/wifidog/voucher",
            data={"fas": ticket, "code": code, "accept": "1", "lang": "en"},
            allow_redirects=False,
        )
        assert response.status == 302, await response.text()
        return parse_qs(urlsplit(response.headers["Location"]).query)["token"][0]

    async def counters(stage: str, token: str, mac: str, ip: str, incoming_kb: int) -> str:
        auth = await portal_client.get(
            f"/wifidog/auth/?stage={stage}&ip={ip}&mac={mac}&token={token}"
            f"&incoming={incoming_kb * 1024}&outgoing=0&gw_id={gw}"
        )
        return await auth.text()

    token = await wifidog_login("0a:11:22:33:44:61", "192.168.1.31")
    assert "Auth: 1" in await counters("login", token, "0a:11:22:33:44:61", "192.168.1.31", 0)
    await counters("counters", token, "0a:11:22:33:44:61", "192.168.1.31", 3000)
    # Counters that go back (garbled, or a gateway's restart) give nothing back.
    await counters("counters", token, "0a:11:22:33:44:61", "192.168.1.31", 1)
    [row] = await sessions_of(db, tenant)
    assert row["down_used_kb"] == 3000

    token = await wifidog_login("0a:11:22:33:44:62", "192.168.1.32")
    quota = await db.fetchval(
        "SELECT down_quota_kb FROM wifidog_tokens WHERE merchant_id = $1 AND token = $2",
        tenant.merchant_id,
        token,
    )
    assert quota == LIMIT_KB - 3000


async def test_an_extension_starts_a_new_counter_and_nothing_used_is_lost(
    portal_client: TestClient,
    router: SimulatedRouter,
    tenant: Tenant,
    db: asyncpg.Pool,
    sender: CommandSender,
    settings: Settings,
    ingest: None,
) -> None:
    """Extend deauths and grants the client again (openNDS's counters start from zero): the use
    before it is kept first, and the new grant's counter adds to it."""
    await stores.upsert_store_portal(
        db,
        tenant.merchant_id,
        tenant.store_id,
        brand_name=tenant.brand_name,
        login_methods=("click", "voucher"),
        session_minutes=45,
        extend_minutes=30,
        max_extensions=1,
    )
    code = await shared_code(db, tenant)
    link = await online(portal_client, router, A, code)
    await use(db, settings, router, tenant, A, 3000)  # not read by the session job yet

    response = await portal_client.post(
        f"/fas/{router.router_id}/extend", data=form_of(link), allow_redirects=False
    )
    assert response.status == 303
    assert router.clients[A].grant["down_quota_kb"] == LIMIT_KB - 3000  # the restore's
    [row] = await sessions_of(db, tenant)
    assert row["down_used_kb"] == 3000

    await use(db, settings, router, tenant, A, 1000)  # the new grant's counter: 1000
    await session_end.end_due_sessions(db, sender)

    [row] = await sessions_of(db, tenant)
    assert row["down_used_kb"] == 4000
    assert await bytes_remaining(portal_client, router, link) == (LIMIT_KB - 4000) * 1024


async def test_garbled_usage_reports_are_refused_by_the_ingest_and_change_no_sum(
    portal_client: TestClient,
    router: SimulatedRouter,
    tenant: Tenant,
    db: asyncpg.Pool,
    sender: CommandSender,
    settings: Settings,
    ingest: None,
) -> None:
    """A router's batch of usage reports with text, negative, fractional and oversized
    counters and no MAC: each is refused on its own, the good one beside them is kept, and the
    session's use is what the good ones say."""
    code = await shared_code(db, tenant)
    await online(portal_client, router, A, code)
    await use(db, settings, router, tenant, A, 2000)
    await session_end.end_due_sessions(db, sender)
    client = router.clients[A]
    good = {"mac": A, "state": "Authenticated", "up_kb": 1, "session_start": client.session_start}
    garbled: list[dict[str, object]] = [
        {**good, "down_kb": "999999"},
        {**good, "down_kb": -5000},
        {**good, "down_kb": 2.5e6},
        {**good, "down_kb": 2**60},
        {**good, "down_kb": None},
        {k: v for k, v in {**good, "down_kb": 888_888}.items() if k != "mac"},
        {**good, "down_kb": 777_777, "mac": "AA:BB:CC:31:00:01"},
    ]
    events = [router.agent.tele("usage", **fields) for fields in garbled]
    events.append(router.agent.tele("usage", **good, down_kb=2600))  # the good one, last
    device = device_hash(settings.secret_key, str(tenant.merchant_id), A)
    before = await db.fetchval(
        "SELECT count(*) FROM router_telemetry WHERE merchant_id = $1 AND device_hash = $2",
        tenant.merchant_id,
        device,
    )
    await router.publish_events(events)
    for _ in range(200):
        stored = await db.fetchval(
            "SELECT count(*) FROM router_telemetry WHERE merchant_id = $1 AND device_hash = $2",
            tenant.merchant_id,
            device,
        )
        if stored > before:
            break
        await asyncio.sleep(0.05)
    assert stored == before + 1  # only the good one

    await session_end.end_due_sessions(db, sender)

    [row] = await sessions_of(db, tenant)
    assert (row["status"], row["down_used_kb"]) == ("active", 2600)


async def test_a_voucher_login_holds_one_database_connection_at_a_time(
    portal_client: TestClient,
    router: SimulatedRouter,
    tenant: Tenant,
    db: asyncpg.Pool,
    settings: Settings,
    database_url: str,
    ingest: None,
) -> None:
    """Folding a running session's agent reports uses the pool, so it happens before the
    voucher's transaction, not inside it: with a pool of one connection the login still ends
    (it used to wait for a second connection while holding the only one)."""
    code = await shared_code(db, tenant)
    await online(portal_client, router, A, code)
    await use(db, settings, router, tenant, A, 3000)
    device = device_hash(settings.secret_key, str(tenant.merchant_id), B)
    one = await create_pool(database_url, size=1)
    try:
        async with asyncio.timeout(15):
            redemption = await vouchers.redeem(
                one, tenant.merchant_id, tenant.store_id, code, device
            )
    finally:
        await one.close()
    assert redemption.quota_kb == LIMIT_KB - 3000 and not redemption.again
