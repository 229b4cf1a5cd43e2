"""The session's policy shown to the shopper, extended where the store allows it, and the
same facts in the RFC 8908 captive API (portal/online.py, portal/sessions.py,
portal/captive_api.py)."""

from __future__ import annotations

import html
import re
import time
from collections.abc import AsyncIterator
from datetime import timedelta

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from controller.services import CommandSender, record_router_status
from kernel.config import Settings
from portal import sessions, stores
from simulators.router import SimulatedRouter
from tests.factories import Tenant, tenant_router
from tests.portal.session_helpers import (
    commands,
    form_of,
    log_in,
    policy_tenant,
    report_usage,
    session_row,
    telemetry_ingest,
)
from tests.portal.test_wifidog import make_wd, online_token, session_of

MAC = "aa:bb:cc:30:00:01"
CAPTIVE = {"Accept": "application/captive+json"}


@pytest.fixture
async def tenant(db: asyncpg.Pool) -> Tenant:
    return await policy_tenant(
        db, idle_minutes=15, extend_minutes=30, max_extensions=2, down_quota_kb=2048 * 1024
    )


@pytest.fixture
async def ingest(settings: Settings, db: asyncpg.Pool) -> AsyncIterator[None]:
    async with telemetry_ingest(settings, db):
        yield


async def page_text(portal: TestClient, link: str) -> str:
    response = await portal.get(link)
    assert response.status == 200
    return html.unescape(await response.text())


def extend_path(sim: SimulatedRouter) -> str:
    return f"/fas/{sim.router_id}/extend"


@pytest.mark.parametrize(
    ("lang", "facts"),
    [
        (
            "en",
            [
                "Data: <strong>1748 of 2048 MB download, no limit upload</strong>",
                "Speed: <strong>up to 4 Mbit/s download, 1 Mbit/s upload</strong>",
                "Idle timeout: <strong>after 15 min without use</strong>",
                "Add 30 min",
                "You can extend this session 2 more time(s).",
            ],
        ),
        (
            "zh-CN",
            [
                "流量： <strong>下载 1748 MB（共 2048 MB），上传 不限</strong>",
                "网速： <strong>下载最高 4 Mbit/s，上传最高 1 Mbit/s</strong>",
                "闲置断开： <strong>闲置 15 分钟后断开</strong>",
                "延长 30 分钟",
            ],
        ),
    ],
)
async def test_the_online_page_shows_the_sessions_policy_and_what_is_left(
    portal_client: TestClient,
    router: SimulatedRouter,
    tenant: Tenant,
    db: asyncpg.Pool,
    settings: Settings,
    ingest: None,
    lang: str,
    facts: list[str],
) -> None:
    client, link = await log_in(portal_client, router, MAC)
    router.nds.traffic(client.mac, down_kb=300 * 1024, up_kb=20)
    await report_usage(db, settings, router, tenant, client.mac)

    text = await page_text(portal_client, link.replace("lang=en", f"lang={lang}"))

    assert re.search(r'id="time-left">[^<]+<strong>4[45] ', text)
    for fact in facts:
        assert fact in text, fact
    assert f'action="{extend_path(router)}"' in text


async def test_before_any_usage_report_the_page_shows_the_quota(
    portal_client: TestClient, router: SimulatedRouter, tenant: Tenant
) -> None:
    _client, link = await log_in(portal_client, router, MAC)
    text = await page_text(portal_client, link)
    assert "Data: <strong>2048 MB download, no limit upload</strong>" in text


async def test_extend_adds_time_and_the_router_gets_the_new_end(
    portal_client: TestClient, router: SimulatedRouter, tenant: Tenant, db: asyncpg.Pool
) -> None:
    client, link = await log_in(portal_client, router, MAC)
    before = await session_row(db, tenant)
    old_token = client.token

    response = await portal_client.post(
        extend_path(router), data=form_of(link), allow_redirects=False
    )

    assert response.status == 303
    assert response.headers["Location"] == link + "&extended=1"
    after = await session_row(db, tenant)
    assert after["extensions"] == 1 and after["status"] == "active"
    assert after["expires_at"] - before["expires_at"] == timedelta(minutes=30)
    # openNDS changes nothing of an Authenticated client: the agent deauthed it and granted it
    # again (preemptive authentication: a new client, a new token) until the new end.
    [deauth] = await commands(db, tenant, "deauth")
    [restore] = await commands(db, tenant, "restore")
    assert deauth["status"] == restore["status"] == "done"
    assert restore["args"]["custom"] == sessions.session_key(after["session_id"])
    again = router.clients[MAC]
    assert again.authenticated and again.token != old_token
    assert again.grant["minutes"] in (74, 75) and again.grant["down_kbps"] == 4000
    new_end = int(after["expires_at"].timestamp())
    assert abs(again.session_end - new_end) <= 60
    assert again.grant["down_quota_kb"] == 2048 * 1024  # nothing used yet
    # The page after the redirect says so and counts the new time.
    text = await page_text(portal_client, response.headers["Location"])
    assert "Done: 30 minutes added." in text
    assert re.search(r'id="time-left">Time left: <strong>1 h 1[45] min</strong>', text)
    assert "You can extend this session 1 more time(s)." in text


