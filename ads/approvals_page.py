"""The merchant's approval queue, /approvals: campaigns asking to appear in the merchant's
venues (pending first, then those decided, with who decided and why), and the block lists by
advertiser and by category. Owners decide and block; staff may look. A merchant or request that
is not the user's is a 404. Forms carry the console's CSRF token.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from aiohttp import web

from accounts import audit
from accounts import services as accounts
from accounts.web import NotYours, choose_membership, login_required, redirect, render_page
from ads import advertisers
from kernel.errors import PorticoError
from kernel.web import DB

PATH = "/approvals"
ZONE = ZoneInfo("Asia/Shanghai")  # flights as the advertiser typed them (China time)


class OwnersOnly(PorticoError):
    message_id = "appr_owner_only"
    status = 403


@dataclass(frozen=True)
class _Place:
    memberships: list[accounts.Membership]
    merchant: accounts.Membership

    @property
    def owner(self) -> bool:
        return self.merchant.role == "owner"

    def query(self, **more: str) -> str:
        return urlencode({"merchant": str(self.merchant.merchant_id)} | more)


async def _place(
    request: web.Request, session: accounts.ConsoleSession, values: Mapping[str, Any]
) -> _Place:
    memberships = await accounts.memberships_of(request.app[DB], session.user.user_id)
    asked = values.get("merchant")
    merchant = choose_membership(memberships, asked if isinstance(asked, str) and asked else None)
    if merchant is None:
        raise NotYours("the user belongs to no merchant")
    return _Place(memberships, merchant)


def _require_owner(place: _Place) -> None:
    if not place.owner:
        raise OwnersOnly(f"staff of {place.merchant.merchant_id} may not decide")


def _text(form: Mapping[str, Any], name: str) -> str:
    value = form.get(name, "")
    if not isinstance(value, str):
        raise advertisers.FieldInvalid(name, f"{name} is not text")
    return value


async def queue_page(request: web.Request, session: accounts.ConsoleSession) -> web.Response:
    place = await _place(request, session, request.query)
    return await _render(request, place)


async def decide(request: web.Request, session: accounts.ConsoleSession) -> web.Response:
    form = await request.post()
    place = await _place(request, session, form)
    _require_owner(place)
    try:
        campaign_id = uuid.UUID(request.match_info["campaign_id"])
    except ValueError:
        raise NotYours("not a campaign id") from None
    try:
        await advertisers.decide(
            request.app[DB],
            place.merchant.merchant_id,
            campaign_id,
            _text(form, "decision"),
            _text(form, "reason"),
            session.user.user_id,
        )
    except advertisers.CampaignUnknown as exc:
        raise NotYours(str(exc)) from exc
    except advertisers.FieldInvalid as exc:
        return await _render(request, place, error=exc, failed=campaign_id)
    return redirect(f"{PATH}?{place.query(saved='decision')}")


async def add_block(request: web.Request, session: accounts.ConsoleSession) -> web.Response:
    form = await request.post()
    place = await _place(request, session, form)
    _require_owner(place)
    try:
        advertiser, category = _text(form, "advertiser").strip(), _text(form, "category")
        advertiser_id = None
        if advertiser:
            try:
                advertiser_id = uuid.UUID(advertiser)
            except ValueError:
                raise advertisers.FieldInvalid("advertiser", "not an advertiser id") from None
        await advertisers.add_block(
            request.app[DB],
            place.merchant.merchant_id,
            advertiser_id=advertiser_id,
            category=category or None,
            created_by=session.user.user_id,
        )
    except advertisers.FieldInvalid as exc:
        return await _render(request, place, error=exc)
    return redirect(f"{PATH}?{place.query(saved='block')}")


async def delete_block(request: web.Request, session: accounts.ConsoleSession) -> web.Response:
    form = await request.post()
    place = await _place(request, session, form)
    _require_owner(place)
    try:
        block_id = uuid.UUID(request.match_info["block_id"])
        await advertisers.delete_block(
            request.app[DB],
            place.merchant.merchant_id,
            block_id,
            actor=audit.Actor.user(session.user.user_id),
        )
    except (ValueError, advertisers.CampaignUnknown):
        raise NotYours("not a block of the merchant") from None
    return redirect(f"{PATH}?{place.query(saved='unblock')}")


async def _render(
    request: web.Request,
    place: _Place,
    *,
    error: PorticoError | None = None,
    failed: uuid.UUID | None = None,
) -> web.Response:
    db = request.app[DB]
    merchant_id = place.merchant.merchant_id
    return render_page(
        request,
        "ads/approvals.html",
        status=error.status if error else 200,
        place=place,
        path=PATH,
        requests=await advertisers.approval_queue(db, merchant_id),
        blocks=await advertisers.list_blocks(db, merchant_id),
        error=error,
        failed=failed,
        saved=request.query.get("saved", "")[:20],
        categories=advertisers.CATEGORIES,
        zone=ZONE,
    )


def add_routes(router: web.UrlDispatcher) -> None:
    """The merchant's approval queue and block lists (the composition root calls this)."""
    router.add_get(PATH, login_required(queue_page), name="approvals")
    router.add_post(PATH + "/blocks", login_required(add_block))
    router.add_post(PATH + "/blocks/{block_id}/delete", login_required(delete_block))
    router.add_post(PATH + "/{campaign_id}", login_required(decide))
