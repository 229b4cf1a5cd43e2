"""A trigger's closed-loop report (marketing/reports.py) with a known answer: shoppers chosen
for each arm by the engine's own holdout draw, their visits and redemptions decided by the
real engine, then every count, the uplift with its interval, the days and the CSV."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import asyncpg
import pytest

from kernel.stats import newcombe
from marketing import budget, intake, reports, triggers
from marketing.engine import Engine
from marketing.intake import InboxEvent
from tests.marketing.test_engine import a_merchant, run_all, sighting, spec

T0 = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai, on 2026-11-02
D0 = date(2026, 11, 2)
LATE = datetime(2026, 11, 1, 14, 30, tzinfo=UTC)  # 22:30 the evening before: quiet hours


def arms_of(merchant: uuid.UUID, trigger: uuid.UUID) -> tuple[list[str], list[str]]:
    """Six devices the trigger treats and four it holds out (its draw, at a share of 0.5)."""
    treated: list[str] = []
    held: list[str] = []
    for i in range(200):
        device = f"{i:04x}" * 8
        into = held if budget.in_holdout(merchant, trigger, "d:" + device, 0.5) else treated
        into.append(device)
    return treated[:6], held[:4]


async def test_the_report_counts_contacts_shoppers_and_the_uplift(db: asyncpg.Pool) -> None:
    merchant, store = await a_merchant(db)
    trigger = await triggers.save_trigger(db, merchant, spec(offer_key="w", holdout_share=0.5))
    (t0, t1, t2, t3, t4, t5), (h0, h1, h2, h3) = arms_of(merchant, trigger)
    opted = "ff" * 16

    def redeem(device: str, at: datetime) -> InboxEvent:
        return InboxEvent(merchant, "redemption", device, store, at, {"coupon_id": None})

    steps = [
        # t5 arrives in quiet hours: treated, held back (its first contact), then sent at T0
        [sighting(merchant, store, t5, LATE)],
        [InboxEvent(merchant, "consent", opted, store, T0, {"channel": "all", "given": False})]
        + [
            sighting(merchant, store, d, T0 + timedelta(seconds=i))
            for i, d in enumerate((t0, t1, t2, t3, t4, t5, h0, h1, h2, h3, opted))
        ],
        [redeem(d, T0 + timedelta(minutes=10)) for d in (t0, t1, t2, h0)],
        # two days on, t3 and h1 come back: converted (return visits), the offer a duplicate
        [sighting(merchant, store, d, T0 + timedelta(days=2)) for d in (t3, h1)],
    ]
    for events in steps:
        await intake.record_events(db, events)
        await run_all(Engine(db))

    got = await reports.trigger_report(
        db, merchant, trigger, D0 - timedelta(days=1), D0 + timedelta(days=2)
    )
    assert got.timezone == "Asia/Shanghai"  # the merchant's stores'
    assert got.arms == {
        # t5's first contact (quiet hours) converted by its return the next morning
        "treatment": reports.Arm(shoppers=6, converted=5, redemption=3, return_visit=2),
        "holdout": reports.Arm(shoppers=4, converted=2, redemption=1, return_visit=1),
    }
    for measure, x1, x0 in (("converted", 5, 2), ("redemption", 3, 1), ("return_visit", 2, 1)):
        assert got.uplift[measure] == reports.Uplift(*newcombe(x1, 6, x0, 4))
    assert got.uplift["converted"].difference == pytest.approx(5 / 6 - 2 / 4)

    c = got.contacts
    assert (c["treatment"].decided, c["holdout"].decided, c["outside"].decided) == (7, 4, 3)
    assert c["all"].decided == 14
    assert c["treatment"].statuses == reports.Contacts().statuses | {"pending": 6, "suppressed": 1}
    assert c["treatment"].reasons["quiet_hours"] == 1
    assert c["treatment"].going_out == 6
    assert c["treatment"].converted == {"redemption": 3, "return_visit": 2}
    assert c["holdout"].statuses["holdout"] == 4 and c["holdout"].going_out == 0
    assert c["holdout"].converted == {"redemption": 1, "return_visit": 1}
    assert {r: n for r, n in c["outside"].reasons.items() if n} == {
        "opted_out": 1,
        "duplicate_offer": 2,
    }
    assert c["all"].reasons == {
        r: c["treatment"].reasons[r] + c["outside"].reasons[r] for r in reports.REASONS
    }

    days = [(d.day, d.arm, d.decided, d.going_out, d.shoppers, d.converted) for d in got.days]
    assert days == [
        (D0 - timedelta(days=1), "treatment", 1, 0, 1, 1),
        (D0, "treatment", 6, 6, 5, 4),
        (D0, "holdout", 4, 0, 4, 2),
        (D0, None, 1, 0, 0, 0),
        (D0 + timedelta(days=2), None, 2, 0, 0, 0),
    ]

    # One day only: a shopper first assigned the day before is not counted again in it.
    one = await reports.trigger_report(db, merchant, trigger, D0, D0)
    assert one.arms["treatment"] == reports.Arm(
        shoppers=5, converted=4, redemption=3, return_visit=1
    )
    assert one.contacts["treatment"].decided == 6

    text = reports.report_csv(got)
    lines = text.splitlines()
    assert lines[0] == "trigger,name,offer_key,first,last,timezone,window_days"
    assert "treatment,6,5,3,2,0.833333,0.500000,0.333333" in lines
    assert "holdout,4,2,1,1,0.500000,0.250000,0.250000" in lines
    assert f"{D0},holdout,4,0,4,2" in lines
    assert f"{D0},outside,1,0,0,0" in lines
    for device in (t0, h0, opted):  # aggregates only: no shopper in it
        assert device not in text


async def test_an_empty_arm_has_no_uplift_and_bad_requests_are_refused(db: asyncpg.Pool) -> None:
    merchant, store = await a_merchant(db)
    trigger = await triggers.save_trigger(db, merchant, spec(offer_key="z"))  # no holdout
    await intake.record_events(db, [sighting(merchant, store, "ab" * 16, T0)])
    await run_all(Engine(db))
    got = await reports.trigger_report(db, merchant, trigger, D0, D0, timezone="UTC")
    assert got.arms["treatment"].shoppers == 1 and got.arms["holdout"].shoppers == 0
    assert got.uplift == {"converted": None, "redemption": None, "return_visit": None}
    assert got.arms["holdout"].rate() is None
    assert ",,," in reports.report_csv(got)  # the uplift's row, empty

    other, _ = await a_merchant(db)
    with pytest.raises(reports.TriggerUnknown):
        await reports.trigger_report(db, other, trigger, D0, D0)
    with pytest.raises(reports.ReportRangeError):
        await reports.trigger_report(db, merchant, trigger, D0, D0 - timedelta(days=1))
    with pytest.raises(reports.ReportRangeError):
        await reports.trigger_report(db, merchant, trigger, D0, D0 + timedelta(days=366))
