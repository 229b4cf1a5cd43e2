"""One contact budget across every channel, and the holdout (pure; docs/marketing.md).

For each contact a trigger wants to make, in order:

1. eligibility: an opted-out shopper gets nothing on any channel ('opted_out'); an SMS needs
   the shopper's recorded SMS consent and a WeChat message a follow through the shopper's
   own code (consent_wechat: marketing/wechat_events.py) ('no_consent');
2. the same offer never twice: one already made to the shopper, on any channel, in either arm
   ('duplicate_offer');
3. the arm: the trigger's always-on holdout, stable per shopper (`in_holdout`), gets nothing
   and is compared ('holdout');
4. the budget, for the treated: quiet hours in the store's local time ('quiet_hours'), then
   at most `max_per_day` contacts per store-local day and `max_per_week` per 7 days, over every
   channel ('budget_day', 'budget_week'). A portal offer counts too: it is a contact.

The engine (marketing/engine.py) calls `decide` with the shopper's contacts of the last week,
read while it holds the merchant (one engine at a time per merchant), and adds each decision
to them before the next: two triggers in the same second, or two engines, cannot both pass
the budget.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class Settings:
    """A merchant's contact budget (marketing_settings; defaults as the migration's)."""

    max_per_day: int = 1
    max_per_week: int = 3
    quiet_from: time = time(21, 0)
    quiet_until: time = time(9, 0)


@dataclass(frozen=True)
class Made:
    """A contact already decided for the shopper: its offer and when."""

    offer_key: str
    decided_at: datetime
    counts: bool  # it went (or goes) out: counts against the budget


@dataclass
class History:
    """What a shopper has had: the budget's window and every offer made to them."""

    made: list[Made] = field(default_factory=list)
    offers: set[str] = field(default_factory=set)
    armed: bool = False  # in a trigger's arm: a later conversion may count


@dataclass(frozen=True)
class Decision:
    status: str  # 'pending', 'holdout' or 'suppressed'
    arm: str | None
    reason: str | None = None


def in_holdout(
    merchant_id: uuid.UUID, trigger_id: uuid.UUID, profile_key: str, share: float
) -> bool:
    """The shopper is in the trigger's holdout: stable for them (a keyed draw, not random)."""
    if share <= 0:
        return False
    digest = hashlib.sha256(f"{merchant_id}:{trigger_id}:{profile_key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share


def in_quiet_hours(at: datetime, zone: ZoneInfo, quiet_from: time, quiet_until: time) -> bool:
    local = at.astimezone(zone).time()
    if quiet_from == quiet_until:
        return False
    if quiet_from < quiet_until:
        return quiet_from <= local < quiet_until
    return local >= quiet_from or local < quiet_until  # across midnight


def decide(
    settings: Settings,
    history: History,
    *,
    offer_key: str,
    eligible_reason: str | None,
    holdout: bool,
    at: datetime,
    zone: ZoneInfo,
) -> Decision:
    """The decision for one contact, added to `history` (see the module's docstring)."""
    if eligible_reason is not None:
        return _record(history, offer_key, at, Decision("suppressed", None, eligible_reason))
    if offer_key in history.offers:
        return Decision("suppressed", None, "duplicate_offer")
    if holdout:
        return _record(history, offer_key, at, Decision("holdout", "holdout"))
    if in_quiet_hours(at, zone, settings.quiet_from, settings.quiet_until):
        return _record(history, offer_key, at, Decision("suppressed", "treatment", "quiet_hours"))
    local_day = at.astimezone(zone).date()
    sent = [m for m in history.made if m.counts]
    today = sum(1 for m in sent if m.decided_at.astimezone(zone).date() == local_day)
    if today >= settings.max_per_day:
        return _record(history, offer_key, at, Decision("suppressed", "treatment", "budget_day"))
    week = sum(1 for m in sent if at - m.decided_at < timedelta(days=7))
    if week >= settings.max_per_week:
        return _record(history, offer_key, at, Decision("suppressed", "treatment", "budget_week"))
    return _record(history, offer_key, at, Decision("pending", "treatment"))


def _record(history: History, offer_key: str, at: datetime, decision: Decision) -> Decision:
    history.armed = history.armed or decision.arm is not None
    if decision.status != "suppressed":
        history.offers.add(offer_key)
    history.made.append(Made(offer_key, at, decision.status == "pending"))
    return decision
