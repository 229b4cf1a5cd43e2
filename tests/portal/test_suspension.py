"""A merchant the platform suspended: its portal shows shoppers a neutral "unavailable" page and
grants nobody (openNDS splash and login); unsuspended, it works again. The portal reads the
suspension through portal.stores.merchant_suspended, cached like the store's settings."""

from __future__ import annotations

import uuid

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from accounts import operators
from accounts import services as accounts
from portal import stores
from portal.fas import encode_fas
from simulators.router import SimulatedRouter
from tests.factories import Tenant, make_tenant

EN = {"Accept-Language": "en-US,en;q=0.9"}
ZH = {"Accept-Language": "zh-CN,zh;q=0.9"}


@pytest.fixture
async def tenant(db: asyncpg.Pool) -> Tenant:
    return await make_tenant(db)


@pytest.fixture
async def operator(db: asyncpg.Pool) -> object:
    user_id = await accounts.create_user(
        db, f"op-{uuid.uuid4().hex}@example.com", "Op", "operator password"
    )
    await operators.grant(db, user_id)
    return user_id


async def test_a_suspended_merchants_portal_grants_nobody_until_unsuspended(
    portal_client: TestClient,
    router: SimulatedRouter,
    tenant: Tenant,
    db: asyncpg.Pool,
    operator: object,
) -> None:
    client = router.add_client("aa:bb:cc:00:09:01", "10.0.9.1")
    fas = encode_fas(router.fas_fields(client))
    splash = f"/fas/{router.router_id}/?fas={fas}"
    assert (await portal_client.get(splash, headers=EN)).status == 200

    await operators.set_suspended(db, tenant.merchant_id, True, operator)
    assert not await stores.merchant_suspended(db, tenant.merchant_id)  # cached a moment
    stores._suspensions.clear()  # as SETTINGS_TTL seconds passing would

    page = await portal_client.get(splash, headers=EN)
    assert page.status == 503
    text = await page.text()
    assert "This WiFi service is unavailable at the moment." in text
    assert "suspend" not in text.lower() and tenant.brand_name not in text
    zh = await portal_client.get(splash, headers=ZH)
    assert "此 WiFi 服务暂时不可用" in await zh.text()
    login = await portal_client.post(
        f"/fas/{router.router_id}/login",
        data={"fas": fas, "accept": "1", "lang": "en"},
        allow_redirects=False,
    )
    assert login.status == 503 and not client.authenticated
    assert (
        await db.fetchval(
            "SELECT count(*) FROM portal_sessions WHERE merchant_id = $1", tenant.merchant_id
        )
        == 0
    )

    await operators.set_suspended(db, tenant.merchant_id, False, operator)
    stores._suspensions.clear()
    assert (await portal_client.get(splash, headers=EN)).status == 200
