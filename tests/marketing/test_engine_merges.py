"""A device's profile merged into its identity's: its contacts go with it, and an offer both
had stays one offer (marketing/engine.py, engine.sql move_contacts)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta

import asyncpg

from marketing import intake, triggers
from marketing.engine import Engine
from marketing.intake import InboxEvent
from tests.marketing.test_engine import T0, a_merchant, contacts_of, run_all, sighting, spec


def login(
    merchant: uuid.UUID, store: uuid.UUID, device: str, identity: str, at: datetime
) -> InboxEvent:
    payload = {"method": "sms", "identity_hash": identity}
    return InboxEvent(merchant, "login", device, store, at, payload)


def offers_made(rows: list[asyncpg.Record]) -> list[tuple[str, str]]:
    return sorted((r["profile_key"], r["offer_key"]) for r in rows if r["status"] != "suppressed")


async def test_an_offer_made_in_the_batch_of_the_login_goes_to_the_identity(
    db: asyncpg.Pool,
) -> None:
    # The arrival (the offer) and the login a minute later are one batch: the contact is the
    # identity's, so the next visit's arrival finds the offer made.
    merchant, store = await a_merchant(db)
    await triggers.save_trigger(db, merchant, spec(offer_key="hello"))
    device, identity = "07" * 16, "b" * 32
    await intake.record_events(
        db,
        [
            sighting(merchant, store, device, T0),
            login(merchant, store, device, identity, T0 + timedelta(minutes=1)),
        ],
    )
    await run_all(Engine(db))
    await intake.record_events(db, [sighting(merchant, store, device, T0 + timedelta(days=2))])
    await run_all(Engine(db))
    rows = await contacts_of(db, merchant)
    assert offers_made(rows) == [("i:" + identity, "hello")]
    assert [(r["profile_key"], r["reason"]) for r in rows if r["status"] == "suppressed"] == [
        ("i:" + identity, "duplicate_offer")
    ]


async def test_a_second_device_logging_in_keeps_one_offer(db: asyncpg.Pool) -> None:
    # Two phones of one shopper each had the offer as anonymous devices; when the second logs
    # in under the identity that holds the first's, its copy becomes a duplicate (the batch
    # used to fail on the one-offer index, and the engine with it).
    merchant, store = await a_merchant(db)
    await triggers.save_trigger(db, merchant, spec(offer_key="hello"))
    phone, tablet, identity = "08" * 16, "09" * 16, "c" * 32
    steps = [
        [sighting(merchant, store, phone, T0)],
        [login(merchant, store, phone, identity, T0 + timedelta(minutes=1))],
        [sighting(merchant, store, tablet, T0 + timedelta(days=1))],
        [login(merchant, store, tablet, identity, T0 + timedelta(days=1, minutes=1))],
    ]
    for events in steps:
        await intake.record_events(db, events)
        await run_all(Engine(db))
    rows = await contacts_of(db, merchant)
    assert offers_made(rows) == [("i:" + identity, "hello")]
    assert {r["profile_key"] for r in rows} == {"i:" + identity}
    assert [r["reason"] for r in rows if r["status"] == "suppressed"] == ["duplicate_offer"]


async def test_an_offer_made_before_a_login_in_the_same_batch_is_a_duplicate(
    db: asyncpg.Pool,
) -> None:
    # The identity holds the offer already; the second device's arrival (the offer, to an
    # unknown device) and its login are one batch: its contact becomes the duplicate.
    merchant, store = await a_merchant(db)
    await triggers.save_trigger(db, merchant, spec(offer_key="hello"))
    phone, tablet, identity = "0a" * 16, "0b" * 16, "d" * 32
    await intake.record_events(
        db,
        [
            sighting(merchant, store, phone, T0),
            login(merchant, store, phone, identity, T0 + timedelta(minutes=1)),
        ],
    )
    await run_all(Engine(db))
    later = T0 + timedelta(days=1)
    await intake.record_events(
        db,
        [
            sighting(merchant, store, tablet, later),
            login(merchant, store, tablet, identity, later + timedelta(minutes=1)),
        ],
    )
    await run_all(Engine(db))
    rows = await contacts_of(db, merchant)
    assert offers_made(rows) == [("i:" + identity, "hello")]
    assert {r["profile_key"] for r in rows} == {"i:" + identity}


async def test_a_batch_waiting_for_a_merge_reads_the_link_it_made(db: asyncpg.Pool) -> None:
    # Engine A merges the device into the identity; engine B takes the device's next sighting
    # meanwhile. B waits for A (one engine at a time per merchant) and then reads the device's
    # link A made: it decides for the identity, not for a device profile made anew and empty
    # (which would be offered the offer again).
    merchant, store = await a_merchant(db)
    await triggers.save_trigger(db, merchant, spec(offer_key="hello"))
    device, identity = "0c" * 16, "e" * 32
    await intake.record_events(db, [sighting(merchant, store, device, T0)])
    await run_all(Engine(db))  # the offer, to the device
    await intake.record_events(
        db, [login(merchant, store, device, identity, T0 + timedelta(minutes=1))]
    )
    await intake.record_events(db, [sighting(merchant, store, device, T0 + timedelta(days=2))])

    first, second = Engine(db, batch=1), Engine(db, batch=1)
    written, release = asyncio.Event(), asyncio.Event()
    original = first._write

    async def write_then_wait(*args):  # type: ignore[no-untyped-def]
        result = await original(*args)
        written.set()
        await release.wait()  # the merge written, not committed: the profiles stay locked
        return result

    first._write = write_then_wait  # type: ignore[method-assign]
    merging = asyncio.create_task(first.step())
    await written.wait()
    waiting = asyncio.create_task(second.step())
    for _ in range(200):  # until the second engine waits for the first's (the device's row)
        if await db.fetchval(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        ):
            break
        await asyncio.sleep(0.02)
    else:
        release.set()
        raise AssertionError("the second engine never waited for the profile")
    release.set()
    assert await merging == 1
    assert await waiting == 1
    rows = await contacts_of(db, merchant)
    assert offers_made(rows) == [("i:" + identity, "hello")]
    assert {r["profile_key"] for r in rows} == {"i:" + identity}
    keys = await db.fetch(
        "SELECT profile_key FROM marketing_profiles WHERE merchant_id = $1", merchant
    )
    assert [r["profile_key"] for r in keys] == ["i:" + identity]
