"""The SMS code login in headless Chromium (Playwright), in zh-CN and English: from the splash
a phone opens to the "you're online" page, with a simulated router on the real broker; then the
merchant's console shows the texts in its SMS outbox, where its owner replies to them as the
shoppers would (development). No request goes to another host, no script is needed, nothing
breaks the Content-Security-Policy.

Needs Playwright (`pip install playwright`) and a Chromium (`apt-get install chromium
fonts-noto-cjk`; PORTICO_CHROMIUM names another binary); skipped, saying which is missing,
without them. With SMS_SCREENSHOTS=<folder> it saves docs/screenshots/portal-sms-*.png and
console-sms-outbox-*.png there (with a shopper's simulated reply: console-sms-outbox-replied-*).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import asyncpg
import pytest
from aiohttp.test_utils import TestServer

from accounts import services as accounts
from controller.services import CommandSender
from kernel.config import Settings
from portal import identities, sms_consent
from portal.app import make_portal_app
from portico.console_app import make_console_app
from simulators.router import SimulatedRouter
from tests.browser import chromium, serve, shot
from tests.factories import Tenant
from tests.portal.test_sms_login import new_client, outbox_code, sms_tenant

SCREENSHOTS = os.environ.get("SMS_SCREENSHOTS")
PHONE_SCREEN = {"width": 390, "height": 760}
DESKTOP = {"width": 1100, "height": 640}
PASSWORD = "correct horse battery"
# A reply each: from which number, what, and what the page then says.
REPLIES = {
    "en": ("138****5670", "T", "Marketing-text consents of that number ended: 1."),
    "zh-CN": ("138****5671", "谢谢", "不是退订词，未作任何更改"),
}
TEXTS = {
    "en": ("Send me a code", "Enter your code", "You're online"),
    "zh-CN": ("获取验证码", "输入验证码", "您已连接网络"),
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


async def test_sms_login_in_chromium_in_both_languages(
    portal_url: str,
    router: SimulatedRouter,
    tenant: Tenant,
    db: asyncpg.Pool,
    settings: Settings,
) -> None:
    host = urlsplit(portal_url).netloc
    problems: list[str] = []
    refusals: list[str] = []
    async with chromium() as browser:
        for n, (lang, phone) in enumerate([("zh-CN", "13812345670"), ("en", "13812345671")]):
            send_label, code_title, online = TEXTS[lang]
            client, fas = new_client(router, f"aa:bb:cc:30:00:0{n}", f"10.0.3.{n + 1}")
            # A captive mini-browser: a phone screen, no JavaScript, no cookies kept.
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
                lambda m: (
                    problems.append(f"{m.type}: {m.text}")
                    if m.type == "error" and "Failed to load resource" not in m.text
                    else None
                ),
            )
            # Every answer is a success but the wrong code's page (the browser's own
            # favicon ask aside).
            page.on(
                "response",
                lambda r: (
                    refusals.append(f"{r.status} {urlsplit(r.url).path}")
                    if r.status >= 400 and not r.url.endswith("/favicon.ico")
                    else None
                ),
            )
            splash = await page.goto(f"{portal_url}/fas/{router.router_id}/?fas={fas}")
            assert splash is not None and splash.ok
            assert len(await splash.body()) < 60 * 1024
            assert send_label in await page.content()
            await shot(page, SCREENSHOTS, f"portal-sms-splash-{lang}")
            await page.fill("#sms-phone", phone)
            await page.check("input[name=accept]")
            await page.click("#sms-send-button")
            await page.wait_for_selector("#sms-code")
            assert code_title in await page.content()
            code = await outbox_code(db, tenant.merchant_id)
            if lang == "zh-CN":  # a wrong code first: the page says so and asks again
                await page.fill("#sms-code", f"{(int(code) + 1) % 10**6:06d}")
                await page.click("#sms-verify-button")
                await page.wait_for_selector("#sms-error")
                assert "您还可以再试 4 次" in await page.inner_text("#sms-error")
                await shot(page, SCREENSHOTS, "portal-sms-wrong-code-zh-CN")
            else:
                await shot(page, SCREENSHOTS, f"portal-sms-code-{lang}")
            await page.fill("#sms-code", code)
            await page.click("#sms-verify-button")
            await page.wait_for_url(f"**/fas/{router.router_id}/online**")
            assert online in await page.content()
            assert client.authenticated
            await shot(page, SCREENSHOTS, f"portal-sms-online-{lang}")
            assert await context.cookies() == []
            await context.close()
        await _console_outbox(browser, settings, db, tenant)
    assert problems == []
    assert refusals == [f"400 /fas/{router.router_id}/sms/verify"]
    methods = await db.fetch(
        "SELECT method, identity_hash FROM portal_sessions WHERE merchant_id = $1",
        tenant.merchant_id,
    )
    assert [r["method"] for r in methods] == ["sms", "sms"]
    assert all(r["identity_hash"] for r in methods)


async def _console_outbox(
    browser: object, settings: Settings, db: asyncpg.Pool, tenant: Tenant
) -> None:
    """The merchant's owner signs in to the console, reads the two texts and replies to them
    as their shoppers would."""
    identity = (
        identities.identify(settings.secret_key, tenant.merchant_id, "phone", "+8613812345670").hash
    )  # the first phone agreed to marketing texts (at the login: tests/portal/test_sms_consent.py)
    await sms_consent.give(db, tenant.merchant_id, identity, tenant.store_id, "sms-1")
    email = f"owner-{uuid.uuid4().hex}@example.com"
    user_id = await accounts.create_user(db, email, "Owner", PASSWORD)
    await accounts.add_membership(db, tenant.merchant_id, user_id, "owner")
    server = TestServer(make_console_app(settings, db), host="127.0.0.1")
    await server.start_server()
    try:
        base = str(server.make_url("")).rstrip("/")
        for lang in ("en", "zh-CN"):
            context = await browser.new_context(viewport=DESKTOP, locale=lang)  # type: ignore[attr-defined]
            page = await context.new_page()
            await page.goto(f"{base}/login?lang={lang}")
            await page.fill("input[name=email]", email)
            await page.fill("input[name=password]", PASSWORD)
            await page.click("button[type=submit]")
            await page.wait_for_url(f"{base}/dashboard")
            await page.goto(f"{base}/sms-outbox?lang={lang}")
            rows = await page.locator("#sms-outbox tbody tr").count()
            assert rows == 2
            text = await page.inner_text("#sms-outbox")
            assert "138****5670" in text and "138****5671" in text
            assert "13812345670" not in await page.content()
            await shot(page, SCREENSHOTS, f"console-sms-outbox-{lang}")
            # Reply as the shopper would (development): a "T" from the number that agreed to
            # marketing texts ends its consent; a thank-you changes nothing.
            masked, typed, said = REPLIES[lang]
            row = page.locator("#sms-outbox tbody tr", has_text=masked)
            await row.locator("input[name=reply]").fill(typed)
            await row.locator("button[type=submit]").click()
            await page.wait_for_selector("#sms-replied")
            assert said in await page.inner_text("#sms-replied")
            await shot(page, SCREENSHOTS, f"console-sms-outbox-replied-{lang}")
            await context.close()
    finally:
        await server.close()
