"""The shopper's wallet page (portal/wallet_views.py): reached from the online page by its
signed link, the coupons the device holds and used, in both languages, nobody else's."""

from __future__ import annotations

import html
import re
import uuid
from urllib.parse import parse_qs, urlsplit

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from ads import redemption
from portal.fas import encode_fas
from simulators.router import SimulatedRouter
from tests.factories import Tenant, make_tenant
from tests.portal.test_login import login_to_online_page


@pytest.fixture
async def tenant(db: asyncpg.Pool) -> Tenant:
    return await make_tenant(db, session_minutes=45)


async def claimed_then_online(
    portal_client: TestClient, router: SimulatedRouter, tenant: Tenant, mac: str, ip: str
) -> tuple[str, str]:
    """A shopper claims the tenant's coupon on the splash and logs in: the code and the
    online page's link."""
    client = router.add_client(mac, ip)
    form = {"fas": encode_fas(router.fas_fields(client)), "coupon": str(tenant.coupon_id)}
    claimed = await (await portal_client.post(f"/fas/{router.router_id}/coupon", data=form)).text()
    code = re.search(r'id="coupon-code">([^<]+)<', claimed).group(1)
    return code, await login_to_online_page(portal_client, router, client)


async def wallet_link_of(portal_client: TestClient, online_link: str) -> str:
    page = await portal_client.get(online_link)
    found = re.search(r'id="wallet-link" href="([^"]+)"', await page.text())
    assert found, "the online page links to the wallet"
    return html.unescape(found.group(1))


async def test_the_wallet_shows_the_shoppers_coupons_in_both_languages(
    portal_client: TestClient, router: SimulatedRouter, tenant: Tenant, db: asyncpg.Pool
) -> None:
    code, online = await claimed_then_online(
        portal_client, router, tenant, "aa:bb:cc:00:01:01", "10.0.1.1"
    )
    link = await wallet_link_of(portal_client, online)
    assert link.startswith(f"/fas/{router.router_id}/wallet?")

    page = await portal_client.get(link)
    assert page.status == 200
    text = await page.text()
    assert "My coupons" in text and code in text and "5 off" in text
    assert "Ready to use" in text and "Valid until" in text
    assert 'src="data:image/svg+xml' in text  # its QR code, with no request
    assert "<script" not in text.lower()
    assert len(text.encode()) < 12_000, len(text.encode())  # tiny: one coupon with its QR code
    assert not re.search(r'(src|href)="https?://', text)  # nothing from another host
    assert page.headers["Cache-Control"] == "no-store"
    back = re.search(r'id="back" href="([^"]+)"', text).group(1)
    assert (await portal_client.get(html.unescape(back))).status == 200

    zh_link = link.replace("lang=en", "lang=zh-CN")
    zh = await (await portal_client.get(zh_link)).text()
    assert "我的优惠券" in zh and "减 5 元" in zh and "可使用" in zh and "有效期至" in zh

    # Redeemed at the till: still listed, as used, without its QR code.
    await redemption.redeem(
        db, tenant.merchant_id, code, store_id=tenant.store_id, user_id=uuid.uuid4()
    )
    used = await (await portal_client.get(link)).text()
    assert "Used" in used and code in used and 'src="data:image/svg+xml' not in used


async def test_a_wallet_link_we_did_not_sign_shows_nothing(
    portal_client: TestClient, router: SimulatedRouter, tenant: Tenant
) -> None:
    code, online = await claimed_then_online(
        portal_client, router, tenant, "aa:bb:cc:00:01:02", "10.0.1.2"
    )
    link = await wallet_link_of(portal_client, online)
    parts = urlsplit(link)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    for tampered in ({"sig": "0" * 32}, {"s": "not-a-session"}, {"next": "http://evil/"}):
        response = await portal_client.get(parts.path, params={**query, **tampered})
        assert response.status == 404
        body = await response.text()
        assert "This page link is not valid" in body and code not in body


async def test_another_shoppers_wallet_is_theirs(
    portal_client: TestClient, router: SimulatedRouter, tenant: Tenant
) -> None:
    mine, _online = await claimed_then_online(
        portal_client, router, tenant, "aa:bb:cc:00:01:03", "10.0.1.3"
    )
    other = router.add_client("aa:bb:cc:00:01:04", "10.0.1.4")
    link = await wallet_link_of(
        portal_client, await login_to_online_page(portal_client, router, other)
    )
    text = await (await portal_client.get(link)).text()
    assert mine not in text and 'id="wallet-empty"' in text


async def test_a_shopper_past_the_coupons_limit_is_told_so(
    portal_client: TestClient, router: SimulatedRouter, tenant: Tenant, db: asyncpg.Pool
) -> None:
    """One per shopper (the default): once their code is redeemed, claiming again says why,
    in the shopper's language."""
    client = router.add_client("aa:bb:cc:00:01:05", "10.0.1.5")
    form = {"fas": encode_fas(router.fas_fields(client)), "coupon": str(tenant.coupon_id)}
    first = await (await portal_client.post(f"/fas/{router.router_id}/coupon", data=form)).text()
    code = re.search(r'id="coupon-code">([^<]+)<', first).group(1)
    await redemption.redeem(
        db, tenant.merchant_id, code, store_id=tenant.store_id, user_id=uuid.uuid4()
    )
    again = await portal_client.post(f"/fas/{router.router_id}/coupon", data={**form, "lang": "en"})
    assert again.status == 409
    assert "claimed this coupon as often as it allows" in html.unescape(await again.text())
    zh = await portal_client.post(f"/fas/{router.router_id}/coupon", data={**form, "lang": "zh-CN"})
    assert zh.status == 409 and "领取该优惠券的次数已达上限" in await zh.text()
