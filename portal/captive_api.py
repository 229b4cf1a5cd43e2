"""RFC 8908 Captive Portal API, served by the portal (docs/captive-api.md).

Two URIs, because the portal cannot see which phone asks: every phone behind a router reaches
the portal through the router's NAT address, and the URI installers put in DHCP option 114
(RFC 8910) is the same for every phone on the network.

- `/captive-api/<router>`: the per-network URI for option 114. It can only say what is true of
  the network: it is captive until a login; no user-portal-url (a login starts from openNDS's
  own redirect, which carries the phone's token; the phone's captive-portal probe gets it).
- the session's signed online link (`/fas/<router>/online?s=&next=&sig=`) asked with
  `Accept: application/captive+json`, or the same query on `/captive-api/<router>/session`:
  the per-client answer, `captive: false` with the seconds left while the session lasts.

The per-client answer follows the session's policy as its router holds it (portal/sessions.py):
`seconds-remaining` counts to the session's end (extensions included); `bytes-remaining` is
there when a data quota applies and the router reported the client's use (our agent's `usage`
telemetry, a WiFiDog gateway's counters): RFC 8908 counts sent and received bytes together,
the quotas count each direction, so it is the smaller of what is left of the two (the bytes the
client may move in any mix before it is captive again); `can-extend-session` is true exactly
when the online page offers Extend (the store allows extensions, the session has not had all
of them, its gateway can take one).
"""

from __future__ import annotations

import json
import uuid
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from kernel.web import DB, SETTINGS
from portal import online, sessions, stores

CAPTIVE_JSON = "application/captive+json"
routes = web.RouteTableDef()


def wants_captive_json(request: web.Request) -> bool:
    accept = request.headers.get("Accept", "")
    return any(part.split(";")[0].strip() == CAPTIVE_JSON for part in accept.split(","))


def captive_response(body: dict[str, Any], status: int = 200) -> web.Response:
    # JSON is UTF-8 by definition (RFC 8259): no charset parameter on the media type.
    payload = json.dumps(body, separators=(",", ":")).encode()
    response = web.Response(body=payload, status=status, content_type=CAPTIVE_JSON)
    response.headers["Cache-Control"] = "private"  # per client (RFC 8908 §5)
    return response


def _not_found(reason: str) -> web.Response:
    # Not an RFC 8908 state: a plain JSON error a client will not mistake for one.
    response = web.json_response({"error": reason}, status=404)
    response.headers["Cache-Control"] = "private"
    return response


def _venue_info(portal: stores.StorePortal) -> dict[str, str]:
    """The merchant's page as venue-info-url, when it is an https URL (RFC 8908 §5)."""
    url = portal.landing_url
    return {"venue-info-url": url} if urlsplit(url).scheme == "https" else {}


@routes.get("/captive-api/{router_id}", name="captive_api_network")
async def network_state(request: web.Request) -> web.Response:
    """The per-network answer behind DHCP option 114: captive until a login (see module doc)."""
    try:
        _router, portal = await stores.store_gateway(
            request.app[DB], request.match_info["router_id"]
        )
    except stores.UnknownGateway:
        return _not_found("unknown network")
    return captive_response({"captive": True, **_venue_info(portal)})


@routes.get("/captive-api/{router_id}/session", name="captive_api_session")
async def session_state(request: web.Request) -> web.Response:
    """The per-client answer, for the holder of a session's signed online link."""
    try:
        router, portal = await stores.store_gateway(
            request.app[DB], request.match_info["router_id"]
        )
    except stores.UnknownGateway:
        return _not_found("unknown network")
    return await session_answer(request, router.router_id, router.merchant_id, portal)


async def session_answer(
    request: web.Request,
    router_id: str,
    merchant_id: uuid.UUID,
    portal: stores.StorePortal,
) -> web.Response:
    q = request.query
    session_id, next_url, sig = q.get("s", ""), q.get("next", ""), q.get("sig", "")
    secret = request.app[SETTINGS].secret_key
    if not online.link_is_ours(secret, router_id, session_id, next_url, sig):
        return _not_found("link not valid")
    try:
        sid = uuid.UUID(session_id)
    except ValueError:
        return _not_found("link not valid")
    router, portal = await stores.store_gateway(request.app[DB], router_id)
    if router.merchant_id != merchant_id:
        return _not_found("link not valid")
    live = await sessions.live_session(request.app[DB], router, portal, sid)
    if live is None:
        return _not_found("link not valid")
    lang = q.get("lang", "")
    lang = lang if lang in ("en", "zh-CN") else "en"
    page = online.online_link_for(secret, router_id, session_id, next_url, lang)
    body: dict[str, Any] = {
        "captive": not live.active,
        "user-portal-url": request.app[SETTINGS].portal_url + page,
        **_venue_info(portal),
    }
    if live.active:
        body["seconds-remaining"] = live.seconds_left
        if live.bytes_left is not None:
            body["bytes-remaining"] = live.bytes_left
        body["can-extend-session"] = live.can_extend
    return captive_response(body)
