"""Advertisers and what they run (docs/ads-model.md): members, campaigns, line items, frequency
caps and creatives; and the venues' side, approvals and block lists. Every function takes the
tenant id the console checked; form values are parsed here, each refused with a clear error
(`FieldInvalid`, naming the field) before anything is written."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

from accounts import audit
from ads import services
from kernel.errors import PorticoError
from kernel.sql import load_queries

queries = load_queries(__file__, "advertisers.sql")

CATEGORIES = services.CATEGORIES
TIERS = services.TIER_ORDER
PRICINGS = ("cpm", "cpc", "cpa")
PACINGS = ("even", "asap")
CAMPAIGN_STATUSES = ("draft", "active", "paused", "ended")
LINE_ITEM_STATUSES = ("active", "paused")
AUDIENCES = ("all", "new", "returning")
LANGUAGES = ("zh-CN", "en")
CAP_SCOPES = ("creative", "line_item", "campaign", "advertiser")
CAP_PERIODS = ("lifetime", "day", "window")
MEMBER_ROLES = ("admin", "viewer")
MAX_FEN = 10**12  # ten billion yuan: any bigger number is a typo
MAX_LIST = 50


class AdvertiserError(PorticoError):
    status = 400


class FieldInvalid(AdvertiserError):
    """One form field is wrong; `field` names it for the page."""

    message_id = "adv_error_field"

    def __init__(self, field: str, detail: str = "") -> None:
        super().__init__(detail or f"field {field} is invalid", field=field)
        self.field = field


class CampaignUnknown(AdvertiserError):
    message_id = "error_not_found"
    status = 404


class SegmentsUnavailable(FieldInvalid):
    """Nothing puts shoppers in segments yet (precision marketing, issue 14): a line item
    targeting one would be saved and never shown."""

    message_id = "adv_error_segments_unavailable"


class FlightOutside(AdvertiserError):
    message_id = "adv_error_flight_outside"


class UnknownAdvertiser(AdvertiserError):
    message_id = "error_not_found"
    status = 404


@dataclass(frozen=True)
class AdvertiserMembership:
    advertiser_id: uuid.UUID
    advertiser_name: str
    merchant_id: uuid.UUID | None
    role: str


async def create_advertiser(
    conn: asyncpg.Connection,
    name: str,
    *,
    category: str = "other",
    admin_user_id: uuid.UUID | None = None,
    merchant_id: uuid.UUID | None = None,
) -> uuid.UUID:
    """A new advertiser, with its first admin when given (the CLI, the demo)."""
    name = name.strip()
    if not 1 <= len(name) <= 120:
        raise FieldInvalid("name", "an advertiser's name must have 1 to 120 characters")
    if category not in CATEGORIES:
        raise FieldInvalid("category", f"category {category[:40]!r} is unknown")
    advertiser_id = uuid.uuid4()
    async with conn.transaction():
        await conn.execute(queries.insert_advertiser, advertiser_id, name, category, merchant_id)
        if admin_user_id is not None:
            await add_member(conn, advertiser_id, admin_user_id, "admin")
    return advertiser_id


async def add_member(
    conn: asyncpg.Connection | asyncpg.Pool, advertiser_id: uuid.UUID, user_id: uuid.UUID, role: str
) -> None:
    if role not in MEMBER_ROLES:
        raise FieldInvalid("role", f"role must be one of {MEMBER_ROLES}")
    try:
        await conn.execute(queries.upsert_member, advertiser_id, user_id, role)
    except asyncpg.ForeignKeyViolationError as exc:
        raise UnknownAdvertiser(f"no advertiser {advertiser_id} or no user {user_id}") from exc


async def memberships_of(
    db: asyncpg.Pool | asyncpg.Connection, user_id: uuid.UUID
) -> list[AdvertiserMembership]:
    """The advertisers this user may see: the basis of every check on the advertiser pages."""
    rows = await db.fetch(queries.advertiser_memberships_of, user_id)
    return [AdvertiserMembership(**dict(r)) for r in rows]


# Parsing form values ------------------------------------------------------------------------


def _text(form: Mapping[str, Any], field: str, *, low: int = 0, high: int = 200) -> str:
    value = form.get(field, "")
    if not isinstance(value, str):
        raise FieldInvalid(field, f"{field} is not text")
    value = value.strip()
    if not low <= len(value) <= high:
        raise FieldInvalid(field, f"{field} must have {low} to {high} characters")
    return value


def _choice(form: Mapping[str, Any], field: str, allowed: tuple[str, ...]) -> str:
    value = _text(form, field, high=40)
    if value not in allowed:
        raise FieldInvalid(field, f"{field} must be one of {allowed}")
    return value


def _choices(form: Any, field: str, allowed: tuple[str, ...]) -> list[str]:
    values = form.getall(field, []) if hasattr(form, "getall") else form.get(field, [])
    if isinstance(values, str):
        values = [values]
    out = []
    for value in values:
        if not isinstance(value, str) or value not in allowed:
            raise FieldInvalid(field, f"{field} must be among {allowed}")
        if value not in out:
            out.append(value)
    return out


def _local_time(form: Mapping[str, Any], field: str, zone: ZoneInfo) -> datetime:
    value = _text(form, field, low=1, high=40)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise FieldInvalid(field, f"{field} is not a date and time") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone)
    if not 2000 <= parsed.year <= 2100:
        raise FieldInvalid(field, f"{field} is out of range")
    return parsed


def _int(
    form: Mapping[str, Any], field: str, low: int, high: int, *, optional: bool = False
) -> Any:
    value = _text(form, field, high=20)
    if not value and optional:
        return None
    try:
        number = int(value)
    except ValueError:
        raise FieldInvalid(field, f"{field} is not a whole number") from None
    if not low <= number <= high:
        raise FieldInvalid(field, f"{field} must be between {low} and {high}")
    return number


def _fen(form: Mapping[str, Any], field: str, *, optional: bool = False) -> int | None:
    """Yuan as typed (up to 2 decimals) to fen."""
    value = _text(form, field, high=20).replace(",", "")
    if not value and optional:
        return None
    try:
        yuan = Decimal(value)
    except InvalidOperation:
        raise FieldInvalid(field, f"{field} is not an amount") from None
    fen = yuan * 100
    if not yuan.is_finite() or fen != fen.to_integral_value() or not 0 <= fen <= MAX_FEN:
        raise FieldInvalid(field, f"{field} must be an amount in yuan with at most 2 decimals")
    if optional and fen == 0:
        raise FieldInvalid(field, f"{field} must be more than 0, or empty for no limit")
    return int(fen)


def _uuids(form: Mapping[str, Any], field: str) -> list[uuid.UUID]:
    raw = _text(form, field, high=MAX_LIST * 40)
    out: list[uuid.UUID] = []
    for part in raw.replace(",", " ").split():
        try:
            out.append(uuid.UUID(part))
        except ValueError:
            raise FieldInvalid(field, f"{part[:40]!r} in {field} is not an id") from None
    if len(out) > MAX_LIST:
        raise FieldInvalid(field, f"at most {MAX_LIST} ids in {field}")
    return list(dict.fromkeys(out))


def _words(form: Mapping[str, Any], field: str, high: int = 40) -> list[str]:
    raw = _text(form, field, high=MAX_LIST * high)
    out = [w.strip() for w in raw.replace("，", ",").split(",") if w.strip()]
    if len(out) > MAX_LIST or any(len(w) > high for w in out):
        raise FieldInvalid(field, f"at most {MAX_LIST} entries of {high} characters in {field}")
    return list(dict.fromkeys(out))


def parse_dayparts(raw: str) -> list[int]:
    """'Mon-Fri 11-14, Sat 10-22' style ranges, or hour numbers 0-167; empty: always.
    Days: Mon Tue Wed Thu Fri Sat Sun (or 1-7 / 一二三四五六日); hours 0-24, end exclusive."""
    days = {
        **{d: i for i, d in enumerate(("mon", "tue", "wed", "thu", "fri", "sat", "sun"))},
        **{d: i for i, d in enumerate("一二三四五六日")},
    }
    hours: set[int] = set()
    for part in raw.replace("，", ",").split(","):
        part = part.strip().lower()
        if not part:
            continue
        if part.isdigit():
            hours.add(int(part))
            continue
        pieces = part.split()
        if len(pieces) != 2:
            raise ValueError(part)
        day_part, hour_part = pieces
        first, _, last = day_part.partition("-")
        d0, d1 = days[first], days[last or first]
        h0_text, _, h1_text = hour_part.partition("-")
        h0, h1 = int(h0_text), int(h1_text or int(h0_text) + 1)
        if not (0 <= h0 < h1 <= 24 and d0 <= d1):
            raise ValueError(part)
        hours.update(d * 24 + h for d in range(d0, d1 + 1) for h in range(h0, h1))
    if any(not 0 <= h <= 167 for h in hours):
        raise ValueError(raw)
    return sorted(hours)


def format_dayparts(hours: list[int]) -> str:
    """Hours of the week back as parse_dayparts reads them, days with the same hours grouped:
    'Mon-Fri 11-14, Sat-Sun 10-22'."""
    names = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
    by_day = []
    for day in range(7):
        day_hours = sorted(h - day * 24 for h in hours if day * 24 <= h < day * 24 + 24)
        spans, start = [], None
        for index, hour in enumerate(day_hours):
            if start is None:
                start = hour
            if index + 1 == len(day_hours) or day_hours[index + 1] != hour + 1:
                spans.append(f"{start}-{hour + 1}")
                start = None
        by_day.append(tuple(spans))
    parts, day = [], 0
    while day < 7:
        last = day
        while last + 1 < 7 and by_day[last + 1] == by_day[day]:
            last += 1
        days = names[day] if last == day else f"{names[day]}-{names[last]}"
        parts += [f"{days} {span}" for span in by_day[day]]
        day = last + 1
    return ", ".join(parts)


@dataclass(frozen=True)
class CampaignFields:
    name: str
    category: str
    starts_at: datetime
    ends_at: datetime
    status: str
    holdout_share: Decimal


def campaign_fields(form: Mapping[str, Any], zone: ZoneInfo) -> CampaignFields:
    name = _text(form, "name", low=1, high=200)
    category = _choice(form, "category", CATEGORIES)
    starts_at = _local_time(form, "starts_at", zone)
    ends_at = _local_time(form, "ends_at", zone)
    if ends_at <= starts_at:
        raise FieldInvalid("ends_at", "the end must be after the start")
    status = _choice(form, "status", CAMPAIGN_STATUSES)
    raw = _text(form, "holdout_percent", low=1, high=10)
    try:
        percent = Decimal(raw)
    except InvalidOperation:
        raise FieldInvalid("holdout_percent", "the holdout is not a number") from None
    if not percent.is_finite() or not 0 <= percent <= 50 or percent != round(percent, 1):
        raise FieldInvalid("holdout_percent", "the holdout must be 0 to 50 %, one decimal")
    return CampaignFields(name, category, starts_at, ends_at, status, percent / 100)


@dataclass(frozen=True)
class LineItemFields:
    name: str
    tier: str
    pricing: str
    bid_fen: int
    budget_fen: int | None
    goal_impressions: int | None
    pacing: str
    starts_at: datetime
    ends_at: datetime
    dayparts: list[int]
    weight: int
    status: str
    target_merchants: list[uuid.UUID]
    target_stores: list[uuid.UUID]
    target_categories: list[str]
    target_cities: list[str]
    target_languages: list[str]
    target_segments: list[str]
    target_audience: str


def line_item_fields(form: Any, zone: ZoneInfo, campaign: CampaignFields) -> LineItemFields:
    starts_at = _local_time(form, "starts_at", zone)
    ends_at = _local_time(form, "ends_at", zone)
    if ends_at <= starts_at:
        raise FieldInvalid("ends_at", "the end must be after the start")
    if starts_at < campaign.starts_at or ends_at > campaign.ends_at:
        raise FlightOutside("a line item's flight must be inside its campaign's")
    try:
        dayparts = parse_dayparts(_text(form, "dayparts", high=2000))
    except (ValueError, KeyError):
        raise FieldInvalid("dayparts", "dayparts are like 'Mon-Fri 11-14, Sat 10-22'") from None
    return LineItemFields(
        name=_text(form, "name", low=1, high=200),
        tier=_choice(form, "tier", TIERS),
        pricing=_choice(form, "pricing", PRICINGS),
        bid_fen=_fen(form, "bid") or 0,
        budget_fen=_fen(form, "budget", optional=True),
        goal_impressions=_int(form, "goal_impressions", 1, 10**12, optional=True),
        pacing=_choice(form, "pacing", PACINGS),
        starts_at=starts_at,
        ends_at=ends_at,
        dayparts=dayparts,
        weight=_int(form, "weight", 1, 1000),
        status=_choice(form, "status", LINE_ITEM_STATUSES),
        target_merchants=_uuids(form, "target_merchants"),
        target_stores=_uuids(form, "target_stores"),
        target_categories=_choices(form, "target_categories", CATEGORIES),
        target_cities=_words(form, "target_cities", 80),
        target_languages=_choices(form, "target_languages", LANGUAGES),
        target_segments=_no_segments(form),
        target_audience=_choice(form, "target_audience", AUDIENCES),
    )


def _no_segments(form: Mapping[str, Any]) -> list[str]:
    if _words(form, "target_segments"):
        raise SegmentsUnavailable("target_segments", "no shopper is in any segment yet")
    return []


# Campaigns -----------------------------------------------------------------------------------


async def list_campaigns(db: asyncpg.Pool, advertiser_id: uuid.UUID) -> list[asyncpg.Record]:
    return await db.fetch(queries.list_campaigns, advertiser_id)


async def get_campaign(
    db: asyncpg.Pool | asyncpg.Connection, advertiser_id: uuid.UUID, campaign_id: uuid.UUID
) -> CampaignFields:
    row = await db.fetchrow(queries.get_campaign, advertiser_id, campaign_id)
    if row is None:
        raise CampaignUnknown(f"advertiser {advertiser_id} has no campaign {campaign_id}")
    return CampaignFields(
        row["name"],
        row["category"],
        row["starts_at"],
        row["ends_at"],
        row["status"],
        row["holdout_share"],
    )


async def create_campaign(
    db: asyncpg.Pool, advertiser_id: uuid.UUID, fields: CampaignFields
) -> uuid.UUID:
    campaign_id = uuid.uuid4()
    await db.execute(
        queries.insert_campaign,
        advertiser_id,
        campaign_id,
        fields.name,
        fields.category,
        fields.starts_at,
        fields.ends_at,
        fields.status,
        fields.holdout_share,
    )
    return campaign_id


async def update_campaign(
    db: asyncpg.Pool, advertiser_id: uuid.UUID, campaign_id: uuid.UUID, fields: CampaignFields
) -> None:
    await get_campaign(db, advertiser_id, campaign_id)
    done = await db.fetchval(
        queries.update_campaign,
        advertiser_id,
        campaign_id,
        fields.name,
        fields.category,
        fields.starts_at,
        fields.ends_at,
        fields.status,
        fields.holdout_share,
    )
    if done is None:
        raise FlightOutside("a line item's flight would fall outside the campaign's")


# Line items ----------------------------------------------------------------------------------


async def list_line_items(
    db: asyncpg.Pool, advertiser_id: uuid.UUID, campaign_id: uuid.UUID
) -> list[asyncpg.Record]:
    return await db.fetch(queries.list_line_items, advertiser_id, campaign_id)


async def save_line_item(
    db: asyncpg.Pool,
    advertiser: AdvertiserMembership,
    campaign_id: uuid.UUID,
    fields: LineItemFields,
    line_item_id: uuid.UUID | None = None,
    *,
    actor: audit.Actor,
) -> uuid.UUID:
    """A new line item (or `line_item_id` changed), and for every merchant it targets an
    approval request (approved at once at the advertiser's own merchant), in one transaction.
    Each new request is recorded in that merchant's audit log (`ad_approval.request`, by
    `actor`): the line item itself is the advertiser's, in no merchant's log."""
    values = (
        fields.name,
        fields.tier,
        fields.pricing,
        fields.bid_fen,
        fields.budget_fen,
        fields.goal_impressions,
        fields.pacing,
        fields.starts_at,
        fields.ends_at,
        fields.dayparts,
        fields.weight,
        fields.status,
        fields.target_merchants,
        fields.target_stores,
        fields.target_categories,
        fields.target_cities,
        fields.target_languages,
        fields.target_segments,
        fields.target_audience,
    )
    async with db.acquire() as conn, conn.transaction():
        campaign = await get_campaign(conn, advertiser.advertiser_id, campaign_id)
        if line_item_id is None:
            line_item_id = uuid.uuid4()
            await conn.execute(
                queries.insert_line_item,
                advertiser.advertiser_id,
                line_item_id,
                campaign_id,
                *values,
            )
        else:
            done = await conn.fetchval(
                queries.update_line_item,
                advertiser.advertiser_id,
                line_item_id,
                campaign_id,
                *values,
            )
            if done is None:
                raise CampaignUnknown(f"no line item {line_item_id} in campaign {campaign_id}")
        for merchant_id in fields.target_merchants:
            try:
                status = await conn.fetchval(
                    queries.request_approval,
                    merchant_id,
                    campaign_id,
                    advertiser.advertiser_id,
                    merchant_id == advertiser.merchant_id,
                    [campaign.category],
                )
            except asyncpg.ForeignKeyViolationError:
                raise FieldInvalid("target_merchants", f"no merchant {merchant_id}") from None
            if status is not None:
                await audit.record_change(
                    conn,
                    merchant_id,
                    actor,
                    "ad_approval.request",
                    target_id=campaign_id,
                    target_name=f"{campaign.name} ({advertiser.advertiser_name})",
                    after={"status": status},
                )
    return line_item_id


async def approvals_of_campaign(
    db: asyncpg.Pool, merchant_ids: list[uuid.UUID], campaign_id: uuid.UUID
) -> dict[uuid.UUID, asyncpg.Record]:
    rows = await db.fetch(queries.approvals_of_campaign, merchant_ids, campaign_id)
    return {r["merchant_id"]: r for r in rows}


# Frequency caps ------------------------------------------------------------------------------


async def list_caps(db: asyncpg.Pool, advertiser_id: uuid.UUID) -> list[asyncpg.Record]:
    return await db.fetch(queries.list_caps, advertiser_id)


async def add_cap(
    db: asyncpg.Pool,
    advertiser_id: uuid.UUID,
    campaign_id: uuid.UUID,
    form: Mapping[str, Any],
    allowed_scope_ids: set[uuid.UUID],
) -> uuid.UUID:
    """A cap on this campaign, one of its line items or creatives (their ids in
    `allowed_scope_ids`), or the whole advertiser."""
    scope = _choice(form, "scope", CAP_SCOPES)
    if scope == "advertiser":
        scope_id = advertiser_id
    elif scope == "campaign":
        scope_id = campaign_id
    else:
        try:
            scope_id = uuid.UUID(_text(form, "scope_id", low=1, high=40))
        except ValueError:
            raise FieldInvalid("scope_id", "pick the line item or creative") from None
        if scope_id not in allowed_scope_ids:
            raise FieldInvalid("scope_id", "not a line item or creative of this campaign")
    max_count = _int(form, "max_count", 1, 1_000_000)
    period = _choice(form, "period", CAP_PERIODS)
    window = None
    if period == "window":
        hours = _int(form, "window_hours", 1, 8760)
        window = int(timedelta(hours=hours).total_seconds())
    cap_id = uuid.uuid4()
    await db.execute(
        queries.insert_cap, advertiser_id, cap_id, scope, scope_id, max_count, period, window
    )
    return cap_id


async def delete_cap(db: asyncpg.Pool, advertiser_id: uuid.UUID, cap_id: uuid.UUID) -> None:
    if await db.fetchval(queries.delete_cap, advertiser_id, cap_id) is None:
        raise CampaignUnknown(f"no cap {cap_id}")


# Creatives -----------------------------------------------------------------------------------


async def list_creatives(
    db: asyncpg.Pool, advertiser_id: uuid.UUID, campaign_id: uuid.UUID
) -> list[asyncpg.Record]:
    return await db.fetch(queries.list_creatives, advertiser_id, campaign_id)


@dataclass(frozen=True)
class CreativeFields:
    headline_zh: str
    headline_en: str
    body_zh: str
    body_en: str
    landing_url: str | None
    countdown_seconds: int | None


def creative_fields(form: Mapping[str, Any]) -> CreativeFields:
    landing = _text(form, "landing_url", high=2000)
    if landing:
        lowered = landing.lower()
        if not (lowered.startswith("https://") or lowered.startswith("http://")) or any(
            c.isspace() or ord(c) < 32 for c in landing
        ):
            raise FieldInvalid("landing_url", "the landing page must be an http(s) address")
        if len(landing.split("://", 1)[1].split("/", 1)[0]) == 0:
            raise FieldInvalid("landing_url", "the landing page has no host")
    return CreativeFields(
        headline_zh=_text(form, "headline_zh", low=1, high=120),
        headline_en=_text(form, "headline_en", low=1, high=120),
        body_zh=_text(form, "body_zh", high=500),
        body_en=_text(form, "body_en", high=500),
        landing_url=landing or None,
        countdown_seconds=_int(form, "countdown_seconds", 1, 60, optional=True),
    )


async def add_creative(
    db: asyncpg.Pool,
    advertiser_id: uuid.UUID,
    campaign_id: uuid.UUID,
    fields: CreativeFields,
    upload: bytes,
    filename: str,
) -> uuid.UUID:
    """A creative with its uploaded file (checked and stored by ads/creative_files.py) in one
    transaction: a refused upload leaves nothing behind."""
    creative_id = uuid.uuid4()
    async with db.acquire() as conn, conn.transaction():
        await get_campaign(conn, advertiser_id, campaign_id)
        stored = await services.store_creative_file(conn, advertiser_id, upload, filename)
        countdown = fields.countdown_seconds
        if stored.kind == "video":
            countdown = countdown or 5
        else:
            countdown = None
        await conn.execute(
            queries.insert_creative,
            advertiser_id,
            creative_id,
            campaign_id,
            stored.kind,
            fields.headline_zh,
            fields.headline_en,
            fields.body_zh,
            fields.body_en,
            fields.landing_url,
            stored.file_id,
            stored.thumbnail_file_id,
            countdown,
        )
    return creative_id


async def attach_file(
    db: asyncpg.Pool,
    advertiser_id: uuid.UUID,
    campaign_id: uuid.UUID,
    creative_id: uuid.UUID,
    upload: bytes,
    filename: str,
) -> None:
    """A file for a creative that has none (one moved by migration 0029, whose old image was
    never checked): stored like any upload, and the creative is shown again."""
    async with db.acquire() as conn, conn.transaction():
        stored = await services.store_creative_file(conn, advertiser_id, upload, filename)
        done = await conn.fetchval(
            queries.attach_creative_file,
            advertiser_id,
            creative_id,
            stored.kind,
            stored.file_id,
            stored.thumbnail_file_id,
            5 if stored.kind == "video" else None,
            campaign_id,
        )
        if done is None:
            raise CampaignUnknown(f"no creative {creative_id} without a file in {campaign_id}")


async def creatives_without_file(
    db: asyncpg.Pool, advertiser_id: uuid.UUID
) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """(campaign, creative) of the advertiser's creatives that still need a file."""
    rows = await db.fetch(queries.creatives_without_file, advertiser_id)
    return [(r["campaign_id"], r["creative_id"]) for r in rows]


