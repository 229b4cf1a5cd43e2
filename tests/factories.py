"""Building test tenants through the domains' own services (never their tables)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import asyncpg

import accounts.services as accounts
import ads.services as ads
import portal.stores as portal
from accounts import audit
from controller.services import Router, record_router_status, register_router
from simulators.router import SimulatedRouter

TEST_ACTOR = audit.Actor.system("test")  # who the audit log says made a test's changes

PNG_1X1 = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010802000000907753de"
    "0000000c49444154789c633811a00100032401411d199fc40000000049454e44ae426082"
)


@dataclass(frozen=True)
class Tenant:
    merchant_id: uuid.UUID
    store_id: uuid.UUID
    router: Router
    mqtt_password: str
    coupon_id: uuid.UUID | None
    brand_name: str


async def make_tenant(
    db: asyncpg.Pool,
    *,
    session_minutes: int = 45,
    with_ad: bool = True,
    gateway_mac: str | None = None,
    codes: int = 5,
    online: bool = True,
) -> Tenant:
    """A merchant with one store and one router. `online`: the controller has seen the router's
    status say so (the portal fails fast for a router it knows is offline)."""
    suffix = uuid.uuid4().hex[:10]
    async with db.acquire() as conn, conn.transaction():
        merchant_id = await accounts.create_merchant(conn, f"Test Merchant {suffix}")
        store_id = await accounts.create_store(conn, merchant_id, f"Store {suffix}")
        await portal.upsert_store_portal(
            conn,
            merchant_id,
            store_id,
            brand_name=f"Store {suffix}",
            session_minutes=session_minutes,
            up_kbps=1000,
            down_kbps=4000,
            welcome_en="Hello",
            welcome_zh="你好",
        )
        new = await register_router(
            conn, merchant_id, store_id, f"ap-{suffix}", "AP", gateway_mac=gateway_mac
        )
        await record_router_status(
            conn, new.router, online=online, status={"v": 1, "online": online}
        )
        coupon_id = None
        if with_ad:
            now = datetime.now(UTC)
            campaign = await ads.create_campaign(
                conn,
                merchant_id,
                advertiser="Acme Tea",
                name="Test",
                starts_at=now - timedelta(hours=1),
                ends_at=now + timedelta(days=1),
                headline_en="Tea for you",
                headline_zh="为你奉茶",
                body_en="",
                body_zh="",
                image=PNG_1X1,
                coupon=("5 off", "减 5 元", now + timedelta(days=1), codes),
                holdout_share=Decimal(0),  # every test shopper sees it
            )
            coupon_id = campaign.coupon_id
    router = replace(new.router, online=online)
    return Tenant(merchant_id, store_id, router, new.mqtt_password, coupon_id, f"Store {suffix}")


def tenant_router(tenant: Tenant, mqtt_url: str, **kwargs: object) -> SimulatedRouter:
    """The tenant's router as a simulated one, with its own broker account and faskey (not
    started); `kwargs` go to SimulatedRouter (gateway_port, fas_level, …)."""
    options: dict[str, object] = {
        "portal_url": "http://portal.test",
        "gateway_mac": "02:00:00:00:00:01",
        **kwargs,
    }
    return SimulatedRouter(
        tenant.router.router_id,
        mqtt_url=mqtt_url,
        password=tenant.mqtt_password,
        faskey=tenant.router.faskey,
        **options,  # type: ignore[arg-type]
    )
