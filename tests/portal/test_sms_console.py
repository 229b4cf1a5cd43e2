"""The console's SMS outbox page (/sms-outbox): a merchant's members see its texts, masked,
newest first, a page at a time; nobody else's. In development an owner may simulate a
shopper's reply to a text (/sms-outbox/reply), handled as Alibaba Cloud's pushed reply is."""

from __future__ import annotations

import re
import string
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import aiohttp
import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from accounts import services as accounts
from kernel.config import Settings
from kernel.i18n import LANGUAGES
from portal import console_sms, identities, messages_sms, sms, sms_consent
from portal.messages import CATALOG
from portico import runtime
from portico.console_app import make_console_app
from tests.console.test_console_app import EN, PASSWORD, ZH, csrf_token, new_member, sign_in


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


# Simulated replies (development: the outbox provider) -------------------------------------


async def consenting_text(
    db: asyncpg.Pool, settings: Settings, merchant_id: uuid.UUID, phone: str
) -> uuid.UUID:
    """`phone` agreed to the merchant's marketing texts at an SMS login, and got a text in its
    outbox: the text's id."""
    store = (await accounts.list_stores(db, merchant_id))[0].store_id
    identity = await identities.remember(
        db, settings.secret_key, merchant_id, "phone", phone, verified=True
    )
    await sms_consent.give(db, merchant_id, identity.hash, store, "sms-1")
    message_id = uuid.uuid4()
    await sms.OutboxProvider(db, settings.secret_key, merchant_id).send(
        phone, "Dessert 5 off today. 回T退订", {}, message_id=message_id
    )
    return message_id


async def in_force(db: asyncpg.Pool, merchant_id: uuid.UUID) -> list[str | None]:
    rows = await db.fetch(
        "SELECT withdrawn_via FROM shopper_consents WHERE merchant_id = $1", merchant_id
    )
    return [r["withdrawn_via"] for r in rows]


@pytest.fixture
async def wired(settings: Settings, db: asyncpg.Pool) -> AsyncIterator[TestClient]:
    """The console as the composition root makes it: its shoppers' events told to marketing."""
    async with TestClient(TestServer(runtime.console_app(settings, db, None))) as client:
        yield client


async def reply(
    client: TestClient, merchant_id: uuid.UUID, message_id: uuid.UUID | str, text: str, **more: str
) -> aiohttp.ClientResponse:
    page = await client.get(f"/sms-outbox?merchant={merchant_id}", headers=EN)
    form = {
        "csrf_token": csrf_token(await page.text()),
        "merchant": str(merchant_id),
        "page": "1",
        "message": str(message_id),
        "reply": text,
    } | more
    return await client.post("/sms-outbox/reply", data=form, headers=EN, allow_redirects=False)


async def test_an_owners_simulated_t_reply_is_handled_as_a_pushed_one(
    wired: TestClient, db: asyncpg.Pool, settings: Settings
) -> None:
    member = await new_member(db)
    phone = f"+86138123{uuid.uuid4().int % 100_000:05d}"
    text = await consenting_text(db, settings, member.merchant_id, phone)
    elsewhere = await new_member(db)  # the same number agreed at another merchant too
    await consenting_text(db, settings, elsewhere.merchant_id, phone)
    await sign_in(wired, member.email, headers=EN)
    page = await (await wired.get("/sms-outbox", headers=EN)).text()
    assert "Simulate reply" in page and "Shopper&#39;s reply (simulated)" in page
    assert f'name="message" value="{text}"' in page and 'name="reply" id=' in page

    answer = await reply(wired, member.merchant_id, text, " Ｔ ")

    assert answer.status == 303
    assert answer.headers["Location"] == (
        f"/sms-outbox?merchant={member.merchant_id}&page=1&replied=opt_out&ended=2#sms-replied"
    )
    # As a pushed reply: the number's consent ends at every merchant, and marketing is told.
    assert await in_force(db, member.merchant_id) == ["sms_reply"]
    assert await in_force(db, elsewhere.merchant_id) == ["sms_reply"]
    told = await db.fetch(
        "SELECT payload FROM marketing_inbox WHERE merchant_id = $1 AND kind = 'consent'",
        member.merchant_id,
    )
    assert [r["payload"]["channel"] for r in told] == ["sms"]
    shown = await (await wired.get(answer.headers["Location"], headers=EN)).text()
    assert "an opt-out word. Marketing-text consents of that number ended: 2." in shown
    zh = await (await wired.get(answer.headers["Location"] + "&lang=zh-CN", headers=ZH)).text()
    assert "已撤回该号码的营销短信同意：2 项" in zh and "模拟回复" in zh
    # Again: nothing is in force, nothing more is told.
    again = await reply(wired, member.merchant_id, text, "T")
    assert again.headers["Location"].endswith("replied=opt_out&ended=0#sms-replied")


