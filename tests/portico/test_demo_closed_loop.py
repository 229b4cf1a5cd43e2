"""The demo's closed loop (portico/demo_closed_loop.py): its history, folded with the demo's
triggers made, gives the "First visit welcome" report both arms with conversions and an
uplift with its interval; nothing of the past is left to send; a history cut short is folded
and settled at the next start; the shoppers' reactions are drawn with the stated effect."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import asyncpg

from accounts import services as accounts
from kernel.config import Settings
from marketing import budget, intake, reports
from marketing import demo as marketing_demo
from marketing.engine import Engine
from marketing.intake import InboxEvent
from portico import demo, demo_closed_loop, demo_marketing

DAYS = 8  # a week and a day of the demo's shoppers: about 1,000 first visits, 1.5 s


async def a_mall(db: asyncpg.Pool) -> uuid.UUID:
    """A merchant of its own with the demo's two stores (their names: the history's keys)."""
    merchant_id = await accounts.create_merchant(db, f"Mall {uuid.uuid4().hex[:8]}")
    for name, _zh in demo.DEMO_STORES:
        await accounts.create_store(db, merchant_id, name, "Asia/Shanghai")
    return merchant_id


async def trigger_named(db: asyncpg.Pool, merchant_id: uuid.UUID, name: str) -> uuid.UUID:
    return await db.fetchval(
        "SELECT trigger_id FROM marketing_triggers WHERE merchant_id = $1 AND name_en = $2",
        merchant_id,
        name,
    )


async def test_the_history_gives_the_welcome_report_both_arms_and_an_uplift(
    db: asyncpg.Pool, settings: Settings
) -> None:
    merchant_id = await a_mall(db)
    now = datetime.now(UTC).timestamp()
    await demo_marketing.prepare(settings, db, merchant_id, demo.store_zones(), days=DAYS, now=now)

    welcome = await trigger_named(db, merchant_id, "First visit welcome")
    today = datetime.fromtimestamp(now, ZoneInfo("Asia/Shanghai")).date()
    report = await reports.trigger_report(
        db, merchant_id, welcome, today - timedelta(days=DAYS), today
    )
    treated, held = report.arms["treatment"], report.arms["holdout"]
    assert treated.shoppers > 500 and held.shoppers > 20
    assert treated.converted > 0 and held.converted > 0
    assert treated.redemption > 0 and held.redemption > 0
    for measure in reports.MEASURES:
        uplift = report.uplift[measure]
        assert uplift is not None and uplift.low <= uplift.difference <= uplift.high
    # The holdout is the trigger's 10 % (each first-time shopper drawn once).
    assert 0.05 < held.shoppers / (held.shoppers + treated.shoppers) < 0.15
    # Every contact that went out ended in the past, delivered when decided: nothing to send.
    statuses = {
        r["status"]: r["n"]
        for r in await db.fetch(
            "SELECT status, count(*) AS n FROM marketing_contacts WHERE merchant_id = $1"
            " GROUP BY status",
            merchant_id,
        )
    }
    assert "pending" not in statuses and "sent" not in statuses
    assert statuses["delivered"] >= report.contacts["treatment"].statuses["delivered"] > 500
    assert not await db.fetchval(
        "SELECT count(*) FROM marketing_contacts WHERE merchant_id = $1 AND status = 'delivered'"
        " AND (sent_at IS DISTINCT FROM decided_at OR delivered_at IS DISTINCT FROM decided_at"
        "      OR next_attempt_at IS NOT NULL OR decided_at >= $2)",
        merchant_id,
        datetime.fromtimestamp(now, UTC),
    )
    # The shoppers' claims and redemptions reached their profiles.
    assert (
        await db.fetchval(
            "SELECT sum(redemptions) FROM marketing_profiles WHERE merchant_id = $1", merchant_id
        )
        >= treated.redemption + held.redemption
    )


async def test_a_history_cut_short_is_folded_and_settled_at_the_next_start(
    db: asyncpg.Pool, settings: Settings
) -> None:
    merchant_id = await a_mall(db)
    await db.execute(  # no quiet hours: what goes out does not depend on the hour of the run
        "INSERT INTO marketing_settings (merchant_id, quiet_from, quiet_until)"
        " VALUES ($1, '00:00', '00:00')",
        merchant_id,
    )
    made = await marketing_demo.seed_triggers(db, merchant_id)  # then the first start stopped
    (store, *_) = await accounts.list_stores(db, merchant_id)
    before = datetime.now(UTC) - timedelta(hours=3)  # the history's last hours
    welcome = await trigger_named(db, merchant_id, "First visit welcome")
    assert welcome in made
    # Drawn at random, plus one shopper each arm keeps, so both arms are there on every run.
    devices = [uuid.uuid4().hex for _ in range(38)]
    devices += [_one_in_arm(merchant_id, welcome, held) for held in (True, False)]
    await intake.record_events(
        db,
        [
            InboxEvent(merchant_id, "sighting", d, store.store_id, before + timedelta(seconds=i))
            for i, d in enumerate(devices)
        ],
    )
    await demo_marketing.prepare(settings, db, merchant_id, demo.store_zones(), days=1)
    mine = await db.fetch(
        "SELECT status, sent_at, decided_at, next_attempt_at FROM marketing_contacts"
        " WHERE merchant_id = $1 AND trigger_id = $2",
        merchant_id,
        welcome,
    )
    assert len(mine) == len(devices)  # each a first visit, decided at the next start
    assert {r["status"] for r in mine} == {"delivered", "holdout"}
    for r in mine:
        if r["status"] == "delivered":
            assert r["sent_at"] == r["decided_at"] and r["next_attempt_at"] is None
    # A live contact (decided after the triggers were made) is the dispatcher's: a later start
    # leaves it to send.
    live = datetime.now(UTC)
    device = _one_in_arm(merchant_id, welcome, held=False)
    await intake.record_events(
        db, [InboxEvent(merchant_id, "sighting", device, store.store_id, live)]
    )
    engine = Engine(db)  # the marketing role's, live
    await engine.drain()
    await demo_marketing.prepare(settings, db, merchant_id, demo.store_zones(), days=1)
    status = await db.fetchval(
        "SELECT status FROM marketing_contacts WHERE merchant_id = $1 AND trigger_id = $2"
        " AND profile_key = $3",
        merchant_id,
        welcome,
        "d:" + device,
    )
    assert status == "pending"


def _held(merchant_id: uuid.UUID, trigger_id: uuid.UUID, device: str) -> bool:
    return budget.in_holdout(merchant_id, trigger_id, "d:" + device, 0.1)


def _one_in_arm(merchant_id: uuid.UUID, trigger_id: uuid.UUID, held: bool) -> str:
    """A new device the trigger's 10 % holdout keeps (held) or leaves to the treatment."""
    return next(
        d
        for d in (uuid.uuid4().hex for _ in range(1000))
        if _held(merchant_id, trigger_id, d) == held
    )


