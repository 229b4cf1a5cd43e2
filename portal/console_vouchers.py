"""The console's Vouchers pages (docs/logins.md, "Vouchers"): a merchant's voucher batches with
how many codes are used, a form to create a batch, a batch's codes with revoke buttons, and its
printable sheet as HTML (made to print on A4) and as PDF (portal/voucher_sheet.py).

Every member of the merchant may look and print (staff hand vouchers out at the desk); only an
owner creates or revokes. A merchant or batch that is not the user's is a 404. Forms carry the
console's CSRF token (accounts.web checks it on every POST).

The pages render through the console's layout (accounts/base.html) with the console's catalog
and this module's texts (portal/messages_vouchers.py CONSOLE) over it, so that the composition
root only mounts the routes.

A new batch's printable sheet is made in the background as soon as the batch is created
(`warm_sheet`: its QR codes, and its PDF in the creator's language, into portal/voucher_sheet.py's
caches), so that the merchant's first view of a large batch does not wait for it; a view asked
for while that is under way waits for it rather than doing it again. At most WARM_AT_ONCE
sheets are made at once in a process; a batch created beyond that is not warmed (its first
view makes its sheet, as before). A failure is logged and leaves the batch as created. The
caches are the process's own: a view served by another process makes the sheet itself.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
import uuid
from collections import ChainMap
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from time import monotonic
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import asyncpg
from aiohttp import web
from multidict import MultiDictProxy

from accounts import audit
from accounts import services as accounts
from accounts.web import (
    CATALOG,
    LANG_COOKIE,
    NAV,
    SESSION,
    ConsoleNav,
    language_links,
    login_required,
    redirect,
    request_language,
)
from kernel.errors import PorticoError
from kernel.i18n import LANGUAGES, translator
from kernel.web import DB, Handler, make_templates
from portal import voucher_sheet, vouchers
from portal.messages_vouchers import CONSOLE

log = logging.getLogger("portico.portal.vouchers")

PATH = "/vouchers"
OWNER = "owner"
DEFAULT_TIMEZONE = "Asia/Shanghai"  # a merchant without a store yet (accounts' default)
_WHOLE = re.compile(r"^\d{1,12}$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_SHOWN = 100  # characters of a typed value shown back in its field

_templates = make_templates("portal", "accounts")  # these pages, and the console's layout


class OwnersOnly(PorticoError):
    message_id = "vch_error_owner_only"
    status = 403


class NoMerchant(PorticoError):
    message_id = "vch_error_no_merchant"
    status = 404


def add_routes(router: web.UrlDispatcher) -> None:
    """The pages (portico/console_app.py calls this)."""
    resource = router.add_resource(PATH, name="vouchers")
    resource.add_route("GET", _page_handler(vouchers_page))
    resource.add_route("POST", _page_handler(create_batch))
    router.add_get(PATH + "/{batch_id}", _page_handler(batch_page), name="voucher_batch")
    router.add_post(PATH + "/{batch_id}/revoke", _page_handler(revoke), name="voucher_revoke")
    router.add_get(PATH + "/{batch_id}/sheet", _page_handler(sheet_page), name="voucher_sheet")
    router.add_get(PATH + "/{batch_id}/sheet.pdf", _page_handler(sheet_pdf), name="voucher_pdf")


# -- rendering in the console's layout -----------------------------------------------------------

Page = Callable[[web.Request, accounts.ConsoleSession], Awaitable[web.StreamResponse]]


def _translator(request: web.Request) -> Callable[..., str]:
    return translator(ChainMap(CONSOLE, request.app[CATALOG]), request_language(request))


def render(
    request: web.Request, template: str, status: int = 200, **context: object
) -> web.Response:
    """accounts.web.render_page for templates and texts of this module."""
    session = request.get(SESSION)
    text = _templates.get_template(template).render(
        _=_translator(request),
        lang=request_language(request),
        language_links=language_links(request),
        session=session,
        nav=request.get(NAV) or ConsoleNav(),
        csrf_token=session.csrf_token if session else "",
        request_path=request.path,
        **context,
    )
    response = web.Response(text=text, status=status, content_type="text/html", charset="utf-8")
    response.headers["Cache-Control"] = "no-store"
    if request.query.get("lang") in LANGUAGES:  # remembered, as render_page does
        response.set_cookie(
            LANG_COOKIE,
            request_language(request),
            max_age=365 * 86400,
            httponly=True,
            samesite="Lax",
        )
    return response


def _page_handler(page: Page) -> Handler:
    """Signed-in users only; this module's errors as a page with this module's texts."""

    async def handler(request: web.Request, session: accounts.ConsoleSession) -> web.StreamResponse:
        try:
            return await page(request, session)
        except (OwnersOnly, NoMerchant, vouchers.BadBatch) as exc:
            return render(
                request, "accounts/error.html", exc.status, message_id=exc.message_id, values={}
            )

    return login_required(handler)


# -- whose vouchers -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Place:
    """The merchant the page is about, one of the user's memberships, and its stores."""

    membership: accounts.Membership
    memberships: list[accounts.Membership]
    stores: list[accounts.Store]

    @property
    def merchant_id(self) -> uuid.UUID:
        return self.membership.merchant_id

    @property
    def owner(self) -> bool:
        return self.membership.role == OWNER

    def sees(self, batch: vouchers.Batch) -> bool:
        """A batch for one of the place's stores, or for any store of the merchant."""
        return batch.store_id is None or self.store(batch.store_id) is not None

    def store(self, store_id: uuid.UUID | None) -> accounts.Store | None:
        return next((s for s in self.stores if s.store_id == store_id), None)

    def timezone(self, store_id: uuid.UUID | None) -> ZoneInfo:
        """The store's zone; for an all-stores batch, the merchant's first store's."""
        store = self.store(store_id) or (self.stores[0] if self.stores else None)
        return ZoneInfo(store.timezone if store else DEFAULT_TIMEZONE)

    def url(self, path: str = PATH, **more: str) -> str:
        return f"{path}?{urlencode({'merchant': str(self.merchant_id), **more})}"


