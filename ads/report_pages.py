"""The campaign report pages (docs/ad-reports.md): the advertiser's, in the advertiser console
(/advertiser/campaigns/{id}/report: any member, viewers too), as a page or a CSV of the same
aggregate table; and its JSON form for the advertiser API (/api/advertiser/v1, by the console
session: ads/advertiser_openapi.py). Figures come from ads/reports.py, already suppressed:
nothing here sees a shopper."""

from __future__ import annotations

import csv
import io
import re
import uuid
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from accounts import services as accounts
from accounts.web import (
    CATALOG,
    SESSION,
    NotYours,
    choose_membership,
    login_required,
    render_page,
    request_language,
)
from ads import advertiser_openapi, advertisers, reports
from ads.advertiser_pages import PATH, ZONE, _campaign_id, _place
from kernel.errors import PorticoError
from kernel.i18n import translator
from kernel.web import DB

API = "/api/advertiser/v1"
_DATE = re.compile(advertiser_openapi.DATE_PATTERN.strip("^$"), re.ASCII)
# The API's error codes (ads/advertiser_openapi.py ERRORS) by the console's message ids.
_API_CODES = {
    "rep_error_date": "bad_date",
    "rep_error_window": "bad_window",
    "rep_error_range": "bad_range",
    "error_not_found": "not_found",
}
TIMEZONE = "Asia/Shanghai"  # the advertiser console's days are China's (as its flights)


class BadReportRange(PorticoError):
    message_id = "rep_error_range"
    status = 422  # the dates are dates, but the range cannot be reported


class BadReportWindow(PorticoError):
    message_id = "rep_error_window"
    status = 400


class BadReportDate(PorticoError):
    message_id = "rep_error_date"
    status = 400


def _date(value: Any, default: date) -> date:
    if value is None or value == "":
        return default
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        raise BadReportDate("a date is YYYY-MM-DD")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise BadReportDate(f"not a date: {value[:10]!r}") from None


def report_args(query: Mapping[str, Any], starts_at: datetime) -> tuple[date, date, int]:
    """first, last and window from the query, defaults: the last 30 days of the campaign up
    to today (China time), 7 days. Wrong ones raise a 400 with a clear message."""
    today = datetime.now(ZONE).date()
    last = _date(query.get("last"), today)
    first = _date(query.get("first"), max(starts_at.astimezone(ZONE).date(), last - timedelta(29)))
    raw_window = query.get("window") or str(reports.DEFAULT_WINDOW_DAYS)
    if (
        not isinstance(raw_window, str)
        or not (raw_window.isascii() and raw_window.isdigit())
        or len(raw_window) > 3
    ):
        raise BadReportWindow("the window is a number of days")
    window = int(raw_window)
    try:
        reports.check_range(first, last, window)
    except reports.ReportError as exc:
        if exc.field == "window":
            raise BadReportWindow(str(exc)) from None
        raise BadReportRange(str(exc)) from None
    return first, last, window


async def _report(
    request: web.Request, session: accounts.ConsoleSession
) -> tuple[Any, reports.Report]:
    place = await _place(request, session, request.query)
    campaign_id = _campaign_id(request)
    db = request.app[DB]
    campaign = await db.fetchrow(
        reports.queries.campaign_of_advertiser, place.advertiser.advertiser_id, campaign_id
    )
    if campaign is None:
        raise NotYours(f"campaign {campaign_id} is not the advertiser's")
    first, last, window = report_args(request.query, campaign["starts_at"])
    try:
        report = await reports.campaign_report(
            db,
            place.advertiser.advertiser_id,
            campaign_id,
            first,
            last,
            timezone=TIMEZONE,
            window_days=window,
        )
    except reports.CampaignUnknown as exc:
        raise NotYours(str(exc)) from exc
    return place, report


