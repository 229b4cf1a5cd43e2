"""The SMS code login through the portal app, against a simulated router on the real broker
and the real database: from the splash's number to a granted session, and every refusal."""

from __future__ import annotations

import asyncio
import html
import re
import uuid
from dataclasses import replace
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import aiohttp
import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from controller.services import CommandSender
from kernel.config import Settings
from portal import identities, rate_limits, retention, sms
from portal import stores as portal_stores
from portal.app import make_portal_app
from portal.fas import encode_fas
from simulators.aliyun_sms import AliyunSmsSim
from simulators.router import SimClient, SimulatedRouter
from tests.factories import Tenant, make_tenant
from tests.portal.test_wifidog import Wd, login_query, make_wd, ticket_of

PHONE = "+8613812345678"
TYPED = "138 1234 5678"  # as a shopper types it: national, with spaces
EN = {"Accept-Language": "en"}


async def sms_tenant(
    db: asyncpg.Pool, methods: tuple[str, ...] = ("sms",), **kwargs: object
) -> Tenant:
    tenant = await make_tenant(db, with_ad=False, **kwargs)  # type: ignore[arg-type]
    await portal_stores.upsert_store_portal(
        db,
        tenant.merchant_id,
        tenant.store_id,
        brand_name=tenant.brand_name,
        login_methods=methods,
        session_minutes=45,
        up_kbps=1000,
        down_kbps=4000,
        welcome_en="Hello",
        welcome_zh="你好",
    )
    return tenant


@pytest.fixture
async def tenant(db: asyncpg.Pool) -> Tenant:
    return await sms_tenant(db)


