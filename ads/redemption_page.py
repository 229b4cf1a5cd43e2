"""The console's till page, /till: staff (and owners) of a merchant check a shopper's coupon
code, redeem it for one of the merchant's stores, and undo a redemption within
ads.redemption.UNDO_WINDOW. Forms post back here (the console's CSRF token checked by its
middleware); each post answers with a redirect to the page, which says what happened.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from aiohttp import web

from accounts import services as accounts
from accounts.web import (
    NotYours,
    choose_membership,
    login_required,
    render_page,
    request_language,
)
from ads import redemption
from ads import services as ads
from kernel.errors import PorticoError
from kernel.shopper_events import SHOPPER_EVENTS
from kernel.web import DB

PATH = redemption.TILL_PATH
TRY_AGAIN = (
    redemption.CodeMistyped,
    redemption.CodeUnknown,
    redemption.CodeNotClaimed,
    redemption.CodeAlreadyRedeemed,
    redemption.CodeExpired,
    redemption.CodeVoid,
    redemption.CodeLocked,
    redemption.UndoTooLate,
)


class BadStore(PorticoError):
    message_id = "red_error_bad_store"
    status = 400


class VoidOwnersOnly(PorticoError):
    message_id = "red_error_void_owners"
    status = 403


OWNER = "owner"


async def till_page(request: web.Request, session: accounts.ConsoleSession) -> web.Response:
    place = await _place(request, session, request.query)
    typed = request.query.get("code", "").strip()
    status, error, http_status = None, None, 200
    if typed and place.store is not None:
        try:
            status = await redemption.check_code(
                request.app[DB], place.merchant.merchant_id, typed, request_language(request)
            )
        except TRY_AGAIN as exc:
            error, http_status = exc, exc.status
    return await _render(request, place, typed=typed, status=status, error=error, http=http_status)


async def redeem_posted(request: web.Request, session: accounts.ConsoleSession) -> web.Response:
    form = await request.post()
    place = await _place(request, session, form)
    if place.store is None:
        raise BadStore("no store to redeem at")
    typed = str(form.get("code", ""))
    try:
        done = await redemption.redeem(
            request.app[DB],
            place.merchant.merchant_id,
            typed,
            store_id=place.store.store_id,
            user_id=session.user.user_id,
            on_events=request.app.get(SHOPPER_EVENTS),
        )
    except TRY_AGAIN as exc:
        return await _render(request, place, typed=typed, error=exc, http=exc.status)
    raise web.HTTPSeeOther(_url(place, redeemed=str(done.redemption_id)))


async def undo_posted(request: web.Request, session: accounts.ConsoleSession) -> web.Response:
    form = await request.post()
    place = await _place(request, session, form)
    try:
        redemption_id = uuid.UUID(str(form.get("redemption", "")))
    except ValueError:
        raise NotYours("not a redemption id") from None
    try:
        code = await redemption.undo(
            request.app[DB],
            place.merchant.merchant_id,
            redemption_id,
            user_id=session.user.user_id,
            store_name=place.store.name if place.store else "",
        )
    except redemption.UndoTooLate as exc:
        return await _render(request, place, error=exc, http=exc.status)
    raise web.HTTPSeeOther(_url(place, undone=code))


async def void_posted(request: web.Request, session: accounts.ConsoleSession) -> web.Response:
    """An owner voids a code not yet redeemed (given out by mistake, or abused): nobody can
    lock or redeem it any more (redemption.void)."""
    form = await request.post()
    place = await _place(request, session, form)
    typed = str(form.get("code", ""))
    if place.merchant.role != OWNER:
        raise VoidOwnersOnly(f"{session.user.user_id} is not an owner")
    try:
        code = redemption.read_code(typed)
        await redemption.void(
            request.app[DB], place.merchant.merchant_id, code, user_id=session.user.user_id
        )
    except (*TRY_AGAIN, ads.VoidRefused) as exc:
        return await _render(request, place, typed=typed, error=exc, http=exc.status)
    raise web.HTTPSeeOther(_url(place, voided=code))


@dataclass(frozen=True)
class _Place:
    """The merchant and store the till works for, and the others the user may switch to."""

    memberships: list[accounts.Membership]
    merchant: accounts.Membership
    stores: list[accounts.Store]
    store: accounts.Store | None


async def _place(
    request: web.Request, session: accounts.ConsoleSession, values: Mapping[str, Any]
) -> _Place:
    db = request.app[DB]
    memberships = await accounts.memberships_of(db, session.user.user_id)
    merchant = choose_membership(memberships, str(values.get("merchant") or "") or None)
    if merchant is None:
        raise NotYours("the user belongs to no merchant")
    # Owners see every store; staff only those they are given (accounts.visible_stores).
    stores = await accounts.visible_stores(db, merchant.merchant_id, session.user.user_id)
    asked = str(values.get("store") or "")
    store = stores[0] if stores else None
    if asked:
        store = next((s for s in stores if str(s.store_id) == asked), None)
        if store is None:
            raise BadStore(f"store {str(asked)[:40]!r} is not one of the merchant's")
    return _Place(memberships, merchant, stores, store)


def _url(place: _Place, **more: str) -> str:
    query = {"merchant": str(place.merchant.merchant_id)}
    if place.store is not None:
        query["store"] = str(place.store.store_id)
    return f"{PATH}?{urlencode(query | more)}"


async def _render(
    request: web.Request,
    place: _Place,
    *,
    typed: str = "",
    status: redemption.CodeStatus | None = None,
    error: PorticoError | None = None,
    http: int = 200,
) -> web.Response:
    db = request.app[DB]
    language = request_language(request)
    zone = ZoneInfo(place.store.timezone) if place.store else ZoneInfo("UTC")
    lines = []
    if place.store is not None:
        lines = await redemption.recent_at_store(
            db, place.merchant.merchant_id, place.store.store_id, language
        )
    done = None
    redeemed = request.query.get("redeemed")
    if redeemed:
        done = next((line for line in lines if str(line.redemption_id) == redeemed), None)
    return render_page(
        request,
        "ads/till.html",
        status=http,
        place=place,
        path=PATH,
        typed=typed,
        code_status=status,
        error=error,
        done=done,
        undone=request.query.get("undone", "")[:20],
        voided=request.query.get("voided", "")[:40],
        owner=place.merchant.role == OWNER,
        lines=lines,
        zone=zone,
        minutes=int(redemption.UNDO_WINDOW.total_seconds() // 60),
    )


def add_routes(router: web.UrlDispatcher) -> None:
    """The till page on the console (the composition root calls this)."""
    router.add_get(PATH, login_required(till_page), name="till")
    router.add_post(PATH + "/redeem", login_required(redeem_posted), name="till_redeem")
    router.add_post(PATH + "/undo", login_required(undo_posted), name="till_undo")
    router.add_post(PATH + "/void", login_required(void_posted), name="till_void")
