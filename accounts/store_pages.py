"""The console's Stores page, /stores: an owner lists their merchant's stores, adds one
(/stores/new) and edits one (/stores/<id>): name, address, city, category, time zone and
opening hours per weekday (accounts/stores.py). A form with a bad field comes back (400) with
an error beside that field, in the page's language, and nothing is stored; so does a new
store over the merchant's plan (409, the plan and its limit named; accounts/plans.py), and the
page shows how many stores the plan allows. Each change is in
the merchant's audit log. Owners only: staff get 403; a store or merchant id that is not the
user's is a 404 (docs/console.md).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from itertools import groupby
from urllib.parse import urlencode

from aiohttp import web

from accounts import audit, plans, stores
from accounts import services as accounts
from accounts.web import (
    NotYours,
    OwnersOnly,
    login_required,
    owned_membership,
    page_translator,
    redirect,
    render_page,
)
from kernel.web import DB

PATH = "/stores"
NEW_PATH = "/stores/new"
NOTICES = {"added": "st_added", "saved": "st_saved", "unchanged": "st_unchanged"}


@dataclass(frozen=True)
class StoreRow:
    store_id: uuid.UUID
    details: stores.StoreDetails
    hours: list[tuple[str, str, str]]  # (first weekday, last weekday, "09:00–18:00")


async def stores_page(request: web.Request, session: accounts.ConsoleSession) -> web.Response:
    db = request.app[DB]
    memberships = await accounts.memberships_of(db, session.user.user_id)
    merchant = owned_membership(memberships, request.query.get("merchant"))
    rows = []
    usage = None
    if merchant is not None:
        found = await stores.list_store_details(db, merchant.merchant_id)
        rows = [StoreRow(store_id, d, _hours_summary(d)) for store_id, d in found]
        usage = await plans.usage(db, merchant.merchant_id)
    notice = NOTICES.get(request.query.get("notice", ""))
    return render_page(
        request,
        "accounts/stores.html",
        memberships=[m for m in memberships if m.role == "owner"],
        merchant=merchant,
        usage=usage,
        rows=rows,
        notice=notice,
        notice_store=request.query.get("store", ""),
        path=PATH,
    )


async def new_store_form(request: web.Request, session: accounts.ConsoleSession) -> web.Response:
    merchant = await _owned(request, session, request.query.get("merchant"))
    details = stores.StoreDetails(name="", timezone=await _default_zone(request, merchant))
    return _form_page(request, merchant, None, details.form(), {})


async def add_store(request: web.Request, session: accounts.ConsoleSession) -> web.Response:
    form = await request.post()
    merchant = await _owned(request, session, _str(form.get("merchant")))
    details, shown, errors = stores.check_fields(form)
    if details is None:
        return _form_page(request, merchant, None, shown, errors, status=400)
    actor = audit.Actor.user(session.user.user_id)
    try:
        store_id = await stores.add_store(request.app[DB], merchant.merchant_id, details, actor)
    except plans.PlanLimitReached as exc:
        error = (exc.message_id, plans.localized(exc, page_translator(request)))
        return _form_page(request, merchant, None, shown, {"plan": error}, status=exc.status)
    return redirect(_list_url(merchant, "added", store_id))


async def edit_store_form(request: web.Request, session: accounts.ConsoleSession) -> web.Response:
    merchant, details = await _owned_store(request, session)
    return _form_page(request, merchant, _store_id(request), details.form(), {})


async def save_store(request: web.Request, session: accounts.ConsoleSession) -> web.Response:
    merchant, _current = await _owned_store(request, session)
    store_id = _store_id(request)
    details, shown, errors = stores.check_fields(await request.post())
    if details is None:
        return _form_page(request, merchant, store_id, shown, errors, status=400)
    actor = audit.Actor.user(session.user.user_id)
    changed = await stores.update_store(
        request.app[DB], merchant.merchant_id, store_id, details, actor
    )
    return redirect(_list_url(merchant, "saved" if changed else "unchanged", store_id))


# Whose store ---------------------------------------------------------------------------------


async def _owned(
    request: web.Request, session: accounts.ConsoleSession, asked: str | None
) -> accounts.Membership:
    memberships = await accounts.memberships_of(request.app[DB], session.user.user_id)
    merchant = owned_membership(memberships, asked)
    if merchant is None:
        raise NotYours("the user belongs to no merchant")
    return merchant


def _store_id(request: web.Request) -> uuid.UUID:
    try:
        return uuid.UUID(request.match_info["store_id"])
    except ValueError:
        raise NotYours(f"store {request.match_info['store_id'][:40]!r} is not a uuid") from None


async def _owned_store(
    request: web.Request, session: accounts.ConsoleSession
) -> tuple[accounts.Membership, stores.StoreDetails]:
    """The merchant of the store in the URL and its details: the store of a merchant the user
    owns; of one where they are staff, OwnersOnly; anyone else's, NotYours (404)."""
    db = request.app[DB]
    store_id = _store_id(request)
    for membership in await accounts.memberships_of(db, session.user.user_id):
        details = await stores.store_details(db, membership.merchant_id, store_id)
        if details is None:
            continue
        if membership.role != "owner":
            raise OwnersOnly(f"user is staff at the merchant of store {store_id}")
        return membership, details
    raise NotYours(f"store {store_id} is none of the user's")