async def own_advertiser_of(db: asyncpg.Pool, merchant_id: uuid.UUID) -> uuid.UUID | None:
    return await db.fetchval(queries.own_advertiser_of, merchant_id)


async def owns_file(db: asyncpg.Pool, advertiser_id: uuid.UUID, file_id: uuid.UUID) -> bool:
    return await db.fetchval(queries.creative_file_of, advertiser_id, file_id) is not None


# The venue's side: approvals and block lists -----------------------------------------------


async def approval_queue(db: asyncpg.Pool, merchant_id: uuid.UUID) -> list[asyncpg.Record]:
    return await db.fetch(queries.approval_queue, merchant_id)


async def decide(
    db: asyncpg.Pool,
    merchant_id: uuid.UUID,
    campaign_id: uuid.UUID,
    decision: str,
    reason: str,
    decided_by: uuid.UUID,
) -> None:
    if decision not in ("approved", "rejected"):
        raise FieldInvalid("decision", "approve or reject")
    reason = reason.strip()
    if decision == "rejected" and not reason:
        raise FieldInvalid("reason", "a rejection needs a reason the advertiser will read")
    if len(reason) > 500:
        raise FieldInvalid("reason", "a reason has at most 500 characters")
    async with db.acquire() as conn, conn.transaction():
        old = await conn.fetchrow(queries.approval_for_update, merchant_id, campaign_id)
        if old is None:
            raise CampaignUnknown(f"no request from campaign {campaign_id} at {merchant_id}")
        await conn.execute(
            queries.decide_approval, merchant_id, campaign_id, decision, reason or None, decided_by
        )
        await audit.record_change(
            conn,
            merchant_id,
            audit.Actor.user(decided_by),
            "ad_approval.decide",
            target_id=campaign_id,
            target_name=f"{old['campaign_name']} ({old['advertiser_name']})",
            before={"status": old["status"], "reason": old["reason"]},
            after={"status": decision, "reason": reason or None},
        )
    services.forget_venue(merchant_id)


