"""The console's Logins page (portal/console_logins.py): a store's login methods and their
order, returning days, its terms versions (publish, list, never change) and marketing consents;
owners change, staff look (and may withdraw a shopper's consent); another merchant's store is a
404; CSRF is checked; the portal sees the changes."""

from __future__ import annotations

import html
import re
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from accounts import audit
from accounts import services as accounts
from kernel.config import Settings
from kernel.i18n import LANGUAGES
from portal import email_login, identities, stores, terms
from portal.messages_email import CONSOLE, MESSAGES
from portico.console_app import make_console_app
from tests.console.test_console_app import EN, PASSWORD, ZH, Member, csrf_token, new_member, sign_in


@pytest.fixture
async def client(settings: Settings, db: asyncpg.Pool) -> AsyncIterator[TestClient]:
    async with TestClient(TestServer(make_console_app(settings, db))) as client:
        yield client


@pytest.fixture
async def member(db: asyncpg.Pool) -> Member:
    member = await new_member(db)
    await stores.upsert_store_portal(
        db, member.merchant_id, member.store_id, brand_name=member.store_name
    )
    return member


async def signed_in(client: TestClient, member: Member, headers: dict[str, str] = EN) -> str:
    assert (await sign_in(client, member.email, headers=headers)).status == 303
    page = await client.get(f"/logins?merchant={member.merchant_id}", headers=headers)
    assert page.status == 200
    return csrf_token(await page.text())


def form_of(member: Member, token: str, which: str, **fields: str) -> dict[str, str]:
    return {
        "csrf_token": token,
        "form": which,
        "merchant": str(member.merchant_id),
        "store": str(member.store_id),
        **fields,
    }


async def portal_settings(db: asyncpg.Pool, member: Member) -> asyncpg.Record:
    return await db.fetchrow(
        "SELECT login_methods, returning_days, terms_version FROM portal_settings"
        " WHERE merchant_id = $1 AND store_id = $2",
        member.merchant_id,
        member.store_id,
    )


async def test_an_owner_sets_the_methods_their_order_and_returning_days(
    client: TestClient, member: Member, db: asyncpg.Pool
) -> None:
    token = await signed_in(client, member)
    page = html.unescape(await (await client.get("/logins", headers=EN)).text())
    assert "WiFi logins" in page and member.store_name in page
    assert re.search(r'id="method-click" name="method_click" value="1" checked', page)
    assert not re.search(r'id="method-email"[^>]*checked', page)
    response = await client.post(
        "/logins",
        data=form_of(
            member,
            token,
            "methods",
            method_email="1",
            order_email="1",
            method_click="1",
            order_click="2",
            order_sms="3",
            order_voucher="4",
            returning_days="14",
        ),
        headers=EN,
        allow_redirects=False,
    )
    assert response.status == 303
    assert response.headers["Location"].endswith("saved=methods#methods")
    row = await portal_settings(db, member)
    assert (list(row["login_methods"]), row["returning_days"]) == (["email", "click"], 14)
    [entry] = await audit.entries(db, member.merchant_id)
    assert (entry.action, entry.actor_id, entry.target_name) == (
        "logins.update",
        member.user_id,
        member.store_name,
    )
    assert entry.before == {"login_methods": "click", "returning_days": 0}
    assert entry.after == {"login_methods": "email, click", "returning_days": 14}
    saved = html.unescape(await (await client.get(response.headers["Location"], headers=EN)).text())
    assert "Login settings saved." in saved and 'value="14"' in saved
    assert re.search(r'id="method-email" name="method_email" value="1" checked', saved)
    # The portal reads the same settings (its cache aside).
    stores._gateways.clear()
    zh = await (await client.get("/logins", headers=ZH)).text()
    assert "登录方式" in zh and "回头客" in zh


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"returning_days": "3"}, "methods", "Tick at least one method"),
        ({"method_click": "1", "order_click": "x", "returning_days": "3"}, "order_click", "1 to 4"),
        (
            {"method_click": "1", "order_click": "1", "returning_days": "366"},
            "returning_days",
            "0 to 365",
        ),
        (
            {"method_click": "1", "order_click": "1", "returning_days": "-1"},
            "returning_days",
            "0 to 365",
        ),
        (
            {"method_click": "1", "order_click": "1", "returning_days": ""},
            "returning_days",
            "0 to 365",
        ),
    ],
)
async def test_bad_method_settings_come_back_with_the_error_and_store_nothing(
    client: TestClient,
    member: Member,
    db: asyncpg.Pool,
    fields: dict[str, str],
    field: str,
    message: str,
) -> None:
    token = await signed_in(client, member)
    before = await portal_settings(db, member)
    response = await client.post(
        "/logins", data=form_of(member, token, "methods", **fields), headers=EN
    )
    assert response.status == 400
    text = html.unescape(await response.text())
    assert f'id="error-{field}"' in text and message in text and "Not saved" in text
    assert await portal_settings(db, member) == before


