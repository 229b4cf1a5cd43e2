"""Claims: the three pools, the limits (per shopper, per period in the venue's time zone, in
total; also under concurrency), a claim's own validity, expiry, void, and the wallet
(ads/services.py)."""

from __future__ import annotations

import asyncio
import html
import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from accounts import services as accounts
from ads import code_import, codes, redemption
from ads import services as ads
from ads.services import CouponLimits, claim_coupon
from tests.ads.test_redemption import claimed_code, coupon_codes
from tests.console.test_console_app import Member, csrf_token, sign_in
from tests.factories import TEST_ACTOR


def shopper() -> str:
    return f"dev-{uuid.uuid4().hex}"


async def claim(db: asyncpg.Pool, member: Member, coupon_id: uuid.UUID, who: str) -> ads.Claim:
    async with db.acquire() as conn:
        return await claim_coupon(conn, member.merchant_id, coupon_id, who)


async def redeem(db: asyncpg.Pool, member: Member, code: str) -> None:
    await redemption.redeem(
        db, member.merchant_id, code, store_id=member.store_id, user_id=member.user_id
    )


async def test_a_generic_code_is_shared_and_every_claim_is_recorded(
    db: asyncpg.Pool, member: Member
) -> None:
    coupon_id, pool = await coupon_codes(
        db,
        member.merchant_id,
        count=0,
        pool="generic",
        generic_code="latte-10",
        limits=CouponLimits(per_shopper=1, total=3),
    )
    assert pool == []  # nothing made ahead: each claim makes its row
    alice, bob, carol = shopper(), shopper(), shopper()
    claims = [await claim(db, member, coupon_id, who) for who in (alice, bob, carol)]
    assert len({c.code for c in claims}) == 3 and all(c.new for c in claims)
    again = await claim(db, member, coupon_id, alice)
    assert (again.code, again.new) == (claims[0].code, False)
    with pytest.raises(ads.CouponsGone):  # three claims in total
        await claim(db, member, coupon_id, shopper())
    held = await ads.coupons_held_by(db, member.merchant_id, bob, "en")
    assert [(h.code, h.said) for h in held] == [(claims[1].code, "LATTE10")]
    # Each claim is redeemed on its own at the till (its QR code); Bob's stays Bob's.
    await redeem(db, member, claims[0].code)
    status = await redemption.check_code(db, member.merchant_id, claims[1].code, "en")
    assert status.redeemable


async def test_a_unique_pool_makes_codes_on_claim_and_hands_out_made_ones_in_order(
    db: asyncpg.Pool, member: Member
) -> None:
    on_claim, none_made = await coupon_codes(
        db, member.merchant_id, count=0, codes_on_claim=True, limits=CouponLimits(total=2)
    )
    assert none_made == []
    first = await claim(db, member, on_claim, shopper())
    assert redemption.read_code(first.code) == first.code
    await claim(db, member, on_claim, shopper())
    with pytest.raises(ads.CouponsGone):
        await claim(db, member, on_claim, shopper())

    ahead, made = await coupon_codes(db, member.merchant_id, count=2)
    got = {(await claim(db, member, ahead, shopper())).code for _ in range(2)}
    assert got == set(made)
    with pytest.raises(ads.CouponsGone):  # the pool is empty
        await claim(db, member, ahead, shopper())


async def test_an_imported_pool_hands_out_the_merchants_own_codes(
    db: asyncpg.Pool, member: Member
) -> None:
    coupon_id, _ = await coupon_codes(db, member.merchant_id, count=0, pool="imported")
    with pytest.raises(ads.CouponsGone):  # nothing imported yet
        await claim(db, member, coupon_id, shopper())
    async with db.acquire() as conn:
        added = await code_import.import_codes(
            conn, member.merchant_id, coupon_id, b"code\nPOS-0001\npos-0002\n", actor=TEST_ACTOR
        )
    assert added == 2
    codes = {(await claim(db, member, coupon_id, shopper())).code for _ in range(2)}
    assert codes == {"POS0001", "POS0002"}
    await redeem(db, member, "pos 0001")  # as typed at the till
    with pytest.raises(redemption.CodeAlreadyRedeemed):
        await redeem(db, member, "POS-0001")
    with pytest.raises(redemption.CodeMistyped):  # neither ours nor imported
        await redeem(db, member, "POS-0003")


