"""The import page of an imported pool in headless Chromium: an owner uploads a file with
mistakes (every problem listed with its line, nothing stored), then a good one, in English and
Chinese; no script error, no request to another host, no sideways scrolling on a phone.

Needs Playwright and a Chromium (tests/browser.py says how; skipped without them). With
TILL_SCREENSHOTS=<folder> it saves console-coupon-import-*.png there.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import asyncpg
import pytest

from kernel.config import Settings
from portico.console_app import make_console_app
from tests.ads.test_redemption import coupon_codes
from tests.browser import DESKTOP, PHONE, chromium, overflow, serve, shot, watch
from tests.console.test_console_app import PASSWORD, Member, new_member

SCREENSHOTS = os.environ.get("TILL_SCREENSHOTS")
BAD = "code,note\nGIFT-0001,first\nGIFT-0002\ngift 0001\nGIFT_0003\nABCDEFGHJKM\nXY\n"


@pytest.fixture
async def console(settings: Settings, db: asyncpg.Pool) -> AsyncIterator[tuple[str, Member]]:
    member = await new_member(db, store_name="Riverside Mall · Tea House")
    async with serve(make_console_app(settings, db)) as base:
        yield base, member


async def test_importing_codes_in_chromium(console: tuple[str, Member], db: asyncpg.Pool) -> None:
    base, member = console
    coupon_id, _ = await coupon_codes(db, member.merchant_id, count=0, pool="imported")
    async with chromium() as browser:
        context = await browser.new_context(viewport=DESKTOP, device_scale_factor=1)
        page = await context.new_page()
        problems: list[str] = []
        watch(page, problems, base)
        await page.goto(f"{base}/login?lang=en")
        await page.fill("input[name=email]", member.email)
        await page.fill("input[name=password]", PASSWORD)
        await page.click("button[type=submit]")
        await page.wait_for_url(f"{base}/dashboard")

        await page.goto(f"{base}/till?lang=en")
        await page.click("#import-link")
        for language, lines_text in (("en", "the same code as line 2"), ("zh-CN", "与第 2 行")):
            await page.goto(f"{base}/till/import?lang={language}")
            await page.set_input_files(
                "#file", {"name": "codes.csv", "mimeType": "text/csv", "buffer": BAD.encode()}
            )
            await page.click("#upload")
            await page.wait_for_selector("#problems")
            text = await page.inner_text("#problems")
            assert lines_text in text
            assert await page.locator("#problems tbody tr").count() == 4
            assert await overflow(page) <= 0
            await shot(page, SCREENSHOTS, f"console-coupon-import-refused-{language}")
        stored = "SELECT count(*) FROM coupon_codes WHERE merchant_id = $1 AND coupon_id = $2"
        assert await db.fetchval(stored, member.merchant_id, coupon_id) == 0

        await page.set_viewport_size(PHONE)
        await page.goto(f"{base}/till/import?lang=en")
        good = "GIFT-0001\nGIFT-0002\nGIFT-0003\n"
        await page.set_input_files(
            "#file", {"name": "codes.txt", "mimeType": "text/plain", "buffer": good.encode()}
        )
        await page.click("#upload")
        await page.wait_for_selector("#imported")
        assert "3 codes imported." in await page.inner_text("#imported")
        assert await overflow(page) <= 0, "the import page overflows a phone screen"
        await shot(page, SCREENSHOTS, "console-coupon-import-done-phone-en")
        assert await db.fetchval(stored, member.merchant_id, coupon_id) == 3
        assert problems == [], problems
