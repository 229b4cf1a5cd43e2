"""The dispatcher against the real PostgreSQL: portal offers and SMS (the outbox), the
shopper's opt-out at send time, the back-off, and exactly once at the receivers across a
dispatcher cancelled mid-batch and a crash between a send and its record."""

from __future__ import annotations

import asyncio
import contextlib
import random
import uuid
from datetime import UTC, datetime, timedelta

import aiohttp
import asyncpg
import pytest

from kernel.config import Settings
from marketing import channels, intake, services
from marketing.channels import Delivery, Outcome
from marketing.dispatch import Dispatcher, Policy, backoff, due, standard_channels
from marketing.engine import Engine
from marketing.intake import InboxEvent
from portal import identities
from portal.sms import SmsProviders
from portico.runtime import marketing_dispatch
from tests.marketing.receivers import (
    T0,
    Receiver,
    a_contact,
    a_trigger,
    a_webhook,
    contact_row,
    make_due,
)
from tests.marketing.test_engine import a_merchant


def dispatcher(
    db: asyncpg.Pool, settings: Settings, http: aiohttp.ClientSession, **options: object
) -> Dispatcher:
    sms = SmsProviders(settings, db)  # the outbox: nothing to close
    return Dispatcher(db, standard_channels(db, settings, http, sms), **options)  # type: ignore[arg-type]


async def run_all(d: Dispatcher) -> int:
    total = 0
    while taken := await d.step():
        total += taken
    return total


def test_backoff_doubles_from_the_base_with_jitter_up_to_the_cap() -> None:
    rng = random.Random(7)
    for attempt, ceiling in [(1, 5.0), (2, 10.0), (3, 20.0), (4, 40.0), (12, 3600.0)]:
        waits = [backoff(attempt, 5.0, 3600.0, rng) for _ in range(200)]
        assert all(ceiling / 2 <= w <= ceiling for w in waits), (attempt, min(waits), max(waits))
        assert max(waits) - min(waits) > ceiling / 4  # jittered, not one value


class CountingMarks(Dispatcher):
    """A dispatcher that counts the outcomes it records by statement (`_mark`)."""

    marks = 0

    async def _mark(self, delivery: Delivery, outcome: Outcome) -> None:
        self.marks += 1
        await super()._mark(delivery, outcome)


async def test_a_portal_offer_is_recorded_sent_by_its_claim_and_the_rest_as_before(
    db: asyncpg.Pool,
) -> None:
    merchant, _store = await a_merchant(db)
    trigger = await a_trigger(db, merchant, "portal")
    shown = await a_contact(db, merchant, trigger, "d:" + "a1" * 16, channel="portal")
    opted_out = await a_contact(db, merchant, trigger, "d:" + "a2" * 16, channel="portal")
    await db.execute(
        "UPDATE marketing_profiles SET opted_out_at = now() WHERE merchant_id = $1"
        " AND profile_key = $2",
        merchant,
        "d:" + "a2" * 16,
    )
    d = CountingMarks(db, {"portal": channels.PortalChannel()})
    assert await d.step() == 2
    assert d.marks == 1  # only the opted-out shopper's, through the dispatcher's checks
    assert d.outcomes == {"sent": 1, "suppressed": 1}
    row = await contact_row(db, merchant, shown)
    assert (row["status"], row["attempts"], row["next_attempt_at"]) == ("sent", 1, None)
    assert row["sent_at"] is not None
    assert (await contact_row(db, merchant, opted_out))["reason"] == "opted_out"


