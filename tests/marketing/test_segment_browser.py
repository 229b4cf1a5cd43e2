"""The segment pages in headless Chromium (Playwright), without script: an owner builds a
segment from rows, previews its audience, gets a bad value answered beside its row, saves it
shared with advertisers and finds it on the list with its live size; the list and a segment's
page in Chinese on a phone; and an advertiser the merchant approved sees its name and count,
and "fewer than k" for a small one. Each state, in zh-CN and English at desk and phone widths,
logs no script error or CSP violation, requests nothing from another host, does not scroll
sideways and passes the console's basic accessibility checks
(tests/console/test_every_page_browser.py's).

With CONSOLE_SCREENSHOTS=<folder> it saves console-marketing-segment*.png and
console-advertiser-segments-*.png there (docs/screenshots/).
"""

from __future__ import annotations

import os
from typing import Any

import asyncpg

from ads import advertisers
from kernel.config import Settings
from marketing import segments
from marketing.segments import SegmentSpec
from portico.console_app import make_console_app
from tests.browser import DESKTOP, PHONE, chromium, serve, shot, watch
from tests.console.test_console_app import PASSWORD, new_member
from tests.marketing.test_console_browser import _check
from tests.marketing.test_segment_pages import an_advertiser, ask, crowd

SCREENSHOTS = os.environ.get("CONSOLE_SCREENSHOTS")


async def _shot(page: Any, name: str, width: str, language: str) -> None:
    """The page at `width` ("desk" or "phone") as console-<name>-<width>-<lang>.png (left at
    the desk width)."""
    await page.set_viewport_size(PHONE if width == "phone" else DESKTOP)
    await shot(page, SCREENSHOTS, f"console-{name}-{width}-{language}")
    await page.set_viewport_size(DESKTOP)


async def _signed_in(
    browser: Any, base: str, email: str, language: str, problems: list[str]
) -> Any:
    context = await browser.new_context(viewport=DESKTOP, locale=language)
    page = await context.new_page()
    watch(page, problems, base)
    page.on(
        "response",
        lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 500 else None,
    )
    await page.goto(f"{base}/login?lang={language}")
    await page.fill("input[name=email]", email)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    return page


async def test_an_owner_builds_a_segment_and_an_advertiser_sees_its_count(
    settings: Settings, db: asyncpg.Pool
) -> None:
    member = await new_member(db, "Harbour Tea")
    # A name for the screenshots (new_member's is "Merchant <hex>").
    await db.execute(
        "UPDATE merchants SET name = 'Harbour Tea' WHERE merchant_id = $1", member.merchant_id
    )
    await crowd(db, member.merchant_id, regulars=64, once=9)
    await segments.save_segment(
        db,
        member.merchant_id,
        SegmentSpec("新客", "Newcomers", {"fact": "visits_total", "op": "<=", "value": 1}, True),
    )
    advertiser, advertiser_email = await an_advertiser(db, name="Lotus Tea Rooms")
    campaign = await ask(db, advertiser, member.merchant_id)
    await advertisers.decide(db, member.merchant_id, campaign, "approved", "", member.user_id)

    async with serve(make_console_app(settings, db)) as base, chromium() as browser:
        problems: list[str] = []
        en = await _signed_in(browser, base, member.email, "en", problems)
        zh = await _signed_in(browser, base, member.email, "zh-CN", problems)

        # A segment: a row, Preview, a bad value, then saved shared with advertisers.
        await en.goto(f"{base}/marketing")
        await en.click("#new-segment")
        await en.fill("#f-name-zh", "午间常客")
        await en.fill("#f-name-en", "Regulars")
        await en.select_option("select[name=fact_0]", "visits_30d")
        await en.select_option("select[name=op_0]", ">=")
        await en.fill("input[name=value_0]", "3")
        await en.check("#f-shared")
        await en.click("#preview")
        assert await en.inner_text("#audience-count") == "Shoppers matching now: 64"
        assert await en.is_checked("#f-shared")  # kept through the preview
        await _check(en, "segment preview", problems)
        await _shot(en, "marketing-segment-preview", "desk", "en")
        await en.fill("input[name=value_0]", "often")
        await en.click("#save")
        assert await en.inner_text("#error-row_0") == "Enter a whole number from 0 to 100000."
        await _check(en, "segment error", problems)
        await _shot(en, "marketing-segment-error", "desk", "en")
        await en.fill("input[name=value_0]", "3")
        await en.click("#save")
        assert await en.inner_text("#marketing-notice") == "The segment was added."
        await _check(en, "segment list", problems)
        await _shot(en, "marketing-segments", "desk", "en")

        # The list and the saved segment in Chinese, on a phone too.
        await zh.goto(f"{base}/marketing/segments?merchant={member.merchant_id}")
        assert "64 人" in await zh.inner_text("#segment-list")
        assert "广告主可见名称及“少于 50 人”" in await zh.inner_text("#segment-list")
        await _check(zh, "segment list zh", problems)
        await _shot(zh, "marketing-segments", "desk", "zh-CN")
        await _shot(zh, "marketing-segments", "phone", "zh-CN")
        await zh.click("text=午间常客")
        assert await zh.inner_text("#segment-size") == "当前人数：64 人"
        await zh.set_viewport_size(PHONE)
        await zh.click("#preview")
        assert await zh.inner_text("#audience-count") == "当前符合的顾客：64 人"
        await _check(zh, "segment page zh", problems)
        await _shot(zh, "marketing-segment", "phone", "zh-CN")

        # The advertiser's page: the count of the large one, "fewer than 50" for the small.
        pages = {
            language: await _signed_in(browser, base, advertiser_email, language, problems)
            for language in ("en", "zh-CN")
        }
        for language, page in pages.items():
            await page.goto(f"{base}/advertiser")
            await page.click("#segments-link")
            table = await page.inner_text(f"#venue-{member.merchant_id}")
            if language == "en":
                assert "Regulars\t64" in table and "Newcomers\tfewer than 50" in table
            else:
                assert "午间常客\t64 人" in table and "新客\t少于 50 人" in table
            await _check(page, f"advertiser segments {language}", problems)
            await _shot(page, "advertiser-segments", "desk", language)
        await _shot(pages["zh-CN"], "advertiser-segments", "phone", "zh-CN")
    assert not problems, "\n".join(problems)
