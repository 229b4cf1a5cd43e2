"""What the portal asks of ads: the ad to show, its image, and a coupon claim."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import asyncpg

from ads import codes, creative_files, delivery, tracking
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
    countdown_seconds: int | None = None  # a video's: its impression counts only after it


# A campaign's coupon at a merchant is read at most this often, again in the background in its
# last second.
COUPON_TTL = 5.0
COUPON_REFRESH_AHEAD = 1.0


def forget_venue(merchant_id: uuid.UUID) -> None:
    """A merchant's approvals or blocks changed: this process's next decision reads the index
    afresh (the other processes' within delivery.REFRESH_SECONDS)."""
    delivery.decider.clear()


async def choose_ad(
    db: asyncpg.Pool,
    merchant_id: uuid.UUID,
    language: str,
    now: datetime | None = None,
    *,
    store_id: uuid.UUID | None = None,
    identity: str = "",
) -> Ad | None:
    """The ad for one splash view, decided by the engine (ads/decision.py). Without a store
    only line items targeting no store qualify; without an identity nothing is capped or held
    out.
    The splash uses `place_ad`, which also gives the token the page reports it with."""
    placed = await place_ad(
        db,
        "",
        merchant_id,
        store_id or uuid.UUID(int=0),
        identity,
        language,
        now=now,
    )
    return placed.ad if placed else None


async def creative_image(
    db: asyncpg.Pool, merchant_id: uuid.UUID, creative_id: uuid.UUID
) -> tuple[str, bytes] | None:
    """The file of a creative that can run at this merchant now (else None)."""
    snapshot = await delivery.decider.current(db)
    content = snapshot.contents.get(creative_id)
    if content is None or not snapshot.index.runs_at(merchant_id, content.campaign_id):
        return None
    row = await db.fetchrow(queries.creative_file, content.advertiser_id, content.file_id)
    return (row["content_type"], bytes(row["data"])) if row else None


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
    holdout_share: Decimal = Decimal("0.1"),
) -> NewCampaign:
    """A merchant's own campaign in its own venues (the demo's, benchmarks' and tests'): the
    merchant's own advertiser (named `advertiser` when first made), an active campaign with one
    line item targeting the merchant, one image creative (a JPEG, PNG or WebP, checked and
    re-encoded by ads/creative_files.py), approved by construction (`approved=False`: left a
    draft) and, optionally, a coupon (title en, title zh, until, codes) at the merchant.
    `holdout_share`: the shoppers who never see it (a ghost impression instead). This process's
    next ad decision reads the index afresh."""
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
            holdout_share,
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
    delivery.decider.clear()
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


# -- the ad decision (ads/decision.py, ads/delivery.py) --------------------------------------------


@dataclass(frozen=True)
class PlacedAd:
    """The ad of one splash view and its signed token (ads/tracking.py): the page reports the
    impression and sends the click with it."""

    ad: Ad
    token: str
    kind: str  # image | video
    countdown_seconds: int  # a video's: its impression counts only after it
    has_landing: bool  # a click goes somewhere


_coupons: TtlCache[tuple[uuid.UUID, uuid.UUID, uuid.UUID], tuple[object, ...] | None] = TtlCache(
    COUPON_TTL
)


async def place_ad(
    db: asyncpg.Pool,
    secret_key: str,
    merchant_id: uuid.UUID,
    store_id: uuid.UUID,
    identity: str,
    language: str,
    *,
    returning: bool = False,
    now: datetime | None = None,
) -> PlacedAd | None:
    """Decide the ad of one splash view (docs/ad-decision.md); None: nothing to show."""
    placed = await delivery.place_ad(
        db, secret_key, merchant_id, store_id, identity, language, returning=returning, now=now
    )
    if placed is None:
        return None
    content = placed.content
    key = (merchant_id, content.advertiser_id, content.campaign_id)

    async def read_coupon() -> tuple[object, ...] | None:
        row = await db.fetchrow(delivery.queries.campaign_coupon, *key)
        return tuple(row) if row else None

    coupon = await _coupons.get_or_load(key, read_coupon, COUPON_REFRESH_AHEAD)
    zh = language == "zh-CN"
    ad = Ad(
        campaign_id=content.campaign_id,
        creative_id=content.creative_id,
        advertiser=content.advertiser_name,
        headline=content.headline_zh if zh else content.headline_en,
        body=content.body_zh if zh else content.body_en,
        coupon_id=coupon[0] if coupon else None,  # type: ignore[arg-type]
        coupon_title=(coupon[2] if zh else coupon[1]) if coupon else None,  # type: ignore[arg-type]
        advertiser_id=content.advertiser_id,
        line_item_id=placed.line_item.line_item_id,
        kind=content.kind,
        landing_url=content.landing_url,
        countdown_seconds=content.countdown_seconds or None,
    )
    return PlacedAd(
        ad, placed.token, content.kind, content.countdown_seconds, bool(content.landing_url)
    )


async def count_claim_action(
    db: asyncpg.Pool,
    secret_key: str,
    token: str,
    merchant_id: uuid.UUID,
    coupon_id: uuid.UUID,
) -> bool:
    """A new coupon claim from the splash that showed its campaign's ad (the form carries the
    placement's token): the line item's action (what CPA line items pay for, and what their
    eCPM learns from), by the shopper the ad was shown to, counted in the background, once per
    impression. False: the token does not check, or names another venue or campaign."""
    placement = tracking.decode(secret_key, token) if token else None
    if placement is None or placement.merchant_id != merchant_id:
        return False
    row = await db.fetchrow(delivery.queries.coupon_campaign, merchant_id, coupon_id)
    if row is None or (row["advertiser_id"], row["campaign_id"]) != (
        placement.advertiser_id,
        placement.campaign_id,
    ):
        return False
    event = delivery.Event(
        uuid.uuid5(placement.impression_id, "action"),
        "action",
        merchant_id,
        placement.identity,
        placement.store_id,
        placement.advertiser_id,
        placement.campaign_id,
        placement.line_item_id,
        placement.creative_id,
        datetime.now(UTC),
    )
    delivery.count_soon(db, [event])
    return True
