"""The WiFiDog auth-server protocol (wifidog-gateway, apfree-wifidog), served under `/wifidog/`.

Derived from wifidog-gateway's source (wifidog/wifidog-gateway, commit b9771dd; apfree-wifidog
24d03fd for its variants). Installers point the gateway here with `AuthServer { Path /wifidog/ }`
(docs/wifidog.md); the gateway appends its fixed fragments to that path:

- `login/?gw_address=&gw_port=&gw_id=&ip=&mac=&url=` (http_callback_404, src/http.c): the
  shopper's browser, sent by the gateway. We show the store's splash; Connect issues a
  single-use token bound to the client's MAC and IP and sends the browser to the gateway's own
  `http://gw_address:gw_port/wifidog/auth?token=T` (http_callback_auth, src/http.c).
- `auth/?stage=login|counters|logout&ip=&mac=&token=&incoming=&outgoing=&gw_id=`
  (auth_server_request, src/centralserver.c): the gateway itself. It reads the whole response,
  headers included, finds the first `Auth: ` and reads an integer after it: 1 lets the client
  through (fw_allow), 0 denies it (fw_deny; on `counters` this kicks an online client,
  fw_sync_with_authserver, src/firewall.c), -1 is an error that leaves the client as it is.
  apfree-wifidog sends `incoming_bytes`/`outgoing_bytes` instead of `incoming`/`outgoing`.
- `ping/?gw_id=&sys_uptime=&sys_memfree=&sys_load=&wifidog_uptime=` (ping(), src/ping_thread.c):
  any body containing `Pong` keeps the auth server marked up.
- `portal/?gw_id=&token=` after `Auth: 1`, and `gw_message.php?message=…&token=` after a
  denial (authenticate_client, src/auth.c; apfree: `gw_message?`): pages for the shopper.

Only a registered `gw_id` (the router id of a router whose gateway is 'wifidog') is served; an
unregistered one is refused without a database query (wifidog_store.KnownGateways).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import logging
import re
import uuid
import weakref
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode

import asyncpg
from aiohttp import web
from multidict import MultiMapping

from controller.services import Router
from kernel.errors import PorticoError
from kernel.i18n import translator
from kernel.logs import Throttled
from kernel.privacy import device_hash, normalize_mac
from kernel.shopper_events import SHOPPER_EVENTS
from kernel.web import DB, SETTINGS, render
from portal import grants, liveness, logins, online, opt_out, returning, stores, views
from portal import wifidog_store as store
from portal.fas import BadRedirect, FasClient, safe_origin_url
from portal.keys import OFFERS, SENDER
from portal.messages import CATALOG

log = logging.getLogger("portico.portal.wifidog")
unknown_gateway_log = Throttled(log)  # random gw_ids must not flood the log

PREFIX = "/wifidog/"  # wifidog's DEFAULT_AUTHSERVPATH (src/conf.h); the installer's `Path`
METHOD_BASE = PREFIX.rstrip("/")  # login methods' forms post to /wifidog/<method path>
MAX_PARAM = 64
MAX_URL = 2048
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
_GW_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_COUNTER = re.compile(r"^\d{1,19}$")  # %llu; PostgreSQL's bigint holds 19 digits
STAGES = ("login", "counters", "logout")
# gw_message.php?message=… (GATEWAY_MESSAGE_*, src/auth.h)
MESSAGES = ("denied", "activate", "failed_validation")
AUTH_DENIED, AUTH_ALLOWED, AUTH_ERROR = 0, 1, -1  # t_authcode, src/auth.h

routes = web.RouteTableDef()


class NotWifidogGateway(stores.UnknownGateway):
    """A gw_id that is no registered router running a WiFiDog gateway."""


class NoClientMac(PorticoError):
    """wifidog leaves `mac` out of login/ when arp_get() found none (http_callback_404)."""

    message_id = "error_wifidog_no_mac"
    status = 400


class BadParameter(PorticoError):
    message_id = "error_bad_redirect"
    status = 400


class UnknownMessage(PorticoError):
    message_id = "error_wifidog_message"
    status = 400


def one(
    query: MultiMapping[str], name: str, *, required: bool = True, limit: int = MAX_PARAM
) -> str:
    """The single value of a query parameter; missing, repeated or overlong is an error."""
    values = query.getall(name, [])
    if len(values) > 1:
        raise BadParameter(f"{name} given {len(values)} times")
    if not values or values[0] == "":
        if required:
            raise BadParameter(f"{name} is missing")
        return ""
    if len(values[0]) > limit:
        raise BadParameter(f"{name} is longer than {limit} characters")
    return values[0]


def ip_param(query: MultiMapping[str], name: str) -> str:
    try:
        return str(ipaddress.ip_address(one(query, name)))
    except ValueError:
        raise BadParameter(f"{name} is not an IP address") from None


def mac_param(query: MultiMapping[str]) -> str:
    mac = normalize_mac(one(query, "mac"))
    if mac is None:
        raise BadParameter("mac is not a MAC address")
    return mac


# The registered gw_ids, one set per portal application (in production, per process).
_known: weakref.WeakKeyDictionary[web.Application, store.KnownGateways] = (
    weakref.WeakKeyDictionary()
)


def known_gateways(app: web.Application) -> store.KnownGateways:
    known = _known.get(app)
    if known is None:
        known = _known[app] = store.KnownGateways()
    return known


async def wifidog_gateway(request: web.Request, gw_id: str) -> tuple[Router, stores.StorePortal]:
    """The router `gw_id` names and its store's portal (cached), if it runs a WiFiDog gateway.
    A gw_id no WiFiDog router has is refused without a query (a flood of random ones too)."""
    if not _GW_ID.match(gw_id):
        raise NotWifidogGateway(f"gw_id {gw_id[:64]!r} is not a router id")
    if not await known_gateways(request.app).may_exist(request.app[DB], gw_id):
        raise NotWifidogGateway(f"no wifidog router {gw_id!r}")
    router, portal = await stores.store_gateway(request.app[DB], gw_id)
    if router.gateway != "wifidog":
        raise NotWifidogGateway(f"router {gw_id} runs {router.gateway}, not wifidog")
    return router, portal


# -- login/: the shopper's splash and the token ----------------------------------------------


def client_from_query(query: MultiMapping[str]) -> store.WifidogClient:
    """The client a login/ redirect names (http_callback_404, src/http.c)."""
    if not query.getall("mac", []):
        raise NoClientMac("login redirect without mac")
    gw_address = ip_param(query, "gw_address")  # wifidog's GatewayAddress is an IP address
    port = one(query, "gw_port", limit=5)
    if not re.fullmatch(r"[0-9]{1,5}", port) or not 0 < int(port) < 65536:
        raise BadParameter("gw_port is not a port number")
    url = one(query, "url", required=False, limit=MAX_URL)
    return store.WifidogClient(gw_address, int(port), mac_param(query), ip_param(query, "ip"), url)


def ticket(secret_key: str, router_id: str, client: store.WifidogClient) -> str:
    """The splash form's hidden field: `router.payload.sig`, the redirect's client signed so
    that a post cannot alter it (router ids have no dots)."""
    fields = {
        "a": client.gw_address,
        "p": str(client.gw_port),
        "m": client.mac,
        "i": client.ip,
        "u": client.url,
    }
    payload = base64.urlsafe_b64encode(urlencode(fields).encode()).decode().rstrip("=")
    return f"{router_id}.{payload}.{_ticket_sig(secret_key, router_id, payload)}"


def _ticket_sig(secret_key: str, router_id: str, payload: str) -> str:
    message = f"wifidog-ticket|{router_id}|{payload}".encode()
    return hmac.new(secret_key.encode(), message, hashlib.sha256).hexdigest()[:32]


def read_ticket(secret_key: str, value: str) -> tuple[str, store.WifidogClient]:
    """The router id and client of a ticket we signed; anything else is a bad redirect."""
    router_id, _, rest = value.partition(".")
    payload, _, sig = rest.partition(".")
    expected = _ticket_sig(secret_key, router_id, payload)
    if not sig or not hmac.compare_digest(sig.encode(), expected.encode()):
        raise BadRedirect("wifidog ticket signature does not match")
    padded = payload + "=" * (-len(payload) % 4)
    fields = dict(parse_qsl(base64.urlsafe_b64decode(padded).decode()))
    client = store.WifidogClient(
        fields["a"], int(fields["p"]), fields["m"], fields["i"], fields.get("u", "")
    )
    return router_id, client


def _visit(
    request: web.Request, router: Router, portal: stores.StorePortal, client: store.WifidogClient
) -> stores.Visit:
    """The openNDS-neutral shape the splash renders (a WiFiDog client has no hid)."""
    fas_client = FasClient(
        hid="",
        client_ip=client.ip,
        client_mac=client.mac,
        gateway_address=f"{client.gw_address}:{client.gw_port}",
        gateway_mac=None,
        gateway_name=portal.brand_name,
        origin_url=safe_origin_url(client.url),
        client_type="wifidog",
        fields={},
    )
    secret = request.app[SETTINGS].secret_key
    device = device_hash(secret, str(router.merchant_id), client.mac)
    return stores.Visit(router, portal, fas_client, device)


def _actions(router: Router, client: store.WifidogClient, lang: str) -> tuple[str, str, str]:
    query = {
        "gw_address": client.gw_address,
        "gw_port": client.gw_port,
        "gw_id": router.router_id,
        "ip": client.ip,
        "mac": client.mac,
        "url": client.url,
        "lang": views.other_language(lang),
    }
    return (f"{PREFIX}login/", f"{PREFIX}coupon", f"{PREFIX}login/?{urlencode(query)}")


@routes.get(PREFIX + "login/", name="wifidog_login")
@routes.get(PREFIX + "login", name="wifidog_login_no_slash")
async def login_page(request: web.Request) -> web.Response:
    lang = views.language(request)
    router, portal = await wifidog_gateway(request, one(request.query, "gw_id"))
    await stores.check_in_service(request.app[DB], router)
    client = client_from_query(request.query)
    raw = ticket(request.app[SETTINGS].secret_key, router.router_id, client)
    visit = _visit(request, router, portal, client)
    found = None
    if portal.returning_days:  # returning shoppers let through: one query (else none)
        found = await returning.recognise(request.app[DB], visit)
    actions = _actions(router, client, lang)
    return await views._splash(
        request,
        visit,
        raw,
        lang,
        actions=actions,
        method_base=METHOD_BASE,
        welcome_back=found is not None,
        identity=found.identity_hash if found else None,
    )


async def _posted(
    request: web.Request,
) -> tuple[dict[str, str], str, Router, stores.StorePortal, store.WifidogClient]:
    form = await views._read_form(request)
    lang = views.language(request, form.get("lang"))
    router_id, client = read_ticket(request.app[SETTINGS].secret_key, form.get("fas", ""))
    router, portal = await wifidog_gateway(request, router_id)
    await stores.check_in_service(request.app[DB], router)
    return form, lang, router, portal, client


async def wifidog_arrival(request: web.Request) -> logins.Arrival:
    """A form posted from a WiFiDog splash (`/wifidog/…`) as the login seam sees it."""
    form, lang, router, portal, client = await _posted(request)
    visit = _visit(request, router, portal, client)
    carried = form.get("fas", "")

    async def admit(admission: grants.Admission) -> web.Response:
        # WiFiDog asks us for the grant: a token carrying the admission, then the gateway.
        token = await store.issue_token(request.app[DB], router, client, admission)
        host = client.gw_address if ":" not in client.gw_address else f"[{client.gw_address}]"
        # The gateway's own handler is always /wifidog/auth (gateway.c registers it so).
        raise web.HTTPFound(f"http://{host}:{client.gw_port}/wifidog/auth?token={token}")

    async def splash(
        *, error: str | None = None, status: int = 200, coupon_code: str | None = None
    ) -> web.Response:
        actions = _actions(router, client, lang)
        return await views._splash(
            request,
            visit,
            carried,
            lang,
            error=error,
            status=status,
            coupon_code=coupon_code,
            actions=actions,
            method_base=METHOD_BASE,
        )

    return logins.Arrival(visit, carried, lang, form, METHOD_BASE, admit, splash)


@routes.post(PREFIX + "login/", name="wifidog_connect")
async def connect(request: web.Request) -> web.Response:
    """Connect on the splash: the click-through rules, then a token and the gateway's auth."""
    arrival = await wifidog_arrival(request)
    try:
        accepted = arrival.form.get("accept") == "1"
        admission = logins.click_through(arrival.visit, accepted_terms=accepted)
    except logins.TermsRequired as exc:
        return await arrival.splash(error=exc.message_id, status=400)
    return await arrival.admit(admission)


