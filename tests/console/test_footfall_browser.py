"""The footfall dashboards in headless Chromium (Playwright): every page in both languages draws
its charts from the locally served chart.js, breaks no Content-Security-Policy rule, logs no
script error and does not overflow a desktop or a phone screen.

Needs Playwright (`pip install playwright`) and a Chromium (`apt-get install chromium`;
PORTICO_CHROMIUM names another binary); skipped, saying which is missing, without them.
With FOOTFALL_SCREENSHOTS=<folder> it also saves a screenshot of each page there
(docs/screenshots/footfall-*.png were taken so, with FOOTFALL_DEMO_DAYS=57).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import asyncpg
import pytest

from accounts import services as accounts
from analytics.dashboard_assets import ASSETS
from kernel.config import Settings
from portico.console_app import make_console_app
from simulators.shoppers import cafe, mall_store
from tests.browser import DESKTOP, PHONE, chromium, overflow, serve
from tests.console.footfall_demo import seed_day, seed_days
from tests.console.test_console_app import PASSWORD, Member, new_member

SCREENSHOTS = os.environ.get("FOOTFALL_SCREENSHOTS")
DAYS = int(os.environ.get("FOOTFALL_DEMO_DAYS", "9"))
PAGES = {
    "overview": ("/footfall", "chart-hours"),
    "trends": ("/footfall/trends?granularity=day", "chart-trend"),
    "dwell": ("/footfall/dwell", "chart-dwell"),
    "heatmap": ("/footfall/heatmap", None),
    "stores": ("/footfall/stores", "chart-stores"),
}


@pytest.fixture
async def console(settings: Settings, db: asyncpg.Pool) -> AsyncIterator[tuple[str, Member]]:
    """The console on a real port, with a merchant whose two stores have DAYS of footfall."""
    member = await new_member(db, store_name="Riverside Mall · Ground Floor")
    first = await accounts.get_store(db, member.merchant_id, member.store_id)
    second_id = await accounts.create_store(
        db, member.merchant_id, "Riverside Mall · Café", "Asia/Shanghai"
    )
    second = await accounts.get_store(db, member.merchant_id, second_id)
    assert first is not None and second is not None
    scale = 0.3 if SCREENSHOTS else 0.12
    profiles = [
        (first, mall_store(first.name, ["ap-gf-1", "ap-gf-2"], scale), 7),
        (second, cafe(second.name, ["ap-cafe-1"], scale * 1.5), 9),
    ]
    # The days before today, then today up to the moment the pages are looked at: "in the
    # store now" needs the last 10 minutes.
    today = datetime.now(UTC)
    for store, profile, seed in profiles:
        await seed_days(db, store, profile, DAYS - 1, today - timedelta(days=1), seed)
    for store, profile, seed in profiles:
        local_today = datetime.now(UTC).astimezone(ZoneInfo(store.timezone)).date()
        await seed_day(db, store, profile, local_today, datetime.now(UTC), seed)
    app = make_console_app(settings, db)
    if app[ASSETS].chart is None:
        pytest.skip("chart.js is not installed (node_modules/chart.js; run make with npm)")
    async with serve(app) as base:
        yield base, member


async def _sign_in(page: object, base: str, member: Member) -> None:
    await page.goto(f"{base}/login?lang=en")  # type: ignore[attr-defined]
    await page.fill("input[name=email]", member.email)  # type: ignore[attr-defined]
    await page.fill("input[name=password]", PASSWORD)  # type: ignore[attr-defined]
    await page.click("button[type=submit]")  # type: ignore[attr-defined]
    await page.wait_for_url(f"{base}/dashboard")  # type: ignore[attr-defined]


async def _drawn_canvases(page: object) -> list[str]:
    """The ids of the charts whose canvas has something painted on it."""
    return await page.evaluate(  # type: ignore[attr-defined]
        """() => [...document.querySelectorAll('.ff-chart.drawn canvas')].filter(c => {
            const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            for (let i = 3; i < d.length; i += 4) if (d[i] > 0) return true;
            return false;
        }).map(c => c.id)"""
    )


async def test_dashboards_in_chromium(console: tuple[str, Member]) -> None:
    base, member = console
    async with chromium() as browser:
        context = await browser.new_context(viewport=DESKTOP, device_scale_factor=1)
        page = await context.new_page()
        problems: list[str] = []
        page.on(
            "console",
            lambda m: (
                problems.append(f"{m.type}: {m.text}")
                if m.type in ("error", "warning") and "Failed to load resource" not in m.text
                else None
            ),
        )
        # Every request the pages make must succeed (but the browser's own favicon ask).
        page.on(
            "response",
            lambda r: (
                problems.append(f"{r.status} {r.url}")
                if r.status >= 400 and not r.url.endswith("/favicon.ico")
                else None
            ),
        )
        page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
        await _sign_in(page, base, member)
        for language in ("en", "zh-CN"):
            for name, (path, chart) in PAGES.items():
                joiner = "&" if "?" in path else "?"
                response = await page.goto(f"{base}{path}{joiner}lang={language}")
                assert response is not None and response.status == 200, (name, language)
                await page.wait_for_load_state("networkidle")
                assert await page.locator("html").get_attribute("lang") == language
                drawn = await _drawn_canvases(page)
                if chart:
                    assert chart in drawn, f"{name} ({language}): chart not drawn"
                assert await overflow(page) <= 0, f"{name} ({language}) overflows"
                assert await page.locator("table").count() > 0
                if SCREENSHOTS:
                    suffix = "en" if language == "en" else "zh-CN"
                    await page.screenshot(
                        path=f"{SCREENSHOTS}/footfall-{name}-{suffix}.png", full_page=True
                    )
        # A phone: the same pages fit, the heatmap scrolls inside its own box.
        await page.set_viewport_size(PHONE)
        for name, (path, _chart) in PAGES.items():
            await page.goto(f"{base}{path}")
            await page.wait_for_load_state("networkidle")
            assert await overflow(page) <= 0, f"{name} overflows a phone screen"
            if SCREENSHOTS and name in ("overview", "heatmap"):
                await page.screenshot(
                    path=f"{SCREENSHOTS}/footfall-{name}-phone-zh-CN.png", full_page=True
                )
        assert problems == [], problems
