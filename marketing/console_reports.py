"""The console's page of a trigger's closed-loop report, /marketing/triggers/<id>/report
(docs/marketing.md, "The console" and "The closed loop"): what `reports.trigger_report`
computes over a range of store-local days, as tables, two charts and a CSV (`?format=csv`,
`reports.report_csv`).

- The range: `from` and `to` (YYYY-MM-DD, the merchant's days), by default the last
  DEFAULT_DAYS days to today; a malformed, repeated or far-off date is a 400 page saying so,
  a range backwards or over `reports.MAX_RANGE_DAYS` days another (`reports.ReportRangeError`).
- Every member of the merchant may read it (staff too: it changes nothing); a trigger at a
  store the staff member is not given is shown as the trigger pages show it, the store
  unnamed. Another merchant's trigger, or no trigger id at all, is a 404.
- The charts are drawn as the footfall pages draw theirs (chart.js and the console's chart
  script, served locally: analytics.services.chart_scripts); every number is in the page's
  tables too, so the page says everything without script.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from markupsafe import Markup
from multidict import MultiMapping

from accounts import services as accounts
from accounts.web import CATALOG, NotYours, login_required, render_page, request_language
from analytics import services as analytics
from kernel.errors import PorticoError
from kernel.i18n import translator
from kernel.web import DB
from marketing import reports
from marketing.console_common import Place, asked, need_place
from marketing.console_triggers import TRIGGERS_PATH
from marketing.console_triggers import queries as trigger_queries

REPORT_PATH = TRIGGERS_PATH + "/{trigger_id}/report"
DEFAULT_DAYS = 30  # the range shown first: the last 30 days to today
EARLIEST = date(2000, 1, 1)
LATEST_AHEAD = timedelta(days=366)  # a later day has no contacts and would only overflow dates
FORMATS = ("", "csv")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$", re.ASCII)
COLUMNS = (*reports.ARMS, reports.OUTSIDE, "all")  # the contacts table's columns


class BadReportDate(PorticoError):
    """A date that is not YYYY-MM-DD, not a calendar day, given twice, or far off."""

    message_id = "mkr_error_date"
    status = 400


class BadReportFormat(PorticoError):
    message_id = "mkr_error_format"
    status = 400


def add_routes(router: web.UrlDispatcher) -> None:
    """The report page (marketing/console_pages.py calls this)."""
    router.add_get(REPORT_PATH, login_required(report_page), name="marketing_trigger_report")


def report_path(trigger_id: uuid.UUID | str) -> str:
    return f"{TRIGGERS_PATH}/{trigger_id}/report"


# The range ------------------------------------------------------------------------------------


def _one(query: MultiMapping[str], name: str, error: type[PorticoError]) -> str:
    """A parameter given at most once, stripped ('' when absent)."""
    values = query.getall(name, [])
    if len(values) > 1:
        raise error(f"{name} given {len(values)} times")
    return values[0].strip() if values else ""


def _day(text: str, name: str, latest: date) -> date | None:
    if not text:
        return None
    if not _DATE.match(text):
        raise BadReportDate(f"{name} is not YYYY-MM-DD: {text[:20]!r}")
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise BadReportDate(f"{name} is not a calendar day: {text!r}") from None
    if not EARLIEST <= day <= latest:
        raise BadReportDate(f"{name} is out of range: {day}")
    return day


def report_range(query: MultiMapping[str], today: date) -> tuple[date, date]:
    """The report's first and last days from `from` and `to`: by default the DEFAULT_DAYS days
    to `today`. BadReportDate for a bad date; reports.ReportRangeError for a range backwards
    or longer than reports.MAX_RANGE_DAYS."""
    latest = today + LATEST_AHEAD
    last = _day(_one(query, "to", BadReportDate), "to", latest) or today
    first = _day(_one(query, "from", BadReportDate), "from", latest)
    first = first or last - timedelta(days=DEFAULT_DAYS - 1)
    if not 0 <= (last - first).days < reports.MAX_RANGE_DAYS:
        raise reports.ReportRangeError(f"{first}…{last}", days=reports.MAX_RANGE_DAYS)
    return first, last


# What the page shows ---------------------------------------------------------------------------


def points(fraction: float) -> str:
    """A difference of rates in percentage points, signed: '+10.3', '−2.0', '0.0'."""
    value = round(fraction * 100, 1)
    if value == 0:
        return "0.0"
    return f"+{value:.1f}" if value > 0 else f"−{-value:.1f}"


def percent(rate: float | None) -> str:
    return "—" if rate is None else f"{rate * 100:.1f}%"


@dataclass(frozen=True)
class UpliftView:
    measure: str  # 'converted', 'redemption', 'return_visit'
    shown: bool  # False: an arm has no shopper yet
    difference: str = ""  # points, signed
    low: str = ""
    high: str = ""
    reading: str = "mkr_not_enough"  # a message id: up, down, none, or not enough data


def uplift_view(measure: str, uplift: reports.Uplift | None) -> UpliftView:
    if uplift is None:
        return UpliftView(measure, False)
    if uplift.low > 0:
        reading = "mkr_reading_up"
    elif uplift.high < 0:
        reading = "mkr_reading_down"
    else:
        reading = "mkr_reading_none"
    return UpliftView(
        measure,
        True,
        points(uplift.difference),
        points(uplift.low),
        points(uplift.high),
        reading,
    )


@dataclass(frozen=True)
class ArmRow:
    arm: str
    shoppers: int
    measures: list[tuple[int, str]]  # (count, rate) of reports.MEASURES


@dataclass(frozen=True)
class DayRow:
    day: date
    label: str
    cells: dict[str | None, reports.Day]  # by arm (None: in no arm)

    def of(self, arm: str | None) -> reports.Day:
        return self.cells.get(arm) or reports.Day(self.day, arm)


def day_label(day: date, language: str) -> str:
    return f"{day.month}月{day.day}日" if language == "zh-CN" else f"{day.day} {day.strftime('%b')}"


def day_rows(report: reports.TriggerReport, language: str) -> list[DayRow]:
    """The days that have a contact or a shopper, in order, each with its arms' figures."""
    by_day: dict[date, dict[str | None, reports.Day]] = {}
    for d in report.days:
        by_day.setdefault(d.day, {})[d.arm] = d
    return [DayRow(day, day_label(day, language), cells) for day, cells in sorted(by_day.items())]


