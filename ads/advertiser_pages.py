"""The advertiser console, /advertiser: an advertiser's members see its campaigns (and nothing
of any other tenant's: a foreign id is a 404), admins create and edit them, their line items,
frequency caps and creatives (uploads go through ads.services.store_creative_file). Every form
carries the console's CSRF token (accounts.web checks it on every POST); a wrong field answers
with the page again, the field named, and nothing saved.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from aiohttp import web

from accounts import audit
from accounts import services as accounts
from accounts.web import NotYours, login_required, redirect, render_page
from ads import advertisers, creative_files
from kernel.errors import PorticoError
from kernel.web import DB

PATH = "/advertiser"
ZONE = ZoneInfo("Asia/Shanghai")  # flights are typed in China time (the platform's market)


class AdminsOnly(PorticoError):
    message_id = "adv_admin_only"
    status = 403


class BadUploadForm(PorticoError):
    message_id = "adv_error_no_file"
    status = 400


@dataclass(frozen=True)
class _Place:
    memberships: list[advertisers.AdvertiserMembership]
    advertiser: advertisers.AdvertiserMembership

    @property
    def admin(self) -> bool:
        return self.advertiser.role == "admin"

    def query(self, **more: str) -> str:
        return urlencode({"advertiser": str(self.advertiser.advertiser_id)} | more)


async def _place(
    request: web.Request, session: accounts.ConsoleSession, values: Mapping[str, Any]
) -> _Place:
    memberships = await advertisers.memberships_of(request.app[DB], session.user.user_id)
    if not memberships:
        raise NotYours("the user is a member of no advertiser")
    asked = values.get("advertiser")
    if not asked:
        return _Place(memberships, memberships[0])
    if not isinstance(asked, str):
        raise NotYours("advertiser is not text")
    for membership in memberships:
        if str(membership.advertiser_id) == asked.strip().lower():
            return _Place(memberships, membership)
    raise NotYours(f"advertiser {asked[:40]!r} is not the user's")


# The advertiser a request is about, checked against the user's memberships (the Segments
# page's too, ads/advertiser_segments.py).
advertiser_place = _place


def _require_admin(place: _Place) -> None:
    if not place.admin:
        raise AdminsOnly(f"{place.advertiser.advertiser_id}: viewers may not change anything")


def _campaign_id(request: web.Request) -> uuid.UUID:
    try:
        return uuid.UUID(request.match_info["campaign_id"])
    except ValueError:
        raise NotYours("not a campaign id") from None


def _local(value: datetime) -> str:
    return value.astimezone(ZONE).strftime("%Y-%m-%dT%H:%M")


# Campaign list ---------------------------------------------------------------------------------


async def campaigns_page(request: web.Request, session: accounts.ConsoleSession) -> web.Response:
    place = await _place(request, session, request.query)
    return await _render_list(request, place)


async def create_campaign(request: web.Request, session: accounts.ConsoleSession) -> web.Response:
    form = await request.post()
    place = await _place(request, session, form)
    _require_admin(place)
    try:
        fields = advertisers.campaign_fields(form, ZONE)
    except advertisers.AdvertiserError as exc:
        return await _render_list(request, place, error=exc, typed=form, status=exc.status)
    campaign_id = await advertisers.create_campaign(
        request.app[DB], place.advertiser.advertiser_id, fields
    )
    return redirect(f"{PATH}/campaigns/{campaign_id}?{place.query(saved='campaign')}")


async def _render_list(
    request: web.Request,
    place: _Place,
    *,
    error: PorticoError | None = None,
    typed: Mapping[str, Any] | None = None,
    status: int = 200,
) -> web.Response:
    rows = await advertisers.list_campaigns(request.app[DB], place.advertiser.advertiser_id)
    now = datetime.now(ZONE)
    defaults = {
        "name": "",
        "category": "other",
        "status": "draft",
        "starts_at": now.strftime("%Y-%m-%dT00:00"),
        "ends_at": now.replace(year=now.year + 1).strftime("%Y-%m-%dT00:00"),
        "holdout_percent": "10",
    }
    return render_page(
        request,
        "ads/advertiser_campaigns.html",
        status=status,
        place=place,
        path=PATH,
        campaigns=rows,
        local=_local,
        error=error,
        form=_typed(defaults, typed),
        categories=advertisers.CATEGORIES,
        statuses=advertisers.CAMPAIGN_STATUSES,
    )


def _typed(defaults: dict[str, str], typed: Mapping[str, Any] | None) -> dict[str, Any]:
    if not typed:
        return defaults
    out: dict[str, Any] = dict(defaults)
    for key in defaults:
        value = typed.get(key)
        if isinstance(value, str):
            out[key] = value[:2000]
    for key in ("target_categories", "target_languages"):
        if hasattr(typed, "getall"):
            out[key] = [v for v in typed.getall(key, []) if isinstance(v, str)]
    return out


# One campaign ----------------------------------------------------------------------------------


async def campaign_page(request: web.Request, session: accounts.ConsoleSession) -> web.Response:
    place = await _place(request, session, request.query)
    return await _render_campaign(request, place, _campaign_id(request))


async def update_campaign(request: web.Request, session: accounts.ConsoleSession) -> web.Response:
    form = await request.post()
    place = await _place(request, session, form)
    _require_admin(place)
    campaign_id = _campaign_id(request)
    try:
        fields = advertisers.campaign_fields(form, ZONE)
        await advertisers.update_campaign(
            request.app[DB], place.advertiser.advertiser_id, campaign_id, fields
        )
    except (advertisers.FieldInvalid, advertisers.FlightOutside) as exc:
        return await _render_campaign(
            request, place, campaign_id, error=exc, section="campaign", typed=form
        )
    return redirect(f"{PATH}/campaigns/{campaign_id}?{place.query(saved='campaign')}")


async def save_line_item(request: web.Request, session: accounts.ConsoleSession) -> web.Response:
    form = await request.post()
    place = await _place(request, session, form)
    _require_admin(place)
    campaign_id = _campaign_id(request)
    line_item_id = None
    if "line_item_id" in request.match_info:
        try:
            line_item_id = uuid.UUID(request.match_info["line_item_id"])
        except ValueError:
            raise NotYours("not a line item id") from None
    db = request.app[DB]
    campaign = await advertisers.get_campaign(db, place.advertiser.advertiser_id, campaign_id)
    try:
        fields = advertisers.line_item_fields(form, ZONE, campaign)
        await advertisers.save_line_item(
            db,
            place.advertiser,
            campaign_id,
            fields,
            line_item_id,
            actor=audit.Actor.user(session.user.user_id),
        )
    except (advertisers.FieldInvalid, advertisers.FlightOutside) as exc:
        return await _render_campaign(
            request,
            place,
            campaign_id,
            error=exc,
            section="line_item",
            typed=form,
            editing=line_item_id,
        )
    return redirect(f"{PATH}/campaigns/{campaign_id}?{place.query(saved='line_item')}")


async def add_cap(request: web.Request, session: accounts.ConsoleSession) -> web.Response:
    form = await request.post()
    place = await _place(request, session, form)
    _require_admin(place)
    campaign_id = _campaign_id(request)
    db = request.app[DB]
    advertiser_id = place.advertiser.advertiser_id
    await advertisers.get_campaign(db, advertiser_id, campaign_id)
    scope_ids = {
        r["line_item_id"] for r in await advertisers.list_line_items(db, advertiser_id, campaign_id)
    }
    scope_ids |= {
        r["creative_id"] for r in await advertisers.list_creatives(db, advertiser_id, campaign_id)
    }
    try:
        await advertisers.add_cap(db, advertiser_id, campaign_id, form, scope_ids)
    except advertisers.FieldInvalid as exc:
        return await _render_campaign(
            request, place, campaign_id, error=exc, section="cap", typed=form
        )
    return redirect(f"{PATH}/campaigns/{campaign_id}?{place.query(saved='cap')}")


async def delete_cap(request: web.Request, session: accounts.ConsoleSession) -> web.Response:
    form = await request.post()
    place = await _place(request, session, form)
    _require_admin(place)
    campaign_id = _campaign_id(request)
    db = request.app[DB]
    try:
        cap_id = uuid.UUID(request.match_info["cap_id"])
        # The campaign in the path is the advertiser's too (a cap's id alone would do, but a
        # path naming another tenant's campaign is refused as any other foreign id).
        await advertisers.get_campaign(db, place.advertiser.advertiser_id, campaign_id)
        await advertisers.delete_cap(db, place.advertiser.advertiser_id, cap_id)
    except (ValueError, advertisers.CampaignUnknown):
        raise NotYours("not a cap of the advertiser") from None
    return redirect(f"{PATH}/campaigns/{campaign_id}?{place.query(saved='cap')}")


def _uploaded(form: Mapping[str, Any]) -> tuple[bytes, str]:
    """The form's file (its bytes and name), or BadUploadForm."""
    upload = form.get("file")
    if not isinstance(upload, web.FileField):
        raise BadUploadForm("no file was uploaded")
    data = upload.file.read()
    if not data:
        raise BadUploadForm("the uploaded file is empty")
    return data, upload.filename or "upload"


