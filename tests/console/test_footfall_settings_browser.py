"""The footfall settings page in headless Chromium (Playwright), as
tests/console/test_footfall_browser.py does for the dashboards: in both languages it logs no
script error or CSP violation and does not overflow a desktop or a phone screen; a bad value
typed into the form comes back with its error beside the field, and a good one is saved.

Needs Playwright (`pip install playwright`) and a Chromium (`apt-get install chromium`;
PORTICO_CHROMIUM names another binary); skipped, saying which is missing, without them.
With FOOTFALL_SCREENSHOTS=<folder> it saves docs/screenshots/footfall-settings-*.png there.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import asyncpg
import pytest

from analytics.ingest import list_fixed_device
from analytics.occupancy import Calibration
from analytics.settings import set_occupancy_calibration, settings_of, update_settings
from kernel.config import Settings
from portico.console_app import make_console_app
from tests.browser import DESKTOP, PHONE, chromium, overflow, serve, watch
from tests.console.test_console_app import PASSWORD, Member, new_member

SCREENSHOTS = os.environ.get("FOOTFALL_SCREENSHOTS")


@pytest.fixture
async def console(settings: Settings, db: asyncpg.Pool) -> AsyncIterator[tuple[str, Member]]:
    """The console on a real port; a store with its own settings, a device its owner listed,
    one found by the long-stay rule and an occupancy calibration."""
    member = await new_member(db, store_name="Riverside Mall · Ground Floor")
    m, s = member.merchant_id, member.store_id
    await update_settings(db, m, s, inside_rssi=-67, visit_gap=600)
    await list_fixed_device(db, settings.secret_key, m, s, "3c:22:fb:7a:01:02")
    detected = uuid.uuid4().hex
    await db.execute(
        "INSERT INTO footfall_fixed_devices (merchant_id, store_id, device_hash, reason, since) "
        "VALUES ($1, $2, $3, 'detected', now() - interval '2 days')",
        m,
        s,
        detected,
    )
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    for back, seconds in ((1, 30_600), (2, 27_000), (4, 32_400)):
        await db.execute(
            "INSERT INTO footfall_long_stays (merchant_id, store_id, day, device_hash, seconds) "
            "VALUES ($1, $2, $3, $4, $5)",
            m,
            s,
            today - timedelta(days=back),
            detected,
            seconds,
        )
    await set_occupancy_calibration(db, m, s, Calibration(0.84, 0.0, 0.6))
    async with serve(make_console_app(settings, db)) as base:
        yield base, member


async def test_settings_page_in_chromium(console: tuple[str, Member], db: asyncpg.Pool) -> None:
    base, member = console
    async with chromium() as browser:
        context = await browser.new_context(viewport=DESKTOP, device_scale_factor=1)
        page = await context.new_page()
        problems: list[str] = []
        watch(page, problems)
        await page.goto(f"{base}/login?lang=en")
        await page.fill("input[name=email]", member.email)
        await page.fill("input[name=password]", PASSWORD)
        await page.click("button[type=submit]")
        await page.wait_for_url(f"{base}/dashboard")

        # From the dashboards' navigation to the settings of the chosen store.
        await page.goto(f"{base}/footfall?store={member.store_id}")
        await page.click(".ff-tabs a[href^='/footfall/settings']")
        await page.wait_for_load_state("networkidle")
        assert page.url.startswith(f"{base}/footfall/settings?merchant={member.merchant_id}")
        settings_url = page.url
        for language in ("en", "zh-CN"):
            response = await page.goto(f"{settings_url}&lang={language}")
            assert response is not None and response.status == 200, language
            await page.wait_for_load_state("networkidle")
            assert await page.locator("html").get_attribute("lang") == language
            assert await page.input_value("input[name=inside_rssi]") == "-67"
            assert await page.locator("#devices tbody tr").count() == 2
            assert await overflow(page) <= 0, f"settings ({language}) overflows"
            if SCREENSHOTS:
                await page.screenshot(
                    path=f"{SCREENSHOTS}/footfall-settings-{language}.png", full_page=True
                )

        # A bad value typed in the form: its error beside it, in the page's language.
        await page.fill("input[name=visit_gap]", "5")
        await page.click("#metrics button[type=submit]")
        await page.wait_for_load_state("networkidle")
        error = page.locator("#error-visit_gap")
        assert await error.inner_text() == "请输入 60 至 14400 之间的整数。"
        assert await error.is_visible()
        if SCREENSHOTS:
            await page.locator("#metrics").screenshot(
                path=f"{SCREENSHOTS}/footfall-settings-error-zh-CN.png"
            )
        stored = await settings_of(db, member.merchant_id, member.store_id)
        assert stored.visit_gap == 600
        # Corrected and saved: the notice says so, the value is stored.
        await page.fill("input[name=visit_gap]", "1200")
        await page.click("#metrics button[type=submit]")
        await page.wait_for_load_state("networkidle")
        assert "done=metrics" in page.url
        assert await page.locator("#metrics .notice").is_visible()
        stored = await settings_of(db, member.merchant_id, member.store_id)
        assert stored.visit_gap == 1200

        await page.set_viewport_size(PHONE)
        await page.goto(settings_url)
        await page.wait_for_load_state("networkidle")
        assert await overflow(page) <= 0, "settings overflow a phone screen"
        if SCREENSHOTS:
            await page.screenshot(
                path=f"{SCREENSHOTS}/footfall-settings-phone-zh-CN.png", full_page=True
            )
        assert problems == [], problems
