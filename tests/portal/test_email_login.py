"""Email login with marketing consent, through the portal app against a simulated router on the
real broker and the real PostgreSQL (portal/email_login.py, portal/email_views.py)."""

from __future__ import annotations

import hashlib
import html
import json
import logging
import re
import uuid
from urllib.parse import parse_qs, urlsplit

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from controller.services import register_router
from kernel.config import Settings
from portal import email_login, stores
from portal.fas import encode_fas
from portal.messages_email import CONSENT_WORDING, CONSENT_WORDINGS
from simulators.router import SimClient, SimulatedRouter
from tests.factories import Tenant, make_tenant

ADDRESS = "Alice.Liu+wifi@Example.COM"  # normalised: lower-cased whole


async def enable_methods(db: asyncpg.Pool, tenant: Tenant, *methods: str, **more: object) -> None:
    """The tenant's store with these login methods (and other portal settings)."""
    await stores.upsert_store_portal(
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
        **more,  # type: ignore[arg-type]
    )


@pytest.fixture
async def tenant(db: asyncpg.Pool) -> Tenant:
    tenant = await make_tenant(db, session_minutes=45)
    await enable_methods(db, tenant, "click", "email")
    return tenant


def splash_path(sim: SimulatedRouter, client: SimClient) -> str:
    return f"/fas/{sim.router_id}/?fas={encode_fas(sim.fas_fields(client))}"


async def post_email(
    portal: TestClient, sim: SimulatedRouter, client: SimClient, **fields: str
) -> tuple[int, str, str]:
    """The splash's email form posted: (status, Location or "", page text)."""
    data = {"fas": encode_fas(sim.fas_fields(client)), "lang": "en", **fields}
    response = await portal.post(f"/fas/{sim.router_id}/email", data=data, allow_redirects=False)
    return response.status, response.headers.get("Location", ""), await response.text()


async def sessions_of(db: asyncpg.Pool, tenant: Tenant) -> list[asyncpg.Record]:
    return await db.fetch(
        "SELECT * FROM portal_sessions WHERE merchant_id = $1 ORDER BY started_at",
        tenant.merchant_id,
    )


async def consents_of(db: asyncpg.Pool, tenant: Tenant) -> list[asyncpg.Record]:
    return await db.fetch(
        "SELECT * FROM shopper_consents WHERE merchant_id = $1 ORDER BY given_at",
        tenant.merchant_id,
    )


async def test_the_splash_offers_email_with_an_unticked_consent_box_in_both_languages(
    portal_client: TestClient, router: SimulatedRouter, tenant: Tenant
) -> None:
    client = router.add_client("aa:bb:cc:10:00:01", "10.0.1.1")
    en = await (
        await portal_client.get(splash_path(router, client), headers={"Accept-Language": "en"})
    ).text()
    form = re.search(r'<form[^>]*id="email-form".*?</form>', en, re.S)
    assert form, "no email form on the splash"
    form_html = form.group(0)
    assert f'action="/fas/{router.router_id}/email"' in form_html
    assert re.search(r'<input[^>]*type="email"[^>]*name="email"[^>]*required', form_html)
    terms_box = re.search(r'<input type="checkbox" name="accept"[^>]*>', form_html).group(0)
    assert "required" in terms_box
    consent_box = re.search(r'<input type="checkbox" name="marketing"[^>]*>', form_html).group(0)
    assert "checked" not in consent_box and "required" not in consent_box
    assert f'name="consent_wording" value="{CONSENT_WORDING}"' in form_html
    wording = CONSENT_WORDINGS[CONSENT_WORDING]["en"].format(brand=tenant.brand_name)
    assert wording in html.unescape(form_html)
    terms = f"/terms/{tenant.merchant_id}/{tenant.store_id}/1?lang=en"
    assert f'href="{terms}"' in form_html and 'id="terms-link"' in en
    zh = await (
        await portal_client.get(splash_path(router, client), headers={"Accept-Language": "zh-CN"})
    ).text()
    assert "使用电子邮箱连接" in zh and "您的电子邮箱" in zh
    assert CONSENT_WORDINGS[CONSENT_WORDING]["zh-CN"].format(
        brand=tenant.brand_name
    ) in html.unescape(zh)