async def test_a_portal_offer_waits_for_the_page_and_is_delivered_when_shown(
    db: asyncpg.Pool, settings: Settings, http: aiohttp.ClientSession
) -> None:
    merchant, _store = await a_merchant(db)
    trigger = await a_trigger(db, merchant, "portal")
    device, linked = "ab" * 16, "cd" * 16
    own = await a_contact(db, merchant, trigger, "d:" + device, channel="portal")
    identity = "e" * 32  # a device that logged in: its identity's offers
    await a_contact(db, merchant, trigger, "i:" + identity, channel="portal")
    await db.execute(
        "INSERT INTO marketing_profile_devices VALUES ($1, $2, $3, now())",
        merchant,
        linked,
        "i:" + identity,
    )
    stale = await a_contact(
        db,
        merchant,
        trigger,
        "d:" + device,
        channel="portal",
        at=datetime.now(UTC) - timedelta(days=2),
    )

    assert await run_all(dispatcher(db, settings, http)) == 3
    assert (await contact_row(db, merchant, own))["status"] == "sent"  # waiting on the portal
    [offer] = await services.offers_for_device(db, merchant, device)
    assert offer.contact_id == own and offer.coupon_id is None
    assert offer.message("zh-CN") == "欢迎光临，今天奶茶八折"
    assert offer.message("en") == "Welcome back: 20% off milk tea today"
    assert [o.message("en") for o in await services.offers_for_device(db, merchant, linked)] == [
        "Welcome back: 20% off milk tea today"
    ]
    assert stale not in [
        o.contact_id for o in await services.offers_for_device(db, merchant, device)
    ]

    assert await services.mark_offers_shown(db, merchant, [own]) == 1
    assert await services.mark_offers_shown(db, merchant, [own]) == 0  # a reload: once
    row = await contact_row(db, merchant, own)
    assert row["status"] == "delivered" and row["delivered_at"] is not None
    # Still on the page for the visit (a reload shows it, its coupon can be claimed).
    assert [o.contact_id for o in await services.offers_for_device(db, merchant, device)] == [own]


async def test_a_holdout_or_suppressed_offer_is_never_shown(db: asyncpg.Pool) -> None:
    merchant, _store = await a_merchant(db)
    trigger = await a_trigger(db, merchant, "portal")
    device = "12" * 16
    ghost = await a_contact(db, merchant, trigger, "d:" + device, channel="portal")
    held = await a_contact(db, merchant, trigger, "d:" + device, channel="portal")
    await db.execute(
        "UPDATE marketing_contacts SET status = 'holdout', arm = 'holdout' WHERE contact_id = $1",
        ghost,
    )
    await db.execute(
        "UPDATE marketing_contacts SET status = 'suppressed', reason = 'budget_day'"
        " WHERE contact_id = $1",
        held,
    )
    assert await services.offers_for_device(db, merchant, device) == []
    assert await services.mark_offers_shown(db, merchant, [ghost, held]) == 0


async def a_phone_shopper(
    db: asyncpg.Pool, settings: Settings, merchant: uuid.UUID, phone: str
) -> str:
    """A shopper whose phone number an SMS code proved: their identity's hash."""
    identity = await identities.remember(
        db, settings.secret_key, merchant, "phone", phone, verified=True
    )
    return identity.hash


async def outbox(db: asyncpg.Pool, merchant: uuid.UUID) -> list[asyncpg.Record]:
    return await db.fetch(
        "SELECT message_id, masked_phone, body FROM sms_outbox WHERE merchant_id = $1", merchant
    )