def _uuid_or_404(text: str) -> uuid.UUID:
    try:
        return uuid.UUID(text)
    except ValueError:
        raise web.HTTPNotFound() from None


async def find_place(request: web.Request, session: accounts.ConsoleSession) -> Place:
    db = request.app[DB]
    memberships = await accounts.memberships_of(db, session.user.user_id)
    if not memberships:
        raise NoMerchant(f"user {session.user.user_id} belongs to no merchant")
    membership = memberships[0]
    named = request.query.get("merchant", "")
    if named:
        merchant_id = _uuid_or_404(named)
        membership = next((m for m in memberships if m.merchant_id == merchant_id), None)
        if membership is None:
            raise web.HTTPNotFound()
    # Staff see their given stores only (an owner, every store).
    stores = await accounts.visible_stores(db, membership.merchant_id, session.user.user_id)
    return Place(membership, memberships, stores)


async def find_batch(request: web.Request, place: Place) -> vouchers.Batch:
    batch_id = _uuid_or_404(request.match_info["batch_id"])
    batch = await vouchers.get_batch(request.app[DB], place.merchant_id, batch_id)
    if batch is None or not place.sees(batch):
        raise web.HTTPNotFound()
    return batch


def require_owner(place: Place) -> None:
    if not place.owner:
        raise OwnersOnly(f"a {place.membership.role} may not change vouchers")


# -- how a batch reads ---------------------------------------------------------------------------


def duration(_: Callable[..., str], minutes: int) -> str:
    days, rest = divmod(minutes, 1440)
    if days and not rest:
        return _("vch_one_day") if days == 1 else _("vch_days", d=days)
    hours, mins = divmod(minutes, 60)
    if hours and mins:
        return _("vch_hours_minutes", h=hours, m=mins)
    return _("vch_hours", h=hours) if hours else _("vch_min", m=mins)


def data_limit(_: Callable[..., str], quota_kb: int) -> str:
    if not quota_kb:
        return _("vch_unlimited")
    mb = quota_kb // 1024
    if mb >= 1024 and mb % 1024 == 0:
        return _("vch_gb", gb=mb // 1024)
    return _("vch_mb", mb=mb)


def devices(_: Callable[..., str], max_devices: int) -> str:
    return _("vch_one_device") if max_devices == 1 else _("vch_up_to_devices", n=max_devices)


def last_day(valid_until: datetime | None, zone: ZoneInfo) -> date | None:
    """The last day a new device may start: valid_until is the midnight that ends it."""
    if valid_until is None:
        return None
    return (valid_until.astimezone(zone) - timedelta(microseconds=1)).date()


@dataclass(frozen=True)
class BatchView:
    """A batch as the pages show it, in the user's language and the store's time."""

    batch: vouchers.Batch
    store: str  # its name, or "" for all stores
    duration: str
    data: str
    devices: str
    valid_until: str  # YYYY-MM-DD, or the text for no end
    created: str


def batch_view(_: Callable[..., str], place: Place, batch: vouchers.Batch) -> BatchView:
    zone = place.timezone(batch.store_id)
    store = place.store(batch.store_id)
    day = last_day(batch.valid_until, zone)
    return BatchView(
        batch,
        store.name if store else ("" if batch.store_id is None else "?"),
        duration(_, batch.minutes),
        data_limit(_, batch.quota_kb),
        devices(_, batch.max_devices),
        day.isoformat() if day else _("vch_no_end"),
        batch.created_at.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
    )


# -- the list and the new-batch form ------------------------------------------------------------

Error = vouchers.Error


@dataclass
class Submitted:
    """The new-batch form as typed (shown again) and each bad field's error."""

    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, Error] = field(default_factory=dict)


