"""The trigger engine: the live stream folded into profiles, tags and contacts, exactly once.

Producers (wired by the composition root) put events into `marketing_inbox` under ids of their
own making, so a redelivered message is one event (marketing/intake.py). The engine takes the
oldest waiting events in one transaction (`FOR UPDATE SKIP LOCKED`: a second engine takes
others), and in that same transaction:

1. takes the batch's merchants (an advisory lock each, sorted: one engine at a time decides
   for a merchant) and reads the profiles the events touch;
2. folds each event into its profile (marketing/profiles.py), re-evaluates the merchant's tags
   (marketing/tags.py) and finds the scenes it sets off: an arrival, a dwell passing a
   trigger's minutes, a login, a redemption;
3. runs each matching trigger's contact through the budget (marketing/budget.py) against the
   shopper's contacts read under the lock, and records it: pending (for dispatch), holdout or
   suppressed with its reason;
4. marks earlier contacts converted by a redemption or a return visit;
5. writes the profiles back (the events were marked done as they were taken, in the same
   transaction).

A crash before the commit leaves the events waiting and nothing written; each contact's id is
derived from its event and trigger, so the same event decided again is the same contact. The
dispatcher (marketing/dispatch.py) sends pending contacts after the commit.

`Batch` is the pure part (no database), measured on its own by bench/marketing.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

from accounts import services as accounts
from kernel.jobs import TRANSIENT
from kernel.sql import load_queries
from marketing import budget, profiles, rules, tags
from marketing.profiles import Profile

log = logging.getLogger("portico.marketing.engine")
queries = load_queries(__file__, "engine.sql")

BATCH = 5_000
CONFIG_TTL = 5.0  # seconds: a console change reaches the engine within this
# While events wait, a profile whose only change is its latest sighting is written at most
# this often (seconds), and at a graceful stop (`flush`). Docs: "The engine, exactly once".
PRESENCE_WRITE = 180.0
IDLE = 20 * 60.0  # seconds: a profile not touched for so long is no longer kept in memory
MAX_KEPT = 2_000_000  # profiles kept in memory at most
POLL = 1.0  # seconds between looks at the inbox when nothing woke the engine
RETRY = 5.0  # seconds before a batch the database lost is taken again
FULL_COLLECTION = 600.0  # seconds between the garbage collector's scans of all it holds
DEFAULT_ZONE = "Asia/Shanghai"
CONTACT_NAMESPACE = uuid.UUID("6b1f8f0e-4a43-4e59-9a53-2f1c9a7d2e10")
HISTORY_DAYS = 8  # a batch reads the contacts of so many days before its first event (the week)
COMPLETE = datetime.min.replace(tzinfo=UTC)  # a history no contact can be missing from (a new key)


@dataclass(frozen=True)
class Trigger:
    trigger_id: uuid.UUID
    version: int
    event: str  # 'arrival', 'dwell', 'login', 'redemption'
    dwell_minutes: int | None
    store_id: uuid.UUID | None
    check: rules.Check
    channel: str
    offer_key: str
    holdout_share: float


@dataclass
class Config:
    """What the engine knows of one merchant, reloaded every CONFIG_TTL seconds."""

    tags: tags.CompiledTags
    triggers: list[Trigger]
    budget: budget.Settings
    zones: dict[uuid.UUID, ZoneInfo]
    zone: ZoneInfo
    loaded_at: float = 0.0

    def zone_of(self, store_id: uuid.UUID | None) -> ZoneInfo:
        return self.zones.get(store_id, self.zone) if store_id is not None else self.zone


@dataclass(frozen=True)
class Event:
    merchant_id: uuid.UUID
    event_id: uuid.UUID
    kind: str  # 'sighting', 'login', 'claim', 'redemption', 'consent'
    device_hash: str
    store_id: uuid.UUID | None
    occurred_at: datetime
    payload: Mapping[str, Any]


@dataclass(frozen=True)
class Contact:
    merchant_id: uuid.UUID
    contact_id: uuid.UUID
    profile_key: str
    trigger: Trigger
    store_id: uuid.UUID | None
    event_id: uuid.UUID
    event_at: datetime
    decision: budget.Decision


@dataclass(frozen=True)
class Conversion:
    merchant_id: uuid.UUID
    profile_key: str
    at: datetime
    kind: str  # 'redemption', 'return_visit'
    coupon_id: uuid.UUID | None


_NO_PAYLOAD: Mapping[str, Any] = MappingProxyType({})


def events_of(row: Mapping[str, Any]) -> list[Event]:
    """A taken inbox row's events: a sightings row's each (in time order), else the one."""
    if row["kind"] != "sightings":
        return [event_of(row)]
    merchant_id, store_id = row["merchant_id"], row["store_id"]
    return [
        Event(merchant_id, event_id, "sighting", device, store_id, at, _NO_PAYLOAD)
        for device, at, event_id in zip(
            row["devices"], row["seen_at"], row["sighting_ids"], strict=True
        )
    ]


def event_of(row: Mapping[str, Any]) -> Event:
    payload = row["payload"] or {}  # a sighting's is not read (take_events)
    return Event(
        merchant_id=row["merchant_id"],
        event_id=row["event_id"],
        kind=row["kind"],
        device_hash=row["device_hash"],
        store_id=row["store_id"],
        occurred_at=row["occurred_at"],
        payload=json.loads(payload) if isinstance(payload, str) else payload,
    )


def addressed_key(event: Event, linked: Mapping[tuple[uuid.UUID, str], str]) -> str:
    """The profile an event is about: the identity's for a consent event that names one (a
    withdrawal by link or by staff: no device), else its device's (linked, or its own)."""
    identity = event.payload.get("identity_hash")
    if event.kind == "consent" and isinstance(identity, str) and identity:
        return profiles.identity_key(identity)
    key = linked.get((event.merchant_id, event.device_hash))
    return key or profiles.device_key(event.device_hash)