@pytest.mark.parametrize(
    ("phone", "masked", "body"),
    [
        # Chinese for a Chinese number; each ends with how to opt out (portal/services.py)
        ("+8613812345678", "138****5678", "欢迎光临，今天奶茶八折 回T退订"),
        ("+447700900123", "447****0123", "Welcome back: 20% off milk tea today Reply T to opt out"),
    ],
)
async def test_an_sms_goes_to_the_outbox_once_under_its_delivery_id(
    db: asyncpg.Pool,
    settings: Settings,
    http: aiohttp.ClientSession,
    phone: str,
    masked: str,
    body: str,
) -> None:
    merchant, _store = await a_merchant(db)
    trigger = await a_trigger(db, merchant, "sms")
    identity = await a_phone_shopper(db, settings, merchant, phone)
    contact = await a_contact(
        db, merchant, trigger, "i:" + identity, channel="sms", consent_sms=True
    )
    d = dispatcher(db, settings, http)
    assert await d.step() == 1
    row = await contact_row(db, merchant, contact)
    assert (row["status"], row["attempts"], row["next_attempt_at"]) == ("sent", 1, None)
    [text] = await outbox(db, merchant)
    assert (text["message_id"], text["masked_phone"], text["body"]) == (contact, masked, body)

    # Sent again under the same id (as after a crash before its record): still one text.
    await db.execute(
        "UPDATE marketing_contacts SET status = 'pending', next_attempt_at = now()"
        " WHERE contact_id = $1",
        contact,
    )
    assert await d.step() == 1
    assert [t["message_id"] for t in await outbox(db, merchant)] == [contact]
    assert (await contact_row(db, merchant, contact))["attempts"] == 2


async def test_sms_fails_without_a_proved_number_and_stops_at_an_opt_out(
    db: asyncpg.Pool, settings: Settings, http: aiohttp.ClientSession
) -> None:
    merchant, _store = await a_merchant(db)
    trigger = await a_trigger(db, merchant, "sms")
    email = await identities.remember(
        db, settings.secret_key, merchant, "email", "ann@example.com", verified=False
    )
    no_phone = await a_contact(
        db, merchant, trigger, "i:" + email.hash, channel="sms", consent_sms=True
    )
    phone = await a_phone_shopper(db, settings, merchant, "+8613900001111")
    withdrawn = await a_contact(db, merchant, trigger, "i:" + phone, channel="sms")  # no consent
    opted = await a_phone_shopper(db, settings, merchant, "+8613900002222")
    gone = await a_contact(db, merchant, trigger, "i:" + opted, channel="sms", consent_sms=True)
    await db.execute(
        "UPDATE marketing_profiles SET opted_out_at = now() WHERE merchant_id = $1"
        " AND profile_key = $2",
        merchant,
        "i:" + opted,
    )
    await run_all(dispatcher(db, settings, http))
    failed = await contact_row(db, merchant, no_phone)
    assert failed["status"] == "failed" and "no verified phone" in failed["last_error"]
    assert [
        (r["status"], r["reason"])
        for r in [
            await contact_row(db, merchant, withdrawn),
            await contact_row(db, merchant, gone),
        ]
    ] == [("suppressed", "no_consent"), ("suppressed", "opted_out")]
    assert await outbox(db, merchant) == []


