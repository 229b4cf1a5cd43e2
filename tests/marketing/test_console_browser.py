"""The Marketing pages in headless Chromium (Playwright), as an owner uses them without script:
a tag built from rows, its audience previewed, a row added, a bad value answered beside its
row, the tag saved; a trigger whose test shows the offer on a phone in both languages, puts a
test text in the SMS outbox and shows the signed webhook request; the budget. Each state, in
zh-CN and English at desk and phone widths, logs no script error or CSP violation, requests
nothing from another host, does not scroll sideways and passes the console's basic
accessibility checks (tests/console/test_every_page_browser.py's).

With CONSOLE_SCREENSHOTS=<folder> it saves console-marketing-*.png there (docs/screenshots/).
"""

from __future__ import annotations

import os
from typing import Any

import asyncpg

from kernel.config import Settings
from portico.console_app import make_console_app
from tests.browser import DESKTOP, PHONE, chromium, overflow, serve, shot, watch
from tests.console.test_console_app import PASSWORD, new_member
from tests.console.test_every_page_browser import ACCESSIBILITY
from tests.marketing.test_marketing_console import add_webhook, five_shoppers

SCREENSHOTS = os.environ.get("CONSOLE_SCREENSHOTS")


async def _check(page: Any, label: str, problems: list[str]) -> None:
    """The page at both widths: no sideways scroll, the accessibility checks (it is left at
    the desk width)."""
    for name, size in (("phone", PHONE), ("desk", DESKTOP)):
        await page.set_viewport_size(size)
        await page.wait_for_timeout(30)
        wide = await overflow(page)
        if wide > 0:
            problems.append(f"{label} {name}: {wide} px sideways overflow")
        problems.extend(f"{label} {name}: {found}" for found in await page.evaluate(ACCESSIBILITY))


async def _shot(page: Any, name: str, width: str, language: str) -> None:
    """The page at `width` ("desk" or "phone") as console-marketing-<name>-<width>-<lang>.png
    (left at the desk width)."""
    await page.set_viewport_size(PHONE if width == "phone" else DESKTOP)
    await shot(page, SCREENSHOTS, f"console-marketing-{name}-{width}-{language}")
    await page.set_viewport_size(DESKTOP)