def profile_keys_needed(
    events: Iterable[Event], linked: Mapping[tuple[uuid.UUID, str], str]
) -> set[tuple[uuid.UUID, str]]:
    """Every profile the events may touch: each one's own (addressed_key) and each identity
    a login names."""
    keys: set[tuple[uuid.UUID, str]] = set()
    for e in events:
        keys.add((e.merchant_id, addressed_key(e, linked)))
        identity = e.payload.get("identity_hash")
        if isinstance(identity, str) and identity:
            keys.add((e.merchant_id, profiles.identity_key(identity)))
    return keys


@dataclass
class Batch:
    """One batch's events applied to its locked profiles (pure): what to write back."""

    configs: Mapping[uuid.UUID, Config]
    profiles: dict[tuple[uuid.UUID, str], Profile]
    histories: dict[tuple[uuid.UUID, str], budget.History]
    linked: dict[tuple[uuid.UUID, str], str]
    contacts: list[Contact] = field(default_factory=list)
    conversions: list[Conversion] = field(default_factory=list)
    # (merchant, device) -> (the identity's profile, when the login linked them)
    links: dict[tuple[uuid.UUID, str], tuple[str, datetime]] = field(default_factory=dict)
    merged: list[tuple[uuid.UUID, str, str]] = field(default_factory=list)  # (merchant, from, into)
    # each history holds every contact decided since this moment (and every one in an arm)
    since: dict[tuple[uuid.UUID, str], datetime] = field(default_factory=dict)

    def apply(self, event: Event) -> None:
        config = self.configs[event.merchant_id]
        profile = self._profile_of(event)
        at = event.occurred_at
        if event.kind == "sighting" and profile.last_seen_at is not None:
            if at <= profile.last_seen_at:
                return  # a late or redelivered sighting: folded already, or older than what was
        zone = config.zone_of(event.store_id)
        dwell_before = profiles.dwell_now(profile)
        scenes: list[str] = []
        if event.kind in ("sighting", "login") and event.store_id is not None:
            had_visit = profile.visit_started_at is not None
            if profiles.see(profile, event.store_id, at):
                scenes.append("arrival")
                dwell_before = timedelta(0)
                if had_visit:
                    self._convert(profile, at, "return_visit", None)
        if event.kind == "login":
            profile = self._log_in(event, profile, at)
            scenes.append("login")
        elif event.kind == "claim":
            profiles.claim(profile, at)
        elif event.kind == "redemption":
            profiles.redeem(profile, at)
            self._convert(profile, at, "redemption", _uuid(event.payload.get("coupon_id")))
            scenes.append("redemption")
        elif event.kind == "consent":
            channel, given = event.payload.get("channel"), event.payload.get("given")
            if channel in ("sms", "email", "wechat", "all") and isinstance(given, bool):
                profiles.set_consent(profile, channel, given, at)
        facts = profiles.facts(profile, at, zone, self._visit_counts(profile, at, zone))
        profile.tags = config.tags.evaluate(facts)
        dwell_after = profiles.dwell_now(profile)
        for trigger in config.triggers:
            if not _sets_off(trigger, scenes, dwell_before, dwell_after, event.store_id):
                continue
            if trigger.check(facts, profile.tags):
                self._contact(config, profile, trigger, event, zone)

    def _visit_counts(self, profile: Profile, at: datetime, zone: ZoneInfo) -> tuple[int, int]:
        """profiles.visit_counts, computed again only when a visit starts or the day turns
        (most events are sightings of a visit going on): kept with the profile in memory."""
        stamp = (profile.visits_total, at.date(), zone.key)
        memo = profile.counts_memo
        if memo is None or memo[0] != stamp:
            memo = profile.counts_memo = (stamp, profiles.visit_counts(profile, at, zone))
        return memo[1]

    def _profile_of(self, event: Event) -> Profile:
        return self._load(event.merchant_id, addressed_key(event, self.linked), event.occurred_at)

    def _load(self, merchant_id: uuid.UUID, key: str, at: datetime) -> Profile:
        profile = self.profiles.get((merchant_id, key))
        if profile is None:  # not locked in advance: only when a caller skipped the lookup
            profile = self.profiles[(merchant_id, key)] = profiles.new_profile(merchant_id, key, at)
        return profile

    def _log_in(self, event: Event, profile: Profile, at: datetime) -> Profile:
        identity = event.payload.get("identity_hash")
        if isinstance(identity, str) and identity:
            key = profiles.identity_key(identity)
            if key != profile.profile_key:
                target = self._load(event.merchant_id, key, at)
                if profile.profile_key.startswith("d:"):
                    profiles.merge(target, profile)
                    self._merge_history(event.merchant_id, profile.profile_key, key)
                    del self.profiles[(event.merchant_id, profile.profile_key)]
                    self.merged.append((event.merchant_id, profile.profile_key, key))
                self.linked[(event.merchant_id, event.device_hash)] = key
                self.links[(event.merchant_id, event.device_hash)] = (key, at)
                profile = target
        method = event.payload.get("method")
        if isinstance(method, str) and method:
            profiles.log_in(profile, method[:20], at)
        for channel in ("sms", "email"):
            given = event.payload.get(f"consent_{channel}")
            if isinstance(given, bool):
                profiles.set_consent(profile, channel, given, at)
        return profile

    def _merge_history(self, merchant_id: uuid.UUID, old: str, new: str) -> None:
        gone = self.histories.pop((merchant_id, old), None)
        if gone is None:
            return
        into = self.histories.setdefault((merchant_id, new), budget.History())
        into.made.extend(gone.made)
        into.offers |= gone.offers
        into.armed = into.armed or gone.armed
        old_since = self.since.get((merchant_id, old), COMPLETE)
        new_since = self.since.get((merchant_id, new), COMPLETE)
        self.since[(merchant_id, new)] = max(old_since, new_since)  # complete from the later

    def _convert(self, profile: Profile, at: datetime, kind: str, coupon: uuid.UUID | None) -> None:
        history = self.histories.get((profile.merchant_id, profile.profile_key))
        if history is None or not history.armed:
            return  # no contact in an arm: nothing to convert
        self.conversions.append(
            Conversion(profile.merchant_id, profile.profile_key, at, kind, coupon)
        )

    def _contact(
        self, config: Config, profile: Profile, trigger: Trigger, event: Event, zone: ZoneInfo
    ) -> None:
        key = (profile.merchant_id, profile.profile_key)
        history = self.histories.setdefault(key, budget.History())
        decision = budget.decide(
            config.budget,
            history,
            offer_key=trigger.offer_key,
            eligible_reason=_ineligible(profile, trigger.channel),
            holdout=budget.in_holdout(
                profile.merchant_id, trigger.trigger_id, profile.profile_key, trigger.holdout_share
            ),
            at=event.occurred_at,
            zone=zone,
        )
        self.contacts.append(
            Contact(
                merchant_id=profile.merchant_id,
                contact_id=uuid.uuid5(CONTACT_NAMESPACE, f"{event.event_id}:{trigger.trigger_id}"),
                profile_key=profile.profile_key,
                trigger=trigger,
                store_id=event.store_id,
                event_id=event.event_id,
                event_at=event.occurred_at,
                decision=decision,
            )
        )


