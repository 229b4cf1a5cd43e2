"""The advertiser's campaign report in headless Chromium (Playwright): a viewer signs in and
reads it in English and Chinese, on a desktop and a phone, with no script error, no request to
another host and no sideways scrolling. Skipped without Playwright and Chromium
(tests/browser.py). With ADS_SCREENSHOTS=<folder> it saves console-ad-report-*.png there."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from ads import demo_history
from kernel.config import Settings
from portico import demo
from portico.console_app import make_console_app
from tests.ads.test_ad_reports import Seed, people
from tests.ads.test_advertiser_browser import sign_in
from tests.ads.test_advertiser_pages import new_advertiser
from tests.ads.test_report_pages import campaign_of
from tests.browser import DESKTOP, PHONE, chromium, overflow, serve, shot, watch
from tests.console.test_console_app import new_member

SCREENSHOTS = os.environ.get("ADS_SCREENSHOTS")


@pytest.fixture
async def console(settings: Settings, db: asyncpg.Pool) -> AsyncIterator[str]:
    async with serve(make_console_app(settings, db)) as base:
        yield base


async def test_the_campaign_report_in_chromium(console: str, db: asyncpg.Pool) -> None:
    base = console
    advertiser_id, email = await new_advertiser(db, role="viewer")
    seed = await campaign_of(db, advertiser_id)
    at = datetime.now(UTC) - timedelta(hours=2)
    seed.now = at
    exposed, holdout = people("e", 400), people("h", 120)
    await seed.events("impression", exposed, at=at, each=2)
    await seed.events("click", exposed[:36], at=at)
    await seed.events("ghost", holdout, at=at)
    await seed.claims(exposed[:88], redeem=False)
    await seed.claims(exposed[88:140], redeem=True)
    await seed.claims(holdout[:8])
    await seed.claims(holdout[8:12], redeem=True)  # 4 redeemers: hidden, and their lift
    url = f"{base}/advertiser/campaigns/{seed.made.campaign_id}/report"
    async with chromium() as browser:
        context = await browser.new_context(viewport=DESKTOP, device_scale_factor=1)
        page = await context.new_page()
        problems: list[str] = []
        watch(page, problems, base)
        await sign_in(page, base, email, "/advertiser")
        for language in ("en", "zh-CN"):
            await page.goto(f"{url}?lang={language}")
            await page.wait_for_selector("#lift")
            assert await overflow(page) <= 0, f"the report ({language}) overflows"
            await shot(page, SCREENSHOTS, f"console-ad-report-{language}")
        lift = await page.inner_text("#lift")
        assert "个百分点" in lift  # claims' lift shown
        assert "尚不足" in lift  # the holdout redeemed nothing below 10: no lift for that
        await page.set_viewport_size(PHONE)
        await page.goto(f"{url}?lang=zh-CN")
        assert await overflow(page) <= 0, "the report overflows a phone screen"
        await shot(page, SCREENSHOTS, "console-ad-report-phone-zh-CN")
        assert problems == []


async def test_the_merchants_report_in_chromium(console: str, db: asyncpg.Pool) -> None:
    base = console
    member = await new_member(db, store_name="Riverside Mall · Ground Floor")
    advertiser_id, _ = await new_advertiser(db)
    seed = await campaign_of(db, advertiser_id)
    here = Seed(db, member.merchant_id, seed.made)
    await here.coupon()  # the campaign's coupon at this venue
    at = datetime.now(UTC) - timedelta(hours=2)
    here.now = at
    await here.events("impression", people("e", 260), at=at)
    await here.events("click", people("e", 31), at=at)
    await here.events("ghost", people("h", 70), at=at)
    await here.claims(people("e", 40))
    async with chromium() as browser:
        context = await browser.new_context(viewport=PHONE, device_scale_factor=1)
        page = await context.new_page()
        problems: list[str] = []
        watch(page, problems, base)
        await sign_in(page, base, member.email, "/dashboard")
        await page.goto(f"{base}/approvals?lang=zh-CN")
        await page.click("#ad-reports-link")
        await page.click("#campaigns a")
        await page.wait_for_selector("#lift")
        assert "260" in await page.inner_text("#delivery")
        assert await overflow(page) <= 0, "the merchant's report overflows a phone screen"
        await shot(page, SCREENSHOTS, "console-ad-report-merchant-phone-zh-CN")
        assert problems == []


async def test_the_demo_advertisers_report_in_chromium(console: str, db: asyncpg.Pool) -> None:
    """After the demo's seed, its advertiser reads its past campaign's report, numbers and
    lifts shown (ads/demo_history.py)."""
    base = console
    async with db.acquire() as conn:
        merchant_id = await demo.seed(conn)
    await demo.seed_advertiser(db, merchant_id)
    campaign_id = await db.fetchval(
        "SELECT campaign_id FROM ad_campaigns WHERE name = $1", demo_history.NAME
    )
    async with chromium() as browser:
        context = await browser.new_context(viewport=DESKTOP, device_scale_factor=1)
        page = await context.new_page()
        problems: list[str] = []
        watch(page, problems, base)
        await page.goto(f"{base}/login?lang=en")
        await page.fill("input[name=email]", demo.DEMO_ADVERTISER_EMAIL)
        await page.fill("input[name=password]", demo.DEMO_PASSWORD)
        await page.click("button[type=submit]")
        await page.wait_for_url(f"{base}/advertiser")
        await page.click(f"a[href*='{campaign_id}']")
        await page.click("#report-link")
        await page.wait_for_selector("#lift")
        # the flight ended 3 days ago: the default range (30 days to today) holds it all
        lift = await page.inner_text("#lift")
        assert "not enough" not in lift and lift.count("pts") == 3
        assert "fewer than" not in await page.inner_text("#outcomes")
        await shot(page, SCREENSHOTS, "console-ad-report-demo-en")
        assert problems == []
