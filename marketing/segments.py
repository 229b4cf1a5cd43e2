"""Segments: a merchant's saved combination of tags and facts (the rule language of
marketing/rules.py), with its live size, and what an advertiser may see of them.

- `save_segment` checks and stores one (SegmentError names the field that is wrong);
  `list_segments` gives the merchant's, `get_segment` one, `delete_segment` deletes one.
- `live_size`: how many of the merchant's profiles match now, counted as the console's preview
  counts (marketing/audience.py `count_matching`: every stored profile read through a cursor,
  its facts taken now in its store's time zone and its tags evaluated now with the merchant's
  current tags, so a tag that fades with time, "frequent" after 30 quiet days, counts as it
  stands now). A size is kept SIZE_TTL seconds per segment (an edit counts anew at once);
  `live_sizes` counts a page of segments in one pass over the profiles.
- `advertiser_view`: for an advertiser, the merchant's segments marked shared with
  advertisers, each with its size only when it is at least the merchant's k-threshold
  (marketing_settings.k_threshold, 50 by default; PRODUCT.md §4): never a smaller count,
  never a profile.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg

from kernel.cache import TtlCache
from kernel.errors import PorticoError
from kernel.sql import load_queries
from marketing import audience, rules
from marketing.rules import Rule

queries = load_queries(__file__, "segments.sql")

SIZE_TTL = 60.0  # seconds a segment's size is kept
K_THRESHOLD = 50  # marketing_settings' default: the smallest count an advertiser sees


class SegmentError(PorticoError):
    message_id = "mk_segment_invalid"

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(detail, reason=detail)
        self.field = field


class SegmentUnknown(PorticoError):
    message_id = "mk_segment_unknown"
    status = 404


@dataclass(frozen=True)
class SegmentSpec:
    """What a merchant sets for a segment."""

    name_zh: str
    name_en: str
    rule: object
    shared_with_advertisers: bool = False


@dataclass(frozen=True)
class Segment:
    segment_id: uuid.UUID
    name_zh: str
    name_en: str
    rule: Rule
    shared_with_advertisers: bool
    updated_at: datetime


@dataclass(frozen=True)
class SharedSegment:
    """What an advertiser sees of a merchant's segment: its names, and its size when that is
    at least `k` (None: fewer shoppers than k)."""

    segment_id: uuid.UUID
    name_zh: str
    name_en: str
    size: int | None
    k: int


def check(spec: SegmentSpec) -> Rule:
    """The parsed rule when the spec is sound; SegmentError naming the field otherwise."""
    for name in ("name_zh", "name_en"):
        value = getattr(spec, name)
        if not isinstance(value, str) or not value.strip() or len(value) > 60:
            raise SegmentError(name, "a name of 1 to 60 characters")
    try:
        return rules.parse(spec.rule)
    except rules.RuleError as exc:
        raise SegmentError("rule", exc.detail) from None


def _segment(row: asyncpg.Record) -> Segment:
    return Segment(**dict(row))  # the pool's codec gives the rule (jsonb) back as an object


async def save_segment(
    db: asyncpg.Pool | asyncpg.Connection,
    merchant_id: uuid.UUID,
    spec: SegmentSpec,
    segment_id: uuid.UUID | None = None,
) -> Segment:
    """Create the segment (segment_id None) or change it; SegmentUnknown for a segment the
    merchant does not have."""
    parsed = check(spec)
    args = (spec.name_zh.strip(), spec.name_en.strip(), parsed, spec.shared_with_advertisers)
    if segment_id is None:
        row = await db.fetchrow(queries.insert_segment, merchant_id, uuid.uuid4(), *args)
    else:
        row = await db.fetchrow(queries.update_segment, merchant_id, segment_id, *args)
        if row is None:
            raise SegmentUnknown(f"merchant {merchant_id} has no segment {segment_id}")
    return _segment(row)


async def list_segments(
    db: asyncpg.Pool | asyncpg.Connection, merchant_id: uuid.UUID
) -> list[Segment]:
    return [_segment(r) for r in await db.fetch(queries.list_segments, merchant_id)]


async def get_segment(
    db: asyncpg.Pool | asyncpg.Connection,
    merchant_id: uuid.UUID,
    segment_id: uuid.UUID,
    *,
    lock: bool = False,
) -> Segment | None:
    """The merchant's segment (None: it has none of that id); `lock`: FOR UPDATE, in the
    caller's transaction (an edit's "before")."""
    query = queries.segment_for_update if lock else queries.segment
    row = await db.fetchrow(query, merchant_id, segment_id)
    return _segment(row) if row is not None else None


async def delete_segment(
    db: asyncpg.Pool | asyncpg.Connection, merchant_id: uuid.UUID, segment_id: uuid.UUID
) -> Segment | None:
    """Delete the merchant's segment; what it was (None: it had none of that id)."""
    row = await db.fetchrow(queries.delete_segment, merchant_id, segment_id)
    return _segment(row) if row is not None else None


_sizes: TtlCache[tuple[uuid.UUID, uuid.UUID, datetime], int] = TtlCache(SIZE_TTL)


def _size_key(merchant_id: uuid.UUID, segment: Segment) -> tuple[uuid.UUID, uuid.UUID, datetime]:
    return (merchant_id, segment.segment_id, segment.updated_at)


async def live_size(db: asyncpg.Pool, merchant_id: uuid.UUID, segment: Segment) -> int:
    """The segment's size now, counted at most every SIZE_TTL seconds (and again at once
    after an edit: the cache is keyed by the segment's last change)."""
    key = _size_key(merchant_id, segment)
    return await _sizes.get_or_load(
        key, lambda: audience.count_matching(db, merchant_id, segment.rule, datetime.now(UTC))
    )


async def live_sizes(
    db: asyncpg.Pool, merchant_id: uuid.UUID, found: Sequence[Segment]
) -> dict[uuid.UUID, int]:
    """Each segment's size now, as `live_size` counts it; those not kept are counted together,
    in one pass over the merchant's profiles (audience.count_each)."""
    sizes: dict[uuid.UUID, int] = {}
    missing = []
    for segment in found:
        kept = _sizes.get(_size_key(merchant_id, segment))
        if kept is None:
            missing.append(segment)
        else:
            sizes[segment.segment_id] = kept
    if missing:
        now = datetime.now(UTC)
        counted = await audience.count_each(db, merchant_id, [s.rule for s in missing], now)
        for segment, size in zip(missing, counted, strict=True):
            _sizes.put(_size_key(merchant_id, segment), size)
            sizes[segment.segment_id] = size
    return sizes


async def k_threshold(db: asyncpg.Pool | asyncpg.Connection, merchant_id: uuid.UUID) -> int:
    """The merchant's k-threshold: the smallest count an advertiser sees."""
    return await db.fetchval(queries.k_threshold, merchant_id) or K_THRESHOLD


async def advertiser_view(db: asyncpg.Pool, merchant_id: uuid.UUID) -> list[SharedSegment]:
    """The merchant's segments shared with advertisers, each with its size when it is at
    least the merchant's k-threshold (else None). Names and counts only."""
    k = await k_threshold(db, merchant_id)
    shared = [s for s in await list_segments(db, merchant_id) if s.shared_with_advertisers]
    sizes = await live_sizes(db, merchant_id, shared)
    return [
        SharedSegment(
            s.segment_id,
            s.name_zh,
            s.name_en,
            sizes[s.segment_id] if sizes[s.segment_id] >= k else None,
            k,
        )
        for s in shared
    ]
