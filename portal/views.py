"""HTTP handlers for the shopper pages (openNDS FAS level 1)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple
from urllib.parse import quote, urlencode

import jinja2
from aiohttp import web
from markupsafe import escape
from multidict import CIMultiDict

import ads.services as ads
from kernel.cache import TtlCache
from kernel.errors import PorticoError
from kernel.i18n import negotiate, translator
from kernel.shopper_events import SHOPPER_EVENTS
from kernel.web import DB, SECURITY_HEADERS, SETTINGS, TEMPLATES, Handler, render, returned
from portal import (
    authmon_views,
    captive_api,
    email_login,
    fas,
    grants,
    logins,
    offers,
    online,
    opt_out,
    returning,
    stores,
    terms,
)
from portal import look as look_pictures
from portal.keys import OFFERS, SENDER, SMS_PROVIDERS
from portal.messages import CATALOG
from portal.qr import coupon_qr

log = logging.getLogger("portico.portal.views")
routes = web.RouteTableDef()
RETRY_URL = web.RequestKey("retry_url", str)
# A form that sends the same post again: (action, hidden fields).
RETRY_FORM = web.RequestKey("retry_form", tuple[str, dict[str, str]])
LANGUAGE = web.RequestKey("language", str)

MAX_FORM_BYTES = 16 * 1024


def language(request: web.Request, form_lang: str | None = None) -> str:
    explicit = form_lang
    if not explicit and "lang=" in request.query_string:  # the splash's query is rarely parsed
        explicit = request.query.get("lang")
    chosen = negotiate(request.headers.get("Accept-Language"), explicit)
    request[LANGUAGE] = chosen  # error pages answer in the language the shopper picked
    return chosen


# A redirect as openNDS sends it is base64 (and `&iv=<hex>` at levels 2/3): only these four
# characters need escaping. urllib's quote() walks the string in Python (13 % of a splash view),
# and so does str.translate with a table (6 %), and a regex match over it costs 2 µs; bytes
# deleting the expected characters (the test) and str.replace run in C. Anything else (hostile
# input) still goes through quote(). No replacement writes a character a later one replaces.
_CARRIED = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=&"


def quote_carried(raw_fas: str) -> str:
    """quote(raw_fas, safe=""), fast for what a gateway sends."""
    if raw_fas.isascii() and not raw_fas.encode().translate(None, _CARRIED):
        return (
            raw_fas.replace("+", "%2B").replace("/", "%2F").replace("=", "%3D").replace("&", "%26")
        )
    return quote(raw_fas, safe="")


def splash_url(router_id: str, raw_fas: str, lang: str | None = None) -> str:
    url = f"/fas/{router_id}/?fas={quote_carried(raw_fas)}"
    return url + (f"&lang={lang}" if lang else "")


def other_language(lang: str) -> str:
    return "en" if lang == "zh-CN" else "zh-CN"


# The splash page, built in two steps. All but the shopper's own fields (the redirect, the
# signed ad image link, the language-switch link, a claimed code) is the same for every shopper
# who sees the same "look" (router, language, brand, welcome, ad, error): jinja2 renders the
# template once per look with a marker in place of each shopper field, and every view fills in
# only those, escaped exactly as the template's autoescape does. A look's first build renders
# the page in full too, and keeps the two-step form only when both agree byte for byte.
# Rendering in full was about 40 % of a splash view; filling in is a few microseconds.
_SHOPPER_FIELDS = (
    "raw_fas",
    "ad_image",
    "ad_seen",
    "ad_click",
    "ad_token",
    "switch_url",
    "coupon_code",
    "coupon_qr",
)
_MARK = "\x00"  # in no template, catalog text or PostgreSQL text (which cannot hold NUL)
_RENDER_IN_FULL = "render in full"


class _Look(NamedTuple):
    """A skeleton's cache key and, on purpose, the only values it is rendered from (besides
    markers): whatever the template shows must be here or a shopper field."""

    lang: str
    brand_name: str
    brand_color: str
    page_color: str
    text_color: str
    logo_url: str  # the store's pictures (portal/look.py), '' for none
    background_url: str
    welcome: str
    ad: ads.Ad | None
    error: str | None
    login_action: str
    coupon_action: str
    methods: tuple[str, ...]  # the store's login methods, in its order
    method_base: str  # where method forms post: /fas/<router> or /wifidog
    terms_url: str  # the store's current terms (portal/terms.py)
    present: tuple[bool, ...]  # which shopper fields are non-empty (the template tests some)


# A look's page: its static pieces (UTF-8) joined by `%b` (and `%` written `%%`), the shopper
# field each `%b` stands for, and those fields once each. Bounded; holds no shopper data.
Skeleton = tuple[bytes, tuple[str, ...], tuple[str, ...]]
_skeletons: TtlCache[_Look, Skeleton | str] = TtlCache(300.0, max_items=4096)


def _splash_context(look: _Look, shopper: dict[str, str | None]) -> dict[str, object]:
    context: dict[str, object] = look._asdict()
    del context["present"]
    return {"_": translator(CATALOG, look.lang), **context, **shopper}


# markupsafe's five replacements, in its order ("&" first: no replacement writes a character a
# later one replaces).
_ESCAPES = (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ('"', "&#34;"), ("'", "&#39;"))


def _escaped(value: object) -> bytes:
    """markupsafe.escape(value) in UTF-8, as the template's autoescape writes a value. A plain
    str is searched for each of the five characters by `in` (C, a few ns a character: a regex
    search over a level-1 redirect took 2 µs) and only those it holds are replaced."""
    if type(value) is str:
        for character, entity in _ESCAPES:
            if character in value:
                value = value.replace(character, entity)
        return value.encode()
    return escape(value).encode()


def _fill(skeleton: Skeleton, shopper: dict[str, str | None]) -> bytes:
    page, names, fields = skeleton
    values = {name: _escaped(shopper[name]) for name in fields}
    return page % tuple([values[name] for name in names])


def _skeleton(
    env: jinja2.Environment, look: _Look, shopper: dict[str, str | None]
) -> Skeleton | str:
    """The look's skeleton, or _RENDER_IN_FULL when the template does not allow one (each
    shopper field must be output as a plain `{{ name }}`); checked against this view's page."""
    template = env.get_template("portal/splash.html")
    marked = {k: (f"{_MARK}{k}{_MARK}" if v else v) for k, v in shopper.items()}
    pieces = template.render(_splash_context(look, marked)).split(_MARK)
    full = template.render(_splash_context(look, shopper)).encode()
    names = tuple(pieces[1::2])
    if len(pieces) % 2 == 0 or not set(names) <= set(_SHOPPER_FIELDS):
        log.warning("splash template: a shopper field is not output plainly; rendering in full")
        return _RENDER_IN_FULL
    page = b"%b".join(static.encode().replace(b"%", b"%%") for static in pieces[0::2])
    skeleton = (page, names, tuple(dict.fromkeys(names)))
    if _fill(skeleton, shopper) != full:
        log.warning("splash template: the two-step page differs; rendering in full")
        return _RENDER_IN_FULL
    return skeleton


