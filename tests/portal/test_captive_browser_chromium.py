"""A phone's captive mini-browser, played by headless Chromium with JavaScript off: from the
router's redirect through the splash, a coupon (code and QR code), the click-through login
and the online page (its policy, Extend), in English and Chinese. Every request goes to the
router or the portal, the splash's first load is under 60 KB, and no portal response sets a
cookie (state travels in the forms and signed links).

Needs Playwright (`pip install playwright`) and a Chromium (`apt-get install chromium`;
PORTICO_CHROMIUM names another binary); skipped, saying which is missing, without them. With
PORTAL_SCREENSHOTS=<folder> it saves a screenshot of each page there.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import asyncpg
import pytest
from aiohttp.test_utils import TestServer

from controller.services import CommandSender
from kernel.config import Settings
from portal.app import make_portal_app
from simulators.router import SimulatedRouter
from tests.browser import PHONE, chromium, shot
from tests.factories import Tenant, tenant_router
from tests.portal.test_captive_browser import FIRST_LOAD_LIMIT, shop_with_every_method

SCREENSHOTS = os.environ.get("PORTAL_SCREENSHOTS")
# The portal and the router on two loopback hosts: a cookie is per host (not per port), so
# the simulated gateway's own cookie (its stand-in for the phone's MAC) never reaches the
# portal, and anything the portal set would show.
PORTAL_HOST, GATEWAY_HOST = "127.0.0.2", "127.0.0.1"


@dataclass(frozen=True)
class Shop:
    portal: str  # http://host:port
    gateway: str
    sim: SimulatedRouter
    tenant: Tenant


@pytest.fixture
async def shop(
    settings: Settings, db: asyncpg.Pool, sender: CommandSender, mqtt_url: str
) -> AsyncIterator[Shop]:
    tenant = await shop_with_every_method(db)
    server = TestServer(make_portal_app(settings, db, sender), host=PORTAL_HOST)
    await server.start_server()
    portal = f"http://{PORTAL_HOST}:{server.port}"
    sim = tenant_router(tenant, mqtt_url, portal_url=portal, gateway_host=GATEWAY_HOST)
    await sim.start()
    try:
        yield Shop(portal, f"http://{GATEWAY_HOST}:{sim.gateway_port}", sim, tenant)
    finally:
        await sim.stop()
        await server.close()


TEXTS = {
    "en": {"online": "You're online", "extended": "Done: 30 minutes added.", "speed": "Speed:"},
    "zh-CN": {"online": "您已连接网络", "extended": "已为您延长 30 分钟。", "speed": "网速："},
}


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
async def test_a_login_with_javascript_off_from_redirect_to_online_page(
    shop: Shop, lang: str
) -> None:
    texts = TEXTS[lang]
    async with chromium() as browser:
        context = await browser.new_context(java_script_enabled=False, viewport=PHONE, locale=lang)
        page = await context.new_page()
        responses: list[object] = []
        page.on("response", lambda response: responses.append(response))

        # The phone's captive-portal probe: the router sends it to the portal's splash.
        await page.goto(f"{shop.gateway}/hotspot-detect.html", wait_until="networkidle")
        assert page.url.startswith(f"{shop.portal}/fas/{shop.sim.router_id}/?fas=")
        first_load = [r for r in responses if r.url.startswith(shop.portal)]  # type: ignore[attr-defined]
        size = sum([len(await r.body()) for r in first_load])  # type: ignore[attr-defined]
        assert size < FIRST_LOAD_LIMIT, [(r.url, r.status) for r in first_load]  # type: ignore[attr-defined]
        assert len(first_load) == 2  # the splash and its ad image: no favicon, nothing else
        await _shot(page, f"splash-{lang}")

        # The coupon, then the click-through login: plain form posts.
        await page.click("form[action$='/coupon'] button")
        code = (await page.locator("#coupon-code").inner_text()).strip()
        qr = page.locator("#coupon-qr")
        assert (await qr.get_attribute("src") or "").startswith("data:image/svg+xml")
        box = await qr.bounding_box()
        assert box is not None and box["width"] >= 100  # drawn, not a broken image
        await _shot(page, f"coupon-{lang}")
        await page.check("form[action$='/login'] input[name=accept]")
        await page.click("#connect")
        await page.wait_for_url(f"{shop.portal}/fas/{shop.sim.router_id}/online?**")
        text = await page.locator("body").inner_text()
        assert texts["online"] in text and texts["speed"] in text and code in text
        assert await page.locator("img.coupon-qr").count() == 1
        client = next(iter(shop.sim.clients.values()))
        assert client.authenticated
        await _shot(page, f"online-{lang}")

        await page.click("#extend")
        await page.wait_for_url("**extended=1*")
        assert texts["extended"] in await page.locator("#extended").inner_text()
        await _shot(page, f"extended-{lang}")

        hosts = {urlsplit(r.url).netloc for r in responses}  # type: ignore[attr-defined]
        assert hosts <= {urlsplit(shop.portal).netloc, urlsplit(shop.gateway).netloc}, hosts
        portal_responses = [r for r in responses if r.url.startswith(shop.portal)]  # type: ignore[attr-defined]
        assert len(portal_responses) >= 7
        cookies = [
            (r.url, value)  # type: ignore[attr-defined]
            for r in portal_responses
            if (value := await r.header_value("set-cookie"))  # type: ignore[attr-defined]
        ]
        assert cookies == []
        portal_cookies = await context.cookies(shop.portal)
        assert portal_cookies == []


async def _shot(page: object, name: str) -> None:
    await shot(page, SCREENSHOTS, f"captive-{name}")
