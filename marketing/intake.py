"""The live stream into the trigger engine: `record_events` (marketing_inbox).

Each producer names its event by what it is (`event_id`: the same sighting, login or
redemption gives the same id however often it is delivered), so a redelivered MQTT message or
a replayed batch is stored once, and the engine (marketing/engine.py) decides on it once.
A done event is kept a day (`purge_done`) so that a late duplicate is still recognised.
Producers are wired by the composition root (portico/runtime.py): analytics, the portal and
ads never import marketing. Two hooks feed it (docs/marketing.md, "The live stream"):

- `Sightings.seen`, analytics' `on_devices_seen`: the stable devices the footfall ingest
  stored (associated stations), thinned in memory to one sighting per device, store and
  minute, each named by that minute;
- `record_shopper_events`, the portal's and ads' `OnShopperEvents` (kernel.shopper_events):
  logins, consent withdrawals, coupon claims and redemptions, named by their own records.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from kernel import shopper_events
from kernel.jobs import every
from kernel.logs import Throttled
from kernel.shopper_events import ShopperEvent
from kernel.sql import load_queries

log = logging.getLogger("portico.marketing.intake")
queries = load_queries(__file__, "intake.sql")

KINDS = shopper_events.KINDS | {"sighting"}
# What each kind's payload may carry (marketing/engine.py reads nothing else), and its type:
# anything else is left out before it is stored, and a text is cut to MAX_TEXT.
PAYLOAD: dict[str, dict[str, type]] = {
    "sighting": {},
    "login": {"method": str, "identity_hash": str, "consent_sms": bool, "consent_email": bool},
    "claim": {"coupon_id": str},
    "redemption": {"coupon_id": str},
    "consent": {"channel": str, "given": bool, "identity_hash": str},
}
MAX_TEXT = 64
# A device's or an identity's keyed pseudonym (kernel.privacy): what a profile key is made of.
PSEUDONYM = re.compile(r"^[0-9a-f]{16,64}$")
EVENT_NAMESPACE = uuid.UUID("0c0f3b52-7d4e-4b8e-9a1e-5d6a4c3b2a19")
KEEP_DONE = timedelta(days=1)
PURGE_INTERVAL = 600.0  # seconds between deletions of done events


@dataclass(frozen=True)
class InboxEvent:
    merchant_id: uuid.UUID
    kind: str
    device_hash: str
    store_id: uuid.UUID | None
    occurred_at: datetime
    payload: Mapping[str, Any] = field(default_factory=dict)
    event_id: uuid.UUID | None = None  # None: derived from the rest (the same event, the same id)

    def id(self) -> uuid.UUID:
        if self.event_id is not None:
            return self.event_id
        name = (
            f"{self.merchant_id}|{self.kind}|{self.device_hash}|{self.store_id}|"
            f"{self.occurred_at.isoformat()}|{json.dumps(self.payload, sort_keys=True)}"
        )
        return uuid.uuid5(EVENT_NAMESPACE, name)


async def record_events(db: asyncpg.Pool | asyncpg.Connection, events: Sequence[InboxEvent]) -> int:
    """Store the events (in the caller's transaction, if any); one already stored is
    skipped. How many were new. ValueError for a kind the engine does not know, or a device
    or identity that is not a pseudonym (`addressed`).

    Sightings are stored in batches, a row per store and up to MAX_SIGHTINGS of them
    (`sightings_rows`): the same sightings batched alike are the same row."""
    if not events:
        return 0
    for e in events:
        if e.kind not in KINDS:
            raise ValueError(f"no marketing event kind {e.kind!r}")
        if not addressed(e):
            raise ValueError(f"a {e.kind} event names no device or identity pseudonym")
    new = 0
    single = [e for e in events if e.kind != "sighting"]
    if single:
        result = await db.execute(
            queries.insert_events,
            [e.merchant_id for e in single],
            [e.id() for e in single],
            [e.kind for e in single],
            [e.device_hash for e in single],
            [e.store_id for e in single],
            [e.occurred_at for e in single],
            [json.dumps(cleaned(e.kind, e.payload)) for e in single],
        )
        new += int(result.rsplit(" ", 1)[-1])
    for row in sightings_rows([e for e in events if e.kind == "sighting"]):
        result = await db.execute(queries.insert_sightings, *row)
        if result.endswith(" 1"):
            new += len(row[3])
    return new


MAX_SIGHTINGS = 1_000  # sightings in one inbox row at most (migration 0049)


def sightings_rows(sightings: Sequence[InboxEvent]) -> list[tuple[Any, ...]]:
    """The sightings as insert_sightings' rows: per merchant and store, in time order, up to
    MAX_SIGHTINGS each; a row's id is made of its sightings' ids."""
    by_store: dict[tuple[uuid.UUID, uuid.UUID | None], list[InboxEvent]] = {}
    for e in sightings:
        by_store.setdefault((e.merchant_id, e.store_id), []).append(e)
    rows = []
    for (merchant_id, store_id), seen in by_store.items():
        seen.sort(key=lambda e: e.occurred_at)
        for i in range(0, len(seen), MAX_SIGHTINGS):
            chunk = seen[i : i + MAX_SIGHTINGS]
            ids = [e.id() for e in chunk]
            row_id = uuid.uuid5(EVENT_NAMESPACE, "sightings|" + ",".join(str(i) for i in ids))
            rows.append(
                (
                    merchant_id,
                    row_id,
                    store_id,
                    [e.device_hash for e in chunk],
                    [e.occurred_at for e in chunk],
                    ids,
                )
            )
    return rows


def cleaned(kind: str, payload: Mapping[str, Any]) -> dict[str, Any]:
    """The payload's fields the engine reads for `kind`, each of its type (a bool is no
    text), a text cut to MAX_TEXT; the rest left out."""
    kept: dict[str, Any] = {}
    for name, kind_of in PAYLOAD[kind].items():
        value = payload.get(name)
        if type(value) is kind_of:
            kept[name] = value[:MAX_TEXT] if isinstance(value, str) else value
    return kept


def addressed(event: InboxEvent) -> bool:
    """The event names the shopper as the engine's profiles do: its device's pseudonym, or
    (a consent event only) no device and an identity's; and any identity it names is one."""
    identity = event.payload.get("identity_hash")
    if identity is not None and not (isinstance(identity, str) and PSEUDONYM.match(identity)):
        return False
    if event.device_hash == "":
        return event.kind == "consent" and identity is not None
    return PSEUDONYM.match(event.device_hash) is not None