async def add_creative(request: web.Request, session: accounts.ConsoleSession) -> web.Response:
    form = await request.post()
    place = await _place(request, session, form)
    _require_admin(place)
    campaign_id = _campaign_id(request)
    try:
        fields = advertisers.creative_fields(form)
        data, filename = _uploaded(form)
        await advertisers.add_creative(
            request.app[DB], place.advertiser.advertiser_id, campaign_id, fields, data, filename
        )
    except advertisers.CampaignUnknown:
        raise
    except PorticoError as exc:  # a wrong field, or the upload refused by creative_files
        return await _render_campaign(
            request, place, campaign_id, error=exc, section="creative", typed=form
        )
    return redirect(f"{PATH}/campaigns/{campaign_id}?{place.query(saved='creative')}")


async def attach_file(request: web.Request, session: accounts.ConsoleSession) -> web.Response:
    form = await request.post()
    place = await _place(request, session, form)
    _require_admin(place)
    campaign_id = _campaign_id(request)
    try:
        creative_id = uuid.UUID(request.match_info["creative_id"])
    except ValueError:
        raise NotYours("not a creative id") from None
    try:
        data, filename = _uploaded(form)
        advertiser_id = place.advertiser.advertiser_id
        await advertisers.attach_file(
            request.app[DB], advertiser_id, campaign_id, creative_id, data, filename
        )
    except advertisers.CampaignUnknown as exc:
        raise NotYours(str(exc)) from exc
    except PorticoError as exc:  # no file, or the upload refused by creative_files
        return await _render_campaign(request, place, campaign_id, error=exc, section="creative")
    return redirect(f"{PATH}/campaigns/{campaign_id}?{place.query(saved='creative')}")