def _splash_page(env: jinja2.Environment, look: _Look, shopper: dict[str, str | None]) -> bytes:
    skeleton = _skeletons.get(look)
    if skeleton is None:
        skeleton = _skeleton(env, look, shopper)
        _skeletons.put(look, skeleton)
    if isinstance(skeleton, str):  # _RENDER_IN_FULL
        template = env.get_template("portal/splash.html")
        return template.render(_splash_context(look, shopper)).encode()
    return _fill(skeleton, shopper)


# With the security headers already in (kernel.web.security_headers then adds nothing); a
# CIMultiDict, which the response copies in C (from a dict it costs 0.3 µs more).
_HTML_HEADERS = CIMultiDict(
    {
        "Content-Type": "text/html; charset=utf-8",
        "Cache-Control": "no-store",
        **SECURITY_HEADERS,
    }
)


def _html(body: bytes, status: int) -> web.Response:
    """The response kernel.web.render makes, from a page already encoded."""
    return web.Response(body=body, status=status, headers=_HTML_HEADERS)  # copies the headers


async def _splash(
    request: web.Request,
    visit: stores.Visit,
    raw_fas: str,
    lang: str,
    *,
    status: int = 200,
    coupon_code: str | None = None,
    error: str | None = None,
    actions: tuple[str, str, str] | None = None,
    method_base: str | None = None,
    welcome_back: bool = False,
    identity: str | None = None,
) -> web.Response:
    """`actions`: (login, coupon, language switch) URLs and `method_base` (where the login
    methods' forms post) of another gateway's pages (WiFiDog); by default the openNDS ones.
    `welcome_back`: a returning shopper (portal/returning.py) is offered Continue first.
    `identity`: the shopper's phone or email identity when known (the ad's caps and holdout
    count it, across their devices); else the device's pseudonym."""
    app = request.app
    router = visit.router
    placed = await ads.place_ad(
        app[DB],
        app[SETTINGS].secret_key,
        visit.merchant_id,
        router.store_id,
        identity or visit.device,
        lang,
        device=visit.device,
        returning=welcome_back,
    )
    ad = placed.ad if placed else None
    ad_image = ad_seen = ad_click = None
    if placed is not None:  # the page reports it shown, and clicks go, with its token
        ad_image = f"/ad/show/{placed.token}"
        if placed.kind == "video":
            ad_seen = f"/ad/seen/{placed.token}"
        if placed.has_landing:
            ad_click = f"/ad/go/{placed.token}"
    if actions is None:
        router_id = router.router_id
        actions = (
            f"/fas/{router_id}/login",
            f"/fas/{router_id}/coupon",
            splash_url(router_id, raw_fas, other_language(lang)),
        )
    shopper = {
        "raw_fas": raw_fas,
        "ad_image": ad_image,
        "ad_seen": ad_seen,
        "ad_click": ad_click,
        "ad_token": placed.token if placed else None,
        "switch_url": actions[2],
        "coupon_code": coupon_code,
        # The same code as a QR code the till can scan (its till link): a data: URI.
        "coupon_qr": coupon_qr(app[SETTINGS].console_url, coupon_code) if coupon_code else None,
    }
    portal = visit.portal
    look = _Look(
        lang,
        portal.brand_name,
        portal.brand_color,
        portal.page_color,
        portal.text_color,
        portal.logo_url,
        portal.background_url,
        portal.welcome_zh if lang == "zh-CN" else portal.welcome_en,
        ad,
        error,
        actions[0],
        actions[1],
        ("returning",) * welcome_back + tuple(portal.login_methods),
        method_base or f"/fas/{router.router_id}",
        terms.splash_terms_url(router.merchant_id, router.store_id, portal.terms_version, lang),
        tuple(map(bool, shopper.values())),
    )
    return _html(_splash_page(app[TEMPLATES], look, shopper), status)


