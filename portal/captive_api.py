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

`bytes-remaining` is omitted: openNDS routers report no usage counters to us yet, so the data
left is unknown (the store's quota is what the session started with, not what is left).
"""

from __future__ import annotations

import json
import uuid
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from kernel.web import DB, SETTINGS
from portal import online, services

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


def _venue_info(portal: services.StorePortal) -> dict[str, str]:
    """The merchant's page as venue-info-url, when it is an https URL (RFC 8908 §5)."""
    url = portal.landing_url
    return {"venue-info-url": url} if urlsplit(url).scheme == "https" else {}


@routes.get("/captive-api/{router_id}", name="captive_api_network")
async def network_state(request: web.Request) -> web.Response:
    """The per-network answer behind DHCP option 114: captive until a login (see module doc)."""
    try:
        _router, portal = await services.store_gateway(
            request.app[DB], request.match_info["router_id"]
        )
    except services.UnknownGateway:
        return _not_found("unknown network")
    return captive_response({"captive": True, **_venue_info(portal)})


@routes.get("/captive-api/{router_id}/session", name="captive_api_session")
async def session_state(request: web.Request) -> web.Response:
    """The per-client answer, for the holder of a session's signed online link."""
    try:
        router, portal = await services.store_gateway(
            request.app[DB], request.match_info["router_id"]
        )
    except services.UnknownGateway:
        return _not_found("unknown network")
    return await session_answer(request, router.router_id, router.merchant_id, portal)


async def session_answer(
    request: web.Request,
    router_id: str,
    merchant_id: uuid.UUID,
    portal: services.StorePortal,
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
    row = await request.app[DB].fetchrow(online.queries.session_api_status, merchant_id, sid)
    if row is None or row["router_id"] != router_id:
        return _not_found("link not valid")
    lang = q.get("lang", "")
    lang = lang if lang in ("en", "zh-CN") else "en"
    page = online.online_link_for(secret, router_id, session_id, next_url, lang)
    body: dict[str, Any] = {
        "captive": not row["active"],
        "user-portal-url": request.app[SETTINGS].portal_url + page,
        **_venue_info(portal),
    }
    if row["active"]:
        body["seconds-remaining"] = row["seconds_left"]
        body["can-extend-session"] = False  # no way to extend yet: a new login after the end
    return captive_response(body)
