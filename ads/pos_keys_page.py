"""The console's POS API keys page, /till/api-keys (beside the till): a merchant's keys with
their store and last use; an owner makes a key (shown once, in the answer to the form itself:
only its hash is kept) and revokes one. Staff may look. A merchant or key that is not the
user's is a 404. Forms carry the console's CSRF token (accounts.web checks it on every POST).
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
from ads import pos_api, pos_keys, redemption
from kernel.errors import PorticoError
from kernel.web import DB, SETTINGS

PATH = redemption.TILL_PATH + "/api-keys"
OWNER = "owner"
DEFAULT_TIMEZONE = "Asia/Shanghai"  # a merchant without a store yet (accounts' default)


class OwnersOnly(PorticoError):
    message_id = "pos_keys_owner_only"
    status = 403


class BadStore(PorticoError):
    message_id = "red_error_bad_store"
    status = 400


class BadForm(PorticoError):
    """A field that is not text (a file posted where the form has a text field)."""

    message_id = "error_generic"
    status = 400


@dataclass(frozen=True)
class KeyRow:
    key: pos_keys.KeyListing
    store: str  # the store's name, or "" for any store
    created_by: str


@dataclass(frozen=True)
class _Place:
    memberships: list[accounts.Membership]
    merchant: accounts.Membership
    stores: list[accounts.Store]

    @property
    def owner(self) -> bool:
        return self.merchant.role == OWNER


async def keys_page(request: web.Request, session: accounts.ConsoleSession) -> web.Response:
    place = await _place(request, session, request.query)
    return await _render(request, place, revoked=request.query.get("revoked") == "1")


async def create_key(request: web.Request, session: accounts.ConsoleSession) -> web.Response:
    form = await request.post()
    place = await _place(request, session, form)
    _require_owner(place, session)
    name = _field(form, "name")
    store = _store(place, _field(form, "store"))
    try:
        made = await pos_keys.create_key(
            request.app[DB],
            request.app[SETTINGS].secret_key,
            place.merchant.merchant_id,
            name=name,
            store_id=store.store_id if store else None,
            created_by=session.user.user_id,
            store_name=store.name if store else "",
        )
    except (pos_keys.KeyNameInvalid, pos_keys.TooManyKeys) as exc:
        return await _render(request, place, error=exc, typed=name[:100])
    return await _render(request, place, made=made)


async def revoke_key(request: web.Request, session: accounts.ConsoleSession) -> web.Response:
    form = await request.post()
    place = await _place(request, session, form)
    _require_owner(place, session)
    try:
        key_id = uuid.UUID(request.match_info["key_id"])
    except ValueError:
        raise NotYours("not a key id") from None
    try:
        await pos_keys.revoke_key(
            request.app[DB],
            place.merchant.merchant_id,
            key_id,
            actor=audit.Actor.user(session.user.user_id),
        )
    except pos_keys.KeyUnknown as exc:
        raise NotYours(str(exc)) from exc
    query = {"merchant": str(place.merchant.merchant_id), "revoked": "1"}
    return redirect(f"{PATH}?{urlencode(query)}")


def _field(form: Mapping[str, Any], name: str) -> str:
    """A text field of the form ("" when missing); a file where text belongs is refused."""
    value = form.get(name, "")
    if not isinstance(value, str):
        raise BadForm(f"field {name} is not text")
    return value


def _store(place: _Place, asked: str) -> accounts.Store | None:
    """The store the form names (None: any store of the merchant's)."""
    if not asked:
        return None
    store = next((s for s in place.stores if str(s.store_id) == asked), None)
    if store is None:
        raise BadStore(f"store {asked[:40]!r} is not one of the merchant's")
    return store


def _require_owner(place: _Place, session: accounts.ConsoleSession) -> None:
    if not place.owner:
        merchant_id = place.merchant.merchant_id
        raise OwnersOnly(f"{session.user.user_id} is not an owner of {merchant_id}")


async def _place(
    request: web.Request, session: accounts.ConsoleSession, values: Mapping[str, Any]
) -> _Place:
    db = request.app[DB]
    memberships = await accounts.memberships_of(db, session.user.user_id)
    asked = values.get("merchant")
    if asked is not None and not isinstance(asked, str):
        raise NotYours("the merchant field is not text")
    merchant = choose_membership(memberships, asked or None)
    if merchant is None:
        raise NotYours("the user belongs to no merchant")
    return _Place(memberships, merchant, await accounts.list_stores(db, merchant.merchant_id))


async def _render(
    request: web.Request,
    place: _Place,
    *,
    made: pos_keys.NewKey | None = None,
    revoked: bool = False,
    error: PorticoError | None = None,
    typed: str = "",
) -> web.Response:
    db = request.app[DB]
    merchant_id = place.merchant.merchant_id
    keys = await pos_keys.list_keys(db, merchant_id)
    names = await accounts.member_names(db, merchant_id, list({k.created_by for k in keys}))
    stores = {s.store_id: s.name for s in place.stores}
    rows = [
        KeyRow(k, stores.get(k.store_id, "") if k.store_id else "", names.get(k.created_by, ""))
        for k in keys
    ]
    timezone = place.stores[0].timezone if place.stores else DEFAULT_TIMEZONE
    return render_page(
        request,
        "ads/pos_keys.html",
        status=error.status if error else 200,
        place=place,
        path=PATH,
        rows=rows,
        made=made,
        revoked=revoked,
        error=error,
        typed=typed,
        zone=ZoneInfo(timezone),
        openapi_url=request.app[SETTINGS].console_url.rstrip("/")
        + pos_api.PREFIX
        + "/openapi.json",
    )


def add_routes(router: web.UrlDispatcher) -> None:
    """The keys page on the console (the composition root calls this)."""
    resource = router.add_resource(PATH, name="pos_keys")
    resource.add_route("GET", login_required(keys_page))
    resource.add_route("POST", login_required(create_key))
    router.add_post(PATH + "/{key_id}/revoke", login_required(revoke_key), name="pos_key_revoke")
