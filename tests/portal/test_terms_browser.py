"""The console's Logins page (portal/console_logins.py) in headless Chromium (Playwright): an
owner reaches it from the navigation, orders the login methods, turns on returning shoppers and
publishes a terms version, in English and zh-CN, on a desktop and a phone screen, with no
script error and no sideways overflow.

Needs Playwright (`pip install playwright`) and a Chromium (`apt-get install chromium`;
PORTICO_CHROMIUM names another binary); skipped, saying which is missing, without them.
With TERMS_SCREENSHOTS=<folder> it saves docs/screenshots/console-logins-*.png there.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import asyncpg
import pytest

from kernel.config import Settings
from portal import stores, terms
from portico.console_app import make_console_app
from tests.browser import DESKTOP, PHONE, chromium, overflow, serve, watch
from tests.console.test_console_app import PASSWORD, Member, new_member

SCREENSHOTS = os.environ.get("TERMS_SCREENSHOTS")


@pytest.fixture
async def console(settings: Settings, db: asyncpg.Pool) -> AsyncIterator[tuple[str, Member]]:
    member = await new_member(db, store_name="Lakeside Café · Riverside")
    await stores.upsert_store_portal(
        db, member.merchant_id, member.store_id, brand_name="Lakeside Café 湖畔咖啡"
    )
    await terms.publish(
        db,
        member.merchant_id,
        member.store_id,
        "2",
        "Free WiFi for our guests. Please use it fairly.",
        "宾客免费 WiFi，请合理使用。",
    )
    async with serve(make_console_app(settings, db)) as base:
        yield base, member


async def test_an_owner_sets_logins_and_publishes_terms_in_chromium(
    console: tuple[str, Member], db: asyncpg.Pool
) -> None:
    base, member = console
    async with chromium() as browser:
        context = await browser.new_context(viewport=DESKTOP)
        page = await context.new_page()
        problems: list[str] = []
        watch(page, problems)
        await page.goto(f"{base}/login?lang=en")
        await page.fill("input[name=email]", member.email)
        await page.fill("input[name=password]", PASSWORD)
        await page.click("button[type=submit]")
        await page.wait_for_url(f"{base}/dashboard")
        await page.click("nav.pages a[href='/logins']")
        await page.wait_for_url(f"{base}/logins")

        await page.check("#method-email")
        await page.fill("input[name=order_email]", "1")
        await page.fill("input[name=order_click]", "2")
        await page.fill("#returning-days", "14")
        await page.click("#save-methods")
        assert "Login settings saved." in await page.locator("#saved-methods").inner_text()

        await page.fill("#body-en", "Free WiFi for our guests.\n\nNo streaming at peak hours.")
        await page.fill("#body-zh", "宾客免费 WiFi。\n\n高峰时段请勿播放视频。")
        await page.click("#publish")
        assert "Published" in await page.locator("#saved-terms").inner_text()
        assert await page.locator("#terms-versions tbody tr").count() == 2
        for language, viewport in (("en", DESKTOP), ("zh-CN", DESKTOP), ("zh-CN", PHONE)):
            await page.set_viewport_size(viewport)
            await page.goto(f"{base}/logins?lang={language}")
            assert await page.locator("html").get_attribute("lang") == language
            assert await overflow(page) <= 0, f"logins ({language}) overflows"
            if SCREENSHOTS:
                name = "phone-" if viewport is PHONE else ""
                await page.screenshot(
                    path=f"{SCREENSHOTS}/console-logins-{name}{language}.png", full_page=True
                )
        assert problems == []
    row = await db.fetchrow(
        "SELECT login_methods, returning_days, terms_version FROM portal_settings"
        " WHERE merchant_id = $1 AND store_id = $2",
        member.merchant_id,
        member.store_id,
    )
    assert (list(row["login_methods"]), row["returning_days"], row["terms_version"]) == (
        ["email", "click"],
        14,
        "3",
    )