class Flaky:
    """A channel of a test: fails (retry) `failures` times, then sends."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.tries: list[int] = []

    async def send(self, delivery: Delivery) -> Outcome:
        self.tries.append(delivery.attempt)
        if len(self.tries) <= self.failures:
            return channels.retry("receiver down")
        return channels.sent()


async def test_retries_wait_out_their_back_off_and_give_up_after_the_last_try(
    db: asyncpg.Pool,
) -> None:
    merchant, _store = await a_merchant(db)
    trigger = await a_trigger(db, merchant, "portal")
    contact = await a_contact(db, merchant, trigger, "d:" + "34" * 16, channel="portal")
    flaky = Flaky(failures=10)
    d = Dispatcher(db, {"portal": flaky}, policy=Policy(max_attempts=3, backoff_base=30.0))
    before = datetime.now(UTC)
    assert await d.step() == 1
    row = await contact_row(db, merchant, contact)
    assert row["status"] == "pending" and row["attempts"] == 1
    assert row["last_error"] == "receiver down"
    wait = (row["next_attempt_at"] - before).total_seconds()
    assert 15 - 1 <= wait <= 30 + 1, wait  # the first back-off: 15 to 30 s
    assert await d.step() == 0  # not due yet
    assert await due(db) == 0
    await make_due(db, merchant)
    assert await d.step() == 1
    row = await contact_row(db, merchant, contact)
    assert 30 - 1 <= (row["next_attempt_at"] - before).total_seconds() <= 60 + 2
    await make_due(db, merchant)
    assert await d.step() == 1
    row = await contact_row(db, merchant, contact)
    assert (row["status"], row["attempts"], row["next_attempt_at"]) == ("failed", 3, None)
    assert row["last_error"] == "gave up after 3 tries: receiver down"
    assert flaky.tries == [1, 2, 3]


async def test_a_contact_whose_tries_never_reported_back_fails_without_another_send(
    db: asyncpg.Pool,
) -> None:
    merchant, _store = await a_merchant(db)
    trigger = await a_trigger(db, merchant, "portal")
    contact = await a_contact(db, merchant, trigger, "d:" + "56" * 16, channel="portal")
    await db.execute("UPDATE marketing_contacts SET attempts = 3 WHERE contact_id = $1", contact)
    flaky = Flaky(failures=0)
    assert await Dispatcher(db, {"portal": flaky}, policy=Policy(max_attempts=3)).step() == 1
    row = await contact_row(db, merchant, contact)
    assert row["status"] == "failed" and "none reported back" in row["last_error"]
    assert flaky.tries == []


async def test_the_engines_notification_wakes_a_running_dispatcher(
    db: asyncpg.Pool, settings: Settings, http: aiohttp.ClientSession
) -> None:
    merchant, _store = await a_merchant(db)
    trigger = await a_trigger(db, merchant, "portal")
    d = dispatcher(db, settings, http, poll=60.0)  # the poll alone would take a minute
    stop = asyncio.Event()
    running = asyncio.create_task(d.run(stop))
    try:
        await asyncio.sleep(0.3)  # listening, and the first look found nothing
        contact = await a_contact(db, merchant, trigger, "d:" + "78" * 16, channel="portal")
        await db.execute("SELECT pg_notify('marketing_dispatch', '')")
        for _ in range(50):
            if (await contact_row(db, merchant, contact))["status"] == "sent":
                break
            await asyncio.sleep(0.05)
        assert (await contact_row(db, merchant, contact))["status"] == "sent"
    finally:
        stop.set()
        await asyncio.wait_for(running, 5)


class CrashAfterSend(Dispatcher):
    """A dispatcher whose record of a send fails once per channel, as a crash right after the
    receiver took it would leave it."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.crashed: dict[str, uuid.UUID] = {}

    async def _mark(self, delivery: Delivery, outcome: Outcome) -> None:
        sent = outcome.status in (channels.SENT, channels.DELIVERED)
        if sent and delivery.channel not in self.crashed:
            self.crashed[delivery.channel] = delivery.contact_id
            raise ConnectionResetError("the process died before recording the send")
        await super()._mark(delivery, outcome)


