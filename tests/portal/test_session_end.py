"""Sessions end by their policy (portal/session_end.py): past their end, idle too long, over
their data quota; the router deauths the client, and every path that ends a session records
when and why (docs/logins.md, "Session policy")."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import timedelta

import aiohttp
import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from controller.services import AccessPolicy, CommandSender, record_router_status
from kernel.config import Settings
from portal import session_end, wifidog_store
from portal.grants import Admission
from simulators.opennds import Ndsctl
from simulators.router import SimulatedRouter
from tests.factories import Tenant
from tests.portal.session_helpers import (
    commands,
    form_of,
    log_in,
    policy_tenant,
    report_usage,
    session_row,
    telemetry_ingest,
)
from tests.portal.test_authmon import level_3_tenant
from tests.portal.test_authmon_deauthed import log_in as authmon_log_in
from tests.portal.test_wifidog import auth, auth_query, code, make_wd, online_token, session_of

MAC = "aa:bb:cc:20:00:01"


@pytest.fixture
async def tenant(db: asyncpg.Pool) -> Tenant:
    return await policy_tenant(db, idle_minutes=5, down_quota_kb=1000)


@pytest.fixture
async def ingest(settings: Settings, db: asyncpg.Pool) -> AsyncIterator[None]:
    async with telemetry_ingest(settings, db):
        yield


async def test_expiry_ends_the_session_and_the_router_deauths_the_client(
    portal_client: TestClient,
    router: SimulatedRouter,
    tenant: Tenant,
    db: asyncpg.Pool,
    sender: CommandSender,
) -> None:
    await log_in(portal_client, router, MAC)
    await db.execute(
        "UPDATE portal_sessions SET expires_at = now() - interval '3 s' WHERE merchant_id = $1",
        tenant.merchant_id,
    )

    report = await session_end.end_due_sessions(db, sender)

    row = await session_row(db, tenant)
    assert (row["status"], row["end_reason"], row["client_mac"]) == ("ended", "expired", None)
    assert row["ended_at"] == row["expires_at"]  # it ended at its end, not when we noticed
    assert report.expired >= 1 and report.by_router[router.router_id] == 1
    assert MAC not in router.clients  # openNDS deleted the deauthenticated client
    [deauth] = await commands(db, tenant, "deauth")
    assert (deauth["status"], deauth["sent_by"]) == ("done", "controller")
    assert "deauth" in router.nds.deauthed[-1] and MAC in router.nds.deauthed[-1]
    # A second run finds nothing more to do.
    await session_end.end_due_sessions(db, sender)
    assert len(await commands(db, tenant, "deauth")) == 1


async def test_an_offline_router_is_not_waited_for_its_own_timer_ends_the_client(
    portal_client: TestClient,
    router: SimulatedRouter,
    tenant: Tenant,
    db: asyncpg.Pool,
    sender: CommandSender,
) -> None:
    client, _link = await log_in(portal_client, router, MAC)
    await db.execute(
        "UPDATE portal_sessions SET expires_at = now() - interval '3 s' WHERE merchant_id = $1",
        tenant.merchant_id,
    )
    await record_router_status(db, tenant.router, online=False, status={"v": 1, "online": False})

    report = await session_end.end_due_sessions(db, sender)

    row = await session_row(db, tenant)
    assert (row["status"], row["end_reason"], row["client_mac"]) == ("ended", "expired", None)
    assert report.router_offline >= 1
    assert await commands(db, tenant, "deauth") == []
    # openNDS ends it by its own timer (fw_refresh_client_list: timeout_deauth).
    assert client.session_end <= int(time.time()) + 45 * 60
    assert router.nds.refresh_clients(now=client.session_end) == ["timeout_deauth"]


async def test_a_session_idle_longer_than_its_timeout_is_ended_by_the_router_first(
    portal_client: TestClient,
    router: SimulatedRouter,
    tenant: Tenant,
    db: asyncpg.Pool,
    sender: CommandSender,
    settings: Settings,
    ingest: None,
) -> None:
    idle, _ = await log_in(portal_client, router, MAC)
    busy, _ = await log_in(portal_client, router, "aa:bb:cc:20:00:02", "10.0.0.6")
    now = int(time.time())
    idle.last_updated = now - 5 * 60 - 1  # openNDS's last_active: its upload last grew then
    router.nds.traffic(busy.mac, up_kb=3, at=now - 4 * 60)
    await report_usage(db, settings, router, tenant, idle.mac)
    usage = await report_usage(db, settings, router, tenant, busy.mac)
    assert usage["data"]["last_active"] == now - 4 * 60

    report = await session_end.end_due_sessions(db, sender)

    assert report.idle >= 1
    rows = await db.fetch(
        "SELECT status, end_reason, client_mac, ended_at FROM portal_sessions"
        " WHERE merchant_id = $1 ORDER BY started_at",
        tenant.merchant_id,
    )
    assert [(r["status"], r["end_reason"]) for r in rows] == [("ended", "idle"), ("active", None)]
    assert rows[0]["client_mac"] is None and rows[0]["ended_at"] is not None
    assert idle.mac not in router.clients and router.clients[busy.mac].authenticated
    [deauth] = await commands(db, tenant, "deauth")
    assert deauth["status"] == "done"


async def test_a_session_over_its_data_quota_is_ended(
    portal_client: TestClient,
    router: SimulatedRouter,
    tenant: Tenant,
    db: asyncpg.Pool,
    sender: CommandSender,
    settings: Settings,
    ingest: None,
) -> None:
    heavy, _ = await log_in(portal_client, router, MAC)
    light, _ = await log_in(portal_client, router, "aa:bb:cc:20:00:03", "10.0.0.7")
    router.nds.traffic(heavy.mac, down_kb=1000, up_kb=1)
    router.nds.traffic(light.mac, down_kb=999, up_kb=1)
    await report_usage(db, settings, router, tenant, heavy.mac)
    await report_usage(db, settings, router, tenant, light.mac)

    report = await session_end.end_due_sessions(db, sender)

    assert report.quota >= 1
    rows = await db.fetch(
        "SELECT end_reason, status FROM portal_sessions WHERE merchant_id = $1 ORDER BY started_at",
        tenant.merchant_id,
    )
    assert [(r["status"], r["end_reason"]) for r in rows] == [("ended", "quota"), ("active", None)]
    assert heavy.mac not in router.clients and light.mac in router.clients


async def test_a_deauth_the_router_does_not_confirm_leaves_an_idle_session_running(
    portal_client: TestClient,
    router: SimulatedRouter,
    tenant: Tenant,
    db: asyncpg.Pool,
    sender: CommandSender,
    settings: Settings,
    ingest: None,
) -> None:
    idle, _ = await log_in(portal_client, router, MAC)
    idle.last_updated = int(time.time()) - 600
    await report_usage(db, settings, router, tenant, idle.mac)
    # openNDS keeps refusing the deauth (exit 1) and the client stays Authenticated.
    router.nds.ndsctl_deauth = lambda mac: Ndsctl(1, f"Client {mac} not found.")  # type: ignore[method-assign]

    report = await session_end.end_due_sessions(db, sender)

    assert report.deauth_failed >= 1
    assert (await session_row(db, tenant))["status"] == "active"  # as it still is on the router


# -- end_reason on every other path --------------------------------------------------------


async def test_logout_records_when_and_why(
    portal_client: TestClient, router: SimulatedRouter, tenant: Tenant, db: asyncpg.Pool
) -> None:
    _client, link = await log_in(portal_client, router, MAC)
    response = await portal_client.post(f"/fas/{router.router_id}/logout", data=form_of(link))
    assert response.status == 200
    row = await session_row(db, tenant)
    assert (row["status"], row["end_reason"]) == ("ended", "logout")
    assert row["started_at"] <= row["ended_at"] <= row["expires_at"]


async def test_wifidog_ends_record_why(portal_client: TestClient, db: asyncpg.Pool) -> None:
    wd = await make_wd(db, down_quota_kb=10)
    gw = wd.router.router_id
    reasons = {}
    # The shopper logs out from the portal page.
    token = await online_token(portal_client, wd)
    form = {"gw_id": gw, "token": token, "lang": "en"}
    assert (await portal_client.post("/wifidog/logout", data=form)).status == 200
    reasons["logout"] = await session_of(db, wd, token)
    # The gateway dropped the client itself and says so (stage=logout).
    token = await online_token(portal_client, wd)
    assert code((await auth(portal_client, auth_query("logout", gw, token)))[1]) == 0
    reasons["gateway"] = await session_of(db, wd, token)
    # Over the store's quota at a counters report.
    token = await online_token(portal_client, wd)
    over = auth_query("counters", gw, token, inc=10 * 1024 + 1)
    assert code((await auth(portal_client, over))[1]) == 0
    reasons["quota"] = await session_of(db, wd, token)
    # Past its end at a counters report.
    token = await online_token(portal_client, wd)
    await db.execute(
        "UPDATE portal_sessions SET expires_at = now() - interval '1 minute'"
        " WHERE merchant_id = $1 AND status = 'active'",
        wd.tenant.merchant_id,
    )
    wifidog_store._sessions.clear()
    assert code((await auth(portal_client, auth_query("counters", gw, token, inc=1)))[1]) == 0
    reasons["expired"] = await session_of(db, wd, token)

    for reason, row in reasons.items():
        assert (row["status"], row["end_reason"], row["client_mac"]) == ("ended", reason, None)
        assert row["ended_at"] is not None
    expired = reasons["expired"]
    assert expired["ended_at"] == expired["expires_at"]


async def test_wifidog_counters_enforce_the_sessions_own_quota(
    portal_client: TestClient, db: asyncpg.Pool
) -> None:
    """A voucher's admission brings a bigger quota than the store's: its token carries it."""
    wd = await make_wd(db, down_quota_kb=10)
    gw = wd.router.router_id
    client = wifidog_store.WifidogClient(
        "192.168.1.1", 2060, "0a:11:22:33:44:66", "192.168.1.24", ""
    )
    admission = Admission("voucher", AccessPolicy(90, down_quota_kb=50), "1", voucher_code=None)
    token = await wifidog_store.issue_token(db, wd.router, client, admission)
    login = auth_query("login", gw, token, mac=client.mac, ip=client.ip)
    assert code((await auth(portal_client, login))[1]) == 1
    row = await session_of(db, wd, token)
    assert row["expires_at"] - row["started_at"] == timedelta(minutes=90)

    def counters(kb: int) -> str:
        return auth_query("counters", gw, token, mac=client.mac, ip=client.ip, inc=kb * 1024)

    assert code((await auth(portal_client, counters(20)))[1]) == 1  # over the store's 10 kB
    assert code((await auth(portal_client, counters(51)))[1]) == 0  # over its own 50 kB
    assert (await session_of(db, wd, token))["end_reason"] == "quota"


async def test_an_idle_wifidog_session_is_ended_and_the_gateway_told_at_its_next_report(
    portal_client: TestClient, db: asyncpg.Pool, sender: CommandSender
) -> None:
    wd = await make_wd(db, idle_minutes=5)
    gw = wd.router.router_id
    quiet = await online_token(portal_client, wd)
    busy = await online_token(portal_client, wd)
    # Both were reported; the quiet one's counters have not grown for 6 minutes.
    for token in (quiet, busy):
        assert code((await auth(portal_client, auth_query("counters", gw, token, inc=99)))[1]) == 1
    await db.execute(
        "UPDATE wifidog_usage SET updated_at = now() - interval '6 minutes'"
        " WHERE merchant_id = $1 AND session_id = $2",
        wd.tenant.merchant_id,
        (await session_of(db, wd, quiet))["session_id"],
    )
    # Busy's next report has the same counters: not traffic, its clock does not move.
    assert code((await auth(portal_client, auth_query("counters", gw, busy, inc=99)))[1]) == 1

    report = await session_end.end_due_sessions(db, sender)

    assert report.idle >= 1
    assert (await session_of(db, wd, quiet))["end_reason"] == "idle"
    assert (await session_of(db, wd, quiet))["client_mac"] is None
    assert (await session_of(db, wd, busy))["status"] == "active"
    wifidog_store._sessions.clear()  # another process's cache would notice within seconds
    _, body = await auth(portal_client, auth_query("counters", gw, quiet, inc=100))
    assert code(body) == 0  # the gateway kicks the client (its MAC is gone from the token too)


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.mark.parametrize(
    ("end", "reason"),
    [
        ("timeout", "expired"),
        ("idle", "idle"),
        ("quota", "quota"),
        ("ndsctl", "gateway"),
    ],
)
async def test_openNDS_ends_reported_by_authmon_record_why(
    portal_client: TestClient,
    http: aiohttp.ClientSession,
    db: asyncpg.Pool,
    end: str,
    reason: str,
) -> None:
    tenant = await level_3_tenant(db)
    model, phone = await authmon_log_in(portal_client, tenant, "aa:bb:cc:20:04:01")
    assert len(await model.poll_once(http)) == 1  # granted and acked: a session
    now = int(time.time())
    nds = model.nds
    if end == "timeout":  # fw_refresh_client_list's reasons
        phone.session_end = now - 1
    elif end == "idle":
        nds.auth_idle_timeout, phone.last_updated = 1, now - 61
    elif end == "quota":
        phone.grant["down_quota_kb"] = 5
        nds.traffic(phone.mac, down_kb=5)
    if end == "ndsctl":
        assert nds.ndsctl_deauth(phone.mac).exit_code == 0
    else:
        assert nds.refresh_clients(now)
    assert await model.send_deauthed(http) == 1

    row = await session_row(db, tenant)
    assert (row["status"], row["end_reason"], row["client_mac"]) == ("ended", reason, None)
    assert row["ended_at"] is not None and row["ended_at"] <= row["expires_at"]
