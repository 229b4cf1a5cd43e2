"""The console's SMS outbox page, /sms-outbox: what the development SMS provider kept instead
of sending (portal/sms.py, OutboxProvider), newest first, a page at a time. Every member of a
merchant, owner or staff, may look at that merchant's outbox; numbers are only ever shown
masked (the sealed number stays in the table). Texts are deleted after 24 hours
(portal/retention.py).

A shopper's reply to a text ("T" to opt out of marketing texts) reaches Portico only through
Alibaba Cloud's push (portal/sms_inbound.py). While the SMS provider is the outbox (development),
an owner may record a reply to an outbox text as its shopper would send it ("Simulate reply",
POST /sms-outbox/reply): it goes through the push's own handling, `sms_inbound.handle_replies`,
as a reply from the text's number (so an opt-out word ends that number's marketing-SMS consent
at every merchant, told to marketing), and the page says what became of it. The typed reply is
not kept. With a real provider there is nothing to simulate: the form is not shown and the
post is a 404.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from aiohttp import web
from multidict import MultiDictProxy

from accounts import services as accounts
from accounts.web import choose_membership, login_required, redirect, render_page
from kernel.errors import PorticoError
from kernel.shopper_events import SHOPPER_EVENTS
from kernel.web import DB, SETTINGS
from portal import sms, sms_inbound

PATH = "/sms-outbox"
REPLY_PATH = "/sms-outbox/reply"
PAGE_SIZE = 50
MAX_PAGE = 1000
MAX_REPLY = 160  # characters of a simulated reply: one text message
OWNER = "owner"
REPLIED = ("opt_out", "other")  # what the page says of a simulated reply
_WHOLE = re.compile(r"[0-9]{1,4}")


class NotYourMerchant(PorticoError):
    message_id = "error_not_found"
    status = 404


class OwnersOnly(PorticoError):
    message_id = "sms_outbox_error_owner_only"
    status = 403


@dataclass(frozen=True)
class OutboxRow:
    when: str  # in the merchant's stores' time zone
    masked: str
    body: str
    message_id: str


@dataclass(frozen=True)
class ReplyError:
    """A simulated reply that could not be read, shown beside its row's field."""

    message_id: str  # the outbox text it answered
    typed: str  # as typed (cut short), to type again


async def outbox_page(request: web.Request, session: accounts.ConsoleSession) -> web.Response:
    replied = request.query.get("replied", "")
    ended = request.query.get("ended", "")
    return await _render(
        request,
        session,
        request.query.get("merchant"),
        _page_number(request.query.get("page")),
        replied=replied if replied in REPLIED else "",
        ended=int(ended) if _WHOLE.fullmatch(ended) else 0,
    )


async def _render(
    request: web.Request,
    session: accounts.ConsoleSession,
    asked: str | None,
    page: int,
    *,
    replied: str = "",
    ended: int = 0,
    error: ReplyError | None = None,
    status: int = 200,
) -> web.Response:
    db = request.app[DB]
    memberships = await accounts.memberships_of(db, session.user.user_id)
    merchant = choose_membership(memberships, asked)
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
                str(r["message_id"]),
            )
            for r in found[:PAGE_SIZE]
        ]
    live = request.app[SETTINGS].sms_provider != "outbox"
    return render_page(
        request,
        "portal/console_sms_outbox.html",
        status,
        memberships=memberships,
        merchant=merchant,
        rows=rows,
        page=page,
        has_older=has_older,
        zone=zone_name,
        live=live,
        can_reply=not live and merchant is not None and merchant.role == OWNER,
        reply_path=REPLY_PATH,
        max_reply=MAX_REPLY,
        replied=replied,
        ended=ended,
        error=error,
        path=PATH,
    )


async def simulate_reply(request: web.Request, session: accounts.ConsoleSession) -> web.Response:
    """An owner's simulated reply to an outbox text: handled as Alibaba Cloud's push of that
    reply would be, then the page again saying what became of it (a reply that cannot be read:
    the page, 400, with the error beside its field)."""
    settings = request.app[SETTINGS]
    if settings.sms_provider != "outbox":
        raise NotYourMerchant("no simulated replies: texts go out through a real provider")
    form = await request.post()
    db = request.app[DB]
    memberships = await accounts.memberships_of(db, session.user.user_id)
    merchant = choose_membership(memberships, _field(form, "merchant"))
    if merchant is None:
        raise NotYourMerchant(f"user {session.user.user_id} belongs to no merchant")
    if merchant.role != OWNER:
        raise OwnersOnly(f"{session.user.user_id} is not an owner of {merchant.merchant_id}")
    page = _page_number(_field(form, "page") or None)
    message_id = _uuid(_field(form, "message"))
    phone = await sms.outbox_phone(db, settings.secret_key, merchant.merchant_id, message_id)
    if phone is None:
        raise NotYourMerchant(f"no text {message_id} in the outbox of {merchant.merchant_id}")
    typed = _field(form, "reply")
    reply = typed.strip()
    if not reply or len(reply) > MAX_REPLY:
        error = ReplyError(str(message_id), typed[: MAX_REPLY + 20])
        return await _render(
            request, session, str(merchant.merchant_id), page, error=error, status=400
        )
    ended = await sms_inbound.handle_replies(
        db, settings.secret_key, [(phone, reply)], request.app.get(SHOPPER_EVENTS)
    )
    params = {
        "merchant": str(merchant.merchant_id),
        "page": str(page),
        "replied": "opt_out" if sms_inbound.is_opt_out(reply) else "other",
        "ended": str(ended),
    }
    return redirect(f"{PATH}?{urlencode(params)}#sms-replied")


def _field(form: MultiDictProxy[Any], name: str) -> str:
    value = form.get(name, "")
    return value if isinstance(value, str) else ""


def _uuid(text: str) -> uuid.UUID:
    try:
        return uuid.UUID(text)
    except ValueError:
        raise NotYourMerchant(f"outbox text {text[:40]!r} is not an id") from None


def _page_number(text: str | None) -> int:
    if not text:
        return 1
    # isdigit() alone lets "²" through to int(): ASCII digits only, and few of them.
    if not re.fullmatch(r"[0-9]{1,6}", text) or not 1 <= int(text) <= MAX_PAGE:
        raise NotYourMerchant(f"page {text[:20]!r}")
    return int(text)


def add_routes(router: web.UrlDispatcher) -> None:
    """The SMS outbox page and its simulated replies on the console (the composition root
    calls this)."""
    router.add_get(PATH, login_required(outbox_page), name="sms_outbox")
    router.add_post(REPLY_PATH, login_required(simulate_reply), name="sms_outbox_reply")