def test_the_shoppers_react_with_the_stated_effect() -> None:
    """Over 10,000 contacts of each kind: a shown offer is redeemed by 18 %, one not shown by
    6 %, each draw keyed by its contact; the claim and the redemption minutes after it."""
    merchant, store = uuid.uuid4(), uuid.uuid4()
    at = datetime(2026, 11, 2, 4, 0, tzinfo=UTC)
    end = at + timedelta(days=1)
    arrival = InboxEvent(merchant, "sighting", "cd" * 16, store, at)
    counts = {}
    for arm, status in (
        ("treatment", "pending"),
        ("treatment", "suppressed"),
        ("holdout", "holdout"),
    ):
        reacted = 0
        for i in range(10_000):
            contact = marketing_demo.HistoryContact(
                uuid.uuid5(uuid.NAMESPACE_OID, f"{arm}{status}{i}"), arrival.id(), arm, status, at
            )
            drawn = demo_closed_loop.reactions(contact, arrival, end)
            if i < 100:
                assert drawn == demo_closed_loop.reactions(contact, arrival, end)  # keyed
            if drawn:
                reacted += 1
                claim, redemption = drawn
                assert (claim.kind, redemption.kind) == ("claim", "redemption")
                assert timedelta(minutes=1) <= claim.occurred_at - at <= timedelta(minutes=4)
                gap = redemption.occurred_at - claim.occurred_at
                assert timedelta(minutes=2) <= gap <= timedelta(minutes=15)
                assert claim.device_hash == redemption.device_hash == arrival.device_hash
        counts[(arm, status)] = reacted / 10_000
    assert abs(counts[("treatment", "pending")] - demo_closed_loop.REDEEM_SHOWN) < 0.015
    assert abs(counts[("treatment", "suppressed")] - demo_closed_loop.REDEEM_BASE) < 0.015
    assert abs(counts[("holdout", "holdout")] - demo_closed_loop.REDEEM_BASE) < 0.015
    # None after the history's end.
    late = marketing_demo.HistoryContact(uuid.uuid4(), arrival.id(), "treatment", "pending", end)
    assert not any(
        demo_closed_loop.reactions(
            marketing_demo.HistoryContact(
                uuid.uuid5(uuid.NAMESPACE_OID, str(i)), late.event_id, "treatment", "pending", end
            ),
            arrival,
            end,
        )
        for i in range(200)
    )


def test_the_history_is_folded_in_spans_each_devices_first_event_first() -> None:
    """Spans of 29 Shanghai days from the first event's day: each device's first event of a
    span in its first pass, everything else in time order in its second."""
    merchant, store = uuid.uuid4(), uuid.uuid4()
    zone = ZoneInfo("Asia/Shanghai")
    start = datetime(2026, 9, 1, 9, 0, tzinfo=zone)

    def seen(device: str, days: float) -> InboxEvent:
        return InboxEvent(merchant, "sighting", device, store, start + timedelta(days=days))

    a, b = "aa" * 16, "bb" * 16
    events = [seen(a, d) for d in (0, 0.01, 3, 28.5, 29.2, 45)] + [seen(b, d) for d in (2, 31)]
    spans = demo_closed_loop.split_spans(reversed(events), zone)
    assert [(s[0], s[1]) for s in spans] == [
        (start.date(), start.date() + timedelta(days=29)),
        (start.date() + timedelta(days=29), start.date() + timedelta(days=58)),
    ]
    (_, _, firsts1, rest1), (_, _, firsts2, rest2) = spans
    assert firsts1 == [seen(a, 0), seen(b, 2)]
    assert rest1 == [seen(a, 0.01), seen(a, 3), seen(a, 28.5)]
    assert firsts2 == [seen(a, 29.2), seen(b, 31)]
    assert rest2 == [seen(a, 45)]
    assert demo_closed_loop.split_spans([], zone) == []
