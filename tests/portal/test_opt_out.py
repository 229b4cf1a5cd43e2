"""A shopper's "No more offers" on the "you're online" page (portal/opt_out.py), through the
portal app as the composition root makes it (marketing's hook and offers wired), a simulated
router on the real broker and the real PostgreSQL, then the trigger engine and the dispatcher
on the real tables: the opt-out is recorded once, the shopper's consents end, marketing is
told once in the same transaction, and no channel contacts the shopper again, not even with
what was decided before."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from controller.services import CommandSender
from kernel.config import Settings
from kernel.shopper_events import event_id
from marketing import webhooks
from marketing.engine import Engine
from portal import identities
from portal.fas import encode_fas
from portico import runtime
from simulators.router import SimulatedRouter
from tests.factories import Tenant
from tests.marketing.receivers import Receiver, a_trigger, postpone_waiting
from tests.portal.test_sms_consent import (
    consents_of,
    contacts_of,
    decide_and_send,
    hidden_fields,
    inbox_of,
    open_budget,
    sms_login,
)
from tests.portal.test_sms_login import sms_tenant
from tests.portal.test_wifidog import auth, auth_query, code, issue, make_wd

CHANNELS = ("portal", "sms", "webhook", "wechat")


@pytest.fixture
async def tenant(db: asyncpg.Pool) -> Tenant:
    return await sms_tenant(db, methods=("click", "sms"))


@pytest.fixture
async def portal(
    settings: Settings, db: asyncpg.Pool, sender: CommandSender
) -> AsyncIterator[TestClient]:
    async with TestClient(TestServer(runtime.portal_app(settings, db, sender))) as client:
        yield client


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    hook = Receiver()
    await hook.start()
    yield hook
    await hook.close()


async def every_channel(
    db: asyncpg.Pool, settings: Settings, tenant: Tenant, receiver: Receiver
) -> None:
    """A trigger on each channel, set off by every login, none held out."""
    webhook, secret = await webhooks.create_webhook(
        db, tenant.merchant_id, receiver.url, secret_key=settings.secret_key, allow_private=True
    )
    receiver.secret = secret
    for channel in CHANNELS:
        await a_trigger(
            db,
            tenant.merchant_id,
            channel,
            event="login",
            offer_key=f"offer-{channel}",
            webhook_id=webhook if channel == "webhook" else None,
        )


async def opt_out_form(portal: TestClient, online: str) -> tuple[str, dict[str, str]]:
    """The "No more offers" form of an online page: its action and fields."""
    page = await (await portal.get(online)).text()
    action = page.split('id="opt-out-form"')[0].rsplit('action="', 1)[1].split('"')[0]
    return action, hidden_fields(page, "opt-out-form")


async def opt_out_of(portal: TestClient, online: str, times: int = 1) -> tuple[int, str]:
    """Press "No more offers" on an online page (`times`: the same form posted again, as a
    replayed request); the last answer's status and page."""
    action, form = await opt_out_form(portal, online)
    for _ in range(times):
        answer = await portal.post(action, data=form)
    return answer.status, await answer.text()


async def test_no_more_offers_stops_every_channel_at_once_and_a_replay_tells_nothing(
    portal: TestClient,
    router: SimulatedRouter,
    tenant: Tenant,
    db: asyncpg.Pool,
    settings: Settings,
    receiver: Receiver,
) -> None:
    await postpone_waiting(db)
    await open_budget(db, tenant.merchant_id)
    await every_channel(db, settings, tenant, receiver)
    phone, mac = "+8613812350001", "aa:bb:cc:42:00:01"
    _code, online = await sms_login(portal, db, tenant, router, mac, phone[3:], consent=True)
    identity = identities.identify(settings.secret_key, tenant.merchant_id, "phone", phone).hash
    page = await (await portal.get(online)).text()
    assert "No more offers" in page and 'id="opted-out"' not in page
    action, form = await opt_out_form(portal, online)  # the page, before any offer waits

    # Decided, not yet sent: the login's contacts wait for the dispatcher.
    engine = Engine(db)
    while await engine.step():
        pass
    decided = {r["channel"]: (r["status"], r["reason"]) for r in await contacts_of(db, tenant)}
    assert decided == {
        "portal": ("pending", None),
        "sms": ("pending", None),
        "webhook": ("pending", None),
        "wechat": ("suppressed", "no_consent"),  # no WeChat account linked
    }

    # No more offers, pressed twice (a replayed form): once recorded, once told.
    for _ in range(2):
        answer = await portal.post(action, data=form)
    status, done = answer.status, await answer.text()
    assert status == 200 and "will send you no more offers" in done
    assert 'id="opt-out-form"' not in done and 'id="consent-given"' not in done
    [session] = await db.fetch(
        "SELECT session_id, device_hash FROM portal_sessions WHERE merchant_id = $1",
        tenant.merchant_id,
    )
    [recorded] = await db.fetch(
        "SELECT * FROM shopper_opt_outs WHERE merchant_id = $1", tenant.merchant_id
    )
    assert (recorded["session_id"], recorded["identity_hash"]) == (session["session_id"], identity)
    [consent] = await consents_of(db, tenant)
    assert consent["withdrawn_via"] == "portal"
    login, sms_withdrawn, opted_out = await inbox_of(db, tenant)
    assert login["kind"] == "login"
    assert (sms_withdrawn["kind"], sms_withdrawn["payload"]) == (
        "consent",
        {"channel": "sms", "given": False, "identity_hash": identity},
    )
    assert opted_out["event_id"] == event_id("opt-out", tenant.merchant_id, session["session_id"])
    assert (opted_out["kind"], opted_out["device_hash"], opted_out["store_id"]) == (
        "consent",
        session["device_hash"],
        tenant.store_id,
    )
    assert opted_out["payload"] == {"channel": "all", "given": False, "identity_hash": identity}

    # The engine marks the profile; the dispatcher then sends nothing of what waited.
    await decide_and_send(db, settings)
    profile = await db.fetchrow(
        "SELECT opted_out_at, consent_sms FROM marketing_profiles"
        " WHERE merchant_id = $1 AND profile_key = $2",
        tenant.merchant_id,
        f"i:{identity}",
    )
    assert profile["opted_out_at"] is not None and profile["consent_sms"] is False
    after = {r["channel"]: (r["status"], r["reason"]) for r in await contacts_of(db, tenant)}
    assert after == {
        "portal": ("suppressed", "opted_out"),
        "sms": ("suppressed", "opted_out"),
        "webhook": ("suppressed", "opted_out"),
        "wechat": ("suppressed", "no_consent"),
    }
    assert (
        receiver.posts == []
        and await db.fetchval(
            "SELECT count(*) FROM sms_outbox WHERE merchant_id = $1 AND body LIKE '欢迎%'",
            tenant.merchant_id,
        )
        == 0
    )

    # Back another day: a new login without the box sets off every trigger again, and every
    # channel is refused as opted out (the opt-out comes before the offers already made).
    await db.execute(  # the number's one code a minute: as if it were later
        "DELETE FROM portal_rate_limits WHERE merchant_id = $1", tenant.merchant_id
    )
    await sms_login(portal, db, tenant, router, mac, phone[3:], consent=False)
    await decide_and_send(db, settings)
    rows = await contacts_of(db, tenant)
    assert len(rows) == 8
    assert {(r["channel"], r["status"], r["reason"]) for r in rows[4:]} == {
        (channel, "suppressed", "opted_out") for channel in CHANNELS
    }
    assert receiver.posts == []


