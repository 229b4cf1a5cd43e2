"""Segments (marketing/segments.py): saved and checked, their live size counted over the
merchant's stored profiles now (tags as they stand now), kept a minute, and what an
advertiser sees: shared segments only, a count only at or above the merchant's k-threshold."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import timedelta

import asyncpg
import pytest

from marketing import audience, intake, segments
from marketing.engine import Engine
from marketing.segments import SegmentSpec
from tests.marketing.test_engine import T0, a_merchant, run_all, sighting


async def shoppers(db: asyncpg.Pool, merchant: uuid.UUID, store: uuid.UUID) -> None:
    """60 shoppers: every one came once, 55 twice, 5 of those on four days (frequent)."""
    events = []
    for i in range(60):
        device = f"{i:02x}" * 16
        visits = 1 + (i < 55) + 2 * (i < 5)
        events += [sighting(merchant, store, device, T0 + timedelta(days=d)) for d in range(visits)]
    await intake.record_events(db, events)
    await run_all(Engine(db))


def twice(shared: bool = True) -> SegmentSpec:
    return SegmentSpec(
        "两次以上", "Came twice", {"fact": "visits_total", "op": ">=", "value": 2}, shared
    )


async def test_a_segment_is_checked_saved_listed_and_edited(db: asyncpg.Pool) -> None:
    merchant, _ = await a_merchant(db)
    with pytest.raises(segments.SegmentError) as bad:
        await segments.save_segment(db, merchant, SegmentSpec(" ", "x", {"all": []}))
    assert bad.value.field == "name_zh"
    with pytest.raises(segments.SegmentError) as bad:
        await segments.save_segment(db, merchant, SegmentSpec("x", "x", {"fact": "age"}))
    assert bad.value.field == "rule" and "fact" in bad.value.detail
    made = await segments.save_segment(db, merchant, twice(shared=False))
    assert (made.name_en, made.shared_with_advertisers) == ("Came twice", False)
    edited = await segments.save_segment(db, merchant, twice(shared=True), made.segment_id)
    assert edited.updated_at > made.updated_at
    assert await segments.list_segments(db, merchant) == [edited]
    other, _ = await a_merchant(db)
    assert await segments.list_segments(db, other) == []
    with pytest.raises(segments.SegmentUnknown):
        await segments.save_segment(db, other, twice(), made.segment_id)


async def test_the_live_size_counts_profiles_matching_now(db: asyncpg.Pool) -> None:
    merchant, store = await a_merchant(db)
    await shoppers(db, merchant, store)
    frequent = {"tag": "frequent"}  # 4 visits in 30 days: the 5 regulars
    assert await audience.count_matching(db, merchant, frequent, T0 + timedelta(days=4)) == 5
    # Forty days on, nobody has 4 visits in the last 30: the tag is read as it stands then.
    assert await audience.count_matching(db, merchant, frequent, T0 + timedelta(days=40)) == 0
    rule = {"all": [{"fact": "visits_total", "op": ">=", "value": 2}, {"not": frequent}]}
    assert await audience.count_matching(db, merchant, rule, T0 + timedelta(days=4)) == 50

    segment = await segments.save_segment(db, merchant, twice())
    assert await segments.live_size(db, merchant, segment) == 55
    await shoppers(db, merchant, store)  # the same events again: nothing new
    await intake.record_events(
        db, [sighting(merchant, store, "ff" * 16, T0 + timedelta(days=d)) for d in (0, 1)]
    )
    await run_all(Engine(db))
    assert await segments.live_size(db, merchant, segment) == 55  # kept for SIZE_TTL
    edited = await segments.save_segment(db, merchant, twice(), segment.segment_id)
    assert await segments.live_size(db, merchant, edited) == 56  # an edit counts anew


async def test_an_advertiser_sees_shared_segments_and_counts_of_k_or_more(
    db: asyncpg.Pool,
) -> None:
    merchant, store = await a_merchant(db)
    await shoppers(db, merchant, store)
    shown = await segments.save_segment(db, merchant, twice())  # 55
    small = await segments.save_segment(
        db, merchant, SegmentSpec("核销者", "Redeemers", {"tag": "coupon_redeemer"}, True)
    )  # nobody redeemed: 0
    three = SegmentSpec("三次", "Three", {"fact": "visits_total", "op": ">=", "value": 3}, True)
    few = await segments.save_segment(db, merchant, three)  # 5
    await segments.save_segment(db, merchant, twice(shared=False))  # the merchant's own

    view = await segments.advertiser_view(db, merchant)
    assert {(v.segment_id, v.size, v.k) for v in view} == {
        (shown.segment_id, 55, 50),
        (small.segment_id, None, 50),
        (few.segment_id, None, 50),
    }
    # Names and counts: nothing in it says which shoppers.
    assert {f.name for f in dataclasses.fields(segments.SharedSegment)} == {
        "segment_id",
        "name_zh",
        "name_en",
        "size",
        "k",
    }

    await db.execute(
        "INSERT INTO marketing_settings (merchant_id, k_threshold) VALUES ($1, 60)", merchant
    )
    view = await segments.advertiser_view(db, merchant)
    assert {(v.segment_id, v.size, v.k) for v in view if v.segment_id == shown.segment_id} == {
        (shown.segment_id, None, 60)
    }
