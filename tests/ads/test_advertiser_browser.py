"""The advertiser console's campaign editor and the merchant's approval queue in headless
Chromium (Playwright): an advertiser signs in, makes a campaign, a line item targeting a venue
and uploads its image; the venue's owner approves it. In English and Chinese, on a desktop and
a phone, with no script error, no request to another host and no sideways scrolling.

Needs Playwright and a Chromium (tests/browser.py says how; skipped without them). With
ADS_SCREENSHOTS=<folder> it saves docs/screenshots/console-advertiser-*.png and
console-approvals-*.png there.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from ads import advertisers
from kernel.config import Settings
from portico.console_app import make_console_app
from tests.ads.test_advertiser_pages import new_advertiser, png
from tests.browser import DESKTOP, PHONE, chromium, overflow, serve, shot, watch
from tests.console.test_console_app import PASSWORD, Member, new_member

SCREENSHOTS = os.environ.get("ADS_SCREENSHOTS")


@pytest.fixture
async def console(settings: Settings, db: asyncpg.Pool) -> AsyncIterator[tuple[str, Member]]:
    member = await new_member(db, store_name="Riverside Mall · Ground Floor")
    async with serve(make_console_app(settings, db)) as base:
        yield base, member


async def sign_in(page: Any, base: str, email: str, landing: str) -> None:
    await page.goto(f"{base}/login?lang=en")
    await page.fill("input[name=email]", email)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{base}{landing}")


async def test_the_campaign_editor_and_the_approval_queue_in_chromium(
    console: tuple[str, Member], db: asyncpg.Pool, tmp_path: Path
) -> None:
    base, member = console
    advertiser_id, email = await new_advertiser(db)
    image = tmp_path / "tea.png"
    image.write_bytes(png(800, 400))
    async with chromium() as browser:
        context = await browser.new_context(viewport=DESKTOP, device_scale_factor=1)
        page = await context.new_page()
        problems: list[str] = []
        watch(page, problems, base)
        await sign_in(page, base, email, "/advertiser")

        await page.fill("#c-name", "Spring tea")
        await page.select_option("#c-status", "active")
        await page.fill("#c-holdout", "80")
        await page.click("#new-campaign button[type=submit]")
        await page.wait_for_selector("#form-error")
        assert "Holdout" in await page.inner_text("#form-error")
        assert await page.get_attribute("#c-holdout", "aria-invalid") == "true"
        await page.fill("#c-holdout", "10")
        await page.click("#new-campaign button[type=submit]")
        await page.wait_for_selector("#saved")

        await page.fill("#l-name", "Lunchtime, Riverside")
        await page.fill("#l-bid", "0.80")
        await page.select_option("#l-pricing", "cpc")
        await page.fill("#l-budget", "2000")
        await page.fill("#l-dayparts", "Mon-Fri 11-14, Sat-Sun 10-22")
        await page.fill("#l-merchants", str(member.merchant_id))
        await page.fill("#l-cities", "Shanghai")
        await page.check("input[name=target_languages][value=zh-CN]")
        await page.click("#line-items form button.primary")
        await page.wait_for_selector("#saved")
        assert "Pending" in await page.inner_text("#line-items table")

        await page.fill("#cr-hzh", "翠玉茶馆：春茶买一送一")
        await page.fill("#cr-hen", "Jade Tea House: spring tea, two for one")
        await page.fill("#cr-url", "https://example.com/jade-tea")
        await page.set_input_files("#cr-file", str(image))
        await page.click("#creatives form button.primary")
        await page.wait_for_selector("#saved")
        assert await page.locator("#creatives img.thumb").count() == 1
        await page.fill("#cap-max", "3")
        await page.click("#caps form button.primary")
        await page.wait_for_selector("#saved")

        for language in ("en", "zh-CN"):
            await page.goto(f"{page.url.split('?')[0]}?lang={language}")
            assert await page.locator("html").get_attribute("lang") == language
            assert await overflow(page) <= 0, f"the campaign editor ({language}) overflows"
            await shot(page, SCREENSHOTS, f"console-advertiser-campaign-{language}")
        await page.set_viewport_size(PHONE)
        await page.reload()
        assert await overflow(page) <= 0, "the campaign editor overflows a phone screen"
        await shot(page, SCREENSHOTS, "console-advertiser-campaign-phone-zh-CN")
        await page.goto(f"{base}/advertiser?lang=zh-CN")
        await shot(page, SCREENSHOTS, "console-advertiser-campaigns-phone-zh-CN")

        await context.clear_cookies()
        await page.set_viewport_size(DESKTOP)
        await sign_in(page, base, member.email, "/dashboard")
        await page.click("nav.pages a[href='/approvals']")
        await page.wait_for_selector("#queue .req")
        assert "Spring tea" in await page.inner_text("#queue")
        await shot(page, SCREENSHOTS, "console-approvals-pending-en")
        await page.click("#queue button[value=rejected]")
        await page.wait_for_selector("#form-error")
        await page.fill("#queue input[name=reason]", "Not during our spring sale")
        await page.click("#queue button[value=rejected]")
        await page.wait_for_selector("#saved")
        assert "Not during our spring sale" in await page.inner_text("#queue")
        await page.click("#queue button[value=approved]")
        await page.wait_for_selector("#saved")
        await page.goto(f"{base}/approvals?lang=zh-CN")
        assert "已批准" in await page.inner_text("#queue")
        assert await overflow(page) <= 0, "the approval queue overflows"
        await shot(page, SCREENSHOTS, "console-approvals-zh-CN")
        await page.set_viewport_size(PHONE)
        await page.reload()
        assert await overflow(page) <= 0, "the approval queue overflows a phone screen"
        await shot(page, SCREENSHOTS, "console-approvals-phone-zh-CN")
        assert problems == []

    (request,) = await advertisers.approval_queue(db, member.merchant_id)
    assert (request["advertiser_id"], request["status"]) == (advertiser_id, "approved")