async def test_every_contact_reaches_its_receiver_exactly_once_across_restarts(
    db: asyncpg.Pool, settings: Settings, http: aiohttp.ClientSession, receiver: Receiver
) -> None:
    """Issue 14's "Restarts": a dispatcher cancelled mid-batch, another started whose first
    record of a send fails (a crash between the send and its record). Counted at the receivers:
    the webhook receiver (distinct deliveries, and every post) and the SMS outbox."""
    merchant, store = await a_merchant(db)
    await db.execute(
        "INSERT INTO marketing_settings (merchant_id, max_per_day, max_per_week)"
        " VALUES ($1, 10, 20)",
        merchant,
    )
    hook = await a_webhook(db, merchant, receiver, settings.secret_key)
    await a_trigger(db, merchant, "webhook", event="login", webhook_id=hook, offer_key="hello-hook")
    await a_trigger(db, merchant, "sms", event="login", offer_key="hello-sms")
    shoppers = 24
    events = []
    for i in range(shoppers):
        identity = await a_phone_shopper(db, settings, merchant, f"+861380000{i:04d}")
        payload = {"method": "sms", "identity_hash": identity, "consent_sms": True}
        events.append(InboxEvent(merchant, "login", f"{i:032x}", store, T0, payload))
    await intake.record_events(db, events)
    engine = Engine(db)
    await engine.drain()
    contacts = await db.fetch(
        "SELECT contact_id, channel, status FROM marketing_contacts WHERE merchant_id = $1",
        merchant,
    )
    assert {(c["channel"], c["status"]) for c in contacts} == {
        ("webhook", "pending"),
        ("sms", "pending"),
    }
    by_channel = {
        ch: {c["contact_id"] for c in contacts if c["channel"] == ch} for ch in ("webhook", "sms")
    }
    assert len(by_channel["webhook"]) == len(by_channel["sms"]) == shoppers

    # The first dispatcher is cancelled while its receiver is still answering.
    receiver.delay = 0.05
    lease = Policy(lease=1.0, backoff_base=0.2)
    first = dispatcher(db, settings, http, policy=lease, batch=8, concurrency=8)
    running = asyncio.create_task(first.run(asyncio.Event()))
    for _ in range(200):
        if len(receiver.posts) >= 6:
            break
        await asyncio.sleep(0.01)
    running.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await running
    assert 0 < len(receiver.posts) < shoppers  # stopped mid-stream
    receiver.delay = 0.0

    # The second one crashes once per channel between a send and its record.
    sms = SmsProviders(settings, db)
    second = CrashAfterSend(db, standard_channels(db, settings, http, sms), policy=lease)
    stop = asyncio.Event()
    running = asyncio.create_task(second.run(stop))
    try:
        for _ in range(300):
            left = await db.fetchval(
                "SELECT count(*) FROM marketing_contacts WHERE merchant_id = $1"
                " AND status = 'pending'",
                merchant,
            )
            if not left:
                break
            await asyncio.sleep(0.05)
        assert left == 0
    finally:
        stop.set()
        await asyncio.wait_for(running, 10)

    statuses = await db.fetch(
        "SELECT channel, status, count(*) AS n FROM marketing_contacts WHERE merchant_id = $1"
        " GROUP BY 1, 2",
        merchant,
    )
    assert {(r["channel"], r["status"], r["n"]) for r in statuses} == {
        ("webhook", "delivered", shoppers),
        ("sms", "sent", shoppers),
    }
    # The webhook receiver: every contact once as a distinct delivery; the re-posts (at least
    # the one whose record failed) under the same id, with the same body; all signed.
    assert set(receiver.deliveries) == {str(c) for c in by_channel["webhook"]}
    reposted = {d for d, n in receiver.deliveries.items() if n > 1}
    assert str(second.crashed["webhook"]) in reposted
    assert len(receiver.posts) == shoppers + sum(n - 1 for n in receiver.deliveries.values())
    assert all(len(bodies) == 1 for bodies in receiver.bodies().values())
    assert all(ok for _, _, ok in receiver.posts)
    # The SMS outbox: one text per contact, the crashed one's too (sent twice, kept once).
    texts = await outbox(db, merchant)
    assert sorted(t["message_id"] for t in texts) == sorted(by_channel["sms"])
    assert (await contact_row(db, merchant, second.crashed["sms"]))["attempts"] >= 2


async def test_the_composition_roots_dispatcher_sends_and_stops_cleanly(
    db: asyncpg.Pool, settings: Settings
) -> None:
    """portico/runtime.py runs it in the controller role, every channel wired."""
    merchant, _store = await a_merchant(db)
    trigger = await a_trigger(db, merchant, "portal")
    contact = await a_contact(db, merchant, trigger, "d:" + "9c" * 16, channel="portal")
    async with marketing_dispatch(settings, db):
        for _ in range(60):
            if (await contact_row(db, merchant, contact))["status"] == "sent":
                break
            await asyncio.sleep(0.05)
    assert (await contact_row(db, merchant, contact))["status"] == "sent"
