"""The wallet page in headless Chromium with JavaScript off, as a captive mini-browser shows
it on a phone: a coupon to use (code and QR code), a generic one (its shared code and the
till code of the claim) and one used, in English and Chinese; no request to another host, no
sideways scrolling.

Needs Playwright and a Chromium (tests/browser.py says how; skipped without them). With
WALLET_SCREENSHOTS=<folder> it saves portal-wallet-<lang>.png there (docs/screenshots).
"""

from __future__ import annotations

import os
import re
import uuid
from datetime import UTC, datetime, timedelta

import aiohttp
import asyncpg
import pytest

from ads import redemption
from ads import services as ads
from controller.services import CommandSender
from kernel.config import Settings
from portal.app import make_portal_app
from portal.fas import encode_fas
from simulators.router import SimulatedRouter
from tests.browser import PHONE, chromium, overflow, serve, shot, watch
from tests.factories import PNG_1X1, Tenant, make_tenant

SCREENSHOTS = os.environ.get("WALLET_SCREENSHOTS")


@pytest.fixture
async def tenant(db: asyncpg.Pool) -> Tenant:
    return await make_tenant(db, session_minutes=45)


async def test_the_wallet_on_a_phone(
    settings: Settings,
    db: asyncpg.Pool,
    sender: CommandSender,
    tenant: Tenant,
    router: SimulatedRouter,
) -> None:
    async with serve(make_portal_app(settings, db, sender)) as base:
        wallet = await wallet_with_three_coupons(base, db, router, tenant)
        async with chromium() as browser:
            context = await browser.new_context(
                viewport=PHONE, device_scale_factor=2, java_script_enabled=False
            )
            page = await context.new_page()
            problems: list[str] = []
            watch(page, problems, base)
            for language, used, ready in (
                ("en", "Used", "Ready to use"),
                ("zh-CN", "已使用", "可使用"),
            ):
                await page.goto(f"{base}{wallet}".replace("lang=en", f"lang={language}"))
                assert await page.locator("html").get_attribute("lang") == language
                items = page.locator("#wallet li")
                assert await items.count() == 3
                text = await page.inner_text("#wallet")
                assert "LATTE10" in text and used in text and ready in text
                assert await page.locator("#wallet img.coupon-qr").count() == 2
                assert await overflow(page) <= 0, f"the wallet ({language}) overflows"
                await shot(page, SCREENSHOTS, f"portal-wallet-{language}")
            assert problems == []


async def wallet_with_three_coupons(
    base: str, db: asyncpg.Pool, sim: SimulatedRouter, tenant: Tenant
) -> str:
    """A shopper logs in and holds three coupons (one used); the wallet's path."""
    client = sim.add_client("aa:bb:cc:00:02:01", "10.0.2.1")
    async with aiohttp.ClientSession() as http:
        fields = {"fas": encode_fas(sim.fas_fields(client)), "coupon": str(tenant.coupon_id)}
        await http.post(f"{base}/fas/{sim.router_id}/coupon", data=fields)
        login = await http.post(
            f"{base}/fas/{sim.router_id}/login",
            data={"fas": encode_fas(sim.fas_fields(client)), "accept": "1", "lang": "en"},
            allow_redirects=False,
        )
        assert login.status == 303
        online = await (await http.get(f"{base}{login.headers['Location']}")).text()
    wallet = re.search(r'id="wallet-link" href="([^"]+)"', online).group(1).replace("&amp;", "&")
    device = await db.fetchval(
        "SELECT device_hash FROM portal_sessions WHERE merchant_id = $1", tenant.merchant_id
    )
    now = datetime.now(UTC)
    async with db.acquire() as conn:
        latte = await ads.create_campaign(
            conn,
            tenant.merchant_id,
            advertiser="Bean There",
            name="Latte",
            starts_at=now - timedelta(hours=1),
            ends_at=now + timedelta(days=30),
            headline_en="Latte",
            headline_zh="拿铁",
            body_en="",
            body_zh="",
            image=PNG_1X1,
            coupon=("10% off any latte", "拿铁九折", now + timedelta(days=30), 0),
            pool="generic",
            generic_code="LATTE10",
            claim_days=14,
        )
        cake = await ads.create_campaign(
            conn,
            tenant.merchant_id,
            advertiser="Sweet Spot",
            name="Cake",
            starts_at=now - timedelta(hours=1),
            ends_at=now + timedelta(days=30),
            headline_en="Cake",
            headline_zh="蛋糕",
            body_en="",
            body_zh="",
            image=PNG_1X1,
            coupon=("Free cupcake", "免费纸杯蛋糕", now + timedelta(days=30), 2),
        )
        used = await ads.claim_coupon(conn, tenant.merchant_id, cake.coupon_id, device)
        await ads.claim_coupon(conn, tenant.merchant_id, latte.coupon_id, device)
    await redemption.redeem(
        db, tenant.merchant_id, used.code, store_id=tenant.store_id, user_id=uuid.uuid4()
    )
    return wallet
