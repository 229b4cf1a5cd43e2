"""A shopper's voucher login through the portal app: openNDS against a simulated router on the
real broker, and WiFiDog (a token carrying the voucher's admission, then the gateway's auth)."""

from __future__ import annotations

import html
import re
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from controller.services import CommandSender, register_router
from portal import session_end, stores, vouchers
from portal.fas import encode_fas
from simulators.router import SimulatedRouter
from tests.factories import TEST_ACTOR, Tenant, make_tenant


@pytest.fixture
async def tenant(db: asyncpg.Pool) -> Tenant:
    """A store offering click-through and vouchers, 45-minute sessions, 4 Mbit/s down."""
    tenant = await make_tenant(db, with_ad=False)
    await enable_vouchers(db, tenant)
    return tenant


async def enable_vouchers(db: asyncpg.Pool, tenant: Tenant) -> None:
    await stores.upsert_store_portal(
        db,
        tenant.merchant_id,
        tenant.store_id,
        brand_name=tenant.brand_name,
        login_methods=("click", "voucher"),
        session_minutes=45,
        down_kbps=4000,
        down_quota_kb=100_000,
        idle_minutes=15,
    )


async def new_code(
    db: asyncpg.Pool, tenant: Tenant, *, store: uuid.UUID | None = None, **spec: object
) -> str:
    fields: dict[str, object] = {
        "name": "Test",
        "store_id": store,
        "minutes": 120,
        "quota_kb": 0,
        "max_devices": 1,
        "valid_until": None,
        "count": 1,
        **spec,
    }
    batch_id = await vouchers.create_batch(
        db, tenant.merchant_id, vouchers.BatchSpec(**fields), now=datetime.now(UTC)
    )
    [voucher] = await vouchers.codes_of_batch(db, tenant.merchant_id, batch_id)
    return voucher.code


async def post_voucher(
    portal_client: TestClient, router: SimulatedRouter, mac: str, code: str, **more: str
) -> tuple[int, str, str]:
    client = router.add_client(mac, "10.0.0.40")
    form = {"fas": encode_fas(router.fas_fields(client)), "code": code, "accept": "1"}
    response = await portal_client.post(
        f"/fas/{router.router_id}/voucher",
        data={**form, **more},
        headers={"Accept-Language": "en"},
        allow_redirects=False,
    )
    return response.status, response.headers.get("Location", ""), await response.text()


async def voucher_sessions(db: asyncpg.Pool, tenant: Tenant) -> list[asyncpg.Record]:
    return await db.fetch(
        "SELECT * FROM portal_sessions WHERE merchant_id = $1 AND method = 'voucher'"
        " ORDER BY started_at",
        tenant.merchant_id,
    )


async def test_the_splash_offers_the_voucher_form_in_both_languages(
    portal_client: TestClient, router: SimulatedRouter
) -> None:
    client = router.add_client("aa:bb:cc:00:01:01", "10.0.0.41")
    path = f"/fas/{router.router_id}/?fas={encode_fas(router.fas_fields(client))}"
    en = await (await portal_client.get(path, headers={"Accept-Language": "en"})).text()
    assert f'action="/fas/{router.router_id}/voucher"' in en
    assert "Have a voucher?" in en and 'name="code"' in en and "Connect with voucher" in en
    assert en.count('name="accept"') == 2  # click-through's and the voucher's own
    zh = await (await portal_client.get(path, headers={"Accept-Language": "zh-CN"})).text()
    assert "有上网券" in zh and "使用上网券连接" in zh


async def test_a_voucher_login_ends_online_with_the_vouchers_time_left_and_data_limit(
    portal_client: TestClient, router: SimulatedRouter, tenant: Tenant, db: asyncpg.Pool
) -> None:
    code = await new_code(db, tenant, minutes=120, max_devices=2, quota_kb=50 * 1024)
    status, location, _ = await post_voucher(
        portal_client, router, "aa:bb:cc:00:01:02", vouchers.format_code(code).lower()
    )
    assert status == 303
    target = urlsplit(location)
    assert target.path == f"/fas/{router.router_id}/online"
    [first] = await voucher_sessions(db, tenant)
    assert first["voucher_code"] == code and first["idle_minutes"] == 15
    assert parse_qs(target.query)["s"] == [str(first["session_id"])]
    phone = router.clients["aa:bb:cc:00:01:02"]
    assert phone.authenticated and phone.grant["minutes"] == 120
    assert phone.grant["down_kbps"] == 4000 and phone.grant["down_quota_kb"] == 50 * 1024
    page = html.unescape(await (await portal_client.get(location)).text())
    assert "You're online" in page and re.search(r"Time left: <strong>(2 h 0|1 h 59) min", page)

    # 70 minutes later a second phone gets what is left of the voucher, not 120 minutes.
    await db.execute(
        "UPDATE vouchers SET first_used_at = now() - interval '70 minutes'"
        " WHERE merchant_id = $1 AND code = $2",
        tenant.merchant_id,
        code,
    )
    first_used = await db.fetchval(
        "SELECT first_used_at FROM vouchers WHERE merchant_id = $1 AND code = $2",
        tenant.merchant_id,
        code,
    )
    status, _, _ = await post_voucher(portal_client, router, "aa:bb:cc:00:01:03", code)
    assert status == 303
    second = (await voucher_sessions(db, tenant))[-1]
    assert second["voucher_code"] == code and second["client_mac"] == "aa:bb:cc:00:01:03"
    voucher_end = first_used + timedelta(minutes=120)
    assert timedelta(0) <= voucher_end - second["expires_at"] < timedelta(minutes=1)
    assert router.clients["aa:bb:cc:00:01:03"].grant["minutes"] in (49, 50)


