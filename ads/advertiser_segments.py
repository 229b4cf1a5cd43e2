"""The advertiser console's Segments page, /advertiser/segments (docs/marketing.md, "Segments"):
the segments the merchants an advertiser works with share with advertisers, each with its
names, and its size only when it is at least that merchant's k-threshold ("fewer than k"
otherwise). Never a profile, a key or who matches.

The merchants an advertiser works with (`related_merchants`): each merchant that approved one of
its campaigns and blocks neither it nor the campaign's category, and its own merchant. A request
still pending, or refused, shows nothing: sharing is with the advertisers the merchant accepted.

The segments come from marketing (`marketing.services.shared_segments`, which applies the
k-threshold), wired by the composition root into SEGMENTS (portico/console_app.py), so ads
never imports marketing; without it the page lists the merchants and no segments.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import asyncpg
from aiohttp import web

from accounts import services as accounts
from accounts.web import login_required, render_page
from ads.advertiser_pages import PATH as ADVERTISER_PATH
from ads.advertiser_pages import advertiser_place
from kernel.sql import load_queries
from kernel.web import DB

queries = load_queries(__file__, "advertiser_segments.sql")

PATH = ADVERTISER_PATH + "/segments"


class SharedSegment(Protocol):
    """What an advertiser may see of a merchant's segment (marketing.services.SharedSegment)."""

    @property
    def segment_id(self) -> uuid.UUID: ...
    @property
    def name_zh(self) -> str: ...
    @property
    def name_en(self) -> str: ...
    @property
    def size(self) -> int | None: ...  # None: fewer shoppers than k
    @property
    def k(self) -> int: ...


@dataclass(frozen=True)
class SegmentHooks:
    """Where the page's segments come from: `shared(db, merchant_id)`, the merchant's segments
    shared with advertisers, counts under its k-threshold already left out."""

    shared: Callable[[asyncpg.Pool, uuid.UUID], Awaitable[Sequence[SharedSegment]]]


SEGMENTS = web.AppKey("advertiser_segments", SegmentHooks)  # set by the composition root


async def related_merchants(db: asyncpg.Pool, advertiser_id: uuid.UUID) -> list[uuid.UUID]:
    """The merchants the advertiser works with (the module's docstring)."""
    return [r["merchant_id"] for r in await db.fetch(queries.related_merchants, advertiser_id)]


@dataclass(frozen=True)
class Venue:
    merchant_id: uuid.UUID
    name: str
    segments: Sequence[SharedSegment]


async def segments_page(request: web.Request, session: accounts.ConsoleSession) -> web.Response:
    place = await advertiser_place(request, session, request.query)
    db = request.app[DB]
    merchants = await related_merchants(db, place.advertiser.advertiser_id)
    names = await accounts.merchant_names(db, merchants)
    hooks = request.app.get(SEGMENTS)
    venues = [
        Venue(m, names[m], await hooks.shared(db, m) if hooks else [])
        for m in sorted(names, key=lambda m: (names[m], m))
    ]
    return render_page(
        request, "ads/advertiser_segments.html", place=place, path=ADVERTISER_PATH, venues=venues
    )


def add_routes(router: web.UrlDispatcher) -> None:
    """The advertiser's Segments page (the composition root calls this)."""
    router.add_get(PATH, login_required(segments_page), name="advertiser_segments")