@routes.post(PREFIX + "coupon", name="wifidog_coupon")
async def claim_coupon(request: web.Request) -> web.Response:
    form, lang, router, portal, client = await _posted(request)
    visit = _visit(request, router, portal, client)
    claim = await views.claim_posted_coupon(request, visit, form, lang)
    actions = _actions(router, client, lang)
    raw = form.get("fas", "")
    return await views._splash(
        request, visit, raw, lang, coupon_code=claim.code, actions=actions, method_base=METHOD_BASE
    )


# -- auth/: the gateway asks -----------------------------------------------------------------


def auth_reply(code: int, message: str, status: int = 200) -> web.Response:
    """`Auth: N` as auth_server_request() reads it (strstr, then sscanf "Auth: %d")."""
    return web.Response(text=f"Auth: {code}\nMessages: {message}\n", status=status)


def _counter(query: MultiMapping[str], name: str, apfree_name: str) -> int:
    value = one(query, name, required=False, limit=20) or one(
        query, apfree_name, required=False, limit=20
    )
    if not value:
        return 0
    if not _COUNTER.match(value) or int(value) > 2**63 - 1:
        raise BadParameter(f"{name} is not a byte count")
    return int(value)


@routes.get(PREFIX + "auth/", name="wifidog_auth")
@routes.get(PREFIX + "auth", name="wifidog_auth_no_slash")
async def auth(request: web.Request) -> web.Response:
    q = request.query
    try:
        stage = one(q, "stage", limit=16)
        if stage not in STAGES:
            raise BadParameter(f"unknown stage {stage!r}")
        router, portal = await wifidog_gateway(request, one(q, "gw_id"))
        token, mac, ip = one(q, "token"), mac_param(q), ip_param(q, "ip")
        incoming, outgoing = (
            _counter(q, "incoming", "incoming_bytes"),
            _counter(q, "outgoing", "outgoing_bytes"),
        )
    except stores.UnknownGateway as exc:
        unknown_gateway_log.warning("wifidog auth from an unknown gateway: %s", exc.detail)
        return auth_reply(AUTH_DENIED, "unknown gw_id", 403)
    except BadParameter as exc:
        # Never let a client through on a request we cannot read; leave an online one alone.
        code = AUTH_DENIED if q.get("stage") == "login" else AUTH_ERROR
        return auth_reply(code, exc.detail, 400)
    if not _TOKEN.match(token):
        return auth_reply(AUTH_DENIED, "unknown token")
    db = request.app[DB]
    if stage == "login":
        secret = request.app[SETTINGS].secret_key
        on_events = request.app.get(SHOPPER_EVENTS)
        result = await store.use_token(db, secret, router, portal, token, mac, ip, on_events)
        if isinstance(result, uuid.UUID):
            return auth_reply(AUTH_ALLOWED, "welcome")
        if result == "used" and await _own_live_session(db, router, token, mac, ip):
            # The same phone at its gateway's /wifidog/auth?token= again (a reload, the back
            # button): its session goes on. The token still starts no second session, and is
            # nobody else's: a used token is single-use, not a way to cut a shopper off.
            return auth_reply(AUTH_ALLOWED, "session goes on")
        log.info("wifidog login refused at %s: %s", router.router_id, result)
        return auth_reply(AUTH_DENIED, f"token {result}")
    return await _counters_or_logout(
        request, stage, router, portal, token, mac, ip, incoming, outgoing
    )


