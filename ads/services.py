"""What the portal asks of ads: the ad to show, its image, a coupon claim, and the splash ad's
reports (its file, its impression, its click: portal/ad_views.py). A shopper's export and
erasure request (portico/shopper_data.py) reads and erases what ads keeps of them
(`export_shopper`, `erase_shopper`: ads/privacy.py)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import NamedTuple
from zoneinfo import ZoneInfo

import asyncpg
from aiohttp import web

from ads import codes, creative_files, delivery, tracking
from ads import decision as d
from ads.privacy import AdsErased as AdsErased
from ads.privacy import erase_shopper as erase_shopper
from ads.privacy import export_shopper as export_shopper
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


@dataclass(frozen=True, eq=False)
class Ad:
    """An ad as the splash shows it. Compared and hashed by identity (eq=False): place_ad makes
    one per creative, line item, language and coupon and hands the same one out again."""

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
    return await creative_file(db, content.advertiser_id, content.file_id)


@dataclass(frozen=True)
class Claim:
    code: str
    new: bool  # False: the shopper already held this code


class ClaimLimitReached(PorticoError):
    """The shopper claimed this coupon as often as it allows."""

    message_id = "error_coupon_limit_shopper"
    status = 409


class ClaimPeriodFull(PorticoError):
    """The coupon's claims for today (or this week) are gone: come back then."""

    message_id = "error_coupon_limit_period"
    status = 409


PERIODS = ("day", "week")


@dataclass(frozen=True)
class CouponLimits:
    """How often a coupon may be claimed; None: no limit. `per_period` counts every
    shopper's claims in the current `period` ('day' or 'week', Monday to Sunday) in the
    coupon's time zone; every claim counts, whatever became of it."""

    per_shopper: int | None = 1
    per_period: int | None = None
    period: str | None = None
    total: int | None = None

    def __post_init__(self) -> None:
        for value in (self.per_shopper, self.per_period, self.total):
            if value is not None and value < 1:
                raise ValueError(f"a coupon limit must be at least 1, not {value}")
        if (self.per_period is None) != (self.period is None):
            raise ValueError("per_period and period go together")
        if self.period is not None and self.period not in PERIODS:
            raise ValueError(f"period must be one of {PERIODS}, not {self.period!r}")


CodeMaker = Callable[[int], list[str]]


async def claim_coupon(
    conn: asyncpg.Connection,
    merchant_id: uuid.UUID,
    coupon_id: uuid.UUID,
    shopper: str,
    *,
    make_codes: CodeMaker = codes.new_codes,
) -> Claim:
    """The shopper's code for this coupon: the one they hold now, or a new claim within the
    coupon's limits (per shopper, per period, in total), counted under the coupon's row lock
    so that two claims at once never pass a limit together. A unique or imported pool hands
    out its next code; a generic pool (and a unique one making codes on claim) makes a code of
    Portico's for the claim."""
    async with conn.transaction():
        coupon = await conn.fetchrow(queries.coupon_for_claim, merchant_id, coupon_id)
        if coupon is None:
            raise UnknownCoupon(f"merchant {merchant_id} has no coupon {coupon_id}")
        held = await conn.fetchval(queries.code_claimed_by, merchant_id, coupon_id, shopper)
        if held:
            return Claim(held, new=False)
        if not coupon["open"]:
            raise CouponsGone(f"coupon {coupon_id} ended at {coupon['valid_until']}")
        counted = await conn.fetchrow(
            queries.claims_counted,
            merchant_id,
            coupon_id,
            shopper,
            coupon["timezone"],
            coupon["limit_period"],
        )
        if coupon["limit_total"] is not None and coupon["claims"] >= coupon["limit_total"]:
            raise CouponsGone(f"coupon {coupon_id}: all {coupon['limit_total']} claimed")
        if (
            coupon["limit_per_shopper"] is not None
            and counted["by_shopper"] >= coupon["limit_per_shopper"]
        ):
            raise ClaimLimitReached(f"coupon {coupon_id}: shopper reached its limit")
        if (
            coupon["limit_per_period"] is not None
            and counted["in_period"] >= coupon["limit_per_period"]
        ):
            raise ClaimPeriodFull(f"coupon {coupon_id}: this {coupon['limit_period']} is full")
        expires_at = coupon["valid_until"]
        if coupon["claim_days"] is not None:
            expires_at = min(expires_at, datetime.now(UTC) + timedelta(days=coupon["claim_days"]))
        if coupon["pool"] == "generic" or coupon["codes_on_claim"]:
            code = await _insert_claimed_code(
                conn, merchant_id, coupon_id, shopper, expires_at, make_codes
            )
        else:
            code = await conn.fetchval(
                queries.claim_next_code, merchant_id, coupon_id, shopper, expires_at
            )
        if code is not None:
            await conn.execute(queries.count_claim, merchant_id, coupon_id)
    if code is None:
        raise CouponsGone(f"no codes left for coupon {coupon_id}")
    return Claim(code, new=True)


