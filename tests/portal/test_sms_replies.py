"""A shopper's "T" reply to a marketing text (portal/sms_inbound.py): Alibaba Cloud's SmsUp
push, made by its model (simulators/aliyun_sms.py), to the portal app as the composition root
makes it, served on loopback, with the real PostgreSQL; then the trigger engine on the real
tables: the number's marketing-SMS consent ends at every merchant, marketing is told once,
and an SMS trigger afterwards is `no_consent`."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime

import aiohttp
import asyncpg
import pytest

from accounts import services as accounts
from controller.services import CommandSender
from kernel.config import Settings
from marketing import intake
from marketing.engine import Engine
from portal import identities, sms_consent, sms_inbound
from portico import runtime
from simulators.aliyun_sms import AliyunSmsSim
from tests.browser import serve
from tests.marketing.receivers import a_trigger, postpone_waiting
from tests.portal.test_sms_consent import open_budget

TOKEN = "replies-7f3a9c"
PHONE = "+8613812360001"


@pytest.fixture
async def replies_url(
    settings: Settings, db: asyncpg.Pool, sender: CommandSender
) -> AsyncIterator[str]:
    """The portal's reply address, on a real server (the model pushes over HTTP)."""
    app = runtime.portal_app(replace(settings, aliyun_sms_inbound_token=TOKEN), db, sender)
    async with serve(app) as base:
        yield f"{base}/sms/replies/aliyun/{TOKEN}"


@pytest.fixture
async def aliyun() -> AsyncIterator[AliyunSmsSim]:
    sim = AliyunSmsSim("LTAI5tTestAccessKey", "test-access-key-secret-0123456789")
    await sim.start()
    yield sim
    await sim.stop()


async def a_consenting_shopper(
    db: asyncpg.Pool, settings: Settings, phone: str
) -> tuple[uuid.UUID, str]:
    """A merchant where `phone` logged in by SMS and agreed to marketing texts."""
    async with db.acquire() as conn:
        merchant = await accounts.create_merchant(conn, f"Shop {uuid.uuid4().hex[:6]}")
        store = await accounts.create_store(conn, merchant, "Main")
    identity = await identities.remember(
        db, settings.secret_key, merchant, "phone", phone, verified=True
    )
    await sms_consent.give(db, merchant, identity.hash, store, "sms-1")
    return merchant, identity.hash


async def in_force(db: asyncpg.Pool, merchant: uuid.UUID) -> int:
    return await db.fetchval(
        "SELECT count(*) FROM shopper_consents WHERE merchant_id = $1 AND withdrawn_at IS NULL",
        merchant,
    )


async def told(db: asyncpg.Pool, merchant: uuid.UUID) -> list[dict[str, object]]:
    rows = await db.fetch(
        "SELECT payload FROM marketing_inbox WHERE merchant_id = $1 AND kind = 'consent'",
        merchant,
    )
    return [r["payload"] for r in rows]


async def test_a_t_reply_ends_the_numbers_consent_everywhere_and_is_told_once(
    replies_url: str, aliyun: AliyunSmsSim, db: asyncpg.Pool, settings: Settings
) -> None:
    first, identity = await a_consenting_shopper(db, settings, PHONE)
    second, other_identity = await a_consenting_shopper(db, settings, PHONE)
    bystander, _ = await a_consenting_shopper(db, settings, "+8613812360002")
    status, answer = await aliyun.push_replies(replies_url, [(PHONE, "T")], sequence=41)
    assert (status, answer) == (200, {"code": 0, "msg": "接收成功"})
    assert (await in_force(db, first), await in_force(db, second)) == (0, 0)
    assert await in_force(db, bystander) == 1
    via = await db.fetchval(
        "SELECT withdrawn_via FROM shopper_consents WHERE merchant_id = $1", first
    )
    assert via == "sms_reply"
    assert await told(db, first) == [{"channel": "sms", "given": False, "identity_hash": identity}]
    assert await told(db, second) == [
        {"channel": "sms", "given": False, "identity_hash": other_identity}
    ]
    # The service pushes the same batch again (our answer lost): nothing more is told.
    assert (await aliyun.push_replies(replies_url, [(PHONE, "T")], sequence=41))[0] == 200
    assert len(await told(db, first)) == 1 and await told(db, bystander) == []

    # Marketing: the profile loses its SMS consent, and a text trigger is refused.
    await postpone_waiting(db)
    await open_budget(db, first)
    await a_trigger(db, first, "sms", event="login", offer_key="after-the-t")
    store = (await accounts.list_stores(db, first))[0].store_id
    device = "d" * 32
    login = {"method": "sms", "identity_hash": identity}  # the reply came first, then a visit
    await intake.record_events(
        db, [intake.InboxEvent(first, "login", device, store, datetime.now(UTC), login)]
    )
    engine = Engine(db)
    while await engine.step():
        pass
    profile = await db.fetchrow(
        "SELECT consent_sms, opted_out_at FROM marketing_profiles"
        " WHERE merchant_id = $1 AND profile_key = $2",
        first,
        f"i:{identity}",
    )
    assert profile["consent_sms"] is False and profile["opted_out_at"] is None
    reason = await db.fetchval(
        "SELECT reason FROM marketing_contacts WHERE merchant_id = $1", first
    )
    assert reason == "no_consent"


