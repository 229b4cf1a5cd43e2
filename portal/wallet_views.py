"""The shopper's wallet: the coupons a shopper holds at the merchant (and those used,
expired or voided lately), each with its code, QR code, title, end and state.

Reached from the session's online page, through the same signed link (the captive
mini-browser keeps no cookies: the link, `s`, `next` and `sig`, is the capability, as for
Log out and Extend). Whoever may open the online page, which shows the held coupons already,
may open the wallet; nothing else. No JavaScript, no other host: QR codes are data: URIs.
"""

from __future__ import annotations

from urllib.parse import urlencode

from aiohttp import web

import ads.services as ads
from kernel.i18n import translator
from kernel.web import DB, SETTINGS, render
from portal import online, sessions, stores, views
from portal.messages import CATALOG
from portal.qr import coupon_qr

routes = web.RouteTableDef()


def wallet_link(router_id: str, query: dict[str, str]) -> str:
    """The wallet's path from the online page's signed query (`s`, `next`, `sig`, `lang`)."""
    fields = {k: query.get(k, "") for k in ("s", "next", "sig", "lang")}
    return f"/fas/{router_id}/wallet?{urlencode(fields)}"


@routes.get("/fas/{router_id}/wallet", name="wallet")
async def wallet_page(request: web.Request) -> web.Response:
    lang = views.language(request)
    db = request.app[DB]
    router, portal = await stores.store_gateway(db, request.match_info["router_id"])
    q = request.query
    session_id, next_url, sig = q.get("s", ""), q.get("next", ""), q.get("sig", "")
    sid = views._signed_session(request, router.router_id, session_id, next_url, sig)
    live = await sessions.live_session(db, router, portal, sid)
    if live is None:
        raise online.BadOnlineLink(f"no session {session_id} at router {router.router_id}")
    held = await ads.wallet(db, router.merchant_id, live.device_hash, lang)
    console_url = request.app[SETTINGS].console_url
    secret = request.app[SETTINGS].secret_key
    other = views.other_language(lang)
    return render(
        request,
        "portal/wallet.html",
        _=translator(CATALOG, lang),
        lang=lang,
        brand=portal.brand_name,
        brand_color=portal.brand_color,
        coupons=[(c, coupon_qr(console_url, c.code) if c.usable else "") for c in held],
        back_url=online.online_link_for(secret, router.router_id, session_id, next_url, lang),
        switch_url=wallet_link(router.router_id, {**q, "lang": other}),
    )  # no-store, no referrer, the CSP: kernel/web.py