async def _own_live_session(
    db: asyncpg.Pool, router: Router, token: str, mac: str, ip: str
) -> bool:
    session = await store.token_session(db, router, token)
    return (
        session is not None
        and session.client_mac == mac
        and session.client_ip == ip
        and session.active
        and not session.expired
    )


async def _counters_or_logout(
    request: web.Request,
    stage: str,
    router: Router,
    portal: stores.StorePortal,
    token: str,
    mac: str,
    ip: str,
    incoming: int,
    outgoing: int,
) -> web.Response:
    db = request.app[DB]
    session = await store.token_session(db, router, token)
    if session is None:
        return auth_reply(AUTH_DENIED, "unknown token")
    if session.client_mac != mac or session.client_ip != ip:
        return auth_reply(AUTH_DENIED, "token is another client's")
    if not session.active:
        return auth_reply(AUTH_DENIED, "session ended")
    try:
        await store.usage_writer(db).record(
            router.merchant_id, session.session_id, incoming, outgoing
        )
    except store.UsageNotRecorded as exc:
        return auth_reply(AUTH_ERROR, exc.detail, 503)
    end = _end_of(stage, portal, session, incoming, outgoing)
    if end is not None:
        reason, message = end
        if not await store.end_session(db, router, token, session.session_id, reason):
            if reason == "expired":  # extended meanwhile (its cached copy is gone now)
                return auth_reply(AUTH_ALLOWED, "ok")
            return auth_reply(AUTH_DENIED, "session ended")
        log.info(
            "wifidog session %s at %s ended: %s", session.session_id, router.router_id, message
        )
        return auth_reply(AUTH_DENIED, message)
    return auth_reply(AUTH_ALLOWED, "ok")


