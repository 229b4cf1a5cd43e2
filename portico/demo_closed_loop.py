"""The closed loop in the demo's history (docs/marketing.md, "In the demo"): the demo stores'
shoppers of the last days are folded into profiles with the demo's triggers already made, so
the engine decides their contacts, in both arms, as it would have live; the shoppers react to
the offers they were shown; each trigger's report (the console's /marketing/triggers/<id>/report)
then has its arms, conversions and uplift from the first start.

- **In spans of SPAN_DAYS (29) store-local days, in two passes**: each device's first event
  of the span, then, once the engine has decided on those, the rest of the span together with
  the shoppers' reactions, in time order. The demo's portal offers are made at a shopper's
  first visit ever and at a return after 30 days or more away: always a device's first event
  in a span shorter than 30 days, so each of their contacts is decided in the first pass (all
  5,200 of a 45-day run were). So a claim and a redemption minutes after a contact are folded
  before anything later the shopper did (a return visit an hour on), and a contact converts by
  what came first, as it would have live. (Spans of one day did the same with 8 times the
  engine's batches, and took twice as long.)
- **The reactions, with a built-in effect.** For each contact in an arm of the demo's portal
  offers (REACTING: "Welcome back" and "First visit welcome"), the shopper claims a coupon 1–4
  minutes after it and redeems it 2–15 minutes later, during that visit, with probability
  REDEEM_SHOWN = 18 % when the offer went out and REDEEM_BASE = 6 % otherwise (held out, or
  treated but held back by quiet hours or the day's budget): the offer adds 12 points of
  redemptions among the shoppers who saw it. Each draw is keyed by its contact, so the same
  history gives the same redemptions. Return visits are the shopper model's own, the same in
  either arm: no effect is built into them.
- **Nothing of the past is sent now**: the history's contacts that went out are marked as they
  would have ended, delivered at their decision (marketing.demo.settle_history), before any
  dispatcher runs; after a first start cut short mid-history, at the next start
  (`settle_cut_short`).

The claims and redemptions are told to marketing only, as the till's hook would tell them
(marketing/intake.py); no ads coupon code is made for them, and they name no coupon: the demo's
triggers offer none, so any redemption converts.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterable, Sequence
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import asyncpg

from accounts import services as accounts
from marketing import demo as marketing_demo
from marketing import intake
from marketing.engine import Engine
from marketing.intake import InboxEvent
from marketing.profiles import LAPSE

REACTING = ("demo-welcome-back", "demo-first-visit")  # the offer keys shoppers react to
REDEEM_SHOWN = 0.18  # a shopper who was shown the offer redeems a coupon in that visit
REDEEM_BASE = 0.06  # one who was not (the holdout; a treated shopper held back)
CLAIM_AFTER = (60.0, 240.0)  # seconds from the contact to the claim
REDEEM_AFTER = (120.0, 900.0)  # seconds from the claim to the redemption
CHUNK = 5_000  # events recorded at a time
# Shorter than the lapse (with a day to spare for a clock change): a return after 30 days away
# is a device's first event in its span.
SPAN_DAYS = LAPSE.days - 1
REACTIONS = uuid.UUID("9a4d2c6e-1f3b-4e8a-b7c5-2d9e0f1a3b4c")


def split_spans(
    events: Iterable[InboxEvent], zone: ZoneInfo, days: int = SPAN_DAYS
) -> list[tuple[date, date, list[InboxEvent], list[InboxEvent]]]:
    """The events in spans of `days` store-local days from the first event's day, in time
    order, each span as (its first day, the day after it, each device's first event in it, the
    rest)."""
    ordered = sorted(events, key=lambda e: e.occurred_at)
    if not ordered:
        return []
    start = ordered[0].occurred_at.astimezone(zone).date()
    spans: dict[int, tuple[list[InboxEvent], list[InboxEvent]]] = {}
    seen: set[tuple[int, str]] = set()
    for e in ordered:
        index = (e.occurred_at.astimezone(zone).date() - start).days // days
        firsts, rest = spans.setdefault(index, ([], []))
        if (index, e.device_hash) in seen:
            rest.append(e)
        else:
            seen.add((index, e.device_hash))
            firsts.append(e)
    return [
        (
            start + timedelta(days=index * days),
            start + timedelta(days=(index + 1) * days),
            firsts,
            rest,
        )
        for index, (firsts, rest) in sorted(spans.items())
    ]


def reactions(
    contact: marketing_demo.HistoryContact, event: InboxEvent, end: datetime
) -> list[InboxEvent]:
    """The shopper's claim and redemption after the contact `event` set off, drawn (keyed by
    the contact) with REDEEM_SHOWN or REDEEM_BASE; none after `end` (the history's end)."""
    draw = random.Random(contact.contact_id.int)
    shown = contact.arm == "treatment" and contact.goes_out
    if draw.random() >= (REDEEM_SHOWN if shown else REDEEM_BASE):
        return []
    claimed = contact.decided_at + timedelta(seconds=draw.uniform(*CLAIM_AFTER))
    redeemed = claimed + timedelta(seconds=draw.uniform(*REDEEM_AFTER))
    if redeemed >= end:
        return []
    return [
        InboxEvent(
            event.merchant_id,
            kind,
            event.device_hash,
            event.store_id,
            at,
            event_id=uuid.uuid5(REACTIONS, f"{kind}|{contact.contact_id}"),
        )
        for kind, at in (("claim", claimed), ("redemption", redeemed))
    ]


async def fold_history(
    db: asyncpg.Pool, merchant_id: uuid.UUID, events: Sequence[InboxEvent], end: datetime
) -> int:
    """Fold the history's events (all before `end`) with the merchant's triggers made, span by
    span with the shoppers' reactions, then settle its contacts. How many events were
    recorded."""
    zone = ZoneInfo(await accounts.merchant_zone(db, merchant_id))
    engine = Engine(db)
    recorded = 0
    for first_day, after_day, firsts, rest in split_spans(events, zone):
        recorded += await _record_and_fold(db, engine, firsts)
        start, after = (datetime.combine(d, time(), zone) for d in (first_day, after_day))
        arrivals = {e.id(): e for e in firsts}
        drawn = [
            reaction
            for c in await marketing_demo.reacted_contacts(db, merchant_id, start, after, REACTING)
            if c.event_id in arrivals
            for reaction in reactions(c, arrivals[c.event_id], end)
        ]
        recorded += await _record_and_fold(
            db, engine, sorted(rest + drawn, key=lambda e: e.occurred_at)
        )
    await marketing_demo.settle_history(db, merchant_id, end)
    return recorded


async def settle_cut_short(db: asyncpg.Pool, merchant_id: uuid.UUID) -> None:
    """At a later start: a history a first start left half-folded is folded now, before any
    dispatcher runs, and its contacts settled (those decided before the triggers were made).
    Nothing to do, and quick, after a whole one."""
    if await marketing_demo.history_waiting(db, merchant_id):
        await Engine(db).drain()
    await marketing_demo.settle_history(db, merchant_id)


async def _record_and_fold(db: asyncpg.Pool, engine: Engine, events: list[InboxEvent]) -> int:
    recorded = 0
    for i in range(0, len(events), CHUNK):
        recorded += await intake.record_events(db, events[i : i + CHUNK])
    await engine.drain()
    return recorded
