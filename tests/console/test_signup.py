"""Merchant sign-up: the form, the email with its link (the development outbox), the account
made when the link is opened; the same answer whether or not the address has an account; the
per-address limit; CSRF on both forms."""

from __future__ import annotations

import dataclasses
import re
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from accounts import audit, signup
from accounts import services as accounts
from accounts.web import SESSION_COOKIE
from kernel.config import Settings
from portico.console_app import make_console_app
from tests.console.test_console_app import EN, PASSWORD, ZH, csrf_token, new_member, sign_in

_LINK = re.compile(r"(http://\S+/signup/verify\?token=[A-Za-z0-9_-]+)")


@pytest.fixture
async def client(settings: Settings, db: asyncpg.Pool) -> AsyncIterator[TestClient]:
    # A secret of its own: this test's client address (127.0.0.1, as every test's) gets a
    # sign-up counter of its own.
    own = dataclasses.replace(settings, secret_key=f"signup-{uuid.uuid4().hex}" + "x" * 32)
    async with TestClient(TestServer(make_console_app(own, db))) as client:
        yield client


async def _sign_up(
    client: TestClient, email: str, password: str = PASSWORD, name: str = "Blue Door Café"
) -> object:
    token = csrf_token(await (await client.get("/signup", headers=EN)).text())
    form = {"email": email, "password": password, "merchant_name": name, "csrf_token": token}
    return await client.post("/signup", data=form, headers=EN, allow_redirects=False)


def _path(link: str) -> str:
    """The link's path and query (the link names the console's public URL)."""
    return "/" + link.split("/", 3)[3]


async def _mail_to(db: asyncpg.Pool, address: str) -> list[asyncpg.Record]:
    return await db.fetch("SELECT subject, body FROM email_outbox WHERE to_address = $1", address)


async def test_a_merchant_signs_up_verifies_and_lands_signed_in(
    client: TestClient, db: asyncpg.Pool
) -> None:
    address = f"new-{uuid.uuid4().hex}@example.com"

    response = await _sign_up(client, address.upper())

    assert response.status == 303 and response.headers["Location"] == "/signup/sent"
    sent = await (await client.get("/signup/sent", headers=EN)).text()
    assert "Check your email" in sent and 'href="/email-outbox"' in sent
    assert await accounts.user_id_by_email(db, address) is None  # nothing before the link
    [mail] = await _mail_to(db, address)
    assert mail["subject"] == "Finish signing up to Portico"
    link = _LINK.search(mail["body"]).group(1)
    outbox = await (await client.get("/email-outbox", headers=EN)).text()
    assert address in outbox

    confirm = await client.get(_path(link), headers=EN)  # a mail scanner's GET creates nothing
    assert await accounts.user_id_by_email(db, address) is None
    form = {"csrf_token": csrf_token(await confirm.text()), "token": link.rsplit("=", 1)[1]}
    done = await client.post("/signup/verify", data=form, allow_redirects=False)

    assert done.status == 303 and done.headers["Location"] == "/dashboard"
    assert SESSION_COOKIE in done.cookies
    user_id = await accounts.user_id_by_email(db, address)
    [membership] = await accounts.memberships_of(db, user_id)
    assert (membership.merchant_name, membership.role) == ("Blue Door Café", "owner")
    log = await audit.entries(db, membership.merchant_id)
    assert [e.action for e in log] == ["membership.create", "merchant.create"]
    dashboard = await client.get("/dashboard", headers=EN, allow_redirects=False)
    assert dashboard.status == 200
    again = await client.post("/signup/verify", data=form, headers=EN)
    assert again.status == 404 and "not valid" in await again.text()
    client.session.cookie_jar.clear()
    assert (await sign_in(client, address)).headers["Location"] == "/dashboard"