async def list_blocks(db: asyncpg.Pool, merchant_id: uuid.UUID) -> list[asyncpg.Record]:
    return await db.fetch(queries.list_blocks, merchant_id)


BLOCKED_REASON = "blocked"


async def add_block(
    db: asyncpg.Pool,
    merchant_id: uuid.UUID,
    *,
    advertiser_id: uuid.UUID | None,
    category: str | None,
    created_by: uuid.UUID,
) -> None:
    """Block an advertiser or a category at the merchant; pending requests it covers are
    rejected with the reason "blocked"."""
    if (advertiser_id is None) == (category is None):
        raise FieldInvalid("block", "block an advertiser or a category")
    if category is not None and category not in CATEGORIES:
        raise FieldInvalid("category", "unknown category")
    async with db.acquire() as conn, conn.transaction():
        advertiser_name = None
        if advertiser_id is not None:
            advertiser_name = await conn.fetchval(queries.advertiser_name, advertiser_id)
            if advertiser_name is None:
                raise FieldInvalid("advertiser", "no such advertiser")
        block_id = await conn.fetchval(
            queries.insert_block, merchant_id, uuid.uuid4(), advertiser_id, category, created_by
        )
        if block_id is not None:  # not a block the merchant had already
            await _record_block(
                conn,
                merchant_id,
                audit.Actor.user(created_by),
                "ad_block.create",
                block_id,
                advertiser_name,
                category,
                added=True,
            )
        await conn.execute(
            queries.reject_blocked_pending,
            merchant_id,
            BLOCKED_REASON,
            created_by,
            advertiser_id,
            category,
        )
    services.forget_venue(merchant_id)


async def delete_block(
    db: asyncpg.Pool,
    merchant_id: uuid.UUID,
    block_id: uuid.UUID,
    *,
    actor: audit.Actor,
) -> None:
    """Lift a block, recorded in the audit log as `ad_block.delete` by `actor`."""
    async with db.acquire() as conn, conn.transaction():
        gone = await conn.fetchrow(queries.delete_block, merchant_id, block_id)
        if gone is None:
            raise CampaignUnknown(f"no block {block_id}")
        await _record_block(
            conn,
            merchant_id,
            actor,
            "ad_block.delete",
            block_id,
            gone["advertiser_name"],
            gone["category"],
            added=False,
        )
    services.forget_venue(merchant_id)


async def _record_block(
    conn: asyncpg.Connection,
    merchant_id: uuid.UUID,
    actor: audit.Actor,
    action: str,
    block_id: uuid.UUID,
    advertiser_name: str | None,
    category: str | None,
    *,
    added: bool,
) -> None:
    block = {"advertiser": advertiser_name, "category": category}
    await audit.record_change(
        conn,
        merchant_id,
        actor,
        action,
        target_id=block_id,
        target_name=advertiser_name or category or "",
        before=None if added else block,
        after=block if added else None,
    )
