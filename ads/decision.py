"""The ad decision at login (PRODUCT.md §4, research/ads-coupons.md §3): a pure in-process engine.

Nothing here touches the database or the clock: the caller gives an `Index` (every active line
item, built from PostgreSQL by ads/delivery.py every few seconds), a `Request` (the venue, the
shopper's identity and what they were shown lately, the time) and a `random.Random`, and gets a
`Decision`. The order of the rules:

1. eligibility: the line item and its campaign in flight and active, the campaign approved at
   the venue's merchant (or the merchant's own) and not blocked there, the dayparts in the
   venue's local time, and the targeting (venue, store, category, city, language, segments,
   new or returning);
2. frequency caps (per identity; per creative, line item, campaign, advertiser; lifetime, the
   venue's local day or a rolling window) and budget or impression goal;
3. holdout: a stable hash of (identity, campaign) below the campaign's `holdout_share` never sees
   the campaign; when it would have won, a ghost impression is recorded instead and the decision
   is made again without it (the counterfactual "ghost ad");
4. tiers in strict order: sponsorship (weighted draw); guaranteed, paced (`Pacer`: each line
   item has a probability, one uniform draw picks one or falls through, Revive's scheme);
   performance (eCPM: arg-max 90 % of the time, an eCPM-weighted draw otherwise); house
   (weighted draw).

The venue-static part of eligibility (approval, blocks, venue targeting, language) is computed
once per (merchant, store, language) per index and kept, so a decision looks only at the line
items that can run at that venue, however many are active elsewhere.
"""

from __future__ import annotations

import hashlib
import math
import random
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

TIERS = ("sponsorship", "guaranteed", "performance", "house")
PRICINGS = ("cpm", "cpc", "cpa")
SCOPES = ("creative", "line_item", "campaign", "advertiser")
PERIODS = ("lifetime", "day", "window")
INTERVAL = timedelta(minutes=5)
INTERVAL_SECONDS = 300
EXPLOIT_SHARE = 0.9  # performance: the best eCPM this often, an eCPM-weighted draw otherwise
# Beta prior of the click and action rates (mean alpha / (alpha + beta)): a new line item's
# estimate starts at 1 % clicks and 0.2 % actions and moves to its own as evidence comes in.
CLICK_PRIOR = (1.0, 99.0)
ACTION_PRIOR = (0.2, 99.8)
COMPENSATION_BOUNDS = (0.5, 2.0)


@dataclass(frozen=True)
class Creative:
    creative_id: uuid.UUID
    kind: str = "image"  # image | video
    countdown_seconds: int = 0  # video: counted as shown only after it
    weight: int = 1


@dataclass(frozen=True)
class Cap:
    """At most `max_count` impressions per identity of `scope` (its id `scope_id`) per period."""

    scope: str  # creative | line_item | campaign | advertiser
    scope_id: uuid.UUID
    max_count: int
    period: str  # lifetime | day | window
    window_seconds: int = 0

    def since(self, now: datetime, tz: ZoneInfo) -> datetime | None:
        """Where the period counted at `now` starts (None: always, lifetime)."""
        if self.period == "day":
            local = now.astimezone(tz)
            return local.replace(hour=0, minute=0, second=0, microsecond=0)
        if self.period == "window":
            return now - timedelta(seconds=self.window_seconds)
        return None


@dataclass(frozen=True)
class Campaign:
    campaign_id: uuid.UUID
    advertiser_id: uuid.UUID
    starts_at: datetime
    ends_at: datetime
    status: str = "active"
    holdout_share: float = 0.1
    category: str = "other"
    advertiser_category: str = "other"
    own_merchant_id: uuid.UUID | None = None  # the advertiser of a merchant's own campaigns