async def test_an_extension_carries_what_is_left_of_the_quota(
    portal_client: TestClient,
    router: SimulatedRouter,
    tenant: Tenant,
    db: asyncpg.Pool,
    settings: Settings,
    ingest: None,
) -> None:
    client, link = await log_in(portal_client, router, MAC)
    router.nds.traffic(client.mac, down_kb=500 * 1024, up_kb=1)
    await report_usage(db, settings, router, tenant, client.mac)

    response = await portal_client.post(extend_path(router), data=form_of(link))

    assert response.status == 200
    # openNDS's counters start again with the new grant: it gets the 1548 MB that are left.
    assert router.clients[MAC].grant["down_quota_kb"] == 1548 * 1024
    text = await page_text(portal_client, link)
    assert "Data: <strong>1548 MB download, no limit upload</strong>" in text


async def test_extension_is_refused_at_the_maximum(
    portal_client: TestClient, db: asyncpg.Pool, mqtt_url: str
) -> None:
    tenant = await policy_tenant(db, extend_minutes=10, max_extensions=1)
    sim = tenant_router(tenant, mqtt_url, gateway_host="192.168.8.1", gateway_port=2050)
    await sim.start(http=False)
    try:
        _client, link = await log_in(portal_client, sim, MAC)
        first = await portal_client.post(extend_path(sim), data=form_of(link))
        assert first.status == 200
        assert "cannot be extended any more" in await page_text(portal_client, link)
        assert 'id="extend-form"' not in await page_text(portal_client, link)

        second = await portal_client.post(
            extend_path(sim), data=form_of(link), headers={"Accept-Language": "en"}
        )

        assert second.status == 403
        assert "extended as often as this WiFi allows" in html.unescape(await second.text())
        row = await session_row(db, tenant)
        assert row["extensions"] == 1
        assert len(await commands(db, tenant, "deauth")) == 1  # nothing sent the second time
    finally:
        await sim.stop()


async def test_extension_is_refused_where_the_store_allows_none(
    portal_client: TestClient, db: asyncpg.Pool, mqtt_url: str
) -> None:
    tenant = await policy_tenant(db, extend_minutes=0, max_extensions=3)
    sim = tenant_router(tenant, mqtt_url, gateway_host="192.168.8.1", gateway_port=2050)
    await sim.start(http=False)
    try:
        client, link = await log_in(portal_client, sim, MAC)
        assert 'id="extend-form"' not in await page_text(portal_client, link)

        refused = await portal_client.post(
            extend_path(sim), data={**form_of(link), "lang": "zh-CN"}
        )

        assert refused.status == 403
        assert "此 WiFi 不支持延长上网时间" in await refused.text()
        assert await commands(db, tenant, "deauth") == [] and client.authenticated
        assert (await session_row(db, tenant))["extensions"] == 0
        api = await (await portal_client.get(link, headers=CAPTIVE)).json(content_type=None)
        assert api["can-extend-session"] is False
    finally:
        await sim.stop()


async def test_a_link_we_did_not_sign_extends_nothing(
    portal_client: TestClient, router: SimulatedRouter, tenant: Tenant, db: asyncpg.Pool
) -> None:
    _client, link = await log_in(portal_client, router, MAC)
    forged = {**form_of(link), "sig": "0" * 32}
    response = await portal_client.post(extend_path(router), data=forged)
    assert response.status == 404
    assert (await session_row(db, tenant))["extensions"] == 0


async def test_extension_waits_for_an_offline_router(
    portal_client: TestClient, router: SimulatedRouter, tenant: Tenant, db: asyncpg.Pool
) -> None:
    _client, link = await log_in(portal_client, router, MAC)
    await record_router_status(db, tenant.router, online=False, status={"v": 1, "online": False})
    stores._gateways.clear()  # the portal's 5-second cache of the router

    response = await portal_client.post(
        extend_path(router), data=form_of(link), headers={"Accept-Language": "en"}
    )

    assert response.status == 503 and "not connected to us" in html.unescape(await response.text())
    assert (await session_row(db, tenant))["extensions"] == 0