@pytest.mark.parametrize(
    ("case", "status", "text"),
    [
        ("unknown", 400, "We do not know this voucher code"),
        ("malformed", 400, "That is not a voucher code"),
        ("empty", 400, "Enter the code printed on your voucher"),
        ("terms", 400, "Please accept the terms"),
        ("revoked", 403, "This voucher has been withdrawn"),
        ("other_store", 403, "not valid at this store"),
        ("full", 403, "already in use on as many devices"),
        ("time_used", 403, "time has run out"),
        ("expired", 403, "past its valid-until date"),
    ],
)
async def test_a_refused_voucher_shows_the_splash_again_with_why_and_grants_nothing(
    portal_client: TestClient,
    router: SimulatedRouter,
    tenant: Tenant,
    db: asyncpg.Pool,
    caplog: pytest.LogCaptureFixture,
    case: str,
    status: int,
    text: str,
) -> None:
    code = await new_code(db, tenant, valid_until=datetime.now(UTC) + timedelta(minutes=5))
    more: dict[str, str] = {}
    if case == "unknown":
        code = "ZZZZZ-ZZZZZ"
    elif case == "malformed":
        code = "hello"
    elif case == "empty":
        code = ""
    elif case == "terms":
        more = {"accept": ""}
    elif case == "revoked":
        [batch] = await vouchers.list_batches(db, tenant.merchant_id)
        await vouchers.revoke_batch(db, tenant.merchant_id, batch.batch_id, actor=TEST_ACTOR)
    elif case == "other_store":
        other = await stores_other(db, tenant)
        code = await new_code(db, tenant, store=other)
    elif case == "full":
        assert (await post_voucher(portal_client, router, "aa:bb:cc:00:01:09", code))[0] == 303
    elif case == "time_used":
        await db.execute(
            "UPDATE vouchers SET first_used_at = now() - interval '3 hours' WHERE merchant_id = $1",
            tenant.merchant_id,
        )
    elif case == "expired":
        await db.execute(
            "UPDATE voucher_batches SET valid_until = now() - interval '1 minute'"
            " WHERE merchant_id = $1",
            tenant.merchant_id,
        )
    before = len(await voucher_sessions(db, tenant))
    with caplog.at_level("INFO", logger="portico.portal.vouchers"):
        got, _, page = await post_voucher(portal_client, router, "aa:bb:cc:00:01:04", code, **more)
    assert got == status
    assert text in html.unescape(page)
    assert 'name="code"' in page  # the splash again, to type the code once more
    assert not router.clients["aa:bb:cc:00:01:04"].authenticated
    assert len(await voucher_sessions(db, tenant)) == before
    [line] = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert "aa:bb:cc" not in line and (not code or code not in line)  # no MAC, no code


async def stores_other(db: asyncpg.Pool, tenant: Tenant) -> uuid.UUID:
    import accounts.services as accounts

    return await accounts.create_store(db, tenant.merchant_id, "Elsewhere")


async def test_too_many_wrong_codes_answer_429_in_the_shoppers_language(
    portal_client: TestClient, router: SimulatedRouter, tenant: Tenant, db: asyncpg.Pool
) -> None:
    code = await new_code(db, tenant)
    for _ in range(vouchers.DEVICE_REFUSALS.max_hits):
        assert (await post_voucher(portal_client, router, "aa:bb:cc:00:01:05", "ZZZZZZZZZZ"))[0]
    status, _, page = await post_voucher(
        portal_client, router, "aa:bb:cc:00:01:05", code, lang="zh-CN"
    )
    assert status == 429 and "输错次数过多" in page
    assert not router.clients["aa:bb:cc:00:01:05"].authenticated