def _sets_off(
    trigger: Trigger,
    scenes: list[str],
    dwell_before: timedelta,
    dwell_after: timedelta,
    store_id: uuid.UUID | None,
) -> bool:
    if trigger.store_id is not None and trigger.store_id != store_id:
        return False
    if trigger.event == "dwell":
        threshold = timedelta(minutes=trigger.dwell_minutes or 0)
        return dwell_before < threshold <= dwell_after
    return trigger.event in scenes


def _ineligible(profile: Profile, channel: str) -> str | None:
    """Why the shopper cannot be contacted on `channel` at all, or None."""
    if profile.opted_out_at is not None:
        return "opted_out"
    if channel == "sms" and not (profile.consent_sms and profile.profile_key.startswith("i:")):
        return "no_consent"
    if channel == "wechat" and not profile.consent_wechat:
        return "no_consent"  # follows the account through the shopper's own code (wechat_events)
    return None


def _uuid(value: object) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value)) if value else None
    except ValueError:
        return None


def _profile_columns(stored: Iterable[Profile]) -> list[list[Any]]:
    """The profiles as save_profiles' parallel arrays."""
    ps = list(stored)
    return [
        [p.merchant_id for p in ps],
        [p.profile_key for p in ps],
        [p.created_at for p in ps],
        [p.visit_store for p in ps],
        [p.visit_started_at for p in ps],
        [p.last_seen_at for p in ps],
        [p.visits_total for p in ps],
        [_array_literal(v.isoformat() for v in p.recent_visits) for p in ps],
        [p.previous_visit_at for p in ps],
        [p.dwell_seconds for p in ps],
        [p.longest_dwell_seconds for p in ps],
        [_array_literal(str(s) for s in p.stores) for p in ps],
        [p.claims for p in ps],
        [p.redemptions for p in ps],
        [_array_literal(p.login_methods) for p in ps],
        [p.consent_sms for p in ps],
        [p.consent_email for p in ps],
        [p.opted_out_at for p in ps],
        [p.tags for p in ps],
        [p.updated_at or p.created_at for p in ps],
        [p.consent_wechat for p in ps],
    ]


