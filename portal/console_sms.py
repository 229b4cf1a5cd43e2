"""The console's SMS outbox page, /sms-outbox: what the development SMS provider kept instead
of sending (portal/sms.py, OutboxProvider), newest first, a page at a time. Every member of a
merchant, owner or staff, may look at that merchant's outbox; numbers are only ever shown
masked (the sealed number stays in the table). Texts are deleted after 24 hours
(portal/retention.py)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from aiohttp import web

from accounts import services as accounts
from accounts.web import choose_membership, login_required, render_page
from kernel.errors import PorticoError
from kernel.web import DB, SETTINGS
from portal import sms

PATH = "/sms-outbox"
PAGE_SIZE = 50
MAX_PAGE = 1000


class NotYourMerchant(PorticoError):
    message_id = "error_not_found"
    status = 404


@dataclass(frozen=True)
class OutboxRow:
    when: str  # in the merchant's stores' time zone
    masked: str
    body: str


async def outbox_page(request: web.Request, session: accounts.ConsoleSession) -> web.Response:
    db = request.app[DB]
    memberships = await accounts.memberships_of(db, session.user.user_id)
    merchant = choose_membership(memberships, request.query.get("merchant"))
    page = _page_number(request.query.get("page"))
    rows: list[OutboxRow] = []
    zone_name, has_older = "UTC", False
    if merchant is not None:
        zone_name = await accounts.merchant_zone(db, merchant.merchant_id)
        zone = ZoneInfo(zone_name)
        found = await sms.outbox_page(
            db, merchant.merchant_id, PAGE_SIZE + 1, (page - 1) * PAGE_SIZE
        )
        has_older = len(found) > PAGE_SIZE
        rows = [
            OutboxRow(
                r["created_at"].astimezone(zone).strftime("%Y-%m-%d %H:%M:%S"),
                r["masked_phone"],
                r["body"],
            )
            for r in found[:PAGE_SIZE]
        ]
    return render_page(
        request,
        "portal/console_sms_outbox.html",
        memberships=memberships,
        merchant=merchant,
        rows=rows,
        page=page,
        has_older=has_older,
        zone=zone_name,
        live=request.app[SETTINGS].sms_provider != "outbox",
        path=PATH,
    )


def _page_number(text: str | None) -> int:
    if not text:
        return 1
    # isdigit() alone lets "²" through to int(): ASCII digits only, and few of them.
    if not re.fullmatch(r"[0-9]{1,6}", text) or not 1 <= int(text) <= MAX_PAGE:
        raise NotYourMerchant(f"page {text[:20]!r}")
    return int(text)


def add_routes(router: web.UrlDispatcher) -> None:
    """The SMS outbox page on the console (the composition root calls this)."""
    router.add_get(PATH, login_required(outbox_page), name="sms_outbox")
