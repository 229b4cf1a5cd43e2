"""The live stream into the trigger engine: `record_events` (marketing_inbox).

Each producer names its event by what it is (`event_id`: the same sighting, login or
redemption gives the same id however often it is delivered), so a redelivered MQTT message or
a replayed batch is stored once, and the engine (marketing/engine.py) decides on it once.
A done event is kept a day (`purge_done`) so that a late duplicate is still recognised.
Producers are wired by the composition root (portico/runtime.py): analytics, the portal and
ads never import marketing.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from kernel.sql import load_queries

queries = load_queries(__file__, "intake.sql")

KINDS = frozenset({"sighting", "login", "claim", "redemption", "consent"})
EVENT_NAMESPACE = uuid.UUID("0c0f3b52-7d4e-4b8e-9a1e-5d6a4c3b2a19")
KEEP_DONE = timedelta(days=1)


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
    skipped. How many were new. ValueError for a kind the engine does not know."""
    if not events:
        return 0
    for e in events:
        if e.kind not in KINDS:
            raise ValueError(f"no marketing event kind {e.kind!r}")
    result = await db.execute(
        queries.insert_events,
        [e.merchant_id for e in events],
        [e.id() for e in events],
        [e.kind for e in events],
        [e.device_hash for e in events],
        [e.store_id for e in events],
        [e.occurred_at for e in events],
        [json.dumps(dict(e.payload)) for e in events],
    )
    return int(result.rsplit(" ", 1)[-1])


async def waiting(db: asyncpg.Pool | asyncpg.Connection) -> int:
    """How many events wait for the engine."""
    return await db.fetchval(queries.count_waiting)


async def purge_done(db: asyncpg.Pool, keep: timedelta = KEEP_DONE) -> int:
    result = await db.execute(queries.purge_done, keep)
    return int(result.rsplit(" ", 1)[-1])
