"""A trigger's closed-loop report in headless Chromium (Playwright), over the demo's own history
(portico/demo_closed_loop.py: three weeks of the demo stores' shoppers, the triggers set off,
the shoppers reacting): reached from the Marketing overview, its two charts drawn by the
console's chart script from chart.js served locally, in zh-CN and English at desk and phone
widths without script errors, CSP violations, requests elsewhere, sideways scroll or the basic
accessibility problems (tests/console/test_every_page_browser.py's); a range chosen with the
form; and without script, the same numbers in the tables, the charts' places hidden.

With CONSOLE_SCREENSHOTS=<folder> it saves console-marketing-report-*.png there
(docs/screenshots/).
"""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

from accounts import services as accounts
from kernel.config import Settings
from portico import demo, demo_marketing
from portico.console_app import make_console_app
from tests.browser import DESKTOP, PHONE, chromium, overflow, serve, shot, watch
from tests.console.test_console_app import PASSWORD
from tests.console.test_every_page_browser import ACCESSIBILITY
from tests.portico.test_demo_closed_loop import a_mall, trigger_named

SCREENSHOTS = os.environ.get("CONSOLE_SCREENSHOTS")
DAYS = 21


async def _check(page: Any, label: str, problems: list[str]) -> None:
    for name, size in (("phone", PHONE), ("desk", DESKTOP)):
        await page.set_viewport_size(size)
        await page.wait_for_timeout(50)
        wide = await overflow(page)
        if wide > 0:
            problems.append(f"{label} {name}: {wide} px sideways overflow")
        problems.extend(f"{label} {name}: {found}" for found in await page.evaluate(ACCESSIBILITY))


async def _drawn(page: Any) -> None:
    """Both charts drawn (footfall.js marks a chart's box when chart.js has drawn in it)."""
    await page.wait_for_function(
        "() => document.querySelectorAll('.mkr-chart.drawn canvas').length === 2"
    )


async def test_the_report_of_the_demos_history_in_a_browser(
    settings: Settings, db: asyncpg.Pool
) -> None:
    merchant_id = await a_mall(db)
    email = f"owner-{uuid.uuid4().hex}@example.com"
    user = await accounts.create_user(db, email, "Owner", PASSWORD)
    await accounts.add_membership(db, merchant_id, user, "owner")
    now = datetime.now(UTC).timestamp()
    await demo_marketing.prepare(settings, db, merchant_id, demo.store_zones(), days=DAYS, now=now)
    welcome = await trigger_named(db, merchant_id, "First visit welcome")
    today = datetime.fromtimestamp(now, ZoneInfo("Asia/Shanghai")).date()
    first = today - timedelta(days=DAYS)

    async with serve(make_console_app(settings, db)) as base, chromium() as browser:
        problems: list[str] = []
        pages = {}
        for language in ("en", "zh-CN"):
            context = await browser.new_context(viewport=DESKTOP, locale=language)
            page = await context.new_page()
            watch(page, problems, base)
            page.on(
                "response",
                lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 else None,
            )
            await page.goto(f"{base}/login?lang={language}")
            await page.fill("input[name=email]", email)
            await page.fill("input[name=password]", PASSWORD)
            await page.click("button[type=submit]")
            pages[language] = page
        en, zh = pages["en"], pages["zh-CN"]

        # From the overview's row, the last 30 days; then the history's days, by the form.
        await en.goto(f"{base}/marketing")
        await en.click(f"#report-{welcome}")
        await _drawn(en)
        assert await en.input_value("#f-to") == today.isoformat()
        await en.fill("#f-from", first.isoformat())
        await en.click("#show")
        await _drawn(en)
        assert f"from={first}" in en.url
        treated = await en.locator("#arm-treatment td").all_inner_texts()
        held = await en.locator("#arm-holdout td").all_inner_texts()
        assert int(treated[0].replace(",", "")) > 1000 and int(held[0].replace(",", "")) > 50
        uplift = await en.inner_text("#uplift-redemption")
        assert "pts" in uplift and "95 %:" in uplift
        assert await en.locator("#day-table tbody tr").count() >= DAYS
        await _check(en, "report en", problems)
        await shot(en, SCREENSHOTS, "console-marketing-report-desk-en")

        await zh.goto(en.url)
        await _drawn(zh)
        assert "个百分点" in await zh.inner_text("#uplift-redemption")
        assert (await zh.locator("#arm-treatment td").all_inner_texts())[0] == treated[0]
        await _check(zh, "report zh-CN", problems)
        await shot(zh, SCREENSHOTS, "console-marketing-report-desk-zh-CN")
        await zh.set_viewport_size(PHONE)
        await _drawn(zh)
        await shot(zh, SCREENSHOTS, "console-marketing-report-phone-zh-CN")

        # Without script: the same numbers, and no empty boxes where the charts would be.
        bare = await browser.new_context(viewport=DESKTOP, locale="en", java_script_enabled=False)
        plain = await bare.new_page()
        watch(plain, problems, base)
        await plain.goto(f"{base}/login?lang=en")
        await plain.fill("input[name=email]", email)
        await plain.fill("input[name=password]", PASSWORD)
        await plain.click("button[type=submit]")
        await plain.goto(en.url)
        assert await plain.locator("#arm-treatment td").all_inner_texts() == treated
        assert await plain.locator("#arm-holdout td").all_inner_texts() == held
        assert not await plain.locator(".mkr-figure").first.is_visible()
        assert await plain.locator("#day-table").is_visible()
        await shot(plain, SCREENSHOTS, "console-marketing-report-noscript-desk-en")
    assert not problems, "\n".join(problems)
