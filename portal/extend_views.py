"""Extend on an openNDS session's online page (portal/online.py `extend`).

The form posts the page's signed link back, as Log out does (the captive browser keeps no
cookie; the link is the capability), and the answer is a redirect to the same page with
`extended=1` (post, redirect, get: reloading the page does not extend again). WiFiDog's twin
is `/wifidog/extend` (portal/wifidog.py).
"""

from __future__ import annotations

import logging

from aiohttp import web

from kernel.web import DB, SETTINGS
from portal import online, stores, views
from portal.keys import SENDER

log = logging.getLogger("portico.portal.views")
routes = web.RouteTableDef()


@routes.post("/fas/{router_id}/extend", name="session_extend")
async def session_extend(request: web.Request) -> web.Response:
    form = await views._read_form(request)
    lang = views.language(request, form.get("lang"))
    router, portal = await stores.store_gateway(request.app[DB], request.match_info["router_id"])
    session_id, next_url, sig = form.get("s", ""), form.get("next", ""), form.get("sig", "")
    sid = views._signed_session(request, router.router_id, session_id, next_url, sig)
    fields = {"s": session_id, "next": next_url, "sig": sig, "lang": lang}
    request[views.RETRY_FORM] = (request.path, fields)
    await online.extend(request.app[DB], request.app[SENDER], router, portal, sid)
    secret = request.app[SETTINGS].secret_key
    link = online.online_link_for(secret, router.router_id, session_id, next_url, lang)
    raise web.HTTPSeeOther(f"{link}&extended=1")
