"""A shopper follows the merchant's WeChat Official Account from the "you're online" page, end
to end: the portal app as the composition root makes it (portico.runtime.portal_app: marketing's
follow code and WeChat's event endpoint wired), a simulated router on the real broker, the real
PostgreSQL, and the local model of WeChat (simulators/wechat.py) on loopback, which makes the
parametric QR code and pushes the scan to our endpoint, signed, as WeChat does. Then the trigger
engine and the dispatcher on the real tables: a wechat contact, `no_consent` before, is pending
after the follow and reaches the follower as a template message; an unfollow withdraws it."""

from __future__ import annotations

import dataclasses
import html
import logging
import re
import uuid
from collections.abc import AsyncIterator

import aiohttp
import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from controller.services import CommandSender
from kernel.config import Settings
from marketing import wechat
from marketing.dispatch import Dispatcher, standard_channels
from marketing.engine import Engine
from portal import identities
from portal.messages import CATALOG
from portal.messages_wechat import MESSAGES as WECHAT_MESSAGES
from portal.qr import qr_data_uri
from portal.sms import SmsProviders
from portico import runtime
from simulators.router import SimulatedRouter
from simulators.wechat import WeChatSim
from tests.factories import Tenant
from tests.marketing.receivers import a_trigger, postpone_waiting
from tests.portal.test_login import login_to_online_page
from tests.portal.test_sms_consent import contacts_of, open_budget, sms_login
from tests.portal.test_sms_login import sms_tenant

APP_ID, APP_SECRET, TEMPLATE = "wx0a1b2c3d4e5f6a7b", "app-secret-follow-0123", "TPL_offer_ready"
OPENID = "oFollow_0123456789abcdefghijk"


@pytest.fixture
async def tenant(db: asyncpg.Pool) -> Tenant:
    return await sms_tenant(db, methods=("click", "sms"))


@pytest.fixture
async def sim() -> AsyncIterator[WeChatSim]:
    model = WeChatSim(APP_ID, APP_SECRET, templates={TEMPLATE})
    await model.start()
    yield model
    await model.stop()


@pytest.fixture
def wired(settings: Settings, sim: WeChatSim) -> Settings:
    """The platform's settings with WeChat's API at the model."""
    return dataclasses.replace(settings, marketing_wechat_api_url=sim.url)


@pytest.fixture
async def portal(
    wired: Settings, db: asyncpg.Pool, sender: CommandSender
) -> AsyncIterator[TestClient]:
    async with TestClient(TestServer(runtime.portal_app(wired, db, sender))) as client:
        yield client


async def set_up_account(
    db: asyncpg.Pool, settings: Settings, portal: TestClient, sim: WeChatSim, merchant: uuid.UUID
) -> str:
    """The merchant's account set, and its 服务器配置 saved at WeChat (which verifies the URL
    first); the push token."""
    token = await wechat.set_account(
        db,
        merchant,
        secret_key=settings.secret_key,
        app_id=APP_ID,
        app_secret=APP_SECRET,
        template_id=TEMPLATE,
    )
    url = wechat.events_url(str(portal.make_url("")), merchant)
    await sim.set_server(url, token)
    return token


def follow_block(page: str) -> str | None:
    found = re.search(r'<section class="wechat" id="wechat-follow">(.*?)</section>', page, re.S)
    return found.group(1) if found else None


def qr_src(block: str) -> str:
    return html.unescape(re.search(r'<img class="qr" id="wechat-qr" src="([^"]+)"', block)[1])


async def scenes_of(db: asyncpg.Pool, merchant: uuid.UUID) -> list[asyncpg.Record]:
    return await db.fetch(
        "SELECT * FROM marketing_wechat_scenes WHERE merchant_id = $1 ORDER BY created_at",
        merchant,
    )


async def followers_of(db: asyncpg.Pool, merchant: uuid.UUID) -> list[asyncpg.Record]:
    return await db.fetch(
        "SELECT * FROM marketing_wechat_followers WHERE merchant_id = $1", merchant
    )


async def consent_events(db: asyncpg.Pool, merchant: uuid.UUID) -> list[dict[str, object]]:
    rows = await db.fetch(
        "SELECT payload FROM marketing_inbox WHERE merchant_id = $1 AND kind = 'consent'"
        " ORDER BY received_at",
        merchant,
    )
    return [dict(r["payload"]) if isinstance(r["payload"], dict) else r["payload"] for r in rows]


async def decide(db: asyncpg.Pool) -> None:
    engine = Engine(db)
    while await engine.step():
        pass


async def send(db: asyncpg.Pool, settings: Settings) -> None:
    async with aiohttp.ClientSession() as http:
        dispatcher = Dispatcher(
            db, standard_channels(db, settings, http, SmsProviders(settings, db))
        )
        while await dispatcher.step():
            pass