async def _insert_claimed_code(
    conn: asyncpg.Connection,
    merchant_id: uuid.UUID,
    coupon_id: uuid.UUID,
    shopper: str,
    expires_at: datetime,
    make_codes: CodeMaker,
) -> str:
    for _ in range(DRAWS):
        (code,) = make_codes(1)
        made = await conn.fetchval(
            queries.insert_claimed_code, merchant_id, code, coupon_id, shopper, expires_at
        )
        if made is not None:
            return made
    raise RuntimeError(f"could not draw a unique coupon code in {DRAWS} rounds")


@dataclass(frozen=True)
class HeldCoupon:
    title: str
    code: str  # the claim's own code: what its QR code and the till read
    claimed_at: datetime | None = None
    said: str = ""  # what the shopper says at the till: a generic pool's code, else `code`


async def coupons_held_by(
    db: asyncpg.Pool | asyncpg.Connection, merchant_id: uuid.UUID, shopper: str, language: str
) -> list[HeldCoupon]:
    """The codes a shopper claimed and can still redeem, newest first (for the online page)."""
    rows = await db.fetch(queries.codes_held_by, merchant_id, shopper)
    zh = language == "zh-CN"
    return [
        HeldCoupon(
            row["title_zh"] if zh else row["title_en"], row["code"], row["claimed_at"], row["said"]
        )
        for row in rows
    ]


WALLET_DAYS = 90  # a wallet shows the coupons used, expired or voided this recently
WALLET_SIZE = 20


@dataclass(frozen=True)
class WalletCoupon:
    title: str
    code: str  # the claim's own code (its QR code: the till's link)
    said: str  # what to show and say at the till
    valid_until: datetime
    state: str  # claimed, locked, redeemed, expired, void
    timezone: str = "Asia/Shanghai"  # the venue's, to show valid_until in

    @property
    def usable(self) -> bool:
        return self.state in ("claimed", "locked")

    @property
    def local_valid_until(self) -> datetime:
        return self.valid_until.astimezone(ZoneInfo(self.timezone))


async def wallet(
    db: asyncpg.Pool | asyncpg.Connection, merchant_id: uuid.UUID, shopper: str, language: str
) -> list[WalletCoupon]:
    """A shopper's coupons at the merchant for the wallet page: held ones and those used,
    expired or voided in the last WALLET_DAYS, newest claim first."""
    rows = await db.fetch(queries.wallet, merchant_id, shopper, WALLET_DAYS, WALLET_SIZE)
    zh = language == "zh-CN"
    return [
        WalletCoupon(
            row["title_zh"] if zh else row["title_en"],
            row["code"],
            row["said"],
            row["valid_until"],
            row["state"],
            row["timezone"],
        )
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
    pool: str = "unique",
    generic_code: str | None = None,
    codes_on_claim: bool = False,
    claim_days: int | None = None,
    limits: CouponLimits | None = None,
    timezone: str = "Asia/Shanghai",
    make_codes: CodeMaker = codes.new_codes,
    holdout_share: Decimal = Decimal("0.1"),
) -> NewCampaign:
    """A merchant's own campaign in its own venues (the demo's, benchmarks' and tests'): the
    merchant's own advertiser (named `advertiser` when first made), an active campaign with one
    line item targeting the merchant, one image creative (a JPEG, PNG or WebP, checked and
    re-encoded by ads/creative_files.py), approved by construction (`approved=False`: left a
    draft) and, optionally, a coupon (title en, title zh, until, codes) at the merchant.

    The coupon's pool (docs/coupons.md): 'unique' makes `codes` codes now (or, with
    `codes_on_claim`, one per claim), 'generic' hands every shopper `generic_code` (each claim
    recorded under a code of its own), 'imported' starts empty for the merchant's own codes
    (import_codes). `claim_days`: a claimed code is valid that many days after its claim (and
    never after the coupon's end); `limits`: how often it may be claimed (one per shopper if
    not given); `timezone`: the venue's, where a limit's day or week begins.
    `holdout_share`: the shoppers who never see it (a ghost impression instead). This process's
    next ad decision reads the index afresh."""
    if tier not in TIER_ORDER:
        raise ValueError(f"tier {tier!r} is not one of {TIER_ORDER}")
    spec = None
    if coupon:
        title_en, title_zh, valid_until, count = coupon
        spec = CouponSpec(
            title_en,
            title_zh,
            valid_until,
            count,
            pool=pool,
            generic_code=generic_code,
            codes_on_claim=codes_on_claim,
            claim_days=claim_days,
            limits=limits or CouponLimits(),
            timezone=timezone,
        ).checked()
    campaign_id, creative_id, line_item_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    coupon_id = None
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
        if spec is not None:
            coupon_id = await add_coupon(
                conn, merchant_id, advertiser_id, campaign_id, spec, make_codes
            )
    delivery.decider.clear()
    return NewCampaign(campaign_id, creative_id, coupon_id, advertiser_id, line_item_id)