async def test_email_login_without_consent_grants_and_records_no_consent(
    portal_client: TestClient,
    router: SimulatedRouter,
    tenant: Tenant,
    db: asyncpg.Pool,
    settings: Settings,
) -> None:
    client = router.add_client("aa:bb:cc:10:00:02", "10.0.1.2")
    status, location, _ = await post_email(portal_client, router, client, email=ADDRESS, accept="1")
    assert status == 303 and urlsplit(location).path == f"/fas/{router.router_id}/online"
    assert client.authenticated and client.grant["minutes"] == 45
    [session] = await sessions_of(db, tenant)
    assert session["method"] == "email" and session["terms_version"] == "1"
    expected = email_login.identities.identify(
        settings.secret_key, tenant.merchant_id, "email", "alice.liu+wifi@example.com"
    )
    assert session["identity_hash"] == expected.hash
    identity = await db.fetchrow(
        "SELECT kind, masked, verified_at FROM shopper_identities WHERE merchant_id = $1",
        tenant.merchant_id,
    )
    assert (identity["kind"], identity["masked"], identity["verified_at"]) == (
        "email",
        "a***@example.com",
        None,
    )
    linked = await db.fetchval(
        "SELECT identity_hash FROM shopper_devices WHERE merchant_id = $1 AND device_hash = $2",
        tenant.merchant_id,
        session["device_hash"],
    )
    assert linked == expected.hash
    assert await consents_of(db, tenant) == []
    page = await (await portal_client.get(location)).text()
    assert "You&#39;re online" in page and "consent-withdraw" not in page


async def test_email_login_with_consent_records_it_and_the_online_page_offers_withdrawal(
    portal_client: TestClient, router: SimulatedRouter, tenant: Tenant, db: asyncpg.Pool
) -> None:
    client = router.add_client("aa:bb:cc:10:00:03", "10.0.1.3")
    status, location, _ = await post_email(
        portal_client,
        router,
        client,
        email=ADDRESS,
        accept="1",
        marketing="1",
        consent_wording=CONSENT_WORDING,
    )
    assert status == 303 and client.authenticated
    [session] = await sessions_of(db, tenant)
    [consent] = await consents_of(db, tenant)
    assert consent["purpose"] == "marketing_email"
    assert consent["wording_version"] == CONSENT_WORDING
    assert consent["store_id"] == tenant.store_id
    assert consent["identity_hash"] == session["identity_hash"]
    assert consent["given_at"] <= session["started_at"]
    assert consent["withdrawn_at"] is None and consent["withdrawn_via"] is None

    page = html.unescape(await (await portal_client.get(location)).text())
    assert "You agreed to receive offers by email" in page
    link = re.search(r'href="([^"]+)" id="consent-withdraw"', page).group(1)
    assert link.startswith(f"/consent/{tenant.merchant_id}/{consent['consent_id']}?sig=")
    zh = html.unescape(
        await (await portal_client.get(location.replace("lang=en", "lang=zh-CN"))).text()
    )
    assert "您已同意接收邮件优惠" in zh and "lang=zh-CN" in re.search(
        r'href="([^"]+)" id="consent-withdraw"', zh
    ).group(1)

    # The link asks first: following it (a mail scanner does) withdraws nothing.
    ask = await portal_client.get(link)
    assert ask.status == 200
    text = html.unescape(await ask.text())
    assert (
        "a***@example.com" in text and tenant.brand_name in text and "Withdraw my consent" in text
    )
    assert (await consents_of(db, tenant))[0]["withdrawn_at"] is None

    form = {"sig": parse_qs(urlsplit(link).query)["sig"][0], "lang": "en"}
    done = await portal_client.post(urlsplit(link).path, data=form)
    assert done.status == 200
    assert "will send no more offers" in html.unescape(await done.text())
    [withdrawn] = await consents_of(db, tenant)
    assert withdrawn["withdrawn_via"] == "link" and withdrawn["withdrawn_at"] is not None

    # Replayed: the same answer that it is withdrawn, and nothing changes.
    again = await portal_client.post(urlsplit(link).path, data=form)
    assert again.status == 200 and "was withdrawn on" in html.unescape(await again.text())
    [still] = await consents_of(db, tenant)
    assert still["withdrawn_at"] == withdrawn["withdrawn_at"]
    later = await portal_client.get(link)
    assert "was withdrawn on" in html.unescape(await later.text())
    # The online page no longer offers to withdraw what is withdrawn.
    assert "consent-withdraw" not in await (await portal_client.get(location)).text()
    zh_done = await portal_client.post(urlsplit(link).path, data={**form, "lang": "zh-CN"})
    assert "您已于" in await zh_done.text()