async def test_an_address_with_an_account_gets_the_same_answer_and_a_note(
    client: TestClient, db: asyncpg.Pool
) -> None:
    member = await new_member(db)

    response = await _sign_up(client, member.email, password="another password!")

    assert response.status == 303 and response.headers["Location"] == "/signup/sent"
    [mail] = await _mail_to(db, member.email)
    assert "already has an account" in mail["body"] and "/signup/verify" not in mail["body"]
    pending = "SELECT count(*) FROM signup_requests WHERE email = $1"
    assert await db.fetchval(pending, member.email) == 0
    assert (await sign_in(client, member.email)).headers["Location"] == "/dashboard"


@pytest.mark.parametrize(
    ("field", "value", "english", "chinese"),
    [
        ("email", "not-an-address", "Enter a valid email address", "请输入有效的邮箱地址"),
        ("password", "short", "Choose a password of 8 to 1024", "请设置 8 至 1024 个字符的密码"),
        ("merchant_name", "  ", "Enter your business name", "请输入商户名称"),
    ],
)
async def test_a_bad_field_comes_back_with_its_error_and_nothing_is_sent(
    client: TestClient, db: asyncpg.Pool, field: str, value: str, english: str, chinese: str
) -> None:
    address = f"bad-{uuid.uuid4().hex}@example.com"
    token = csrf_token(await (await client.get("/signup", headers=EN)).text())
    form = {"email": address, "password": PASSWORD, "merchant_name": "Shop", "csrf_token": token}
    for headers, expected in ((EN, english), (ZH, chinese)):
        response = await client.post("/signup", data=form | {field: value}, headers=headers)
        assert response.status == 400
        text = await response.text()
        assert expected in text and 'aria-invalid="true"' in text
        assert PASSWORD not in text  # a password is never sent back
    assert await _mail_to(db, address) == []


async def test_sign_ups_are_limited_per_address(client: TestClient, db: asyncpg.Pool) -> None:
    addresses = [f"many-{n}-{uuid.uuid4().hex}@example.com" for n in range(signup.PER_CLIENT + 1)]
    for address in addresses[:-1]:
        assert (await _sign_up(client, address)).status == 303

    refused = await _sign_up(client, addresses[-1])

    assert refused.status == 429
    assert "Too many sign-ups from this network" in await refused.text()
    assert await _mail_to(db, addresses[-1]) == []


async def test_both_forms_refuse_a_post_without_the_csrf_token(
    client: TestClient, db: asyncpg.Pool
) -> None:
    address = f"csrf-{uuid.uuid4().hex}@example.com"
    form = {"email": address, "password": PASSWORD, "merchant_name": "Shop"}
    assert (await client.post("/signup", data=form, headers=EN)).status == 403
    assert await _mail_to(db, address) == []

    await _sign_up(client, address)
    token = _LINK.search((await _mail_to(db, address))[0]["body"]).group(1).rsplit("=", 1)[1]
    refused = await client.post("/signup/verify", data={"token": token}, headers=EN)
    assert refused.status == 403
    assert await accounts.user_id_by_email(db, address) is None


async def test_an_expired_link_creates_nothing(client: TestClient, db: asyncpg.Pool) -> None:
    address = f"late-{uuid.uuid4().hex}@example.com"
    await _sign_up(client, address)
    link = _LINK.search((await _mail_to(db, address))[0]["body"]).group(1)
    await db.execute(
        "UPDATE signup_requests SET expires_at = now() - interval '1 second' WHERE email = $1",
        address,
    )

    page = await client.get(_path(link), headers=ZH)

    assert page.status == 404 and "此注册链接无效" in await page.text()
    assert await accounts.user_id_by_email(db, address) is None


async def test_the_email_outbox_is_not_served_in_production(
    settings: Settings, db: asyncpg.Pool
) -> None:
    production = dataclasses.replace(settings, env="production")
    async with TestClient(TestServer(make_console_app(production, db))) as client:
        assert (await client.get("/email-outbox")).status == 404
