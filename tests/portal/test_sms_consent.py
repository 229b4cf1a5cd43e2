"""Marketing-SMS consent at the SMS code login (portal/sms_consent.py), through the portal app
as the composition root makes it (marketing's hook wired: portico.runtime.portal_app), a
simulated router on the real broker and the real PostgreSQL; then what precision marketing
does with it, on the real tables: the trigger engine texts the shopper who agreed (the
outbox, with how to opt out) and records the one who did not as `no_consent`."""

from __future__ import annotations

import html
import re
import string
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, time
from urllib.parse import parse_qs, urlsplit

import aiohttp
import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from controller.services import CommandSender
from kernel.config import Settings
from marketing.dispatch import Dispatcher, standard_channels
from marketing.engine import Engine
from portal import identities, messages_optout
from portal.messages import CATALOG
from portal.messages_optout import SMS_CONSENT_WORDINGS
from portal.sms import SmsProviders
from portico import runtime
from simulators.router import SimulatedRouter
from tests.factories import Tenant
from tests.marketing.receivers import a_trigger, postpone_waiting
from tests.portal.test_sms_login import new_client, outbox_code, sms_tenant

WORDS = {
    "en": "Yes, {brand} may send me offers by text message to this number.",
    "zh-CN": "我同意 {brand} 向此手机号发送优惠短信。",
}


@pytest.fixture
async def tenant(db: asyncpg.Pool) -> Tenant:
    return await sms_tenant(db)


@pytest.fixture
async def portal(
    settings: Settings, db: asyncpg.Pool, sender: CommandSender
) -> AsyncIterator[TestClient]:
    """The portal app as `portico serve portal` makes it: marketing's hook wired."""
    async with TestClient(TestServer(runtime.portal_app(settings, db, sender))) as client:
        yield client


def hidden_fields(page: str, form_id: str) -> dict[str, str]:
    """The hidden fields of one form of a page."""
    start = page.index(f'id="{form_id}"')
    form = page[start : page.index("</form>", start)]
    return {
        name: html.unescape(value)
        for name, value in re.findall(r'type="hidden" name="([^"]+)" value="([^"]*)"', form)
    }


async def sms_login(
    portal: TestClient,
    db: asyncpg.Pool,
    tenant: Tenant,
    router: SimulatedRouter,
    mac: str,
    phone: str,
    *,
    consent: bool,
    lang: str = "en",
) -> tuple[str, str]:
    """Number (box ticked or not) → code page → code → online page: the code page and the
    online page's path."""
    client, fas = new_client(router, mac, f"10.0.{int(mac[-2:], 16)}.{int(mac[-1], 16) + 1}")
    splash = await (await portal.get(f"/fas/{router.router_id}/?fas={fas}&lang={lang}")).text()
    form = {**hidden_fields(splash, "sms-send"), "phone": phone, "accept": "1"}
    if consent:
        form["marketing"] = "1"
    page = await portal.post(f"/fas/{router.router_id}/sms/send", data=form)
    assert page.status == 200, await page.text()
    code_page = await page.text()
    verify = {
        **hidden_fields(code_page, "sms-verify"),
        "code": await outbox_code(db, tenant.merchant_id),
    }
    done = await portal.post(
        f"/fas/{router.router_id}/sms/verify", data=verify, allow_redirects=False
    )
    assert done.status == 303 and client.authenticated, await done.text()
    return code_page, done.headers["Location"]


async def consents_of(db: asyncpg.Pool, tenant: Tenant) -> list[asyncpg.Record]:
    return await db.fetch(
        "SELECT * FROM shopper_consents WHERE merchant_id = $1 ORDER BY given_at",
        tenant.merchant_id,
    )


async def inbox_of(db: asyncpg.Pool, tenant: Tenant) -> list[asyncpg.Record]:
    return await db.fetch(
        "SELECT * FROM marketing_inbox WHERE merchant_id = $1 ORDER BY received_at",
        tenant.merchant_id,
    )


async def test_the_sms_form_asks_for_consent_in_a_separate_unticked_box_in_both_languages(
    portal: TestClient, router: SimulatedRouter, tenant: Tenant
) -> None:
    _client, fas = new_client(router, "aa:bb:cc:41:00:01", "10.0.41.1")
    for lang in ("en", "zh-CN"):
        page = await (await portal.get(f"/fas/{router.router_id}/?fas={fas}&lang={lang}")).text()
        form = page[
            page.index('id="sms-send"') : page.index("</form>", page.index('id="sms-send"'))
        ]
        box = re.search(r"<input[^>]*id=\"sms-marketing\"[^>]*>", form)
        assert box is not None
        assert "checked" not in box.group(0) and "required" not in box.group(0)
        terms = re.search(r"<input[^>]*name=\"accept\"[^>]*>", form)
        assert terms is not None and "required" in terms.group(0)  # the login's own box
        assert WORDS[lang].format(brand=tenant.brand_name) in html.unescape(form)
        assert hidden_fields(page, "sms-send")["consent_wording"] == "sms-1"


