"""The ad decision against PostgreSQL: the in-process index, refreshed in the background; the
placement of an ad at login; and the counting of impressions, ghosts and clicks
(docs/ad-decision.md). The rules themselves are in ads/decision.py.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import NamedTuple

import asyncpg

from accounts import services as accounts
from ads import decision as d
from ads import tracking
from kernel.cache import TtlCache
from kernel.sql import load_queries

queries = load_queries(__file__, "delivery.sql")
log = logging.getLogger("portico.ads.delivery")

REFRESH_SECONDS = 3.0  # the index is at most this old (plus one load) on a decision
SEEN_LIMIT = 500  # the identity's newest impressions the decision's cap check reads
BATCH_MAX = 500  # events counted in one call of ad_record_events


@dataclass(frozen=True)
class Content:
    """What the page shows of a creative."""

    creative_id: uuid.UUID
    advertiser_id: uuid.UUID
    campaign_id: uuid.UUID
    advertiser_name: str
    kind: str
    headline_en: str
    headline_zh: str
    body_en: str
    body_zh: str
    landing_url: str | None
    file_id: uuid.UUID
    countdown_seconds: int


@dataclass(frozen=True)
class Snapshot:
    index: d.Index
    delivery: dict[uuid.UUID, d.Delivery]
    contents: dict[uuid.UUID, Content]
    line_items: dict[uuid.UUID, d.LineItem]
    loaded_at: float
    recent: dict[datetime, int]  # every process's impressions per recent 5-minute interval


def _caps_for(
    item_caps: dict[tuple[str, uuid.UUID], list[d.Cap]],
    advertiser_id: uuid.UUID,
    campaign_id: uuid.UUID,
    line_item_id: uuid.UUID,
    creatives: Sequence[d.Creative],
) -> tuple[d.Cap, ...]:
    caps: list[d.Cap] = []
    caps += item_caps.get(("advertiser", advertiser_id), [])
    caps += item_caps.get(("campaign", campaign_id), [])
    caps += item_caps.get(("line_item", line_item_id), [])
    for c in creatives:
        caps += item_caps.get(("creative", c.creative_id), [])
    return tuple(caps)


async def load_snapshot(db: asyncpg.Pool | asyncpg.Connection, now: datetime) -> Snapshot:
    """Every active line item, its creatives and caps, the approvals and blocks, the totals."""
    items_rows = await db.fetch(queries.active_line_items, now)
    creative_rows = await db.fetch(queries.active_creatives, now)
    cap_rows = await db.fetch(queries.frequency_caps)
    approval_rows = await db.fetch(queries.approvals)
    block_rows = await db.fetch(queries.blocks)
    total_rows = await db.fetch(queries.line_item_totals)
    recent_rows = await db.fetch(queries.recent_impressions, now - 6 * d.INTERVAL)

    contents: dict[uuid.UUID, Content] = {}
    by_campaign: dict[uuid.UUID, list[d.Creative]] = {}
    names = {r["advertiser_id"]: r["advertiser_name"] for r in items_rows}
    for r in creative_rows:
        creative = d.Creative(r["creative_id"], r["kind"], r["countdown"])
        by_campaign.setdefault(r["campaign_id"], []).append(creative)
        contents[r["creative_id"]] = Content(
            r["creative_id"],
            r["advertiser_id"],
            r["campaign_id"],
            names.get(r["advertiser_id"], ""),
            r["kind"],
            r["headline_en"],
            r["headline_zh"],
            r["body_en"],
            r["body_zh"],
            r["landing_url"],
            r["file_id"],
            r["countdown"],
        )
    item_caps: dict[tuple[str, uuid.UUID], list[d.Cap]] = {}
    for r in cap_rows:
        cap = d.Cap(r["scope"], r["scope_id"], r["max_count"], r["period"], r["window_seconds"])
        item_caps.setdefault((r["scope"], r["scope_id"]), []).append(cap)

    campaigns: dict[uuid.UUID, d.Campaign] = {}
    line_items: dict[uuid.UUID, d.LineItem] = {}
    for r in items_rows:
        campaign = campaigns.get(r["campaign_id"])
        if campaign is None:
            campaign = d.Campaign(
                r["campaign_id"],
                r["advertiser_id"],
                r["c_starts_at"],
                r["c_ends_at"],
                "active",
                r["holdout_share"],
                r["c_category"],
                r["a_category"],
                r["own_merchant_id"],
            )
            campaigns[r["campaign_id"]] = campaign
        creatives = tuple(by_campaign.get(r["campaign_id"], ()))
        line_items[r["line_item_id"]] = d.LineItem(
            r["line_item_id"],
            campaign,
            creatives,
            tier=r["tier"],
            pricing=r["pricing"],
            bid_fen=r["bid_fen"],
            budget_fen=r["budget_fen"],
            goal_impressions=r["goal_impressions"],
            pacing=r["pacing"],
            starts_at=r["starts_at"],
            ends_at=r["ends_at"],
            dayparts=frozenset(r["dayparts"]),
            weight=r["weight"],
            target_merchants=frozenset(r["target_merchants"]),
            target_stores=frozenset(r["target_stores"]),
            target_categories=frozenset(r["target_categories"]),
            target_cities=frozenset(c.casefold() for c in r["target_cities"]),
            target_languages=frozenset(r["target_languages"]),
            target_segments=frozenset(r["target_segments"]),
            target_audience=r["target_audience"],
            caps=_caps_for(
                item_caps, r["advertiser_id"], r["campaign_id"], r["line_item_id"], creatives
            ),
        )
    approved: dict[uuid.UUID, set[uuid.UUID]] = {}
    for r in approval_rows:
        approved.setdefault(r["merchant_id"], set()).add(r["campaign_id"])
    blocked_adv: dict[uuid.UUID, set[uuid.UUID]] = {}
    blocked_cat: dict[uuid.UUID, set[str]] = {}
    for r in block_rows:
        if r["advertiser_id"] is not None:
            blocked_adv.setdefault(r["merchant_id"], set()).add(r["advertiser_id"])
        if r["category"] is not None:
            blocked_cat.setdefault(r["merchant_id"], set()).add(r["category"])
    index = d.Index(
        tuple(line_items.values()),
        {k: frozenset(v) for k, v in approved.items()},
        {k: frozenset(v) for k, v in blocked_adv.items()},
        {k: frozenset(v) for k, v in blocked_cat.items()},
    )
    delivery = {
        r["line_item_id"]: d.Delivery(
            r["impressions"], r["clicks"], r["actions"], r["spend_millifen"]
        )
        for r in total_rows
    }
    recent = {r["interval_start"]: r["impressions"] for r in recent_rows}
    return Snapshot(index, delivery, contents, line_items, time.monotonic(), recent)


class Decider:
    """One process's engine: the snapshot is loaded again in the background when it is older
    than `refresh` seconds; the decision never waits for it (only the very first does, and the
    first after `clear`)."""

    def __init__(self, refresh: float = REFRESH_SECONDS, rng: random.Random | None = None) -> None:
        self.refresh = refresh
        self.engine = d.Engine(d.Index(()), rng or random.Random())
        self.snapshot: Snapshot | None = None
        self._loading: asyncio.Task[None] | None = None
        self._generation = 0  # bumped by clear(): a load begun before it is not kept

    async def _load(self, db: asyncpg.Pool, generation: int) -> None:
        snapshot = await load_snapshot(db, datetime.now(UTC))
        if generation == self._generation:
            self.snapshot = snapshot
            self.engine.replace_index(snapshot.index, snapshot.delivery, snapshot.recent)

    def _start(self, db: asyncpg.Pool) -> asyncio.Task[None]:
        self._loading = asyncio.ensure_future(self._load(db, self._generation))
        self._loading.add_done_callback(_log_failure)
        return self._loading

    async def current(self, db: asyncpg.Pool) -> Snapshot:
        while self.snapshot is None:
            loading = self._loading
            if loading is None or loading.done():
                loading = self._start(db)
            await asyncio.shield(loading)
            if loading.exception() is not None:
                raise loading.exception()  # type: ignore[misc]
        if time.monotonic() - self.snapshot.loaded_at > self.refresh and (
            self._loading is None or self._loading.done()
        ):
            self._start(db)
        return self.snapshot

    def clear(self) -> None:
        """Changes were made: the next decision reads the index afresh."""
        self.snapshot = None
        self._loading = None
        self._generation += 1


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("ad index refresh failed", exc_info=task.exception())


decider = Decider()

# What targeting matches on at a venue changes rarely: read at most once a minute.
_venues: TtlCache[uuid.UUID, accounts.VenueFacts] = TtlCache(60.0)


async def venue_facts(
    db: asyncpg.Pool, merchant_id: uuid.UUID, store_id: uuid.UUID
) -> tuple[str, str, str]:
    """(the store's category, else its merchant's; store city casefolded; store time zone),
    read through accounts.services.venue_facts and kept a minute per merchant."""
    facts = await _venues.get_or_load(
        merchant_id, lambda: accounts.venue_facts(db, merchant_id), 10.0
    )
    category = facts.category_at(store_id)
    store = facts.stores.get(store_id)
    if store is None:
        return (category, "", DEFAULT_ZONE)
    return (category, (store.city or "").casefold(), store.timezone)


async def identity_seen(
    db: asyncpg.Pool | asyncpg.Connection, merchant_id: uuid.UUID, identity: str
) -> tuple[d.Seen, ...]:
    rows = await db.fetch(queries.identity_seen, merchant_id, identity, SEEN_LIMIT)
    return tuple(d.Seen(*r) for r in rows)


class Placed(NamedTuple):
    """The decision for one page: the line item and creative shown (if any) and its token.
    (A NamedTuple: made on every splash view.)"""

    line_item: d.LineItem
    content: Content
    placement: tracking.Placement
    token: str


# Event ids need only be unique (a token's id is signed, so nobody can choose one): drawn from a
# generator of this process's own, seeded from the OS and again in a forked child, instead of
# uuid4's os.urandom, a system call on every splash view.
_event_ids = random.Random()
os.register_at_fork(after_in_child=_event_ids.seed)


def new_event_id() -> uuid.UUID:
    return uuid.UUID(int=_event_ids.getrandbits(128))


_linked: set[tuple[uuid.UUID, str, str]] = set()
LINKED_MAX = 100_000  # (identity, device) pairs this process knows are stored


async def note_device(
    db: asyncpg.Pool | asyncpg.Connection, merchant_id: uuid.UUID, identity: str, device: str
) -> None:
    """The shopper `identity` was seen on `device` (reports count the results of every device
    the identity was seen on): stored once, the query skipped once this process stored it."""
    key = (merchant_id, identity, device)
    if key in _linked:
        return
    await db.execute(queries.note_identity_device, merchant_id, identity, device)
    if len(_linked) >= LINKED_MAX:
        _linked.clear()
    _linked.add(key)


async def place_ad(
    db: asyncpg.Pool,
    secret_key: str,
    merchant_id: uuid.UUID,
    store_id: uuid.UUID,
    identity: str,
    language: str,
    *,
    device: str | None = None,
    returning: bool = False,
    segments: frozenset[str] = frozenset(),
    now: datetime | None = None,
) -> Placed | None:
    """Decide the ad of one splash view. The holdout's ghost impressions are counted now (no
    page reports them); the impression itself only when the page reports it shown. `device`:
    the device's pseudonym when `identity` is the shopper's phone or email identity."""
    now = now or datetime.now(UTC)
    snapshot = await decider.current(db)
    if not snapshot.index.line_items:
        return None
    if device and device != identity:
        await note_device(db, merchant_id, identity, device)
    category, city, tz = await venue_facts(db, merchant_id, store_id)
    request = d.Request(
        merchant_id,
        store_id,
        identity,
        now,
        language,
        category,
        city,
        tz,
        "returning" if returning else "new",
        segments,
    )
    # The identity's impressions are read only when a line item that can run here is capped
    # (most splash views then cost no query at all).
    if identity and any(item.caps for item in snapshot.index.venue_items(request)):
        request = request._replace(seen=await identity_seen(db, merchant_id, identity))
    result = decider.engine.decide(request)
    if result.ghosts:
        ghosts = [
            Event(
                new_event_id(),
                "ghost",
                merchant_id,
                identity,
                store_id,
                g.advertiser_id,
                g.campaign_id,
                g.line_item_id,
                g.creative_id,
                now,
            )
            for g in result.ghosts
        ]
        count_soon(db, ghosts)  # the page does not wait for them
    if result.line_item is None or result.creative is None:
        return None
    content = snapshot.contents.get(result.creative.creative_id)
    if content is None:
        return None
    item = result.line_item
    placement = tracking.Placement(
        new_event_id(),
        merchant_id,
        store_id,
        item.advertiser_id,
        item.campaign_id,
        item.line_item_id,
        content.creative_id,
        now.timestamp(),
        identity,
    )
    return Placed(item, content, placement, tracking.encode(secret_key, placement))


# -- counting --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Event:
    event_id: uuid.UUID
    kind: str  # impression | ghost | click | action
    merchant_id: uuid.UUID
    identity: str
    store_id: uuid.UUID | None
    advertiser_id: uuid.UUID
    campaign_id: uuid.UUID
    line_item_id: uuid.UUID
    creative_id: uuid.UUID
    occurred_at: datetime


def _price_millifen(item: d.LineItem | None, kind: str) -> int:
    if item is None:
        return 0
    if kind == "impression" and item.pricing == "cpm":
        return item.bid_fen
    if (kind, item.pricing) in (("click", "cpc"), ("action", "cpa")):
        return item.bid_fen * 1000
    return 0


def _arguments(
    events: Sequence[Event], items: dict[uuid.UUID, d.LineItem], zones: dict[uuid.UUID, str]
) -> list[list[object]]:
    """ad_record_events' parallel arrays: the events', then their line items' caps."""
    columns: list[list[object]] = [[] for _ in range(14)]
    (ids, kinds, merchants, identities, stores, advertisers, campaigns, line_items, creatives,
     at, tzs, prices, goals, budgets) = columns  # fmt: skip
    caps: list[list[object]] = [[] for _ in range(6)]
    capped: set[uuid.UUID] = set()
    for e in events:
        item = items.get(e.line_item_id)
        ids.append(e.event_id)
        kinds.append(e.kind)
        merchants.append(e.merchant_id)
        identities.append(e.identity)
        stores.append(e.store_id)
        advertisers.append(e.advertiser_id)
        campaigns.append(e.campaign_id)
        line_items.append(e.line_item_id)
        creatives.append(e.creative_id)
        at.append(e.occurred_at)
        tzs.append(zones.get(e.store_id, DEFAULT_ZONE) if e.store_id else DEFAULT_ZONE)
        prices.append(_price_millifen(item, e.kind))
        goals.append(item.goal() if item is not None else None)
        budget = item.budget_fen if item is not None else None
        budgets.append(budget * 1000 if budget is not None else None)
        if item is not None and item.caps and e.line_item_id not in capped:
            capped.add(e.line_item_id)
            for cap in item.caps:
                for column, value in zip(
                    caps,
                    (
                        e.line_item_id,
                        cap.scope,
                        cap.scope_id,
                        cap.max_count,
                        cap.period,
                        cap.window_seconds,
                    ),
                    strict=True,
                ):
                    column.append(value)
    return columns + caps