def preview_page(
    env: jinja2.Environment,
    look: look_pictures.Look,
    lang: str,
    picture_url: Callable[[uuid.UUID | None], str],
) -> bytes:
    """The splash a store's shoppers would see with `look` (the console's live preview,
    portal/console_look.py): the real template, without an ad, its forms going nowhere;
    `picture_url` says where the console serves the store's pictures."""
    shopper: dict[str, str | None] = dict.fromkeys(_SHOPPER_FIELDS)
    shopper["switch_url"] = "#"
    preview = _Look(
        lang,
        look.brand_name,
        look.brand_color,
        look.page_color,
        look.text_color,
        picture_url(look.logo_id),
        picture_url(look.background_id),
        look.welcome_zh if lang == "zh-CN" else look.welcome_en,
        None,
        None,
        "#",
        "#",
        tuple(look.login_methods),
        "#",
        "#",
        tuple(map(bool, shopper.values())),
    )
    return env.get_template("portal/splash.html").render(_splash_context(preview, shopper)).encode()


# Pictures are read on every shopper's first splash: a few are kept (their bytes never change).
_pictures: TtlCache[tuple[uuid.UUID, ...], tuple[str, bytes]] = TtlCache(300.0, 32)


@routes.get("/look/{merchant_id}/{store_id}/{image_id}", name="look_picture")
async def look_picture(request: web.Request) -> web.Response:
    """A store's logo or background picture (portal/look.py), public: the splash shows it
    before the shopper is online."""
    info = request.match_info
    try:
        ids = [uuid.UUID(info[name]) for name in ("merchant_id", "store_id", "image_id")]
    except ValueError:
        raise web.HTTPNotFound() from None

    async def read() -> tuple[str, bytes]:
        found = await look_pictures.picture(request.app[DB], *ids)
        if found is None:  # a failed load is not kept: unknown ids fill no cache
            raise web.HTTPNotFound()
        return found

    return look_pictures.picture_response(await _pictures.get_or_load(tuple(ids), read))


