"""WeChat template messages (marketing/wechat.py) against the local model of WeChat's API
(simulators/wechat.py): the token fetched once and shared through the database, refreshed
when expired or replaced, and each of the documented refusals recorded as it should be."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import aiohttp
import asyncpg
import pytest

from kernel.config import Settings
from marketing import wechat
from marketing.dispatch import Dispatcher, Policy
from simulators.wechat import WeChatSim
from tests.marketing.receivers import (
    a_contact,
    a_trigger,
    contact_row,
    make_due,
)
from tests.marketing.test_engine import a_merchant

APP_ID, APP_SECRET, TEMPLATE = "wx0123456789abcdef", "app-secret-0123456789", "TPL_offer_ready"
FOLLOWER, LEFT = "oMsT10SK1anSqHduazp_follower", "oMsT10SK1anSqHduazp_unfollowed"


@pytest.fixture
async def sim() -> WeChatSim:
    model = WeChatSim(APP_ID, APP_SECRET, {FOLLOWER}, {LEFT}, {TEMPLATE})
    await model.start()
    yield model
    await model.stop()


def channel(
    db: asyncpg.Pool, settings: Settings, http: aiohttp.ClientSession, sim: WeChatSim
) -> wechat.WeChatChannel:
    client = wechat.WeChatClient(http, sim.url, timeout=0.5)
    return wechat.WeChatChannel(db, client, settings.secret_key)


async def a_follower_contact(
    db: asyncpg.Pool, settings: Settings, *, openid: str = FOLLOWER, secret: str = APP_SECRET
) -> tuple[uuid.UUID, uuid.UUID]:
    """A merchant with an Official Account, a profile linked to a follower who agreed (as a
    follow through the shopper's code leaves it: tests/marketing/test_wechat_follow.py), and a
    wechat contact inserted directly."""
    merchant, _store = await a_merchant(db)
    await wechat.set_account(
        db,
        merchant,
        secret_key=settings.secret_key,
        app_id=APP_ID,
        app_secret=secret,
        template_id=TEMPLATE,
    )
    trigger = await a_trigger(db, merchant, "wechat")
    profile = "i:" + uuid.uuid4().hex
    contact = await a_contact(db, merchant, trigger, profile, channel="wechat")
    await wechat.link_follower(db, merchant, profile, openid)
    await db.execute(
        "UPDATE marketing_profiles SET consent_wechat = true"
        " WHERE merchant_id = $1 AND profile_key = $2",
        merchant,
        profile,
    )
    return merchant, contact


async def test_the_client_gets_a_token_and_is_refused_a_wrong_secret_or_appid(
    http: aiohttp.ClientSession, sim: WeChatSim
) -> None:
    client = wechat.WeChatClient(http, sim.url)
    token, lifetime = await client.access_token(APP_ID, APP_SECRET)
    assert len(token) > 20 and lifetime == 7200
    with pytest.raises(wechat.TokenRefused) as refused:
        await client.access_token(APP_ID, "wrong")
    assert refused.value.errcode == 40001
    with pytest.raises(wechat.TokenRefused) as refused:
        await client.access_token("wx-other", APP_SECRET)
    assert refused.value.errcode == 40013
    msgid = await client.send_template(
        token, {"touser": FOLLOWER, "template_id": TEMPLATE, "data": {"thing1": {"value": "hi"}}}
    )
    assert msgid > 0


async def test_a_template_message_reaches_the_follower_and_the_token_is_shared(
    db: asyncpg.Pool, settings: Settings, http: aiohttp.ClientSession, sim: WeChatSim
) -> None:
    merchant, contact = await a_follower_contact(db, settings)
    assert await Dispatcher(db, {"wechat": channel(db, settings, http, sim)}).step() == 1
    assert sim.sent == [
        {
            "touser": FOLLOWER,
            "template_id": TEMPLATE,
            "data": {"thing1": {"value": "欢迎光临，今天奶茶八折"}},
        }
    ]
    row = await contact_row(db, merchant, contact)
    assert (row["status"], row["attempts"]) == ("sent", 1)
    # The token is kept sealed beside the account: another dispatcher uses it, fetches none.
    stored = await db.fetchrow(
        "SELECT sealed_access_token, access_token_expires_at FROM marketing_wechat_accounts"
        " WHERE merchant_id = $1",
        merchant,
    )
    assert stored["sealed_access_token"] is not None
    assert stored["access_token_expires_at"] > datetime.now(UTC) + timedelta(hours=1)
    trigger = (await contact_row(db, merchant, contact))["trigger_id"]
    profile = (await contact_row(db, merchant, contact))["profile_key"]
    await a_contact(db, merchant, trigger, profile, channel="wechat")
    assert await Dispatcher(db, {"wechat": channel(db, settings, http, sim)}).step() == 1
    assert len(sim.sent) == 2 and sim.token_requests == 1


async def test_an_expired_or_replaced_token_is_refreshed_and_the_message_sent_once_more(
    db: asyncpg.Pool, settings: Settings, http: aiohttp.ClientSession, sim: WeChatSim
) -> None:
    merchant, contact = await a_follower_contact(db, settings)
    ch = channel(db, settings, http, sim)
    d = Dispatcher(db, {"wechat": ch})
    await d.step()
    trigger = (await contact_row(db, merchant, contact))["trigger_id"]
    profile = (await contact_row(db, merchant, contact))["profile_key"]

    sim.fail_next = ["expired"]  # 42001 for a token that looked good
    second = await a_contact(db, merchant, trigger, profile, channel="wechat")
    await d.step()
    assert (await contact_row(db, merchant, second))["status"] == "sent"
    assert sim.answers[-2:] == [42001, 0] and sim.token_requests == 2

    # Another server fetched a new token, and the 5 minutes both worked are over: 40001.
    await wechat.WeChatClient(http, sim.url).access_token(APP_ID, APP_SECRET)
    sim.advance(301)
    third = await a_contact(db, merchant, trigger, profile, channel="wechat")
    await d.step()
    assert (await contact_row(db, merchant, third))["status"] == "sent"
    assert sim.answers[-2:] == [40001, 0] and sim.token_requests == 4
    assert len(sim.sent) == 3


@pytest.mark.parametrize(
    ("setup", "status", "error", "wait"),
    [
        ("unfollowed", "failed", "errcode 43004: require subscribe", None),
        ("quota", "pending", "errcode 45009: reach max api daily quota limit", 3600),
        ("busy", "pending", "errcode -1: system error", 0),
        ("http500", "pending", "wechat: /cgi-bin/message/template/send: HTTP 500", 0),
        ("hang", "pending", "wechat: /cgi-bin/message/template/send: TimeoutError", 0),
        ("wrong_secret", "failed", "the account's token was refused (errcode 40001", None),
        ("no_follower", "failed", "wechat: no WeChat follower is linked to this shopper", None),
    ],
)
async def test_each_refusal_is_recorded_as_its_code_says(
    db: asyncpg.Pool,
    settings: Settings,
    http: aiohttp.ClientSession,
    sim: WeChatSim,
    setup: str,
    status: str,
    error: str,
    wait: int | None,
) -> None:
    openid = LEFT if setup == "unfollowed" else FOLLOWER
    secret = "wrong" if setup == "wrong_secret" else APP_SECRET
    merchant, contact = await a_follower_contact(db, settings, openid=openid, secret=secret)
    if setup == "no_follower":
        await db.execute("DELETE FROM marketing_wechat_followers WHERE merchant_id = $1", merchant)
    if setup in ("quota", "busy", "http500", "hang"):
        sim.fail_next = [setup]
    before = datetime.now(UTC)
    await Dispatcher(db, {"wechat": channel(db, settings, http, sim)}).step()
    row = await contact_row(db, merchant, contact)
    assert row["status"] == status
    assert error in row["last_error"]
    if wait is not None:
        assert (row["next_attempt_at"] - before).total_seconds() >= wait
    assert sim.sent == []


async def test_a_retried_message_is_sent_when_wechat_is_back(
    db: asyncpg.Pool, settings: Settings, http: aiohttp.ClientSession, sim: WeChatSim
) -> None:
    merchant, contact = await a_follower_contact(db, settings)
    sim.fail_next = ["busy", "busy"]
    d = Dispatcher(db, {"wechat": channel(db, settings, http, sim)}, policy=Policy(max_attempts=3))
    for _ in range(3):
        await d.step()
        await make_due(db, merchant)
    row = await contact_row(db, merchant, contact)
    assert (row["status"], row["attempts"]) == ("sent", 3)
    assert sim.answers == [-1, -1, 0] and len(sim.sent) == 1


async def test_a_merchant_without_an_official_account_fails_the_contact(
    db: asyncpg.Pool, settings: Settings, http: aiohttp.ClientSession, sim: WeChatSim
) -> None:
    merchant, contact = await a_follower_contact(db, settings)
    await db.execute("DELETE FROM marketing_wechat_accounts WHERE merchant_id = $1", merchant)
    await Dispatcher(db, {"wechat": channel(db, settings, http, sim)}).step()
    row = await contact_row(db, merchant, contact)
    assert row["status"] == "failed" and "no Official Account" in row["last_error"]
