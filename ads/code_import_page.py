"""The console's page for an imported pool's codes, /till/import: an owner picks one of the
merchant's coupons with an imported pool and uploads a text or CSV file of the merchant's own
POS codes (ads/code_import.py): all are added, or none, and every problem is listed with its
line number. Staff may look; only owners upload.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from accounts import audit
from accounts import services as accounts
from accounts.web import NotYours, choose_membership, login_required, render_page, request_language
from ads import code_import
from ads.services import UnknownCoupon, queries
from kernel.errors import PorticoError
from kernel.web import DB

PATH = "/till/import"
OWNER = "owner"


class ImportOwnersOnly(PorticoError):
    message_id = "import_owners_only"
    status = 403


class NoFile(PorticoError):
    message_id = "import_no_file"
    status = 400


@dataclass(frozen=True)
class Pool:
    coupon_id: uuid.UUID
    title: str
    codes: int
    available: int


async def import_page(request: web.Request, session: accounts.ConsoleSession) -> web.Response:
    merchant = await _merchant(request, session, request.query)
    added = request.query.get("added", "")
    return await _render(request, merchant, added=int(added) if added.isdigit() else None)


async def import_posted(request: web.Request, session: accounts.ConsoleSession) -> web.Response:
    form = await request.post()  # at most the console's request size: aiohttp's 413
    merchant = await _merchant(request, session, form)
    if merchant.role != OWNER:
        raise ImportOwnersOnly(f"{session.user.user_id} is not an owner")
    try:
        coupon_id = uuid.UUID(str(form.get("coupon", "")))
    except ValueError:
        raise UnknownCoupon("not a coupon id") from None
    upload = form.get("file")
    if upload is None or isinstance(upload, str):
        raise NoFile("no file in the form")
    data = upload.file.read(code_import.MAX_BYTES + 1)
    try:
        async with request.app[DB].acquire() as conn:
            added = await code_import.import_codes(
                conn,
                merchant.merchant_id,
                coupon_id,
                data,
                actor=audit.Actor.user(session.user.user_id),
            )
    except (code_import.ImportRefused, code_import.ImportUnreadable) as exc:
        return await _render(request, merchant, error=exc, chosen=coupon_id)
    query = f"merchant={merchant.merchant_id}&added={added}&coupon={coupon_id}"
    raise web.HTTPSeeOther(f"{PATH}?{query}")


async def _merchant(
    request: web.Request, session: accounts.ConsoleSession, values: Mapping[str, Any]
) -> accounts.Membership:
    memberships = await accounts.memberships_of(request.app[DB], session.user.user_id)
    merchant = choose_membership(memberships, str(values.get("merchant") or "") or None)
    if merchant is None:
        raise NotYours("the user belongs to no merchant")
    return merchant


async def _render(
    request: web.Request,
    merchant: accounts.Membership,
    *,
    added: int | None = None,
    error: code_import.ImportRefused | code_import.ImportUnreadable | None = None,
    chosen: uuid.UUID | None = None,
) -> web.Response:
    zh = request_language(request) == "zh-CN"
    rows = await request.app[DB].fetch(queries.imported_pools, merchant.merchant_id)
    pools = [
        Pool(r["coupon_id"], r["title_zh"] if zh else r["title_en"], r["codes"], r["available"])
        for r in rows
    ]
    return render_page(
        request,
        "ads/code_import.html",
        status=error.status if error else 200,
        path=PATH,
        merchant=merchant,
        owner=merchant.role == OWNER,
        pools=pools,
        added=added,
        error=error,
        problems=error.problems if isinstance(error, code_import.ImportRefused) else [],
        more=error.more if isinstance(error, code_import.ImportRefused) else 0,
        chosen=str(chosen or request.query.get("coupon", "")),
        max_codes=code_import.MAX_CODES,
        max_kb=code_import.MAX_BYTES // 1000,
    )


def add_routes(router: web.UrlDispatcher) -> None:
    """The import page on the console (the composition root calls this)."""
    router.add_get(PATH, login_required(import_page), name="coupon_import")
    router.add_post(PATH, login_required(import_posted), name="coupon_import_post")