DRAWS = 5  # rounds of drawing codes again for those already taken at the merchant


@dataclass(frozen=True)
class CouponSpec:
    """A coupon to add to a campaign at the merchant (docs/coupons.md, "Pools")."""

    title_en: str
    title_zh: str
    valid_until: datetime
    count: int  # a unique pool's codes made now
    pool: str = "unique"
    generic_code: str | None = None
    codes_on_claim: bool = False
    claim_days: int | None = None
    limits: CouponLimits = CouponLimits()
    timezone: str = "Asia/Shanghai"

    def checked(self) -> CouponSpec:
        """The same with the generic code in its canonical form, or ValueError (KeyError for
        a time zone that is none)."""
        if self.pool not in POOLS:
            raise ValueError(f"pool must be one of {POOLS}, not {self.pool!r}")
        if self.claim_days is not None and not 1 <= self.claim_days <= 3650:
            raise ValueError(f"claim_days must be 1 to 3650, not {self.claim_days}")
        if self.count < 0:
            raise ValueError(f"a pool cannot make {self.count} codes")
        if self.count and (self.pool != "unique" or self.codes_on_claim):
            raise ValueError(f"a {self.pool} pool makes no codes ahead (count {self.count})")
        ZoneInfo(self.timezone)
        if self.pool != "generic":
            if self.generic_code is not None:
                raise ValueError("only a generic pool has a generic code")
            return self
        canonical = codes.imported_form(self.generic_code or "")
        if canonical is None:
            raise ValueError(f"generic code {self.generic_code!r}: 4-32 letters and digits, not 11")
        return replace(self, generic_code=canonical)


async def add_coupon(
    conn: asyncpg.Connection,
    merchant_id: uuid.UUID,
    advertiser_id: uuid.UUID,
    campaign_id: uuid.UUID,
    spec: CouponSpec,
    make_codes: CodeMaker = codes.new_codes,
) -> uuid.UUID:
    """A coupon of the campaign at the merchant, with its pool's codes; its id."""
    spec = spec.checked()
    coupon_id = uuid.uuid4()
    limits = spec.limits
    async with conn.transaction():
        await conn.execute(
            queries.insert_coupon,
            merchant_id,
            coupon_id,
            advertiser_id,
            campaign_id,
            spec.title_en,
            spec.title_zh,
            spec.valid_until,
            spec.pool,
            spec.generic_code,
            spec.codes_on_claim,
            spec.claim_days,
            limits.per_shopper,
            limits.per_period,
            limits.period,
            limits.total,
            spec.timezone,
        )
        if spec.pool == "unique" and not spec.codes_on_claim:
            await _insert_codes(conn, merchant_id, coupon_id, spec.count, make_codes)
    return coupon_id


POOLS = ("unique", "generic", "imported")


async def _insert_codes(
    conn: asyncpg.Connection,
    merchant_id: uuid.UUID,
    coupon_id: uuid.UUID,
    count: int,
    make_codes: CodeMaker = codes.new_codes,
) -> None:
    """Exactly `count` new codes, unique at the merchant: a code drawn twice or already taken
    is drawn again (`codes.new_codes` never repeats itself within a batch, but codes made
    before are only known to the unique index, which skips them: ON CONFLICT DO NOTHING)."""
    missing = count
    for _ in range(DRAWS):
        if missing == 0:
            return
        drawn = make_codes(missing)
        missing -= len(await conn.fetch(queries.insert_codes, merchant_id, coupon_id, drawn))
    if missing:
        raise RuntimeError(f"could not draw {count} unique coupon codes in {DRAWS} rounds")


