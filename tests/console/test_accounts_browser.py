"""Team, invitations, password reset, sessions and the operator's pages in headless Chromium
(Playwright): an owner invites staff, the invitee joins from the outbox link in a browser of
their own, a password is reset from its email, the owner sees their sessions, an operator
suspends the merchant and its owner sees why, and a plan's limit of 0 comes back with its
error. Every page in both languages at phone and desk widths logs no script error or CSP
violation, requests nothing from another host and does not scroll sideways. With
CONSOLE_SCREENSHOTS=<folder> it saves console-*.png there.
"""

from __future__ import annotations

import dataclasses
import os
import re
import uuid
from typing import Any

import asyncpg

from accounts import operators, plans
from accounts import services as accounts
from kernel.config import Settings
from portico.console_app import make_console_app
from tests.browser import DESKTOP, PHONE, chromium, overflow, serve, shot, watch
from tests.console.test_console_app import PASSWORD, new_member

SCREENSHOTS = os.environ.get("CONSOLE_SCREENSHOTS")


async def _sign_in(page: Any, base: str, email: str, password: str = PASSWORD) -> None:
    await page.goto(f"{base}/login?lang=en")
    await page.fill("#email", email)
    await page.fill("#password", password)
    await page.click(".signin button[type=submit]")
    await page.wait_for_load_state()


async def _link(db: asyncpg.Pool, address: str, path: str) -> str:
    body = await db.fetchval(
        "SELECT body FROM email_outbox WHERE to_address = $1 ORDER BY created_at DESC LIMIT 1",
        address,
    )
    match = re.search(rf"http://\S+({re.escape(path)}\?token=[A-Za-z0-9_-]+)", body or "")
    assert match, body
    return match.group(1)


async def test_team_reset_sessions_and_operator_pages(settings: Settings, db: asyncpg.Pool) -> None:
    own = dataclasses.replace(settings, secret_key=f"browser-{uuid.uuid4().hex}" + "x" * 32)
    member = await new_member(db)
    staff_address = f"staff-{uuid.uuid4().hex[:10]}@example.com"
    operator_email = f"ops-{uuid.uuid4().hex[:10]}@example.com"
    operator_id = await accounts.create_user(db, operator_email, "Platform Ops", PASSWORD)
    await operators.grant(db, operator_id)
    problems: list[str] = []
    async with serve(make_console_app(own, db)) as base, chromium() as browser:
        owner = await (await browser.new_context(viewport=DESKTOP)).new_page()
        watch(owner, problems, base)
        await _sign_in(owner, base, member.email)

        await owner.goto(f"{base}/team?lang=en")
        await owner.fill("#f-email", staff_address)
        await owner.check("input[name=role][value=staff]")
        await owner.click("#invite-send")  # no store ticked: the error beside the stores
        assert await owner.locator("#error-stores").is_visible()
        await owner.check(f"input[name=store][value='{member.store_id}']")
        await owner.click("#invite-send")
        await owner.wait_for_url(f"{base}/team?*")
        assert staff_address in await owner.locator("#invitations").inner_text()
        await shot(owner, SCREENSHOTS, "console-team-invited-en")

        invitee = await (await browser.new_context(viewport=PHONE)).new_page()
        watch(invitee, problems, base)
        await invitee.goto(base + await _link(db, staff_address, "/invite") + "&lang=zh-CN")
        await invitee.fill("#f-name", "林梅")
        await invitee.fill("#f-password", "a long staff password")
        await shot(invitee, SCREENSHOTS, "console-invite-accept-phone-zh-CN")
        await invitee.click("#invite-accept")
        await invitee.wait_for_url(f"{base}/dashboard")
        assert member.store_name in await invitee.content()

        await owner.goto(f"{base}/team?lang=en")
        assert "林梅" in await owner.locator("#members").inner_text()
        staff_id = await accounts.user_id_by_email(db, staff_address)

        reset = await (await browser.new_context(viewport=PHONE)).new_page()
        watch(reset, problems, base)
        await reset.goto(f"{base}/login?lang=en")
        await reset.click("#forgot-link")
        await reset.fill("#f-email", staff_address)
        await reset.click("#reset-send")
        assert "If " in await reset.locator("#reset-sent").inner_text()
        for _wait in range(40):  # sent in the background
            if await db.fetchval(
                "SELECT count(*) FROM email_outbox WHERE to_address = $1 AND body LIKE '%reset%'",
                staff_address,
            ):
                break
            await reset.wait_for_timeout(50)
        await reset.goto(base + await _link(db, staff_address, "/password/reset"))
        await shot(reset, SCREENSHOTS, "console-password-reset-phone-en")
        await reset.fill("#f-password", "another long password")
        await reset.click("#reset-set")
        assert "Your password was changed" in await reset.locator("#login-notice").inner_text()
        await invitee.goto(f"{base}/dashboard")  # the reset ended the invitee's session
        assert "/login" in invitee.url

        ops = await (await browser.new_context(viewport=DESKTOP)).new_page()
        watch(ops, problems, base)
        await _sign_in(ops, base, operator_email)
        assert ops.url.startswith(f"{base}/operator")
        row = ops.locator(f"#merchant-{member.merchant_id}")
        await row.locator("select").select_option("standard")
        await row.locator("form").first.locator("button").click()
        await ops.wait_for_url(f"{base}/operator?*")
        await ops.locator(f"#merchant-{member.merchant_id} form").nth(1).locator("button").click()
        await ops.wait_for_url(f"{base}/operator?notice=suspended")
        await shot(ops, SCREENSHOTS, "console-operator-desk-en")
        await owner.goto(f"{base}/dashboard?lang=en")
        assert "is suspended by Portico" in await owner.locator("#suspended-notice").inner_text()
        await shot(owner, SCREENSHOTS, "console-suspended-en")
        await ops.locator(f"#merchant-{member.merchant_id} form").nth(1).locator("button").click()
        await ops.wait_for_url(f"{base}/operator?notice=unsuspended")
        await ops.goto(f"{base}/operator/plans?lang=en")  # a bad limit comes back, not stored
        await ops.fill("#free-max_stores", "0")
        await ops.locator("#plan-free button[type=submit]").click()
        await ops.wait_for_load_state()
        error = await ops.locator("#error-free-max_stores").inner_text()
        assert error == "Enter a whole number from 1 to 100000, or tick Unlimited."
        assert await ops.locator("#free-max_stores").get_attribute("aria-invalid") == "true"
        await shot(ops, SCREENSHOTS, "console-operator-plans-error-en")
        assert [p.max_stores for p in await plans.all_plans(db) if p.plan == "free"] == [1]

        pages = [
            (owner, "/team"),
            (owner, f"/team/members/{staff_id}"),
            (owner, "/account/sessions"),
            (reset, "/password/forgot"),
            (ops, "/operator"),
            (ops, "/operator/plans"),
        ]
        for size, label in ((DESKTOP, "desk"), (PHONE, "phone")):
            for page, path in pages:
                await page.set_viewport_size(size)
                for language in ("en", "zh-CN"):
                    response = await page.goto(f"{base}{path}?lang={language}")
                    assert response is not None and response.status == 200, (path, language)
                    assert await overflow(page) <= 0, f"{path} ({language}) overflows {label}"
                    name = path.strip("/").split("/")[0] + ("-member" if "members" in path else "")
                    name += "-plans" if path.endswith("/plans") else ""
                    name = name.replace("account", "sessions")
                    await shot(page, SCREENSHOTS, f"console-{name}-{label}-{language}")
    assert problems == [], problems
