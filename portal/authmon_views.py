"""HTTP edge of openNDS FAS level 3: authmon's polls and the shopper's "connecting" page.

authmon requests the router's fas_url, which is `/fas/<router id>/`: a POST from
post-request.php (php-cli on the router) or a GET with `auth_get=` from libopennds.sh
wget_request (portal/views.py's splash hands those here). Answers are plain text for a shell
script; a request the portal does not serve gets a 4xx and `ERROR: <why>`.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping

from aiohttp import web

from kernel.errors import PorticoError
from kernel.i18n import negotiate, translator
from kernel.shopper_events import SHOPPER_EVENTS
from kernel.web import DB, SETTINGS, render
from portal import authmon, grants, liveness, online, stores
from portal.fas import safe_origin_url
from portal.messages import CATALOG

log = logging.getLogger("portico.portal.authmon")
routes = web.RouteTableDef()

MAX_POLL_BYTES = 16 * 1024
REFRESH_SECONDS = 2


async def answer_poll(request: web.Request, params: Mapping[str, str]) -> web.Response:
    router_id = request.match_info["router_id"]
    try:
        router, _portal = await stores.store_gateway(request.app[DB], router_id)
    except stores.UnknownGateway:
        log.warning("authmon poll for unknown router %r refused", router_id[:64])
        return _refusal(403, f"router {router_id[:64]} is not registered")
    try:
        body = await authmon.answer(
            request.app[DB],
            router,
            authmon.parse_poll(params),
            request.app.get(SHOPPER_EVENTS),
        )
    except authmon.AuthmonRefused as exc:
        log.warning("authmon poll from %s refused: %s", router_id, exc.detail)
        return _refusal(exc.status, str(exc.detail))
    # A poll that passed the gatewayhash check: openNDS on that router reaches us.
    liveness.authmon_recorder(request.app[DB]).note(router, {})
    return web.Response(text=body, content_type="text/plain")


def _refusal(status: int, why: str) -> web.Response:
    return web.Response(status=status, text=f"ERROR: {why}", content_type="text/plain")


@routes.post("/fas/{router_id}/", name="authmon_poll")
async def authmon_poll(request: web.Request) -> web.Response:
    """post-request.php: `auth_get`, `gatewayhash`, `payload` form-encoded in the body."""
    if request.content_length is None or request.content_length > MAX_POLL_BYTES:
        return _refusal(400, "a poll needs a Content-Length under 16 KiB")
    form = await request.post()
    params = {k: v for k, v in form.items() if isinstance(v, str)}
    return await answer_poll(request, params)


def connecting_link(
    secret_key: str, visit: stores.Visit, session_id: uuid.UUID, next_url: str, lang: str
) -> str:
    """The signed "connecting" page of a grant waiting for authmon (same signature as the
    online page it turns into)."""
    link = online.online_link(secret_key, visit, session_id, next_url, lang)
    return link.replace("/online?", "/connecting?", 1)


@routes.get("/fas/{router_id}/connecting", name="authmon_connecting")
async def connecting(request: web.Request) -> web.Response:
    """Refreshes itself until authmon acks the grant, then goes on to the online page."""
    lang = negotiate(request.headers.get("Accept-Language"), request.query.get("lang"))
    db = request.app[DB]
    router, portal = await stores.store_gateway(db, request.match_info["router_id"])
    q = request.query
    session_id, next_url, sig = q.get("s", ""), q.get("next", ""), q.get("sig", "")
    if not online.link_is_ours(
        request.app[SETTINGS].secret_key, router.router_id, session_id, next_url, sig
    ):
        raise online.BadOnlineLink("connecting link signature does not match")
    sid = uuid.UUID(session_id)  # signed by us, so a uuid
    console_url = request.app[SETTINGS].console_url
    if await online.session_status(
        db, router.merchant_id, router.router_id, sid, lang, console_url=console_url
    ):
        raise web.HTTPSeeOther(f"/fas/{router.router_id}/online?{request.rel_url.raw_query_string}")
    state = await authmon.grant_state(db, router, sid)
    if state is None or (not state.waiting and not state.offered):
        raise grants.GrantFailed(f"authmon did not fetch grant {sid} in time")
    if not state.waiting:
        raise GrantUnconfirmed(f"authmon took grant {sid} {state.offered} times, never acked")
    response = render(
        request,
        "portal/connecting.html",
        _=translator(CATALOG, lang),
        lang=lang,
        brand=portal.brand_name,
        brand_color=portal.brand_color,
        refresh_seconds=REFRESH_SECONDS,
        refresh_url=str(request.rel_url),
        maybe_online=state.maybe_online,
        next_url=safe_origin_url(next_url) if state.maybe_online else "",
    )
    return response


class GrantUnconfirmed(PorticoError):
    """authmon took the grant and never said it was done: the shopper may be online (its ack
    lost) or not (openNDS refused every try). No session is recorded; the page says both."""

    message_id = "error_grant_unconfirmed"
    title_id = "unconfirmed_title"
    status = 504