async def expire_codes(db: asyncpg.Pool | asyncpg.Connection, batch: int = 10_000) -> int:
    """The expiry job (the console's, every minute): held codes past their own end and codes
    never claimed of coupons past their end become 'expired'. How many did. Until it comes by,
    the till, the POS API and the wallet already treat a code past its end as expired."""
    done = 0
    while True:
        status = await db.execute(queries.expire_codes, batch)
        count = int(status.split()[-1])
        done += count
        if count < batch:
            return done


class VoidRefused(PorticoError):
    """Only codes not yet redeemed, and not locked by a POS right now, can be voided."""

    message_id = "red_error_void_refused"
    status = 409


async def void_code(
    db: asyncpg.Pool | asyncpg.Connection, merchant_id: uuid.UUID, code: str, user_id: uuid.UUID
) -> str:
    """An owner voids a code (canonical form) not yet redeemed: nobody can use it any more."""
    voided = await db.fetchval(queries.void_code, merchant_id, code, user_id)
    if voided is None:
        raise VoidRefused(f"code {code} cannot be voided now")
    return voided


# -- the ad decision (ads/decision.py, ads/delivery.py) --------------------------------------------


class PlacedAd(NamedTuple):
    """The ad of one splash view and its signed token (ads/tracking.py): the page reports the
    impression and sends the click with it. (A NamedTuple: made on every splash view.)"""

    ad: Ad
    token: str
    kind: str  # image | video
    countdown_seconds: int  # a video's: its impression counts only after it
    has_landing: bool  # a click goes somewhere


_coupons: TtlCache[tuple[uuid.UUID, uuid.UUID, uuid.UUID], tuple[object, ...] | None] = TtlCache(
    COUPON_TTL
)


# The Ad of a creative, line item, language and coupon is made once and reused: the splash
# compares Ads by identity in its page cache key, and hashing or comparing twelve fields on
# every view cost more. Looked up by the objects' identity on every view; when the index is
# read again (every few seconds: new objects) or the coupon, by their values, so that an ad
# whose values did not change stays the same Ad and the pages cached with it stay valid (else
# every look of every router was rendered again after each refresh).
_AdKey = tuple[int, int, bool, int]
_ads: dict[_AdKey, tuple[object, object, object, Ad]] = {}
_ads_by_value: dict[tuple[object, ...], Ad] = {}
MAX_ADS = 10_000


def _ad_of(
    content: delivery.Content,
    line_item: d.LineItem,
    zh: bool,
    coupon: tuple[object, ...] | None,
) -> Ad:
    key = (id(content), id(line_item), zh, id(coupon))
    made = _ads.get(key)
    if made is not None and made[0] is content and made[1] is line_item and made[2] is coupon:
        return made[3]
    by_value = (content, line_item.line_item_id, zh, coupon)  # all that an Ad is made of
    ad = _ads_by_value.get(by_value)
    if ad is None:
        ad = Ad(
            campaign_id=content.campaign_id,
            creative_id=content.creative_id,
            advertiser=content.advertiser_name,
            headline=content.headline_zh if zh else content.headline_en,
            body=content.body_zh if zh else content.body_en,
            coupon_id=coupon[0] if coupon else None,  # type: ignore[arg-type]
            coupon_title=(coupon[2] if zh else coupon[1]) if coupon else None,  # type: ignore[arg-type]
            advertiser_id=content.advertiser_id,
            line_item_id=line_item.line_item_id,
            kind=content.kind,
            landing_url=content.landing_url,
            countdown_seconds=content.countdown_seconds or None,
        )
    if len(_ads) >= MAX_ADS:
        _ads.clear()
        _ads_by_value.clear()
    _ads[key] = (content, line_item, coupon, ad)
    _ads_by_value[by_value] = ad
    return ad


