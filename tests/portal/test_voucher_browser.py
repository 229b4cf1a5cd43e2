"""Vouchers in headless Chromium (Playwright): a shopper goes from the splash to the online page
with a printed code, in zh-CN and English, against a simulated router on the real broker; a
merchant creates a batch in the console and prints its sheet (the browser's own print to PDF:
A4, 10 cards a page).

Needs Playwright (`pip install playwright`) and a Chromium (`apt-get install chromium`;
PORTICO_CHROMIUM names another binary); skipped, saying which is missing, without them.
With VOUCHER_SCREENSHOTS=<folder> it saves docs/screenshots/vouchers-*.png there.
"""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import pytest

from controller.services import CommandSender
from kernel.config import Settings
from portal import stores, vouchers
from portal.app import make_portal_app
from portico.console_app import make_console_app
from simulators.router import SimulatedRouter
from tests.browser import DESKTOP, PHONE, chromium, serve, watch
from tests.console.test_console_app import PASSWORD, new_member
from tests.factories import Tenant, make_tenant, tenant_router

SCREENSHOTS = os.environ.get("VOUCHER_SCREENSHOTS")


@pytest.fixture
async def tenant(db: asyncpg.Pool) -> Tenant:
    tenant = await make_tenant(db, with_ad=False)
    await stores.upsert_store_portal(
        db,
        tenant.merchant_id,
        tenant.store_id,
        brand_name="Lakeside Café 湖畔咖啡",
        welcome_en="Welcome! Free WiFi for our guests.",
        welcome_zh="欢迎光临！宾客免费 WiFi。",
        login_methods=("voucher",),
        session_minutes=60,
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


async def new_code(db: asyncpg.Pool, tenant: Tenant, minutes: int) -> str:
    spec = vouchers.BatchSpec("Browser", None, minutes, 200 * 1024, 1, None, 1)
    batch_id = await vouchers.create_batch(db, tenant.merchant_id, spec, now=datetime.now(UTC))
    [voucher] = await vouchers.codes_of_batch(db, tenant.merchant_id, batch_id)
    return voucher.code


@pytest.mark.parametrize(
    ("lang", "online_text", "wrong_text"),
    [
        ("zh-CN", "您已连接网络", "未找到该上网券码"),
        ("en", "You're online", "We do not know this voucher code"),
    ],
)
async def test_a_shopper_goes_online_with_a_voucher_in_chromium(
    shop: tuple[str, SimulatedRouter],
    db: asyncpg.Pool,
    tenant: Tenant,
    lang: str,
    online_text: str,
    wrong_text: str,
) -> None:
    base, router = shop
    code = await new_code(db, tenant, minutes=180)
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
        assert await page.locator("html").get_attribute("lang") == lang
        if SCREENSHOTS:
            await page.screenshot(path=f"{SCREENSHOTS}/vouchers-splash-{lang}.png")

        # A wrong code: the splash again, saying why, nothing granted.
        await page.fill("#voucher-code", "ZZZZZ-ZZZZZ")
        await page.check("form.voucher input[name=accept]")
        await page.click("#voucher-connect")
        assert wrong_text in await page.locator(".error").inner_text()
        assert not phone.authenticated
        if SCREENSHOTS:
            await page.screenshot(path=f"{SCREENSHOTS}/vouchers-wrong-code-{lang}.png")

        # The printed code typed as a shopper would: lower case, a space for the dash.
        typed = f"{code[:5].lower()} {code[5:].lower()}"
        await page.fill("#voucher-code", typed)
        await page.check("form.voucher input[name=accept]")
        await page.click("#voucher-connect")
        await page.wait_for_url(re.compile(r".*/online\?.*"))
        body = await page.locator("body").inner_text()
        assert online_text in body
        assert phone.authenticated and phone.grant["minutes"] == 180
        assert phone.grant["down_quota_kb"] == 200 * 1024
        if SCREENSHOTS:
            await page.screenshot(path=f"{SCREENSHOTS}/vouchers-online-{lang}.png")
        assert problems == [], problems
    session = await db.fetchrow(
        "SELECT method, voucher_code FROM portal_sessions WHERE merchant_id = $1"
        " AND client_mac = $2",
        tenant.merchant_id,
        phone.mac,
    )
    assert (session["method"], session["voucher_code"]) == ("voucher", code)


@pytest.fixture
async def console(settings: Settings, db: asyncpg.Pool) -> AsyncIterator[str]:
    async with serve(make_console_app(settings, db)) as base:
        yield base


async def test_a_merchant_creates_and_prints_a_batch_in_chromium(
    console: str, db: asyncpg.Pool
) -> None:
    member = await new_member(db, store_name="湖畔咖啡 Lakeside Café")
    async with chromium() as browser:
        context = await browser.new_context(viewport=DESKTOP)
        page = await context.new_page()
        problems: list[str] = []
        watch(page, problems, console)
        await page.goto(f"{console}/login?lang=zh-CN")
        await page.fill("input[name=email]", member.email)
        await page.fill("input[name=password]", PASSWORD)
        await page.click("button[type=submit]")
        await page.wait_for_url(f"{console}/dashboard")

        await page.goto(f"{console}/vouchers")
        await page.fill("#f-name", "客房卡 五月")
        # A mistake first (one the browser's own form checks let through): the error
        # comes back beside its field.
        await page.fill("#f-valid_until", "2020-01-01")
        await page.click("#new-batch button[type=submit]")
        assert "该日期已过" in await page.locator("#e-valid_until").inner_text()
        await page.select_option("#f-store", str(member.store_id))
        await page.fill("#f-minutes", "1440")
        await page.fill("#f-quota_mb", "1024")
        await page.fill("#f-max_devices", "2")
        await page.fill("#f-count", "12")
        await page.fill("#f-valid_until", "2099-12-31")
        if SCREENSHOTS:
            await page.screenshot(path=f"{SCREENSHOTS}/vouchers-console-new-zh-CN.png")
        await page.click("#new-batch button[type=submit]")
        await page.wait_for_url(re.compile(r".*/vouchers/[0-9a-f-]{36}\?.*created=1"))
        assert "已生成 12 张上网券" in await page.locator("#notice").inner_text()
        if SCREENSHOTS:
            await page.screenshot(
                path=f"{SCREENSHOTS}/vouchers-console-batch-zh-CN.png", full_page=True
            )

        await page.click("#sheet-link")
        await page.wait_for_load_state("networkidle")
        assert await page.locator(".card").count() == 12
        assert await page.locator(".card svg").count() == 12
        if SCREENSHOTS:
            await page.screenshot(path=f"{SCREENSHOTS}/vouchers-sheet-zh-CN.png", full_page=True)
        # Printed: A4 pages of 10 cards, the bar above the sheet left out.
        printed = await page.pdf(prefer_css_page_size=True, print_background=True)
        assert len(re.findall(rb"/Type\s*/Page\b(?!s)", printed)) == 2
        assert problems == [], problems
