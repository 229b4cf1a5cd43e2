"""A coupon's pool holds exactly the codes asked for, each unique at the merchant, even when
the random draw repeats itself (ads/services.py, _insert_codes)."""

from __future__ import annotations

import itertools

import asyncpg
import pytest

from ads import codes
from tests.ads.test_redemption import coupon_codes
from tests.console.test_console_app import Member


async def test_codes_drawn_twice_or_already_taken_are_drawn_again(
    db: asyncpg.Pool, member: Member, monkeypatch: pytest.MonkeyPatch
) -> None:
    _first, [taken] = await coupon_codes(db, member.merchant_id, count=1)
    real_draw = codes.new_code
    fresh = (real_draw() for _ in itertools.count())
    # The draw repeats a code, then hits one another coupon of the merchant holds.
    repeated = codes.new_code()
    draws = itertools.chain([repeated, repeated, taken, repeated], fresh)
    monkeypatch.setattr(codes, "new_code", lambda: next(draws))

    coupon_id, made = await coupon_codes(db, member.merchant_id, count=4)

    assert len(made) == len(set(made)) == 4
    assert repeated in made and taken not in made
    holder = await db.fetchval(
        "SELECT coupon_id FROM coupon_codes WHERE merchant_id = $1 AND code = $2",
        member.merchant_id,
        taken,
    )
    assert holder == _first and holder != coupon_id


async def test_a_draw_that_never_comes_out_unique_fails_loudly(
    db: asyncpg.Pool, member: Member, monkeypatch: pytest.MonkeyPatch
) -> None:
    stuck = codes.new_code()
    monkeypatch.setattr(codes, "new_code", lambda: stuck)
    count_coupons = "SELECT count(*) FROM coupons WHERE merchant_id = $1"
    before = await db.fetchval(count_coupons, member.merchant_id)

    with pytest.raises(RuntimeError, match="could not draw 3 unique coupon codes"):
        await coupon_codes(db, member.merchant_id, count=3)
    # Nothing of the campaign stays: no coupon short of its codes.
    assert await db.fetchval(count_coupons, member.merchant_id) == before