async def test_an_owner_publishes_terms_versions_that_never_change(
    client: TestClient, member: Member, db: asyncpg.Pool, settings: Settings
) -> None:
    token = await signed_in(client, member)
    page = await (await client.get("/logins", headers=EN)).text()
    assert 'id="terms-version" name="version" maxlength="32" value="2"' in page
    assert f"{settings.portal_url}/terms/{member.merchant_id}/{member.store_id}/1" in page
    publish = form_of(member, token, "terms", version="2", body_en="Be nice.", body_zh="请友善。")
    response = await client.post("/logins", data=publish, headers=EN, allow_redirects=False)
    assert response.status == 303
    assert (await portal_settings(db, member))["terms_version"] == "2"
    [entry] = await audit.entries(db, member.merchant_id)  # in the publishing transaction
    assert (entry.action, entry.actor_id, entry.target_name) == (
        "terms.publish",
        member.user_id,
        member.store_name,
    )
    assert (entry.before, entry.after) == ({"terms_version": "1"}, {"terms_version": "2"})
    listed = html.unescape(
        await (await client.get(response.headers["Location"], headers=EN)).text()
    )
    assert "Published: shoppers now accept the new version." in listed
    assert re.search(r"<code>2</code><span class=\"tag\">current</span>", listed)
    assert 'value="3"' in listed  # the next suggestion

    again = await client.post("/logins", data={**publish, "body_en": "Be very nice."}, headers=EN)
    assert again.status == 400
    assert "published already" in html.unescape(await again.text())
    [only] = await terms.versions(db, member.merchant_id, member.store_id)
    assert only.body_en == "Be nice."
    assert len(await audit.entries(db, member.merchant_id)) == 1  # a refused one: no entry

    for bad, field, text in [
        ({"version": "1"}, "version", "standard text"),
        ({"version": "two words"}, "version", "1 to 32 letters"),
        ({"version": "3", "body_zh": "  "}, "body_zh", "Write the text"),
    ]:
        refused = await client.post("/logins", data={**publish, **bad}, headers=EN)
        assert refused.status == 400
        body = html.unescape(await refused.text())
        assert f'id="error-{field}"' in body and text in body
    assert len(await terms.versions(db, member.merchant_id, member.store_id)) == 1