def _array_literal(items: Iterable[str]) -> str:
    """A PostgreSQL array literal of text items, each quoted (any character is safe)."""
    quoted = ('"' + i.replace("\\", "\\\\").replace('"', '\\"') + '"' for i in items)
    return "{" + ",".join(quoted) + "}"


def profile_from_row(row: Mapping[str, Any]) -> Profile:
    stored_tags = row["tags"]
    return Profile(
        merchant_id=row["merchant_id"],
        profile_key=row["profile_key"],
        created_at=row["created_at"],
        visit_store=row["visit_store"],
        visit_started_at=row["visit_started_at"],
        last_seen_at=row["last_seen_at"],
        visits_total=row["visits_total"],
        recent_visits=list(row["recent_visits"]),
        previous_visit_at=row["previous_visit_at"],
        dwell_seconds=row["dwell_seconds"],
        longest_dwell_seconds=row["longest_dwell_seconds"],
        stores=list(row["stores"]),
        claims=row["claims"],
        redemptions=row["redemptions"],
        login_methods=list(row["login_methods"]),
        consent_sms=row["consent_sms"],
        consent_email=row["consent_email"],
        consent_wechat=row["consent_wechat"],
        opted_out_at=row["opted_out_at"],
        tags=json.loads(stored_tags) if isinstance(stored_tags, str) else dict(stored_tags),
        updated_at=row["updated_at"],
    )


def _contact_row(c: Contact, decided_at: datetime) -> dict[str, Any]:
    return {
        "merchant_id": str(c.merchant_id),
        "contact_id": str(c.contact_id),
        "profile_key": c.profile_key,
        "trigger_id": str(c.trigger.trigger_id),
        "trigger_version": c.trigger.version,
        "offer_key": c.trigger.offer_key,
        "channel": c.trigger.channel,
        "store_id": str(c.store_id) if c.store_id else None,
        "event_id": str(c.event_id),
        "event_at": c.event_at.isoformat(),
        "decided_at": decided_at.isoformat(),
        "arm": c.decision.arm,
        "status": c.decision.status,
        "reason": c.decision.reason,
    }


@dataclass(slots=True)
class Kept:
    """A profile the engine holds in memory with its contact history (complete from `since`,
    and every contact in an arm) and the devices linked to it, as of its merchant's epoch
    (`Memory`); its latest sightings may be newer than its row (`Memory.lagging`). `touched`:
    when a batch last had it (monotonic)."""

    profile: Profile
    history: budget.History
    since: datetime
    touched: float
    devices: set[str] = field(default_factory=set)