async def report_page(request: web.Request, session: accounts.ConsoleSession) -> web.Response:
    place, report = await _report(request, session)
    if request.query.get("format") == "csv":
        return csv_response(report)
    db, advertiser_id = request.app[DB], place.advertiser.advertiser_id
    zh = request_language(request) == "zh-CN"
    names: dict[Any, str] = {
        r["line_item_id"]: r["name"]
        for r in await advertisers.list_line_items(db, advertiser_id, report.campaign_id)
    }
    for r in await advertisers.list_creatives(db, advertiser_id, report.campaign_id):
        names[r["creative_id"]] = r["headline_zh"] if zh else r["headline_en"]
    return render_page(
        request,
        "ads/campaign_report.html",
        place=place,
        path=PATH,
        report=report,
        back=f"{PATH}/campaigns/{report.campaign_id}?{place.query()}",
        action=f"{PATH}/campaigns/{report.campaign_id}/report",
        csv_url=f"{PATH}/campaigns/{report.campaign_id}/report?"
        + place.query(
            first=report.first.isoformat(),
            last=report.last.isoformat(),
            window=str(report.window_days),
            format="csv",
        ),
        hidden={"advertiser": str(place.advertiser.advertiser_id)},
        cell=cell_text,
        names=names,
    )


async def report_json(request: web.Request) -> web.Response:
    """The report as JSON for a signed-in member; errors as JSON `{"error": {code, message}}`
    (ads/advertiser_openapi.py), never the console's pages or its sign-in redirect."""
    session = request.get(SESSION)
    if session is None:
        return _api_error(request, 401, "not_signed_in", "rep_error_not_signed_in")
    try:
        _, report = await _report(request, session)
    except PorticoError as exc:
        code = _API_CODES.get(exc.message_id)
        if code is None:
            raise
        return _api_error(request, exc.status, code, exc.message_id)
    return web.json_response(reports.as_json(report), headers={"Cache-Control": "no-store"})


def _api_error(request: web.Request, status: int, code: str, message_id: str) -> web.Response:
    text = translator(request.app[CATALOG], request_language(request))(message_id)
    return web.json_response(
        {"error": {"code": code, "message": text}},
        status=status,
        headers={"Cache-Control": "no-store"},
    )


async def _read_only(request: web.Request) -> web.Response:
    return web.json_response(
        {"error": {"code": "method_not_allowed", "message": "Only GET."}},
        status=405,
        headers={"Allow": "GET, HEAD"},
    )


async def openapi_document(request: web.Request) -> web.Response:
    return web.json_response(advertiser_openapi.document())


def cell_text(value: Any, kind: str = "count") -> str | tuple[str]:
    """A cell as shown: numbers formatted; a hidden one as a 1-tuple of its message key."""
    if isinstance(value, str):
        return ("rep_" + value,)
    if value is None:
        return "–"
    if kind == "rate":
        return f"{value * 100:.1f} %"
    if kind == "frequency":
        return f"{value:.2f}"
    return f"{value:,}"


def csv_response(report: reports.Report) -> web.Response:
    """The aggregate table as CSV (English headers, hidden cells as their reason): one line
    per row of the page, never a shopper."""
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["table", "key", "impressions", "reach", "frequency", "clicks", "ctr"])
    for table, rows in (
        ("total", [report.total]),
        ("line_item", report.line_items),
        ("creative", report.creatives),
        ("day", report.days),
    ):
        for r in rows:
            w.writerow(
                [table, "" if r.key is None else str(r.key)]
                + [getattr(r, k) for k in ("impressions", "reach", "frequency", "clicks", "ctr")]
            )
    w.writerow([])
    w.writerow(["group", "shoppers", "claims", "redemptions", "returns"])
    for name, g in (("exposed", report.exposed), ("holdout", report.holdout)):
        w.writerow([name, g.shoppers, g.claims, g.redemptions, g.returns])
    w.writerow([])
    w.writerow(["lift", "difference", "low_95", "high_95"])
    for name, lift in report.lift.items():
        if lift.shown:
            w.writerow([name, lift.difference, lift.low, lift.high])
        else:
            w.writerow([name, reports.NOT_ENOUGH, "", ""])
    name = f"report-{report.campaign_id}-{report.first}-{report.last}.csv"
    return web.Response(
        body=out.getvalue().encode(),
        content_type="text/csv",
        charset="utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-store",
        },
    )