async def test_a_shopper_claims_again_only_within_their_limit(
    db: asyncpg.Pool, member: Member
) -> None:
    coupon_id, _ = await coupon_codes(
        db, member.merchant_id, count=5, limits=CouponLimits(per_shopper=2)
    )
    who = shopper()
    first = await claim(db, member, coupon_id, who)
    assert (await claim(db, member, coupon_id, who)).code == first.code  # held: the same
    await redeem(db, member, first.code)
    second = await claim(db, member, coupon_id, who)
    assert second.new and second.code != first.code
    await redeem(db, member, second.code)
    with pytest.raises(ads.ClaimLimitReached):
        await claim(db, member, coupon_id, who)
    assert (await claim(db, member, coupon_id, shopper())).new  # others still may


async def test_a_period_limit_counts_the_venues_day(db: asyncpg.Pool, member: Member) -> None:
    """One claim a day, in New York's time zone (chosen for being far from UTC): a claim just
    before local midnight is yesterday's, one just after it today's."""
    zone = ZoneInfo("America/New_York")
    coupon_id, _ = await coupon_codes(
        db,
        member.merchant_id,
        count=5,
        timezone="America/New_York",
        limits=CouponLimits(per_shopper=None, per_period=1, period="day"),
    )
    first = await claim(db, member, coupon_id, shopper())
    with pytest.raises(ads.ClaimPeriodFull):
        await claim(db, member, coupon_id, shopper())

    midnight = datetime.now(zone).replace(hour=0, minute=0, second=0, microsecond=0)
    move = "UPDATE coupon_codes SET claimed_at = $3 WHERE merchant_id = $1 AND code = $2"
    await db.execute(move, member.merchant_id, first.code, midnight - timedelta(seconds=1))
    second = await claim(db, member, coupon_id, shopper())  # yesterday's does not count
    await db.execute(move, member.merchant_id, second.code, midnight + timedelta(seconds=1))
    with pytest.raises(ads.ClaimPeriodFull):
        await claim(db, member, coupon_id, shopper())


async def test_a_week_limit_starts_on_monday(db: asyncpg.Pool, member: Member) -> None:
    zone = ZoneInfo("Asia/Shanghai")
    coupon_id, _ = await coupon_codes(
        db, member.merchant_id, count=5, limits=CouponLimits(per_period=1, period="week")
    )
    first = await claim(db, member, coupon_id, shopper())
    today = datetime.now(zone).replace(hour=0, minute=0, second=0, microsecond=0)
    monday = today - timedelta(days=today.weekday())
    move = "UPDATE coupon_codes SET claimed_at = $3 WHERE merchant_id = $1 AND code = $2"
    await db.execute(move, member.merchant_id, first.code, monday + timedelta(seconds=1))
    with pytest.raises(ads.ClaimPeriodFull):
        await claim(db, member, coupon_id, shopper())
    await db.execute(move, member.merchant_id, first.code, monday - timedelta(seconds=1))
    assert (await claim(db, member, coupon_id, shopper())).new


async def test_limits_hold_when_shoppers_claim_at_the_same_moment(
    db: asyncpg.Pool, database_url: str, member: Member
) -> None:
    """Twenty claims at once on their own connections: a total of 3 gives 3 codes, a limit of
    one per shopper gives a shopper claiming from eight tabs at once one code."""
    coupon_id, _ = await coupon_codes(
        db,
        member.merchant_id,
        count=0,
        pool="generic",
        generic_code="RUSH2026",
        limits=CouponLimits(per_shopper=1, total=3),
    )

    async def attempt(who: str) -> str | None:
        conn = await asyncpg.connect(database_url)
        try:
            return (await claim_coupon(conn, member.merchant_id, coupon_id, who)).code
        except ads.CouponsGone:
            return None
        finally:
            await conn.close()

    got = await asyncio.gather(*(attempt(shopper()) for _ in range(20)))
    assert sum(1 for code in got if code) == 3
    assert await claims_of(db, member, coupon_id) == 3
    counter = "SELECT claims FROM coupons WHERE merchant_id = $1 AND coupon_id = $2"
    assert await db.fetchval(counter, member.merchant_id, coupon_id) == 3  # the total's counter

    other, _ = await coupon_codes(
        db, member.merchant_id, count=0, pool="generic", generic_code="ONCE2026"
    )
    one = shopper()

    async def tab() -> str:
        conn = await asyncpg.connect(database_url)
        try:
            return (await claim_coupon(conn, member.merchant_id, other, one)).code
        finally:
            await conn.close()

    codes = await asyncio.gather(*(tab() for _ in range(8)))
    assert len(set(codes)) == 1 and await claims_of(db, member, other) == 1