DEFAULT_ZONE = "Asia/Shanghai"


async def record_events(
    db: asyncpg.Pool | asyncpg.Connection,
    events: Sequence[Event],
    snapshot: Snapshot | None = None,
    zones: dict[uuid.UUID, str] | None = None,
) -> list[str]:
    """Count events atomically (ad_record_events): each one's outcome, in order: counted,
    duplicate, capped or goal_reached. The line items' caps, goal, budget and price come from
    the snapshot (the decider's when not given); `zones`: the stores' time zones (daily caps
    count the store's local day)."""
    snapshot = snapshot or decider.snapshot
    items = snapshot.line_items if snapshot else {}
    outcomes: list[str] = []
    counted: Counter[uuid.UUID] = Counter()
    for start in range(0, len(events), BATCH_MAX):
        batch = events[start : start + BATCH_MAX]
        rows = await db.fetch(queries.record_events, *_arguments(batch, items, zones or {}))
        outcomes += [r["outcome"] for r in rows]
        for e, r in zip(batch, rows, strict=True):
            if r["outcome"] == "counted" and e.kind == "impression":
                counted[e.line_item_id] += 1
    if snapshot is decider.snapshot:
        for li, n in counted.items():
            for _ in range(n):
                decider.engine.count_impression(li)
    return outcomes