# The router resolves the /fas/<router>/… routes in the order they are added: the splash, by far
# the most asked for, comes first (the paths of these routes do not overlap).
@routes.get("/fas/{router_id}", name="splash_no_slash")
@routes.get("/fas/{router_id}/", name="splash")
async def splash(request: web.Request) -> web.Response:
    # A substring test first: parsing the whole query costs a splash view 2 % (a profile).
    query_string = request.query_string
    if "status=" in query_string and request.query.get("status") == "authenticated":
        # openNDS sends a client it already let through back here (authenticated(),
        # src/http_microhttpd.c) with the query it got and no fas: it is online.
        return await _store_online_page(request)
    if "auth_get" in query_string and "auth_get" in request.query:
        # openNDS authmon without php (wget_request), level 3
        return await authmon_views.answer_poll(request, request.query)
    raw_fas = fas.carried_redirect(query_string)  # levels 2/3: `<fas>&iv=<iv>`
    app = request.app
    visit = await stores.open_visit(
        app[DB], app[SETTINGS].secret_key, request.match_info["router_id"], raw_fas
    )
    found = None
    if visit.portal.returning_days:  # returning shoppers let through: one query (else none)
        found = await returning.recognise(app[DB], visit)
    lang = language(request)
    return await _splash(
        request,
        visit,
        raw_fas or "",
        lang,
        welcome_back=found is not None,
        identity=found.identity_hash if found else None,
    )


@routes.get("/fas/{router_id}/&status=authenticated", name="authenticated_no_query")
async def authenticated_no_query(request: web.Request) -> web.Response:
    """openNDS's authenticated() with an empty query appends `&status=authenticated` to the
    FAS path itself (no "?"), as recorded on a real openNDS 11."""
    return await _store_online_page(request)


async def _read_form(request: web.Request) -> dict[str, str]:
    if request.content_length and request.content_length > MAX_FORM_BYTES:
        raise fas.BadRedirect("form too large")
    form = await request.post()
    return {k: v for k, v in form.items() if isinstance(v, str)}


@dataclass(frozen=True)
class PostedVisit:
    form: dict[str, str]
    raw_fas: str
    lang: str
    visit: stores.Visit


async def _posted_visit(request: web.Request) -> PostedVisit:
    """A splash form post: its fields, language, and the visit its `fas` stands for."""
    form = await _read_form(request)
    raw_fas = form.get("fas", "")
    lang = language(request, form.get("lang"))
    router_id = request.match_info["router_id"]
    request[RETRY_URL] = splash_url(router_id, raw_fas, lang)
    secret = request.app[SETTINGS].secret_key
    visit = await stores.open_visit(request.app[DB], secret, router_id, raw_fas)
    return PostedVisit(form, raw_fas, lang, visit)


async def fas_arrival(request: web.Request) -> logins.Arrival:
    """A form posted from an openNDS splash (`/fas/<router>/…`) as the login seam sees it."""
    posted = await _posted_visit(request)
    visit, raw_fas, lang = posted.visit, posted.raw_fas, posted.lang

    async def admit(admission: grants.Admission) -> web.Response:
        return await _admit(request, visit, lang, admission)

    async def splash(
        *, error: str | None = None, status: int = 200, coupon_code: str | None = None
    ) -> web.Response:
        return await _splash(
            request, visit, raw_fas, lang, error=error, status=status, coupon_code=coupon_code
        )

    base = f"/fas/{visit.router.router_id}"
    return logins.Arrival(visit, raw_fas, lang, posted.form, base, admit, splash)


