"""The console's Logins page, /logins (docs/logins.md): for one store, which login methods its
splash offers and in what order, how many days a returning shopper is let straight through
(0: never), its terms (the versions published, and a form to publish a new one), and the
merchant's marketing consents (how many, and withdrawing a shopper's by their email address).

Every member of the merchant may look; only an owner changes the methods or publishes terms.
Any member may withdraw a shopper's consent (a shopper may ask at the till; withdrawing is
never against their interest). A merchant or store that is not the user's is a 404. A form
with bad input comes back (400) with the error beside its field and nothing stored; a good
one is saved and the page redirects back to itself with a notice.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import asyncpg
from aiohttp import web
from multidict import MultiDictProxy

from accounts import audit
from accounts import services as accounts
from accounts.web import SESSION, login_required, redirect, render_page
from kernel.errors import PorticoError
from kernel.shopper_events import SHOPPER_EVENTS
from kernel.sql import load_queries
from kernel.web import DB, SETTINGS
from portal import changes, console_session_policy, email_login, identities, terms
from portal.stores import LOGIN_METHODS

queries = load_queries(__file__, "console_logins.sql")

PATH = "/logins"
OWNER = "owner"
METHODS = ("click", "sms", "voucher", "email")  # as the form lists them
MAX_RETURNING_DAYS = 365  # portal_settings' CHECK (migration 0020)
_WHOLE = re.compile(r"^\d{1,4}$")
_SHOWN = 100  # characters of a typed value shown back in its field
FORMS = ("methods", "terms", "withdraw", console_session_policy.FORM)

Error = tuple[str, dict[str, object]]  # (message id, its fields)


class OwnersOnly(PorticoError):
    message_id = "pl_error_owner_only"
    status = 403


class BadForm(PorticoError):
    message_id = "pl_error_bad_form"
    status = 400


def add_routes(router: web.UrlDispatcher) -> None:
    """The page (portico/console_app.py calls this)."""
    resource = router.add_resource(PATH, name="logins")
    resource.add_route("GET", login_required(logins_page))
    resource.add_route("POST", login_required(save))


@dataclass(frozen=True)
class Place:
    """The store the page is about, checked against the user's memberships."""

    membership: accounts.Membership
    memberships: list[accounts.Membership]
    stores: list[accounts.Store]
    store: accounts.Store | None  # None: the merchant has no store yet

    @property
    def owner(self) -> bool:
        return self.membership.role == OWNER

    def url(self, **more: str) -> str:
        params = {"merchant": str(self.membership.merchant_id)}
        if self.store is not None:
            params["store"] = str(self.store.store_id)
        return f"{PATH}?{urlencode(params | more)}"


def _uuid(text: str) -> uuid.UUID:
    try:
        return uuid.UUID(text)
    except ValueError:
        raise web.HTTPNotFound() from None


async def find_place(
    db: asyncpg.Pool, user_id: uuid.UUID, merchant: str, store: str
) -> Place | None:
    """The named (or first) merchant of the user and its named (or first) store; None when
    the user belongs to no merchant; 404 when a named one is not the user's."""
    memberships = await accounts.memberships_of(db, user_id)
    if not memberships:
        return None
    membership = memberships[0]
    if merchant:
        merchant_id = _uuid(merchant)
        found = next((m for m in memberships if m.merchant_id == merchant_id), None)
        if found is None:
            raise web.HTTPNotFound()
        membership = found
    # Staff see their given stores only (an owner, every store).
    stores = await accounts.visible_stores(db, membership.merchant_id, user_id)
    chosen = stores[0] if stores else None
    if store:
        store_id = _uuid(store)
        chosen = next((s for s in stores if s.store_id == store_id), None)
        if chosen is None:
            raise web.HTTPNotFound()
    return Place(membership, memberships, stores, chosen)


@dataclass(frozen=True)
class LoginSettings:
    methods: list[str]
    returning_days: int
    terms_version: str
    configured: bool  # the store has portal settings (else the platform's defaults)


async def login_settings(
    db: asyncpg.Pool | asyncpg.Connection, store: accounts.Store
) -> LoginSettings:
    row = await db.fetchrow(queries.login_settings, store.merchant_id, store.store_id)
    if row is None:
        return LoginSettings(["click"], 0, terms.DEFAULT_VERSION, False)
    return LoginSettings(
        list(row["login_methods"]), row["returning_days"], row["terms_version"], True
    )


