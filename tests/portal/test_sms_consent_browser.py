"""The SMS login's marketing-SMS box and "No more offers" in headless Chromium (Playwright), as
a captive mini-browser shows them: a phone screen, no JavaScript, no cookie, in zh-CN and
English. The shopper ticks the box, proves the number, sees the consent and its withdrawal link
on the "you're online" page, and opts out of every offer there. No request to another host, no
script error, nothing wider than the screen.

Needs Playwright and a Chromium (tests/browser.py); skipped, saying which is missing, without
them. With SMS_CONSENT_SCREENSHOTS=<folder> it saves docs/screenshots/portal-sms-consent-*.png
there.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import asyncpg
import pytest

from controller.services import CommandSender
from kernel.config import Settings
from portal.app import make_portal_app
from simulators.router import SimulatedRouter
from tests.browser import chromium, overflow, serve, shot
from tests.factories import Tenant
from tests.portal.test_sms_login import new_client, outbox_code, sms_tenant

SCREENSHOTS = os.environ.get("SMS_CONSENT_SCREENSHOTS")
PHONE_SCREEN = {"width": 390, "height": 844}
TEXTS = {
    "en": (
        "may send me offers by text message",
        "offers by text message",
        "No more offers",
        "will send you no more offers",
    ),
    "zh-CN": ("向此手机号发送优惠短信", "接收优惠短信", "不再接收优惠", "将不再向您发送任何优惠"),
}


@pytest.fixture
async def tenant(db: asyncpg.Pool) -> Tenant:
    return await sms_tenant(db)


@pytest.fixture
async def portal_url(
    settings: Settings, db: asyncpg.Pool, sender: CommandSender
) -> AsyncIterator[str]:
    async with serve(make_portal_app(settings, db, sender)) as base:
        yield base


async def test_the_consent_box_and_no_more_offers_on_a_phone_in_both_languages(
    portal_url: str, router: SimulatedRouter, tenant: Tenant, db: asyncpg.Pool
) -> None:
    host = urlsplit(portal_url).netloc
    problems: list[str] = []
    async with chromium() as browser:
        for n, lang in enumerate(("zh-CN", "en")):
            box, given, button, done = TEXTS[lang]
            client, fas = new_client(router, f"aa:bb:cc:43:00:0{n}", f"10.0.43.{n + 1}")
            context = await browser.new_context(
                viewport=PHONE_SCREEN, java_script_enabled=False, locale=lang
            )
            page = await context.new_page()
            page.on(
                "request",
                lambda r: (
                    problems.append(f"request to another host: {r.url}")
                    if urlsplit(r.url).netloc != host
                    else None
                ),
            )
            page.on(
                "console",
                lambda m: problems.append(f"{m.type}: {m.text}") if m.type == "error" else None,
            )
            await page.goto(f"{portal_url}/fas/{router.router_id}/?fas={fas}&lang={lang}")
            consent = page.locator("#sms-marketing")
            assert await consent.is_visible() and not await consent.is_checked()
            assert box in await page.inner_text("#sms-send")
            await page.fill("#sms-phone", f"1381234560{n}")
            await page.check("#sms-send input[name=accept]")
            await shot(page, SCREENSHOTS, f"portal-sms-consent-splash-{lang}")  # as it comes
            assert await overflow(page) <= 0, f"the splash scrolls sideways ({lang})"
            await page.check("#sms-marketing")
            await page.click("#sms-send-button")
            await page.wait_for_selector("#sms-code")
            await page.fill("#sms-code", await outbox_code(db, tenant.merchant_id))
            await page.click("#sms-verify-button")
            await page.wait_for_url(f"**/fas/{router.router_id}/online**")
            assert client.authenticated
            assert given in await page.inner_text("#consent-given")
            assert button in await page.inner_text("#opt-out")
            await shot(page, SCREENSHOTS, f"portal-sms-consent-online-{lang}")
            assert await overflow(page) <= 0, f"the online page scrolls sideways ({lang})"
            await page.click("#opt-out")
            await page.wait_for_selector("#opted-out")
            assert done in await page.inner_text("#opted-out")
            assert await page.locator("#opt-out").count() == 0
            assert await page.locator("#consent-given").count() == 0
            await shot(page, SCREENSHOTS, f"portal-sms-consent-opted-out-{lang}")
            assert await context.cookies() == []
            await context.close()
    assert problems == []
    rows = await db.fetch(
        "SELECT purpose, withdrawn_via FROM shopper_consents WHERE merchant_id = $1",
        tenant.merchant_id,
    )
    assert [(r["purpose"], r["withdrawn_via"]) for r in rows] == [("marketing_sms", "portal")] * 2
    assert (
        await db.fetchval(
            "SELECT count(*) FROM shopper_opt_outs WHERE merchant_id = $1", tenant.merchant_id
        )
        == 2
    )
