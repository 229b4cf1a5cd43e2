"""A claimed coupon also goes by SMS when an SMS code proved the shopper's phone on this
device (PRODUCT.md §1: the captive mini-browser keeps no cookies and opens no app): on the
claim, and at an SMS login for the coupons claimed on that visit's splash."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from kernel.config import Settings
from portal import sms
from portal import stores as portal_stores
from simulators.router import SimulatedRouter
from tests.factories import Tenant, make_tenant
from tests.portal.test_sms_login import new_client, sent_code, verify


@pytest.fixture
async def tenant(db: asyncpg.Pool) -> Tenant:
    tenant = await make_tenant(db)  # with an ad offering a coupon
    await portal_stores.upsert_store_portal(
        db,
        tenant.merchant_id,
        tenant.store_id,
        brand_name=tenant.brand_name,
        login_methods=("click", "sms"),
    )
    return tenant


async def outbox(db: asyncpg.Pool, tenant: Tenant) -> list[str]:
    rows = await db.fetch(
        "SELECT body FROM sms_outbox WHERE merchant_id = $1 ORDER BY created_at",
        tenant.merchant_id,
    )
    return [r["body"] for r in rows]


async def claim(client: TestClient, router_id: str, fas: str, coupon: uuid.UUID) -> str:
    form = {"fas": fas, "coupon": str(coupon), "lang": "en"}
    response = await client.post(f"/fas/{router_id}/coupon", data=form)
    assert response.status == 200, await response.text()
    return await response.text()


async def texts_settle(db: asyncpg.Pool, tenant: Tenant, count: int) -> list[str]:
    """The outbox once it holds `count` texts (coupon texts are sent in the background)."""
    deadline = asyncio.get_running_loop().time() + 15  # generous: a busy machine is slower
    while asyncio.get_running_loop().time() < deadline:
        bodies = await outbox(db, tenant)
        if len(bodies) >= count:
            return bodies
        await asyncio.sleep(0.02)
    return await outbox(db, tenant)


async def code_of(db: asyncpg.Pool, tenant: Tenant) -> str:
    return await db.fetchval(
        "SELECT code FROM coupon_codes WHERE merchant_id = $1 AND state = 'claimed'",
        tenant.merchant_id,
    )


async def test_a_coupon_claimed_at_the_sms_login_visit_is_texted_once_the_phone_is_proved(
    portal_client: TestClient, router: SimulatedRouter, tenant: Tenant, db: asyncpg.Pool
) -> None:
    assert tenant.coupon_id is not None
    client, fas = new_client(router, "aa:bb:cc:20:00:01", "10.0.2.1")
    await claim(portal_client, router.router_id, fas, tenant.coupon_id)
    await asyncio.sleep(0.2)
    assert await outbox(db, tenant) == []  # no phone known yet: nothing to text

    ref, code = await sent_code(portal_client, db, tenant, fas)
    response = await verify(portal_client, router.router_id, fas, ref, code)
    assert response.status == 303 and client.authenticated

    bodies = await texts_settle(db, tenant, 2)
    coupon_code = await code_of(db, tenant)
    assert len(bodies) == 2 and coupon_code in bodies[1] and tenant.brand_name in bodies[1]


async def test_a_known_phone_gets_the_coupon_when_it_is_claimed(
    portal_client: TestClient, router: SimulatedRouter, tenant: Tenant, db: asyncpg.Pool
) -> None:
    assert tenant.coupon_id is not None
    _client, fas = new_client(router, "aa:bb:cc:20:00:02", "10.0.2.2")
    ref, code = await sent_code(portal_client, db, tenant, fas)  # an earlier SMS login
    assert (await verify(portal_client, router.router_id, fas, ref, code)).status == 303

    page = await claim(portal_client, router.router_id, fas, tenant.coupon_id)

    coupon_code = await code_of(db, tenant)
    assert coupon_code in page  # on screen at once, whatever the SMS does
    bodies = await texts_settle(db, tenant, 2)
    assert len(bodies) == 2 and coupon_code in bodies[1]
    await claim(portal_client, router.router_id, fas, tenant.coupon_id)  # held already
    await asyncio.sleep(0.2)
    assert len(await outbox(db, tenant)) == 2  # not texted again


async def test_alibaba_cloud_texts_coupons_only_with_an_approved_template(
    settings: Settings, db: asyncpg.Pool
) -> None:
    aliyun = dataclasses.replace(
        settings,
        sms_provider="aliyun",
        aliyun_sms_access_key_id="id",
        aliyun_sms_access_key_secret="secret",
        aliyun_sms_sign_name="Portico",
        aliyun_sms_template_code="SMS_1",
    )
    merchant = uuid.uuid4()
    assert sms.SmsProviders(aliyun, db).for_coupons(merchant) is None
    providers = sms.SmsProviders(
        dataclasses.replace(aliyun, aliyun_sms_coupon_template_code="SMS_2"), db
    )
    try:
        assert isinstance(providers.for_coupons(merchant), sms.AliyunSmsProvider)
    finally:
        await providers.close()