@dataclass
class Submitted:
    """A form sent back: what was typed (shown again) and each bad field's error."""

    form: str = ""
    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, Error] = field(default_factory=dict)


def _text(form: MultiDictProxy[Any], name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def parse_methods(form: MultiDictProxy[Any], submitted: Submitted) -> list[str]:
    """The ticked methods sorted by their order fields (ties: the form's order)."""
    chosen: list[tuple[int, int, str]] = []
    for index, method in enumerate(METHODS):
        order_text = submitted.values[f"order_{method}"] = _text(form, f"order_{method}")[:_SHOWN]
        ticked = _text(form, f"method_{method}") == "1"
        submitted.values[f"method_{method}"] = "1" if ticked else ""
        if not ticked:
            continue
        if not _WHOLE.match(order_text) or not 1 <= int(order_text) <= len(METHODS):
            submitted.errors[f"order_{method}"] = ("pl_error_order", {"high": len(METHODS)})
            continue
        chosen.append((int(order_text), index, method))
    if not chosen and not submitted.errors:
        submitted.errors["methods"] = ("pl_error_no_method", {})
    return [method for _order, _index, method in sorted(chosen)]


def parse_days(form: MultiDictProxy[Any], submitted: Submitted) -> int | None:
    text = submitted.values["returning_days"] = _text(form, "returning_days")[:_SHOWN]
    if not _WHOLE.match(text) or int(text) > MAX_RETURNING_DAYS:
        submitted.errors["returning_days"] = ("pl_error_days", {"high": MAX_RETURNING_DAYS})
        return None
    return int(text)


async def _save_methods(
    request: web.Request, store: accounts.Store, form: MultiDictProxy[Any]
) -> Submitted:
    submitted = Submitted("methods")
    methods = parse_methods(form, submitted)
    days = parse_days(form, submitted)
    if submitted.errors or days is None:
        return submitted
    assert set(methods) <= LOGIN_METHODS
    async with request.app[DB].acquire() as conn, conn.transaction():
        before = await login_settings(conn, store)
        await conn.execute(
            queries.save_login_settings,
            store.merchant_id,
            store.store_id,
            methods,
            days,
            store.name,
        )
        await changes.record_store_change(
            conn,
            store.merchant_id,
            store.store_id,
            store.name,
            audit.Actor.user(request[SESSION].user.user_id),
            "logins.update",
            {"login_methods": ", ".join(before.methods), "returning_days": before.returning_days},
            {"login_methods": ", ".join(methods), "returning_days": days},
        )
    return submitted


async def _publish_terms(
    request: web.Request, store: accounts.Store, form: MultiDictProxy[Any]
) -> Submitted:
    submitted = Submitted("terms")
    version = submitted.values["version"] = _text(form, "version")[:40]
    bodies = {}
    for name in ("body_en", "body_zh"):
        text = form.get(name)
        submitted.values[name] = text[: terms.MAX_BODY + 100] if isinstance(text, str) else ""
        try:
            bodies[name] = terms.check_body(submitted.values[name])
        except terms.TermsRefused as refused:
            submitted.errors[name] = (refused.message_id, {"high": terms.MAX_BODY})
    try:
        terms.check_version(version)
    except terms.TermsRefused as refused:
        submitted.errors["version"] = (refused.message_id, {})
    if submitted.errors:
        return submitted
    try:
        await terms.publish(
            request.app[DB],
            store.merchant_id,
            store.store_id,
            version,
            bodies["body_en"],
            bodies["body_zh"],
            actor=audit.Actor.user(request[SESSION].user.user_id),
            store_name=store.name,
        )
    except terms.VersionTaken as taken:
        submitted.errors["version"] = (taken.message_id, {})
    except terms.NoStorePortal as missing:
        submitted.errors["version"] = (missing.message_id, {})
    return submitted


async def _withdraw(
    request: web.Request, store: accounts.Store, form: MultiDictProxy[Any]
) -> tuple[Submitted, int]:
    submitted = Submitted("withdraw")
    address = _text(form, "email")
    try:
        count = await email_login.withdraw_address(
            request.app[DB],
            request.app[SETTINGS].secret_key,
            store.merchant_id,
            address,
            on_events=request.app.get(SHOPPER_EVENTS),
        )
    except identities.BadEmailAddress:
        submitted.values["email"] = address[:_SHOWN]  # a bad value only: an address is not kept
        submitted.errors["email"] = ("pl_error_email", {})
        return submitted, 0
    return submitted, count


async def logins_page(request: web.Request, session: accounts.ConsoleSession) -> web.Response:
    place = await find_place(
        request.app[DB],
        session.user.user_id,
        request.query.get("merchant", ""),
        request.query.get("store", ""),
    )
    notice = request.query.get("saved", "")
    count = request.query.get("withdrawn", "")
    return await _render(
        request,
        place,
        Submitted(),
        saved=notice if notice in FORMS else "",
        withdrawn=int(count) if _WHOLE.match(count) else 0,
    )


async def save(request: web.Request, session: accounts.ConsoleSession) -> web.Response:
    form = await request.post()
    place = await find_place(
        request.app[DB], session.user.user_id, _text(form, "merchant"), _text(form, "store")
    )
    which = _text(form, "form")
    if place is None or place.store is None or which not in FORMS:
        raise BadForm(f"no store or no form {which[:20]!r} in the post")
    if which == "withdraw":
        submitted, count = await _withdraw(request, place.store, form)
        if submitted.errors:
            return await _render(request, place, submitted, status=400)
        return redirect(place.url(saved=which, withdrawn=str(count)) + "#consent")
    if not place.owner:
        raise OwnersOnly(f"{session.user.user_id} is not an owner of {place.store.merchant_id}")
    if which == console_session_policy.FORM:  # its own section (portal/console_session_policy)
        submitted: Any = await console_session_policy.save_form(request, place.store, form)
    else:
        action = _save_methods if which == "methods" else _publish_terms
        submitted = await action(request, place.store, form)
    if submitted.errors:
        return await _render(request, place, submitted, status=400)
    return redirect(place.url(saved=which) + f"#{which}")


async def _render(
    request: web.Request,
    place: Place | None,
    submitted: Submitted,
    *,
    status: int = 200,
    saved: str = "",
    withdrawn: int = 0,
) -> web.Response:
    db = request.app[DB]
    context: dict[str, object] = {}
    if place is not None and place.store is not None:
        store = place.store
        current = await login_settings(db, store)
        published = await terms.versions(db, store.merchant_id, store.store_id)
        context = {
            "current": current,
            "versions": published,
            "next_version": _next_version(current.terms_version, published),
            "consents": await email_login.consent_counts(db, store.merchant_id),
            "terms_url": _terms_url(request, store),
            "method_rows": _method_rows(current, submitted),
            "session_policy": await console_session_policy.current(
                db, store.merchant_id, store.store_id
            ),
        }
    return render_page(
        request,
        "portal/console_logins.html",
        status=status,
        place=place,
        submitted=submitted,
        errors=submitted.errors,
        saved=saved,
        withdrawn=withdrawn,
        path=PATH,
        **context,
    )


def _terms_url(request: web.Request, store: accounts.Store) -> Callable[[str], str]:
    """A version's public page on the portal (shoppers' host, not the console's)."""
    portal_url = request.app[SETTINGS].portal_url.rstrip("/")

    def url(version: str) -> str:
        return portal_url + terms.terms_path(store.merchant_id, store.store_id, version)

    return url


@dataclass(frozen=True)
class MethodRow:
    method: str
    enabled: bool
    order: str
    error: Error | None


def _method_rows(current: LoginSettings, submitted: Submitted) -> list[MethodRow]:
    """Each method's checkbox and order field, as stored or as just typed."""
    # As stored: the enabled ones in their order, then the others in the form's order.
    stored = [m for m in current.methods if m in METHODS]
    stored += [m for m in METHODS if m not in stored]
    rows = []
    for method in METHODS:
        if submitted.form == "methods":
            enabled = submitted.values.get(f"method_{method}") == "1"
            order = submitted.values.get(f"order_{method}", "")
        else:
            enabled, order = method in current.methods, str(stored.index(method) + 1)
        rows.append(MethodRow(method, enabled, order, submitted.errors.get(f"order_{method}")))
    return rows


def _next_version(current: str, published: list[terms.Terms]) -> str:
    """A suggestion for the next version: one more than the highest numbered one."""
    numbers = [int(v) for v in [current, *(t.version for t in published)] if v.isdigit()]
    return str(max([int(terms.DEFAULT_VERSION), *numbers]) + 1)
