"""A coupon's pool holds exactly the codes asked for, each unique at the merchant, even when
the random draw repeats itself (ads/services.py, _insert_codes; ads/codes.py, new_codes)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import asyncpg
import pytest

from ads import codes
from ads.services import CodeMaker, claim_coupon
from tests.ads.test_redemption import coupon_codes
from tests.console.test_console_app import Member


def scripted(draws: Iterator[str]) -> CodeMaker:
    """A code generator that hands out `draws` in order."""
    return lambda count: [next(draws) for _ in range(count)]


async def test_codes_drawn_twice_or_already_taken_are_drawn_again(
    db: asyncpg.Pool, member: Member
) -> None:
    first, [taken] = await coupon_codes(db, member.merchant_id, count=1)
    fresh = (codes.new_code() for _ in itertools.count())
    # The injected generator repeats a code, then gives one another coupon of the merchant
    # holds: the unique index skips both and the pool draws again until it has all four.
    repeated = codes.new_code()
    draws = itertools.chain([repeated, repeated, taken, repeated], fresh)

    coupon_id, made = await coupon_codes(
        db, member.merchant_id, count=4, make_codes=scripted(draws)
    )

    assert len(made) == len(set(made)) == 4
    assert repeated in made and taken not in made
    holder = await db.fetchval(
        "SELECT coupon_id FROM coupon_codes WHERE merchant_id = $1 AND code = $2",
        member.merchant_id,
        taken,
    )
    assert holder == first and holder != coupon_id
    # Nothing lost, nothing twice: the merchant holds its 1 + 4 codes, each once.
    everything = "SELECT code FROM coupon_codes WHERE merchant_id = $1"
    rows = await db.fetch(everything, member.merchant_id)
    assert sorted(r["code"] for r in rows) == sorted([taken, *made])


async def test_a_draw_that_never_comes_out_unique_fails_loudly(
    db: asyncpg.Pool, member: Member
) -> None:
    stuck = codes.new_code()
    count_coupons = "SELECT count(*) FROM coupons WHERE merchant_id = $1"
    before = await db.fetchval(count_coupons, member.merchant_id)

    with pytest.raises(RuntimeError, match="could not draw 3 unique coupon codes"):
        await coupon_codes(db, member.merchant_id, count=3, make_codes=lambda n: [stuck] * n)
    # Nothing of the campaign stays: no coupon short of its codes.
    assert await db.fetchval(count_coupons, member.merchant_id) == before


async def test_a_code_made_on_claim_that_is_taken_is_drawn_again(
    db: asyncpg.Pool, member: Member
) -> None:
    """A generic pool makes a code per claim: one drawn that the merchant holds already is
    skipped by the unique index and drawn again; the other coupon's code stays its own."""
    first, [taken] = await coupon_codes(db, member.merchant_id, count=1)
    coupon_id, _ = await coupon_codes(
        db, member.merchant_id, count=0, pool="generic", generic_code="TAKEN01"
    )
    fresh = codes.new_code()
    async with db.acquire() as conn:
        claim = await claim_coupon(
            conn,
            member.merchant_id,
            coupon_id,
            "dev-collision",
            make_codes=scripted(iter([taken, taken, fresh])),
        )
    assert claim.code == fresh and claim.new
    rows = await db.fetch(
        "SELECT code, coupon_id, claimed_by FROM coupon_codes WHERE merchant_id = $1"
        " AND code = ANY($2::text[])",
        member.merchant_id,
        [taken, fresh],
    )
    assert {r["code"]: (r["coupon_id"], r["claimed_by"]) for r in rows} == {
        taken: (first, None),
        fresh: (coupon_id, "dev-collision"),
    }