async def claims_of(db: asyncpg.Pool, member: Member, coupon_id: uuid.UUID) -> int:
    return await db.fetchval(
        "SELECT count(*) FROM coupon_codes WHERE merchant_id = $1 AND coupon_id = $2"
        " AND claimed_at IS NOT NULL",
        member.merchant_id,
        coupon_id,
    )


async def test_a_claim_is_valid_n_days_and_never_past_the_coupons_end(
    db: asyncpg.Pool, member: Member
) -> None:
    short, _ = await coupon_codes(db, member.merchant_id, count=1, valid_days=30, claim_days=3)
    code = (await claim(db, member, short, shopper())).code
    status = await redemption.check_code(db, member.merchant_id, code, "en")
    in_three_days = datetime.now(UTC) + timedelta(days=3)
    assert abs(status.valid_until - in_three_days) < timedelta(minutes=1)
    capped, _ = await coupon_codes(db, member.merchant_id, count=1, valid_days=1, claim_days=3)
    code = (await claim(db, member, capped, shopper())).code
    status = await redemption.check_code(db, member.merchant_id, code, "en")
    assert status.valid_until - datetime.now(UTC) < timedelta(days=1, minutes=1)


async def test_codes_expire_at_their_end_even_before_the_job_comes_by(
    db: asyncpg.Pool, member: Member
) -> None:
    coupon_id, made = await coupon_codes(db, member.merchant_id, count=3, claim_days=2)
    who = shopper()
    held = (await claim(db, member, coupon_id, who)).code
    past = datetime.now(UTC) - timedelta(seconds=1)
    await db.execute(
        "UPDATE coupon_codes SET expires_at = $3 WHERE merchant_id = $1 AND code = $2",
        member.merchant_id,
        held,
        past,
    )
    with pytest.raises(redemption.CodeExpired):
        await redeem(db, member, held)
    assert [c.state for c in await ads.wallet(db, member.merchant_id, who, "en")] == ["expired"]
    assert await ads.coupons_held_by(db, member.merchant_id, who, "en") == []
    # A new claim now: the expired one no longer counts as held (one per shopper, though).
    with pytest.raises(ads.ClaimLimitReached):
        await claim(db, member, coupon_id, who)

    assert await ads.expire_codes(db) >= 1
    assert await state_of(db, member, held) == "expired"
    # Codes never claimed expire with their coupon.
    await db.execute(
        "UPDATE coupons SET valid_until = $3 WHERE merchant_id = $1 AND coupon_id = $2",
        member.merchant_id,
        coupon_id,
        past,
    )
    assert await ads.expire_codes(db, batch=1) >= 2  # a batch at a time, until none is left
    assert {await state_of(db, member, c) for c in made if c != held} == {"expired"}
    with pytest.raises(ads.CouponsGone):
        await claim(db, member, coupon_id, shopper())


async def state_of(db: asyncpg.Pool, member: Member, code: str) -> str:
    return await db.fetchval(
        "SELECT state FROM coupon_codes WHERE merchant_id = $1 AND code = $2",
        member.merchant_id,
        code,
    )


async def test_an_owner_voids_a_code_not_yet_redeemed(db: asyncpg.Pool, member: Member) -> None:
    coupon_id, _ = await coupon_codes(db, member.merchant_id, count=3)
    who = shopper()
    code = (await claim(db, member, coupon_id, who)).code
    await ads.void_code(db, member.merchant_id, code, member.user_id)
    with pytest.raises(redemption.CodeVoid):
        await redeem(db, member, code)
    assert [c.state for c in await ads.wallet(db, member.merchant_id, who, "en")] == ["void"]
    with pytest.raises(ads.VoidRefused):  # once
        await ads.void_code(db, member.merchant_id, code, member.user_id)
    used = (await claim(db, member, coupon_id, shopper())).code
    await redeem(db, member, used)
    with pytest.raises(ads.VoidRefused):  # a redeemed code stays redeemed
        await ads.void_code(db, member.merchant_id, used, member.user_id)
    row = await db.fetchrow(
        "SELECT voided_by, voided_at FROM coupon_codes WHERE merchant_id = $1 AND code = $2",
        member.merchant_id,
        code,
    )
    assert row["voided_by"] == member.user_id and row["voided_at"] is not None


async def test_the_wallet_lists_what_a_shopper_holds_and_used(
    db: asyncpg.Pool, member: Member
) -> None:
    who = shopper()
    tea, _ = await coupon_codes(db, member.merchant_id, count=2)
    latte, _ = await coupon_codes(
        db, member.merchant_id, count=0, pool="generic", generic_code="LATTE10"
    )
    used = (await claim(db, member, tea, who)).code
    await redeem(db, member, used)
    held = (await claim(db, member, latte, who)).code
    wallet = await ads.wallet(db, member.merchant_id, who, "zh-CN")
    assert [(c.code, c.said, c.state, c.usable) for c in wallet] == [
        (held, "LATTE10", "claimed", True),
        (used, used, "redeemed", False),
    ]
    assert wallet[0].title == "半价茶饮"
    assert await ads.wallet(db, member.merchant_id, shopper(), "en") == []


