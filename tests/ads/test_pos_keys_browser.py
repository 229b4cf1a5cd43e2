"""The console's POS API keys page in headless Chromium (Playwright): an owner makes a key,
sees it once, and revokes it, in English and Chinese, with no script error and no sideways
scrolling on a desktop or a phone.

Needs Playwright and a Chromium (tests/browser.py says how; skipped without them). With
TILL_SCREENSHOTS=<folder> it saves docs/screenshots/console-pos-keys-*.png there.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import asyncpg
import pytest

from kernel.config import Settings
from portico.console_app import make_console_app
from tests.browser import DESKTOP, PHONE, chromium, overflow, serve, shot, watch
from tests.console.test_console_app import PASSWORD, Member, new_member

SCREENSHOTS = os.environ.get("TILL_SCREENSHOTS")


@pytest.fixture
async def console(settings: Settings, db: asyncpg.Pool) -> AsyncIterator[tuple[str, Member]]:
    member = await new_member(db, store_name="Riverside Mall · Tea House")
    async with serve(make_console_app(settings, db)) as base:
        yield base, member


async def test_the_keys_page_in_chromium(console: tuple[str, Member], db: asyncpg.Pool) -> None:
    base, member = console
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

        tokens = []
        for language, name in (("en", "Front till"), ("zh-CN", "收银台 2")):
            await page.goto(f"{base}/till/api-keys?lang={language}")
            assert await page.locator("html").get_attribute("lang") == language
            await page.fill("input[name=name]", name)
            await page.click("#create-key")
            await page.wait_for_selector("#new-key")
            tokens.append(await page.inner_text("#new-key"))
            assert name in await page.inner_text("#keys")
            assert await overflow(page) <= 0, f"the keys page ({language}) overflows"
            await shot(page, SCREENSHOTS, f"console-pos-keys-made-{language}")

        # Shown once: the page again holds neither key.
        await page.goto(f"{base}/till/api-keys?lang=en")
        text = await page.content()
        assert all(token not in text for token in tokens)
        await page.locator("#keys button").first.click()
        await page.wait_for_selector("#revoked")
        await shot(page, SCREENSHOTS, "console-pos-keys-revoked-en")

        await page.set_viewport_size(PHONE)
        await page.goto(f"{base}/till/api-keys?lang=zh-CN")
        assert await overflow(page) <= 0, "the keys page overflows a phone screen"
        await shot(page, SCREENSHOTS, "console-pos-keys-phone-zh-CN")
        assert problems == [], problems
    revoked = await db.fetchval(
        "SELECT count(*) FROM pos_api_keys WHERE merchant_id = $1 AND revoked_at IS NOT NULL",
        member.merchant_id,
    )
    assert revoked == 1