async def test_a_store_without_the_voucher_method_refuses_it(
    portal_client: TestClient, db: asyncpg.Pool
) -> None:
    tenant = await make_tenant(db, with_ad=False)  # click-through only
    code = await new_code(db, tenant)
    fields = {
        "hid": "e" * 64,
        "clientip": "10.0.0.50",
        "clientmac": "aa:bb:cc:00:01:06",
        "gatewayaddress": "192.168.8.1:2050",
    }
    response = await portal_client.post(
        f"/fas/{tenant.router.router_id}/voucher",
        data={"fas": encode_fas(fields), "code": code, "accept": "1", "lang": "en"},
    )
    assert response.status == 403
    assert "This login method is not available here" in await response.text()
    used = await db.fetchval(
        "SELECT first_used_at FROM vouchers WHERE merchant_id = $1", tenant.merchant_id
    )
    assert used is None


async def test_a_wifidog_voucher_login_carries_the_voucher_to_the_session(
    portal_client: TestClient, db: asyncpg.Pool
) -> None:
    tenant = await make_tenant(db, with_ad=False)
    await enable_vouchers(db, tenant)
    async with db.acquire() as conn:
        new = await register_router(
            conn,
            tenant.merchant_id,
            tenant.store_id,
            f"wd-{uuid.uuid4().hex[:10]}",
            "WD",
            gateway="wifidog",
        )
    code = await new_code(db, tenant, minutes=30, quota_kb=10 * 1024)
    gw = new.router.router_id
    mac, ip = "0a:11:22:33:44:56", "192.168.1.24"
    page = await portal_client.get(
        f"/wifidog/login/?gw_address=192.168.1.1&gw_port=2060&gw_id={gw}&ip={ip}&mac={mac}"
        "&url=http%3A%2F%2Fexample.com%2F",
        headers={"Accept-Language": "en"},
    )
    text = await page.text()
    assert 'action="/wifidog/voucher"' in text
    ticket = html.unescape(re.search(r'name="fas" value="([^"]+)"', text).group(1))
    response = await portal_client.post(
        "/wifidog/voucher",
        data={"fas": ticket, "code": code, "accept": "1", "lang": "en"},
        allow_redirects=False,
    )
    assert response.status == 302
    token = parse_qs(urlsplit(response.headers["Location"]).query)["token"][0]
    auth = await portal_client.get(
        f"/wifidog/auth/?stage=login&ip={ip}&mac={mac}&token={token}&incoming=0&outgoing=0"
        f"&gw_id={gw}"
    )
    assert "Auth: 1" in await auth.text()
    [session] = await voucher_sessions(db, tenant)
    assert session["voucher_code"] == code
    remaining = session["expires_at"] - datetime.now(UTC)
    assert timedelta(minutes=29) < remaining <= timedelta(minutes=30)


async def test_revoking_a_voucher_ends_the_sessions_running_on_it(
    portal_client: TestClient,
    router: SimulatedRouter,
    tenant: Tenant,
    db: asyncpg.Pool,
    sender: CommandSender,
) -> None:
    """A leaked code revoked in the console: its devices are cut off by the session end job
    (ended as 'staff', deauthed at the router); another voucher's session runs on."""
    leaked = await new_code(db, tenant, max_devices=2)
    other = await new_code(db, tenant)
    for mac, code in (("aa:bb:cc:00:09:01", leaked), ("aa:bb:cc:00:09:02", leaked)):
        assert (await post_voucher(portal_client, router, mac, code))[0] == 303
    assert (await post_voucher(portal_client, router, "aa:bb:cc:00:09:03", other))[0] == 303
    batch_id = await db.fetchval(
        "SELECT batch_id FROM vouchers WHERE merchant_id = $1 AND code = $2",
        tenant.merchant_id,
        leaked,
    )

    assert await vouchers.revoke_code(db, tenant.merchant_id, batch_id, leaked, actor=TEST_ACTOR)
    report = await session_end.end_due_sessions(db, sender)

    ended = {r["voucher_code"]: r for r in await voucher_sessions(db, tenant) if r["ended_at"]}
    rows = await voucher_sessions(db, tenant)
    assert [(r["voucher_code"], r["status"], r["end_reason"]) for r in rows] == [
        (leaked, "ended", "staff"),
        (leaked, "ended", "staff"),
        (other, "active", None),
    ]
    assert ended[leaked]["client_mac"] is None and report.deauthed == 2
    # openNDS deleted the deauthenticated clients.
    assert "aa:bb:cc:00:09:01" not in router.clients and "aa:bb:cc:00:09:02" not in router.clients
    assert router.clients["aa:bb:cc:00:09:03"].authenticated
    # The same code is refused from now on, and revoking it again changes nothing.
    assert (await post_voucher(portal_client, router, "aa:bb:cc:00:09:04", leaked))[0] == 403
    assert not await vouchers.revoke_code(
        db, tenant.merchant_id, batch_id, leaked, actor=TEST_ACTOR
    )
    assert await vouchers.revoke_batch(db, tenant.merchant_id, batch_id, actor=TEST_ACTOR) == 0
