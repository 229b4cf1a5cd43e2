"""What the portal tells precision marketing (portal/shopper_events.py), through the portal app
the composition root builds (portico.runtime.portal_app: the hook wired), a simulated router
on the real broker and the real PostgreSQL: logins of every path (the agent's grant, authmon's
ack, WiFiDog's token) with the shopper's identity and consents, consent withdrawals, coupon
claims; each real event once in the inbox, however often it is sent or replayed."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from urllib.parse import parse_qs, urlsplit

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from controller.services import CommandSender, find_router
from kernel.config import Settings
from kernel.privacy import device_hash
from kernel.shopper_events import event_id
from portal import authmon, email_login
from portal.fas import encode_fas, sha256_hex
from portico import runtime, shopper_stream
from simulators.router import SimulatedRouter
from tests.factories import Tenant, make_tenant
from tests.portal.test_authmon import level_3_tenant
from tests.portal.test_email_login import ADDRESS, enable_methods, post_email
from tests.portal.test_wifidog import MAC as WD_MAC
from tests.portal.test_wifidog import auth, auth_query, code, issue, make_wd


@pytest.fixture
async def tenant(db: asyncpg.Pool) -> Tenant:
    tenant = await make_tenant(db, session_minutes=45)
    await enable_methods(db, tenant, "click", "email")
    return tenant


@pytest.fixture
async def portal(
    settings: Settings, db: asyncpg.Pool, sender: CommandSender
) -> AsyncIterator[TestClient]:
    """The portal app as `portico serve portal` makes it: marketing's hook wired."""
    async with TestClient(TestServer(runtime.portal_app(settings, db, sender))) as client:
        yield client


async def inbox_of(db: asyncpg.Pool, merchant: uuid.UUID) -> list[asyncpg.Record]:
    return await db.fetch(
        "SELECT * FROM marketing_inbox WHERE merchant_id = $1 ORDER BY received_at", merchant
    )


async def sessions_of(db: asyncpg.Pool, merchant: uuid.UUID) -> list[asyncpg.Record]:
    return await db.fetch(
        "SELECT * FROM portal_sessions WHERE merchant_id = $1 ORDER BY started_at", merchant
    )


async def test_a_click_login_is_one_login_event_named_by_its_session(
    portal: TestClient, router: SimulatedRouter, tenant: Tenant, db: asyncpg.Pool
) -> None:
    client = router.add_client("aa:bb:cc:20:00:01", "10.0.2.1")
    fas = encode_fas(router.fas_fields(client))
    response = await portal.post(
        f"/fas/{router.router_id}/login",
        data={"fas": fas, "accept": "1", "lang": "en"},
        allow_redirects=False,
    )
    assert response.status == 303 and client.authenticated
    [session] = await sessions_of(db, tenant.merchant_id)
    [event] = await inbox_of(db, tenant.merchant_id)
    assert event["event_id"] == event_id("login", tenant.merchant_id, session["session_id"])
    assert (event["kind"], event["device_hash"], event["store_id"]) == (
        "login",
        session["device_hash"],
        tenant.store_id,
    )
    assert event["payload"] == {"method": "click"}  # no identity: nothing said of consent


async def test_an_email_login_tells_the_identity_and_its_consent_and_a_withdrawal_once(
    portal: TestClient,
    router: SimulatedRouter,
    tenant: Tenant,
    db: asyncpg.Pool,
    settings: Settings,
) -> None:
    client = router.add_client("aa:bb:cc:20:00:02", "10.0.2.2")
    status, location, _ = await post_email(
        portal, router, client, email=ADDRESS, accept="1", marketing="1"
    )
    assert status == 303
    [session] = await sessions_of(db, tenant.merchant_id)
    [login] = await inbox_of(db, tenant.merchant_id)
    identity = session["identity_hash"]
    assert login["payload"] == {
        "method": "email",
        "identity_hash": identity,
        "consent_email": True,
        "consent_sms": False,
    }
    # Withdrawn by the link on the online page: a consent event for the identity, no device.
    page = await (await portal.get(location)).text()
    link = page.split('id="consent-withdraw"')[0].rsplit('href="', 1)[1].split('"')[0]
    link = link.replace("&amp;", "&")
    form = {"sig": parse_qs(urlsplit(link).query)["sig"][0], "lang": "en"}
    for _ in range(2):  # replayed: withdraws nothing more, tells nothing more
        assert (await portal.post(urlsplit(link).path, data=form)).status == 200
    login_again, withdrawn = await inbox_of(db, tenant.merchant_id)
    assert login_again["event_id"] == login["event_id"]
    assert (withdrawn["kind"], withdrawn["device_hash"], withdrawn["store_id"]) == (
        "consent",
        "",
        None,
    )
    assert withdrawn["payload"] == {"channel": "email", "given": False, "identity_hash": identity}
    # Staff withdrawing the same address later: nothing in force, nothing told.
    hook = shopper_stream.shopper_events(settings.secret_key)
    ended = await email_login.withdraw_address(
        db, settings.secret_key, tenant.merchant_id, ADDRESS, on_events=hook
    )
    assert ended == 0 and len(await inbox_of(db, tenant.merchant_id)) == 2
    # A new login with consent, then staff withdraw: told again (another withdrawal).
    other = router.add_client("aa:bb:cc:20:00:03", "10.0.2.3")
    await post_email(portal, router, other, email=ADDRESS, accept="1", marketing="1")
    ended = await email_login.withdraw_address(
        db, settings.secret_key, tenant.merchant_id, ADDRESS, on_events=hook
    )
    assert ended == 1
    kinds = [
        (r["kind"], r["payload"].get("consent_email"))
        for r in await inbox_of(db, tenant.merchant_id)
    ]
    assert kinds == [("login", True), ("consent", None), ("login", True), ("consent", None)]


