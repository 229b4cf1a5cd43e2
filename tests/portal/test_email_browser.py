"""Email login in headless Chromium (Playwright), JavaScript off, in zh-CN and English, against a
simulated router on the real broker: the splash's email form (its marketing box unticked), the
terms page it links to, the online page's consent line, and the withdrawal link's pages.

Needs Playwright (`pip install playwright`) and a Chromium (`apt-get install chromium`;
PORTICO_CHROMIUM names another binary); skipped, saying which is missing, without them.
With EMAIL_SCREENSHOTS=<folder> it saves docs/screenshots/login-email-*.png there.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import asyncpg
import pytest

from controller.services import CommandSender
from kernel.config import Settings
from portal import stores, terms
from portal.app import make_portal_app
from simulators.router import SimulatedRouter
from tests.browser import PHONE, chromium, serve, shot, watch
from tests.factories import Tenant, make_tenant, tenant_router

SCREENSHOTS = os.environ.get("EMAIL_SCREENSHOTS")
BRAND = "Lakeside Café 湖畔咖啡"


@pytest.fixture
async def tenant(db: asyncpg.Pool) -> Tenant:
    tenant = await make_tenant(db, with_ad=True)
    await stores.upsert_store_portal(
        db,
        tenant.merchant_id,
        tenant.store_id,
        brand_name=BRAND,
        welcome_en="Welcome! Free WiFi for our guests.",
        welcome_zh="欢迎光临！宾客免费 WiFi。",
        login_methods=("email", "click"),
        session_minutes=60,
    )
    await terms.publish(
        db,
        tenant.merchant_id,
        tenant.store_id,
        "2",
        "Free WiFi for our guests.\n\nPlease use it fairly: no large downloads at peak hours.",
        "宾客免费 WiFi。\n\n请合理使用：高峰时段请勿大量下载。",
    )
    return tenant


@pytest.fixture
async def shop(
    settings: Settings, db: asyncpg.Pool, sender: CommandSender, tenant: Tenant
) -> AsyncIterator[tuple[str, SimulatedRouter]]:
    """The portal on a real port and the store's router, simulated over the real broker."""
    router = tenant_router(tenant, settings.mqtt_url, gateway_host="192.168.8.1", gateway_port=2050)
    await router.start(http=False)
    try:
        async with serve(make_portal_app(settings, db, sender)) as base:
            yield base, router
    finally:
        await router.stop()


TEXTS = {
    "zh-CN": ("使用电子邮箱连接", "您已连接网络", "撤回我的同意", "将不再向", "请合理使用"),
    "en": (
        "Connect with your email",
        "You're online",
        "Withdraw my consent",
        "will send no more offers",
        "Please use it fairly",
    ),
}


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
async def test_a_shopper_logs_in_by_email_with_consent_and_withdraws_it_in_chromium(
    shop: tuple[str, SimulatedRouter], db: asyncpg.Pool, tenant: Tenant, lang: str
) -> None:
    heading, online_text, withdraw_button, withdrawn_text, terms_text = TEXTS[lang]
    base, router = shop
    phone = router.new_visitor()
    splash = base + router.redirect_url(phone, "http://example.com/").split("portal.test", 1)[1]
    async with chromium() as browser:
        context = await browser.new_context(
            viewport=PHONE, device_scale_factor=2, java_script_enabled=False, locale=lang
        )
        page = await context.new_page()
        problems: list[str] = []
        watch(page, problems, base)
        response = await page.goto(f"{splash}&lang={lang}")
        assert response is not None and response.status == 200
        assert heading in await page.locator("#email-form").inner_text()
        assert not await page.is_checked("#marketing")  # never ticked for the shopper
        await shot(page, SCREENSHOTS, f"login-email-splash-{lang}")

        # The terms it links to, then back to the splash.
        await page.click("#email-form a")
        assert terms_text in await page.locator("#terms-body").inner_text()
        await shot(page, SCREENSHOTS, f"login-email-terms-{lang}")
        await page.go_back()

        await page.fill("#email", "Shopper.Browser@Example.com")
        await page.check("#email-form input[name=accept]")
        await page.check("#marketing")
        await page.click("#email-connect")
        assert online_text in await page.locator("h1").inner_text()
        assert phone.authenticated
        assert await page.locator("#consent-given").count() == 1
        await shot(page, SCREENSHOTS, f"login-email-online-{lang}")

        await page.click("#consent-withdraw")
        assert "s***@example.com" in await page.locator("#withdraw-question").inner_text()
        await shot(page, SCREENSHOTS, f"login-email-withdraw-{lang}")
        assert withdraw_button in await page.locator("#withdraw").inner_text()
        await page.click("#withdraw")
        assert withdrawn_text in await page.locator("#withdrawn").inner_text()
        await shot(page, SCREENSHOTS, f"login-email-withdrawn-{lang}")
        assert problems == []
    rows = await db.fetch(
        "SELECT withdrawn_via FROM shopper_consents WHERE merchant_id = $1", tenant.merchant_id
    )
    assert [r["withdrawn_via"] for r in rows] == ["link"]
    session = await db.fetchrow(
        "SELECT method, terms_version FROM portal_sessions WHERE merchant_id = $1",
        tenant.merchant_id,
    )
    assert (session["method"], session["terms_version"]) == ("email", "2")