async def count_refusal(db: asyncpg.Pool, merchant_id: uuid.UUID, reason: str) -> None:
    await db.execute(queries.count_refusal, merchant_id, reason)


async def refusals(db: asyncpg.Pool, merchant_id: uuid.UUID) -> dict[str, int]:
    return {r["reason"]: r["count"] for r in await db.fetch(queries.refusals, merchant_id)}


class EventWriter:
    """Counts the events reported at the same time in one call: each report waits for its own
    outcome (so nothing is acknowledged before it is stored), and the reports that arrive while
    one call runs go together in the next."""

    def __init__(self, db: asyncpg.Pool) -> None:
        self._db = db
        self._queue: list[tuple[Event, str | None, asyncio.Future[str]]] = []
        self._task: asyncio.Task[None] | None = None

    async def submit(self, event: Event, tz: str | None = None) -> str:
        """Count one event (with its store's time zone); its outcome."""
        return await self.enqueue(event, tz)

    def enqueue(self, event: Event, tz: str | None = None) -> asyncio.Future[str]:
        """Queue one event to count; the future of its outcome."""
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._queue.append((event, tz, future))
        if self._task is None or self._task.done():
            self._task = asyncio.ensure_future(self._drain())
        return future

    async def _drain(self) -> None:
        while self._queue:
            batch, self._queue = self._queue[:BATCH_MAX], self._queue[BATCH_MAX:]
            zones = {e.store_id: tz for e, tz, _ in batch if e.store_id and tz}
            try:
                outcomes = await record_events(self._db, [e for e, _, _ in batch], None, zones)
            except Exception as error:  # every waiter hears of it; the next batch still runs
                for _, _, future in batch:
                    if not future.done():
                        future.set_exception(error)
                continue
            for (_, _, future), outcome in zip(batch, outcomes, strict=True):
                if not future.done():
                    future.set_result(outcome)


_writers: dict[int, EventWriter] = {}
_pending: set[asyncio.Future[str]] = set()


def writer(db: asyncpg.Pool) -> EventWriter:
    """The process's event writer on this pool (the tracking routes' and the ghosts')."""
    found = _writers.get(id(db))
    if found is None:
        found = _writers[id(db)] = EventWriter(db)
    return found


def count_soon(db: asyncpg.Pool, events: list[Event]) -> None:
    """Count events in the background (ghosts, actions): a failure is logged. (Queued with
    no task of their own: a splash view that holds a shopper out makes one.)"""
    events_writer = writer(db)
    for event in events:
        future = events_writer.enqueue(event)
        _pending.add(future)
        future.add_done_callback(_counted)


def _counted(task: asyncio.Future[str]) -> None:
    _pending.discard(task)
    if not task.cancelled() and task.exception() is not None:
        log.error("ad event not counted", exc_info=task.exception())


async def settled() -> None:
    """Until the events given to count_soon so far are counted (tests, shutdown)."""
    while _pending:
        await asyncio.gather(*list(_pending), return_exceptions=True)
