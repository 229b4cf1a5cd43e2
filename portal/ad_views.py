"""The splash ad's tracking (docs/ad-decision.md): its file, fetched with the placement's signed
token (an image's fetch is its impression), a video's beacon after its countdown, and the
click's redirect to the creative's landing URL.

Every report names its placement by the token the splash was rendered with (ads/tracking.py).
A report without a valid token, from a robot's user agent or at an impossible time is not
counted, and the refusal is (per merchant and day when the token is valid, in this process's
counter otherwise). The click goes to the landing URL of the creative in the index, never to a
URL from the request: no open redirect.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import Counter

from aiohttp import web

import ads.services as ads
from kernel.cache import TtlCache
from kernel.web import DB, SECURITY_HEADERS, SETTINGS

log = logging.getLogger("portico.portal.ad_views")
routes = web.RouteTableDef()

# Refusals of reports whose token did not check (no merchant to count them at).
unsigned_refusals: Counter[str] = Counter()
# Images only (at most 5 MB each: ads/creative_media.py); videos are read in ranges.
_images: TtlCache[tuple[uuid.UUID, uuid.UUID], tuple[str, bytes] | None] = TtlCache(60.0, 200)
_GIF = bytes.fromhex(
    "47494638396101000100800000000000ffffff21f90401000000002c000000000100010000020144003b"
)

# Plays the splash's video and, once its countdown has run, reports it shown (a script from
# 'self': the pages' Content-Security-Policy allows no inline script).
COUNTDOWN_JS = """(function () {
  var v = document.querySelector("video[data-seen]");
  if (!v) return;
  var left = parseInt(v.getAttribute("data-countdown"), 10) || 0, sent = false;
  function tick() {
    if (sent || v.paused) return;
    if (v.currentTime >= left) { sent = true; new Image().src = v.getAttribute("data-seen"); }
  }
  v.addEventListener("timeupdate", tick);
})();
"""


def _placement(request: web.Request) -> ads.Placement | None:
    return ads.read_placement(request.app[SETTINGS].secret_key, request.match_info["token"])


async def _report(
    request: web.Request, p: ads.Placement | None, kind: str, countdown: int = 0
) -> str:
    """Count one impression or click: its outcome (counted, duplicate, capped, goal_reached) or
    why it was refused (unsigned, expired, bot, too_fast)."""
    db = request.app[DB]
    ua = request.headers.get("User-Agent", "")
    why = ads.report_refusal(p, ua, time.time(), kind=kind, countdown_seconds=countdown)
    if why is not None:
        if p is None:
            unsigned_refusals[why] += 1
        else:
            await ads.count_report_refusal(db, p.merchant_id, why)
        log.debug("ad %s report refused: %s", kind, why)
        return why
    assert p is not None
    return await ads.count_report(db, p, kind)


async def _content(request: web.Request, p: ads.Placement) -> ads.Content | None:
    return await ads.placed_content(request.app[DB], p)


@routes.get("/ad/show/{token}", name="ad_show")
async def ad_show(request: web.Request) -> web.Response:
    """The placement's file. An image fetched is shown: its impression is counted."""
    p = _placement(request)
    content = await _content(request, p) if p else None
    if p is None or content is None:
        unsigned_refusals["unsigned" if p is None else "unknown"] += 1
        raise web.HTTPNotFound()
    db = request.app[DB]
    if content.kind == "video":
        # Its impression is the beacon after the countdown (ad_seen). Served as every stored
        # file is, in the byte ranges phones' players (iOS above all) ask for.
        return await ads.creative_file_response(db, content.advertiser_id, content.file_id, request)
    key = (content.advertiser_id, content.file_id)

    async def read() -> tuple[str, bytes] | None:
        return await ads.creative_file(db, *key)

    file = await _images.get_or_load(key, read)
    if file is None:
        raise web.HTTPNotFound()
    await _report(request, p, "impression")
    content_type, body = file
    headers = {**SECURITY_HEADERS, "Cache-Control": "no-store"}  # each view is one impression
    return web.Response(body=body, content_type=content_type, headers=headers)


@routes.get("/ad/seen/{token}", name="ad_seen")
async def ad_seen(request: web.Request) -> web.Response:
    """A video's report, sent by the page once its countdown has run (a 1×1 GIF)."""
    p = _placement(request)
    content = await _content(request, p) if p else None
    if p is not None and content is None:
        unsigned_refusals["unknown"] += 1  # no longer in the index: its countdown is unknown
    else:
        await _report(request, p, "impression", content.countdown_seconds if content else 0)
    headers = {**SECURITY_HEADERS, "Cache-Control": "no-store"}
    return web.Response(body=_GIF, content_type="image/gif", headers=headers)


@routes.get("/ad/go/{token}", name="ad_go")
async def ad_go(request: web.Request) -> web.Response:
    """The click: counted, then on to the creative's landing URL (from the index, http/https
    only). A token that does not check goes nowhere."""
    p = _placement(request)
    content = await _content(request, p) if p else None
    url = content.landing_url if content else None
    if p is None or url is None or not url.startswith(("https://", "http://")):
        unsigned_refusals["unsigned" if p is None else "unknown"] += 1
        raise web.HTTPNotFound()
    await _report(request, p, "click")
    raise web.HTTPFound(
        url, headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
    )


@routes.get("/ad/countdown.js", name="ad_countdown_js")
async def countdown_js(request: web.Request) -> web.Response:
    headers = {**SECURITY_HEADERS, "Cache-Control": "public, max-age=3600"}
    return web.Response(text=COUNTDOWN_JS, content_type="text/javascript", headers=headers)


async def count_pending(app: web.Application) -> None:
    """At shutdown: the ghost impressions decided but not yet counted are counted first."""
    await ads.reports_settled()
