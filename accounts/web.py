"""The console's web shell: who is signed in, CSRF checks, language, page layout, error pages.

Console views of every domain use `login_required` and `render_page`; the composition root
(`portico.console_app`) installs the middlewares and the merged message catalog.
"""

from __future__ import annotations

import logging
import secrets
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlencode

from aiohttp import web

from accounts import services, sessions
from kernel.errors import PorticoError
from kernel.i18n import LANGUAGES, Catalog, negotiate, translator
from kernel.web import DB, SETTINGS, TEMPLATES, Handler, returned

log = logging.getLogger("portico.console")

SESSION_COOKIE = "portico_session"
LOGIN_CSRF_COOKIE = "portico_login_csrf"
SIGNUP_CSRF_COOKIE = "portico_signup_csrf"
INVITE_CSRF_COOKIE = "portico_invite_csrf"
RESET_CSRF_COOKIE = "portico_reset_csrf"
LANG_COOKIE = "portico_lang"
CSRF_FIELD = "csrf_token"
ANONYMOUS_MAX_BODY = 64 * 1024  # bytes a POST may carry without a signed-in session
FORM_MAX_BODY = 1024 * 1024  # bytes of a signed-in user's POST, but to an upload route
LOGIN_ROUTE = "login"
# Forms posted before there is a session: their CSRF token is a double-submit cookie, per route
# (the cookie's name and the path it is sent to).
ANONYMOUS_FORMS = {
    LOGIN_ROUTE: (LOGIN_CSRF_COOKIE, "/login"),
    "signup": (SIGNUP_CSRF_COOKIE, "/signup"),
    "signup_verify": (SIGNUP_CSRF_COOKIE, "/signup"),
    "invite_accept": (INVITE_CSRF_COOKIE, "/invite"),
    "password_forgot": (RESET_CSRF_COOKIE, "/password"),
    "password_reset": (RESET_CSRF_COOKIE, "/password"),
}

SESSION = web.RequestKey("console_session", services.ConsoleSession)
CATALOG = web.AppKey("console_catalog", dict)
# Set on a sub-application whose requests carry credentials of their own (an API key), never
# the console's cookie: the session middleware neither loads a session nor checks a CSRF token
# for them (the POS API, ads/pos_api.py).
SESSIONLESS = web.AppKey("console_sessionless", bool)
# Route names whose forms carry uploads (set by the composition root): a signed-in user's POST
# to one may be as large as the app's client_max_size; any other POST at most FORM_MAX_BODY.
UPLOAD_ROUTES = web.AppKey("console_upload_routes", frozenset)


@dataclass(frozen=True)
class ConsoleNav:
    """Which parts of the console the signed-in user has: a merchant's pages, an advertiser's
    (set per request by the composition root's middleware; the layout shows only those)."""

    merchant: bool = True
    advertiser: bool = True
    owner: bool = True  # an owner of some merchant: the owners' pages (stores, audit log)
    operator: bool = False  # a platform operator: the operator's pages
    suspended: tuple[str, ...] = ()  # names of the user's merchants the platform suspended


NAV = web.RequestKey("console_nav", ConsoleNav)
# More values for the page's template, set by the composition root around a domain's view (the
# dashboard's first-run checklist, portico/checklist.py).
PAGE_EXTRAS = web.RequestKey("console_page_extras", dict)

SessionHandler = Callable[[web.Request, services.ConsoleSession], Awaitable[web.StreamResponse]]


class CsrfRejected(PorticoError):
    message_id = "error_csrf"
    status = 403


def merge_catalogs(*catalogs: Catalog) -> dict[str, Mapping[str, str]]:
    """One catalog for the whole console; two domains may not define the same message id."""
    merged: dict[str, Mapping[str, str]] = {}
    for catalog in catalogs:
        clash = sorted(merged.keys() & catalog.keys())
        if clash:
            raise ValueError(f"message ids defined twice: {', '.join(clash)}")
        merged.update(catalog)
    return merged


# Language and pages ------------------------------------------------------------------------


def request_language(request: web.Request) -> str:
    """An explicit `?lang=` wins, then the remembered choice, then Accept-Language."""
    explicit = request.query.get("lang") or request.cookies.get(LANG_COOKIE)
    return negotiate(request.headers.get("Accept-Language"), explicit)


def page_translator(request: web.Request) -> Callable[..., str]:
    """The console's `_()` in the request's language, for texts made before rendering."""
    return translator(request.app[CATALOG], request_language(request))


def language_links(request: web.Request) -> list[tuple[str, str, bool]]:
    """(language, URL of this page in it, is current) for the language switch."""
    current = request_language(request)
    links = []
    for language in LANGUAGES:
        query = {k: v for k, v in request.query.items() if k != "lang"} | {"lang": language}
        links.append((language, f"{request.path}?{urlencode(query)}", language == current))
    return links


class NotYours(PorticoError):
    """A merchant, store or record the signed-in user may not see: as if it did not exist."""

    message_id = "error_not_found"
    status = 404


