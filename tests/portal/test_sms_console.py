"""The console's SMS outbox page (/sms-outbox): a merchant's members see its texts, masked,
newest first, a page at a time; nobody else's."""

from __future__ import annotations

import re
import string
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from accounts import services as accounts
from kernel.config import Settings
from kernel.i18n import LANGUAGES
from portal import console_sms, messages_sms, sms
from portal.messages import CATALOG
from portico.console_app import make_console_app
from tests.console.test_console_app import EN, PASSWORD, ZH, new_member, sign_in


@pytest.fixture
async def console(settings: Settings, db: asyncpg.Pool) -> AsyncIterator[TestClient]:
    async with TestClient(TestServer(make_console_app(settings, db))) as client:
        yield client


async def texts(db: asyncpg.Pool, settings: Settings, merchant_id: uuid.UUID, n: int) -> None:
    outbox = sms.OutboxProvider(db, settings.secret_key, merchant_id)
    for i in range(n):
        await outbox.send(f"+86138000{i:05d}", f"{i:06d} is your code (text {i})", {})


def shown(page: str) -> list[str]:
    return re.findall(r"\(text (\d+)\)", page)


async def test_members_see_their_outbox_masked_newest_first(
    console: TestClient, db: asyncpg.Pool, settings: Settings
) -> None:
    member = await new_member(db)
    await texts(db, settings, member.merchant_id, 3)
    stranger = await new_member(db)
    await texts(db, settings, stranger.merchant_id, 1)
    await sign_in(console, member.email, headers=EN)

    response = await console.get("/sms-outbox", headers=EN)

    assert response.status == 200
    page = await response.text()
    assert "SMS outbox" in page and "Time (Asia/Shanghai)" in page
    assert shown(page) == ["2", "1", "0"]  # newest first; the stranger's text is not here
    assert "138****0002" in page and "13800000002" not in page
    zh = await (await console.get("/sms-outbox?lang=zh-CN", headers=ZH)).text()
    assert "短信发件箱" in zh and "收件号码" in zh


async def test_staff_see_it_too_and_other_merchants_are_not_found(
    console: TestClient, db: asyncpg.Pool, settings: Settings
) -> None:
    owner = await new_member(db)
    email = f"staff-{uuid.uuid4().hex}@example.com"
    staff = await accounts.create_user(db, email, "Staff", PASSWORD)
    await accounts.add_membership(db, owner.merchant_id, staff, "staff")
    await texts(db, settings, owner.merchant_id, 1)
    stranger = await new_member(db)
    await sign_in(console, email, headers=EN)

    assert shown(await (await console.get("/sms-outbox", headers=EN)).text()) == ["0"]
    other = await console.get(f"/sms-outbox?merchant={stranger.merchant_id}", headers=EN)
    assert other.status == 404
    assert (await console.get("/sms-outbox?merchant=nope", headers=EN)).status == 404
    assert (await console.get("/sms-outbox?page=0", headers=EN)).status == 404
    # Not ASCII digits ("²" passes str.isdigit, not int), or too many: refused, not a 500.
    assert (await console.get("/sms-outbox?page=%C2%B2", headers=EN)).status == 404
    assert (await console.get("/sms-outbox?page=" + "9" * 5000, headers=EN)).status == 404


async def test_the_outbox_is_paged(
    console: TestClient, db: asyncpg.Pool, settings: Settings
) -> None:
    member = await new_member(db)
    await texts(db, settings, member.merchant_id, console_sms.PAGE_SIZE + 3)
    await sign_in(console, member.email, headers=EN)

    first = await (await console.get("/sms-outbox", headers=EN)).text()
    assert len(shown(first)) == console_sms.PAGE_SIZE
    assert shown(first)[0] == str(console_sms.PAGE_SIZE + 2)
    assert 'id="sms-older"' in first and 'id="sms-newer"' not in first
    second = await (await console.get("/sms-outbox?page=2", headers=EN)).text()
    assert shown(second) == ["2", "1", "0"]
    assert 'id="sms-newer"' in second and 'id="sms-older"' not in second


async def test_signed_out_visitors_are_sent_to_sign_in(console: TestClient) -> None:
    response = await console.get("/sms-outbox", allow_redirects=False)
    assert response.status == 303 and response.headers["Location"] == "/login?next=/sms-outbox"


async def test_with_the_real_provider_the_page_says_nothing_new_arrives(
    settings: Settings, db: asyncpg.Pool
) -> None:
    live = replace(settings, sms_provider="aliyun")
    member = await new_member(db)
    async with TestClient(TestServer(make_console_app(live, db))) as client:
        await sign_in(client, member.email, headers=EN)
        page = await (await client.get("/sms-outbox", headers=EN)).text()
    assert "Alibaba Cloud SMS" in page and "No text messages in the last 24 hours" in page


def _fields(text: str) -> set[str]:
    return {name for _lit, name, _spec, _conv in string.Formatter().parse(text) if name}


@pytest.mark.parametrize("catalog", [messages_sms.MESSAGES, messages_sms.CONSOLE])
def test_every_sms_text_is_in_both_languages_with_the_same_fields(
    catalog: dict[str, dict[str, str]],
) -> None:
    for message_id, texts in catalog.items():
        assert set(texts) == set(LANGUAGES), message_id
        assert all(texts.values()), message_id
        assert _fields(texts["en"]) == _fields(texts["zh-CN"]), message_id


@pytest.mark.parametrize(
    ("template", "catalog"),
    [
        ("login_sms.html", CATALOG),
        ("sms_code.html", CATALOG),
        ("console_sms_outbox.html", messages_sms.CONSOLE),
    ],
)
def test_every_text_the_templates_show_exists(template: str, catalog: dict[str, object]) -> None:
    path = Path(console_sms.__file__).parent / "templates" / "portal" / template
    used = set(re.findall(r"""_\(\s*["']([a-z_]+)["']""", path.read_text()))
    assert used and used <= set(catalog), used - set(catalog)