async def creative_file(
    request: web.Request, session: accounts.ConsoleSession
) -> web.StreamResponse:
    place = await _place(request, session, request.query)
    try:
        file_id = uuid.UUID(request.match_info["file_id"])
    except ValueError:
        raise NotYours("not a file id") from None
    db = request.app[DB]
    if not await advertisers.owns_file(db, place.advertiser.advertiser_id, file_id):
        raise NotYours(f"file {file_id} is not the advertiser's")
    response = await creative_files.file_response(db, place.advertiser.advertiser_id, file_id)
    response.headers["Cache-Control"] = "private, max-age=3600"
    return response


async def _render_campaign(
    request: web.Request,
    place: _Place,
    campaign_id: uuid.UUID,
    *,
    error: PorticoError | None = None,
    section: str = "",
    typed: Mapping[str, Any] | None = None,
    editing: uuid.UUID | None = None,
) -> web.Response:
    db = request.app[DB]
    advertiser_id = place.advertiser.advertiser_id
    try:
        campaign = await advertisers.get_campaign(db, advertiser_id, campaign_id)
    except advertisers.CampaignUnknown as exc:
        raise NotYours(str(exc)) from exc
    line_items = await advertisers.list_line_items(db, advertiser_id, campaign_id)
    creatives = await advertisers.list_creatives(db, advertiser_id, campaign_id)
    caps = [
        c
        for c in await advertisers.list_caps(db, advertiser_id)
        if c["scope_id"]
        in {campaign_id, advertiser_id}
        | {r["line_item_id"] for r in line_items}
        | {r["creative_id"] for r in creatives}
    ]
    targeted = sorted({m for r in line_items for m in r["target_merchants"]})
    approvals = await advertisers.approvals_of_campaign(db, targeted, campaign_id)
    venues = await accounts.merchant_names(db, targeted)
    if editing is None and section != "line_item":
        asked = request.query.get("line_item", "")
        editing = next(
            (r["line_item_id"] for r in line_items if str(r["line_item_id"]) == asked), None
        )
    campaign_form = {
        "name": campaign.name,
        "category": campaign.category,
        "status": campaign.status,
        "starts_at": _local(campaign.starts_at),
        "ends_at": _local(campaign.ends_at),
        "holdout_percent": f"{campaign.holdout_share * 100:.1f}".rstrip("0").rstrip("."),
    }
    edited = next((r for r in line_items if r["line_item_id"] == editing), None)
    line_form = _line_item_form(campaign, edited)
    creative_form = {
        "headline_zh": "",
        "headline_en": "",
        "body_zh": "",
        "body_en": "",
        "landing_url": "",
        "countdown_seconds": "",
    }
    cap_form = {
        "scope": "campaign",
        "scope_id": "",
        "max_count": "3",
        "period": "day",
        "window_hours": "24",
    }
    if section == "campaign":
        campaign_form = _typed(campaign_form, typed)
    elif section == "line_item":
        line_form = _typed(line_form, typed)
    elif section == "creative":
        creative_form = _typed(creative_form, typed)
    elif section == "cap":
        cap_form = _typed(cap_form, typed)
    return render_page(
        request,
        "ads/advertiser_campaign.html",
        status=error.status if error else 200,
        place=place,
        path=PATH,
        campaign_id=campaign_id,
        campaign=campaign,
        campaign_form=campaign_form,
        line_items=line_items,
        line_form=line_form,
        editing=editing,
        creatives=creatives,
        creative_form=creative_form,
        caps=caps,
        cap_form=cap_form,
        approvals=approvals,
        venues=venues,
        error=error,
        section=section,
        saved=request.query.get("saved", "")[:20],
        local=_local,
        fen=lambda v: "" if v is None else f"{v / 100:.2f}",
        dayparts=advertisers.format_dayparts,
        categories=advertisers.CATEGORIES,
        statuses=advertisers.CAMPAIGN_STATUSES,
        tiers=advertisers.TIERS,
        pricings=advertisers.PRICINGS,
        pacings=advertisers.PACINGS,
        audiences=advertisers.AUDIENCES,
        languages=advertisers.LANGUAGES,
        cap_scopes=advertisers.CAP_SCOPES,
        cap_periods=advertisers.CAP_PERIODS,
    )