@pytest.mark.parametrize("tamper", ["sig", "merchant", "consent", "no_sig", "not_uuid"])
async def test_a_tampered_withdrawal_link_is_refused_and_withdraws_nothing(
    portal_client: TestClient,
    router: SimulatedRouter,
    tenant: Tenant,
    db: asyncpg.Pool,
    settings: Settings,
    tamper: str,
) -> None:
    client = router.add_client("aa:bb:cc:10:00:04", "10.0.1.4")
    await post_email(portal_client, router, client, email=ADDRESS, accept="1", marketing="1")
    [consent] = await consents_of(db, tenant)
    merchant, consent_id = str(tenant.merchant_id), str(consent["consent_id"])
    sig = email_login.withdrawal_signature(
        settings.secret_key, tenant.merchant_id, consent["consent_id"]
    )
    if tamper == "sig":
        sig = ("0" if sig[0] != "0" else "1") + sig[1:]
    elif tamper == "merchant":
        merchant = str(uuid.uuid4())
    elif tamper == "consent":
        consent_id = str(uuid.uuid4())
    elif tamper == "no_sig":
        sig = ""
    else:
        consent_id = "not-a-consent"
    path = f"/consent/{merchant}/{consent_id}"
    for response in (
        await portal_client.get(path, params={"sig": sig, "lang": "en"}),
        await portal_client.post(path, data={"sig": sig, "lang": "en"}),
    ):
        assert response.status == 404
        assert "This link is not valid" in await response.text()
    assert (await consents_of(db, tenant))[0]["withdrawn_at"] is None


async def test_a_signed_link_to_a_consent_that_does_not_exist_is_refused(
    portal_client: TestClient, settings: Settings, tenant: Tenant
) -> None:
    ghost = uuid.uuid4()
    link = email_login.withdrawal_path(settings.secret_key, tenant.merchant_id, ghost, "zh-CN")
    response = await portal_client.get(link)
    assert response.status == 404 and "此链接无效" in await response.text()
    post = await portal_client.post(
        urlsplit(link).path, data={**{k: v[0] for k, v in parse_qs(urlsplit(link).query).items()}}
    )
    assert post.status == 404