@dataclass(frozen=True)
class LineItem:
    line_item_id: uuid.UUID
    campaign: Campaign
    creatives: tuple[Creative, ...]
    tier: str = "house"
    pricing: str = "cpm"
    bid_fen: int = 0  # per 1,000 impressions (cpm), per click (cpc), per action (cpa)
    budget_fen: int | None = None
    goal_impressions: int | None = None
    pacing: str = "even"  # even | asap
    starts_at: datetime | None = None  # None: the campaign's flight
    ends_at: datetime | None = None
    dayparts: frozenset[int] = frozenset()  # hours of the week 0–167, Monday 0 h = 0; empty: always
    weight: int = 1
    status: str = "active"
    target_merchants: frozenset[uuid.UUID] = frozenset()
    target_stores: frozenset[uuid.UUID] = frozenset()
    target_categories: frozenset[str] = frozenset()
    target_cities: frozenset[str] = frozenset()
    target_languages: frozenset[str] = frozenset()
    target_segments: frozenset[str] = frozenset()
    target_audience: str = "all"  # all | new | returning
    caps: tuple[Cap, ...] = ()  # every cap that applies: its own, its campaign's, advertiser's…

    @property
    def campaign_id(self) -> uuid.UUID:
        return self.campaign.campaign_id

    @property
    def advertiser_id(self) -> uuid.UUID:
        return self.campaign.advertiser_id

    @property
    def flight(self) -> tuple[datetime, datetime]:
        c = self.campaign
        start = max(self.starts_at, c.starts_at) if self.starts_at else c.starts_at
        end = min(self.ends_at, c.ends_at) if self.ends_at else c.ends_at
        return start, end

    def goal(self) -> int | None:
        """The impressions this line item may deliver: its goal, or what its budget buys at
        CPM (the smaller of the two); None when neither limits impressions."""
        goals = []
        if self.goal_impressions is not None:
            goals.append(self.goal_impressions)
        if self.budget_fen is not None and self.pricing == "cpm" and self.bid_fen > 0:
            goals.append(self.budget_fen * 1000 // self.bid_fen)
        return min(goals) if goals else None


@dataclass(frozen=True)
class Seen:
    """One impression the identity was shown (what the caps count)."""

    at: datetime
    creative_id: uuid.UUID
    line_item_id: uuid.UUID
    campaign_id: uuid.UUID
    advertiser_id: uuid.UUID


@dataclass(frozen=True)
class Request:
    merchant_id: uuid.UUID
    store_id: uuid.UUID
    identity: str  # the strongest pseudonym known at this merchant (PRODUCT.md §4)
    now: datetime
    language: str = "zh-CN"
    category: str = "other"  # the merchant's
    city: str = ""  # the store's
    timezone: str = "Asia/Shanghai"  # the store's
    audience: str = "new"  # new | returning
    segments: frozenset[str] = frozenset()
    seen: tuple[Seen, ...] = ()  # the identity's recent impressions at this merchant


@dataclass(frozen=True)
class Delivery:
    """What a line item has delivered so far (impressions, clicks, actions, spend)."""

    impressions: int = 0
    clicks: int = 0
    actions: int = 0
    spend_millifen: int = 0  # 1/1000 fen: a CPM impression costs bid_fen millifen


@dataclass(frozen=True)
class Ghost:
    line_item_id: uuid.UUID
    campaign_id: uuid.UUID
    advertiser_id: uuid.UUID
    creative_id: uuid.UUID


@dataclass(frozen=True)
class Decision:
    line_item: LineItem | None
    creative: Creative | None
    ghosts: tuple[Ghost, ...] = ()
    eligible: tuple[uuid.UUID, ...] = ()  # line items that passed eligibility (pacing forecast)


@dataclass(frozen=True)
class Index:
    """Every active line item, with the approvals and blocks of the venues' merchants."""

    line_items: tuple[LineItem, ...]
    # campaign ids approved per merchant (a merchant's own campaigns need none)
    approved: Mapping[uuid.UUID, frozenset[uuid.UUID]] = field(default_factory=dict)
    # per merchant: blocked advertiser ids and blocked categories
    blocked_advertisers: Mapping[uuid.UUID, frozenset[uuid.UUID]] = field(default_factory=dict)
    blocked_categories: Mapping[uuid.UUID, frozenset[str]] = field(default_factory=dict)
    _venues: dict[tuple[object, ...], tuple[LineItem, ...]] = field(
        default_factory=dict, compare=False, repr=False
    )
    _by_campaign: dict[uuid.UUID, tuple[LineItem, ...]] = field(
        default_factory=dict, compare=False, repr=False
    )
    _merchant_campaigns: dict[uuid.UUID, set[uuid.UUID]] = field(
        default_factory=dict, compare=False, repr=False
    )

    def __post_init__(self) -> None:
        for item in self.line_items:
            self._by_campaign.setdefault(item.campaign_id, ())
            self._by_campaign[item.campaign_id] += (item,)
        # Per merchant: the campaigns it may show at all (approved or its own), so a venue's
        # list is built from those, not from every line item.
        by_merchant = self._merchant_campaigns
        for merchant_id, campaigns in self.approved.items():
            by_merchant.setdefault(merchant_id, set()).update(campaigns)
        for item in self.line_items:
            own = item.campaign.own_merchant_id
            if own is not None:
                by_merchant.setdefault(own, set()).add(item.campaign_id)

    def venue_items(self, r: Request) -> tuple[LineItem, ...]:
        """The line items that may ever run at this venue in this language: approved, not
        blocked, active, targeting the venue (computed once per venue and index)."""
        key = (r.merchant_id, r.store_id, r.language, r.category, r.city)
        items = self._venues.get(key)
        if items is None:
            items = self._venue_items(r)
            if len(self._venues) > 100_000:
                self._venues.clear()
            self._venues[key] = items
        return items

    def _venue_items(self, r: Request) -> tuple[LineItem, ...]:
        campaigns: set[uuid.UUID] = self._merchant_campaigns.get(r.merchant_id, set())
        blocked_adv = self.blocked_advertisers.get(r.merchant_id, frozenset())
        blocked_cat = self.blocked_categories.get(r.merchant_id, frozenset())
        out = []
        for campaign_id in campaigns:
            for item in self._by_campaign.get(campaign_id, ()):
                c = item.campaign
                if item.status != "active" or c.status != "active" or not item.creatives:
                    continue
                own = c.own_merchant_id == r.merchant_id
                if not own and (
                    c.advertiser_id in blocked_adv
                    or c.category in blocked_cat
                    or c.advertiser_category in blocked_cat
                ):
                    continue
                if not _venue_match(item, r):
                    continue
                out.append(item)
        out.sort(key=lambda i: i.line_item_id)  # deterministic for a seeded draw
        return tuple(out)


def _venue_match(item: LineItem, r: Request) -> bool:
    return (
        (not item.target_merchants or r.merchant_id in item.target_merchants)
        and (not item.target_stores or r.store_id in item.target_stores)
        and (not item.target_categories or r.category in item.target_categories)
        and (not item.target_cities or r.city in item.target_cities)
        and (not item.target_languages or r.language in item.target_languages)
    )


@lru_cache(maxsize=256)
def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (KeyError, ValueError):
        return ZoneInfo("Asia/Shanghai")


def hour_of_week(now: datetime, tz: ZoneInfo) -> int:
    local = now.astimezone(tz)
    return local.weekday() * 24 + local.hour


def in_holdout(identity: str, campaign_id: uuid.UUID, share: float) -> bool:
    """A stable draw in [0, 1) from (identity, campaign): the same shopper is always in, or
    always out of, a campaign's holdout."""
    if share <= 0:
        return False
    digest = hashlib.blake2b(f"{identity}|{campaign_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest) / 2**64 < share


def interval_start(t: datetime) -> datetime:
    """The start of the 5-minute pacing interval holding `t`."""
    seconds = int(t.timestamp())
    return datetime.fromtimestamp(seconds - seconds % INTERVAL_SECONDS, t.tzinfo)


# -- caps ------------------------------------------------------------------------------------------


def _scope_id(seen: Seen, scope: str) -> uuid.UUID:
    if scope == "creative":
        return seen.creative_id
    if scope == "line_item":
        return seen.line_item_id
    if scope == "campaign":
        return seen.campaign_id
    return seen.advertiser_id


def cap_count(cap: Cap, seen: Iterable[Seen], now: datetime, tz: ZoneInfo) -> int:
    since = cap.since(now, tz)
    return sum(
        1
        for s in seen
        if _scope_id(s, cap.scope) == cap.scope_id and (since is None or s.at >= since)
    )


class _CapCheck:
    """The caps of one request: each cap counted at most once."""

    def __init__(self, r: Request) -> None:
        self._r = r
        self._tz = _zone(r.timezone)
        self._full: dict[Cap, bool] = {}

    def full(self, cap: Cap) -> bool:
        hit = self._full.get(cap)
        if hit is None:
            hit = (
                bool(self._r.seen) and cap_count(cap, self._r.seen, self._r.now, self._tz)
            ) >= cap.max_count
            self._full[cap] = hit
        return hit


TRAFFIC = uuid.UUID(int=0)  # the pacer's count of every request, beside the line items'

# -- pacing ----------------------------------------------------------------------------------------


class Pacer:
    """Guaranteed line items' serving probabilities, set again every 5-minute interval.

    p = remaining goal ÷ forecast eligible requests in the flight's remaining daypart-eligible
    intervals, × compensation (planned ÷ actual delivery of the last interval, clamped 0.5–2).
    The forecast of an interval is what the line item saw eligible in the same 5 minutes of
    earlier days (an exponential average over the days); for a line item new since then, the
    process's whole traffic in those 5 minutes of earlier days × the line item's share of the
    traffic in the last hour; with no history at all, the line item's mean of the last hour.
    `asap` line items and those without a goal get p = 1.
    """

    def __init__(self) -> None:
        self.interval: datetime | None = None
        self.p: dict[uuid.UUID, float] = {}
        self._planned: dict[uuid.UUID, float] = {}  # impressions planned for the interval
        self._eligible: dict[uuid.UUID, int] = {}  # eligible requests counted this interval
        self._delivered: dict[uuid.UUID, int] = {}  # impressions counted this interval
        self._last_actual: dict[uuid.UUID, tuple[float, int]] = {}  # (planned, actual)
        # per line item: eligible requests per 5-minute slot of the day (EMA over days)
        self._profile: dict[uuid.UUID, dict[int, float]] = {}
        self._recent: dict[uuid.UUID, list[int]] = {}  # eligible counts of the last intervals

    def count_eligible(self, line_item_id: uuid.UUID) -> None:
        self._eligible[line_item_id] = self._eligible.get(line_item_id, 0) + 1

    def count_delivered(self, line_item_id: uuid.UUID, n: int = 1) -> None:
        self._delivered[line_item_id] = self._delivered.get(line_item_id, 0) + n

    def learn(self, line_item_id: uuid.UUID, slot: int, eligible: float) -> None:
        """One interval's eligible requests into the profile (also from PostgreSQL's history)."""
        profile = self._profile.setdefault(line_item_id, {})
        old = profile.get(slot)
        profile[slot] = eligible if old is None else 0.5 * old + 0.5 * eligible

    def forecast(self, line_item_id: uuid.UUID, slot: int) -> float:
        profile = self._profile.get(line_item_id)
        if profile and slot in profile:
            return profile[slot]
        recent = self._recent.get(line_item_id)
        traffic = self._profile.get(TRAFFIC)
        traffic_recent = self._recent.get(TRAFFIC)
        if recent and traffic and slot in traffic and traffic_recent and sum(traffic_recent):
            return max(traffic[slot] * sum(recent) / sum(traffic_recent), 0.1)
        if recent:
            return max(sum(recent) / len(recent), 1.0)
        return 1.0

    def roll(
        self,
        now: datetime,
        items: Sequence[LineItem],
        delivered: Mapping[uuid.UUID, int],
        tz: ZoneInfo,
    ) -> None:
        """At the first decision of a new interval: close the last one (learn its eligible
        counts, compare its delivery with the plan) and set every guaranteed line item's p.
        `delivered`: the line items' impressions so far (all processes, from the counters);
        `tz`: the venues' time zone, for the dayparts ahead."""
        start = interval_start(now)
        if self.interval == start:
            return
        if self.interval is not None:
            slot = _slot(self.interval)
            closing = self.interval
            guaranteed = {
                i.line_item_id
                for i in items
                if i.tier == "guaranteed" and i.flight[0] <= closing < i.flight[1]
            }
            for li_id in set(self._eligible) | set(self._planned) | guaranteed | {TRAFFIC}:
                n = self._eligible.get(li_id, 0)
                self.learn(li_id, slot, n)
                recent = self._recent.setdefault(li_id, [])
                recent.append(n)
                del recent[:-12]
            for li_id, planned in self._planned.items():
                self._last_actual[li_id] = (planned, self._delivered.get(li_id, 0))
        self.interval = start
        self._eligible = {}
        self._delivered = {}
        self._planned = {}
        self.p = {}
        for item in items:
            if item.tier != "guaranteed":
                continue
            goal = item.goal()
            if goal is None or item.pacing == "asap":
                self.p[item.line_item_id] = 1.0
                continue
            remaining = goal - delivered.get(item.line_item_id, 0)
            if remaining <= 0:
                continue
            forecast = 0.0
            _, end = item.flight
            t = start
            while t < end:
                if not item.dayparts or hour_of_week(t, tz) in item.dayparts:
                    forecast += self.forecast(item.line_item_id, _slot(t))
                t += INTERVAL
            if forecast <= 0:
                continue
            p = remaining / forecast
            planned_actual = self._last_actual.get(item.line_item_id)
            if planned_actual is not None:
                planned, actual = planned_actual
                if planned > 0:
                    ratio = planned / actual if actual > 0 else COMPENSATION_BOUNDS[1]
                    p *= min(max(ratio, COMPENSATION_BOUNDS[0]), COMPENSATION_BOUNDS[1])
            p = min(p, 1.0)
            self.p[item.line_item_id] = p
            self._planned[item.line_item_id] = p * self.forecast(item.line_item_id, _slot(start))


def _slot(t: datetime) -> int:
    """The 5-minute slot of the day (UTC), 0–287."""
    seconds = int(t.timestamp()) % 86_400
    return seconds // INTERVAL_SECONDS


# -- the decision ----------------------------------------------------------------------------------


@dataclass
class Engine:
    """Decisions over one index, with its pacing and delivery state (one per process)."""

    index: Index
    rng: random.Random = field(default_factory=random.Random)
    pacer: Pacer = field(default_factory=Pacer)
    # impressions, clicks, actions, spend so far per line item (refreshed from PostgreSQL)
    delivery: dict[uuid.UUID, Delivery] = field(default_factory=dict)
    # impressions counted by this process since the last refresh (added to `delivery`)
    local_impressions: dict[uuid.UUID, int] = field(default_factory=dict)
    timezone: str = "Asia/Shanghai"  # the venues' time zone, for pacing over dayparts ahead

    def replace_index(self, index: Index, delivery: Mapping[uuid.UUID, Delivery]) -> None:
        self.index = index
        self.delivery = dict(delivery)
        self.local_impressions = {}

    def delivered(self, line_item_id: uuid.UUID) -> int:
        d = self.delivery.get(line_item_id)
        return (d.impressions if d else 0) + self.local_impressions.get(line_item_id, 0)

    def count_impression(self, line_item_id: uuid.UUID) -> None:
        """An impression the page reported shown (and the counters accepted)."""
        self.local_impressions[line_item_id] = self.local_impressions.get(line_item_id, 0) + 1
        self.pacer.count_delivered(line_item_id)

    def _budget_left(self, item: LineItem) -> bool:
        goal = item.goal()
        if goal is not None and self.delivered(item.line_item_id) >= goal:
            return False
        if item.budget_fen is not None:
            d = self.delivery.get(item.line_item_id)
            spend = d.spend_millifen if d else 0
            if item.pricing == "cpm":
                spend += self.local_impressions.get(item.line_item_id, 0) * item.bid_fen
            if spend >= item.budget_fen * 1000:
                return False
        return True

    def decide(self, r: Request) -> Decision:
        venue = self.index.venue_items(r)
        if self.pacer.interval != interval_start(r.now):
            guaranteed = [i for i in self.index.line_items if i.tier == "guaranteed"]
            self.pacer.roll(
                r.now,
                guaranteed,
                {i.line_item_id: self.delivered(i.line_item_id) for i in guaranteed},
                _zone(self.timezone),
            )
        self.pacer.count_eligible(TRAFFIC)
        if not venue:
            return Decision(None, None)
        tz = _zone(r.timezone)
        how = hour_of_week(r.now, tz)
        caps = _CapCheck(r)
        eligible: list[tuple[LineItem, tuple[Creative, ...]]] = []
        for item in venue:
            start, end = item.flight
            if not (start <= r.now < end):
                continue
            if item.dayparts and how not in item.dayparts:
                continue
            if item.target_audience != "all" and item.target_audience != r.audience:
                continue
            if item.target_segments and not (item.target_segments & r.segments):
                continue
            if item.tier == "guaranteed":
                self.pacer.count_eligible(item.line_item_id)
            if any(cap.scope != "creative" and caps.full(cap) for cap in item.caps):
                continue
            creatives = item.creatives
            creative_caps = [cap for cap in item.caps if cap.scope == "creative"]
            if creative_caps:
                full = {cap.scope_id for cap in creative_caps if caps.full(cap)}
                creatives = tuple(c for c in creatives if c.creative_id not in full)
                if not creatives:
                    continue
            if not self._budget_left(item):
                continue
            eligible.append((item, creatives))
        ids = tuple(item.line_item_id for item, _ in eligible)
        ghosts: list[Ghost] = []
        held: dict[uuid.UUID, bool] = {}
        while eligible:
            pick = self._tiers(eligible)
            if pick is None:
                break
            item, creatives = pick
            campaign = item.campaign
            out = held.get(campaign.campaign_id)
            if out is None:
                out = in_holdout(r.identity, campaign.campaign_id, campaign.holdout_share)
                held[campaign.campaign_id] = out
            creative = self._creative(creatives)
            if not out:
                return Decision(item, creative, tuple(ghosts), ids)
            ghosts.append(
                Ghost(
                    item.line_item_id,
                    campaign.campaign_id,
                    item.advertiser_id,
                    creative.creative_id,
                )
            )
            eligible = [e for e in eligible if e[0].campaign_id != campaign.campaign_id]
        return Decision(None, None, tuple(ghosts), ids)

    def _creative(self, creatives: tuple[Creative, ...]) -> Creative:
        if len(creatives) == 1:
            return creatives[0]
        return self.rng.choices(creatives, weights=[max(c.weight, 1) for c in creatives])[0]

    def _tiers(
        self, eligible: list[tuple[LineItem, tuple[Creative, ...]]]
    ) -> tuple[LineItem, tuple[Creative, ...]] | None:
        by_tier: dict[str, list[tuple[LineItem, tuple[Creative, ...]]]] = {}
        for e in eligible:
            by_tier.setdefault(e[0].tier, []).append(e)
        if sponsorship := by_tier.get("sponsorship"):
            return self._weighted(sponsorship, [max(e[0].weight, 1) for e in sponsorship])
        if guaranteed := by_tier.get("guaranteed"):
            pick = self._paced(guaranteed)
            if pick is not None:
                return pick
        if performance := by_tier.get("performance"):
            return self._performance(performance)
        if house := by_tier.get("house"):
            return self._weighted(house, [max(e[0].weight, 1) for e in house])
        return None

    def _weighted(self, items: list, weights: list[float]) -> tuple:  # type: ignore[type-arg]
        if len(items) == 1:
            return items[0]
        return self.rng.choices(items, weights=weights)[0]

    def _paced(
        self, items: list[tuple[LineItem, tuple[Creative, ...]]]
    ) -> tuple[LineItem, tuple[Creative, ...]] | None:
        """One uniform draw over the line items' p (scaled to 1 when they add up past it); the
        rest, 1 − Σp, falls through to the next tier (Revive's scheme)."""
        ps = [self.pacer.p.get(e[0].line_item_id, 0.0) for e in items]
        total = sum(ps)
        if total <= 0:
            return None
        scale = 1.0 / total if total > 1.0 else 1.0
        u = self.rng.random()
        acc = 0.0
        for e, p in zip(items, ps, strict=True):
            acc += p * scale
            if u < acc:
                return e
        return None

    def ecpm(self, item: LineItem) -> float:
        """Expected fen per 1,000 impressions: bid × the smoothed click or action rate."""
        if item.pricing == "cpm":
            return float(item.bid_fen)
        d = self.delivery.get(item.line_item_id) or Delivery()
        shown = d.impressions
        if item.pricing == "cpc":
            a, b = CLICK_PRIOR
            rate = (d.clicks + a) / (shown + a + b)
        else:
            a, b = ACTION_PRIOR
            rate = (d.actions + a) / (shown + a + b)
        return item.bid_fen * rate * 1000.0

    def _performance(
        self, items: list[tuple[LineItem, tuple[Creative, ...]]]
    ) -> tuple[LineItem, tuple[Creative, ...]]:
        scores = [self.ecpm(e[0]) for e in items]
        if self.rng.random() < EXPLOIT_SHARE or len(items) == 1:
            best = max(range(len(items)), key=scores.__getitem__)
            return items[best]
        weights = [max(s, 1e-9) for s in scores]
        if not all(math.isfinite(w) for w in weights):
            weights = [1.0] * len(items)
        return self.rng.choices(items, weights=weights)[0]