async def _admit(
    request: web.Request, visit: stores.Visit, lang: str, admission: grants.Admission
) -> web.Response:
    """Let the shopper in through the router, then on to the page that says so."""
    settings = request.app[SETTINGS]
    session_id = await grants.grant(
        request.app[DB], request.app[SENDER], visit, admission, request.app.get(SHOPPER_EVENTS)
    )
    if grants.granted_by_authmon(visit):  # level 3, no agent: wait for authmon's poll
        link = authmon_views.connecting_link(
            settings.secret_key, visit, session_id, stores.landing_url(visit), lang
        )
        raise web.HTTPSeeOther(link)
    # The router's ack means openNDS holds the client as Authenticated: straight to our own
    # "you're online" page (portal/online.py says why there is no hop through the gateway).
    link = online.online_link(
        settings.secret_key, visit, session_id, stores.landing_url(visit), lang
    )
    raise web.HTTPSeeOther(link)


@routes.post("/fas/{router_id}/login", name="login")
async def login(request: web.Request) -> web.Response:
    """Click-through on an openNDS splash."""
    arrival = await fas_arrival(request)
    # If the router refuses by accident or answers late, the shopper's retry resends the login.
    retry = {"fas": arrival.carried, "accept": "1", "lang": arrival.lang}
    request[RETRY_FORM] = (request.path, retry)
    try:
        accepted = arrival.form.get("accept") == "1"
        admission = logins.click_through(arrival.visit, accepted_terms=accepted)
    except logins.TermsRequired as exc:
        return await arrival.splash(error=exc.message_id, status=400)
    return await arrival.admit(admission)


@routes.post("/fas/{router_id}/coupon", name="coupon")
async def claim_coupon(request: web.Request) -> web.Response:
    posted = await _posted_visit(request)
    form, raw_fas, lang, visit = posted.form, posted.raw_fas, posted.lang, posted.visit
    claim = await claim_posted_coupon(request, visit, form, lang)
    return await _splash(request, visit, raw_fas, lang, coupon_code=claim.code)


async def claim_posted_coupon(
    request: web.Request, visit: stores.Visit, form: dict[str, str], lang: str
) -> ads.Claim:
    """The coupon a splash form claims, for either gateway; a new claim is also texted to the
    shopper's phone when an SMS code proved it on this device."""
    try:
        coupon_id = uuid.UUID(form.get("coupon", ""))
    except ValueError:
        raise ads.UnknownCoupon("coupon id is not a uuid") from None
    db = request.app[DB]
    claim = await offers.claim_coupon(db, visit, coupon_id, request.app.get(SHOPPER_EVENTS))
    if claim.new:
        secret = request.app[SETTINGS].secret_key
        # the ad's token, when the form came from its splash: the claim is its line item's action
        token = form.get("ad", "")
        await ads.count_claim_action(db, secret, token, visit.merchant_id, coupon_id)
        providers = request.app[SMS_PROVIDERS]
        codes = frozenset({claim.code})
        offers.text_coupons_soon(db, providers, secret, visit, lang, codes=codes)
    return claim


@routes.get("/online", name="online")
async def generic_online(request: web.Request) -> web.Response:
    """A plain "you're online" page for links that name no router."""
    lang = language(request)
    return _online_page(request, lang, brand=request.query.get("m", "")[:100])


@routes.get("/fas/{router_id}/online", name="session_online")
async def session_online(request: web.Request) -> web.Response:
    """The online page of one session, reached by the signed link the login ended on.

    Asked with `Accept: application/captive+json`, the same link answers as the session's
    RFC 8908 API (portal/captive_api.py)."""
    lang = language(request)
    router, portal = await stores.store_gateway(request.app[DB], request.match_info["router_id"])
    if captive_api.wants_captive_json(request):
        return await captive_api.session_answer(
            request, router.router_id, router.merchant_id, portal
        )
    q = request.query
    session_id, next_url, sig = q.get("s", ""), q.get("next", ""), q.get("sig", "")
    status = await online.session_status(
        request.app[DB],
        router.merchant_id,
        router.router_id,
        _signed_session(request, router.router_id, session_id, next_url, sig),
        lang,
        console_url=request.app[SETTINGS].console_url,
        offers=request.app.get(OFFERS),
    )
    if status is None:
        raise online.BadOnlineLink(f"no session {session_id} at router {router.router_id}")
    logout_form = None
    fields = {"s": session_id, "next": next_url, "sig": sig, "lang": lang}
    if status.active and router.gateway == "opennds":
        logout_form = (f"/fas/{router.router_id}/logout", fields)
    return _online_page(
        request,
        lang,
        portal=portal,
        session=status,
        next_url=fas.safe_origin_url(next_url),
        switch_url=f"{request.path}?{_with_lang(request, other_language(lang))}",
        logout_form=logout_form,
        extend_form=online.extend_form(status, f"/fas/{router.router_id}/extend", fields),
        extended=q.get("extended") == "1",
        offer_form=(f"/fas/{router.router_id}/offer", fields),  # an offer's coupon
        # The shopper's coupons (portal/wallet_views.py), under the same signed link.
        wallet_url=f"/fas/{router.router_id}/wallet?{urlencode(fields)}",
        opt_out_form=(f"/fas/{router.router_id}/opt-out", fields),
    )


