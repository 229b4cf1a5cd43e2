"""The portal's rate limits: fixed-window counters in portal_rate_limits.

A limit counts hits on one subject (a phone number, a device, an IP address: each by a keyed
hash, never in the clear) in fixed windows of `window` seconds aligned to the epoch. Each hit
is one atomic upsert of its window's row; the hits of one request go in one statement. A hit
over a limit raises RateLimited (429, a message for the shopper); refused hits count too, so a
caller who keeps trying stays refused until the window ends. portal/retention.py deletes
windows once they are over (`LONGEST_WINDOW`).
"""

from __future__ import annotations

import hmac
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg

from kernel.errors import PorticoError
from kernel.privacy import merchant_key
from kernel.sql import load_queries

queries = load_queries(__file__, "sms.sql")

LONGEST_WINDOW = 3600  # seconds: no limit counts over a longer window


@dataclass(frozen=True)
class Limit:
    kind: str  # what is counted: phone, device, ip
    window: int  # seconds
    max_hits: int  # per window
    message_id: str  # what the shopper reads when over it

    def __post_init__(self) -> None:
        if not 0 < self.window <= LONGEST_WINDOW or self.max_hits < 1:
            raise ValueError(f"limit {self} has no room for a hit or a window too long")


class RateLimited(PorticoError):
    status = 429

    def __init__(self, detail: str, message_id: str) -> None:
        super().__init__(detail)
        self.message_id = message_id


def ip_hash(secret_key: str, merchant_id: uuid.UUID, ip: str) -> str:
    """An IP address's pseudonym at one merchant (the raw address is never stored)."""
    key = merchant_key(secret_key, str(merchant_id))
    return hmac.digest(key, f"ip:{ip}".encode(), "sha256").hex()[:32]


def subject(limit: Limit, key: str) -> str:
    """The counter's row name: windows of different lengths never share a row."""
    return f"{limit.kind}:{key}:{limit.window}"


@dataclass(frozen=True)
class Counters:
    """The counters one request hits, as the upsert takes them (one array per column)."""

    limits: list[Limit]
    subjects: list[str]
    windows: list[int]
    max_hits: list[int]


def counters(hits: Sequence[tuple[Limit, str]]) -> Counters:
    """The counters of (limit, keyed hash) pairs; each may be hit once per request."""
    limits = [limit for limit, _key in hits]
    subjects = [subject(limit, key) for limit, key in hits]
    if len(set(subjects)) != len(subjects):
        raise ValueError("one request hits each counter once")
    return Counters(
        limits, subjects, [lim.window for lim in limits], [lim.max_hits for lim in limits]
    )


def check(hit: Counters, rows: Sequence[asyncpg.Record]) -> None:
    """RateLimited naming the first limit the hits (rows of subject, hits) now exceed."""
    counts = {row["subject"]: row["hits"] for row in rows}
    for limit, name in zip(hit.limits, hit.subjects, strict=True):
        if counts[name] > limit.max_hits:
            raise RateLimited(
                f"{limit.kind} over {limit.max_hits} per {limit.window} s", limit.message_id
            )


async def hit(
    db: asyncpg.Pool | asyncpg.Connection,
    merchant_id: uuid.UUID,
    hits: Sequence[tuple[Limit, str]],
) -> None:
    """One hit of each (limit, keyed hash); RateLimited naming the first limit now exceeded."""
    these = counters(hits)
    check(these, await _hit_rows(db, merchant_id, these))


async def hit_counts(
    db: asyncpg.Pool | asyncpg.Connection,
    merchant_id: uuid.UUID,
    hits: Sequence[tuple[Limit, str]],
) -> list[int]:
    """One hit of each (limit, keyed hash); the hits of each in its window, this one included
    (a caller that acts at a limit's count sees each count once)."""
    these = counters(hits)
    counts = {row["subject"]: row["hits"] for row in await _hit_rows(db, merchant_id, these)}
    return [counts[name] for name in these.subjects]


async def _hit_rows(
    db: asyncpg.Pool | asyncpg.Connection, merchant_id: uuid.UUID, these: Counters
) -> list[asyncpg.Record]:
    return await db.fetch(queries.hit_rate_limits, merchant_id, these.subjects, these.windows)


async def seconds_held_back(
    db: asyncpg.Pool | asyncpg.Connection,
    merchant_id: uuid.UUID,
    hits: Sequence[tuple[Limit, str]],
) -> float | None:
    """Read without a hit: the seconds until its window ends of a counter already at its
    limit (the latest, when several are), or None when none is."""
    these = counters(hits)
    return await db.fetchval(
        queries.rate_limits_held_back, merchant_id, these.subjects, these.windows, these.max_hits
    )
