"""A new merchant's first minutes in headless Chromium (Playwright): sign up, open the link
from the development email outbox, see the first-run checklist, add a store (a bad time comes
back with its error beside it), find it on the Stores page and in the Audit log. Every page in
both languages logs no script error or CSP violation, requests nothing from another host, and
does not overflow a desktop or a phone screen.

Needs Playwright (`pip install playwright`) and a Chromium (`apt-get install chromium`;
PORTICO_CHROMIUM names another binary); skipped, saying which is missing, without them.
With CONSOLE_SCREENSHOTS=<folder> it saves console-*.png there (docs/screenshots/).
"""

from __future__ import annotations

import dataclasses
import os
import uuid

import asyncpg

from accounts import audit
from accounts import services as accounts
from kernel.config import Settings
from portico.console_app import make_console_app
from tests.browser import DESKTOP, PHONE, chromium, overflow, serve, shot, watch

SCREENSHOTS = os.environ.get("CONSOLE_SCREENSHOTS")


async def test_sign_up_add_a_store_and_find_it_in_the_log(
    settings: Settings, db: asyncpg.Pool
) -> None:
    own = dataclasses.replace(settings, secret_key=f"browser-{uuid.uuid4().hex}" + "x" * 32)
    address = f"owner-{uuid.uuid4().hex[:12]}@example.com"
    async with serve(make_console_app(own, db)) as base, chromium() as browser:
        page = await (await browser.new_context(viewport=DESKTOP)).new_page()
        problems: list[str] = []
        watch(page, problems, base)

        await page.goto(f"{base}/login?lang=en")
        await page.click("#signup-link")
        await page.fill("#f-merchant", "Blue Door Café")
        await page.fill("#f-email", address)
        await page.fill("#f-password", "short")
        await page.click(".signin button[type=submit]")
        assert await page.locator("#error-password").is_visible()
        await shot(page, SCREENSHOTS, "console-signup-error-en")
        await page.fill("#f-password", "a long enough password")
        await page.click(".signin button[type=submit]")
        await page.wait_for_url(f"{base}/signup/sent")
        await page.click("#signup-outbox a")
        await shot(page, SCREENSHOTS, "console-email-outbox-en")
        link = page.locator("#email-outbox tr", has_text=address).locator("a").first
        href = await link.get_attribute("href")  # on the console's public URL: here, on base
        assert href is not None and "/signup/verify?token=" in href
        await page.goto(base + "/" + href.split("/", 3)[3])
        await page.click("#signup-verify")
        await page.wait_for_url(f"{base}/dashboard")
        assert "0 of 4 done" in await page.locator("#checklist").inner_text()
        await shot(page, SCREENSHOTS, "console-checklist-en")

        await page.click("#step-store a")
        await page.fill("#f-name", "Harbour Branch")
        await page.fill("#f-city", "Ningbo")
        await page.select_option("#f-category", "food")
        await page.fill("input[name=mon_opens]", "09:00")
        await page.click(".store-form button[type=submit]")  # Monday has no closing time
        error = page.locator("#error-mon_hours")
        assert await error.is_visible()
        assert "both the opening and the closing time" in await error.inner_text()
        await shot(page, SCREENSHOTS, "console-store-error-en")
        await page.fill("input[name=mon_closes]", "21:30")
        await page.click(".store-form button[type=submit]")
        await page.wait_for_url(f"{base}/stores?*")
        assert "Mon 09:00–21:30" in await page.locator("#stores").inner_text()

        user_id = await accounts.user_id_by_email(db, address)
        [membership] = await accounts.memberships_of(db, user_id)
        log = await audit.entries(db, membership.merchant_id)
        assert [e.action for e in log] == ["store.create", "membership.create", "merchant.create"]

        for size, label in ((DESKTOP, "desk"), (PHONE, "phone")):
            await page.set_viewport_size(size)
            for path in ("/dashboard", "/stores", "/stores/new", "/audit", "/signup"):
                for language in ("en", "zh-CN"):
                    response = await page.goto(f"{base}{path}?lang={language}")
                    assert response is not None and response.status == 200, (path, language)
                    assert await overflow(page) <= 0, f"{path} ({language}) overflows {label}"
                    name = path.strip("/").replace("/", "-")
                    await shot(page, SCREENSHOTS, f"console-{name}-{label}-{language}")
        assert problems == [], problems