def _end_of(
    stage: str,
    portal: stores.StorePortal,
    session: store.TokenSession,
    incoming: int,
    outgoing: int,
) -> tuple[str, str] | None:
    """Why a counters or logout report ends the session (end_reason, message), or None.

    The gateway sends `stage=logout` when it dropped the client itself: its own idle timeout
    (CheckInterval x ClientTimeout without traffic) or the shopper at its logout URL
    (logout_client, src/firewall.c and src/http.c): we cannot tell which, so 'gateway'. The
    session's own end and quota (its admission's, else the store's) are ours to enforce: the
    gateway only kicks a client on `Auth: 0` (fw_sync_with_authserver)."""
    if stage == "logout":
        return "gateway", "logged out at the gateway"
    if session.expired:
        return "expired", "session expired"
    if store.over_quota(portal, session, incoming, outgoing):
        return "quota", "data quota used up"
    return None


# -- ping/ -----------------------------------------------------------------------------------

PING_FIELDS = {
    "sys_uptime": int,
    "sys_memfree": int,
    "sys_load": float,
    "wifidog_uptime": int,
}


@routes.get(PREFIX + "ping/", name="wifidog_ping")
@routes.get(PREFIX + "ping", name="wifidog_ping_no_slash")
async def ping(request: web.Request) -> web.Response:
    q = request.query
    try:
        router, _portal = await wifidog_gateway(request, one(q, "gw_id"))
        status: dict[str, object] = {"gateway": "wifidog"}
        for name, kind in PING_FIELDS.items():
            value = one(q, name, required=False, limit=24)
            if value:
                status[name] = kind(value)
    except stores.UnknownGateway as exc:
        # No Pong: the gateway marks this auth server down (ping(), src/ping_thread.c).
        return web.Response(text=f"unknown gw_id: {exc.detail}\n", status=404)
    except (BadParameter, ValueError) as exc:
        return web.Response(text=f"bad ping: {exc}\n", status=400)
    liveness.ping_recorder(request.app[DB]).note(router, status)
    return web.Response(text="Pong")