async def test_a_login_without_the_box_records_no_consent_and_tells_marketing_so(
    portal: TestClient, router: SimulatedRouter, tenant: Tenant, db: asyncpg.Pool
) -> None:
    code_page, online = await sms_login(
        portal, db, tenant, router, "aa:bb:cc:41:00:02", "13812340002", consent=False
    )
    assert "marketing" not in hidden_fields(code_page, "sms-verify")
    assert await consents_of(db, tenant) == []
    [login] = await inbox_of(db, tenant)
    assert login["payload"]["method"] == "sms"
    assert login["payload"]["consent_sms"] is False
    page = await (await portal.get(online)).text()
    assert 'id="consent-given"' not in page
    assert 'id="opt-out"' in page  # "No more offers" is there for everyone


@pytest.mark.parametrize(
    ("lang", "line", "title", "done", "already"),
    [
        (
            "en",
            "You agreed to receive offers by text message.",
            "Offers by text message",
            "will text no more offers to 138****0003",
            "texts no offers to 138****0003",
        ),
        (
            "zh-CN",
            "您已同意接收优惠短信。",
            "优惠短信",
            "将不再向 138****0003 发送优惠短信",
            "不会再向 138****0003 发送优惠短信",
        ),
    ],
)
async def test_a_login_with_the_box_records_the_consent_tells_marketing_and_can_be_withdrawn(
    portal: TestClient,
    router: SimulatedRouter,
    tenant: Tenant,
    db: asyncpg.Pool,
    settings: Settings,
    lang: str,
    line: str,
    title: str,
    done: str,
    already: str,
) -> None:
    before = datetime.now(UTC)
    code_page, online = await sms_login(
        portal, db, tenant, router, "aa:bb:cc:41:00:03", "13812340003", consent=True, lang=lang
    )
    # The code page carried the consent on, beside the sealed reference.
    carried = hidden_fields(code_page, "sms-verify")
    assert (carried["marketing"], carried["consent_wording"]) == ("1", "sms-1")
    identity = identities.identify(
        settings.secret_key, tenant.merchant_id, "phone", "+8613812340003"
    )
    [consent] = await consents_of(db, tenant)
    assert (consent["purpose"], consent["wording_version"]) == ("marketing_sms", "sms-1")
    assert (consent["identity_hash"], consent["store_id"]) == (identity.hash, tenant.store_id)
    assert before <= consent["given_at"] <= datetime.now(UTC) and consent["withdrawn_at"] is None
    [login] = await inbox_of(db, tenant)
    assert login["payload"] == {
        "method": "sms",
        "identity_hash": identity.hash,
        "consent_sms": True,
        "consent_email": False,
    }
    # The online page says so, with the withdrawal link, in the shopper's language.
    page = await (await portal.get(online)).text()
    assert line in page
    link = html.unescape(
        page.split('id="consent-withdraw"')[0].rsplit('href="', 1)[1].split('"')[0]
    )
    ask = await (await portal.get(link)).text()
    assert title in ask and "138****0003" in ask
    form = {"sig": parse_qs(urlsplit(link).query)["sig"][0], "lang": lang}
    first = await portal.post(urlsplit(link).path, data=form)
    assert first.status == 200 and done in await first.text()
    replayed = await portal.post(urlsplit(link).path, data=form)  # withdraws, tells nothing more
    assert replayed.status == 200 and already in await replayed.text()
    [withdrawn] = await consents_of(db, tenant)
    assert withdrawn["withdrawn_via"] == "link"
    login_again, told = await inbox_of(db, tenant)
    assert login_again["event_id"] == login["event_id"]
    assert told["payload"] == {"channel": "sms", "given": False, "identity_hash": identity.hash}


async def test_a_consent_wording_we_never_showed_is_refused_and_nothing_kept(
    portal: TestClient, router: SimulatedRouter, tenant: Tenant, db: asyncpg.Pool
) -> None:
    _client, fas = new_client(router, "aa:bb:cc:41:00:04", "10.0.41.4")
    form = {
        "fas": fas,
        "lang": "en",
        "phone": "13812340004",
        "accept": "1",
        "marketing": "1",
        "consent_wording": "sms-99",
    }
    answer = await portal.post(f"/fas/{router.router_id}/sms/send", data=form)
    assert answer.status == 400
    assert "This form is out of date" in await answer.text()
    assert (
        await db.fetchval(
            "SELECT count(*) FROM sms_codes WHERE merchant_id = $1", tenant.merchant_id
        )
        == 0
    )
    assert await consents_of(db, tenant) == []


