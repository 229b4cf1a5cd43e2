"""Marketing's offers on the "you're online" page (portal/online.py, wired by the composition
root: portico/runtime.py portal_app): shown in the page's language, counted as delivered once,
their coupon claimed with one button; tiny, no script, nothing from another host; nobody
else's, and none without the hooks."""

from __future__ import annotations

import html
import re
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from controller.services import CommandSender
from kernel.config import Settings
from kernel.privacy import device_hash
from portico.runtime import portal_app
from simulators.router import SimulatedRouter
from tests.factories import Tenant, make_tenant
from tests.marketing.receivers import a_contact, a_trigger, contact_row
from tests.portal.test_login import login_to_online_page

MAC = "aa:bb:cc:00:0e:01"


@pytest.fixture
async def tenant(db: asyncpg.Pool) -> Tenant:
    return await make_tenant(db, session_minutes=45)


@pytest.fixture
async def wired_client(
    settings: Settings, db: asyncpg.Pool, sender: CommandSender
) -> AsyncIterator[TestClient]:
    """The portal as the composition root builds it: with marketing's offers."""
    async with TestClient(TestServer(portal_app(settings, db, sender))) as client:
        yield client


async def an_offer(
    db: asyncpg.Pool, settings: Settings, tenant: Tenant, mac: str, **changes: object
) -> uuid.UUID:
    trigger = await a_trigger(db, tenant.merchant_id, "portal", **changes)
    device = device_hash(settings.secret_key, str(tenant.merchant_id), mac)
    return await a_contact(db, tenant.merchant_id, trigger, "d:" + device, channel="portal")


async def test_the_online_page_shows_the_offer_and_counts_it_delivered_once(
    wired_client: TestClient,
    router: SimulatedRouter,
    tenant: Tenant,
    db: asyncpg.Pool,
    settings: Settings,
) -> None:
    offer = await an_offer(db, settings, tenant, MAC)
    link = await login_to_online_page(wired_client, router, router.add_client(MAC, "10.0.14.1"))
    page = await wired_client.get(link)
    text = await page.text()
    assert page.status == 200
    assert '<p class="offer-text">Welcome back: 20% off milk tea today</p>' in text
    assert "Get the coupon" not in text  # this offer gives no coupon
    assert "<script" not in text.lower()
    assert not re.search(r'(src|href|action)="https?://', text)  # nothing from another host
    row = await contact_row(db, tenant.merchant_id, offer)
    assert row["status"] == "delivered" and row["delivered_at"] is not None
    delivered_at = row["delivered_at"]

    zh = await (await wired_client.get(link.replace("lang=en", "lang=zh-CN"))).text()
    assert "欢迎光临，今天奶茶八折" in zh  # the same offer in the page's language
    assert (await contact_row(db, tenant.merchant_id, offer))["delivered_at"] == delivered_at


async def test_an_offers_coupon_is_claimed_with_one_button(
    wired_client: TestClient,
    router: SimulatedRouter,
    tenant: Tenant,
    db: asyncpg.Pool,
    settings: Settings,
) -> None:
    mac = "aa:bb:cc:00:0e:02"
    await an_offer(db, settings, tenant, mac, coupon_id=tenant.coupon_id, message_en="")
    link = await login_to_online_page(wired_client, router, router.add_client(mac, "10.0.14.2"))
    text = await (await wired_client.get(link)).text()
    assert "coupon-code" not in text  # none held yet
    form = re.search(r'<section class="offer" id="offer-1">(.*?)</section>', text, re.S).group(1)
    assert "欢迎光临" in form  # no English message: the Chinese one
    action = re.search(r'<form method="post" action="([^"]+)"', form).group(1)
    fields = {
        name: html.unescape(value)
        for name, value in re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', form)
    }
    assert fields["coupon"] == str(tenant.coupon_id)

    claimed = await wired_client.post(action, data=fields, allow_redirects=False)
    assert claimed.status == 303
    after = await (await wired_client.get(claimed.headers["Location"])).text()
    code = re.search(r'class="code coupon-code">([^<]+)<', after)
    assert code, "the online page lists the claimed coupon"
    again = await wired_client.post(action, data=fields, allow_redirects=False)
    assert again.status == 303  # the same code, held already
    held = await db.fetchval(
        "SELECT count(*) FROM coupon_codes WHERE merchant_id = $1 AND claimed_by IS NOT NULL",
        tenant.merchant_id,
    )
    assert held == 1

    # Only a coupon one of the shopper's offers gives.
    other = await wired_client.post(action, data={**fields, "coupon": str(uuid.uuid4())})
    assert other.status == 404


async def test_no_offers_without_marketing_and_none_of_another_shopper(
    wired_client: TestClient,
    portal_client: TestClient,
    router: SimulatedRouter,
    tenant: Tenant,
    db: asyncpg.Pool,
    settings: Settings,
) -> None:
    offer = await an_offer(db, settings, tenant, "aa:bb:cc:00:0e:09")  # another device's
    link = await login_to_online_page(
        wired_client, router, router.add_client("aa:bb:cc:00:0e:03", "10.0.14.3")
    )
    assert 'class="offer"' not in await (await wired_client.get(link)).text()
    assert (await contact_row(db, tenant.merchant_id, offer))["status"] == "pending"
    mine = await an_offer(db, settings, tenant, "aa:bb:cc:00:0e:03")
    plain = await (await portal_client.get(link)).text()  # a portal app without the hooks
    assert 'class="offer"' not in plain
    assert (await contact_row(db, tenant.merchant_id, mine))["status"] == "pending"
    path = link.split("?")[0].replace("/online", "/offer")
    assert (await portal_client.post(path, data={})).status == 404