async def test_withdrawing_ends_every_consent_of_the_shopper_and_the_console_can_too(
    portal_client: TestClient,
    router: SimulatedRouter,
    tenant: Tenant,
    db: asyncpg.Pool,
    settings: Settings,
) -> None:
    first = router.add_client("aa:bb:cc:10:00:05", "10.0.1.5")
    await post_email(portal_client, router, first, email=ADDRESS, accept="1", marketing="1")
    [consent] = await consents_of(db, tenant)
    # The same shopper on another device, with another wording version given at another store.
    other = await email_login.give_consent(
        db, tenant.merchant_id, consent["identity_hash"], tenant.store_id, "email-0"
    )
    assert other != consent["consent_id"]
    withdrawn, now = await email_login.withdraw(
        db, tenant.merchant_id, consent["consent_id"], "link"
    )
    assert now and withdrawn.withdrawn_via == "link"
    assert all(row["withdrawn_at"] is not None for row in await consents_of(db, tenant))

    # Given again later, then withdrawn by staff in the console on the shopper's request.
    second = router.add_client("aa:bb:cc:10:00:06", "10.0.1.6")
    await post_email(portal_client, router, second, email=ADDRESS, accept="1", marketing="1")
    assert (
        await email_login.withdraw_address(
            db, settings.secret_key, tenant.merchant_id, "alice.liu+wifi@example.com"
        )
        == 1
    )
    rows = await consents_of(db, tenant)
    assert len(rows) == 3 and rows[-1]["withdrawn_via"] == "console"
    assert (
        await email_login.withdraw_address(db, settings.secret_key, tenant.merchant_id, ADDRESS)
        == 0
    )
    assert await email_login.consent_counts(db, tenant.merchant_id) == (0, 1)
    with pytest.raises(email_login.identities.BadEmailAddress):
        await email_login.withdraw_address(db, settings.secret_key, tenant.merchant_id, "nope")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"email": "not an address", "accept": "1"}, "That is not an email address"),
        ({"email": "", "accept": "1"}, "That is not an email address"),
        ({"email": "a@" + "b" * 300 + ".com", "accept": "1"}, "That is not an email address"),
        ({"email": ADDRESS}, "Please accept the terms"),
        (
            {"email": ADDRESS, "accept": "1", "marketing": "1", "consent_wording": "email-99"},
            "out of date",
        ),
    ],
)
async def test_bad_email_logins_show_the_splash_again_and_store_nothing(
    portal_client: TestClient,
    router: SimulatedRouter,
    tenant: Tenant,
    db: asyncpg.Pool,
    caplog: pytest.LogCaptureFixture,
    fields: dict[str, str],
    message: str,
) -> None:
    client = router.add_client("aa:bb:cc:10:00:07", "10.0.1.7")
    with caplog.at_level(logging.INFO, logger="portico.portal"):
        status, _, text = await post_email(portal_client, router, client, **fields)
    assert status == 400 and message in html.unescape(text)
    assert not client.authenticated and await sessions_of(db, tenant) == []
    assert await consents_of(db, tenant) == []
    identities = await db.fetchval(
        "SELECT count(*) FROM shopper_identities WHERE merchant_id = $1", tenant.merchant_id
    )
    assert identities == 0
    assert any(
        "refused" in r.getMessage()
        or "out of date" in r.getMessage()
        or "consent wording" in r.getMessage()
        for r in caplog.records
    )


async def test_email_is_refused_where_the_store_has_not_enabled_it(
    portal_client: TestClient, router: SimulatedRouter, tenant: Tenant, db: asyncpg.Pool
) -> None:
    await enable_methods(db, tenant, "click")
    stores._gateways.clear()  # the store portal cache (5 s) would show the change a little later
    client = router.add_client("aa:bb:cc:10:00:08", "10.0.1.8")
    status, _, text = await post_email(portal_client, router, client, email=ADDRESS, accept="1")
    assert status == 403 and "not available here" in text
    assert not client.authenticated


async def test_a_retried_login_records_its_consent_once(
    portal_client: TestClient, router: SimulatedRouter, tenant: Tenant, db: asyncpg.Pool
) -> None:
    client = router.add_client("aa:bb:cc:10:00:09", "10.0.1.9")
    for _ in range(2):
        status, _, _ = await post_email(
            portal_client, router, client, email=ADDRESS, accept="1", marketing="1"
        )
        assert status == 303
    assert len(await consents_of(db, tenant)) == 1
    assert len(await sessions_of(db, tenant)) == 2


