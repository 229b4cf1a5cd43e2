"""The contact budget and one offer once, as properties (hypothesis): the pure decision
(marketing/budget.py `decide`) over generated settings and requests, and two engines
(marketing/engine.py) deciding generated event streams together against the real PostgreSQL.

What must hold, whatever the settings, triggers, shoppers and events:
- per shopper, per store-local day at most `max_per_day`, and in any 7 days at most
  `max_per_week`, contacts that go out (pending, sent, delivered);
- an offer at most once per shopper outside 'suppressed' (on any channel, in either arm);
- nothing goes out in quiet hours;
- every suppressed contact has its reason, and the arm its reason implies.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import asyncpg
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from marketing import budget, intake, triggers
from marketing.engine import Engine
from marketing.intake import InboxEvent
from tests.marketing.test_engine import a_merchant

ZONE = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 11, 2, 0, 0, tzinfo=UTC)  # 08:00 in Shanghai
GOES_OUT = ("pending", "sent", "delivered")
TREATED_REASONS = {"quiet_hours", "budget_day", "budget_week"}  # the arm stays 'treatment'
OUTSIDE_REASONS = {"no_consent", "opted_out", "duplicate_offer"}  # no arm
OFFERS = ("a", "b", "c")

budgets = st.builds(
    budget.Settings,
    max_per_day=st.integers(0, 3),
    max_per_week=st.integers(0, 6),
    quiet_from=st.integers(0, 23).map(lambda h: time(h)),
    quiet_until=st.integers(0, 23).map(lambda h: time(h)),
)
# Moments bunched so that many events share a second: a day, then one of a few offsets.
moments = st.builds(
    lambda day, offset: T0 + timedelta(days=day, seconds=offset),
    st.integers(0, 12),
    st.sampled_from([0, 0, 1, 60, 1_200, 4 * 3_600, 14 * 3_600]),
)


# The pure decision ------------------------------------------------------------------------------


requests = st.lists(
    st.tuples(
        st.sampled_from(OFFERS),
        st.sampled_from([None, None, None, "no_consent", "opted_out"]),
        st.booleans(),  # in the holdout
        moments,
    ),
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(budgets, requests)
def test_decide_keeps_the_budget_and_one_offer_once(
    limits: budget.Settings, asked: list[tuple[str, str | None, bool, datetime]]
) -> None:
    history = budget.History()
    out: list[datetime] = []
    given_offers: set[str] = set()
    for offer, ineligible, holdout, at in asked:  # in any order: events arrive late too
        d = budget.decide(
            limits,
            history,
            offer_key=offer,
            eligible_reason=ineligible,
            holdout=holdout,
            at=at,
            zone=ZONE,
        )
        assert (d.status == "suppressed") == (d.reason is not None)
        if ineligible is not None:
            assert (d.status, d.arm, d.reason) == ("suppressed", None, ineligible)
            continue
        if offer in given_offers:
            assert (d.status, d.arm, d.reason) == ("suppressed", None, "duplicate_offer")
            continue
        if holdout:
            assert (d.status, d.arm) == ("holdout", "holdout")
            given_offers.add(offer)  # made, to the holdout: never made again
            continue
        assert d.arm == "treatment"
        if d.status == "pending":
            given_offers.add(offer)
            assert not budget.in_quiet_hours(at, ZONE, limits.quiet_from, limits.quiet_until)
            out.append(at)
        else:
            assert d.reason in TREATED_REASONS
    assert_within_budget(out, limits)


def assert_within_budget(out: list[datetime], limits: budget.Settings) -> None:
    per_day: dict[object, int] = defaultdict(int)
    for at in out:
        per_day[at.astimezone(ZONE).date()] += 1
    assert max(per_day.values(), default=0) <= limits.max_per_day
    for start in out:  # every 7-day window that holds a contact starts at one
        in_week = sum(1 for at in out if start <= at < start + timedelta(days=7))
        assert in_week <= limits.max_per_week


def test_decide_counts_a_later_contact_for_an_earlier_event() -> None:
    # An event decided after a later one (it arrived late) still sees that contact.
    limits = budget.Settings(max_per_day=5, max_per_week=1, quiet_from=time(0), quiet_until=time(0))
    history = budget.History()
    kw = {"eligible_reason": None, "holdout": False, "zone": ZONE}
    first = budget.decide(limits, history, offer_key="a", at=T0 + timedelta(days=3), **kw)
    late = budget.decide(limits, history, offer_key="b", at=T0, **kw)
    assert (first.status, late.status, late.reason) == ("pending", "suppressed", "budget_week")


# Two engines over one inbox ---------------------------------------------------------------------


trigger_specs = st.lists(
    st.builds(
        lambda event, channel, offer, holdout, minutes: triggers.TriggerSpec(
            name_zh="触发",
            name_en="Trigger",
            event=event,
            dwell_minutes=minutes if event == "dwell" else None,
            rule={"all": []},
            channel=channel,
            offer_key=offer,
            holdout_share=holdout,
        ),
        st.sampled_from(["arrival", "arrival", "login", "dwell", "redemption"]),
        st.sampled_from(["portal", "portal", "sms"]),
        st.sampled_from(OFFERS),
        st.sampled_from([0.0, 0.0, 0.5]),
        st.sampled_from([1, 20]),
    ),
    min_size=1,
    max_size=4,
)
# device index -> identity index (or None: never logs in under one); several devices may
# belong to one identity (a phone and a tablet), so profiles merge.
owners = st.lists(st.sampled_from([None, 0, 0, 1, 2]), min_size=1, max_size=6)
streams = st.lists(
    st.tuples(
        st.integers(0, 5),  # device (modulo the devices drawn)
        st.sampled_from(["sighting", "sighting", "sighting", "login", "redemption", "consent"]),
        moments,
        st.booleans(),  # a login's SMS consent; a consent event's given/withdrawn
    ),
    min_size=10,
    max_size=80,
)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    limits=budgets,
    specs=trigger_specs,
    owner_of=owners,
    stream=streams,
    batches=st.tuples(st.integers(1, 7), st.integers(1, 7)),
)
async def test_two_engines_keep_the_budget_and_one_offer_once(
    db: asyncpg.Pool,
    limits: budget.Settings,
    specs: list[triggers.TriggerSpec],
    owner_of: list[int | None],
    stream: list[tuple[int, str, datetime, bool]],
    batches: tuple[int, int],
) -> None:
    note(f"{limits=} {specs=} {owner_of=} {stream=} {batches=}")
    merchant, store = await a_merchant(db)
    await db.execute(
        "INSERT INTO marketing_settings (merchant_id, max_per_day, max_per_week, quiet_from,"
        " quiet_until) VALUES ($1, $2, $3, $4, $5)",
        merchant,
        limits.max_per_day,
        limits.max_per_week,
        limits.quiet_from,
        limits.quiet_until,
    )
    for spec in specs:
        await triggers.save_trigger(db, merchant, spec)
    salt = uuid.uuid4().hex[:8]  # devices and identities of this example only
    devices = [f"{salt}{i:024x}" for i in range(len(owner_of))]
    identities = [f"{i:08x}{salt}{'e' * 16}" for i in range(3)]
    events = []
    for n, (d, kind, at, flag) in enumerate(stream):
        d %= len(devices)
        device, owner = devices[d], owner_of[d]
        payload: dict[str, object] = {}
        if kind == "login":
            payload = {"method": "sms", "consent_sms": flag}
            if owner is not None:
                payload["identity_hash"] = identities[owner]
        elif kind == "redemption":
            payload = {"coupon_id": None, "n": n}
        elif kind == "consent":
            payload = {"channel": "all", "given": flag}
        events.append(InboxEvent(merchant, kind, device, store, at, payload))
    await intake.record_events(db, events)

    await asyncio.gather(drain(Engine(db, batch=batches[0])), drain(Engine(db, batch=batches[1])))
    assert (
        await db.fetchval(
            "SELECT count(*) FROM marketing_inbox WHERE merchant_id = $1 AND done_at IS NULL",
            merchant,
        )
        == 0
    )

    rows = await db.fetch(
        "SELECT c.*, p.profile_key IS NOT NULL AS profile_exists FROM marketing_contacts c"
        " LEFT JOIN marketing_profiles p USING (merchant_id, profile_key)"
        " WHERE c.merchant_id = $1",
        merchant,
    )
    links = {
        "d:" + r["device_hash"]: r["profile_key"]
        for r in await db.fetch(
            "SELECT device_hash, profile_key FROM marketing_profile_devices WHERE merchant_id = $1",
            merchant,
        )
    }
    devices_of: dict[str, int] = defaultdict(int)  # an identity's devices that logged in
    for key in links.values():
        devices_of[key] += 1

    offers: dict[tuple[str, str], int] = defaultdict(int)
    out: dict[str, list[datetime]] = defaultdict(list)
    for r in rows:
        # Each contact is of a profile that exists: one merged away took its contacts along.
        assert r["profile_exists"], (r["profile_key"], r["status"], links.get(r["profile_key"]))
        shopper = links.get(r["profile_key"], r["profile_key"])
        if r["status"] == "suppressed":
            assert r["reason"] in TREATED_REASONS | OUTSIDE_REASONS
            assert r["arm"] == ("treatment" if r["reason"] in TREATED_REASONS else None)
            continue
        assert r["reason"] is None
        offers[(shopper, r["offer_key"])] += 1
        if r["status"] in GOES_OUT:
            assert r["arm"] == "treatment"
            assert not budget.in_quiet_hours(
                r["decided_at"], ZONE, limits.quiet_from, limits.quiet_until
            )
            out[shopper].append(r["decided_at"])
        else:
            assert (r["status"], r["arm"]) == ("holdout", "holdout")
    twice = {k for k, n in offers.items() if n > 1}
    assert not twice, [
        (r["profile_key"], r["offer_key"], r["status"], r["reason"], r["decided_at"], r["event_id"])
        for r in rows
        if (links.get(r["profile_key"], r["profile_key"]), r["offer_key"]) in twice
    ]
    for shopper, times in out.items():
        # Two devices of one shopper were two profiles until the second logged in: each kept
        # its own budget then (the merge adds them up); one device's shopper never exceeds it.
        if devices_of.get(shopper, 1) == 1:
            assert_within_budget(times, limits)


async def drain(engine: Engine) -> None:
    """Steps until the inbox is empty, as `Engine.run` does (a batch a deadlock rolled back
    is taken again)."""
    idle = 0
    while idle < 3:
        try:
            taken = await engine.step()
        except (asyncpg.DeadlockDetectedError, asyncpg.SerializationError):
            continue
        idle = 0 if taken else idle + 1
        await asyncio.sleep(0)