async def consent_wechat(db: asyncpg.Pool, merchant: uuid.UUID, key: str) -> bool:
    return await db.fetchval(
        "SELECT consent_wechat FROM marketing_profiles WHERE merchant_id = $1 AND profile_key = $2",
        merchant,
        key,
    )


async def log_in_again(
    portal: TestClient,
    db: asyncpg.Pool,
    tenant: Tenant,
    router: SimulatedRouter,
    mac: str,
    phone: str,
) -> str:
    await db.execute(  # the number's one code a minute: as if it were later
        "DELETE FROM portal_rate_limits WHERE merchant_id = $1", tenant.merchant_id
    )
    return (await sms_login(portal, db, tenant, router, mac, phone, consent=False))[1]


async def test_a_shopper_follows_from_the_online_page_and_gets_the_template_message(
    portal: TestClient,
    router: SimulatedRouter,
    tenant: Tenant,
    db: asyncpg.Pool,
    settings: Settings,
    wired: Settings,
    sim: WeChatSim,
) -> None:
    await postpone_waiting(db)
    await open_budget(db, tenant.merchant_id)
    await set_up_account(db, settings, portal, sim, tenant.merchant_id)
    await a_trigger(db, tenant.merchant_id, "wechat", event="login", offer_key="wechat-login")
    phone, mac = "+8613812360001", "aa:bb:cc:43:00:01"
    identity = identities.identify(settings.secret_key, tenant.merchant_id, "phone", phone).hash
    key = "i:" + identity
    _code, online = await sms_login(portal, db, tenant, router, mac, phone[3:], consent=False)

    # Before: the shopper has no WeChat linked, so the login's wechat contact is no_consent.
    await decide(db)
    assert [(r["channel"], r["status"], r["reason"]) for r in await contacts_of(db, tenant)] == [
        ("wechat", "suppressed", "no_consent")
    ]

    # The online page shows the code: drawn here, of what WeChat made for this shopper's scene.
    page = await (await portal.get(online)).text()
    block = follow_block(page)
    assert block is not None and "Follow us on WeChat for offers" in block
    [scene] = await scenes_of(db, tenant.merchant_id)
    assert scene["profile_key"] == key and re.fullmatch(r"[A-Za-z0-9_-]{32}", scene["scene_id"])
    assert scene["url"].startswith("http://weixin.qq.com/q/")
    assert qr_src(block) == qr_data_uri(scene["url"])
    assert qr_src(block).startswith("data:image/svg+xml")
    assert "<script" not in page.lower()
    # Nothing from another host: the one outside link is the shopper's own way on.
    assert re.findall(r'(?:src|href|action)="(https?://[^"]*)"', page) == [
        "http://example.com/start"
    ]
    assert sim.codes[scene["url"]].scene == scene["scene_id"]
    zh = await (await portal.get(online.replace("lang=en", "lang=zh-CN"))).text()
    assert "关注公众号获取优惠" in (follow_block(zh) or "")
    assert qr_src(follow_block(zh) or "") == qr_src(block)  # the same code, kept
    assert len(sim.codes) == 1 and len(await scenes_of(db, tenant.merchant_id)) == 1

    # The shopper scans it in WeChat: WeChat pushes `subscribe` with the scene, signed.
    pushed = await sim.scan(scene["url"], OPENID)
    assert pushed is not None and (pushed.status, pushed.answer, pushed.tries) == (
        200,
        "success",
        1,
    )
    assert b"<EventKey><![CDATA[qrscene_" in pushed.body
    [follower] = await followers_of(db, tenant.merchant_id)
    assert (follower["profile_key"], follower["openid"]) == (key, OPENID)
    assert await consent_events(db, tenant.merchant_id) == [
        {"channel": "wechat", "given": True, "identity_hash": identity}
    ]
    await decide(db)
    assert await consent_wechat(db, tenant.merchant_id, key) is True
    assert follow_block(await (await portal.get(online)).text()) is None  # following already

    # Back another time: the login's wechat contact is pending now, and goes to the follower.
    await log_in_again(portal, db, tenant, router, mac, phone[3:])
    await decide(db)
    rows = await contacts_of(db, tenant)
    assert [(r["channel"], r["status"], r["reason"]) for r in rows][-1] == (
        "wechat",
        "pending",
        None,
    )
    await send(db, wired)
    assert sim.sent == [
        {
            "touser": OPENID,
            "template_id": TEMPLATE,
            "data": {"thing1": {"value": "欢迎光临，今天奶茶八折"}},
        }
    ]
    assert [r["status"] for r in await contacts_of(db, tenant)] == ["suppressed", "sent"]

    # The shopper unfollows: the link goes, the consent is withdrawn, the code shows again.
    left = await sim.unfollow(OPENID)
    assert (left.status, left.answer) == (200, "success")
    assert await followers_of(db, tenant.merchant_id) == []
    assert (await consent_events(db, tenant.merchant_id))[-1] == {
        "channel": "wechat",
        "given": False,
        "identity_hash": identity,
    }
    await decide(db)
    assert await consent_wechat(db, tenant.merchant_id, key) is False
    assert follow_block(await (await portal.get(online)).text()) is not None