def _signed_session(
    request: web.Request, router_id: str, session_id: str, next_url: str, sig: str
) -> uuid.UUID:
    """The session a signed online link names (its signature is the shopper's capability)."""
    secret = request.app[SETTINGS].secret_key
    if not online.link_is_ours(secret, router_id, session_id, next_url, sig):
        raise online.BadOnlineLink("online link signature does not match")
    try:
        return uuid.UUID(session_id)
    except ValueError:
        raise online.BadOnlineLink("online link names no session") from None


@routes.post("/fas/{router_id}/logout", name="session_logout")
async def session_logout(request: web.Request) -> web.Response:
    """Log out from the online page: the form posts the page's signed link back (the captive
    browser has no cookie to forge a request with; the link is the capability). The router
    deauths the client first; a second submission finds the session ended and says so."""
    form = await _read_form(request)
    lang = language(request, form.get("lang"))
    router, portal = await stores.store_gateway(request.app[DB], request.match_info["router_id"])
    session_id, next_url, sig = form.get("s", ""), form.get("next", ""), form.get("sig", "")
    sid = _signed_session(request, router.router_id, session_id, next_url, sig)
    fields = {"s": session_id, "next": next_url, "sig": sig, "lang": lang}
    request[RETRY_FORM] = (request.path, fields)
    ended = await online.log_out(request.app[DB], request.app[SENDER], router, sid)
    log.info(
        "logout of session %s at %s: %s",
        sid,
        router.router_id,
        "ended" if ended else "had ended already",
    )
    secret = request.app[SETTINGS].secret_key
    other = online.online_link_for(
        secret, router.router_id, session_id, next_url, other_language(lang)
    )
    return _online_page(request, lang, portal=portal, switch_url=other, logged_out=True)


@routes.post("/fas/{router_id}/offer", name="offer_coupon")
async def claim_offer_coupon(request: web.Request) -> web.Response:
    """The coupon of an offer on the online page: claimed for the session's device (the form
    posts the page's signed link back, as Log out does), then the online page again, which
    lists it with its code and QR code."""
    offers = request.app.get(OFFERS)
    if offers is None:
        raise web.HTTPNotFound()
    form = await _read_form(request)
    lang = language(request, form.get("lang"))
    db = request.app[DB]
    router, portal = await stores.store_gateway(db, request.match_info["router_id"])
    session_id, next_url, sig = form.get("s", ""), form.get("next", ""), form.get("sig", "")
    sid = _signed_session(request, router.router_id, session_id, next_url, sig)
    try:
        coupon_id = uuid.UUID(form.get("coupon", ""))
    except ValueError:
        raise ads.UnknownCoupon("coupon id is not a uuid") from None
    claim = await online.claim_offered_coupon(
        db, offers, router, portal, sid, coupon_id, request.app.get(SHOPPER_EVENTS)
    )
    log.info("offer coupon %s %s by session %s", coupon_id, "claimed" if claim.new else "held", sid)
    secret = request.app[SETTINGS].secret_key
    raise web.HTTPSeeOther(
        online.online_link_for(secret, router.router_id, session_id, next_url, lang)
    )