def test_each_sms_consent_wording_version_keeps_its_words() -> None:
    """A version's words are never edited once shown (a new wording is a new version)."""
    assert SMS_CONSENT_WORDINGS["sms-1"] == {
        "en": (
            "Yes, {brand} may send me offers by text message to this number. I can stop them "
            "at any time: reply T to any offer text, use the link shown after I connect, or "
            "ask the staff."
        ),
        "zh-CN": (
            "我同意 {brand} 向此手机号发送优惠短信。我可随时退订：回复 T 至任一优惠短信，"
            "使用连接后页面上的撤回链接，或告知店员。"
        ),
    }


def fields(text: str) -> set[str]:
    return {name for _lit, name, _spec, _conv in string.Formatter().parse(text) if name}


def test_every_consent_and_opt_out_text_is_in_both_languages_with_the_same_fields() -> None:
    for message_id, texts in messages_optout.MESSAGES.items():
        assert set(texts) == {"en", "zh-CN"} and all(texts.values()), message_id
        assert fields(texts["en"]) == fields(texts["zh-CN"]), message_id
    assert set(messages_optout.MESSAGES) <= set(CATALOG)


async def open_budget(db: asyncpg.Pool, merchant: uuid.UUID) -> None:
    """Contacts at any hour and many a day: what the test shows must not hang on the clock."""
    await db.execute(
        "INSERT INTO marketing_settings (merchant_id, max_per_day, max_per_week, quiet_from,"
        " quiet_until) VALUES ($1, 50, 200, $2, $2)"
        " ON CONFLICT (merchant_id) DO UPDATE SET max_per_day = 50, max_per_week = 200,"
        " quiet_from = $2, quiet_until = $2",
        merchant,
        time(0),
    )


async def decide_and_send(db: asyncpg.Pool, settings: Settings) -> None:
    """The marketing role's work, until nothing waits: the engine, then the dispatcher."""
    engine = Engine(db)
    while await engine.step():
        pass
    async with aiohttp.ClientSession() as http:
        dispatcher = Dispatcher(
            db, standard_channels(db, settings, http, SmsProviders(settings, db))
        )
        while await dispatcher.step():
            pass


async def contacts_of(db: asyncpg.Pool, tenant: Tenant) -> list[asyncpg.Record]:
    return await db.fetch(
        "SELECT profile_key, channel, status, reason FROM marketing_contacts"
        " WHERE merchant_id = $1 ORDER BY decided_at, profile_key",
        tenant.merchant_id,
    )


async def test_marketing_texts_the_shopper_who_agreed_and_not_the_one_who_did_not(
    portal: TestClient,
    router: SimulatedRouter,
    tenant: Tenant,
    db: asyncpg.Pool,
    settings: Settings,
) -> None:
    await postpone_waiting(db)
    await open_budget(db, tenant.merchant_id)
    await a_trigger(
        db,
        tenant.merchant_id,
        "sms",
        event="login",
        offer_key="sms-hello",
        message_zh="欢迎，今天奶茶八折",
        message_en="Welcome: 20% off milk tea",
    )
    await sms_login(portal, db, tenant, router, "aa:bb:cc:41:00:05", "13812340005", consent=True)
    await sms_login(portal, db, tenant, router, "aa:bb:cc:41:00:06", "13812340006", consent=False)
    await decide_and_send(db, settings)
    agreed = identities.identify(settings.secret_key, tenant.merchant_id, "phone", "+8613812340005")
    other = identities.identify(settings.secret_key, tenant.merchant_id, "phone", "+8613812340006")
    contacts = {r["profile_key"]: (r["status"], r["reason"]) for r in await contacts_of(db, tenant)}
    assert contacts == {
        f"i:{agreed.hash}": ("sent", None),
        f"i:{other.hash}": ("suppressed", "no_consent"),
    }
    texts = await db.fetch(
        "SELECT masked_phone, body FROM sms_outbox WHERE merchant_id = $1 AND body LIKE '欢迎%'",
        tenant.merchant_id,
    )
    assert [(r["masked_phone"], r["body"]) for r in texts] == [
        ("138****0005", "欢迎，今天奶茶八折 回T退订")
    ]