async def test_an_unfollow_stops_a_message_decided_before_it(
    portal: TestClient,
    router: SimulatedRouter,
    tenant: Tenant,
    db: asyncpg.Pool,
    settings: Settings,
    wired: Settings,
    sim: WeChatSim,
) -> None:
    await postpone_waiting(db)
    await open_budget(db, tenant.merchant_id)
    await set_up_account(db, settings, portal, sim, tenant.merchant_id)
    phone, mac = "+8613812360002", "aa:bb:cc:43:00:02"
    _code, online = await sms_login(portal, db, tenant, router, mac, phone[3:], consent=False)
    await portal.get(online)
    [scene] = await scenes_of(db, tenant.merchant_id)
    await sim.scan(scene["url"], OPENID)
    await decide(db)
    await a_trigger(db, tenant.merchant_id, "wechat", event="login", offer_key="wechat-again")
    await log_in_again(portal, db, tenant, router, mac, phone[3:])
    await decide(db)
    assert [(r["channel"], r["status"]) for r in await contacts_of(db, tenant)] == [
        ("wechat", "pending")
    ]

    await sim.unfollow(OPENID)  # before the dispatcher took it
    await decide(db)
    await send(db, wired)
    assert [(r["status"], r["reason"]) for r in await contacts_of(db, tenant)] == [
        ("suppressed", "no_consent")
    ]
    assert sim.sent == []


async def test_wechat_failing_leaves_the_online_page_without_the_code(
    portal: TestClient,
    router: SimulatedRouter,
    tenant: Tenant,
    db: asyncpg.Pool,
    settings: Settings,
    sim: WeChatSim,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await set_up_account(db, settings, portal, sim, tenant.merchant_id)
    _code, online = await sms_login(
        portal, db, tenant, router, "aa:bb:cc:43:00:03", "13812360003", consent=False
    )
    sim.fail_next = ["busy"]  # -1 system busy at /cgi-bin/qrcode/create
    with caplog.at_level(logging.WARNING, logger="portico.marketing.wechat_follow"):
        page = await portal.get(online)
        text = await page.text()
    assert page.status == 200 and "You're online" in html.unescape(text)
    assert follow_block(text) is None
    assert "no WeChat follow code (errcode -1: system error" in caplog.text
    assert await scenes_of(db, tenant.merchant_id) == []
    # The merchant is not asked for again for a while: the page stays fast.
    requests = sim.token_requests, len(sim.codes)
    assert follow_block(await (await portal.get(online)).text()) is None
    assert (sim.token_requests, len(sim.codes)) == requests


async def test_no_code_without_an_account_an_identity_or_once_opted_out(
    portal: TestClient,
    router: SimulatedRouter,
    tenant: Tenant,
    db: asyncpg.Pool,
    settings: Settings,
    sim: WeChatSim,
) -> None:
    _code, online = await sms_login(
        portal, db, tenant, router, "aa:bb:cc:43:00:04", "13812360004", consent=False
    )
    assert follow_block(await (await portal.get(online)).text()) is None  # no account yet
    await set_up_account(db, settings, portal, sim, tenant.merchant_id)
    assert follow_block(await (await portal.get(online)).text()) is not None

    # A click-through login: a device alone has no marketing identity, so no code.
    clicked = await login_to_online_page(
        portal, router, router.add_client("aa:bb:cc:43:00:05", "10.0.43.6")
    )
    clicked_page = await portal.get(clicked)
    assert clicked_page.status == 200 and follow_block(await clicked_page.text()) is None

    # "No more offers" on the page: the code is gone with the offers.
    page = await (await portal.get(online)).text()
    action = page.split('id="opt-out-form"')[0].rsplit('action="', 1)[1].split('"')[0]
    fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', page))
    fields = {k: html.unescape(v) for k, v in fields.items() if k in ("s", "next", "sig", "lang")}
    done = await portal.post(action, data=fields)
    assert done.status == 200 and follow_block(await done.text()) is None


def test_the_follow_texts_are_in_both_languages_with_the_same_fields() -> None:
    for message_id, texts in WECHAT_MESSAGES.items():
        assert set(texts) == {"en", "zh-CN"} and all(texts.values()), message_id
        en, zh = (set(re.findall(r"\{(\w+)\}", texts[lang])) for lang in ("en", "zh-CN"))
        assert en == zh, message_id
    assert set(WECHAT_MESSAGES) <= set(CATALOG)