class Charts:
    """The page's charts in the spec the console's chart script draws (footfall.js; the same
    as analytics.dashboards.Charts): labels translated, values as the tables show them."""

    def __init__(self) -> None:
        self.specs: list[dict[str, Any]] = []

    def add(
        self, canvas: str, kind: str, labels: list[str], datasets: list[dict[str, Any]], unit: str
    ) -> None:
        self.specs.append(
            {
                "canvas": canvas,
                "type": kind,
                "labels": labels,
                "datasets": datasets,
                "unit": unit,
                "horizontal": False,
            }
        )

    def json(self) -> Markup:
        # Inside <script type="application/json">, which the browser does not unescape: no
        # "<", ">" or "&" at all (JSON's \u escapes), so no text can end the element early.
        text = json.dumps(self.specs, ensure_ascii=False, separators=(",", ":"))
        for char, escape in (("&", "\\u0026"), ("<", "\\u003c"), (">", "\\u003e")):
            text = text.replace(char, escape)
        return Markup(text)  # noqa: S704 - escaped above


# The colours of footfall.js's roles: treatment green, holdout orange (dashed), no arm grey.
ROLES = {"treatment": "current", "holdout": "usual", None: "previous"}


def charts_of(report: reports.TriggerReport, _: Callable[..., str], language: str) -> Charts:
    """Contacts decided per day by arm (bars), and each arm's conversion rate of the shoppers
    assigned so far (lines, percent): every day of the range, a day without data as 0."""
    days = [report.first + timedelta(days=i) for i in range((report.last - report.first).days + 1)]
    cells = {(d.day, d.arm): d for d in report.days}
    labels = [day_label(day, language) for day in days]
    names = {
        "treatment": "mkr_arm_treatment",
        "holdout": "mkr_arm_holdout",
        None: "mkr_arm_outside",
    }
    charts = Charts()
    charts.add(
        "chart-contacts",
        "bar",
        labels,
        [
            {
                "label": _(names[arm]),
                "role": ROLES[arm],
                "data": [cells[(day, arm)].decided if (day, arm) in cells else 0 for day in days],
            }
            for arm in (*reports.ARMS, None)
        ],
        "",
    )
    rates = []
    for arm in reports.ARMS:
        shoppers = converted = 0
        data: list[float | None] = []
        for day in days:
            cell = cells.get((day, arm))
            if cell is not None:
                shoppers += cell.shoppers
                converted += cell.converted
            data.append(round(converted / shoppers * 100, 1) if shoppers else None)
        rates.append({"label": _(names[arm]), "role": ROLES[arm], "data": data})
    charts.add("chart-rate", "line", labels, rates, "percent")
    return charts