async def test_a_device_without_an_identity_opts_out_and_its_old_consents_end_too(
    portal: TestClient,
    router: SimulatedRouter,
    tenant: Tenant,
    db: asyncpg.Pool,
    settings: Settings,
) -> None:
    """A click-through session of a device that once logged in by SMS with consent: the
    opt-out ends that identity's consents too, so its next login cannot bring offers back."""
    mac = "aa:bb:cc:42:00:02"
    await sms_login(portal, db, tenant, router, mac, "13812350002", consent=True)
    client = router.add_client(mac, "10.0.42.2")
    fas = encode_fas(router.fas_fields(client))
    clicked = await portal.post(
        f"/fas/{router.router_id}/login",
        data={"fas": fas, "accept": "1", "lang": "zh-CN"},
        allow_redirects=False,
    )
    assert clicked.status == 303
    status, done = await opt_out_of(portal, clicked.headers["Location"])
    assert status == 200 and "将不再向您发送任何优惠" in done
    [consent] = await consents_of(db, tenant)
    assert consent["withdrawn_via"] == "portal"
    told = [r for r in await inbox_of(db, tenant) if r["kind"] == "consent"]
    assert [r["payload"]["channel"] for r in told] == ["sms", "all"]
    assert "identity_hash" not in told[1]["payload"]  # the session had none: its device
    assert told[1]["device_hash"] != ""


async def test_a_forged_or_foreign_opt_out_is_refused_and_records_nothing(
    portal: TestClient, router: SimulatedRouter, tenant: Tenant, db: asyncpg.Pool
) -> None:
    _code, online = await sms_login(
        portal, db, tenant, router, "aa:bb:cc:42:00:03", "13812350003", consent=False
    )
    _action, form = await opt_out_form(portal, online)
    for bad in ({**form, "sig": "0" * 32}, {**form, "s": str(uuid.uuid4())}, {}):
        answer = await portal.post(f"/fas/{router.router_id}/opt-out", data=bad)
        assert answer.status == 404
    assert (
        await db.fetchval(
            "SELECT count(*) FROM shopper_opt_outs WHERE merchant_id = $1", tenant.merchant_id
        )
        == 0
    )
    assert [r["kind"] for r in await inbox_of(db, tenant)] == ["login"]


async def test_no_more_offers_on_a_wifidog_gateways_page(
    portal: TestClient, db: asyncpg.Pool, settings: Settings
) -> None:
    wd = await make_wd(db)
    gw_id = wd.router.router_id
    token = await issue(portal, wd)
    assert code((await auth(portal, auth_query("login", gw_id, token)))[1]) == 1
    page = await (await portal.get(f"/wifidog/portal/?gw_id={gw_id}&token={token}")).text()
    form = hidden_fields(page, "opt-out-form")
    assert set(form) == {"gw_id", "token", "lang"}
    for _ in range(2):
        answer = await portal.post("/wifidog/opt-out", data=form)
        assert answer.status == 200
        assert 'id="opted-out"' in await answer.text()
    told = await db.fetch(
        "SELECT payload FROM marketing_inbox WHERE merchant_id = $1 AND kind = 'consent'",
        wd.tenant.merchant_id,
    )
    assert [r["payload"] for r in told] == [{"channel": "all", "given": False}]