def _line_item_form(campaign: advertisers.CampaignFields, row: Any) -> dict[str, Any]:
    if row is None:
        return {
            "name": "",
            "tier": "performance",
            "pricing": "cpm",
            "bid": "0",
            "budget": "",
            "goal_impressions": "",
            "pacing": "even",
            "starts_at": _local(campaign.starts_at),
            "ends_at": _local(campaign.ends_at),
            "dayparts": "",
            "weight": "1",
            "status": "active",
            "target_merchants": "",
            "target_stores": "",
            "target_categories": [],
            "target_cities": "",
            "target_languages": [],
            "target_segments": "",
            "target_audience": "all",
        }
    return {
        "name": row["name"],
        "tier": row["tier"],
        "pricing": row["pricing"],
        "bid": f"{row['bid_fen'] / 100:.2f}",
        "budget": "" if row["budget_fen"] is None else f"{row['budget_fen'] / 100:.2f}",
        "goal_impressions": "" if row["goal_impressions"] is None else str(row["goal_impressions"]),
        "pacing": row["pacing"],
        "starts_at": _local(row["starts_at"]),
        "ends_at": _local(row["ends_at"]),
        "dayparts": advertisers.format_dayparts(row["dayparts"]),
        "weight": str(row["weight"]),
        "status": row["status"],
        "target_merchants": " ".join(map(str, row["target_merchants"])),
        "target_stores": " ".join(map(str, row["target_stores"])),
        "target_categories": list(row["target_categories"]),
        "target_cities": ", ".join(row["target_cities"]),
        "target_languages": list(row["target_languages"]),
        "target_segments": ", ".join(row["target_segments"]),
        "target_audience": row["target_audience"],
    }


# The routes that take a creative's file: the only console forms larger than 1 MiB (the
# composition root lets signed-in users post up to the console's upload size to these).
UPLOAD_ROUTES = ("advertiser_add_creative", "advertiser_attach_file")


def add_routes(router: web.UrlDispatcher) -> None:
    """The advertiser console (the composition root calls this)."""
    router.add_get(PATH, login_required(campaigns_page), name="advertiser_campaigns")
    router.add_post(PATH + "/campaigns", login_required(create_campaign))
    router.add_get(PATH + "/campaigns/{campaign_id}", login_required(campaign_page))
    router.add_post(PATH + "/campaigns/{campaign_id}", login_required(update_campaign))
    router.add_post(PATH + "/campaigns/{campaign_id}/line-items", login_required(save_line_item))
    router.add_post(
        PATH + "/campaigns/{campaign_id}/line-items/{line_item_id}", login_required(save_line_item)
    )
    router.add_post(PATH + "/campaigns/{campaign_id}/caps", login_required(add_cap))
    router.add_post(
        PATH + "/campaigns/{campaign_id}/caps/{cap_id}/delete", login_required(delete_cap)
    )
    router.add_post(
        PATH + "/campaigns/{campaign_id}/creatives",
        login_required(add_creative),
        name=UPLOAD_ROUTES[0],
    )
    router.add_post(
        PATH + "/campaigns/{campaign_id}/creatives/{creative_id}/file",
        login_required(attach_file),
        name=UPLOAD_ROUTES[1],
    )
    router.add_get(PATH + "/files/{file_id}", login_required(creative_file))