async def place_ad(
    db: asyncpg.Pool,
    secret_key: str,
    merchant_id: uuid.UUID,
    store_id: uuid.UUID,
    identity: str,
    language: str,
    *,
    device: str | None = None,
    returning: bool = False,
    now: datetime | None = None,
) -> PlacedAd | None:
    """Decide the ad of one splash view (docs/ad-decision.md); None: nothing to show.
    `device`: the device's pseudonym when `identity` is the shopper's phone or email identity
    (the reports count the results of each of the identity's devices)."""
    placed = await delivery.place_ad(
        db,
        secret_key,
        merchant_id,
        store_id,
        identity,
        language,
        device=device,
        returning=returning,
        now=now,
    )
    if placed is None:
        return None
    content = placed.content
    key = (merchant_id, content.advertiser_id, content.campaign_id)

    async def read_coupon() -> tuple[object, ...] | None:
        row = await db.fetchrow(delivery.queries.campaign_coupon, *key)
        return tuple(row) if row else None

    coupon = await _coupons.get_or_load(key, read_coupon, COUPON_REFRESH_AHEAD)
    ad = _ad_of(content, placed.line_item, language == "zh-CN", coupon)
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
    event = _event(placement, uuid.uuid5(placement.impression_id, "action"), "action")
    delivery.count_soon(db, [event])
    return True


def _event(placement: tracking.Placement, event_id: uuid.UUID, kind: str) -> delivery.Event:
    """The placement's `kind` of event (impression, click, action), happening now."""
    return delivery.Event(
        event_id,
        kind,
        placement.merchant_id,
        placement.identity,
        placement.store_id,
        placement.advertiser_id,
        placement.campaign_id,
        placement.line_item_id,
        placement.creative_id,
        datetime.now(UTC),
    )


# -- the splash ad's reports (portal/ad_views.py) ---------------------------------------------

Placement = tracking.Placement  # one ad placed on one page: what its token says
Content = delivery.Content  # what the page shows of a creative


def read_placement(secret_key: str, token: str) -> Placement | None:
    """The placement a report's token names, or None when the token does not check
    (ads/tracking.py)."""
    return tracking.decode(secret_key, token)


async def placed_content(db: asyncpg.Pool, placement: Placement) -> Content | None:
    """What the placement's creative shows, from the delivery index; None when the creative is
    no longer in it, or is another advertiser's than the token says."""
    snapshot = await delivery.decider.current(db)
    content = snapshot.contents.get(placement.creative_id)
    if content is None or content.advertiser_id != placement.advertiser_id:
        return None
    return content


def report_refusal(
    placement: Placement | None,
    user_agent: str,
    now: float,
    *,
    kind: str,
    countdown_seconds: int = 0,
) -> str | None:
    """Why a report is not counted (unsigned, expired, bot, too_fast), or None to count it
    (ads/tracking.py, `refusal`)."""
    return tracking.refusal(
        placement, user_agent, now, kind=kind, countdown_seconds=countdown_seconds
    )


async def count_report_refusal(db: asyncpg.Pool, merchant_id: uuid.UUID, reason: str) -> None:
    """One more report of the merchant's refused for `reason` (per day)."""
    await delivery.count_refusal(db, merchant_id, reason)


async def count_report(db: asyncpg.Pool, placement: Placement, kind: str) -> str:
    """Count the placement's impression or click, in its store's time zone: its outcome
    (counted, duplicate, capped, goal_reached)."""
    event_id = placement.impression_id if kind == "impression" else placement.click_id
    _, _, tz = await delivery.venue_facts(db, placement.merchant_id, placement.store_id)
    return await delivery.writer(db).submit(_event(placement, event_id, kind), tz)


async def creative_file(
    db: asyncpg.Pool, advertiser_id: uuid.UUID, file_id: uuid.UUID
) -> tuple[str, bytes] | None:
    """The advertiser's stored file, whole: (its content type, its bytes); None when there is
    no such file."""
    row = await db.fetchrow(queries.creative_file, advertiser_id, file_id)
    return (row["content_type"], bytes(row["data"])) if row else None


async def creative_file_response(
    db: asyncpg.Pool, advertiser_id: uuid.UUID, file_id: uuid.UUID, request: web.Request
) -> web.Response:
    """The advertiser's stored file as a response, in the byte ranges the request asks for
    (ads/creative_files.py, `file_response`: what phones' video players need)."""
    return await creative_files.file_response(db, advertiser_id, file_id, request=request)


async def reports_settled() -> None:
    """Until the events counted in the background so far (ghosts, actions) are counted."""
    await delivery.settled()