async def _default_zone(request: web.Request, merchant: accounts.Membership) -> str:
    zone = await accounts.merchant_zone(request.app[DB], merchant.merchant_id)
    return "Asia/Shanghai" if zone == "UTC" else zone  # the first market


# Pages ---------------------------------------------------------------------------------------


def _form_page(
    request: web.Request,
    merchant: accounts.Membership,
    store_id: uuid.UUID | None,
    values: dict[str, str],
    errors: dict[str, stores.Error],
    status: int = 200,
) -> web.Response:
    zones = stores.time_zones()
    if values.get("timezone") and values["timezone"] not in zones:
        zones = (values["timezone"], *zones)  # a legacy name the store has kept
    return render_page(
        request,
        "accounts/store_form.html",
        status=status,
        merchant=merchant,
        store_id=store_id,
        action=f"{PATH}/{store_id}" if store_id else NEW_PATH,
        values=values,
        errors=errors,
        zones=zones,
        categories=stores.CATEGORIES,
        weekdays=stores.WEEKDAYS,
        back=_list_url(merchant),
    )


def _list_url(
    merchant: accounts.Membership, notice: str = "", store_id: uuid.UUID | None = None
) -> str:
    query = {"merchant": str(merchant.merchant_id)}
    if notice:
        query["notice"] = notice
    if store_id:
        query["store"] = str(store_id)
    return f"{PATH}?{urlencode(query)}"


def _hours_summary(details: stores.StoreDetails) -> list[tuple[str, str, str]]:
    """Runs of consecutive weekdays with the same hours: [("mon", "fri", "09:00–18:00"), …]."""
    spans = [
        (day, "{}–{}".format(*details.opening_hours[day]) if day in details.opening_hours else "")
        for day in stores.WEEKDAYS
    ]
    runs = []
    for text, group in groupby(spans, key=lambda span: span[1]):
        days = [day for day, _text in group]
        if text:
            runs.append((days[0], days[-1], text))
    return runs


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def add_routes(router: web.UrlDispatcher) -> None:
    """The Stores pages on the console (the composition root calls this)."""
    router.add_get(PATH, login_required(stores_page), name="stores")
    new = router.add_resource(NEW_PATH, name="store_new")
    new.add_route("GET", login_required(new_store_form))
    new.add_route("POST", login_required(add_store))
    edit = router.add_resource(PATH + "/{store_id}", name="store_edit")
    edit.add_route("GET", login_required(edit_store_form))
    edit.add_route("POST", login_required(save_store))
