"""What the portal asks of ads: the ad to show, its image, and a coupon claim."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg

from ads import codes
from kernel.cache import TtlCache
from kernel.errors import PorticoError
from kernel.sql import load_queries

queries = load_queries(__file__)

TIER_ORDER = ("sponsorship", "guaranteed", "performance", "house")
IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/svg+xml"})


class CouponsGone(PorticoError):
    message_id = "error_coupons_gone"
    status = 409


class UnknownCoupon(PorticoError):
    message_id = "error_unknown_coupon"
    status = 404


@dataclass(frozen=True)
class Ad:
    campaign_id: uuid.UUID
    creative_id: uuid.UUID
    advertiser: str
    headline: str
    body: str
    coupon_id: uuid.UUID | None
    coupon_title: str | None


@dataclass(frozen=True)
class _LineItem:
    """An eligible line item as a splash view needs it: its flight, tier and ad per language."""

    starts_at: datetime
    ends_at: datetime
    tier: int  # index in TIER_ORDER
    ad_en: Ad
    ad_zh: Ad


def _line_item(row: asyncpg.Record) -> _LineItem:
    def ad(zh: bool) -> Ad:
        return Ad(
            campaign_id=row["campaign_id"],
            creative_id=row["creative_id"],
            advertiser=row["advertiser"],
            headline=row["headline_zh"] if zh else row["headline_en"],
            body=row["body_zh"] if zh else row["body_en"],
            coupon_id=row["coupon_id"],
            coupon_title=(row["coupon_zh"] if zh else row["coupon_en"])
            if row["coupon_id"]
            else None,
        )

    return _LineItem(
        row["starts_at"], row["ends_at"], TIER_ORDER.index(row["tier"]), ad(False), ad(True)
    )


# Every splash view asks for an ad; a merchant's line items are read at most this often (and
# turned into the splash's ads once per read), again in the background in their last second.
LINE_ITEMS_TTL = 5.0
LINE_ITEMS_REFRESH_AHEAD = 1.0
_line_items: TtlCache[uuid.UUID, list[_LineItem]] = TtlCache(LINE_ITEMS_TTL)


async def _unfinished_line_items(db: asyncpg.Pool, merchant_id: uuid.UUID) -> list[_LineItem]:
    async def read() -> list[_LineItem]:
        rows = await db.fetch(queries.eligible_ads, merchant_id, datetime.now(UTC))
        return [_line_item(row) for row in rows]

    return await _line_items.get_or_load(merchant_id, read, LINE_ITEMS_REFRESH_AHEAD)


async def choose_ad(
    db: asyncpg.Pool, merchant_id: uuid.UUID, language: str, now: datetime | None = None
) -> Ad | None:
    """The ad for one splash view: the highest tier in flight, one random draw within it."""
    now = now or datetime.now(UTC)
    items = [
        i for i in await _unfinished_line_items(db, merchant_id) if i.starts_at <= now < i.ends_at
    ]
    if not items:
        return None
    if len(items) > 1:
        best = min(i.tier for i in items)
        items = [i for i in items if i.tier == best]
    item = random.choice(items)
    return item.ad_zh if language == "zh-CN" else item.ad_en


async def creative_image(
    db: asyncpg.Pool, merchant_id: uuid.UUID, creative_id: uuid.UUID
) -> tuple[str, bytes] | None:
    row = await db.fetchrow(queries.creative_image, merchant_id, creative_id)
    return (row["image_type"], row["image"]) if row else None


@dataclass(frozen=True)
class Claim:
    code: str
    new: bool  # False: the shopper already held this code


async def claim_coupon(
    conn: asyncpg.Connection, merchant_id: uuid.UUID, coupon_id: uuid.UUID, shopper: str
) -> Claim:
    """The shopper's code for this coupon: the one they already hold, or the next free one."""
    async with conn.transaction():
        held = await conn.fetchval(queries.code_claimed_by, merchant_id, coupon_id, shopper)
        if held:
            return Claim(held, new=False)
        code = await conn.fetchval(queries.claim_next_code, merchant_id, coupon_id, shopper)
    if code is not None:
        return Claim(code, new=True)
    if not await conn.fetchval(queries.coupon_exists, merchant_id, coupon_id):
        raise UnknownCoupon(f"merchant {merchant_id} has no coupon {coupon_id}")
    raise CouponsGone(f"no codes left for coupon {coupon_id}")


@dataclass(frozen=True)
class HeldCoupon:
    title: str
    code: str
    claimed_at: datetime | None = None


async def coupons_held_by(
    db: asyncpg.Pool | asyncpg.Connection, merchant_id: uuid.UUID, shopper: str, language: str
) -> list[HeldCoupon]:
    """The codes a shopper claimed and can still redeem, newest first (for the online page)."""
    rows = await db.fetch(queries.codes_held_by, merchant_id, shopper)
    zh = language == "zh-CN"
    return [
        HeldCoupon(row["title_zh"] if zh else row["title_en"], row["code"], row["claimed_at"])
        for row in rows
    ]


@dataclass(frozen=True)
class NewCampaign:
    campaign_id: uuid.UUID
    creative_id: uuid.UUID
    coupon_id: uuid.UUID | None


async def create_campaign(
    conn: asyncpg.Connection,
    merchant_id: uuid.UUID,
    *,
    advertiser: str,
    name: str,
    starts_at: datetime,
    ends_at: datetime,
    headline_en: str,
    headline_zh: str,
    body_en: str,
    body_zh: str,
    image_type: str,
    image: bytes,
    approved: bool = True,
    tier: str = "sponsorship",
    coupon: tuple[str, str, datetime, int] | None = None,
) -> NewCampaign:
    """A campaign with one creative and, optionally, a coupon (title en, title zh, until, codes)."""
    if image_type not in IMAGE_TYPES:
        raise ValueError(f"creative image type {image_type!r} is not allowed")
    campaign_id, creative_id = uuid.uuid4(), uuid.uuid4()
    coupon_id = uuid.uuid4() if coupon else None
    async with conn.transaction():
        await conn.execute(
            queries.insert_campaign,
            merchant_id,
            campaign_id,
            advertiser,
            name,
            tier,
            approved,
            starts_at,
            ends_at,
        )
        await conn.execute(
            queries.insert_creative,
            merchant_id,
            creative_id,
            campaign_id,
            headline_en,
            headline_zh,
            body_en,
            body_zh,
            image_type,
            image,
        )
        if coupon:
            title_en, title_zh, valid_until, count = coupon
            await conn.execute(
                queries.insert_coupon,
                merchant_id,
                coupon_id,
                campaign_id,
                title_en,
                title_zh,
                valid_until,
            )
            await _insert_codes(conn, merchant_id, coupon_id, count)
    return NewCampaign(campaign_id, creative_id, coupon_id)


DRAWS = 5  # rounds of drawing codes again for those already taken at the merchant


async def _insert_codes(
    conn: asyncpg.Connection, merchant_id: uuid.UUID, coupon_id: uuid.UUID, count: int
) -> None:
    """Exactly `count` new codes, unique at the merchant: a code drawn twice or already taken
    is drawn again (50 random bits: 10 M codes hold a collision about one time in 20, which
    used to leave the pool short without a word)."""
    missing = count
    for _ in range(DRAWS):
        if missing == 0:
            return
        drawn = [codes.new_code() for _ in range(missing)]
        missing -= len(await conn.fetch(queries.insert_codes, merchant_id, coupon_id, drawn))
    if missing:
        raise RuntimeError(f"could not draw {count} unique coupon codes in {DRAWS} rounds")