def arm_rows(report: reports.TriggerReport) -> list[ArmRow]:
    return [
        ArmRow(
            arm,
            report.arms[arm].shoppers,
            [
                (getattr(report.arms[arm], m), percent(report.arms[arm].rate(m)))
                for m in reports.MEASURES
            ],
        )
        for arm in reports.ARMS
    ]


def contact_rows(
    report: reports.TriggerReport, _: Callable[..., str]
) -> list[tuple[str, bool, list[int]]]:
    """The contacts table: (what is counted, whether it is a part of the decided, one count
    per COLUMNS): decided, each status, each reason contacts were suppressed for (those that
    happened), each kind of conversion."""
    c = report.contacts
    rows = [(_("mkr_decided"), False, [c[col].decided for col in COLUMNS])]
    rows += [
        (_(f"mkc_status_{s}"), True, [c[col].statuses[s] for col in COLUMNS])
        for s in reports.STATUSES
    ]
    rows += [
        (
            _("mkr_suppressed_because", reason=_(f"mkr_reason_{r}")),
            True,
            [c[col].reasons[r] for col in COLUMNS],
        )
        for r in reports.REASONS
        if c["all"].reasons[r]
    ]
    rows += [
        (_(f"mkr_converted_{k}"), False, [c[col].converted[k] for col in COLUMNS])
        for k in reports.KINDS
    ]
    return rows


# The page ------------------------------------------------------------------------------------


def _trigger_id(request: web.Request) -> uuid.UUID:
    text = request.match_info["trigger_id"]
    try:
        return uuid.UUID(text)
    except ValueError:
        raise NotYours(f"trigger {text[:40]!r} is not a uuid") from None


async def report_page(request: web.Request, session: accounts.ConsoleSession) -> web.Response:
    place = await need_place(request, session, asked(request), owner=False)
    trigger_id = _trigger_id(request)
    db = request.app[DB]
    trigger = await db.fetchrow(trigger_queries.trigger, place.merchant_id, trigger_id)
    if trigger is None:
        raise NotYours(f"the merchant has no trigger {trigger_id}")
    fmt = _one(request.query, "format", BadReportFormat)
    if fmt not in FORMATS:
        raise BadReportFormat(f"format {fmt[:20]!r}")
    zone = await accounts.merchant_zone(db, place.merchant_id)
    first, last = report_range(request.query, datetime.now(ZoneInfo(zone)).date())
    try:
        report = await reports.trigger_report(
            db, place.merchant_id, trigger_id, first, last, timezone=zone
        )
    except reports.TriggerUnknown as exc:  # deleted meanwhile
        raise NotYours(str(exc)) from exc
    if fmt == "csv":
        return csv_response(report)
    return await _render(request, place, trigger, report)


def csv_response(report: reports.TriggerReport) -> web.Response:
    """The report's CSV (aggregates only, English headers) as a download."""
    name = f"trigger-report-{report.trigger_id}-{report.first}-{report.last}.csv"
    return web.Response(
        body=reports.report_csv(report).encode(),
        content_type="text/csv",
        charset="utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        },
    )


async def _render(
    request: web.Request, place: Place, trigger: Mapping[str, Any], report: reports.TriggerReport
) -> web.Response:
    db = request.app[DB]
    language = request_language(request)
    _ = translator(request.app[CATALOG], language)
    store_id = trigger["store_id"]
    store: str | None = None  # every store
    if store_id is not None:
        visible = await accounts.visible_stores(db, place.merchant_id, place.user_id)
        store = next((s.name for s in visible if s.store_id == store_id), "")  # "": not given
    scripts = analytics.chart_scripts(request.app)
    path = report_path(report.trigger_id)
    range_query = {"from": report.first.isoformat(), "to": report.last.isoformat()}
    return render_page(
        request,
        "marketing/trigger_report.html",
        place=place,
        merchant=place.membership,
        trigger=trigger,
        name=trigger["name_zh"] if language == "zh-CN" else trigger["name_en"],
        store=store,
        report=report,
        holdout_percent=round(report.holdout_share * 100),
        arms=arm_rows(report),
        uplifts=[uplift_view(m, report.uplift[m]) for m in reports.MEASURES],
        measures=reports.MEASURES,
        columns=COLUMNS,
        contacts=contact_rows(report, _),
        days=day_rows(report, language),
        charts=charts_of(report, _, language),
        chart_url=scripts.chart,
        script_url=scripts.draw,
        action=path,
        csv_url=place.url(path, **range_query, format="csv"),
        back=place.url(f"{TRIGGERS_PATH}/{report.trigger_id}"),
    )