async def test_other_replies_change_nothing_and_bad_ones_come_back_with_the_error(
    wired: TestClient, db: asyncpg.Pool, settings: Settings
) -> None:
    member = await new_member(db)
    text = await consenting_text(
        db, settings, member.merchant_id, f"+86138124{uuid.uuid4().int % 100_000:05d}"
    )
    await sign_in(wired, member.email, headers=EN)
    thanks = await reply(wired, member.merchant_id, text, "谢谢")
    assert thanks.headers["Location"].endswith("replied=other&ended=0#sms-replied")
    shown = await (await wired.get(thanks.headers["Location"], headers=EN)).text()
    assert "not an opt-out word, so nothing changed" in shown
    for typed in ("   ", "T" * (console_sms.MAX_REPLY + 1)):
        bad = await reply(wired, member.merchant_id, text, typed)
        assert bad.status == 400
        page = await bad.text()
        assert "Type the shopper&#39;s reply (at most 160 characters)." in page
        assert f'aria-describedby="reply-error-{text}"' in page
    assert await in_force(db, member.merchant_id) == [None]


async def test_only_owners_reply_to_their_own_texts_and_only_in_development(
    wired: TestClient, db: asyncpg.Pool, settings: Settings
) -> None:
    owner = await new_member(db)
    text = await consenting_text(
        db, settings, owner.merchant_id, f"+86138125{uuid.uuid4().int % 100_000:05d}"
    )
    stranger = await new_member(db)
    theirs = await consenting_text(
        db, settings, stranger.merchant_id, f"+86138126{uuid.uuid4().int % 100_000:05d}"
    )
    email = f"staff-{uuid.uuid4().hex}@example.com"
    staff = await accounts.create_user(db, email, "Staff", PASSWORD)
    await accounts.add_membership(db, owner.merchant_id, staff, "staff")

    await sign_in(wired, email, headers=EN)
    page = await (await wired.get("/sms-outbox", headers=EN)).text()
    assert "Simulate reply" not in page  # staff read the outbox, no more
    assert (await reply(wired, owner.merchant_id, text, "T")).status == 403
    await wired.post("/logout", data={"csrf_token": csrf_token(page)})

    await sign_in(wired, owner.email, headers=EN)
    assert (await reply(wired, stranger.merchant_id, theirs, "T")).status == 404
    assert (await reply(wired, owner.merchant_id, theirs, "T")).status == 404  # not its text
    assert (await reply(wired, owner.merchant_id, "not-an-id", "T")).status == 404
    assert (await reply(wired, owner.merchant_id, text, "T", csrf_token="forged")).status == 403
    assert await in_force(db, owner.merchant_id) == [None]
    assert await in_force(db, stranger.merchant_id) == [None]

    live = replace(settings, sms_provider="aliyun")
    async with TestClient(TestServer(make_console_app(live, db))) as client:
        await sign_in(client, owner.email, headers=EN)
        page = await (await client.get("/sms-outbox", headers=EN)).text()
        assert "Simulate reply" not in page
        assert (await reply(client, owner.merchant_id, text, "T")).status == 404
    assert await in_force(db, owner.merchant_id) == [None]
