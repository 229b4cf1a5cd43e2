"""The WiFiDog gateway model (simulators/wifidog.py) against the portal, over real HTTP."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator

import aiohttp
import asyncpg
import pytest
from aiohttp.test_utils import TestServer

from controller.services import CommandSender
from kernel.config import Settings
from portal.app import make_portal_app
from simulators.wifidog import (
    AUTH_ALLOWED,
    AUTH_DENIED,
    AUTH_ERROR,
    WifidogGateway,
    parse_auth_code,
)
from tests.portal.test_wifidog import make_wd


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("Auth: 1\n", 1),
        ("HTTP/1.0 200 OK\nX: y\n\nAuth: 0", 0),
        ("Messages: hi\nAuth: -1\n", -1),
        ("Auth: 5 validation", 5),
        ("auth: 1", AUTH_ERROR),
        ("Auth: yes", AUTH_ERROR),
        ("", AUTH_ERROR),
    ],
)
def test_auth_code_is_read_as_auth_server_request_reads_it(body: str, expected: int) -> None:
    assert parse_auth_code(body) == expected


@pytest.fixture
async def portal_url(
    settings: Settings, db: asyncpg.Pool, sender: CommandSender
) -> AsyncIterator[str]:
    server = TestServer(make_portal_app(settings, db, sender))
    await server.start_server()
    yield f"http://127.0.0.1:{server.port}/wifidog/"
    await server.close()


async def test_a_phone_logs_in_through_the_gateway_and_ends_on_the_online_page(
    portal_url: str, db: asyncpg.Pool
) -> None:
    wd = await make_wd(db, down_quota_kb=4)
    gw = WifidogGateway(wd.router.router_id, auth_server=portal_url, check_interval=3600)
    await gw.start(periodic=False)
    try:
        jar = aiohttp.CookieJar(unsafe=True)
        async with aiohttp.ClientSession(
            cookie_jar=jar, headers={"Accept-Language": "en"}
        ) as phone:
            headers = {"Accept-Language": "en"}
            splash = await phone.get(gw.gateway_url + "hotspot-detect.html", headers=headers)
            assert splash.status == 200 and wd.tenant.brand_name in await splash.text()
            first = splash.history[0].headers["Location"]
            assert re.search(
                r"/wifidog/login/\?gw_address=127\.0\.0\.1&gw_port=\d+&gw_id=[\w-]+&ip=[\d.]+"
                r"&mac=[0-9a-f:]{17}&url=http%3A%2F%2F",
                first,
            ), first
            ticket = html.unescape(re.search(r'name="fas" value="([^"]+)"', await splash.text())[1])
            done = await phone.post(
                portal_url + "login/", data={"fas": ticket, "accept": "1", "lang": "en"}
            )
            text = await done.text()
            assert done.status == 200 and "Time left" in text, text
            hops = [str(r.url) for r in done.history] + [str(done.url)]
            assert "/wifidog/auth?token=" in hops[1] and "/wifidog/portal/?gw_id=" in hops[2]
        (client,) = gw.clients.values()
        assert client.allowed
        login = gw.requests[0]
        assert re.fullmatch(
            rf"{re.escape(portal_url)}auth/\?stage=login&ip={re.escape(client.ip)}&mac={client.mac}"
            rf"&token={client.token}&incoming=0&outgoing=0&gw_id={wd.router.router_id}",
            login,
        ), login
        assert await gw.ping() and not gw.auth_down
        client.use(1000, 200)
        assert await gw.sync_with_authserver() == []
        client.use(4 * 1024, 0)  # past the store's 4 kB quota: counters answers Auth: 0
        assert await gw.sync_with_authserver() == [client]
        assert not client.allowed and gw.clients == {}
        # Its token is spent: the same browser coming back is denied, not let through.
        status, where = await gw.auth_callback(client, client.token)
        assert status == 302 and "gw_message.php?message=denied" in where
    finally:
        await gw.stop()


async def test_an_unregistered_gateway_gets_no_pong_and_no_grant(
    portal_url: str, db: asyncpg.Pool
) -> None:
    gw = WifidogGateway("not-registered", auth_server=portal_url)
    await gw.start(periodic=False, http=False)
    try:
        assert not await gw.ping() and gw.auth_down
        client = gw.new_visitor()
        client.token = "t" * 32
        assert await gw.auth_server_request("login", client) == AUTH_DENIED
    finally:
        await gw.stop()
    assert AUTH_ALLOWED == 1
