"""End to end: an openNDS-style redirect, the portal, PostgreSQL, the broker and the real agent.

The agent is the shell script under busybox with a stub `ndsctl` that records its arguments and
holds the router's client table (MAC → openNDS token).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from urllib.parse import parse_qs, urlsplit

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from kernel.config import Settings
from kernel.mqtt import parse_mqtt_url
from portal.fas import encode_fas, rhid, sha256_hex
from tests.factories import Tenant, make_tenant
from tests.firmware.harness import AgentProcess, needs_tools

pytestmark = needs_tools

SHOPPER_MAC, SHOPPER_TOKEN = "aa:bb:cc:10:00:01", "1a2b3c4d"
NEIGHBOUR_MAC, NEIGHBOUR_TOKEN = "aa:bb:cc:10:00:02", "9f8e7d6c"
GATEWAY = "192.168.8.1:2050"


@pytest.fixture
async def tenant(db: asyncpg.Pool) -> Tenant:
    return await make_tenant(db, session_minutes=45)


@pytest.fixture
async def router_agent(
    agent_factory: Callable[..., AgentProcess], tenant: Tenant, settings: Settings
) -> AsyncIterator[AgentProcess]:
    address = parse_mqtt_url(settings.mqtt_url)
    agent = agent_factory(
        device_id=tenant.router.router_id,
        password=tenant.mqtt_password,
        host=address.host,
        port=address.port,
        clients={SHOPPER_MAC: SHOPPER_TOKEN, NEIGHBOUR_MAC: NEIGHBOUR_TOKEN},
    )
    yield agent


def redirect_fields(mac: str, token: str) -> dict[str, str]:
    """What openNDS puts in `fas=` for this client."""
    return {
        "hid": sha256_hex(token),
        "clientip": "192.168.8.23",
        "clientmac": mac,
        "client_type": "cpd_can",
        "gatewayname": "Test%20Mall%20Node:020000000001%20",
        "gatewayaddress": GATEWAY,
        "gatewaymac": "020000000001",
        "originurl": "http%3A%2F%2Fcaptive.apple.com%2Fhotspot-detect.html",
        "version": "11.0.0",
    }


async def login(portal_client: TestClient, tenant: Tenant, fields: dict[str, str]):  # type: ignore[no-untyped-def]
    raw = encode_fas(fields)
    splash = await portal_client.get(
        f"/fas/{tenant.router.router_id}/?fas={raw}", headers={"Accept-Language": "en"}
    )
    if splash.status != 200:
        return splash
    return await portal_client.post(
        f"/fas/{tenant.router.router_id}/login",
        data={"fas": raw, "accept": "1", "lang": "en"},
        allow_redirects=False,
    )


def auth_calls(agent: AgentProcess) -> list[list[str]]:
    return [call for call in agent.ndsctl_calls() if call[0] == "auth"]


async def sessions(db: asyncpg.Pool, tenant: Tenant) -> list[asyncpg.Record]:
    return await db.fetch(
        "SELECT * FROM portal_sessions WHERE merchant_id = $1 AND status = 'active'",
        tenant.merchant_id,
    )


async def test_shopper_logs_in_through_the_real_agent(
    portal_client: TestClient, router_agent: AgentProcess, tenant: Tenant, db: asyncpg.Pool
) -> None:
    response = await login(portal_client, tenant, redirect_fields(SHOPPER_MAC, SHOPPER_TOKEN))

    assert response.status == 303
    # The router was told to let exactly this device through with the store's policy.
    [call] = auth_calls(router_agent)
    assert call[:7] == ["auth", SHOPPER_MAC, "45", "1000", "4000", "0", "0"]
    # The browser goes through openNDS's own check with the rhid from the router's faskey.
    target = urlsplit(response.headers["Location"])
    assert (target.scheme, target.netloc, target.path) == ("http", GATEWAY, "/opennds_auth/")
    query = parse_qs(target.query)
    assert query["tok"] == [rhid(sha256_hex(SHOPPER_TOKEN), tenant.router.faskey)]
    assert query["redir"] == ["http://captive.apple.com/hotspot-detect.html"]
    # The ack reached the portal, and the session and the login event are in PostgreSQL.
    [session] = await sessions(db, tenant)
    assert session["client_mac"] == SHOPPER_MAC and session["method"] == "click"
    assert call[7] == session["session_id"].hex[:16]
    command = await db.fetchrow(
        "SELECT op, status, code FROM router_commands WHERE merchant_id = $1 AND command_id = $2",
        tenant.merchant_id,
        session["command_id"],
    )
    assert tuple(command) == ("auth", "done", "ok")
    event = await db.fetchrow(
        "SELECT store_id, device_hash, data FROM events WHERE merchant_id = $1 AND kind = 'login'",
        tenant.merchant_id,
    )
    assert event["store_id"] == tenant.store_id
    assert event["device_hash"] == session["device_hash"]
    assert event["data"]["method"] == "click"


@pytest.mark.parametrize(
    "fields",
    [
        # Someone on the LAN claims the neighbour's MAC with their own token's hid.
        {**redirect_fields(NEIGHBOUR_MAC, SHOPPER_TOKEN)},
        # A hid that matches no client the router holds.
        {**redirect_fields(SHOPPER_MAC, "00000000")},
        # A device the router has never seen.
        {**redirect_fields("aa:bb:cc:10:00:99", "12345678")},
    ],
    ids=["other-device-mac", "unknown-hid", "unknown-device"],
)
async def test_forged_redirects_get_no_grant(
    portal_client: TestClient,
    router_agent: AgentProcess,
    tenant: Tenant,
    db: asyncpg.Pool,
    fields: dict[str, str],
) -> None:
    response = await login(portal_client, tenant, fields)

    assert response.status == 403
    assert "could not confirm your device" in await response.text()
    assert auth_calls(router_agent) == []
    assert await sessions(db, tenant) == []


@pytest.mark.parametrize(
    ("path", "status", "message"),
    [
        ("/fas/ap-not-ours/?fas={fas}", 404, "not registered"),
        ("/fas/{router}/?fas=@@not*base64@@", 400, "not valid"),
        ("/fas/{router}/?fas={fas}" + "QUFB" * 1500, 400, "not valid"),
        ("/fas/{router}/?fas=" + "A" * 6000, 400, "not valid"),
    ],
    ids=["unknown-gateway", "garbage-base64", "over-long-fas", "huge-parameter"],
)
async def test_bad_redirects_get_a_clear_page_and_no_grant(
    portal_client: TestClient,
    router_agent: AgentProcess,
    tenant: Tenant,
    db: asyncpg.Pool,
    path: str,
    status: int,
    message: str,
) -> None:
    raw = encode_fas(redirect_fields(SHOPPER_MAC, SHOPPER_TOKEN))
    url = path.replace("{router}", tenant.router.router_id).replace("{fas}", raw)
    response = await portal_client.get(url, headers={"Accept-Language": "en"})
    assert response.status == status
    assert message in await response.text()
    post = await portal_client.post(
        url.split("?")[0].rstrip("/") + "/login",
        data={"fas": url.partition("fas=")[2], "accept": "1"},
        headers={"Accept-Language": "en"},
        allow_redirects=False,
    )
    assert post.status in (400, 404)
    assert auth_calls(router_agent) == []
    assert await sessions(db, tenant) == []


async def test_a_request_line_beyond_the_server_limit_is_refused(
    portal_client: TestClient, router_agent: AgentProcess, tenant: Tenant
) -> None:
    response = await portal_client.get(f"/fas/{tenant.router.router_id}/?fas=" + "A" * 20000)
    assert response.status == 400  # aiohttp's own limit (8 KiB), before any handler runs
    assert auth_calls(router_agent) == []


async def test_router_that_never_acks_gives_a_try_again_page(
    portal_client: TestClient,
    router_agent: AgentProcess,
    tenant: Tenant,
    db: asyncpg.Pool,
    caplog: pytest.LogCaptureFixture,
) -> None:
    router_agent.stop()  # the router lost power: the command finds nobody to answer it

    with caplog.at_level(logging.ERROR):
        response = await login(portal_client, tenant, redirect_fields(SHOPPER_MAC, SHOPPER_TOKEN))

    assert response.status == 503
    text = await response.text()
    assert "did not answer in time" in text and "Try again" in text
    assert any("got no ack" in record.getMessage() for record in caplog.records)
    assert await sessions(db, tenant) == []
    statuses = await db.fetch(
        "SELECT status FROM router_commands WHERE merchant_id = $1", tenant.merchant_id
    )
    assert [row["status"] for row in statuses] == ["timeout"]


async def test_router_that_fails_to_grant_gives_a_try_again_page(
    portal_client: TestClient, router_agent: AgentProcess, tenant: Tenant, db: asyncpg.Pool
) -> None:
    router_agent.env.fail_ndsctl("auth", "ndsctl: opennds probably not started")

    response = await login(portal_client, tenant, redirect_fields(SHOPPER_MAC, SHOPPER_TOKEN))

    assert response.status == 503
    text = await response.text()
    assert "could not let you through" in text and "Try again" in text
    assert await sessions(db, tenant) == []
    statuses = await db.fetch(
        "SELECT status, code FROM router_commands WHERE merchant_id = $1", tenant.merchant_id
    )
    assert [tuple(row) for row in statuses] == [("error", "ndsctl_failed")]
