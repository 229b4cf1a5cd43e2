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
once per venue and index and kept as a plan by tier (performance in eCPM order, cumulative
weights for the draws), and a decision then asks only the line items its draws land on whether
they can run now, so that it stays fast however many line items are active (docs/ad-decision.md).
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
import math
import random
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property, lru_cache
from typing import NamedTuple
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

    @cached_property
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


class Request(NamedTuple):
    """One splash view as the decision sees it (a NamedTuple: made on every view)."""

    merchant_id: uuid.UUID
    store_id: uuid.UUID
    identity: str  # the strongest pseudonym known at this merchant (PRODUCT.md §4)
    now: datetime
    language: str = "zh-CN"
    category: str = "other"  # the store's (its merchant's when the store has none)
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


# Ghost and Decision are NamedTuples: one or more is made on every splash view, and a frozen
# dataclass costs several times as much to make.
class Ghost(NamedTuple):
    line_item_id: uuid.UUID
    campaign_id: uuid.UUID
    advertiser_id: uuid.UUID
    creative_id: uuid.UUID


class Decision(NamedTuple):
    line_item: LineItem | None
    creative: Creative | None
    ghosts: tuple[Ghost, ...] = ()


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
    _guaranteed: tuple[LineItem, ...] = field(default=(), compare=False, repr=False)

    @property
    def guaranteed(self) -> tuple[LineItem, ...]:
        return self._guaranteed

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "_guaranteed", tuple(i for i in self.line_items if i.tier == "guaranteed")
        )
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

    def runs_at(self, merchant_id: uuid.UUID, campaign_id: uuid.UUID) -> bool:
        """Whether the campaign may run at the merchant (approved there, or its own)."""
        return campaign_id in self._merchant_campaigns.get(merchant_id, ())

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
    if share <= 0 or not identity:  # nobody known: no holdout to keep
        return False
    digest = hashlib.blake2b(f"{identity}|{_text(campaign_id)}".encode(), digest_size=8).digest()
    return int.from_bytes(digest) / 2**64 < share


# str(uuid) formats in Python (1 µs, most of a holdout check); the active campaigns are few.
_text = lru_cache(maxsize=4096)(str)


def interval_start(t: datetime) -> datetime:
    """The start of the 5-minute pacing interval holding `t`."""
    seconds = int(t.timestamp())
    return datetime.fromtimestamp(seconds - seconds % INTERVAL_SECONDS, t.tzinfo)


SLOTS_PER_DAY = 288  # 5-minute intervals
SLOTS_PER_WEEK = 7 * SLOTS_PER_DAY
SHARE_DECAY = 0.99  # per interval: a line item's share of the traffic looks back ~8 hours
_EPOCH_WEEKDAY = 3  # 1970-01-01 was a Thursday (Monday = 0)


# -- pacing ----------------------------------------------------------------------------------------