def hidden(page: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert match, f"page has no hidden {name}"
    return html.unescape(match.group(1))


async def send(
    client: TestClient,
    router_id: str,
    fas: str,
    phone: str = TYPED,
    *,
    lang: str = "en",
    accept: bool = True,
) -> aiohttp.ClientResponse:
    form = {"fas": fas, "phone": phone, "lang": lang, **({"accept": "1"} if accept else {})}
    return await client.post(f"/fas/{router_id}/sms/send", data=form, allow_redirects=False)


async def verify(
    client: TestClient, router_id: str, fas: str, ref: str, code: str, lang: str = "en"
) -> aiohttp.ClientResponse:
    form = {"fas": fas, "ref": ref, "code": code, "lang": lang}
    return await client.post(f"/fas/{router_id}/sms/verify", data=form, allow_redirects=False)


async def outbox_code(db: asyncpg.Pool, merchant_id: uuid.UUID) -> str:
    """The code in the merchant's newest outbox text (each text starts with it)."""
    body = await db.fetchval(
        "SELECT body FROM sms_outbox WHERE merchant_id = $1 ORDER BY created_at DESC LIMIT 1",
        merchant_id,
    )
    match = re.match(r"(\d{6}) ", body or "")
    assert match, f"no code in {body!r}"
    return match.group(1)


async def sent_code(
    client: TestClient, db: asyncpg.Pool, tenant: Tenant, fas: str, phone: str = TYPED
) -> tuple[str, str]:
    """Send a code to `phone`: the code page's reference and the code from the outbox."""
    response = await send(client, tenant.router.router_id, fas, phone)
    assert response.status == 200, await response.text()
    return hidden(await response.text(), "ref"), await outbox_code(db, tenant.merchant_id)


def new_client(router: SimulatedRouter, mac: str, ip: str) -> tuple[SimClient, str]:
    client = router.add_client(mac, ip)
    return client, encode_fas(router.fas_fields(client, origin_url="http://example.com/start"))


async def sessions_of(db: asyncpg.Pool, tenant: Tenant) -> list[asyncpg.Record]:
    return await db.fetch(
        "SELECT * FROM portal_sessions WHERE merchant_id = $1 ORDER BY started_at",
        tenant.merchant_id,
    )


async def code_row(db: asyncpg.Pool, tenant: Tenant) -> asyncpg.Record:
    return await db.fetchrow(
        "SELECT * FROM sms_codes WHERE merchant_id = $1 ORDER BY created_at DESC LIMIT 1",
        tenant.merchant_id,
    )


# -- the way in ----------------------------------------------------------------------------------


async def test_the_splash_offers_the_number_form_in_both_languages(
    portal_client: TestClient, router: SimulatedRouter
) -> None:
    _client, fas = new_client(router, "aa:bb:cc:10:00:01", "10.0.1.1")
    path = f"/fas/{router.router_id}/?fas={fas}"
    en = await (await portal_client.get(path + "&lang=en")).text()
    assert f'action="/fas/{router.router_id}/sms/send"' in en
    assert 'name="phone"' in en and "Send me a code" in en and 'name="accept"' in en
    zh = await (await portal_client.get(path + "&lang=zh-CN")).text()
    assert "获取验证码" in zh and "手机号码" in zh


async def test_a_right_code_grants_a_session_as_the_verified_number(
    portal_client: TestClient,
    router: SimulatedRouter,
    tenant: Tenant,
    db: asyncpg.Pool,
    settings: Settings,
) -> None:
    client, fas = new_client(router, "aa:bb:cc:10:00:02", "10.0.1.2")
    page = await send(portal_client, router.router_id, fas)
    assert page.status == 200
    text = await page.text()
    assert "138****5678" in text and "13812345678" not in text  # the page shows it masked
    assert hidden(text, "fas") == fas and hidden(text, "lang") == "en"
    assert f'action="/fas/{router.router_id}/sms/verify"' in text
    code = await outbox_code(db, tenant.merchant_id)
    stored = await code_row(db, tenant)
    assert stored["code_hash"] != code and code not in stored["code_hash"]

    response = await verify(portal_client, router.router_id, fas, hidden(text, "ref"), code)

    assert response.status == 303
    target = urlsplit(response.headers["Location"])
    assert target.path == f"/fas/{router.router_id}/online"
    assert parse_qs(target.query)["next"] == ["http://example.com/start"]
    assert client.authenticated and client.grant["minutes"] == 45
    identity = identities.identify(settings.secret_key, tenant.merchant_id, "phone", PHONE)
    (session,) = await sessions_of(db, tenant)
    assert (session["method"], session["identity_hash"]) == ("sms", identity.hash)
    known = await db.fetchrow(
        "SELECT * FROM shopper_identities WHERE merchant_id = $1", tenant.merchant_id
    )
    assert known["identity_hash"] == identity.hash and known["verified_at"] is not None
    assert known["masked"] == "138****5678" and known["kind"] == "phone"
    device = await db.fetchval(
        "SELECT device_hash FROM shopper_devices WHERE merchant_id = $1 AND identity_hash = $2",
        tenant.merchant_id,
        identity.hash,
    )
    assert device == session["device_hash"]
    used = await code_row(db, tenant)
    assert used["used_at"] is not None and used["attempts"] == 1


async def test_the_code_page_and_text_speak_chinese(
    portal_client: TestClient, router: SimulatedRouter, tenant: Tenant, db: asyncpg.Pool
) -> None:
    _client, fas = new_client(router, "aa:bb:cc:10:00:03", "10.0.1.3")
    response = await send(portal_client, router.router_id, fas, lang="zh-CN")
    text = await response.text()
    assert "验证码已通过短信发送至 138****5678" in text and "验证并上网" in text
    body = await db.fetchval(
        "SELECT body FROM sms_outbox WHERE merchant_id = $1", tenant.merchant_id
    )
    assert "WiFi 验证码" in body and tenant.brand_name in body


async def test_full_width_digits_and_spaces_are_read_as_the_code(
    portal_client: TestClient, router: SimulatedRouter, tenant: Tenant, db: asyncpg.Pool
) -> None:
    client, fas = new_client(router, "aa:bb:cc:10:00:04", "10.0.1.4")
    ref, code = await sent_code(portal_client, db, tenant, fas)
    typed = " ".join(chr(ord("０") + int(d)) for d in code)  # "１ ２ ３ …"
    response = await verify(portal_client, router.router_id, fas, ref, typed)
    assert response.status == 303 and client.authenticated


async def test_sms_login_through_a_wifidog_gateway(
    portal_client: TestClient, db: asyncpg.Pool, settings: Settings
) -> None:
    wd: Wd = await make_wd(db, login_methods=("sms",))
    splash = await portal_client.get(login_query(wd.router.router_id), headers=EN)
    page = await splash.text()
    assert 'action="/wifidog/sms/send"' in page
    ticket = ticket_of(page)
    form = {"fas": ticket, "phone": TYPED, "accept": "1", "lang": "en"}
    code_page = await portal_client.post("/wifidog/sms/send", data=form)
    assert code_page.status == 200
    text = await code_page.text()
    assert hidden(text, "fas") == ticket and 'action="/wifidog/sms/verify"' in text
    code = await outbox_code(db, wd.tenant.merchant_id)
    form = {"fas": ticket, "ref": hidden(text, "ref"), "code": code, "lang": "en"}
    response = await portal_client.post("/wifidog/sms/verify", data=form, allow_redirects=False)
    assert response.status == 302
    assert response.headers["Location"].startswith("http://192.168.1.1:2060/wifidog/auth?token=")
    token = await db.fetchrow(
        "SELECT method, identity_hash FROM wifidog_tokens WHERE merchant_id = $1",
        wd.tenant.merchant_id,
    )
    identity = identities.identify(settings.secret_key, wd.tenant.merchant_id, "phone", PHONE)
    assert (token["method"], token["identity_hash"]) == ("sms", identity.hash)


# -- refusals before a code ----------------------------------------------------------------------


@pytest.mark.parametrize("typed", ["12345", "010 6552 9988", "not a number", "+86 138 1234 567"])
async def test_a_bad_number_shows_the_splash_again(
    portal_client: TestClient, router: SimulatedRouter, tenant: Tenant, db: asyncpg.Pool, typed: str
) -> None:
    _client, fas = new_client(router, "aa:bb:cc:10:00:05", "10.0.1.5")
    response = await send(portal_client, router.router_id, fas, typed)
    assert response.status == 400
    text = await response.text()
    assert "That is not a mobile phone number" in text and 'name="phone"' in text
    assert (
        await db.fetchval(
            "SELECT count(*) FROM sms_codes WHERE merchant_id = $1", tenant.merchant_id
        )
        == 0
    )


async def test_the_terms_must_be_accepted(
    portal_client: TestClient, router: SimulatedRouter, tenant: Tenant, db: asyncpg.Pool
) -> None:
    _client, fas = new_client(router, "aa:bb:cc:10:00:06", "10.0.1.6")
    response = await send(portal_client, router.router_id, fas, accept=False)
    assert response.status == 400
    assert "Please accept the terms" in await response.text()
    assert (
        await db.fetchval(
            "SELECT count(*) FROM sms_outbox WHERE merchant_id = $1", tenant.merchant_id
        )
        == 0
    )


async def test_a_store_without_sms_refuses_it(
    portal_client: TestClient, db: asyncpg.Pool, settings: Settings
) -> None:
    tenant = await sms_tenant(db, methods=("click",))
    fas = encode_fas(
        {
            "hid": "d" * 64,
            "clientip": "10.0.1.7",
            "clientmac": "aa:bb:cc:10:00:07",
            "gatewayaddress": "192.168.8.1:2050",
        }
    )
    response = await send(portal_client, tenant.router.router_id, fas)
    assert response.status == 403
    assert "not available here" in await response.text()


async def test_one_code_a_minute_per_number_in_both_languages(
    portal_client: TestClient, router: SimulatedRouter, tenant: Tenant, db: asyncpg.Pool
) -> None:
    _client, fas = new_client(router, "aa:bb:cc:10:00:08", "10.0.1.8")
    assert (await send(portal_client, router.router_id, fas)).status == 200
    again = await send(portal_client, router.router_id, fas)
    assert again.status == 429
    assert "less than a minute ago" in await again.text()
    _other, other_fas = new_client(router, "aa:bb:cc:10:00:09", "10.0.1.9")
    zh = await send(portal_client, router.router_id, other_fas, "+86 13812345678", lang="zh-CN")
    assert zh.status == 429  # the number's limit, whichever device asks
    assert "该号码一分钟内已获取过验证码" in await zh.text()
    for table in ("sms_outbox", "sms_codes"):  # refused sends stored no code and sent nothing
        count = await db.fetchval(
            f"SELECT count(*) FROM {table} WHERE merchant_id = $1",  # noqa: S608
            tenant.merchant_id,
        )
        assert count == 1, table


async def test_a_device_may_ask_for_five_codes_an_hour(
    portal_client: TestClient, router: SimulatedRouter, tenant: Tenant
) -> None:
    _client, fas = new_client(router, "aa:bb:cc:10:00:0a", "10.0.1.10")
    for n in range(5):
        response = await send(portal_client, router.router_id, fas, f"1391234560{n}")
        assert response.status == 200, n
    sixth = await send(portal_client, router.router_id, fas, "13912345609")
    assert sixth.status == 429
    assert "Too many codes were asked for" in await sixth.text()


async def test_the_answer_is_the_same_whether_or_not_the_number_logged_in_before(
    portal_client: TestClient,
    router: SimulatedRouter,
    tenant: Tenant,
    db: asyncpg.Pool,
    settings: Settings,
) -> None:
    await identities.remember(
        db, settings.secret_key, tenant.merchant_id, "phone", "+8613700000001", verified=True
    )
    _a, fas = new_client(router, "aa:bb:cc:10:00:0b", "10.0.1.11")
    known = await send(portal_client, router.router_id, fas, "13700000001")
    _b, other_fas = new_client(router, "aa:bb:cc:10:00:0c", "10.0.1.12")
    unknown = await send(portal_client, router.router_id, other_fas, "13700000003")

    def shape(page: str) -> str:
        page = re.sub(r'name="(ref|fas)" value="[^"]*"', "", page)
        return page.replace("137****0001", "MASKED").replace("137****0003", "MASKED")

    assert known.status == unknown.status == 200
    assert shape(await known.text()) == shape(await unknown.text())


# -- refusals of a code ------------------------------------------------------------------------


async def test_five_wrong_codes_lock_the_code(
    portal_client: TestClient, router: SimulatedRouter, tenant: Tenant, db: asyncpg.Pool
) -> None:
    client, fas = new_client(router, "aa:bb:cc:10:00:0d", "10.0.1.13")
    ref, code = await sent_code(portal_client, db, tenant, fas)
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    for left in (4, 3, 2, 1):
        response = await verify(portal_client, router.router_id, fas, ref, wrong)
        assert response.status == 400
        text = await response.text()
        assert f"You can try {left} more times" in text and 'name="code"' in text
    fifth = await verify(portal_client, router.router_id, fas, ref, wrong)
    assert fifth.status == 429
    text = await fifth.text()
    assert "Too many wrong codes" in text and 'name="code"' not in text
    right = await verify(portal_client, router.router_id, fas, ref, code)
    assert right.status == 429 and not client.authenticated
    assert (await code_row(db, tenant))["attempts"] == 5
    assert await sessions_of(db, tenant) == []
    # A wrong code proves nothing: no identity and no device link were stored.
    for query in (
        "SELECT count(*) FROM shopper_identities WHERE merchant_id = $1",
        "SELECT count(*) FROM shopper_devices WHERE merchant_id = $1",
    ):
        assert await db.fetchval(query, tenant.merchant_id) == 0


async def test_a_malformed_code_is_not_an_attempt(
    portal_client: TestClient, router: SimulatedRouter, tenant: Tenant, db: asyncpg.Pool
) -> None:
    _client, fas = new_client(router, "aa:bb:cc:10:00:0e", "10.0.1.14")
    ref, _code = await sent_code(portal_client, db, tenant, fas)
    for typed in ("12345", "abcdef", "1234567", ""):
        response = await verify(portal_client, router.router_id, fas, ref, typed)
        assert response.status == 400
        assert "type the 6 digits" in await response.text()
    assert (await code_row(db, tenant))["attempts"] == 0


async def test_concurrent_wrong_guesses_never_make_more_than_five_attempts(
    portal_client: TestClient, router: SimulatedRouter, tenant: Tenant, db: asyncpg.Pool
) -> None:
    _client, fas = new_client(router, "aa:bb:cc:10:00:0f", "10.0.1.15")
    ref, code = await sent_code(portal_client, db, tenant, fas)
    guesses = [f"{(int(code) + n) % 10**6:06d}" for n in range(1, 13)]
    responses = await asyncio.gather(
        *(verify(portal_client, router.router_id, fas, ref, guess) for guess in guesses)
    )
    statuses = sorted(r.status for r in responses)
    assert statuses == [400] * 4 + [429] * 8  # four with tries left, then locked
    assert (await code_row(db, tenant))["attempts"] == 5
    assert await sessions_of(db, tenant) == []


async def test_concurrent_right_codes_let_in_once(
    portal_client: TestClient, router: SimulatedRouter, tenant: Tenant, db: asyncpg.Pool
) -> None:
    client, fas = new_client(router, "aa:bb:cc:10:00:10", "10.0.1.16")
    ref, code = await sent_code(portal_client, db, tenant, fas)
    responses = await asyncio.gather(
        *(verify(portal_client, router.router_id, fas, ref, code) for _ in range(6))
    )
    assert sorted(r.status for r in responses) == [303] + [400] * 5
    assert client.authenticated and len(await sessions_of(db, tenant)) == 1


async def test_a_used_code_cannot_be_replayed(
    portal_client: TestClient, router: SimulatedRouter, tenant: Tenant, db: asyncpg.Pool
) -> None:
    _client, fas = new_client(router, "aa:bb:cc:10:00:11", "10.0.1.17")
    ref, code = await sent_code(portal_client, db, tenant, fas)
    assert (await verify(portal_client, router.router_id, fas, ref, code)).status == 303
    replay = await verify(portal_client, router.router_id, fas, ref, code, lang="zh-CN")
    assert replay.status == 400
    assert "该验证码已使用过" in await replay.text()
    assert len(await sessions_of(db, tenant)) == 1


async def test_an_expired_code_is_refused(
    portal_client: TestClient, router: SimulatedRouter, tenant: Tenant, db: asyncpg.Pool
) -> None:
    client, fas = new_client(router, "aa:bb:cc:10:00:12", "10.0.1.18")
    ref, code = await sent_code(portal_client, db, tenant, fas)
    created = await code_row(db, tenant)
    assert (created["expires_at"] - created["created_at"]).total_seconds() == sms.CODE_TTL
    await db.execute(
        "UPDATE sms_codes SET expires_at = now() - interval '1 second' WHERE merchant_id = $1",
        tenant.merchant_id,
    )
    response = await verify(portal_client, router.router_id, fas, ref, code)
    assert response.status == 400
    assert "This code has expired" in await response.text()
    await retention.scrub_expired(db)  # deleted: still "expired", never a traceback
    again = await verify(portal_client, router.router_id, fas, ref, code)
    assert again.status == 400 and "This code has expired" in await again.text()
    assert not client.authenticated


async def test_a_code_works_only_on_the_device_that_asked(
    portal_client: TestClient, router: SimulatedRouter, tenant: Tenant, db: asyncpg.Pool
) -> None:
    _asker, fas = new_client(router, "aa:bb:cc:10:00:13", "10.0.1.19")
    ref, code = await sent_code(portal_client, db, tenant, fas)
    thief, thief_fas = new_client(router, "aa:bb:cc:10:00:14", "10.0.1.20")
    response = await verify(portal_client, router.router_id, thief_fas, ref, code)
    assert response.status == 403
    assert "asked for on another device" in await response.text()
    assert not thief.authenticated
    assert (await code_row(db, tenant))["attempts"] == 0


@pytest.mark.parametrize("tamper", ["flip", "cut", "empty", "garbage"])
async def test_a_tampered_reference_is_refused(
    portal_client: TestClient,
    router: SimulatedRouter,
    tenant: Tenant,
    db: asyncpg.Pool,
    tamper: str,
) -> None:
    client, fas = new_client(router, "aa:bb:cc:10:00:15", "10.0.1.21")
    ref, code = await sent_code(portal_client, db, tenant, fas)
    bad = {
        "flip": ref[:20] + ("A" if ref[20] != "A" else "B") + ref[21:],
        "cut": ref[:-6],
        "empty": "",
        "garbage": "%%%" * 10,
    }[tamper]
    response = await verify(portal_client, router.router_id, fas, bad, code)
    assert response.status == 400
    assert "This code page is not valid" in await response.text()
    assert not client.authenticated


async def test_a_reference_of_another_merchant_is_refused(
    portal_client: TestClient,
    router: SimulatedRouter,
    tenant: Tenant,
    db: asyncpg.Pool,
    settings: Settings,
) -> None:
    client, fas = new_client(router, "aa:bb:cc:10:00:16", "10.0.1.22")
    await sent_code(portal_client, db, tenant, fas)
    code = await code_row(db, tenant)
    foreign = sms.seal_reference(
        settings.secret_key,
        uuid.uuid4(),
        sms.CodeReference(code["code_id"], code["device_hash"], PHONE),
    )
    response = await verify(portal_client, router.router_id, fas, foreign, "000000")
    assert response.status == 400 and not client.authenticated


async def test_a_new_code_page_leads_back_to_the_splash(
    portal_client: TestClient, router: SimulatedRouter, tenant: Tenant, db: asyncpg.Pool
) -> None:
    _client, fas = new_client(router, "aa:bb:cc:10:00:17", "10.0.1.23")
    _ref, _code = await sent_code(portal_client, db, tenant, fas)
    back = await portal_client.post(
        f"/fas/{router.router_id}/sms/again", data={"fas": fas, "lang": "en"}
    )
    assert back.status == 200
    text = await back.text()
    assert 'name="phone"' in text and hidden(text, "fas") == fas


async def test_a_grant_the_router_did_not_confirm_keeps_the_code_for_the_retry(
    portal_client: TestClient, db: asyncpg.Pool
) -> None:
    tenant = await sms_tenant(db, online=False)  # the controller knows the router is offline
    fas = encode_fas(
        {
            "hid": "e" * 64,
            "clientip": "10.0.1.24",
            "clientmac": "aa:bb:cc:10:00:18",
            "gatewayaddress": "192.168.8.1:2050",
        }
    )
    ref, code = await sent_code(portal_client, db, tenant, fas)
    response = await verify(portal_client, tenant.router.router_id, fas, ref, code)
    assert response.status == 503
    text = await response.text()
    assert f'action="/fas/{tenant.router.router_id}/sms/verify"' in text  # Try again resends
    assert hidden(text, "ref") == ref and hidden(text, "code") == code
    row = await code_row(db, tenant)
    assert row["used_at"] is None and row["attempts"] == 1
    again = await verify(portal_client, tenant.router.router_id, fas, ref, code)
    assert again.status == 503  # still offline; the code was tried, not spent
    assert (await code_row(db, tenant))["attempts"] == 2


# -- the real provider behind the views --------------------------------------------------------


@pytest.fixture
async def aliyun() -> object:
    sim = AliyunSmsSim("LTAI5tViews", "views-secret-0123456789")
    await sim.start()
    yield sim
    await sim.stop()


@pytest.fixture
async def aliyun_portal(
    settings: Settings, db: asyncpg.Pool, sender: CommandSender, aliyun: AliyunSmsSim
) -> object:
    aliyun_settings = replace(
        settings,
        sms_provider="aliyun",
        aliyun_sms_access_key_id="LTAI5tViews",
        aliyun_sms_access_key_secret="views-secret-0123456789",
        aliyun_sms_sign_name="波蒂科",
        aliyun_sms_template_code="SMS_900001",
        aliyun_sms_endpoint=aliyun.url,
    )
    async with TestClient(TestServer(make_portal_app(aliyun_settings, db, sender))) as client:
        yield client


async def test_sms_login_with_the_aliyun_provider(
    aliyun_portal: TestClient,
    aliyun: AliyunSmsSim,
    router: SimulatedRouter,
    tenant: Tenant,
    db: asyncpg.Pool,
) -> None:
    client, fas = new_client(router, "aa:bb:cc:10:00:19", "10.0.1.25")
    page = await send(aliyun_portal, router.router_id, fas)
    assert page.status == 200
    (sent,) = aliyun.sent
    assert sent["PhoneNumbers"] == "8613812345678" and sent["TemplateCode"] == "SMS_900001"
    code = re.fullmatch(r'\{"code":"(\d{6})"\}', sent["TemplateParam"]).group(1)  # type: ignore[union-attr]
    assert (
        await db.fetchval(
            "SELECT count(*) FROM sms_outbox WHERE merchant_id = $1", tenant.merchant_id
        )
        == 0
    )
    ref = hidden(await page.text(), "ref")
    response = await verify(aliyun_portal, router.router_id, fas, ref, code)
    assert response.status == 303 and client.authenticated


async def test_the_aliyun_flow_control_and_outages_reach_the_shopper_as_pages(
    aliyun_portal: TestClient,
    aliyun: AliyunSmsSim,
    router: SimulatedRouter,
    tenant: Tenant,
    db: asyncpg.Pool,
) -> None:
    _client, fas = new_client(router, "aa:bb:cc:10:00:1a", "10.0.1.26")
    aliyun.fail_next.append("http500")
    down = await send(aliyun_portal, router.router_id, fas, "13500000001")
    assert down.status == 503
    assert "could not send a text message" in await down.text()
    assert (
        await db.fetchval(
            "SELECT count(*) FROM sms_codes WHERE merchant_id = $1", tenant.merchant_id
        )
        == 0
    )  # a code that never went out is not kept
    # Another merchant on the same platform texted the number a moment ago: our limits are
    # per merchant, the service's flow control is per number and sign name.
    other = await sms_tenant(db)
    other_fas = encode_fas(
        {
            "hid": "f" * 64,
            "clientip": "10.0.9.1",
            "clientmac": "aa:bb:cc:10:00:1b",
            "gatewayaddress": "192.168.8.1:2050",
        }
    )
    assert (await send(aliyun_portal, other.router.router_id, other_fas, "13500000002")).ok
    throttled = await send(aliyun_portal, router.router_id, fas, "13500000002")
    assert throttled.status == 429
    assert "Too many codes" in await throttled.text()
    assert aliyun.answers[-1] == (200, "isv.BUSINESS_LIMIT_CONTROL")


async def test_rate_limit_windows_count_atomically(db: asyncpg.Pool) -> None:
    tenant = await make_tenant(db, with_ad=False)
    limit = rate_limits.Limit("device", 3600, 5, "error_sms_too_many")
    results = await asyncio.gather(
        *(rate_limits.hit(db, tenant.merchant_id, [(limit, "d" * 32)]) for _ in range(20)),
        return_exceptions=True,
    )
    assert sum(r is None for r in results) == 5
    assert all(isinstance(r, rate_limits.RateLimited) for r in results if r is not None)
    rows = await db.fetch(
        "SELECT subject, hits FROM portal_rate_limits WHERE merchant_id = $1", tenant.merchant_id
    )
    assert [(r["subject"], r["hits"]) for r in rows] == [(f"device:{'d' * 32}:3600", 20)]


async def test_retention_deletes_old_texts_expired_codes_and_finished_windows(
    db: asyncpg.Pool,
) -> None:
    tenant = await make_tenant(db, with_ad=False)
    m = tenant.merchant_id
    await db.execute(
        """INSERT INTO sms_outbox (merchant_id, message_id, masked_phone, sealed_phone, body,
                                   created_at)
           VALUES ($1, $2, '138****0000', '\\x00', 'old', now() - interval '25 hours'),
                  ($1, $3, '138****0000', '\\x00', 'new', now() - interval '23 hours')""",
        m,
        uuid.uuid4(),
        uuid.uuid4(),
    )
    for expires in (timedelta(seconds=-1), timedelta(minutes=4)):
        await db.execute(
            """INSERT INTO sms_codes (merchant_id, code_id, identity_hash, device_hash, store_id,
                                      code_hash, expires_at)
               VALUES ($1, $2, 'i', 'd', $3, 'h', now() + $4)""",
            m,
            uuid.uuid4(),
            tenant.store_id,
            expires,
        )
    await db.execute(
        """INSERT INTO portal_rate_limits (merchant_id, subject, window_start, hits)
           VALUES ($1, 'ip:x:3600', now() - interval '2 hours', 3),
                  ($1, 'ip:x:60', now() - interval '30 seconds', 1)""",
        m,
    )
    done = await retention.scrub_expired(db)
    assert done.sms_outbox >= 1 and done.sms_codes >= 1 and done.rate_limit_windows >= 1
    bodies = await db.fetch("SELECT body FROM sms_outbox WHERE merchant_id = $1", m)
    assert [r["body"] for r in bodies] == ["new"]
    assert await db.fetchval("SELECT count(*) FROM sms_codes WHERE merchant_id = $1", m) == 1
    windows = await db.fetch("SELECT subject FROM portal_rate_limits WHERE merchant_id = $1", m)
    assert [r["subject"] for r in windows] == ["ip:x:60"]