# The merchant's report: what ran in its venues ------------------------------------------------

MERCHANT_PATH = "/ad-reports"
RAN_SINCE = timedelta(days=180)  # campaigns listed: those with events in this many days


class OwnersOnly(PorticoError):
    message_id = "rep_owner_only"
    status = 403


async def _merchant_place(
    request: web.Request, session: accounts.ConsoleSession
) -> tuple[accounts.Membership, str]:
    """The merchant (owners only: a report covers every store) and its time zone (its first
    store's)."""
    memberships = await accounts.memberships_of(request.app[DB], session.user.user_id)
    asked = request.query.get("merchant")
    merchant = choose_membership(memberships, asked or None)
    if merchant is None:
        raise NotYours("the user belongs to no merchant")
    if merchant.role != "owner":
        raise OwnersOnly(f"staff of {merchant.merchant_id} may not read the ad reports")
    stores = await accounts.list_stores(request.app[DB], merchant.merchant_id)
    return merchant, stores[0].timezone if stores else TIMEZONE


async def merchant_reports(request: web.Request, session: accounts.ConsoleSession) -> web.Response:
    merchant, _ = await _merchant_place(request, session)
    since = datetime.now(ZONE) - RAN_SINCE
    ran = await reports.campaigns_at_merchant(request.app[DB], merchant.merchant_id, since)
    return render_page(
        request,
        "ads/merchant_reports.html",
        merchant=merchant,
        path=MERCHANT_PATH,
        campaigns=ran,
        query=urlencode({"merchant": str(merchant.merchant_id)}),
    )


async def merchant_report(request: web.Request, session: accounts.ConsoleSession) -> web.Response:
    merchant, timezone = await _merchant_place(request, session)
    try:
        advertiser_id = uuid.UUID(request.match_info["advertiser_id"])
        campaign_id = uuid.UUID(request.match_info["campaign_id"])
    except ValueError:
        raise NotYours("not a campaign id") from None
    db = request.app[DB]
    since = datetime.now(ZONE) - RAN_SINCE
    ran = {
        (r.advertiser_id, r.campaign_id): r
        for r in await reports.campaigns_at_merchant(db, merchant.merchant_id, since)
    }
    if (advertiser_id, campaign_id) not in ran:
        raise NotYours(f"campaign {campaign_id} did not run at {merchant.merchant_id}")
    campaign = await db.fetchrow(reports.queries.campaign_of_advertiser, advertiser_id, campaign_id)
    first, last, window = report_args(request.query, campaign["starts_at"])
    report = await reports.campaign_report(
        db,
        advertiser_id,
        campaign_id,
        first,
        last,
        timezone=timezone,
        window_days=window,
        merchant_id=merchant.merchant_id,
    )
    if request.query.get("format") == "csv":
        return csv_response(report)
    query = {"merchant": str(merchant.merchant_id)}
    here = f"{MERCHANT_PATH}/{advertiser_id}/{campaign_id}"
    return render_page(
        request,
        "ads/campaign_report.html",
        report=report,
        subtitle=ran[(advertiser_id, campaign_id)].advertiser_name,
        back=f"{MERCHANT_PATH}?{urlencode(query)}",
        back_text_id="rep_merchant_title",
        action=here,
        csv_url=here
        + "?"
        + urlencode(
            query
            | {
                "first": report.first.isoformat(),
                "last": report.last.isoformat(),
                "window": str(report.window_days),
                "format": "csv",
            }
        ),
        hidden=query,
        cell=cell_text,
        names={},
    )


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get(MERCHANT_PATH, login_required(merchant_reports))
    router.add_get(
        MERCHANT_PATH + "/{advertiser_id}/{campaign_id}", login_required(merchant_report)
    )
    router.add_get(PATH + "/campaigns/{campaign_id}/report", login_required(report_page))
    for path, handler in (
        (API + "/campaigns/{campaign_id}/report", report_json),
        (API + "/openapi.json", openapi_document),
    ):
        router.add_get(path, handler)
        router.add_route("*", path, _read_only)  # any other method: a 405 naming GET