@dataclass
class Memory:
    """What the engine holds of one merchant, valid while the merchant's stored epoch is
    `epoch` (the one its own last batch wrote: nobody else changed a profile, link or contact
    since)."""

    epoch: int
    kept: OrderedDict[str, Kept] = field(default_factory=OrderedDict)  # oldest touched first
    links: dict[str, str] = field(default_factory=dict)  # device -> the profile it is linked to
    lagging: dict[str, float] = field(default_factory=dict)  # in the order they began to lag

    def forget(self, key: str) -> None:
        kept = self.kept.pop(key, None)
        self.lagging.pop(key, None)
        if kept is not None:
            for device in kept.devices:
                if self.links.get(device) == key:
                    del self.links[device]


def _material(p: Profile) -> tuple[Any, ...]:
    """Everything of a profile but its latest sighting (last_seen_at, updated_at): a change
    here is written with the batch."""
    return (
        p.visit_store,
        p.visit_started_at,
        p.visits_total,
        p.previous_visit_at,
        p.dwell_seconds,
        p.longest_dwell_seconds,
        len(p.stores),
        p.claims,
        p.redemptions,
        len(p.login_methods),
        p.consent_sms,
        p.consent_email,
        p.consent_wechat,
        p.opted_out_at,
        p.tags,  # a new dict at each evaluation (CompiledTags.evaluate), never changed in place
    )


async def load_config(
    conn: asyncpg.Connection, merchant_id: uuid.UUID, *, first: bool = True
) -> Config:
    """The merchant's tags (the defaults made on `first` use), triggers, budget and zones."""
    if first:
        await tags.ensure_defaults(conn, merchant_id)
    compiled = tags.compile_tags(await tags.list_tags(conn, merchant_id))
    triggers = []
    for r in await conn.fetch(queries.merchant_triggers, merchant_id):
        rule = r["rule"]
        parsed = rules.parse(json.loads(rule) if isinstance(rule, str) else rule)
        triggers.append(
            Trigger(
                trigger_id=r["trigger_id"],
                version=r["version"],
                event=r["event"],
                dwell_minutes=r["dwell_minutes"],
                store_id=r["store_id"],
                check=rules.compile_rule(parsed),
                channel=r["channel"],
                offer_key=r["offer_key"],
                holdout_share=r["holdout_share"],
            )
        )
    row = await conn.fetchrow(queries.merchant_config, merchant_id)
    settings = (
        budget.Settings(
            row["max_per_day"], row["max_per_week"], row["quiet_from"], row["quiet_until"]
        )
        if row
        else budget.Settings()
    )
    venue = await accounts.venue_facts(conn, merchant_id)
    zones = {store_id: ZoneInfo(f.timezone) for store_id, f in venue.stores.items()}
    zone = next(iter(zones.values()), ZoneInfo(DEFAULT_ZONE))
    return Config(compiled, triggers, settings, zones, zone)