class Pacer:
    """Guaranteed line items' serving probabilities, set again every 5-minute interval.

    p = remaining goal ÷ forecast eligible requests in the flight's remaining daypart-eligible
    intervals, × compensation (planned ÷ actual delivery of the last interval, clamped 0.5–2);
    With several portal processes each paces its share of the remaining goal (its impressions ÷
    everyone's in a recent interval, from the counters).
    `asap` line items and those without a goal get p = 1; a line item outside its dayparts
    at this hour of the pacer's time zone (the deployment's, `Engine.timezone`) gets none.

    The forecast is factorised so that a new interval costs O(1) per line item however long its
    flight: the process's traffic per 5-minute slot of the (local) day, learnt over the days (an
    exponential average; slots not seen yet: the mean of the last hour), summed over the
    remaining intervals whose hour of the week is in the line item's dayparts (prefix sums over
    the 2,016 slots of a week, one array per distinct set of dayparts), × the line item's share
    of the traffic when it could run (eligible requests ÷ requests, decaying over ~8 hours;
    1 until it has run an interval).
    """

    def __init__(self) -> None:
        self.interval: datetime | None = None
        self.p: dict[uuid.UUID, float] = {}
        self.profile: dict[int, float] = {}  # requests per local slot of the day
        self._traffic = 0  # requests this interval
        self._recent: list[int] = []  # requests of the last 12 intervals
        self._eligible: dict[uuid.UUID, float] = {}  # eligible requests this interval
        self._delivered: dict[uuid.UUID, int] = {}  # impressions counted this interval
        self._planned: dict[uuid.UUID, float] = {}  # impressions planned for this interval
        self._last: dict[uuid.UUID, tuple[float, int]] = {}  # last interval: (planned, actual)
        self._share: dict[uuid.UUID, tuple[float, float]] = {}  # (eligible, requests), decayed
        self._running: set[uuid.UUID] = set()  # in flight and dayparts this interval
        # This process's share of the deployment's traffic (several portal processes each pace
        # their part of the remaining goal): its impressions ÷ everyone's in a past interval.
        self.process_share = 1.0
        self.shown: dict[datetime, int] = {}  # this process's impressions per interval

    def set_process_share(self, everyone: Mapping[datetime, int]) -> None:
        """From everyone's impressions per interval (the counters): the latest finished
        interval before the current one that both this process and the counters saw."""
        for start in sorted(everyone, reverse=True):
            if start == self.interval or start not in self.shown or everyone[start] <= 0:
                continue
            self.process_share = min(max(self.shown[start] / everyone[start], 0.01), 1.0)
            return

    def count_request(self) -> None:
        self._traffic += 1

    def count_eligible(self, line_item_id: uuid.UUID, weight: float = 1.0) -> None:
        self._eligible[line_item_id] = self._eligible.get(line_item_id, 0.0) + weight

    def count_delivered(self, line_item_id: uuid.UUID, n: int = 1) -> None:
        self._delivered[line_item_id] = self._delivered.get(line_item_id, 0) + n
        if self.interval is not None:
            self.shown[self.interval] = self.shown.get(self.interval, 0) + n

    def learn(self, slot: int, requests: float) -> None:
        """One interval's requests into the day's profile (local slot of the day, 0–287)."""
        old = self.profile.get(slot)
        self.profile[slot] = requests if old is None else 0.5 * old + 0.5 * requests

    def share(self, line_item_id: uuid.UUID) -> float:
        eligible, requests = self._share.get(line_item_id, (0.0, 0.0))
        return min(max(eligible / requests, 1e-4), 1.0) if requests > 0 else 1.0

    def roll(
        self,
        now: datetime,
        items: Sequence[LineItem],
        delivered: Mapping[uuid.UUID, int],
        tz: ZoneInfo,
    ) -> None:
        """At the first decision of a new interval: close the last one (learn its traffic and
        the line items' shares, compare delivery with the plan) and set every guaranteed line
        item's p. `delivered`: impressions so far (all processes, from the counters); `tz`: the
        venues' time zone (the dayparts and the day's profile are local)."""
        start = interval_start(now)
        if self.interval == start:
            return
        offset = now.astimezone(tz).utcoffset() or timedelta(0)
        shift = int(offset.total_seconds()) // INTERVAL_SECONDS
        if self.interval is not None:
            n = self._traffic
            k = int(self.interval.timestamp()) // INTERVAL_SECONDS
            self.learn((k + shift) % SLOTS_PER_DAY, n)
            self._recent.append(n)
            del self._recent[:-12]
            for li_id in self._running:
                eligible, requests = self._share.get(li_id, (0.0, 0.0))
                self._share[li_id] = (
                    eligible * SHARE_DECAY + self._eligible.get(li_id, 0),
                    requests * SHARE_DECAY + n,
                )
            self._last = {
                li: (plan, self._delivered.get(li, 0)) for li, plan in self._planned.items()
            }
        self.interval = start
        for old in [t for t in self.shown if t < start - 12 * INTERVAL]:
            del self.shown[old]
        self._traffic = 0
        self._eligible, self._delivered, self._planned, self.p = {}, {}, {}, {}
        self._running = set()
        fallback = max(sum(self._recent) / len(self._recent), 1.0) if self._recent else 1.0
        day = [self.profile.get(s, fallback) for s in range(SLOTS_PER_DAY)]
        k0 = int(start.timestamp()) // INTERVAL_SECONDS
        week_slot = (k0 + shift + _EPOCH_WEEKDAY * SLOTS_PER_DAY) % SLOTS_PER_WEEK
        hour = week_slot // 12
        prefixes: dict[frozenset[int], list[float]] = {}
        for item in items:
            begin, end = item.flight
            if item.tier != "guaranteed" or not (begin <= start < end):
                continue
            li_id = item.line_item_id
            if item.dayparts and hour not in item.dayparts:
                continue  # not this hour (the pacer's time zone): no p, no share to learn
            self._running.add(li_id)
            goal = item.goal()
            if goal is None or item.pacing == "asap":
                self.p[li_id] = 1.0
                continue
            # this process's part of what is left (the others pace theirs)
            remaining = (goal - delivered.get(li_id, 0)) * self.process_share
            if remaining <= 0:
                continue
            prefix = prefixes.get(item.dayparts)
            if prefix is None:
                prefix = prefixes[item.dayparts] = _week_prefix(day, item.dayparts)
            intervals = -(-int(end.timestamp()) // INTERVAL_SECONDS) - k0
            share = self.share(li_id)
            forecast = share * _window(prefix, week_slot, intervals)
            p = remaining / forecast if forecast > 0 else 1.0
            last = self._last.get(li_id)
            if last is not None and last[0] > 0:
                planned, actual = last
                ratio = planned / actual if actual > 0 else COMPENSATION_BOUNDS[1]
                p *= min(max(ratio, COMPENSATION_BOUNDS[0]), COMPENSATION_BOUNDS[1])
            p = min(p, 1.0)
            self.p[li_id] = p
            self._planned[li_id] = p * share * day[week_slot % SLOTS_PER_DAY]


def _week_prefix(day: list[float], dayparts: frozenset[int]) -> list[float]:
    """Prefix sums over the week's 2,016 slots of the day's profile, in the dayparts only."""
    prefix = [0.0] * (SLOTS_PER_WEEK + 1)
    total = 0.0
    for ws in range(SLOTS_PER_WEEK):
        if not dayparts or ws // 12 in dayparts:
            total += day[ws % SLOTS_PER_DAY]
        prefix[ws + 1] = total
    return prefix


def _window(prefix: list[float], first: int, intervals: int) -> float:
    """The sum over `intervals` consecutive week slots from `first` (wrapping round the week)."""
    if intervals <= 0:
        return 0.0
    weeks, rest = divmod(intervals, SLOTS_PER_WEEK)
    total = weeks * prefix[SLOTS_PER_WEEK]
    end = first + rest
    if end <= SLOTS_PER_WEEK:
        total += prefix[end] - prefix[first]
    else:
        total += prefix[SLOTS_PER_WEEK] - prefix[first] + prefix[end - SLOTS_PER_WEEK]
    return total


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
    _plans: dict[tuple[object, ...], object] = field(default_factory=dict, repr=False)
    _cursor: int = 0  # where the next sample of guaranteed line items starts

    def replace_index(
        self,
        index: Index,
        delivery: Mapping[uuid.UUID, Delivery],
        everyone: Mapping[datetime, int] | None = None,
    ) -> None:
        """A new index and the counters' delivery; `everyone`: all processes' impressions per
        recent interval (this process's share of the traffic, for pacing)."""
        self.index = index
        self.delivery = dict(delivery)
        self.local_impressions = {}
        self._plans = {}
        if everyone:
            self.pacer.set_process_share(everyone)

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
        if self.pacer.interval is None or not (
            self.pacer.interval <= r.now < self.pacer.interval + INTERVAL
        ):
            guaranteed = self.index.guaranteed
            self.pacer.roll(
                r.now,
                guaranteed,
                {i.line_item_id: self.delivered(i.line_item_id) for i in guaranteed},
                _zone(self.timezone),
            )
        self.pacer.count_request()
        plan = self._plan(r)
        if plan is None:
            return Decision(None, None)
        check = _Check(self, r)
        self._count_eligible(plan.guaranteed, check)
        ghosts: list[Ghost] = []
        while True:
            item = (
                self._draw(plan.sponsorship, check)
                or self._paced(plan, check)
                or self._performance(plan, check)
                or self._draw(plan.house, check)
            )
            if item is None:
                return Decision(None, None, tuple(ghosts))
            creative = self._creative(check.creatives(item) or item.creatives)
            campaign = item.campaign
            if not in_holdout(r.identity, campaign.campaign_id, campaign.holdout_share):
                return Decision(item, creative, tuple(ghosts))
            ghost = Ghost(
                item.line_item_id, campaign.campaign_id, item.advertiser_id, creative.creative_id
            )
            ghosts.append(ghost)
            check.excluded.add(campaign.campaign_id)

    def _plan(self, r: Request) -> _Plan | None:
        """The venue's line items by tier, performance by eCPM (kept until the next index)."""
        key = (r.merchant_id, r.store_id, r.language, r.category, r.city)
        plan = self._plans.get(key, _NO_PLAN)
        if plan is _NO_PLAN:
            venue = self.index.venue_items(r)
            plan = _Plan.of(venue, self.ecpm) if venue else None
            if len(self._plans) > 100_000:
                self._plans.clear()
            self._plans[key] = plan
        return plan  # type: ignore[return-value]

    def _creative(self, creatives: tuple[Creative, ...]) -> Creative:
        if len(creatives) == 1:
            return creatives[0]
        return self.rng.choices(creatives, weights=[max(c.weight, 1) for c in creatives])[0]

    def _draw(self, pool: _Weighted, check: _Check) -> LineItem | None:
        """One draw by weight among the pool's line items that can run now: by rejection (a
        drawn line item that cannot is drawn again) a few times, then among all that can."""
        if not pool.items:
            return None
        for _ in range(REJECTION_TRIES):
            item = pool.items[bisect.bisect(pool.cumulative, self.rng.random() * pool.total)]
            if check.ok(item):
                return item
        ok = [(i, w) for i, w in zip(pool.items, pool.weights, strict=True) if check.ok(i)]
        if not ok:
            return None
        return self.rng.choices([i for i, _ in ok], weights=[w for _, w in ok])[0]

    def _count_eligible(self, items: tuple[LineItem, ...], check: _Check) -> None:
        """The guaranteed line items this request could serve, for the pacer's shares: all of
        them at a venue with few; at one with more, a rotating sample of COUNT_SAMPLE, each
        counted for the ones it stands for (an unbiased count at a bounded cost)."""
        n = len(items)
        if n <= COUNT_SAMPLE:
            for item in items:
                if check.targeted(item):
                    self.pacer.count_eligible(item.line_item_id)
            return
        start = self._cursor % n
        self._cursor += COUNT_SAMPLE
        weight = n / COUNT_SAMPLE
        for k in range(start, start + COUNT_SAMPLE):
            item = items[k % n]
            if check.targeted(item):
                self.pacer.count_eligible(item.line_item_id, weight)

    def _paced(self, plan: _Plan, check: _Check) -> LineItem | None:
        """One uniform draw over the venue's guaranteed line items' p (scaled to 1 when they add
        up past it); the rest, 1 − Σp, falls through to the next tier (Revive's scheme). A line
        item the draw lands on that cannot run for this request (not targeted, capped, spent,
        held out) falls through too: the same odds as a draw among only those that can run,
        without asking each of them (p is a line item's chance when it can run)."""
        if not plan.guaranteed:
            return None
        if plan.paced_interval != self.pacer.interval:
            p = self.pacer.p
            cumulative = list(
                itertools.accumulate(p.get(i.line_item_id, 0.0) for i in plan.guaranteed)
            )
            plan.paced_interval = self.pacer.interval
            plan.paced_cumulative = cumulative
        cumulative = plan.paced_cumulative
        total = cumulative[-1]
        if total <= 0:
            return None
        u = self.rng.random() * max(total, 1.0)
        k = bisect.bisect(cumulative, u)
        if k >= len(cumulative):
            return None
        item = plan.guaranteed[k]
        return item if check.ok(item) else None

    def _performance(self, plan: _Plan, check: _Check) -> LineItem | None:
        """The best eCPM that can run 90 % of the time, an eCPM-weighted draw otherwise."""
        if not plan.performance.items:
            return None
        if self.rng.random() < EXPLOIT_SHARE:
            for item in plan.performance.items:  # by eCPM, best first
                if check.ok(item):
                    return item
            return None
        return self._draw(plan.performance, check)

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


REJECTION_TRIES = 8
COUNT_SAMPLE = 64  # guaranteed line items looked at per request for the pacer's shares
_NO_PLAN = object()


@dataclass(frozen=True)
class _Weighted:
    items: tuple[LineItem, ...]
    weights: tuple[float, ...]
    cumulative: tuple[float, ...]
    total: float

    @classmethod
    def of(cls, items: Sequence[LineItem], weights: Sequence[float]) -> _Weighted:
        cumulative = tuple(itertools.accumulate(weights))
        # bisect on the cumulative weights never returns past the last item
        return cls(
            tuple(items),
            tuple(weights),
            (*cumulative[:-1], math.inf) if cumulative else (),
            cumulative[-1] if cumulative else 0.0,
        )


@dataclass
class _Plan:
    sponsorship: _Weighted
    guaranteed: tuple[LineItem, ...]
    performance: _Weighted  # best eCPM first
    house: _Weighted
    # the guaranteed line items' cumulative p, for the pacer's current interval
    paced_interval: datetime | None = None
    paced_cumulative: list[float] = field(default_factory=list)

    @classmethod
    def of(cls, venue: Sequence[LineItem], ecpm: Callable[[LineItem], float]) -> _Plan:
        def weighted(tier: str) -> _Weighted:
            items = [i for i in venue if i.tier == tier]
            return _Weighted.of(items, [float(max(i.weight, 1)) for i in items])

        scored = sorted(
            ((ecpm(i), i) for i in venue if i.tier == "performance"),
            key=lambda pair: (-pair[0], pair[1].line_item_id),
        )
        performance = _Weighted.of(
            [i for _, i in scored], [max(score, 1e-9) for score, _ in scored]
        )
        guaranteed = tuple(i for i in venue if i.tier == "guaranteed")
        return cls(weighted("sponsorship"), guaranteed, performance, weighted("house"))


class _Check:
    """Whether a line item can run for one request (targeting beyond the venue, caps, budget),
    each line item and each cap looked at once."""

    def __init__(self, engine: Engine, r: Request) -> None:
        self.engine = engine
        self.r = r
        self.now = r.now
        self.tz = _zone(r.timezone)
        self.excluded: set[uuid.UUID] = set()  # campaigns held out of this request
        self._creatives: dict[uuid.UUID, tuple[Creative, ...] | None] = {}
        self._full: dict[Cap, bool] = {}
        # the identity's impressions by scope id (creative, line item, campaign, advertiser)
        self._seen: dict[uuid.UUID, list[datetime]] = {}
        for s in r.seen:
            for scope_id in (s.creative_id, s.line_item_id, s.campaign_id, s.advertiser_id):
                self._seen.setdefault(scope_id, []).append(s.at)

    @cached_property
    def hour(self) -> int:
        """The venue's local hour of the week (asked only of line items with dayparts)."""
        return hour_of_week(self.now, self.tz)

    def targeted(self, item: LineItem) -> bool:
        start, end = item.flight
        r = self.r
        return (
            start <= self.now < end
            and (not item.dayparts or self.hour in item.dayparts)
            and (item.target_audience == "all" or item.target_audience == r.audience)
            and (not item.target_segments or bool(item.target_segments & r.segments))
        )

    def full(self, cap: Cap) -> bool:
        hit = self._full.get(cap)
        if hit is None:
            times = self._seen.get(cap.scope_id)
            if not times:
                hit = False
            else:
                since = cap.since(self.now, self.tz)
                n = len(times) if since is None else sum(1 for t in times if t >= since)
                hit = n >= cap.max_count
            self._full[cap] = hit
        return hit

    def creatives(self, item: LineItem) -> tuple[Creative, ...] | None:
        """The creatives the line item can show now (None: it cannot run), targeting aside."""
        li = item.line_item_id
        if li in self._creatives:
            return self._creatives[li]
        creatives: tuple[Creative, ...] | None = item.creatives
        if item.caps:
            if any(cap.scope != "creative" and self.full(cap) for cap in item.caps):
                creatives = None
            else:
                full = {c.scope_id for c in item.caps if c.scope == "creative" and self.full(c)}
                if full:
                    creatives = tuple(c for c in item.creatives if c.creative_id not in full)
        if creatives is not None and (not creatives or not self.engine._budget_left(item)):
            creatives = None
        self._creatives[li] = creatives
        return creatives

    def ok(self, item: LineItem) -> bool:
        return (
            item.campaign_id not in self.excluded
            and self.targeted(item)
            and self.creatives(item) is not None
        )