def choose_membership(
    memberships: list[services.Membership], asked: str | None
) -> services.Membership | None:
    """The merchant asked for (`?merchant=`, one of the user's), else the user's first; a
    malformed or foreign id is NotYours."""
    if not asked:
        return memberships[0] if memberships else None
    try:
        merchant_id = uuid.UUID(asked)
    except ValueError:
        raise NotYours(f"merchant {asked[:40]!r} is not a uuid") from None
    for membership in memberships:
        if membership.merchant_id == merchant_id:
            return membership
    raise NotYours(f"merchant {merchant_id} is not the user's")


class MerchantSuspended(PorticoError):
    """A page of a merchant the platform suspended, asked for by one of its members."""

    message_id = "error_merchant_suspended"
    status = 403


class OwnersOnly(PorticoError):
    """A page or form of a merchant's owners, asked for by its staff."""

    message_id = "error_owners_only"
    status = 403


def owned_membership(
    memberships: list[services.Membership], asked: str | None
) -> services.Membership | None:
    """The merchant of an owners' page: the one asked for (`?merchant=`, one of the user's;
    OwnersOnly when the user is only its staff), else the first the user owns (None: the user
    owns none and asked for none). Another merchant's id is NotYours, as if it did not exist."""
    if asked:
        membership = choose_membership(memberships, asked)
    else:
        owned = [m for m in memberships if m.role == "owner"]
        membership = owned[0] if owned else (memberships[0] if memberships else None)
    if membership is not None and membership.role != "owner":
        raise OwnersOnly(f"user is staff, not an owner, of merchant {membership.merchant_id}")
    return membership


def render_page(
    request: web.Request, template: str, status: int = 200, **context: object
) -> web.Response:
    """Render a console page in the request's language with the layout's common values."""
    language = request_language(request)
    session = request.get(SESSION)
    env = request.app[TEMPLATES]
    text = env.get_template(template).render(
        _=translator(request.app[CATALOG], language),
        lang=language,
        language_links=language_links(request),
        session=session,
        nav=request.get(NAV) or ConsoleNav(),
        csrf_token=session.csrf_token if session else "",
        request_path=request.path,
        **(request.get(PAGE_EXTRAS) or {}) | context,
    )
    response = web.Response(text=text, status=status, content_type="text/html", charset="utf-8")
    response.headers["Cache-Control"] = "no-store"
    if request.query.get("lang") in LANGUAGES:
        # Remember the switch so the next page (and the POST that follows a form) keeps it.
        response.set_cookie(
            LANG_COOKIE, language, max_age=365 * 86400, httponly=True, samesite="Lax"
        )
    return response


def redirect(location: str) -> web.Response:
    """A 303 returned (not raised), so middlewares still add their headers."""
    return web.Response(status=303, headers={"Location": location})


def login_required(handler: SessionHandler) -> Handler:
    """Call `handler(request, session)` for a signed-in user; send anyone else to sign in."""

    async def wrapper(request: web.Request) -> web.StreamResponse:
        session = request.get(SESSION)
        if session is None:
            login = request.app.router[LOGIN_ROUTE].url_for()
            if request.method == "GET":  # back here once signed in (a scanned till link)
                login = login.with_query(next=request.path_qs)
            return redirect(str(login))
        return await handler(request, session)

    return wrapper


def safe_next(target: str) -> str | None:
    """`target` when it is a path on this console (where to go after signing in), else None:
    never another host (`//host`, `/\\host`, a scheme), so the link cannot send anyone away."""
    if not target.startswith("/") or target.startswith(("//", "/\\")) or len(target) > 2000:
        return None
    if any(ch in target for ch in "\r\n\t") or not target.isascii():
        return None
    return target


# Cookies -----------------------------------------------------------------------------------


def _secure_cookies(request: web.Request) -> bool:
    settings = request.app[SETTINGS]
    return settings.production or settings.console_url.startswith("https://")


def set_session_cookie(
    request: web.Request, response: web.StreamResponse, token: str, expires_at: datetime
) -> None:
    max_age = max(0, int((expires_at - datetime.now(expires_at.tzinfo)).total_seconds()))
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="Lax",
        secure=_secure_cookies(request),
    )


def clear_session_cookie(response: web.StreamResponse) -> None:
    response.del_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="Lax")


def anonymous_form_token(request: web.Request, route: str) -> str:
    """The CSRF token of a form posted before sign-in (ANONYMOUS_FORMS): the browser's cookie
    kept across reloads and tabs, or a new one on the first visit."""
    token = request.cookies.get(ANONYMOUS_FORMS[route][0], "")
    return token if 32 <= len(token) <= 64 else secrets.token_urlsafe(32)


def set_anonymous_csrf_cookie(
    request: web.Request, response: web.StreamResponse, route: str, token: str
) -> None:
    # Before sign-in there is no session: these forms use a double-submit cookie instead.
    name, path = ANONYMOUS_FORMS[route]
    response.set_cookie(
        name,
        token,
        max_age=3600,
        path=path,
        httponly=True,
        samesite="Strict",
        secure=_secure_cookies(request),
    )