async def test_a_client_the_router_will_not_take_back_ends_the_session_and_says_so(
    portal_client: TestClient, router: SimulatedRouter, tenant: Tenant, db: asyncpg.Pool
) -> None:
    _client, link = await log_in(portal_client, router, MAC)
    router.nds.allow_preemptive_authentication = False  # `ndsctl auth <mac>` then finds nobody

    response = await portal_client.post(
        extend_path(router), data=form_of(link), headers={"Accept-Language": "en"}
    )

    assert response.status == 503
    assert "this session has ended" in html.unescape(await response.text())
    row = await session_row(db, tenant)
    assert (row["status"], row["end_reason"], row["client_mac"]) == ("ended", "gateway", None)
    assert MAC not in router.clients


async def test_the_captive_api_agrees_with_the_policy(
    portal_client: TestClient,
    router: SimulatedRouter,
    tenant: Tenant,
    db: asyncpg.Pool,
    settings: Settings,
    ingest: None,
) -> None:
    client, link = await log_in(portal_client, router, MAC)

    first = await (await portal_client.get(link, headers=CAPTIVE)).json(content_type=None)
    assert first["captive"] is False and first["can-extend-session"] is True
    assert 44 * 60 <= first["seconds-remaining"] <= 45 * 60
    assert "bytes-remaining" not in first  # the quota is known, its use not yet

    router.nds.traffic(client.mac, down_kb=48 * 1024, up_kb=1)
    await report_usage(db, settings, router, tenant, client.mac)
    second = await (await portal_client.get(link, headers=CAPTIVE)).json(content_type=None)
    assert second["bytes-remaining"] == 2000 * 1024 * 1024

    await portal_client.post(extend_path(router), data=form_of(link))
    await portal_client.post(extend_path(router), data=form_of(link))
    asked = time.time()
    third = await (await portal_client.get(link, headers=CAPTIVE)).json(content_type=None)
    answered = time.time()
    assert third["can-extend-session"] is False  # both extensions used
    assert 104 * 60 <= third["seconds-remaining"] <= 105 * 60
    row = await session_row(db, tenant)
    # The whole seconds to the row's end at some moment of the request (not at a moment after
    # it: that was off by the request's duration whenever the end's fraction was smaller).
    end = row["expires_at"].timestamp()
    assert end - answered - 1 <= third["seconds-remaining"] <= end - asked


async def test_wifidog_extension_moves_the_end_the_gateway_is_answered_by(
    portal_client: TestClient, db: asyncpg.Pool
) -> None:
    wd = await make_wd(db, extend_minutes=20, max_extensions=1)
    token = await online_token(portal_client, wd)
    gw = wd.router.router_id
    portal_page = f"/wifidog/portal/?gw_id={gw}&token={token}&lang=en"
    text = await page_text(portal_client, portal_page)
    assert 'action="/wifidog/extend"' in text and "Add 20 min" in text
    before = await session_of(db, wd, token)

    response = await portal_client.post(
        "/wifidog/extend", data={"gw_id": gw, "token": token, "lang": "en"}, allow_redirects=False
    )

    assert response.status == 303
    after = await session_of(db, wd, token)
    assert after["expires_at"] - before["expires_at"] == timedelta(minutes=20)
    assert "Done: 20 minutes added." in await page_text(portal_client, response.headers["Location"])
    # The gateway is answered by the new end: the original end passes, the session goes on.
    await db.execute(
        "UPDATE portal_sessions SET expires_at = now() + interval '5 minutes'"
        " WHERE merchant_id = $1 AND session_id = $2",
        wd.tenant.merchant_id,
        after["session_id"],
    )
    again = await portal_client.post(
        "/wifidog/extend", data={"gw_id": gw, "token": token, "lang": "en"}
    )
    assert again.status == 403  # one extension allowed


async def test_a_restore_after_an_openNDS_restart_carries_the_sessions_own_policy(
    portal_client: TestClient,
    router: SimulatedRouter,
    tenant: Tenant,
    db: asyncpg.Pool,
    settings: Settings,
    sender: CommandSender,
    ingest: None,
) -> None:
    _client, link = await log_in(portal_client, router, MAC)
    await portal_client.post(extend_path(router), data=form_of(link))
    router.nds.traffic(MAC, down_kb=1000 * 1024, up_kb=1)
    await report_usage(db, settings, router, tenant, MAC)
    router.nds.restart()

    report = await sessions.restore_sessions(db, sender, tenant.router, first_pause=0.1)

    assert report.count("restored") == 1
    grant = router.clients[MAC].grant
    assert grant["minutes"] in (74, 75)  # to the extended end
    assert grant["down_quota_kb"] == 1048 * 1024  # what is left of the quota
    assert (grant["down_kbps"], grant["up_kbps"]) == (4000, 1000)