# -- portal/ and gw_message.php: pages for the shopper ---------------------------------------


@routes.get(PREFIX + "portal/", name="wifidog_portal")
@routes.get(PREFIX + "portal", name="wifidog_portal_no_slash")
async def portal_page(request: web.Request) -> web.Response:
    """After `Auth: 1` the gateway sends the browser here (authenticate_client, src/auth.c)."""
    lang = views.language(request)
    q = request.query
    router, portal = await wifidog_gateway(request, one(q, "gw_id"))
    token = one(q, "token")
    db = request.app[DB]
    session = await store.token_session(db, router, token) if _TOKEN.match(token) else None
    if session is None:
        raise online.BadOnlineLink(f"no wifidog session for that token at {router.router_id}")
    status = await online.session_status(
        db,
        router.merchant_id,
        router.router_id,
        session.session_id,
        lang,
        console_url=request.app[SETTINGS].console_url,
        # Marketing's offers (the composition root's hooks), as on openNDS's online page; their
        # coupon is claimed on the splash of an openNDS router only (no form here yet).
        offers=request.app.get(OFFERS),
    )
    if status is None:
        raise online.BadOnlineLink(f"session {session.session_id} is not {router.router_id}'s")
    switch = urlencode(
        {"gw_id": router.router_id, "token": token, "lang": views.other_language(lang)}
    )
    logout_form = None
    fields = {"gw_id": router.router_id, "token": token, "lang": lang}
    if status.active:
        logout_form = (request.app.router["wifidog_logout"].url_for().path, fields)
    extend_path = request.app.router["wifidog_extend"].url_for().path
    next_url = safe_origin_url(portal.landing_url or session.origin_url)
    # The wallet (portal/wallet_views.py) under the session's signed online link, as openNDS's.
    online_link = online.online_link_for(
        request.app[SETTINGS].secret_key, router.router_id, str(session.session_id), next_url, lang
    )
    return views._online_page(
        request,
        lang,
        portal=portal,
        session=status,
        next_url=next_url,
        switch_url=f"{request.path}?{switch}",
        logout_form=logout_form,
        extend_form=online.extend_form(status, extend_path, fields),
        extended=q.get("extended") == "1",
        wallet_url=online_link.replace("/online?", "/wallet?", 1),
        opt_out_form=(request.app.router["wifidog_opt_out"].url_for().path, fields),
    )


