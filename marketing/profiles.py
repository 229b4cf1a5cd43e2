"""A shopper's profile at one merchant, folded from the live stream (pure, no database).

A profile is keyed by the shopper's login identity where one exists ('i:' + its keyed hash)
and by the device's pseudonym otherwise ('d:' + device_hash). It holds what marketing needs
and nothing more (PRODUCT.md §5): visits (sessionised here from sightings, as analytics does:
a silence longer than `gap` ends a visit, analytics/visits.py), dwell, stores, dayparts,
coupons claimed and redeemed, login methods and consent. No raw MAC, no phone number.

`facts` turns a profile into the named values the rule language reads (marketing/rules.py);
each fact is described there for the console.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from analytics import services as analytics

# A visit as footfall counts one (analytics/visits.py): a silence longer than GAP ends it, and
# a sighting more than CAP after its first one starts the next (a phone present all day is
# many visits, not one).
GAP = timedelta(seconds=analytics.VISIT_GAP_SECONDS)
CAP = timedelta(seconds=analytics.VISIT_CAP_SECONDS)
RECENT = timedelta(days=60)  # visit starts kept for the 30-day facts (and a margin)
MAX_RECENT = 120  # at most so many recent visit starts (two a day for 60 days)
LAPSE = timedelta(days=30)  # away this long, then back: a lapsed shopper returning
LUNCH = (11, 14)  # store-local hours [11:00, 14:00): lunchtime


def identity_key(identity_hash: str) -> str:
    return "i:" + identity_hash


def device_key(device_hash: str) -> str:
    return "d:" + device_hash


@dataclass(slots=True)
class Profile:
    """One shopper at one merchant (a marketing_profiles row)."""

    merchant_id: uuid.UUID
    profile_key: str
    created_at: datetime
    visit_store: uuid.UUID | None = None
    visit_started_at: datetime | None = None
    last_seen_at: datetime | None = None
    visits_total: int = 0
    recent_visits: list[datetime] = field(default_factory=list)
    previous_visit_at: datetime | None = None
    dwell_seconds: int = 0
    longest_dwell_seconds: int = 0
    stores: list[uuid.UUID] = field(default_factory=list)
    claims: int = 0
    redemptions: int = 0
    login_methods: list[str] = field(default_factory=list)
    consent_sms: bool = False
    consent_email: bool = False
    consent_wechat: bool = False  # follows the Official Account through the shopper's own code
    opted_out_at: datetime | None = None
    tags: dict[str, int] = field(default_factory=dict)
    updated_at: datetime | None = None
    # Not stored: `visit_counts` as last computed, with what it was computed for (the engine
    # asks at every event; it changes only when a visit starts or the day turns).
    counts_memo: tuple[tuple[int, date, str], tuple[int, int]] | None = field(
        default=None, compare=False, repr=False
    )


def new_profile(merchant_id: uuid.UUID, profile_key: str, at: datetime) -> Profile:
    return Profile(merchant_id=merchant_id, profile_key=profile_key, created_at=at, updated_at=at)


def see(profile: Profile, store_id: uuid.UUID, at: datetime) -> bool:
    """The device was seen at `store_id` at `at`. True when this starts a visit (an arrival:
    the first sighting, one after a silence longer than GAP, one more than CAP after the
    visit's start, or one at another store). A
    sighting older than the latest one (a late or replayed message) changes nothing."""
    last = profile.last_seen_at
    if last is not None and at <= last:
        return False
    started = profile.visit_started_at
    arrival = (
        last is None
        or at - last > GAP
        or (started is not None and at - started > CAP)
        or profile.visit_store != store_id
    )
    if arrival:
        _close_visit(profile)
        profile.previous_visit_at = profile.visit_started_at
        profile.visit_store = store_id
        profile.visit_started_at = at
        profile.visits_total += 1
        recent = [v for v in profile.recent_visits if at - v < RECENT]
        recent.append(at)
        profile.recent_visits = recent[-MAX_RECENT:]
        if store_id not in profile.stores:
            profile.stores.append(store_id)
    profile.last_seen_at = at
    profile.updated_at = at
    return arrival


def _close_visit(profile: Profile) -> None:
    """Add the visit that ends to the dwell totals."""
    if profile.visit_started_at is None or profile.last_seen_at is None:
        return
    seconds = int((profile.last_seen_at - profile.visit_started_at).total_seconds())
    profile.dwell_seconds += seconds
    profile.longest_dwell_seconds = max(profile.longest_dwell_seconds, seconds)


def dwell_now(profile: Profile) -> timedelta:
    """How long the current visit has lasted, to its latest sighting."""
    if profile.visit_started_at is None or profile.last_seen_at is None:
        return timedelta(0)
    return profile.last_seen_at - profile.visit_started_at


def log_in(profile: Profile, method: str, at: datetime) -> None:
    if method not in profile.login_methods:
        profile.login_methods.append(method)
    profile.updated_at = at


def claim(profile: Profile, at: datetime) -> None:
    profile.claims += 1
    profile.updated_at = at


def redeem(profile: Profile, at: datetime) -> None:
    profile.redemptions += 1
    profile.updated_at = at


def set_consent(profile: Profile, channel: str, given: bool, at: datetime) -> None:
    """A consent given or withdrawn ('sms', 'email', 'wechat'); 'all' withdrawn is the
    opt-out."""
    if channel == "all":
        if not given:
            profile.opted_out_at = at
            profile.consent_sms = profile.consent_email = profile.consent_wechat = False
        else:
            profile.opted_out_at = None
    elif channel == "sms":
        profile.consent_sms = given
    elif channel == "email":
        profile.consent_email = given
    elif channel == "wechat":
        profile.consent_wechat = given
    else:
        raise ValueError(f"no consent channel {channel!r}")
    if given and channel != "all":
        profile.opted_out_at = None
    profile.updated_at = at


def merge(into: Profile, other: Profile) -> None:
    """Fold a device's profile into its identity's (the device logged in under it)."""
    into.visits_total += other.visits_total
    into.recent_visits = sorted(set(into.recent_visits) | set(other.recent_visits))[-MAX_RECENT:]
    into.dwell_seconds += other.dwell_seconds
    into.longest_dwell_seconds = max(into.longest_dwell_seconds, other.longest_dwell_seconds)
    into.stores = into.stores + [s for s in other.stores if s not in into.stores]
    into.claims += other.claims
    into.redemptions += other.redemptions
    into.login_methods = into.login_methods + [
        m for m in other.login_methods if m not in into.login_methods
    ]
    into.created_at = min(into.created_at, other.created_at)
    if other.last_seen_at is not None and (
        into.last_seen_at is None or other.last_seen_at > into.last_seen_at
    ):
        into.visit_store = other.visit_store
        into.visit_started_at = other.visit_started_at
        into.last_seen_at = other.last_seen_at
        into.previous_visit_at = other.previous_visit_at
    if other.opted_out_at is not None:
        into.opted_out_at = other.opted_out_at


def visit_counts(profile: Profile, now: datetime, zone: ZoneInfo) -> tuple[int, int]:
    """Visits in the 30 days to `now`, and how many of them started at lunchtime."""
    month_ago = now - timedelta(days=30)
    recent = [v for v in profile.recent_visits if v > month_ago]
    lunch = sum(1 for v in recent if LUNCH[0] <= v.astimezone(zone).hour < LUNCH[1])
    return len(recent), lunch


def facts(
    profile: Profile, now: datetime, zone: ZoneInfo, counts: tuple[int, int] | None = None
) -> dict[str, int | bool]:
    """The named values rules read (marketing/rules.py FACTS), at `now`, in the store's zone.
    `counts`: visit_counts at `now`, when the caller has them already."""
    visits_30d, lunch = counts if counts is not None else visit_counts(profile, now, zone)
    dwell = dwell_now(profile).total_seconds()
    finished = profile.visits_total - (1 if profile.visit_started_at is not None else 0)
    away = (
        profile.visit_started_at - profile.previous_visit_at
        if profile.visit_started_at is not None and profile.previous_visit_at is not None
        else None
    )
    since_last = (now - profile.last_seen_at).days if profile.last_seen_at is not None else 10_000
    return {
        "visits_total": profile.visits_total,
        "visits_30d": visits_30d,
        "lunch_visits_30d": lunch,
        "days_since_last_visit": since_last,
        "dwell_minutes_now": int(dwell // 60),
        "avg_dwell_minutes": int(profile.dwell_seconds / finished // 60) if finished > 0 else 0,
        "longest_dwell_minutes": int(max(profile.longest_dwell_seconds, dwell) // 60),
        "stores_visited": len(profile.stores),
        "claims": profile.claims,
        "redemptions": profile.redemptions,
        "first_visit": profile.visits_total == 1,
        "lapsed_return": away is not None and away >= LAPSE,
        "lunchtime_now": LUNCH[0] <= now.astimezone(zone).hour < LUNCH[1],
        "logged_in": bool(profile.login_methods),
        "known_identity": profile.profile_key.startswith("i:"),
        "consent_sms": profile.consent_sms and profile.opted_out_at is None,
    }