def render_anonymous_form(
    request: web.Request, route: str, template: str, status: int = 200, **context: object
) -> web.Response:
    """A page whose form is posted before sign-in (ANONYMOUS_FORMS[route]): rendered with its
    CSRF token as `form_token`, which the response also sets as the route's cookie."""
    token = anonymous_form_token(request, route)
    response = render_page(request, template, status=status, form_token=token, **context)
    set_anonymous_csrf_cookie(request, response, route, token)
    return response


async def signed_in(request: web.Request, user_id: uuid.UUID, location: str) -> web.Response:
    """Sign the user in (a fresh session: the browser's old one, if any, ends) and send them
    to `location`. The session keeps only a coarse description of the browser."""
    db = request.app[DB]
    old_token = request.cookies.get(SESSION_COOKIE)
    if old_token:
        await services.end_session(db, old_token)  # a fresh token at every sign-in
    device = sessions.describe_device(request.headers.get("User-Agent", ""))
    new_session = await services.start_session(db, user_id, device=device)
    response = redirect(location)
    set_session_cookie(request, response, new_session.token, new_session.expires_at)
    return response


def set_login_csrf_cookie(request: web.Request, response: web.StreamResponse, token: str) -> None:
    set_anonymous_csrf_cookie(request, response, LOGIN_ROUTE, token)


def clear_login_csrf_cookie(response: web.StreamResponse) -> None:
    response.del_cookie(LOGIN_CSRF_COOKIE, path="/login", httponly=True, samesite="Strict")


# Middlewares -------------------------------------------------------------------------------


# Methods that change nothing; any other (POST, PUT, PATCH, DELETE, …) must carry the token.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@web.middleware
async def console_session(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Load the signed-in session, and refuse any request but GET, HEAD and OPTIONS whose form
    lacks the right CSRF token (and any over its size)."""
    if any(app.get(SESSIONLESS) for app in request.match_info.apps):
        return await handler(request)
    token = request.cookies.get(SESSION_COOKIE)
    session = await services.session_for_token(request.app[DB], token) if token else None
    if session is not None:
        request[SESSION] = session
    if request.method not in SAFE_METHODS:
        _check_size(request, _max_body(request, session))
        await _check_csrf(request, session)
    return await handler(request)


def _check_size(request: web.Request, limit: int | None) -> None:
    """Refuse a body over `limit` bytes before any of it is read, by its Content-Length (browsers
    always send one with a form; a body without one is refused when a limit applies). Not
    request.clone(client_max_size=...): the files of a clone's form are never closed."""
    if limit is None:
        return
    length = request.content_length
    if length is None:
        raise web.HTTPLengthRequired()
    if length > limit:
        raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=length)


def _max_body(request: web.Request, session: services.ConsoleSession | None) -> int | None:
    """The console's large bodies (its client_max_size) are for signed-in users' uploads only
    (None: that size): anyone else posts a form of ANONYMOUS_MAX_BODY at most (the sign-in
    form is well under it), other forms FORM_MAX_BODY (aiohttp's own default)."""
    if session is None:
        return ANONYMOUS_MAX_BODY
    if request.match_info.route.name in request.app.get(UPLOAD_ROUTES, frozenset()):
        return None
    return FORM_MAX_BODY


async def _check_csrf(request: web.Request, session: services.ConsoleSession | None) -> None:
    form = await request.post()
    submitted = form.get(CSRF_FIELD)
    submitted = submitted if isinstance(submitted, str) else None
    route = request.match_info.route.name
    if route in ANONYMOUS_FORMS:
        expected = request.cookies.get(ANONYMOUS_FORMS[route][0], "")
    else:
        expected = session.csrf_token if session else ""
    if not services.csrf_matches(expected, submitted):
        raise CsrfRejected(f"missing or wrong CSRF token on {request.method} {request.path}")


_HTTP_MESSAGES = {
    404: "error_not_found",
    405: "error_method_not_allowed",
    411: "error_length_required",  # a POST without a Content-Length (no browser sends one)
    413: "error_too_large",  # a form or upload over the console's request size
}


@web.middleware
async def error_pages(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Expected failures and HTTP errors become a page in the user's language; others a 500."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:  # returned, not raised on: see kernel.web.returned
            return returned(exc)
        message_id = _HTTP_MESSAGES.get(exc.status, "error_generic")
        return _error_page(request, exc.status, message_id)
    except PorticoError as exc:
        log.info("console %s %s: %s", request.method, request.path, exc)
        return _error_page(request, exc.status, exc.message_id, **exc.values)
    except Exception:
        log.exception("console %s %s failed", request.method, request.path)
        return _error_page(request, 500, "error_server")


def _error_page(
    request: web.Request, status: int, message_id: str, **values: object
) -> web.Response:
    return render_page(
        request, "accounts/error.html", status=status, message_id=message_id, values=values
    )