@dataclass(frozen=True)
class _PostedSession:
    lang: str
    router: Router
    portal: stores.StorePortal
    token: str
    session: store.TokenSession


async def _posted_session(request: web.Request) -> _PostedSession:
    """The WiFiDog session a portal page's form (Extend, Log out) names: its gw_id and token,
    the token being the shopper's capability; a bad one is BadOnlineLink."""
    if request.content_length and request.content_length > views.MAX_FORM_BYTES:
        raise BadParameter("form too large")
    form = await request.post()
    lang = views.language(request, str(form.get("lang", "")) or None)
    router, portal = await wifidog_gateway(request, one(form, "gw_id"))  # type: ignore[arg-type]
    token = one(form, "token")  # type: ignore[arg-type]
    session = (
        await store.token_session(request.app[DB], router, token) if _TOKEN.match(token) else None
    )
    if session is None:
        raise online.BadOnlineLink(f"no wifidog session for that token at {router.router_id}")
    return _PostedSession(lang, router, portal, token, session)


@routes.post(PREFIX + "extend", name="wifidog_extend")
async def extend(request: web.Request) -> web.Response:
    """Extend from the portal page (portal/online.py `extend`): the form posts back the page's
    gw_id and token, as Log out does. The gateway needs no command: it asks us at every
    counters report, and the session's new end is in our records (and the token's cached
    session is dropped here, so this process answers by the new end at once)."""
    p = await _posted_session(request)
    await online.extend(
        request.app[DB], request.app[SENDER], p.router, p.portal, p.session.session_id
    )
    store.forget(p.router, p.token)
    query = urlencode(
        {"gw_id": p.router.router_id, "token": p.token, "lang": p.lang, "extended": "1"}
    )
    raise web.HTTPSeeOther(f"{request.app.router['wifidog_portal'].url_for().path}?{query}")


@routes.post(PREFIX + "opt-out", name="wifidog_opt_out")
async def opt_out_of_offers(request: web.Request) -> web.Response:
    """ "No more offers" from the portal page (portal/opt_out.py): the form posts back the page's
    gw_id and token, as Log out does; then the portal page again, which says it is done."""
    p = await _posted_session(request)
    db = request.app[DB]
    await opt_out.opt_out(
        db, p.router.merchant_id, p.session.session_id, request.app.get(SHOPPER_EVENTS)
    )
    query = urlencode({"gw_id": p.router.router_id, "token": p.token, "lang": p.lang})
    raise web.HTTPSeeOther(f"{request.app.router['wifidog_portal'].url_for().path}?{query}")


@routes.post(PREFIX + "logout", name="wifidog_logout")
async def log_out(request: web.Request) -> web.Response:
    """Log out from the portal page. The form posts back the page's gw_id and token (the token
    is the shopper's capability, as on the page itself). A WiFiDog gateway takes no command
    from an auth server: the session ends here, and the gateway drops the client when its next
    counters report is answered `Auth: 0` (fw_sync_with_authserver, src/firewall.c, every
    CheckInterval: 60 s by default)."""
    p = await _posted_session(request)
    router = p.router
    if await store.log_out(request.app[DB], router, p.token, p.session.session_id):
        log.info(
            "wifidog session %s at %s ended: logged out", p.session.session_id, router.router_id
        )
    switch = urlencode(
        {"gw_id": router.router_id, "token": p.token, "lang": views.other_language(p.lang)}
    )
    return views._online_page(
        request,
        p.lang,
        portal=p.portal,
        switch_url=f"{request.app.router['wifidog_portal'].url_for().path}?{switch}",
        logged_out=True,
        logged_out_text="logged_out_text_wifidog",
    )


@routes.get(PREFIX + "gw_message.php", name="wifidog_message")
@routes.get(PREFIX + "gw_message", name="wifidog_message_apfree")
async def gateway_message(request: web.Request) -> web.Response:
    lang = views.language(request)
    message = one(request.query, "message", limit=32)
    if message not in MESSAGES:
        raise UnknownMessage(f"message {message!r}")
    query = {k: v for k, v in request.query.items() if k != "lang"}
    switch = f"{request.path}?{urlencode({**query, 'lang': views.other_language(lang)})}"
    return render(
        request,
        "portal/wifidog_message.html",
        status=403 if message == "denied" else 200,
        _=translator(CATALOG, lang),
        lang=lang,
        message=message,
        switch_url=switch,
    )