async def test_no_raw_email_address_reaches_a_table_or_a_log(
    portal_client: TestClient,
    router: SimulatedRouter,
    tenant: Tenant,
    db: asyncpg.Pool,
    caplog: pytest.LogCaptureFixture,
) -> None:
    address = f"secret.{uuid.uuid4().hex[:8]}@mail.example"
    local = address.split("@")[0]
    client = router.add_client("aa:bb:cc:10:00:0a", "10.0.1.10")
    with caplog.at_level(logging.DEBUG):
        status, location, _ = await post_email(
            portal_client, router, client, email=address, accept="1", marketing="1"
        )
        assert status == 303
        await portal_client.get(location)
        bad = await post_email(portal_client, router, client, email=address + "@@", accept="1")
        assert bad[0] == 400
    tables = await db.fetch(
        "SELECT table_name FROM information_schema.tables"
        " WHERE table_schema = 'public' AND table_type = 'BASE TABLE'"
    )
    assert len(tables) > 20
    found = []
    for row in tables:
        name = row["table_name"]
        # Every column of every row as text (bytea as hex), and every bytea column as bytes.
        hits = await db.fetchval(
            f'SELECT count(*) FROM "{name}" t WHERE strpos(lower(t::text), lower($1)) > 0',  # noqa: S608 (names from information_schema)
            local,
        )
        if hits:
            found.append(name)
        byteas = await db.fetch(
            "SELECT column_name FROM information_schema.columns"
            " WHERE table_schema = 'public' AND table_name = $1 AND data_type = 'bytea'",
            name,
        )
        for column in byteas:
            column_name = column["column_name"]
            raw = await db.fetchval(
                f'SELECT count(*) FROM "{name}" WHERE position($1 in "{column_name}") > 0',  # noqa: S608 (names from information_schema)
                local.encode(),
            )
            if raw:
                found.append(f"{name}.{column['column_name']}")
    assert found == []
    # The search finds what is there: the masked address staff may see.
    masked = await db.fetchval(
        "SELECT count(*) FROM shopper_identities t WHERE strpos(t::text, $1) > 0",
        "***@mail.example",
    )
    assert masked == 1
    sealed = await db.fetchval(
        "SELECT sealed FROM shopper_identities WHERE merchant_id = $1", tenant.merchant_id
    )
    assert sealed and local.encode() not in sealed
    logged = [r.getMessage() + repr(r.args) for r in caplog.records]
    assert logged and not [line for line in logged if local in line]


def test_each_consent_wording_version_keeps_its_words() -> None:
    """A consent records the wording's version: a shown version's words never change (a new
    wording is a new version). Changing these digests means changing what people agreed to."""
    pinned = {
        "email-1": "124ab086714ad16d226a120c7169796adc48c3c0f8796f165db42e3e9124bda4",
    }
    digests = {
        version: hashlib.sha256(
            json.dumps(words, sort_keys=True, ensure_ascii=False).encode()
        ).hexdigest()
        for version, words in CONSENT_WORDINGS.items()
    }
    assert set(pinned) <= set(digests), "a consent wording version was removed"
    for version, digest in pinned.items():
        assert digests[version] == digest, f"the words of consent wording {version} changed"
    assert list(CONSENT_WORDINGS)[-1] == CONSENT_WORDING
    for words in CONSENT_WORDINGS.values():
        assert set(words) == {"en", "zh-CN"} and all("{brand}" in text for text in words.values())


async def test_email_login_through_a_wifidog_gateway_carries_the_identity_to_the_session(
    portal_client: TestClient, tenant: Tenant, db: asyncpg.Pool
) -> None:
    async with db.acquire() as conn:
        new = await register_router(
            conn,
            tenant.merchant_id,
            tenant.store_id,
            f"wd-{uuid.uuid4().hex[:10]}",
            "WD",
            gateway="wifidog",
        )
    gw_id, mac, ip = new.router.router_id, "0a:11:22:33:44:66", "192.168.1.24"
    login = (
        f"/wifidog/login/?gw_address=192.168.1.1&gw_port=2060&gw_id={gw_id}&ip={ip}&mac={mac}"
        "&url=http%3A%2F%2Fexample.com%2F"
    )
    page = await (await portal_client.get(login, headers={"Accept-Language": "en"})).text()
    assert 'action="/wifidog/email"' in page
    ticket = html.unescape(re.search(r'name="fas" value="([^"]+)"', page).group(1))
    response = await portal_client.post(
        "/wifidog/email",
        data={"fas": ticket, "lang": "en", "email": ADDRESS, "accept": "1", "marketing": "1"},
        allow_redirects=False,
    )
    assert response.status == 302
    token = parse_qs(urlsplit(response.headers["Location"]).query)["token"][0]
    auth = await portal_client.get(
        f"/wifidog/auth/?stage=login&ip={ip}&mac={mac}&token={token}&incoming=0&outgoing=0"
        f"&gw_id={gw_id}"
    )
    assert "Auth: 1" in await auth.text()
    [session] = await sessions_of(db, tenant)
    [consent] = await consents_of(db, tenant)
    assert session["method"] == "email" and session["identity_hash"] == consent["identity_hash"]
    portal_page = await portal_client.get(
        f"/wifidog/portal/?gw_id={gw_id}&token={token}", headers={"Accept-Language": "en"}
    )
    assert 'id="consent-withdraw"' in await portal_page.text()
