"""What the portal asks of ads: the ad to show, its image, and a coupon claim."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import asyncpg

from accounts import services as accounts
from ads import codes, creative_files
from kernel.cache import TtlCache
from kernel.errors import PorticoError
from kernel.sql import load_queries

queries = load_queries(__file__)

TIER_ORDER = ("sponsorship", "guaranteed", "performance", "house")
CATEGORIES = (
    "food",
    "fashion",
    "beauty",
    "electronics",
    "grocery",
    "services",
    "entertainment",
    "other",
)


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
    advertiser_id: uuid.UUID | None = None
    line_item_id: uuid.UUID | None = None
    kind: str = "image"
    landing_url: str | None = None
    countdown_seconds: int | None = None


@dataclass(frozen=True)
class _LineItem:
    """An eligible line item as a splash view needs it: its flight, targeting, tier and ad per
    language, and the creative's file."""

    starts_at: datetime
    ends_at: datetime
    tier: int  # index in TIER_ORDER
    weight: int
    dayparts: frozenset[int]
    stores: frozenset[uuid.UUID]
    cities: frozenset[str]
    languages: frozenset[str]
    file_id: uuid.UUID
    ad_en: Ad
    ad_zh: Ad


def _line_item(row: asyncpg.Record) -> _LineItem | None:
    if row["target_segments"] or row["target_audience"] != "all":
        return None  # needs to know the shopper: ads/decision.py's work, never shown here

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
            advertiser_id=row["advertiser_id"],
            line_item_id=row["line_item_id"],
            kind=row["kind"],
            landing_url=row["landing_url"],
            countdown_seconds=row["countdown_seconds"],
        )

    return _LineItem(
        row["starts_at"],
        row["ends_at"],
        TIER_ORDER.index(row["tier"]),
        row["weight"],
        frozenset(row["dayparts"]),
        frozenset(row["target_stores"]),
        frozenset(c.casefold() for c in row["target_cities"]),
        frozenset(row["target_languages"]),
        row["file_id"],
        ad(False),
        ad(True),
    )


@dataclass(frozen=True)
class _Venue:
    items: list[_LineItem]
    stores: dict[uuid.UUID, accounts.StoreFacts]


# Every splash view asks for an ad; a merchant's line items are read at most this often (and
# turned into the splash's ads once per read), again in the background in their last second.
LINE_ITEMS_TTL = 5.0
LINE_ITEMS_REFRESH_AHEAD = 1.0
_line_items: TtlCache[uuid.UUID, _Venue] = TtlCache(LINE_ITEMS_TTL)


async def _venue(db: asyncpg.Pool, merchant_id: uuid.UUID) -> _Venue:
    async def read() -> _Venue:
        facts = await accounts.venue_facts(db, merchant_id)
        rows = await db.fetch(queries.eligible_ads, merchant_id, datetime.now(UTC), facts.category)
        items = [item for item in map(_line_item, rows) if item is not None]
        return _Venue(items, facts.stores)

    return await _line_items.get_or_load(merchant_id, read, LINE_ITEMS_REFRESH_AHEAD)


def forget_venue(merchant_id: uuid.UUID) -> None:
    """A merchant's approvals or blocks changed: this process reads its line items afresh (the
    others within LINE_ITEMS_TTL)."""
    _line_items.clear()


def _hour_of_week(now: datetime, timezone: str) -> int:
    local = now.astimezone(ZoneInfo(timezone))
    return local.weekday() * 24 + local.hour


async def choose_ad(
    db: asyncpg.Pool,
    merchant_id: uuid.UUID,
    language: str,
    now: datetime | None = None,
    *,
    store_id: uuid.UUID | None = None,
) -> Ad | None:
    """The ad for one splash view: of the line items approved at this merchant, not blocked and
    active, those in flight whose targeting matches (store and city need `store_id`: without it
    only untargeted line items qualify), the highest tier, one draw weighted by `weight`."""
    now = now or datetime.now(UTC)
    venue = await _venue(db, merchant_id)
    store = venue.stores.get(store_id) if store_id else None
    hour = _hour_of_week(now, store.timezone if store else DEFAULT_TIMEZONE)
    city = store.city.casefold() if store and store.city else None
    items = [
        i
        for i in venue.items
        if i.starts_at <= now < i.ends_at
        and (not i.dayparts or hour in i.dayparts)
        and (not i.languages or language in i.languages)
        and (not i.stores or (store is not None and store_id in i.stores))
        and (not i.cities or city in i.cities)
    ]
    if not items:
        return None
    best = min(i.tier for i in items)
    items = [i for i in items if i.tier == best]
    item = random.choices(items, weights=[i.weight for i in items])[0]
    return item.ad_zh if language == "zh-CN" else item.ad_en


