"""The console's till page in headless Chromium (Playwright): staff type a shopper's code as
read aloud (lower case, spaces), check it, redeem it and undo it, in English and Chinese, with
no script error and no sideways scrolling on a desktop or a phone.

Needs Playwright and a Chromium (tests/browser.py says how; skipped without them). With
TILL_SCREENSHOTS=<folder> it saves docs/screenshots/console-till-*.png there.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from accounts import services as accounts
from kernel.config import Settings
from portico.console_app import make_console_app
from tests.ads.test_redemption import claimed_code
from tests.browser import DESKTOP, PHONE, chromium, overflow, serve, shot, watch
from tests.console.test_console_app import PASSWORD, Member, new_member

SCREENSHOTS = os.environ.get("TILL_SCREENSHOTS")


@pytest.fixture
async def console(settings: Settings, db: asyncpg.Pool) -> AsyncIterator[tuple[str, Member, str]]:
    member = await new_member(db, store_name="Riverside Mall · Tea House")
    staff_email = f"staff-{uuid.uuid4().hex}@example.com"
    staff = await accounts.create_user(db, staff_email, "Till 1", PASSWORD)
    await accounts.add_membership(db, member.merchant_id, staff, "staff")
    async with serve(make_console_app(settings, db)) as base:
        yield base, member, staff_email


async def test_the_till_in_chromium(console: tuple[str, Member, str], db: asyncpg.Pool) -> None:
    base, member, staff_email = console
    codes = [await claimed_code(db, member) for _ in range(2)]
    async with chromium() as browser:
        context = await browser.new_context(viewport=DESKTOP, device_scale_factor=1)
        page = await context.new_page()
        problems: list[str] = []
        watch(page, problems, base)
        await page.goto(f"{base}/login?lang=en")
        await page.fill("input[name=email]", staff_email)
        await page.fill("input[name=password]", PASSWORD)
        await page.click("button[type=submit]")
        await page.wait_for_url(f"{base}/dashboard")

        for language, code in (("en", codes[0]), ("zh-CN", codes[1])):
            await page.goto(f"{base}/till?lang={language}")
            await page.click("nav.pages a[href='/till']")
            assert await page.locator("html").get_attribute("lang") == language
            await page.fill("input[name=code]", code.lower().replace("-", " "))
            await page.click("form.code button[type=submit]")
            await page.wait_for_selector("#code-status")
            await shot(page, SCREENSHOTS, f"console-till-check-{language}")
            await page.click("#redeem")
            await page.wait_for_selector("#redeemed")
            assert code in await page.inner_text("#redeemed")
            assert await overflow(page) <= 0, f"the till ({language}) overflows"
            await shot(page, SCREENSHOTS, f"console-till-redeemed-{language}")

        # Undo the latest (a cancelled sale): the code can be used again.
        await page.locator("#till-lines button").first.click()
        await page.wait_for_selector("#undone")
        assert codes[1] in await page.inner_text("#undone")
        assert await page.locator("#till-lines tr.undone").count() == 1
        # A code typed wrong says so beside the field.
        await page.fill("input[name=code]", codes[0][:-1] + ("1" if codes[0][-1] != "1" else "2"))
        await page.click("form.code button[type=submit]")
        await page.wait_for_selector("#code-error")
        assert "券码无效" in await page.inner_text("#code-error")

        await page.set_viewport_size(PHONE)
        await page.goto(f"{base}/till?code={codes[1]}")
        await page.wait_for_selector("#code-status")
        assert await overflow(page) <= 0, "the till overflows a phone screen"
        await shot(page, SCREENSHOTS, "console-till-phone-zh-CN")
        assert problems == [], problems
    states = await db.fetch(
        "SELECT code, state FROM coupon_codes WHERE merchant_id = $1 ORDER BY code",
        member.merchant_id,
    )
    assert {r["code"]: r["state"] for r in states if r["code"] in codes} == {
        codes[0]: "redeemed",
        codes[1]: "claimed",
    }