async def test_a_push_of_more_than_a_thousand_replies_is_read_whole(
    replies_url: str, aliyun: AliyunSmsSim, db: asyncpg.Pool, settings: Settings
) -> None:
    """The service pushes a batch once: a reply past the 1,000th left unread after our 200 is
    never pushed again (commit 034e0a6; before it only the first 1,000 were read)."""
    early, _ = await a_consenting_shopper(db, settings, "+8613812361001")
    late, identity = await a_consenting_shopper(db, settings, "+8613812361002")
    thanks = [(f"1391236{n:04d}", "谢谢") for n in range(1_298)]
    replies = [("13812361001", "T"), *thanks, ("13812361002", "T")]  # the last is the 1,300th
    assert len(replies) == 1_300
    status, answer = await aliyun.push_replies(replies_url, replies)
    assert (status, answer) == (200, {"code": 0, "msg": "接收成功"})
    assert (await in_force(db, early), await in_force(db, late)) == (0, 0)
    assert await told(db, late) == [{"channel": "sms", "given": False, "identity_hash": identity}]


@pytest.mark.parametrize("reply", ["t", "Ｔ", " TD ", "退订", "STOP", "r", "T。"])
def test_the_opt_out_words_as_phones_type_them(reply: str) -> None:
    assert sms_inbound.is_opt_out(reply)


@pytest.mark.parametrize("reply", ["", "Thanks", "TT", "谢谢", "T please", "1"])
def test_other_replies_are_no_opt_out(reply: str) -> None:
    assert not sms_inbound.is_opt_out(reply)


async def test_other_replies_and_unreadable_pushes_end_nothing(
    replies_url: str, aliyun: AliyunSmsSim, db: asyncpg.Pool, settings: Settings
) -> None:
    merchant, _ = await a_consenting_shopper(db, settings, "+8613812360003")
    status, _answer = await aliyun.push_replies(
        replies_url, [("13812360003", "谢谢"), ("not a number", "T"), ("13812360009", "T")]
    )
    assert status == 200 and await in_force(db, merchant) == 1
    base = replies_url.rsplit("/", 1)[0]
    async with aiohttp.ClientSession() as http:
        for url, body, expected in [
            (replies_url, b"{not json", 400),
            (replies_url, b'{"phone_number": "13812360003", "content": "T"}', 400),
            (f"{base}/wrong-token", b'[{"phone_number": "13812360003", "content": "T"}]', 404),
            (replies_url, b"[" + b" " * (300 * 1024) + b"]", 413),
        ]:
            async with http.post(url, data=body) as response:
                assert response.status == expected, (url, body[:30])
    assert await in_force(db, merchant) == 1 and await told(db, merchant) == []


async def test_without_a_token_the_reply_address_does_not_exist(
    settings: Settings, db: asyncpg.Pool, sender: CommandSender, aliyun: AliyunSmsSim
) -> None:
    assert settings.aliyun_sms_inbound_token == ""
    async with serve(runtime.portal_app(settings, db, sender)) as base:
        status, _ = await aliyun.push_replies(f"{base}/sms/replies/aliyun/", [(PHONE, "T")])
        assert status == 404