@routes.post("/fas/{router_id}/opt-out", name="opt_out")
async def opt_out_of_offers(request: web.Request) -> web.Response:
    """ "No more offers" on the online page (portal/opt_out.py): the form posts the page's signed
    link back, as Log out does; then the online page again, which says it is done. Sent again,
    it records and tells nothing more."""
    form = await _read_form(request)
    lang = language(request, form.get("lang"))
    db = request.app[DB]
    router, _portal = await stores.store_gateway(db, request.match_info["router_id"])
    session_id, next_url, sig = form.get("s", ""), form.get("next", ""), form.get("sig", "")
    sid = _signed_session(request, router.router_id, session_id, next_url, sig)
    await opt_out.opt_out(db, router.merchant_id, sid, request.app.get(SHOPPER_EVENTS))
    secret = request.app[SETTINGS].secret_key
    raise web.HTTPSeeOther(
        online.online_link_for(secret, router.router_id, session_id, next_url, lang)
    )


async def _store_online_page(request: web.Request) -> web.Response:
    lang = language(request)
    _router, portal = await stores.store_gateway(request.app[DB], request.match_info["router_id"])
    return _online_page(
        request, lang, portal=portal, next_url=fas.safe_origin_url(portal.landing_url)
    )


def _online_page(
    request: web.Request,
    lang: str,
    *,
    portal: stores.StorePortal | None = None,
    session: online.OnlineSession | None = None,
    next_url: str = "",
    brand: str = "",
    switch_url: str = "",
    logout_form: tuple[str, dict[str, str]] | None = None,
    logged_out: bool = False,
    logged_out_text: str = "logged_out_text",
    extend_form: tuple[str, dict[str, str]] | None = None,
    extended: bool = False,
    wallet_url: str = "",
    offer_form: tuple[str, dict[str, str]] | None = None,
    opt_out_form: tuple[str, dict[str, str]] | None = None,
) -> web.Response:
    down_mb, up_mb = online.data_allowance_mb(portal) if portal else (0, 0)
    consent = session.consent if session else None
    consent_link = ""
    if consent is not None:  # given in this login (portal/email_login.py)
        secret = request.app[SETTINGS].secret_key
        consent_link = email_login.withdrawal_path(
            secret, consent.merchant_id, consent.consent_id, lang
        )
    return render(
        request,
        "portal/online.html",
        _=translator(CATALOG, lang),
        lang=lang,
        brand=portal.brand_name if portal else brand,
        brand_color=portal.brand_color if portal else "#0a7d5a",
        session=session,
        down_mb=down_mb,
        up_mb=up_mb,
        next_url=next_url,
        switch_url=switch_url,
        logout_form=logout_form,
        logged_out=logged_out,
        logged_out_text=logged_out_text,
        consent_link=consent_link,
        extend_form=extend_form,  # portal/online_policy.html
        extended=extended,
        wallet_url=wallet_url,
        offer_form=offer_form,
        consent_purpose=consent.purpose if consent else "",
        opt_out_form=opt_out_form,  # portal/online_opt_out.html
    )


def _with_lang(request: web.Request, lang: str) -> str:
    query = {k: v for k, v in request.query.items() if k != "lang"}
    return urlencode({**query, "lang": lang})


@routes.get("/healthz")
async def healthz(request: web.Request) -> web.Response:
    return web.Response(text="ok")


@web.middleware
async def error_pages(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except PorticoError as exc:
        log.warning("%s %s: %s (%s)", request.method, request.path, exc.message_id, exc.detail)
        retry_form = request.get(RETRY_FORM) if exc.retry_same_request else None
        return _error_page(request, exc.message_id, exc.status, retry_form, exc.title_id)
    except web.HTTPNotFound:
        return _error_page(request, "error_not_found", 404)
    except web.HTTPException as exc:  # returned, not raised on: see kernel.web.returned
        return returned(exc)
    except Exception:
        log.exception("%s %s failed", request.method, request.path)
        return _error_page(request, "error_generic", 500)


def _error_page(
    request: web.Request,
    message_id: str,
    status: int,
    retry_form: tuple[str, dict[str, str]] | None = None,
    title_id: str = "error_title",
) -> web.Response:
    lang = request.get(LANGUAGE) or language(request)
    return render(
        request,
        "portal/error.html",
        status=status,
        _=translator(CATALOG, lang),
        lang=lang,
        message_id=message_id,
        title_id=title_id,
        retry_url=request.get(RETRY_URL),
        retry_form=retry_form,
    )
