"""The live stream's producers into the inbox (marketing/intake.py) against the real
PostgreSQL: sightings thinned to one per device, store and minute under one id whoever sends
them; shopper events under their own ids; an identity's consent withdrawn without a device;
a voucher holder named by a pseudonym, never by its code."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from kernel.privacy import identity_hash
from kernel.shopper_events import ShopperEvent, event_id
from marketing import intake
from marketing.engine import Engine
from marketing.intake import InboxEvent, Sightings
from portico import shopper_stream
from tests.inbox import INBOX_EVENTS
from tests.marketing.test_engine import a_merchant, run_all

SECRET = "test-secret-" + "x" * 40
MINUTE = 29_500_000  # a whole minute, in minutes since 1970 (2026-02-01 …)


async def inbox_of(db: asyncpg.Pool, merchant: uuid.UUID) -> list[asyncpg.Record]:
    return await db.fetch(
        f"SELECT * FROM {INBOX_EVENTS} WHERE merchant_id = $1"  # noqa: S608 (a constant)
        " ORDER BY occurred_at, kind, received_at",
        merchant,
    )


async def test_sightings_reach_the_inbox_once_per_device_store_and_minute(
    db: asyncpg.Pool,
) -> None:
    merchant, store = await a_merchant(db)
    first, second = "a1" * 16, "b2" * 16
    t = MINUTE * 60.0
    sightings = Sightings()
    async with db.acquire() as conn:
        await sightings.seen(conn, merchant, store, [(first, t + 1), (first, t + 5), (second, t)])
        await sightings.seen(conn, merchant, store, [(first, t + 59)])  # the same minute
        await sightings.seen(conn, merchant, store, [(first, t + 61)])  # the next one
    rows = await inbox_of(db, merchant)
    assert [(r["kind"], r["device_hash"], r["occurred_at"].timestamp()) for r in rows] == [
        ("sighting", second, t),
        ("sighting", first, t + 1),
        ("sighting", first, t + 61),
    ]
    assert (sightings.sent, sightings.thinned) == (3, 2)
    assert rows[1]["event_id"] == intake.sighting_id(merchant, store, first, MINUTE)
    # A report's sightings are one row of the inbox, in time order (migration 0049).
    stored = await db.fetch(
        "SELECT kind, devices, seen_at FROM marketing_inbox WHERE merchant_id = $1"
        " ORDER BY occurred_at",
        merchant,
    )
    assert [(r["kind"], r["devices"]) for r in stored] == [
        ("sightings", [second, first]),
        ("sightings", [first]),
    ]
    # The same report redelivered to this process is thinned away; to another controller
    # process (or this one after a restart) its sightings are the same by minute, so the same
    # row, kept once. A sighting sent in another batch is a new row ...
    again = Sightings()
    async with db.acquire() as conn:
        await again.seen(conn, merchant, store, [(first, t + 30), (second, t)])
        await intake.record_events(
            conn, [InboxEvent(merchant, "sighting", second, store, datetime.fromtimestamp(t, UTC))]
        )
    assert again.sent == 2
    assert len(await inbox_of(db, merchant)) == 4
    # ... which the engine folds once: a sighting not newer than the profile's latest changes
    # nothing (one visit each, seen last at the latest sighting).
    await run_all(Engine(db))
    profiles = await db.fetch(
        "SELECT profile_key, visits_total, last_seen_at FROM marketing_profiles"
        " WHERE merchant_id = $1 ORDER BY profile_key",
        merchant,
    )
    assert [
        (r["profile_key"], r["visits_total"], r["last_seen_at"].timestamp()) for r in profiles
    ] == [
        ("d:" + first, 1, t + 61),
        ("d:" + second, 1, t),
    ]


async def test_the_sightings_memory_is_bounded(db: asyncpg.Pool) -> None:
    merchant, store = await a_merchant(db)
    now = MINUTE * 60.0
    sightings = Sightings(remember=10, clock=lambda: now)
    async with db.acquire() as conn:
        for minute in range(3):  # devices seen three minutes ago are forgotten first
            devices = [(f"{minute:02x}{i:030x}", now - 180 + 60 * minute) for i in range(6)]
            await sightings.seen(conn, merchant, store, devices)
    assert sightings.remembered <= 10
    assert sightings.sent == 18


async def test_a_consent_withdrawn_by_identity_reaches_the_identitys_profile(
    db: asyncpg.Pool,
) -> None:
    """A withdrawal by link or by staff names no device: the engine finds the shopper's
    profile by identity (the device's folded into it at the login)."""
    merchant, store = await a_merchant(db)
    device, identity = "c3" * 16, "d4" * 16
    at = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)
    session = uuid.uuid4()
    login = ShopperEvent(
        merchant,
        "login",
        event_id("login", merchant, session),
        device,
        store,
        at,
        {"method": "email", "identity_hash": identity, "consent_email": True},
    )
    withdrawn = ShopperEvent(
        merchant,
        "consent",
        event_id("consent-withdrawn", merchant, uuid.uuid4()),
        None,
        None,
        at + timedelta(minutes=5),
        {"channel": "email", "given": False, "identity_hash": identity},
    )
    async with db.acquire() as conn:
        assert await intake.record_shopper_events(conn, [login]) == 1
        await run_all(Engine(db))
        profile = await db.fetchrow(
            "SELECT * FROM marketing_profiles WHERE merchant_id = $1", merchant
        )
        assert (profile["profile_key"], profile["consent_email"]) == ("i:" + identity, True)
        assert await intake.record_shopper_events(conn, [withdrawn, login]) == 1  # login: again
    await run_all(Engine(db))
    rows = await db.fetch("SELECT * FROM marketing_profiles WHERE merchant_id = $1", merchant)
    assert [(r["profile_key"], r["consent_email"]) for r in rows] == [("i:" + identity, False)]


async def test_events_naming_no_pseudonym_are_left_out(db: asyncpg.Pool) -> None:
    merchant, store = await a_merchant(db)
    at = datetime.now(UTC)
    odd = ShopperEvent(merchant, "claim", uuid.uuid4(), "not-a-hash", store, at, {})
    nobody = ShopperEvent(merchant, "consent", uuid.uuid4(), None, None, at, {"channel": "sms"})
    good = ShopperEvent(merchant, "claim", uuid.uuid4(), "e5" * 16, store, at, {})
    async with db.acquire() as conn:
        assert await intake.record_shopper_events(conn, [odd, nobody, good]) == 1
        with pytest.raises(ValueError, match="pseudonym"):
            await intake.record_events(conn, [InboxEvent(merchant, "sighting", "x", store, at)])
    assert [r["device_hash"] for r in await inbox_of(db, merchant)] == ["e5" * 16]


async def test_a_voucher_holder_is_named_by_a_pseudonym_not_the_code(db: asyncpg.Pool) -> None:
    merchant, store = await a_merchant(db)
    hook = shopper_stream.shopper_events(SECRET)
    login = ShopperEvent(
        merchant,
        "login",
        event_id("login", merchant, uuid.uuid4()),
        "f6" * 16,
        store,
        datetime.now(UTC),
        {"method": "voucher", "voucher_code": "ABCD2345"},
    )
    async with db.acquire() as conn:
        await hook(conn, [login])
    (row,) = await inbox_of(db, merchant)
    holder = identity_hash(SECRET, str(merchant), "voucher", "ABCD2345")
    assert row["payload"] == {"method": "voucher", "identity_hash": holder}
    assert "ABCD2345" not in str(dict(row))
