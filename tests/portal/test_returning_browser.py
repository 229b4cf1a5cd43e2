"""A returning shopper in headless Chromium (Playwright), JavaScript off, in zh-CN and English,
against simulated routers on the real broker: logged in once by click-through at one store, the
phone comes back to another store of the merchant and gets "Welcome back" (after the ad) with
one Continue, which lets it in; the online page offers Log out.

Needs Playwright (`pip install playwright`) and a Chromium (`apt-get install chromium`;
PORTICO_CHROMIUM names another binary); skipped, saying which is missing, without them.
With RETURNING_SCREENSHOTS=<folder> it saves docs/screenshots/login-returning-*.png there.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

import accounts.services as accounts
from controller.services import CommandSender, record_router_status, register_router
from kernel.config import Settings
from portal import stores
from portal.app import make_portal_app
from simulators.router import SimulatedRouter
from tests.browser import PHONE, chromium, serve, shot, watch
from tests.factories import Tenant, make_tenant, tenant_router

SCREENSHOTS = os.environ.get("RETURNING_SCREENSHOTS")


async def portal_of(
    db: asyncpg.Pool, merchant_id: uuid.UUID, store_id: uuid.UUID, name: str
) -> None:
    await stores.upsert_store_portal(
        db,
        merchant_id,
        store_id,
        brand_name=name,
        welcome_en="Welcome! Free WiFi for our guests.",
        welcome_zh="欢迎光临！宾客免费 WiFi。",
        login_methods=("click", "email"),
        session_minutes=90,
        returning_days=7,
    )


@pytest.fixture
async def tenant(db: asyncpg.Pool) -> Tenant:
    tenant = await make_tenant(db, with_ad=True)
    await portal_of(db, tenant.merchant_id, tenant.store_id, "Lakeside Café 湖畔咖啡 · Riverside")
    return tenant


@pytest.fixture
async def shops(
    settings: Settings, db: asyncpg.Pool, sender: CommandSender, tenant: Tenant
) -> AsyncIterator[tuple[str, SimulatedRouter, SimulatedRouter]]:
    """The portal on a real port and two stores' routers of one merchant, simulated."""
    async with db.acquire() as conn, conn.transaction():
        store_id = await accounts.create_store(conn, tenant.merchant_id, "Station")
        new = await register_router(
            conn, tenant.merchant_id, store_id, f"ap-{uuid.uuid4().hex[:10]}", "AP"
        )
        await record_router_status(conn, new.router, online=True, status={"v": 1, "online": True})
    await portal_of(db, tenant.merchant_id, store_id, "Lakeside Café 湖畔咖啡 · Station")
    first = tenant_router(tenant, settings.mqtt_url, gateway_host="192.168.8.1", gateway_port=2050)
    second = SimulatedRouter(
        new.router.router_id,
        mqtt_url=settings.mqtt_url,
        password=new.mqtt_password,
        faskey=new.router.faskey,
        portal_url="http://portal.test",
        gateway_mac="02:00:00:00:00:02",
        gateway_host="192.168.9.1",
        gateway_port=2050,
    )
    await first.start(http=False)
    await second.start(http=False)
    try:
        async with serve(make_portal_app(settings, db, sender)) as base:
            yield base, first, second
    finally:
        await first.stop()
        await second.stop()


TEXTS = {
    "zh-CN": ("欢迎回来！", "您已连接网络", "退出登录"),
    "en": ("Welcome back!", "You're online", "Log out"),
}


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
async def test_a_returning_shopper_roams_to_another_store_with_one_tap_in_chromium(
    shops: tuple[str, SimulatedRouter, SimulatedRouter],
    db: asyncpg.Pool,
    tenant: Tenant,
    lang: str,
) -> None:
    welcome, online_text, logout = TEXTS[lang]
    base, first, second = shops
    phone = first.new_visitor()
    async with chromium() as browser:
        context = await browser.new_context(
            viewport=PHONE, device_scale_factor=2, java_script_enabled=False, locale=lang
        )
        page = await context.new_page()
        problems: list[str] = []
        watch(page, problems, base)

        # Monday at the riverside store: a first visit, click-through.
        path = first.redirect_url(phone, "http://example.com/").split("portal.test", 1)[1]
        await page.goto(f"{base}{path}&lang={lang}")
        assert await page.locator("#returning-form").count() == 0
        await page.check("form:has(#connect) input[name=accept]")
        await page.click("#connect")
        assert online_text in await page.locator("h1").inner_text()

        # Later that week the same phone joins the station store's WiFi.
        there = second.add_client(phone.mac, "10.0.9.50")
        path = second.redirect_url(there, "http://example.com/").split("portal.test", 1)[1]
        await page.goto(f"{base}{path}&lang={lang}")
        assert welcome in await page.locator("#returning-form").inner_text()
        ad = await page.locator("section.ad").bounding_box()
        continue_button = await page.locator("#returning-continue").bounding_box()
        assert ad is not None and continue_button is not None
        assert ad["y"] < continue_button["y"]  # the ad first (PRODUCT.md §1)
        await shot(page, SCREENSHOTS, f"login-returning-splash-{lang}")
        assert not there.authenticated

        await page.click("#returning-continue")
        assert online_text in await page.locator("h1").inner_text()
        assert there.authenticated
        assert logout in await page.locator("#logout").inner_text()
        await shot(page, SCREENSHOTS, f"login-returning-online-{lang}")
        assert problems == []
    methods = await db.fetch(
        "SELECT method FROM portal_sessions WHERE merchant_id = $1 ORDER BY started_at",
        tenant.merchant_id,
    )
    assert [r["method"] for r in methods] == ["click", "returning"]