async def test_a_coupon_is_made_only_with_a_sound_pool(db: asyncpg.Pool, member: Member) -> None:
    bad: list[dict[str, object]] = [
        {"pool": "shared"},
        {"pool": "generic"},  # no code
        {"pool": "generic", "generic_code": "LATTE 10%"},
        {"pool": "generic", "generic_code": "ABCDEFGHJKM"},  # 11: the length of ours
        {"pool": "unique", "generic_code": "LATTE10"},
        {"pool": "imported", "count": 3},
        {"codes_on_claim": True, "count": 2},
        {"count": -1},
        {"claim_days": 0},
        {"timezone": "Mars/Olympus"},
    ]
    for options in bad:
        count = int(options.pop("count", 0))  # type: ignore[call-overload]
        with pytest.raises((ValueError, KeyError)):
            await coupon_codes(db, member.merchant_id, count=count, **options)
    for limits in (
        {"per_shopper": 0},
        {"per_period": 2},
        {"per_period": 2, "period": "month"},
    ):
        with pytest.raises(ValueError):
            CouponLimits(**limits)  # type: ignore[arg-type]


async def test_an_owner_voids_a_code_at_the_till_and_staff_cannot(
    client: TestClient, db: asyncpg.Pool, member: Member
) -> None:
    code = await claimed_code(db, member)
    staff_email = f"staff-{uuid.uuid4().hex}@example.com"
    staff = await accounts.create_user(db, staff_email, "Till", "correct horse battery")
    await accounts.add_membership(db, member.merchant_id, staff, "staff")
    en = {"Accept-Language": "en"}
    assert (await sign_in(client, staff_email, headers=en)).status == 303
    page = await (await client.get("/till", params={"code": code}, headers=en)).text()
    assert 'id="void"' not in page  # staff see no Void button…
    form = {"csrf_token": csrf_token(page), "merchant": str(member.merchant_id), "code": code}
    refused = await client.post("/till/void", data=form, headers=en)
    assert refused.status == 403
    assert "Only the merchant's owners" in html.unescape(await refused.text())
    assert await state_of(db, member, code) == "claimed"  # …and cannot post one

    client.session.cookie_jar.clear()
    assert (await sign_in(client, member.email, headers=en)).status == 303
    page = await (await client.get("/till", params={"code": code}, headers=en)).text()
    assert 'id="void"' in page
    form["csrf_token"] = csrf_token(page)
    voided = await client.post("/till/void", data=form, headers=en)
    text = html.unescape(await voided.text())
    assert voided.status == 200 and f"Code {code} is void" in text
    assert await state_of(db, member, code) == "void"
    again = await client.post("/till/void", data=form, headers={"Accept-Language": "zh-CN"})
    assert again.status == 409 and "该券码无法作废" in await again.text()
    check = await client.get("/till", params={"code": code}, headers=en)
    assert "This code is no longer valid." in await check.text()


async def test_a_code_given_out_with_the_old_check_is_still_redeemed(
    db: asyncpg.Pool, member: Member
) -> None:
    """A code made before the check came from the code's own alphabet (mod 37 over
    `0-9A-Z*~$=U`), already in the database and in a shopper's screenshot, still works."""
    coupon_id, _ = await coupon_codes(db, member.merchant_id, count=0, codes_on_claim=True)
    body = "7K3MQ9PX2A"
    value = 0
    for ch in body:
        value = value * 32 + codes.ALPHABET.index(ch)
    legacy = f"{body[:4]}-{body[4:8]}-{body[8:]}{codes.LEGACY_CHECK_ALPHABET[value % 37]}"
    assert legacy[-1] != codes.check_char(body)  # not a code of today's check
    await db.execute(
        "INSERT INTO coupon_codes (merchant_id, code, coupon_id, state, claimed_by, claimed_at,"
        " expires_at) SELECT $1, $2, $3, 'claimed', 'dev-old', now(), valid_until"
        " FROM coupons WHERE merchant_id = $1 AND coupon_id = $3",
        member.merchant_id,
        legacy,
        coupon_id,
    )
    await redeem(db, member, legacy.lower().replace("-", " "))
    assert await state_of(db, member, legacy) == "redeemed"