DEFAULT_TIMEZONE = "Asia/Shanghai"


async def creative_image(
    db: asyncpg.Pool, merchant_id: uuid.UUID, creative_id: uuid.UUID
) -> tuple[str, bytes] | None:
    """The file of a creative that is eligible at this merchant now (else None)."""
    venue = await _venue(db, merchant_id)
    for item in venue.items:
        if item.ad_en.creative_id == creative_id:
            row = await db.fetchrow(queries.creative_file, item.ad_en.advertiser_id, item.file_id)
            return (row["content_type"], row["data"]) if row else None
    return None


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
    advertiser_id: uuid.UUID | None = None
    line_item_id: uuid.UUID | None = None


async def store_creative_file(
    db: asyncpg.Pool | asyncpg.Connection, advertiser_id: uuid.UUID, data: bytes, filename: str
) -> creative_files.StoredFile:
    """An uploaded creative file checked, re-encoded and stored: the one call into
    ads/creative_files.py (its `store_upload`), so that module can change behind it."""
    return await creative_files.store_upload(db, advertiser_id, data, filename=filename)


async def own_advertiser(
    conn: asyncpg.Connection, merchant_id: uuid.UUID, name: str, category: str = "other"
) -> uuid.UUID:
    """The merchant's own advertiser (for its campaigns in its own venues), made on first use."""
    found = await conn.fetchval(queries.own_advertiser, merchant_id)
    if found:
        return found
    advertiser_id = uuid.uuid4()
    await conn.execute(
        queries.insert_advertiser, advertiser_id, name[:120] or "-", category, merchant_id
    )
    return advertiser_id


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
    image: bytes,
    approved: bool = True,
    tier: str = "sponsorship",
    coupon: tuple[str, str, datetime, int] | None = None,
) -> NewCampaign:
    """A merchant's own campaign in its own venues (the demo's, benchmarks' and tests'): the
    merchant's own advertiser (named `advertiser` when first made), an active campaign with one
    line item targeting the merchant, one image creative (a JPEG, PNG or WebP, checked and
    re-encoded by ads/creative_files.py), approved by construction (`approved=False`: left a
    draft) and, optionally, a coupon (title en, title zh, until, codes) at the merchant."""
    if tier not in TIER_ORDER:
        raise ValueError(f"tier {tier!r} is not one of {TIER_ORDER}")
    campaign_id, creative_id, line_item_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    coupon_id = uuid.uuid4() if coupon else None
    async with conn.transaction():
        advertiser_id = await own_advertiser(conn, merchant_id, advertiser)
        stored = await store_creative_file(conn, advertiser_id, image, "creative")
        await conn.execute(
            queries.insert_campaign,
            advertiser_id,
            campaign_id,
            name,
            "other",
            starts_at,
            ends_at,
            "active" if approved else "draft",
            Decimal("0.1"),
        )
        await conn.execute(
            queries.insert_line_item,
            advertiser_id,
            line_item_id,
            campaign_id,
            name,
            tier,
            "cpm",
            0,
            None,
            None,
            "even",
            starts_at,
            ends_at,
            [],
            1,
            "active",
            [merchant_id],
            [],
            [],
            [],
            [],
            [],
            "all",
        )
        await conn.execute(
            queries.insert_creative,
            advertiser_id,
            creative_id,
            campaign_id,
            stored.kind,
            headline_zh,
            headline_en,
            body_zh,
            body_en,
            None,
            stored.file_id,
            stored.thumbnail_file_id,
            None,
            "active",
        )
        await conn.execute(queries.request_approval, merchant_id, campaign_id, advertiser_id, True)
        if coupon:
            title_en, title_zh, valid_until, count = coupon
            await conn.execute(
                queries.insert_coupon,
                merchant_id,
                coupon_id,
                advertiser_id,
                campaign_id,
                title_en,
                title_zh,
                valid_until,
            )
            await _insert_codes(conn, merchant_id, coupon_id, count)
    return NewCampaign(campaign_id, creative_id, coupon_id, advertiser_id, line_item_id)


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
