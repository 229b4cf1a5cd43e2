"""Versioned terms per store (portal/terms.py): published versions never change, the splash
links to the current one, and every login records the version it accepted."""

from __future__ import annotations

import html
import re
import uuid

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

import accounts.services as accounts
from controller.services import register_router
from portal import stores, terms
from portal.fas import encode_fas
from simulators.router import SimClient, SimulatedRouter
from tests.factories import Tenant, make_tenant

EN_V2 = "Be kind to the network.\n\nVersion two of our rules:\nno streaming of 4K video."
ZH_V2 = "请爱护网络。\n\n第二版规则：\n请勿播放 4K 视频。"


@pytest.fixture
async def tenant(db: asyncpg.Pool) -> Tenant:
    tenant = await make_tenant(db, with_ad=False)
    await stores.upsert_store_portal(
        db,
        tenant.merchant_id,
        tenant.store_id,
        brand_name=tenant.brand_name,
        login_methods=("click", "email"),
        returning_days=3,
    )
    return tenant


async def publish(db: asyncpg.Pool, tenant: Tenant, version: str, en: str = EN_V2) -> terms.Terms:
    published = await terms.publish(db, tenant.merchant_id, tenant.store_id, version, en, ZH_V2)
    stores._gateways.clear()  # the store portal cache (5 s) would show it a little later
    return published


async def splash(portal: TestClient, sim: SimulatedRouter, client: SimClient) -> str:
    path = f"/fas/{sim.router_id}/?fas={encode_fas(sim.fas_fields(client))}"
    return await (await portal.get(path, headers={"Accept-Language": "en"})).text()


async def test_a_published_version_becomes_current_and_the_splash_links_to_it(
    portal_client: TestClient, router: SimulatedRouter, tenant: Tenant, db: asyncpg.Pool
) -> None:
    client = router.add_client("aa:bb:cc:30:00:01", "10.0.3.1")
    default = f"/terms/{tenant.merchant_id}/{tenant.store_id}/1"
    assert f'href="{default}?lang=en" id="terms-link"' in await splash(
        portal_client, router, client
    )
    page = await portal_client.get(default, headers={"Accept-Language": "en"})
    assert page.status == 200
    text = html.unescape(await page.text())
    assert "This free WiFi is offered by the store named above" in text
    assert "Version 1" in text and tenant.brand_name in text

    published = await publish(db, tenant, "2024-06.b")
    assert published.published_at is not None
    assert [v.version for v in await terms.versions(db, tenant.merchant_id, tenant.store_id)] == [
        "2024-06.b"
    ]
    current = f"/terms/{tenant.merchant_id}/{tenant.store_id}/2024-06.b"
    page_text = await splash(portal_client, router, client)
    assert f'href="{current}?lang=en" id="terms-link"' in page_text
    assert f'href="{current}?lang=en">read them</a>' in page_text  # beside the email form's box
    en = html.unescape(await (await portal_client.get(current + "?lang=en")).text())
    assert "<p>Be kind to the network.</p>" in en
    assert "no streaming of 4K video" in en and "Version 2024-06.b, published 20" in en
    assert "newer version" not in en
    zh = html.unescape(await (await portal_client.get(current + "?lang=zh-CN")).text())
    assert "请爱护网络" in zh and "版本 2024-06.b" in zh and "lang=en" in zh
    # The old version's page still shows what it said, and points to the one in force.
    old = html.unescape(await (await portal_client.get(default + "?lang=en")).text())
    assert "This free WiFi" in old and f'<a href="{current}?lang=en">2024-06.b</a>' in old


async def test_a_published_version_never_changes(tenant: Tenant, db: asyncpg.Pool) -> None:
    await publish(db, tenant, "2")
    with pytest.raises(terms.VersionTaken):
        await publish(db, tenant, "2", en="Quietly changed words.")
    await publish(db, tenant, "3", en="Version three.")
    with pytest.raises(terms.VersionTaken):
        await publish(db, tenant, "2", en="Quietly changed words.")
    rows = {v.version: v for v in await terms.versions(db, tenant.merchant_id, tenant.store_id)}
    assert rows["2"].body_en == EN_V2 and rows["3"].body_en == "Version three."
    _router, portal = await stores.store_gateway(db, tenant.router.router_id)
    assert portal.terms_version == "3"  # the refused re-publication changed nothing


