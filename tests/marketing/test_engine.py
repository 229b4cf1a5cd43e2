"""The trigger engine against the real PostgreSQL: profiles folded from sightings and logins,
default tags, scenes setting off triggers, the budget, holdouts, conversions, exactly once."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from accounts import services as accounts
from marketing import engine as engine_module
from marketing import intake, privacy, triggers
from marketing.dispatch import queries as dispatch_queries
from marketing.engine import Engine
from marketing.intake import InboxEvent
from tests.inbox import INBOX_EVENTS

# 2026-11-02 10:00 in Shanghai: not quiet hours, not lunchtime.
T0 = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)


async def a_merchant(db: asyncpg.Pool) -> tuple[uuid.UUID, uuid.UUID]:
    async with db.acquire() as conn:
        merchant = await accounts.create_merchant(conn, f"Shop {uuid.uuid4().hex[:6]}")
        store = await accounts.create_store(conn, merchant, "Main")
    return merchant, store


def sighting(merchant: uuid.UUID, store: uuid.UUID, device: str, at: datetime) -> InboxEvent:
    return InboxEvent(merchant, "sighting", device, store, at)


async def run_all(engine: Engine) -> int:
    return await engine.drain()


async def inbox_counts(db: asyncpg.Pool, merchant: uuid.UUID) -> tuple[int, int]:
    """(waiting, done) events of the merchant: the inbox is shared by every test's shoppers
    (the live stream's producers feed it too), so counts are taken per merchant."""
    row = await db.fetchrow(
        "SELECT count(*) FILTER (WHERE done_at IS NULL) AS waiting,"  # noqa: S608 (constant)
        " count(*) FILTER (WHERE done_at IS NOT NULL) AS done"
        f" FROM {INBOX_EVENTS} WHERE merchant_id = $1",
        merchant,
    )
    return row["waiting"], row["done"]


def spec(**changes: object) -> triggers.TriggerSpec:
    base: dict[str, object] = dict(
        name_zh="欢迎",
        name_en="Welcome",
        event="arrival",
        rule={"all": []},
        channel="portal",
        offer_key="welcome-1",
        holdout_share=0.0,
    )
    base.update(changes)
    return triggers.TriggerSpec(**base)  # type: ignore[arg-type]


async def contacts_of(db: asyncpg.Pool, merchant: uuid.UUID) -> list[asyncpg.Record]:
    return await db.fetch(
        "SELECT * FROM marketing_contacts WHERE merchant_id = $1 ORDER BY event_at, offer_key",
        merchant,
    )


async def test_visits_make_a_profile_with_default_tags(db: asyncpg.Pool) -> None:
    merchant, store = await a_merchant(db)
    device = "ab" * 16
    events = []
    for day in range(5):  # five visits of 30 minutes, a sighting every 5 minutes
        start = T0 + timedelta(days=day)
        events += [
            sighting(merchant, store, device, start + timedelta(minutes=m)) for m in range(0, 31, 5)
        ]
    assert await intake.record_events(db, events) == len(events)
    assert await intake.record_events(db, events) == 0  # redelivered: the same events
    await run_all(Engine(db))
    assert await inbox_counts(db, merchant) == (0, len(events))
    row = await db.fetchrow(
        "SELECT * FROM marketing_profiles WHERE merchant_id = $1 AND profile_key = $2",
        merchant,
        "d:" + device,
    )
    assert row["visits_total"] == 5
    assert row["dwell_seconds"] == 4 * 30 * 60  # the fifth visit is still open
    held = json.loads(row["tags"]) if isinstance(row["tags"], str) else row["tags"]
    assert set(held) == {"frequent", "long_dwell"}
    assert all(v == 1 for v in held.values())


async def test_an_arrival_trigger_contacts_once_per_offer_and_keeps_to_the_budget(
    db: asyncpg.Pool,
) -> None:
    merchant, store = await a_merchant(db)
    await triggers.save_trigger(db, merchant, spec(offer_key="welcome-1"))
    await triggers.save_trigger(db, merchant, spec(name_en="Second", offer_key="welcome-2"))
    device = "cd" * 16
    # Two visits on one day: both triggers want both; one offer once, one contact a day.
    await intake.record_events(
        db,
        [
            sighting(merchant, store, device, T0),
            sighting(merchant, store, device, T0 + timedelta(hours=2)),
        ],
    )
    await run_all(Engine(db))
    rows = await contacts_of(db, merchant)
    sent = [r for r in rows if r["status"] == "pending"]
    assert len(sent) == 1
    reasons = sorted(r["reason"] for r in rows if r["status"] == "suppressed")
    assert reasons == ["budget_day", "budget_day", "duplicate_offer"]
    # The next day the second offer goes out; the first is never made again.
    await intake.record_events(db, [sighting(merchant, store, device, T0 + timedelta(days=1))])
    await run_all(Engine(db))
    rows = await contacts_of(db, merchant)
    assert sorted(r["offer_key"] for r in rows if r["status"] == "pending") == [
        "welcome-1",
        "welcome-2",
    ]


async def test_a_dwell_trigger_fires_when_the_visit_passes_its_minutes(db: asyncpg.Pool) -> None:
    merchant, store = await a_merchant(db)
    await triggers.save_trigger(
        db, merchant, spec(event="dwell", dwell_minutes=20, offer_key="stay-20")
    )
    device = "ef" * 16
    await intake.record_events(
        db, [sighting(merchant, store, device, T0 + timedelta(minutes=m)) for m in range(0, 40, 7)]
    )
    await run_all(Engine(db))
    [row] = await contacts_of(db, merchant)
    assert row["event_at"] == T0 + timedelta(minutes=21)  # the first sighting past 20 minutes


async def test_quiet_hours_and_opt_out_suppress_with_their_reason(db: asyncpg.Pool) -> None:
    merchant, store = await a_merchant(db)
    await triggers.save_trigger(db, merchant, spec(offer_key="night"))
    late = datetime(2026, 11, 2, 14, 30, tzinfo=UTC)  # 22:30 in Shanghai
    await intake.record_events(db, [sighting(merchant, store, "01" * 16, late)])
    opted = "02" * 16
    await intake.record_events(
        db,
        [
            InboxEvent(merchant, "consent", opted, store, T0, {"channel": "all", "given": False}),
            sighting(merchant, store, opted, T0 + timedelta(seconds=1)),
        ],
    )
    await run_all(Engine(db))
    assert sorted(r["reason"] for r in await contacts_of(db, merchant)) == [
        "opted_out",
        "quiet_hours",
    ]


async def test_sms_needs_a_known_shopper_who_agreed(db: asyncpg.Pool) -> None:
    merchant, store = await a_merchant(db)
    await triggers.save_trigger(db, merchant, spec(channel="sms", event="login", offer_key="sms-1"))
    await intake.record_events(
        db,
        [
            InboxEvent(merchant, "login", "03" * 16, store, T0, {"method": "click"}),
            InboxEvent(
                merchant,
                "login",
                "04" * 16,
                store,
                T0,
                {"method": "sms", "identity_hash": "9" * 32, "consent_sms": True},
            ),
        ],
    )
    await run_all(Engine(db))
    rows = await contacts_of(db, merchant)
    assert {(r["profile_key"], r["status"], r["reason"]) for r in rows} == {
        ("d:" + "03" * 16, "suppressed", "no_consent"),
        ("i:" + "9" * 32, "pending", None),
    }


async def test_a_login_merges_the_device_profile_into_the_identity(db: asyncpg.Pool) -> None:
    merchant, store = await a_merchant(db)
    device, identity = "05" * 16, "a" * 32
    await intake.record_events(db, [sighting(merchant, store, device, T0 - timedelta(days=3))])
    await run_all(Engine(db))
    await intake.record_events(
        db,
        [
            InboxEvent(
                merchant, "login", device, store, T0, {"method": "sms", "identity_hash": identity}
            ),
            sighting(merchant, store, device, T0 + timedelta(days=1)),
        ],
    )
    await run_all(Engine(db))
    keys = [
        r["profile_key"]
        for r in await db.fetch(
            "SELECT profile_key FROM marketing_profiles WHERE merchant_id = $1", merchant
        )
    ]
    assert keys == ["i:" + identity]
    row = await db.fetchrow("SELECT * FROM marketing_profiles WHERE merchant_id = $1", merchant)
    assert row["visits_total"] == 3
    assert row["login_methods"] == ["sms"]


async def test_a_contact_decided_in_the_batch_that_merges_its_profile_follows_it(
    db: asyncpg.Pool,
) -> None:
    """An arrival and the login in one batch: the arrival's contact, decided for the device,
    is the identity's after the merge; an offer the identity had already stays once."""
    merchant, store = await a_merchant(db)
    await triggers.save_trigger(db, merchant, spec(offer_key="hi"))
    identity = "b" * 32
    await db.execute(
        "INSERT INTO marketing_settings (merchant_id, max_per_day, quiet_from, quiet_until)"
        " VALUES ($1, 9, '00:00', '00:00')",
        merchant,
    )
    login = {"method": "sms", "identity_hash": identity}
    first, second = "07" * 16, "08" * 16
    for device, at in ((first, T0), (second, T0 + timedelta(days=1))):
        await intake.record_events(
            db,
            [
                sighting(merchant, store, device, at),
                InboxEvent(merchant, "login", device, store, at + timedelta(minutes=1), login),
            ],
        )
        await run_all(Engine(db))
    rows = await contacts_of(db, merchant)
    assert {r["profile_key"] for r in rows} == {"i:" + identity}
    assert [(r["status"], r["reason"]) for r in rows] == [
        ("pending", None),  # the first phone's arrival, now the identity's
        ("suppressed", "duplicate_offer"),  # the second phone's: the identity had it
    ]


@pytest.mark.parametrize("kind", ["return_visit", "redemption"])
async def test_contacts_convert_in_both_arms(db: asyncpg.Pool, kind: str) -> None:
    merchant, store = await a_merchant(db)
    await triggers.save_trigger(db, merchant, spec(holdout_share=0.5, offer_key="o-" + kind))
    devices = [f"{i:032x}" for i in range(40)]
    await intake.record_events(db, [sighting(merchant, store, d, T0) for d in devices])
    await run_all(Engine(db))
    later = T0 + timedelta(days=2)
    if kind == "return_visit":
        follow = [sighting(merchant, store, d, later) for d in devices]
    else:
        follow = [
            InboxEvent(merchant, "redemption", d, store, later, {"coupon_id": None})
            for d in devices
        ]
    await intake.record_events(db, follow)
    await run_all(Engine(db))
    rows = [r for r in await contacts_of(db, merchant) if r["reason"] != "duplicate_offer"]
    assert len(rows) == len(devices)  # the return visits' duplicates aside
    arms = {r["arm"] for r in rows}
    assert arms == {"treatment", "holdout"}  # 40 shoppers at 50 %: both arms (stable draw)
    assert all(r["conversion"] == kind and r["converted_at"] == later for r in rows)


async def test_an_event_taken_twice_after_a_crash_is_decided_once(db: asyncpg.Pool) -> None:
    merchant, store = await a_merchant(db)
    await triggers.save_trigger(db, merchant, spec(offer_key="once"))
    await intake.record_events(db, [sighting(merchant, store, "06" * 16, T0)])
    engine = Engine(db)

    class Crash(Exception):
        pass

    original = engine._write

    async def crash_after_writing(*args):  # type: ignore[no-untyped-def]
        await original(*args)
        raise Crash

    engine._write = crash_after_writing  # type: ignore[method-assign]
    with pytest.raises(Crash):
        await engine.step()
    assert await contacts_of(db, merchant) == []  # rolled back with the events
    assert await inbox_counts(db, merchant) == (1, 0)
    await run_all(Engine(db))
    assert await inbox_counts(db, merchant) == (0, 1)
    assert len(await contacts_of(db, merchant)) == 1


async def profile_row(db: asyncpg.Pool, merchant: uuid.UUID, key: str) -> asyncpg.Record:
    return await db.fetchrow(
        "SELECT * FROM marketing_profiles WHERE merchant_id = $1 AND profile_key = $2",
        merchant,
        key,
    )


async def test_a_rolled_back_batch_leaves_nothing_of_it_in_the_engines_memory(
    db: asyncpg.Pool,
) -> None:
    # The same engine takes the batch again: the profile it held (and had folded the claim
    # into before the crash) is read again, so the claim counts once.
    merchant, store = await a_merchant(db)
    device = "16" * 16
    engine = Engine(db)
    await intake.record_events(db, [sighting(merchant, store, device, T0)])
    await run_all(engine)
    claim = InboxEvent(merchant, "claim", device, store, T0 + timedelta(minutes=1), {})
    await intake.record_events(db, [claim])

    class Crash(Exception):
        pass

    original = engine._write

    async def crash_after_writing(*args):  # type: ignore[no-untyped-def]
        await original(*args)
        raise Crash

    engine._write = crash_after_writing  # type: ignore[method-assign]
    with pytest.raises(Crash):
        await engine.step()
    engine._write = original  # type: ignore[method-assign]
    await run_all(engine)
    assert (await profile_row(db, merchant, "d:" + device))["claims"] == 1


async def test_a_sighting_alone_is_written_presence_write_later_or_at_a_flush(
    db: asyncpg.Pool,
) -> None:
    merchant, store = await a_merchant(db)
    device, other = "17" * 16, "18" * 16
    now = [1000.0]
    engine = Engine(db, batch=1, clock=lambda: now[0])
    await intake.record_events(db, [sighting(merchant, store, device, T0)])
    await run_all(engine)  # an arrival: written with its batch
    assert (await profile_row(db, merchant, "d:" + device))["last_seen_at"] == T0
    later = T0 + timedelta(minutes=1)
    for d in (device, other):  # two reports: two rows of the inbox
        await intake.record_events(db, [sighting(merchant, store, d, later)])
    # A sighting of a visit going on is held back, even once no event waits ...
    while await engine.step():
        pass
    held = await profile_row(db, merchant, "d:" + device)
    assert held["last_seen_at"] == T0 and held["visits_total"] == 1
    # ... until PRESENCE_WRITE has passed: then a step writes it.
    now[0] += engine_module.PRESENCE_WRITE
    assert await engine.step() == 1
    assert (await profile_row(db, merchant, "d:" + device))["last_seen_at"] == later
    # A graceful stop writes every one held back, taking no event.
    even_later = later + timedelta(minutes=1)
    await intake.record_events(db, [sighting(merchant, store, device, even_later)])
    await engine.step()
    await intake.record_events(db, [sighting(merchant, store, other, even_later)])
    assert await engine.flush() == 1
    assert (await profile_row(db, merchant, "d:" + device))["last_seen_at"] == even_later
    assert (await inbox_counts(db, merchant))[0] == 1  # the other's, still waiting
    await run_all(engine)
    assert (await profile_row(db, merchant, "d:" + other))["last_seen_at"] == even_later


async def test_a_profile_another_writer_changed_is_read_again_not_overwritten(
    db: asyncpg.Pool,
) -> None:
    merchant, store = await a_merchant(db)
    device = "19" * 16
    engine, other = Engine(db), Engine(db)
    await intake.record_events(db, [sighting(merchant, store, device, T0)])
    await run_all(engine)
    # What the engine holds is used as it is: the next sighting reads no profile.
    read = engine.read_from_database
    await intake.record_events(db, [sighting(merchant, store, device, T0 + timedelta(seconds=30))])
    await run_all(engine)
    assert engine.read_from_database == read
    # Another writer, a second engine: its row wins over what this one holds.
    claim = InboxEvent(merchant, "claim", device, store, T0 + timedelta(minutes=1), {})
    await intake.record_events(db, [claim])
    await run_all(other)
    claim = InboxEvent(merchant, "claim", device, store, T0 + timedelta(minutes=2), {})
    await intake.record_events(db, [claim])
    await run_all(engine)
    assert engine.read_from_database > read
    assert (await profile_row(db, merchant, "d:" + device))["claims"] == 2
    # Erased: the next event starts a new profile, nothing held comes back.
    async with db.acquire() as conn, conn.transaction():
        await privacy.erase_shopper(conn, merchant, privacy.Shopper(device_hashes=(device,)))
    assert await profile_row(db, merchant, "d:" + device) is None
    claim = InboxEvent(merchant, "claim", device, store, T0 + timedelta(minutes=3), {})
    await intake.record_events(db, [claim])
    await run_all(engine)
    row = await profile_row(db, merchant, "d:" + device)
    assert (row["claims"], row["visits_total"]) == (1, 0)


async def test_a_contact_the_dispatcher_suppresses_is_read_again_by_the_engine(
    db: asyncpg.Pool,
) -> None:
    """The dispatcher's 'suppressed' frees the offer (the one-offer rule counts only contacts
    not suppressed): an engine holding the shopper's history must not keep it as made."""
    merchant, store = await a_merchant(db)
    device = "1a" * 16
    await triggers.save_trigger(db, merchant, spec())
    engine = Engine(db)
    await intake.record_events(db, [sighting(merchant, store, device, T0)])
    await run_all(engine)
    (contact,) = await db.fetch(
        "SELECT contact_id, status FROM marketing_contacts WHERE merchant_id = $1", merchant
    )
    assert contact["status"] == "pending"
    await db.execute(
        dispatch_queries.mark,
        [merchant],
        [contact["contact_id"]],
        [0],  # the attempt it took: none was claimed
        ["suppressed"],
        ["opted_out"],
        [None],
        [0.0],
    )
    # A new visit the next day: the offer is made again (suppressed ones do not count).
    await intake.record_events(db, [sighting(merchant, store, device, T0 + timedelta(days=1))])
    read = engine.read_from_database
    await run_all(engine)
    assert engine.read_from_database > read
    statuses = await db.fetch(
        "SELECT status FROM marketing_contacts WHERE merchant_id = $1 ORDER BY decided_at", merchant
    )
    assert [r["status"] for r in statuses] == ["suppressed", "pending"]


def test_a_bad_rule_or_trigger_is_refused_with_what_is_wrong() -> None:
    from marketing import rules

    with pytest.raises(rules.RuleError) as bad_rule:
        rules.parse({"fact": "visits_30d", "op": ">=", "value": "four"})
    assert "whole number" in bad_rule.value.detail
    assert bad_rule.value.values == {"reason": bad_rule.value.detail}
    with pytest.raises(triggers.TriggerError) as bad_trigger:
        triggers.check(spec(offer_key="no spaces allowed"))
    assert bad_trigger.value.field == "offer_key"


def test_a_rule_with_a_comparison_of_the_wrong_type_is_refused_not_a_crash() -> None:
    from marketing import rules

    for op in ([], {"x": 1}, 3):
        with pytest.raises(rules.RuleError):
            rules.parse({"fact": "visits_total", "op": op, "value": 1})
    with pytest.raises(triggers.TriggerError) as bad_name:
        triggers.check(spec(name_en=["not", "text"]))
    assert bad_name.value.field == "name_en"


def test_only_the_fields_the_engine_reads_are_stored_each_of_its_type() -> None:
    kept = intake.cleaned(
        "login",
        {"method": "x" * 10_000, "consent_sms": "yes", "identity_hash": "b" * 32, "extra": 1},
    )
    assert kept == {"method": "x" * intake.MAX_TEXT, "identity_hash": "b" * 32}
    assert intake.cleaned("consent", {"channel": "all", "given": 0}) == {"channel": "all"}


def test_a_device_present_all_day_makes_a_visit_each_cap_as_footfall_does() -> None:
    from marketing import profiles

    profile = profiles.new_profile(uuid.uuid4(), "d:" + "0" * 32, T0)
    store = uuid.uuid4()
    arrivals = sum(
        profiles.see(profile, store, T0 + timedelta(minutes=m)) for m in range(0, 13 * 60, 5)
    )
    assert arrivals == 2  # cut at 12 hours (analytics/visits.py DEFAULT_CAP)


async def test_a_tag_cannot_take_an_id_the_console_keeps(db: asyncpg.Pool) -> None:
    from marketing import rules, tags

    merchant, _store = await a_merchant(db)
    with pytest.raises(rules.RuleError):
        await tags.save_tag(db, merchant, "new", "新", "New", {"all": []})


async def test_an_offer_waiting_on_the_portal_is_not_shown_once_the_shopper_opts_out(
    db: asyncpg.Pool,
) -> None:
    from marketing import services

    merchant, store = await a_merchant(db)
    await triggers.save_trigger(db, merchant, spec(offer_key="hello", message_en="Hello"))
    device = "0a" * 16
    now = datetime.now(UTC).replace(hour=3)  # 11:00 in Shanghai: not quiet hours
    if now > datetime.now(UTC):
        now -= timedelta(days=1)
    await intake.record_events(db, [sighting(merchant, store, device, now)])
    await run_all(Engine(db))
    assert len(await services.offers_for_device(db, merchant, device)) == 1
    opt_out = {"channel": "all", "given": False}
    await intake.record_events(
        db, [InboxEvent(merchant, "consent", device, store, now + timedelta(seconds=1), opt_out)]
    )
    await run_all(Engine(db))
    assert await services.offers_for_device(db, merchant, device) == []