class Engine:
    """Takes waiting events batch by batch (`step`), or until stopped (`run`).

    It keeps in memory, per merchant (`Memory`), the profiles its batches had, with their
    contact histories and device links: a batch reads from the database only the shoppers it
    does not hold, while the merchant's epoch is the one its own last batch wrote; anyone else's
    write (another engine, an erasure, the dispatcher suppressing a contact)
    changes the epoch, and the merchant is read afresh. A profile whose only change is its latest
    sighting is written with a later batch (at most PRESENCE_WRITE behind),
    and every such profile at a graceful stop (`flush`) or when the engine is drained (`drain`:
    a demo's history, a test)."""

    def __init__(
        self,
        db: asyncpg.Pool,
        *,
        batch: int = BATCH,
        config_ttl: float = CONFIG_TTL,
        clock: Any = time.monotonic,
    ) -> None:
        self.db = db
        self.batch = batch
        self.config_ttl = config_ttl
        self.clock = clock
        self._configs: dict[uuid.UUID, Config] = {}
        self._memory: dict[uuid.UUID, Memory] = {}
        self.processed = 0
        self.read_from_database = 0  # profiles a batch read (not held in memory): for tests
        self._full_collection = time.monotonic()

    async def _config(self, conn: asyncpg.Connection, merchant_id: uuid.UUID) -> Config:
        config = self._configs.get(merchant_id)
        now = self.clock()
        if config is None or now - config.loaded_at > self.config_ttl:
            # The default tags are made once per merchant and process, not at every reload.
            config = await load_config(conn, merchant_id, first=config is None)
            config.loaded_at = now
            self._configs[merchant_id] = config
        return config

    async def step(self) -> int:
        """One batch, in one transaction: how many events it took or, none waiting, how many
        profiles it wrote whose latest sightings were held back PRESENCE_WRITE; 0 when there
        was nothing to do."""
        return await self._batch(take=True, flush=False)

    async def drain(self) -> int:
        """Batches until no event waits, then every profile held back written: the tables
        then say all the engine knows (a demo's history, a test). How many events and
        profiles the batches did."""
        total = 0
        while done := await self._batch(take=True, flush=True):
            total += done
        return total

    async def flush(self) -> int:
        """Write every profile held back, taking no event (a graceful stop); how many."""
        total = 0
        while written := await self._batch(take=False, flush=True):
            total += written
        return total

    async def _batch(self, *, take: bool, flush: bool) -> int:
        merchants: list[uuid.UUID] = []
        try:
            done = await self._step(merchants, take=take, flush=flush)
        except BaseException:
            # What the engine holds of the batch's merchants may be what was rolled back.
            for merchant_id in merchants:
                self._memory.pop(merchant_id, None)
            raise
        return done

    def _spare_the_collector(self) -> None:
        """Python's cyclic garbage collector scans every object it tracks, and the profiles
        held are millions of them at peak (a third of the engine's time went to it). What a
        batch leaves is long-lived by design: once the batch's young garbage is collected, it
        is frozen out of the scans (`gc.freeze`; reference counting still frees what is let
        go). Every FULL_COLLECTION seconds everything is scanned once, so cyclic garbage that
        got old (an error's traceback) is freed too. Process-wide: done by `run` (a role's
        process), not by `step` or `drain`."""
        now = time.monotonic()
        if now - self._full_collection >= FULL_COLLECTION:
            self._full_collection = now
            gc.unfreeze()
            gc.collect()
        else:
            gc.collect(1)
        gc.freeze()

    async def _step(self, merchants: list[uuid.UUID], *, take: bool, flush: bool) -> int:
        now = self.clock()
        async with self.db.acquire() as conn, conn.transaction():
            rows = await conn.fetch(queries.take_events, self.batch) if take else []
            events = [e for r in sorted(rows, key=lambda r: r["received_at"]) for e in events_of(r)]
            # Held-back profiles: those due, or (flushing, no event waiting) all of them.
            due = self._due(now, everything=flush and not events)
            if not events and not due:
                return 0
            merchants += sorted({e.merchant_id for e in events} | {m for m, _ in due})
            # Before anything is read: the profiles, links and contacts read next are those
            # the merchant's previous batch committed.
            await conn.execute(queries.lock_merchants, merchants)
            epochs = dict(await conn.fetch(queries.read_epochs, merchants))
            for m in merchants:
                memory = self._memory.get(m)
                if memory is None or memory.epoch != epochs.get(m, 0):
                    self._memory[m] = Memory(epochs.get(m, 0))  # someone else wrote: read afresh
            due = [(m, key) for m, key in due if key in self._memory[m].lagging]
            configs = {m: await self._config(conn, m) for m in merchants}
            batch, fresh = await self._prepare(conn, events, configs, due)
            before = {key: (_material(p), p.last_seen_at) for key, p in batch.profiles.items()}
            for event in events:
                batch.apply(event)
            written = await self._write(conn, batch, fresh, before, set(due))
            # Last (after the contacts the dispatcher may also be changing): the merchants'
            # epochs, each one on from what this batch read unless another writer came between.
            bumped = dict(await conn.fetch(queries.bump_epochs, merchants))
        for m in merchants:
            if bumped[m] == epochs.get(m, 0) + 1:
                self._memory[m].epoch = bumped[m]
            else:
                del self._memory[m]
        self._remember(batch, before, written, now)
        self.processed += len(events)
        return len(events) or len(written)

    def _due(self, now: float, *, everything: bool) -> list[tuple[uuid.UUID, str]]:
        """Profiles whose latest sightings are to be written with this batch (at most a batch
        of them): those held back PRESENCE_WRITE seconds, or any when no event waits."""
        due: list[tuple[uuid.UUID, str]] = []
        for merchant_id, memory in self._memory.items():
            for key, since in memory.lagging.items():  # in the order they began to lag
                if len(due) >= self.batch or (not everything and now - since < PRESENCE_WRITE):
                    break
                due.append((merchant_id, key))
        return due

    async def _prepare(
        self,
        conn: asyncpg.Connection,
        events: list[Event],
        configs: Mapping[uuid.UUID, Config],
        due: list[tuple[uuid.UUID, str]],
    ) -> tuple[Batch, set[tuple[uuid.UUID, str]]]:
        """The batch's profiles, links and contact histories: those held in memory, the rest
        read; and the profiles not stored yet."""
        first = min((e.occurred_at for e in events), default=datetime.now(UTC))
        history_from = first - timedelta(days=HISTORY_DAYS)
        linked: dict[tuple[uuid.UUID, str], str] = {}
        unknown: set[tuple[uuid.UUID, str]] = set()
        for e in events:
            if not e.device_hash:
                continue
            memory = self._memory[e.merchant_id]
            key = memory.links.get(e.device_hash)
            if key is not None:
                linked[(e.merchant_id, e.device_hash)] = key
            elif profiles.device_key(e.device_hash) not in memory.kept:
                unknown.add((e.merchant_id, e.device_hash))  # held: not linked, as of the epoch
        if unknown:
            devices = sorted(unknown)
            for r in await conn.fetch(
                queries.device_profiles, [d[0] for d in devices], [d[1] for d in devices]
            ):
                linked[(r["merchant_id"], r["device_hash"])] = r["profile_key"]
        keys = profile_keys_needed(events, linked) | set(due)
        held: dict[tuple[uuid.UUID, str], Profile] = {}
        histories: dict[tuple[uuid.UUID, str], budget.History] = {}
        since: dict[tuple[uuid.UUID, str], datetime] = {}
        not_held, short = [], []  # profiles to read; histories to read (not held, or too short)
        for m, key in keys:
            kept = self._memory[m].kept.get(key)
            if kept is None:
                not_held.append((m, key))
                short.append((m, key))
                continue
            held[(m, key)] = kept.profile  # newer than its row when its sightings lag
            if kept.since <= history_from:
                histories[(m, key)], since[(m, key)] = kept.history, kept.since
            else:  # an event older than those it was read for (a late one)
                short.append((m, key))
        fresh = set(not_held)
        if not_held:
            not_held.sort()
            self.read_from_database += len(not_held)
            for r in await conn.fetch(
                queries.load_profiles, [k[0] for k in not_held], [k[1] for k in not_held]
            ):
                key = (r["merchant_id"], r["profile_key"])
                held[key] = profile_from_row(r)
                fresh.discard(key)
        if short:
            short.sort()
            for key in short:
                histories[key] = budget.History()
                since[key] = COMPLETE if key in fresh else history_from  # a new one has none
            for r in await conn.fetch(
                queries.recent_contacts, [k[0] for k in short], [k[1] for k in short], history_from
            ):
                history = histories[(r["merchant_id"], r["profile_key"])]
                if r["status"] != "suppressed":
                    history.offers.add(r["offer_key"])
                history.armed = history.armed or r["arm"] is not None
                history.made.append(
                    budget.Made(
                        r["offer_key"],
                        r["decided_at"],
                        r["status"] in ("pending", "sent", "delivered", "failed"),
                    )
                )
        batch = Batch(configs, held, histories, linked)
        batch.since = since
        return batch, fresh

    async def _write(
        self,
        conn: asyncpg.Connection,
        batch: Batch,
        fresh: set[tuple[uuid.UUID, str]],
        before: Mapping[tuple[uuid.UUID, str], tuple[tuple[Any, ...], datetime | None]],
        due: set[tuple[uuid.UUID, str]],
    ) -> set[tuple[uuid.UUID, str]]:
        """Write the batch's outcome; the profiles written (the rest changed only their latest
        sighting, or nothing)."""
        if batch.contacts:
            # First, under the profile each was decided for: a profile merged later in the
            # batch then moves them with its stored ones (an offer both had stays once).
            await conn.execute(
                queries.insert_contacts,
                [_contact_row(c, c.event_at) for c in batch.contacts],
            )
        for merchant_id, old, new in batch.merged:
            await conn.execute(queries.move_contacts, merchant_id, old, new)
        if batch.merged:
            await conn.execute(
                queries.delete_profiles, [m[0] for m in batch.merged], [m[1] for m in batch.merged]
            )
        contacted = {(c.merchant_id, c.profile_key) for c in batch.contacts}
        writes = {
            key: p
            for key, p in batch.profiles.items()
            # new, changed beyond its latest sighting, contacted (a dwell trigger must not
            # fire again from an older sighting), or held back long enough
            if key in fresh
            or key not in before
            or key in due
            or key in contacted
            or _material(p) != before[key][0]
        }
        if writes:
            await conn.execute(queries.save_profiles, *_profile_columns(writes.values()))
        if batch.links:
            items = list(batch.links.items())
            await conn.execute(
                queries.link_devices,
                [k[0] for k, _ in items],
                [k[1] for k, _ in items],
                [key for _, (key, _at) in items],
                [at for _, (_key, at) in items],
            )
        if batch.conversions:
            cs = batch.conversions
            await conn.execute(
                queries.convert_contacts,
                [c.merchant_id for c in cs],
                [_final_key(batch, c) for c in cs],
                [c.at for c in cs],
                [c.kind for c in cs],
                [c.coupon_id for c in cs],
            )
        if any(c.decision.status == "pending" for c in batch.contacts):
            await conn.execute(queries.notify_dispatch)
        return set(writes)

    def _remember(
        self,
        batch: Batch,
        before: Mapping[tuple[uuid.UUID, str], tuple[tuple[Any, ...], datetime | None]],
        written: set[tuple[uuid.UUID, str]],
        now: float,
    ) -> None:
        """After the commit: hold the batch's profiles, histories and links as they now are
        (and what of them is not written yet), for the merchants still held."""
        for merchant_id, old, _new in batch.merged:
            memory = self._memory.get(merchant_id)
            if memory is not None:
                memory.forget(old)
        for (merchant_id, key), profile in batch.profiles.items():
            memory = self._memory.get(merchant_id)
            if memory is None:
                continue
            kept = memory.kept.get(key)
            history = batch.histories.get((merchant_id, key)) or budget.History()
            since = batch.since.get((merchant_id, key), COMPLETE)
            if kept is None:
                memory.kept[key] = Kept(profile, history, since, now)
            else:
                kept.profile, kept.history, kept.since, kept.touched = profile, history, since, now
                memory.kept.move_to_end(key)
            if (merchant_id, key) in written:
                memory.lagging.pop(key, None)
            elif profile.last_seen_at != before.get((merchant_id, key), (None, None))[1]:
                memory.lagging.setdefault(key, now)
        for (merchant_id, device), key in batch.linked.items():
            memory = self._memory.get(merchant_id)
            kept = memory.kept.get(key) if memory is not None else None
            if memory is not None and kept is not None:
                memory.links[device] = key
                kept.devices.add(device)
        self._forget_idle(now)

    def _forget_idle(self, now: float) -> None:
        """Let go of profiles not touched for IDLE seconds (or beyond MAX_KEPT), oldest first;
        one whose latest sightings are not written yet stays until they are."""
        over = sum(len(m.kept) for m in self._memory.values()) - MAX_KEPT
        for merchant_id, memory in list(self._memory.items()):
            while memory.kept:
                key, kept = next(iter(memory.kept.items()))
                if now - kept.touched < IDLE and over <= 0:
                    break
                if key in memory.lagging:
                    break  # written by a coming batch (it is due), then let go
                memory.forget(key)
                over -= 1
            if not memory.kept:
                del self._memory[merchant_id]

    async def run(self, stop: asyncio.Event) -> None:
        """Batches until `stop` is set: at once while events wait, else every POLL seconds. A
        batch the database lost (a restart, a dropped connection) is logged and taken again
        RETRY seconds later: its events are still waiting."""
        while not stop.is_set():
            try:
                taken = await self.step()
            except (asyncpg.DeadlockDetectedError, asyncpg.SerializationError) as exc:
                log.warning("marketing engine: batch rolled back, taken again: %s", exc)
                continue
            except TRANSIENT:
                log.exception("marketing engine: a batch failed; trying again in %.0f s", RETRY)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), RETRY)
                continue
            if taken:
                log.debug("marketing engine: %d events", taken)
                self._spare_the_collector()
                continue
            with contextlib.suppress(TimeoutError):  # the poll's wait ended, not the engine
                await asyncio.wait_for(stop.wait(), POLL)
        try:
            written = await self.flush()
        except TRANSIENT:
            log.exception("marketing engine: the latest sightings held back were not written")
        else:
            log.info("marketing engine stopped: %d profiles' latest sightings written", written)


def _final_key(batch: Batch, conversion: Conversion) -> str:
    """The profile a conversion belongs to after the batch's merges."""
    key = conversion.profile_key
    for merchant_id, old, new in batch.merged:
        if merchant_id == conversion.merchant_id and key == old:
            key = new
    return key