async def test_an_owner_builds_a_tag_and_a_trigger_and_tries_them(
    settings: Settings, db: asyncpg.Pool
) -> None:
    member = await new_member(db, "Harbour Tea")
    await five_shoppers(db, member.merchant_id)
    await db.execute(  # the tags the engine gave them at their latest visit
        "UPDATE marketing_profiles SET tags = CASE WHEN visits_total >= 8"
        ' THEN \'{"frequent": 1, "coupon_redeemer": 1}\'::jsonb'
        " WHEN visits_total = 1 THEN '{\"new\": 1}'::jsonb ELSE '{}'::jsonb END"
        " WHERE merchant_id = $1",
        member.merchant_id,
    )
    webhook_id = await add_webhook(
        db,
        settings.secret_key,
        member.merchant_id,
        "https://crm.example.com/hooks/portico",
        "whsec-browser",
    )
    async with serve(make_console_app(settings, db)) as base, chromium() as browser:
        problems: list[str] = []
        pages = {}
        for language in ("en", "zh-CN"):
            context = await browser.new_context(viewport=DESKTOP, locale=language)
            page = await context.new_page()
            watch(page, problems, base)
            page.on(
                "response",
                lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 500 else None,
            )
            await page.goto(f"{base}/login?lang={language}")
            await page.fill("input[name=email]", member.email)
            await page.fill("input[name=password]", PASSWORD)
            await page.click("button[type=submit]")
            pages[language] = page
        en, zh = pages["en"], pages["zh-CN"]

        # A tag: a row, Preview, one more row, Preview again, a bad value, then saved.
        await en.goto(f"{base}/marketing")
        await en.click("#new-tag")
        await en.fill("#f-tag-id", "regulars")
        await en.fill("#f-name-zh", "老顾客")
        await en.fill("#f-name-en", "Regulars")
        await en.select_option("select[name=fact_0]", "visits_30d")
        await en.select_option("select[name=op_0]", ">=")
        await en.fill("input[name=value_0]", "3")
        await en.click("#preview")
        assert await en.inner_text("#audience-count") == "Shoppers matching now: 3"
        await en.click("#add-row")
        assert await en.locator("#rule-rows li").count() == 3
        assert await en.input_value("input[name=value_0]") == "3"  # kept
        await en.select_option("select[name=fact_1]", "known_identity")
        await en.select_option("select[name=op_1]", "yes")
        await en.click("#preview")
        assert "known by phone, email or voucher" in await en.inner_text("#audience-words")
        assert await en.inner_text("#audience-count") == "Shoppers matching now: 1"
        await _check(en, "tag preview", problems)
        await _shot(en, "tag-preview", "desk", "en")
        await en.fill("input[name=value_0]", "lots")
        await en.click("#save")
        assert await en.inner_text("#error-row_0") == "Enter a whole number from 0 to 100000."
        await _check(en, "tag error", problems)
        await _shot(en, "tag-error", "desk", "en")
        await en.fill("input[name=value_0]", "3")
        await en.click("#save")
        assert await en.inner_text("#marketing-notice") == "The tag was added."

        # The same form in Chinese, previewed on a phone.
        await zh.set_viewport_size(PHONE)
        await zh.goto(f"{base}/marketing/tags/regulars?merchant={member.merchant_id}")
        await zh.click("#preview")
        assert await zh.inner_text("#audience-count") == "当前符合的顾客：1 人"
        await _check(zh, "tag preview zh", problems)
        await _shot(zh, "tag-preview", "phone", "zh-CN")

        # A trigger: the portal's offer on a phone, a test SMS, the webhook's signed request.
        await zh.goto(f"{base}/marketing/triggers/new?merchant={member.merchant_id}")
        await zh.fill("#f-name-zh", "久留送茶")
        await zh.fill("#f-name-en", "Tea for a long stay")
        await zh.select_option("#f-event", "dwell")
        await zh.fill("#f-dwell", "20")
        await zh.select_option("select[name=fact_0]", "visits_30d")
        await zh.fill("input[name=value_0]", "2")
        await zh.check("input[name=tag][value=regulars]")
        await zh.fill("#f-offer", "tea-20")
        await zh.fill("#f-message-zh", "感谢久坐，凭此页面送您一杯热茶。")
        await zh.fill("#f-message-en", "Thanks for staying: a cup of tea on us, show this page.")
        await zh.click("#preview")
        assert await zh.inner_text("#audience-count") == "当前符合的顾客：1 人"
        await zh.click("#send-test")
        assert "凭此页面送您一杯热茶" in await zh.inner_text("#phone-zh-CN")
        assert "a cup of tea on us" in await zh.inner_text("#phone-en")
        await _check(zh, "portal test", problems)
        await _shot(zh, "test-portal", "phone", "zh-CN")
        await zh.select_option("#f-channel", "sms")
        await zh.fill("#f-test-phone", "13800138000")
        await zh.click("#send-test")
        assert "138****8000" in await zh.inner_text("#test-sms")
        await _check(zh, "sms test", problems)
        await zh.select_option("#f-channel", "webhook")
        await zh.select_option("#f-webhook", str(webhook_id))
        await zh.click("#send-test")
        assert "X-Portico-Signature: t=" in await zh.inner_text("#test-request")
        await _check(zh, "webhook test", problems)
        await _shot(zh, "test-webhook", "desk", "zh-CN")
        await zh.select_option("#f-channel", "portal")
        await zh.click("#save")
        assert await zh.inner_text("#marketing-notice") == "触发器已添加。"

        # The budget, and the overview with what was made, in both languages.
        await en.goto(f"{base}/marketing/budget?merchant={member.merchant_id}")
        await en.fill("#f-max_per_day", "60")
        await en.click("#save")
        assert await en.inner_text("#error-max_per_day") == "Enter a whole number from 0 to 50."
        await _check(en, "budget error", problems)
        await _shot(en, "budget-error", "desk", "en")
        await en.fill("#f-max_per_day", "2")
        await en.fill("#f-max_per_week", "4")
        await en.click("#save")
        assert await en.inner_text("#marketing-notice") == "The contact budget was saved."
        for language, page in pages.items():
            await page.goto(f"{base}/marketing?merchant={member.merchant_id}")
            await _check(page, f"overview {language}", problems)
            await _shot(page, "overview", "desk", language)
        await _shot(zh, "overview", "phone", "zh-CN")
    assert not problems, "\n".join(problems)