async def waiting(db: asyncpg.Pool | asyncpg.Connection) -> int:
    """How many events wait for the engine (each sighting of a batch one)."""
    return await db.fetchval(queries.count_waiting)


async def purge_done(db: asyncpg.Pool, keep: timedelta = KEEP_DONE) -> int:
    """Delete events done for longer than `keep`; how many."""
    result = await db.execute(queries.purge_done, keep)
    return int(result.rsplit(" ", 1)[-1])


async def purge_forever(db: asyncpg.Pool) -> None:
    """The marketing role's retention: `purge_done` every PURGE_INTERVAL until cancelled."""

    async def purge() -> None:
        purged = await purge_done(db)
        if purged:
            log.info("deleted %d marketing events done over a day ago", purged)

    await every(PURGE_INTERVAL, purge, log, "delete done marketing events")


# -- producers ------------------------------------------------------------------------------

SIGHTING_SECONDS = 60  # one sighting per device, store and minute reaches the engine
MAX_REMEMBERED = 200_000  # devices remembered per process before the old ones are forgotten


def sighting_id(
    merchant_id: uuid.UUID, store_id: uuid.UUID, device_hash: str, minute: int
) -> uuid.UUID:
    """A device's sighting at a store in one minute: the same whichever controller process
    or redelivery saw it, so the inbox keeps one."""
    return uuid.uuid5(EVENT_NAMESPACE, f"sighting|{merchant_id}|{store_id}|{device_hash}|{minute}")


class Sightings:
    """analytics' `on_devices_seen` hook: stable devices stored by the footfall ingest, as
    'sighting' events, at most one per device, store and minute (`SIGHTING_SECONDS`).

    Runs on the telemetry's hot path, in the ingest's transaction: a device already sent for
    a minute costs a dictionary look-up. The memory is this process's; another controller
    process sharing the routers' messages, or a redelivered message, gives the same event id
    for the same minute (`sighting_id`), and the inbox keeps one. A batch whose transaction
    rolls back after its devices were remembered loses their sighting of that minute only
    (the next minute's gets through)."""

    def __init__(
        self,
        *,
        seconds: int = SIGHTING_SECONDS,
        remember: int = MAX_REMEMBERED,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._seconds = seconds
        self._remember = remember
        self._clock = clock
        self._last: dict[tuple[uuid.UUID, uuid.UUID, str], int] = {}
        self.sent = 0  # sightings handed to the inbox (before its de-duplication)
        self.thinned = 0  # devices left out as sent already for their minute

    @property
    def remembered(self) -> int:
        """Devices remembered now."""
        return len(self._last)

    async def seen(
        self,
        conn: asyncpg.Connection,
        merchant_id: uuid.UUID,
        store_id: uuid.UUID,
        devices: list[tuple[str, float]],
    ) -> None:
        last = self._last
        seconds = self._seconds
        events = []
        for device_hash, ts in devices:
            minute = int(ts // seconds)
            key = (merchant_id, store_id, device_hash)
            if last.get(key) == minute:
                continue
            last[key] = minute
            events.append(
                InboxEvent(
                    merchant_id,
                    "sighting",
                    device_hash,
                    store_id,
                    datetime.fromtimestamp(ts, UTC),
                    event_id=sighting_id(merchant_id, store_id, device_hash, minute),
                )
            )
        self.thinned += len(devices) - len(events)
        if not events:
            return
        self.sent += len(events)
        if len(last) > self._remember:
            self._forget()
        await record_events(conn, events)

    def _forget(self) -> None:
        """Drop devices not sent for two minutes; all of them if that is not enough."""
        recent = int(self._clock() // self._seconds) - 2
        self._last = {k: m for k, m in self._last.items() if m >= recent}
        if len(self._last) > self._remember // 2:
            self._last = {}


async def record_shopper_events(conn: asyncpg.Connection, events: Sequence[ShopperEvent]) -> int:
    """The portal's and ads' `OnShopperEvents` hook (kernel.shopper_events): their events
    into the inbox, in their transaction, under their own ids. An event about an identity
    rather than a device (a consent withdrawn by a link) has no device: the engine finds the
    identity's profile by `identity_hash` in its payload."""
    inbox = [
        InboxEvent(
            e.merchant_id,
            e.kind,
            e.device_hash or "",
            e.store_id,
            e.occurred_at,
            payload=dict(e.data),
            event_id=e.event_id,
        )
        for e in events
    ]
    kept = [e for e in inbox if addressed(e)]
    if len(kept) < len(inbox):  # not a shopper of ours: the producer's record stands, untold
        _unaddressed.warning(
            "marketing: %d %s event(s) name no device or identity pseudonym; left out",
            len(inbox) - len(kept),
            inbox[0].kind,
        )
    return await record_events(conn, kept)


_unaddressed = Throttled(log, 60.0)