DEFAULTS = {"name": "", "store": "all", "minutes": "120", "quota_mb": "0", "max_devices": "1"}
DEFAULTS |= {"valid_until": "", "count": "20"}


async def vouchers_page(request: web.Request, session: accounts.ConsoleSession) -> web.Response:
    place = await find_place(request, session)
    return await _list(request, place, Submitted(dict(DEFAULTS)))


async def _list(
    request: web.Request, place: Place, submitted: Submitted, status: int = 200
) -> web.Response:
    _ = _translator(request)
    batches = await vouchers.list_batches(request.app[DB], place.merchant_id)
    return render(
        request,
        "portal/console_vouchers.html",
        status,
        place=place,
        batches=[batch_view(_, place, b) for b in batches if place.sees(b)],
        form=submitted,
    )


def _text(form: MultiDictProxy[Any], name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def _whole(text: str, name: str, errors: dict[str, Error]) -> int:
    """The number typed (0 when it is not one: the error says so)."""
    if not text:
        errors[name] = ("vch_error_required", {})
    elif not _WHOLE.match(text):
        errors[name] = ("vch_error_whole_number", {})
    else:
        return int(text)
    return 0


def read_batch_form(
    form: MultiDictProxy[Any], place: Place, now: datetime
) -> tuple[vouchers.BatchSpec | None, Submitted]:
    """The batch the form asks for, or None and the errors to show beside its fields."""
    submitted = Submitted({name: _text(form, name)[:_SHOWN] for name in DEFAULTS})
    values, errors = submitted.values, submitted.errors
    store_id: uuid.UUID | None = None
    if values["store"] != "all":
        try:
            store_id = uuid.UUID(values["store"])
        except ValueError:
            store_id = None
        if store_id is None or place.store(store_id) is None:
            errors["store"] = ("vch_error_store", {})
    numbers = {n: _whole(values[n], n, errors) for n in ("minutes", "quota_mb", "max_devices")}
    count = _whole(values["count"], "count", errors)
    valid_until = None
    if values["valid_until"]:
        day = _date(values["valid_until"])
        if day is None:
            errors["valid_until"] = ("vch_error_date", {})
        else:  # the end of that day, store time
            zone = place.timezone(store_id)
            valid_until = datetime.combine(day + timedelta(days=1), time(), zone)
    spec = vouchers.BatchSpec(
        name=values["name"],
        store_id=store_id,
        minutes=numbers["minutes"],
        quota_kb=numbers["quota_mb"] * 1024,
        max_devices=numbers["max_devices"],
        valid_until=valid_until,
        count=count,
    )
    for name, error in vouchers.batch_errors(spec, now).items():
        errors.setdefault(name, error)
    return (None if errors else spec), submitted


def _date(text: str) -> date | None:
    if not _DATE.match(text):
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        return None
    return day if date(2000, 1, 1) <= day <= date(9000, 1, 1) else None


async def create_batch(request: web.Request, session: accounts.ConsoleSession) -> web.Response:
    place = await find_place(request, session)
    require_owner(place)
    form = await request.post()
    spec, submitted = read_batch_form(form, place, datetime.now(UTC))
    if spec is None:
        return await _list(request, place, submitted, status=400)
    store = place.store(spec.store_id)  # None: any of the merchant's stores
    batch_id = await vouchers.create_batch(
        request.app[DB],
        place.merchant_id,
        spec,
        created_by=session.user.user_id,
        now=datetime.now(UTC),
        store_name=store.name if store else "",
    )
    warm_sheet(request, place, batch_id)
    return redirect(place.url(f"{PATH}/{batch_id}", created="1"))


# -- one batch ----------------------------------------------------------------------------------

Notice = tuple[str, str, dict[str, object]]  # (ok or error, message id, its fields)


async def batch_page(request: web.Request, session: accounts.ConsoleSession) -> web.Response:
    place = await find_place(request, session)
    batch = await find_batch(request, place)
    notice: Notice | None = None
    if request.query.get("created") == "1":
        notice = ("ok", "vch_created", {"count": batch.total})
    return await _batch(request, place, batch, notice)


async def _batch(
    request: web.Request,
    place: Place,
    batch: vouchers.Batch,
    notice: Notice | None,
    status: int = 200,
) -> web.Response:
    _ = _translator(request)
    codes = await vouchers.codes_of_batch(request.app[DB], place.merchant_id, batch.batch_id)
    zone = place.timezone(batch.store_id)
    return render(
        request,
        "portal/console_voucher_batch.html",
        status,
        place=place,
        view=batch_view(_, place, batch),
        codes=codes,
        first_used={
            v.code: v.first_used_at.astimezone(zone).strftime("%Y-%m-%d %H:%M")
            for v in codes
            if v.first_used_at
        },
        notice=notice,
    )


async def revoke(request: web.Request, session: accounts.ConsoleSession) -> web.Response:
    """Revoke the code named in the form, or with none named the whole batch; the answer is
    the batch page saying what was done."""
    place = await find_place(request, session)
    batch = await find_batch(request, place)
    require_owner(place)
    db = request.app[DB]
    code = _text(await request.post(), "code")
    actor = audit.Actor.user(session.user.user_id)
    notice: Notice
    if code:
        try:
            normal = vouchers.normalize_code(code)
        except vouchers.VoucherRefused:
            normal = ""
        if normal and await vouchers.revoke_code(
            db, place.merchant_id, batch.batch_id, normal, actor=actor
        ):
            notice = ("ok", "vch_revoked_code", {"code": vouchers.format_code(normal)})
        else:
            notice = ("error", "vch_revoke_none", {})
    else:
        count = await vouchers.revoke_batch(db, place.merchant_id, batch.batch_id, actor=actor)
        notice = ("ok", "vch_revoked_batch", {"count": count})
    batch = await find_batch(request, place)  # its counts after the change
    return await _batch(request, place, batch, notice)


# -- the printable sheet -----------------------------------------------------------------------


async def _sheet(
    request: web.Request, session: accounts.ConsoleSession, lang: str, *, pdf: bool
) -> tuple[voucher_sheet.Sheet, Place]:
    place = await find_place(request, session)
    batch = await find_batch(request, place)
    await sheet_warmed(batch.batch_id, pdf=pdf)  # being made ahead: not made twice at once
    return await sheet_of(request.app[DB], request.app[CATALOG], place, batch, lang), place


async def sheet_of(
    db: asyncpg.Pool,
    catalog: Mapping[str, Mapping[str, str]],
    place: Place,
    batch: vouchers.Batch,
    lang: str,
) -> voucher_sheet.Sheet:
    """The batch's printable sheet in `lang`, its live codes only."""
    _ = translator(ChainMap(CONSOLE, catalog), lang)
    view = batch_view(_, place, batch)
    brand = ""
    if batch.store_id is not None:
        brand = await vouchers.brand_of_store(db, place.merchant_id, batch.store_id)
    codes = await vouchers.codes_of_batch(db, place.merchant_id, batch.batch_id)
    return voucher_sheet.Sheet(
        title=batch.name,
        brand=brand or view.store or place.membership.merchant_name,
        lang=lang,
        codes=tuple(v.code for v in codes if v.revoked_at is None),
        facts=voucher_sheet.Facts(
            card=_("vch_sheet_card"),
            how=_("vch_sheet_how"),
            duration=(_("vch_duration"), f"{view.duration} ({_('vch_sheet_from_first_use')})"),
            data=(_("vch_data"), view.data),
            devices=(_("vch_devices"), view.devices),
            valid_until=(_("vch_valid"), view.valid_until),
        ),
    )


def pdf_language(lang: str, font: tuple[Path, int] | None) -> str:
    """The PDF's language: the console's, but English without a CJK font on the machine
    (portal/voucher_sheet.py)."""
    return lang if font else "en"


async def sheet_page(request: web.Request, session: accounts.ConsoleSession) -> web.Response:
    sheet, place = await _sheet(request, session, request_language(request), pdf=False)
    # A QR code a card, about 3 ms each the first time: a large batch is drawn off the event loop.
    cards = await asyncio.to_thread(voucher_sheet.html_cards, sheet)
    return render(
        request,
        "portal/voucher_sheet.html",
        sheet=sheet,
        cards=cards,
        pdf_url=place.url(f"{request.path}.pdf", lang=sheet.lang),
        back_url=place.url(request.path.removesuffix("/sheet")),
    )


async def sheet_pdf(request: web.Request, session: accounts.ConsoleSession) -> web.Response:
    font = voucher_sheet.cjk_font()
    lang = pdf_language(request_language(request), font)
    sheet, _place = await _sheet(request, session, lang, pdf=True)
    # Laying out a large batch takes a moment of CPU (once; then it is kept): off the event loop.
    body = await asyncio.to_thread(voucher_sheet.pdf, sheet, font)
    name = re.sub(r"[^A-Za-z0-9_-]+", "-", sheet.title).strip("-") or "vouchers"
    return web.Response(
        body=body,
        content_type="application/pdf",
        headers={
            "Content-Disposition": f'inline; filename="vouchers-{name[:40]}.pdf"',
            "Cache-Control": "no-store",
        },
    )


# -- a new batch's sheet, made ahead -------------------------------------------------------------

WARM_AT_ONCE = 2  # sheets made ahead at once in a process (each is a second or two of CPU)


@dataclass
class _Making:
    """A sheet being made ahead: its task, and `codes` set once its QR codes are made (all the
    HTML sheet needs; the PDF comes after)."""

    task: asyncio.Task[None]
    codes: asyncio.Event


# The sheets being made ahead, by batch: the process keeps its tasks here until they end.
_warming: dict[uuid.UUID, _Making] = {}


def warm_sheet(request: web.Request, place: Place, batch_id: uuid.UUID) -> None:
    """Make the new batch's sheet in the background (its QR codes, then its PDF in the
    request's language), unless WARM_AT_ONCE sheets are being made already. Nothing of it
    reaches the creation: the task logs its end, or its failure."""
    if len(_warming) >= WARM_AT_ONCE:
        log.info(
            "voucher batch %s: its sheet is not made ahead, %d sheets are being made already",
            batch_id,
            len(_warming),
        )
        return
    codes = asyncio.Event()
    lang = request_language(request)
    made = _warm(request.app[DB], request.app[CATALOG], place, batch_id, lang, codes)
    task = asyncio.create_task(made, name=f"voucher-sheet-{batch_id}")
    _warming[batch_id] = _Making(task, codes)
    task.add_done_callback(functools.partial(_warmed, batch_id))


async def _warm(
    db: asyncpg.Pool,
    catalog: Mapping[str, Mapping[str, str]],
    place: Place,
    batch_id: uuid.UUID,
    lang: str,
    codes: asyncio.Event,
) -> None:
    started = monotonic()
    batch = await vouchers.get_batch(db, place.merchant_id, batch_id)
    if batch is None:
        raise LookupError(f"merchant {place.merchant_id} has no voucher batch {batch_id}")
    font = voucher_sheet.cjk_font()
    sheet = await sheet_of(db, catalog, place, batch, pdf_language(lang, font))
    await asyncio.to_thread(voucher_sheet.html_cards, sheet)  # the QR codes, kept
    codes.set()
    await asyncio.to_thread(voucher_sheet.pdf, sheet, font)  # kept
    log.info(
        "voucher batch %s: its sheet (%d codes, PDF in %s) made ahead in %.2f s",
        batch_id,
        len(sheet.codes),
        sheet.lang,
        monotonic() - started,
    )


def _warmed(batch_id: uuid.UUID, task: asyncio.Task[None]) -> None:
    if (making := _warming.get(batch_id)) is not None and making.task is task:
        del _warming[batch_id]
    if task.cancelled():
        return
    error = task.exception()
    if error is not None:
        log.error(
            "voucher batch %s: its sheet could not be made ahead; its first view makes it",
            batch_id,
            exc_info=error,
        )


async def sheet_warmed(batch_id: uuid.UUID | None = None, *, pdf: bool = True) -> None:
    """Wait until the batch's sheet (None: every sheet) being made ahead is made, or has
    failed (its task logs it); with `pdf` False, until its QR codes are. At once when none
    is being made. A waiter cancelled leaves the making to go on."""
    for made, making in list(_warming.items()):
        if batch_id is not None and made != batch_id:
            continue
        if pdf:
            await asyncio.wait({making.task})
            continue
        codes = asyncio.ensure_future(making.codes.wait())
        try:
            await asyncio.wait({making.task, codes}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            codes.cancel()