async def test_authmon_acks_replayed_at_once_tell_each_login_once(
    db: asyncpg.Pool, settings: Settings
) -> None:
    tenant = await level_3_tenant(db)
    router = await find_router(db, tenant.router.router_id)
    assert router is not None
    hook = shopper_stream.shopper_events(settings.secret_key)
    gateway_hash = "e" * 64
    hids = [sha256_hex(f"shopper-{uuid.uuid4()}") for _ in range(authmon.BATCH)]
    for hid in hids:
        await authmon.enqueue(
            db,
            router,
            hid=hid,
            gateway_hash=gateway_hash,
            session_id=uuid.uuid4(),
            device_hash=hid[:32],
            client_mac="aa:bb:cc:00:00:01",
            client_ip="10.0.0.1",
            method="click",
            terms_version="1",
            policy=(30, 0, 0, 0, 0),
        )
    view = authmon.Poll("view", gateway_hash, "none")
    assert len((await authmon.answer(db, router, view, hook)).split()) == 1 + len(hids)
    rhids = " ".join(sha256_hex(h + router.faskey) for h in hids)
    ack = authmon.Poll("view", gateway_hash, "* " + rhids)
    results = await asyncio.gather(*(authmon.answer(db, router, ack, hook) for _ in range(4)))
    assert set(results) == {"ack"}
    sessions = await sessions_of(db, tenant.merchant_id)
    events = await inbox_of(db, tenant.merchant_id)
    assert len(sessions) == len(hids)
    assert sorted(e["event_id"] for e in events) == sorted(
        event_id("login", tenant.merchant_id, s["session_id"]) for s in sessions
    )
    assert {e["device_hash"] for e in events} == {h[:32] for h in hids}


async def test_a_wifidog_token_used_twice_tells_one_login(
    portal: TestClient, db: asyncpg.Pool, settings: Settings
) -> None:
    wd = await make_wd(db)
    token = await issue(portal, wd)
    for _ in range(2):  # the gateway asks again (a reload): the session goes on, no second
        _status, body = await auth(portal, auth_query("login", wd.router.router_id, token))
        assert code(body) == 1
    [event] = await inbox_of(db, wd.tenant.merchant_id)
    [session] = await sessions_of(db, wd.tenant.merchant_id)
    assert event["event_id"] == event_id("login", wd.tenant.merchant_id, session["session_id"])
    assert event["device_hash"] == device_hash(
        settings.secret_key, str(wd.tenant.merchant_id), WD_MAC
    )


async def test_a_claimed_coupon_is_one_claim_event(
    portal: TestClient, router: SimulatedRouter, tenant: Tenant, db: asyncpg.Pool
) -> None:
    client = router.add_client("aa:bb:cc:20:00:04", "10.0.2.4")
    fas = encode_fas(router.fas_fields(client))
    for _ in range(2):  # the second: the code the shopper holds, no new claim
        response = await portal.post(
            f"/fas/{router.router_id}/coupon",
            data={"fas": fas, "coupon": str(tenant.coupon_id), "lang": "en"},
        )
        assert response.status == 200
    [claim] = await inbox_of(db, tenant.merchant_id)
    code_row = await db.fetchrow(
        "SELECT code, claimed_by FROM coupon_codes WHERE merchant_id = $1 AND state = 'claimed'",
        tenant.merchant_id,
    )
    assert claim["kind"] == "claim" and claim["device_hash"] == code_row["claimed_by"]
    assert claim["event_id"] == event_id(
        "claim", tenant.merchant_id, tenant.coupon_id, code_row["code"]
    )
    assert claim["payload"] == {"coupon_id": str(tenant.coupon_id)}