@pytest.mark.parametrize(
    ("version", "en", "refusal"),
    [
        ("1", EN_V2, terms.ReservedVersion),
        ("", EN_V2, terms.BadVersion),
        ("v 2", EN_V2, terms.BadVersion),
        ("x" * 33, EN_V2, terms.BadVersion),
        ("2/3", EN_V2, terms.BadVersion),
        ("4", "   ", terms.BadBody),
        ("4", "x" * 20_001, terms.BadBody),
    ],
)
async def test_bad_versions_are_refused_and_store_nothing(
    tenant: Tenant, db: asyncpg.Pool, version: str, en: str, refusal: type[Exception]
) -> None:
    with pytest.raises(refusal):
        await publish(db, tenant, version, en=en)
    assert await terms.versions(db, tenant.merchant_id, tenant.store_id) == []


async def test_a_store_without_a_portal_cannot_publish(tenant: Tenant, db: asyncpg.Pool) -> None:
    bare = await accounts.create_store(db, tenant.merchant_id, "No portal yet")
    with pytest.raises(terms.NoStorePortal):
        await terms.publish(db, tenant.merchant_id, bare, "2", EN_V2, ZH_V2)
    assert await terms.versions(db, tenant.merchant_id, bare) == []


@pytest.mark.parametrize(
    "path",
    [
        "/terms/{m}/{s}/9",
        "/terms/{m}/{other}/1",
        "/terms/{other}/{s}/1",
        "/terms/not-a-uuid/{s}/1",
        "/terms/{m}/{s}/bad%20version",
    ],
)
async def test_terms_that_do_not_exist_get_a_clear_page(
    portal_client: TestClient, tenant: Tenant, path: str
) -> None:
    url = path.format(m=tenant.merchant_id, s=tenant.store_id, other=uuid.uuid4())
    response = await portal_client.get(url, headers={"Accept-Language": "en"})
    assert response.status == 404
    assert "These terms do not exist" in await response.text()


async def test_every_login_records_the_version_it_accepted(
    portal_client: TestClient, router: SimulatedRouter, tenant: Tenant, db: asyncpg.Pool
) -> None:
    await publish(db, tenant, "7")
    logins = [
        ("login", {"accept": "1"}, "aa:bb:cc:30:00:02"),
        ("email", {"accept": "1", "email": "terms@example.com"}, "aa:bb:cc:30:00:03"),
        ("returning", {}, "aa:bb:cc:30:00:02"),  # the click-through device, back
    ]
    for path, fields, mac in logins:
        router.nds.ndsctl_deauth(mac)
        client = router.add_client(mac, "10.0.3.2")
        data = {"fas": encode_fas(router.fas_fields(client)), "lang": "en", **fields}
        response = await portal_client.post(
            f"/fas/{router.router_id}/{path}", data=data, allow_redirects=False
        )
        assert response.status == 303, await response.text()
    rows = await db.fetch(
        "SELECT method, terms_version FROM portal_sessions WHERE merchant_id = $1"
        " ORDER BY started_at",
        tenant.merchant_id,
    )
    assert [(r["method"], r["terms_version"]) for r in rows] == [
        ("click", "7"),
        ("email", "7"),
        ("returning", "7"),
    ]

    # WiFiDog: the version travels in the token to the session.
    async with db.acquire() as conn:
        new = await register_router(
            conn,
            tenant.merchant_id,
            tenant.store_id,
            f"wd-{uuid.uuid4().hex[:10]}",
            "WD",
            gateway="wifidog",
        )
    await publish(db, tenant, "8")
    gw_id, mac, ip = new.router.router_id, "0a:11:22:33:44:88", "192.168.1.26"
    login = (
        f"/wifidog/login/?gw_address=192.168.1.1&gw_port=2060&gw_id={gw_id}&ip={ip}&mac={mac}"
        "&url=http%3A%2F%2Fexample.com%2F"
    )
    page = await (await portal_client.get(login)).text()
    assert f"/terms/{tenant.merchant_id}/{tenant.store_id}/8" in page
    ticket = html.unescape(re.search(r'name="fas" value="([^"]+)"', page).group(1))
    response = await portal_client.post(
        "/wifidog/login/", data={"fas": ticket, "accept": "1"}, allow_redirects=False
    )
    token = re.search(r"token=([A-Za-z0-9_-]+)", response.headers["Location"]).group(1)
    auth = await portal_client.get(
        f"/wifidog/auth/?stage=login&ip={ip}&mac={mac}&token={token}&incoming=0&outgoing=0"
        f"&gw_id={gw_id}"
    )
    assert "Auth: 1" in await auth.text()
    wifidog = await db.fetchval(
        "SELECT terms_version FROM portal_sessions WHERE merchant_id = $1 AND router_id = $2",
        tenant.merchant_id,
        gw_id,
    )
    assert wifidog == "8"