async def test_staff_look_but_do_not_change_and_may_withdraw_a_consent(
    client: TestClient, member: Member, db: asyncpg.Pool, settings: Settings
) -> None:
    staff_email = f"staff-{uuid.uuid4().hex}@example.com"
    staff = await accounts.create_user(db, staff_email, "Staff", PASSWORD)
    await accounts.add_membership(db, member.merchant_id, staff, "staff")
    address = "shopper@example.com"
    identity = await identities.remember(
        db, settings.secret_key, member.merchant_id, "email", address, verified=False
    )
    await email_login.give_consent(
        db, member.merchant_id, identity.hash, member.store_id, "email-1"
    )
    colleague = Member(staff_email, staff, member.merchant_id, member.store_id, member.store_name)
    token = await signed_in(client, colleague)
    page = await (await client.get("/logins", headers=EN)).text()
    assert "Only an owner can change these settings." in page
    assert 'id="save-methods"' not in page and 'id="publish"' not in page
    assert "1 shoppers agree to offers by email; 0 withdrew" in page
    for which, fields in [
        ("methods", {"method_click": "1", "order_click": "1", "returning_days": "9"}),
        ("terms", {"version": "5", "body_en": "x", "body_zh": "x"}),
    ]:
        refused = await client.post(
            "/logins", data=form_of(member, token, which, **fields), headers=EN
        )
        assert refused.status == 403
    assert (await portal_settings(db, member))["returning_days"] == 0

    bad = await client.post(
        "/logins", data=form_of(member, token, "withdraw", email="nope"), headers=EN
    )
    assert bad.status == 400 and "That is not an email address." in await bad.text()
    done = await client.post(
        "/logins",
        data=form_of(member, token, "withdraw", email="shopper@EXAMPLE.com"),
        headers=EN,
        allow_redirects=False,
    )
    assert done.status == 303
    shown = await (await client.get(done.headers["Location"], headers=EN)).text()
    assert "1 consent(s) withdrawn" in shown and "0 shoppers agree" in shown
    # A hand-made count ("²" passes str.isdigit, not int) shows the page without it, no 500.
    odd = await client.get(done.headers["Location"].split("?")[0] + "?withdrawn=%C2%B2", headers=EN)
    assert odd.status == 200 and "consent(s) withdrawn" not in await odd.text()
    via = await db.fetchval(
        "SELECT withdrawn_via FROM shopper_consents WHERE merchant_id = $1", member.merchant_id
    )
    assert via == "console"
    # The typed address is not kept in the page once it was used.
    assert "shopper@EXAMPLE.com" not in shown


async def test_another_merchants_store_is_not_found_and_csrf_is_checked(
    client: TestClient, member: Member, db: asyncpg.Pool
) -> None:
    token = await signed_in(client, member)
    other = await new_member(db)
    assert (await client.get(f"/logins?merchant={other.merchant_id}")).status == 404
    assert (
        await client.get(f"/logins?merchant={member.merchant_id}&store={other.store_id}")
    ).status == 404
    assert (await client.get("/logins?store=not-a-uuid")).status == 404
    foreign = {**form_of(member, token, "methods"), "store": str(other.store_id)}
    assert (await client.post("/logins", data=foreign)).status == 404
    forged = {
        **form_of(member, token, "methods", method_click="1", order_click="1", returning_days="2"),
        "csrf_token": "x",
    }
    assert (await client.post("/logins", data=forged)).status == 403
    assert (await client.post("/logins", data=form_of(member, token, "nonsense"))).status == 400


async def test_a_store_without_a_portal_gets_one_when_its_methods_are_saved(
    client: TestClient, db: asyncpg.Pool
) -> None:
    member = await new_member(db)  # no portal settings yet
    token = await signed_in(client, member)
    page = await (await client.get("/logins", headers=EN)).text()
    assert 'id="method-click" name="method_click" value="1" checked' in page
    response = await client.post(
        "/logins",
        data=form_of(
            member, token, "methods", method_click="1", order_click="1", returning_days="1"
        ),
        allow_redirects=False,
    )
    assert response.status == 303
    row = await portal_settings(db, member)
    assert list(row["login_methods"]) == ["click"] and row["returning_days"] == 1


def test_every_text_of_this_part_has_both_languages() -> None:
    for catalog in (CONSOLE, MESSAGES):
        for message_id, texts in catalog.items():
            assert set(texts) == set(LANGUAGES), message_id
