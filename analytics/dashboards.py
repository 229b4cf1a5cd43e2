"""The footfall dashboards of the merchant console (docs/footfall-dashboards.md).

Five pages under /footfall: overview (today against the usual), trends (against the previous
period), dwell and loyalty, the weekday × hour heatmap, and a store comparison. Each page reads
the same metric functions the JSON API serves (analytics/metrics.py; analytics/api.py wraps
them), renders its numbers and tables on the server, and embeds the series its charts need as
JSON; a small local script (static/footfall.js) draws them with chart.js. Without the script or
the library the page still shows every number. CSV links go to the API with format=csv.

Tenant scope: the merchant and store come from the signed-in user's memberships; a store of
anyone else is a 404. Cells the metrics suppress (fewer than 10 devices) show as "< 10".
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import asyncpg
from aiohttp import web
from markupsafe import Markup

from accounts import services as accounts
from accounts.web import CATALOG, login_required, render_page, request_language
from analytics import metrics
from analytics.dashboard_assets import ASSETS
from analytics.metrics import Scope
from kernel.errors import PorticoError
from kernel.i18n import translator
from kernel.sql import load_queries
from kernel.web import DB

queries = load_queries(__file__, "dashboards.sql")

PAGES = (
    ("overview", "/footfall"),
    ("trends", "/footfall/trends"),
    ("dwell", "/footfall/dwell"),
    ("heatmap", "/footfall/heatmap"),
    ("stores", "/footfall/stores"),
)
RANGE_DAYS = {"day": 28, "week": 84, "month": 365}  # the default range of each granularity
MAX_RANGE_DAYS = 400
EARLIEST = date(2000, 1, 1)
LATEST_AHEAD = timedelta(days=366)  # a later day has no data and would only overflow dates
TREND_GRANULARITIES = ("day", "week", "month")
TREND_MEASURES = (
    "visits",
    "visitors",
    "passers_by",
    "detected",
    "connected",
    "capture_rate",
    "mean_dwell",
    "bounce_rate",
    "engaged_rate",
    "returning_share",
    "randomized_share",
)
RATE_MEASURES = frozenset(metrics.RATES)
DURATION_MEASURES = frozenset({"median_dwell", "mean_dwell"})
USUAL_WEEKS = 4  # "usual": the mean of the same weekday over the last four weeks
ZONES_LOOKBACK = timedelta(days=90)
ZONES_SHOWN = 100
SUPPRESSED_TEXT = "< 10"
_ZONE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class BadFilter(PorticoError):
    message_id = "ff_error_bad_filter"
    status = 400


def add_routes(router: web.UrlDispatcher) -> None:
    """The pages (portico/console_app.py calls this)."""
    for name, path in PAGES:
        router.add_get(path, login_required(_HANDLERS[name]), name=f"footfall_{name}")


# Filters ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    """What the page is about, checked against the user's memberships."""

    membership: accounts.Membership
    memberships: list[accounts.Membership]
    stores: list[accounts.Store]  # all of the merchant's stores, for the picker
    store: accounts.Store | None  # None: all stores
    zone: str  # '' for whole stores
    first: date
    last: date
    today: date  # store-local (the first store's time zone for all stores)
    granularity: str
    measure: str

    @property
    def chosen(self) -> tuple[accounts.Store, ...]:
        return (self.store,) if self.store else tuple(self.stores)

    def scope(self, first: date | None = None, last: date | None = None, **kw: Any) -> Scope:
        return Scope(
            self.membership.merchant_id,
            self.chosen,
            self.zone,
            first or self.first,
            last or self.last,
            kw.get("granularity", "day"),
        )

    def query(self, **changes: str | None) -> dict[str, str]:
        """This page's parameters as the API takes them, with `changes` (None drops one)."""
        params: dict[str, str] = {"merchant": str(self.membership.merchant_id)}
        params["store"] = str(self.store.store_id) if self.store else "all"
        if self.zone:
            params["zone"] = self.zone
        params["from"], params["to"] = self.first.isoformat(), self.last.isoformat()
        for key, value in changes.items():
            if value is None:
                params.pop(key, None)
            else:
                params[key] = value
        return params

    def api_url(self, metric: str, fmt: str = "csv", **changes: str | None) -> str:
        return f"/api/footfall/{metric}?{urlencode(self.query(format=fmt, **changes))}"


def one_param(request: web.Request, name: str) -> str:
    """A query parameter given at most once, stripped ('' when absent)."""
    values = request.query.getall(name, [])
    if len(values) > 1:
        raise BadFilter(f"{name} given more than once", name=name)
    return values[0].strip() if values else ""


def id_param(value: str, name: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise BadFilter(f"{name} is not an id: {value[:40]!r}", name=name) from None


def _date(value: str, name: str, latest: date) -> date | None:
    if not value:
        return None
    if not _DATE.match(value):
        raise BadFilter(f"{name} is not YYYY-MM-DD", name=name)
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise BadFilter(f"{name} is not a calendar date", name=name) from None
    if not EARLIEST <= day <= latest:
        raise BadFilter(f"{name} is out of range", name=name)
    return day


async def parse_filters(
    request: web.Request, user_id: uuid.UUID, page: str, now: datetime | None = None
) -> Filters | None:
    """The page's filters; None when the user belongs to no merchant. A store or merchant that
    is not the user's is a 404; a malformed parameter a 400 page saying which."""
    db = request.app[DB]
    memberships = await accounts.memberships_of(db, user_id)
    if not memberships:
        return None
    by_id = {m.merchant_id: m for m in memberships}
    membership = memberships[0]
    if merchant := one_param(request, "merchant"):
        found = by_id.get(id_param(merchant, "merchant"))
        if found is None:
            raise web.HTTPNotFound()
        membership = found
    store: accounts.Store | None = None
    if (store_param := one_param(request, "store")) not in ("", "all"):
        store_id = id_param(store_param, "store")
        store = await accounts.get_store(db, membership.merchant_id, store_id)
        if store is None:
            # The merchant picker changed while a store of the previous one stayed selected:
            # that is the user's own store, so show the new merchant's stores; anyone else's
            # store does not exist for this user.
            for other in memberships:
                if await accounts.get_store(db, other.merchant_id, store_id) is not None:
                    break
            else:
                raise web.HTTPNotFound()
    stores = await accounts.list_stores(db, membership.merchant_id)
    # Staff see only the stores they are given (owners: given is None): another store is a
    # 404, and "all stores" becomes their first store unless they are given every one.
    given = await accounts.stores_of_member(db, membership.merchant_id, user_id)
    if given is not None:
        given_ids = {g.store_id for g in given}
        if store is not None and store.store_id not in given_ids:
            raise web.HTTPNotFound()
        if store is None and {s.store_id for s in stores} != given_ids:
            if not given:
                raise web.HTTPNotFound()
            store = given[0]
        stores = given
    zone = one_param(request, "zone")
    if zone and not _ZONE.match(zone):
        raise BadFilter("zone is not a router id", name="zone")
    if store is None:
        zone = ""  # zones belong to one store; the store picker went back to all stores
    granularity = one_param(request, "granularity") or "day"
    if granularity not in TREND_GRANULARITIES:
        raise BadFilter(f"granularity {granularity[:20]!r}", name="granularity")
    measure = one_param(request, "measure") or "visits"
    if measure not in TREND_MEASURES:
        raise BadFilter(f"measure {measure[:30]!r}", name="measure")
    timezone = store.timezone if store else stores[0].timezone if stores else "UTC"
    today = (now or datetime.now(UTC)).astimezone(ZoneInfo(timezone)).date()
    latest = today + LATEST_AHEAD
    first = _date(one_param(request, "from"), "from", latest)
    last = _date(one_param(request, "to"), "to", latest) or today
    if page == "overview":
        first = last  # one day against the usual
    first = first or last - timedelta(days=RANGE_DAYS[granularity] - 1)
    if first > last:
        raise BadFilter("from is after to", name="from")
    if (last - first).days + 1 > MAX_RANGE_DAYS:
        raise BadFilter(f"more than {MAX_RANGE_DAYS} days", name="to")
    return Filters(
        membership=membership,
        memberships=memberships,
        stores=stores,
        store=store,
        zone=zone,
        first=first,
        last=last,
        today=today,
        granularity=granularity,
        measure=measure,
    )


async def store_zones(db: asyncpg.Pool, filters: Filters) -> list[str]:
    """The zones (router ids) with rollups at the chosen store in the last 90 days."""
    if filters.store is None:
        return []
    rows = await db.fetch(
        queries.store_zones,
        filters.membership.merchant_id,
        filters.store.store_id,
        filters.today - ZONES_LOOKBACK,
        ZONES_SHOWN,
    )
    zones = [r["zone"] for r in rows]
    if filters.zone and filters.zone not in zones:
        zones.append(filters.zone)
    return zones


# Formatting ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cell:
    """One number as shown: its text, and whether the metrics suppressed it."""

    text: str
    value: float | None = None
    suppressed: bool = False

    def __html__(self) -> str:
        if self.suppressed:
            return str(Markup('<span class="suppressed">{}</span>').format(self.text))
        return str(Markup.escape(self.text))


def fmt_int(value: float | None) -> str:
    return "—" if value is None else f"{round(value):,}"


def fmt_decimal(value: float | None) -> str:
    return "—" if value is None else f"{value:,.1f}"


def fmt_percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def fmt_duration(seconds: float | None, language: str) -> str:
    if seconds is None:
        return "—"
    minutes = round(seconds / 60)
    hours, rest = divmod(minutes, 60)
    if language == "zh-CN":
        return f"{hours} 小时 {rest} 分钟" if hours else f"{minutes} 分钟"
    return f"{hours} h {rest:02d} min" if hours else f"{minutes} min"


def cell(value: float | None, kind: str, language: str, suppressed: bool = False) -> Cell:
    """`kind`: count, decimal, rate or duration."""
    if suppressed:
        return Cell(SUPPRESSED_TEXT, None, True)
    if kind == "rate":
        return Cell(fmt_percent(value), value)
    if kind == "duration":
        return Cell(fmt_duration(value, language), value)
    if kind == "decimal":
        return Cell(fmt_decimal(value), value)
    return Cell(fmt_int(value), value)


def kind_of(measure: str) -> str:
    if measure in RATE_MEASURES:
        return "rate"
    if measure in DURATION_MEASURES:
        return "duration"
    return "count"


def chart_value(value: float | None, measure: str) -> float | None:
    """A value as a chart plots it: rates in percent, durations in minutes."""
    if value is None:
        return None
    if measure in RATE_MEASURES:
        return round(value * 100, 1)
    if measure in DURATION_MEASURES:
        return round(value / 60, 1)
    return value


def change(now: float | None, then: float | None) -> str:
    """'+12%', '−5%', or '' when there is nothing to compare with."""
    if now is None or then is None or then == 0:
        return ""
    delta = (now - then) / then * 100
    sign = "+" if delta >= 0 else "−"
    return f"{sign}{abs(delta):.0f}%"


WEEKDAYS = {
    "en": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
    "zh-CN": ("周一", "周二", "周三", "周四", "周五", "周六", "周日"),
}


WEEKDAY_NAMES = {
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
    "zh-CN": ("星期一", "星期二", "星期三", "星期四", "星期五", "星期六", "星期日"),
}


def _period_end(start: date, granularity: str) -> date:
    """The day after the period that starts on `start`."""
    if granularity == "week":
        return start + timedelta(days=7)
    if granularity == "month":
        return (start.replace(day=28) + timedelta(days=4)).replace(day=1)
    return start + timedelta(days=1)


def day_label(day: date, language: str, granularity: str = "day") -> str:
    if granularity == "month":
        return f"{day.year}年{day.month}月" if language == "zh-CN" else day.strftime("%b %Y")
    weekday = WEEKDAYS[language][day.weekday()]
    if language == "zh-CN":
        label = f"{day.month}月{day.day}日"
        return f"{label}起" if granularity == "week" else f"{label} {weekday}"
    if granularity == "week":
        return f"wk of {day.day} {day.strftime('%b')}"
    return f"{weekday} {day.day} {day.strftime('%b')}"


# Charts -------------------------------------------------------------------------------------


@dataclass
class Charts:
    """The charts of a page, as footfall.js draws them (labels already translated)."""

    specs: list[dict[str, Any]] = field(default_factory=list)

    def add(
        self,
        canvas: str,
        kind: str,
        labels: list[str],
        datasets: list[dict[str, Any]],
        unit: str = "",
        horizontal: bool = False,
    ) -> str:
        self.specs.append(
            {
                "canvas": canvas,
                "type": kind,
                "labels": labels,
                "datasets": datasets,
                "unit": unit,
                "horizontal": horizontal,
            }
        )
        return canvas

    def json(self) -> Markup:
        # Inside <script type="application/json">, which the browser does not unescape: no
        # "<", ">" or "&" at all (JSON's \u escapes), so no text can end the element early.
        text = json.dumps(self.specs, ensure_ascii=False, separators=(",", ":"))
        for char, escape in (("&", "\\u0026"), ("<", "\\u003c"), (">", "\\u003e")):
            text = text.replace(char, escape)
        return Markup(text)  # noqa: S704 - escaped above


def unit_of(measure: str) -> str:
    return {"rate": "percent", "duration": "minutes"}.get(kind_of(measure), "")


# Pages --------------------------------------------------------------------------------------


def _page(
    request: web.Request,
    page: str,
    filters: Filters | None,
    charts: Charts | None = None,
    **context: object,
) -> web.Response:
    assets = request.app[ASSETS]
    return render_page(
        request,
        f"analytics/footfall_{page}.html",
        page=page,
        pages=PAGES,
        filters=filters,
        charts=charts or Charts(),
        chart_url=assets.chart.url if assets.chart else None,
        script_url=assets.own["footfall.js"].url,
        style_url=assets.own["footfall.css"].url,
        suppressed_text=SUPPRESSED_TEXT,
        **context,
    )


async def _start(
    request: web.Request, session: accounts.ConsoleSession, page: str
) -> tuple[Filters | None, list[str]]:
    filters = await parse_filters(request, session.user.user_id, page)
    zones = await store_zones(request.app[DB], filters) if filters else []
    return filters, zones


@dataclass(frozen=True)
class Kpi:
    key: str  # message id of its name
    value: Cell
    usual: Cell | None = None
    delta: str = ""
    note: str = ""  # message id of a note under it


OVERVIEW_KPIS = (
    ("visitors", "count"),
    ("passers_by", "count"),
    ("capture_rate", "rate"),
    ("visits", "count"),
    ("median_dwell", "duration"),
)


def _usual(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return sum(known) / len(known) if known else None


def _usual_hour(values: list[float | None]) -> float | None:
    """An hour's usual visits; unknown when most of its days were under 10 (suppressed):
    the mean of the few above 10 would overstate it."""
    known = [v for v in values if v is not None]
    return sum(known) / len(known) if known and len(known) * 2 > len(values) else None


async def overview(request: web.Request, session: accounts.ConsoleSession) -> web.Response:
    filters, zones = await _start(request, session, "overview")
    if filters is None or not filters.stores:
        return _page(request, "overview", filters, zones=zones)
    db = request.app[DB]
    language = request_language(request)
    day = filters.last
    same_days = [day - timedelta(weeks=k) for k in range(1, USUAL_WEEKS + 1)]
    today, *before = await asyncio.gather(
        metrics.summary(db, filters.scope(day, day)),
        *(metrics.summary(db, filters.scope(d, d)) for d in same_days),
    )
    hourly_today, *hourly_before = await asyncio.gather(
        metrics.trend(db, filters.scope(day, day, granularity="hour"), "visits"),
        *(metrics.trend(db, filters.scope(d, d, granularity="hour"), "visits") for d in same_days),
    )
    # A day without a single detected device had no sensor running (a new store): not usual.
    kept = [i for i, b in enumerate(before) if b["values"]["detected"] != 0]
    before = [before[i] for i in kept]
    hourly_before = [hourly_before[i] for i in kept]
    live = day == filters.today
    occupancy = await metrics.occupancy(db, filters.scope(day, day)) if live else None
    per_store = await _store_rows(db, filters, day, language, live)

    clock = datetime.now(ZoneInfo(filters.chosen[0].timezone))
    now_hour = clock.hour if live else 24
    usual_hours = [_usual_hour([h["series"][i]["value"] for h in hourly_before]) for i in range(24)]
    usual_day_visits = sum(v or 0 for v in usual_hours)
    usual_by_now = sum(v or 0 for v in usual_hours[:now_hour])
    if live:
        usual_by_now += (usual_hours[now_hour] or 0) * clock.minute / 60
    # Today is not over: its counts so far are set against the same share of a usual day.
    share = usual_by_now / usual_day_visits if live and usual_day_visits else 1.0
    kpis = []
    for key, kind in OVERVIEW_KPIS:
        value = today["values"][key]
        usual = _usual([b["values"][key] for b in before])
        if kind == "count" and usual is not None:
            usual *= share
        kpis.append(
            Kpi(
                key=f"ff_m_{key}",
                value=cell(value, kind, language, key in today["suppressed"]),
                usual=cell(usual, kind, language),
                delta=change(value, usual),
            )
        )
    occupancy_kpi = None
    if occupancy is not None:
        values = occupancy["values"]
        occupancy_kpi = Kpi(
            key="ff_m_occupancy",
            value=cell(values["now"], "count", language, "now" in occupancy["suppressed"]),
            usual=cell(values["usual"], "decimal", language, "usual" in occupancy["suppressed"]),
            delta=change(values["now"], values["usual"]),
        )
    translate = _translator(request)
    charts = Charts()
    people_now = None
    if occupancy is not None:
        values = occupancy["values"]
        if values.get("people_now") is not None:
            people_now = cell(values["people_now"], "decimal", language)
        labels, average, peak = _last_hours(values["series"], clock)
        charts.add(
            "chart-occupancy",
            "line",
            labels,
            [
                {"label": translate("ff_series_average"), "data": average, "role": "current"},
                {"label": translate("ff_series_peak"), "data": peak, "role": "usual"},
            ],
        )
    hours = [f"{h:02d}:00" for h in range(24)]
    today_series = [p["value"] for p in hourly_today["series"]]
    if live:
        today_series = [v if i <= now_hour else None for i, v in enumerate(today_series)]
    charts.add(
        "chart-hours",
        "bar",
        hours,
        [
            {"label": translate("ff_series_day"), "data": today_series, "role": "current"},
            {
                "label": translate("ff_series_usual", weekday=WEEKDAYS[language][day.weekday()]),
                "data": [round(v, 1) if v is not None else None for v in usual_hours],
                "role": "usual",
            },
        ],
    )
    today_hidden = set(hourly_today["suppressed"])
    hour_rows = [
        (
            hours[i],
            cell(
                today_series[i],
                "count",
                language,
                f"{hourly_today['series'][i]['period']}.visits" in today_hidden,
            ),
            cell(usual_hours[i], "decimal", language),
        )
        for i in range(24)
    ]
    return _page(
        request,
        "overview",
        filters,
        charts,
        zones=zones,
        day=day,
        day_text=day_label(day, language),
        live=live,
        weekday=WEEKDAYS[language][day.weekday()],
        weekday_name=WEEKDAY_NAMES[language][day.weekday()],
        usual_days=len(before),
        kpis=kpis,
        occupancy=occupancy_kpi,
        people_now=people_now,
        usual_by=clock.strftime("%H:%M") if live else "",
        per_store=per_store,
        hour_rows=hour_rows,
        any_suppressed=bool(today["suppressed"] or hourly_today["suppressed"]),
    )


OCCUPANCY_HOURS = 24


def _last_hours(
    series: list[dict[str, Any]], clock: datetime
) -> tuple[list[str], list[float | None], list[float | None]]:
    """The occupancy series on the last 24 store-local hours (`clock`'s zone), oldest first;
    an hour without a rollup row had nobody (0), a suppressed one is None."""
    by_hour = {
        datetime.fromisoformat(p["period"]).astimezone(clock.tzinfo).replace(tzinfo=None): p
        for p in series
    }
    this_hour = clock.replace(minute=0, second=0, microsecond=0, tzinfo=None)
    labels, average, peak = [], [], []
    for back in range(OCCUPANCY_HOURS - 1, -1, -1):
        hour = this_hour - timedelta(hours=back)
        point = by_hour.get(hour, {"average": 0, "peak": 0})
        labels.append(hour.strftime("%H:00"))
        average.append(point["average"])
        peak.append(point["peak"])
    return labels, average, peak


@dataclass(frozen=True)
class StoreRow:
    name: str
    store_id: str
    cells: dict[str, Cell]
    link: str


async def _store_rows(
    db: asyncpg.Pool, filters: Filters, day: date, language: str, live: bool
) -> list[StoreRow]:
    """Overview: each chosen store's day, and its occupancy now against its usual."""
    if len(filters.chosen) < 2:
        return []
    result = await metrics.stores(db, filters.scope(day, day))
    hidden = set(result["suppressed"])
    occupancy: dict[str, dict[str, Any]] = {}
    if live:
        found = await asyncio.gather(
            *(
                metrics.occupancy(db, Scope(filters.membership.merchant_id, (s,), "", day, day))
                for s in filters.chosen
            )
        )
        occupancy = {str(s.store_id): o for s, o in zip(filters.chosen, found, strict=True)}
    rows = []
    for row in result["series"]:
        sid = row["store"]
        cells = {
            key: cell(row[key], kind, language, f"{sid}.{key}" in hidden)
            for key, kind in OVERVIEW_KPIS
        }
        if sid in occupancy:
            o = occupancy[sid]
            cells["occupancy"] = cell(
                o["values"]["now"], "count", language, "now" in o["suppressed"]
            )
            cells["occupancy_usual"] = cell(
                o["values"]["usual"], "decimal", language, "usual" in o["suppressed"]
            )
        link = "/footfall?" + urlencode(filters.query(store=sid, **{"from": None}))
        rows.append(StoreRow(row["name"], sid, cells, link))
    return rows


def _translator(request: web.Request) -> Callable[..., str]:
    return translator(request.app[CATALOG], request_language(request))


async def trends(request: web.Request, session: accounts.ConsoleSession) -> web.Response:
    filters, zones = await _start(request, session, "trends")
    if filters is None or not filters.stores:
        return _page(request, "trends", filters, zones=zones)
    db = request.app[DB]
    language = request_language(request)
    measure = filters.measure
    result = await metrics.trend(db, filters.scope(granularity=filters.granularity), measure)
    hidden = set(result["suppressed"])
    kind = kind_of(measure)
    translate = _translator(request)
    rows = []
    labels = []
    current, previous = [], []
    for point in result["series"]:
        start = date.fromisoformat(point["period"][:10])
        before = date.fromisoformat(point["previous_period"][:10])
        label = day_label(start, language, filters.granularity)
        if start <= filters.today < _period_end(start, filters.granularity):
            label = translate("ff_so_far", period=label)
        labels.append(label)
        current.append(chart_value(point["value"], measure))
        previous.append(chart_value(point["previous"], measure))
        rows.append(
            (
                label,
                cell(point["value"], kind, language, f"{point['period']}.{measure}" in hidden),
                day_label(before, language, filters.granularity),
                cell(
                    point["previous"],
                    kind,
                    language,
                    f"{point['previous_period']}.{measure}" in hidden,
                ),
                change(point["value"], point["previous"]),
            )
        )
    charts = Charts()
    charts.add(
        "chart-trend",
        "line" if len(labels) > 1 else "bar",
        labels,
        [
            {"label": translate("ff_series_this_period"), "data": current, "role": "current"},
            {"label": translate("ff_series_previous"), "data": previous, "role": "previous"},
        ],
        unit=unit_of(measure),
    )
    total_now = await metrics.summary(db, filters.scope())
    total_then = await metrics.summary(db, filters.scope().previous())
    summary_key = measure if measure in total_now["values"] else None
    totals = None
    if summary_key:
        now_value = total_now["values"][summary_key]
        then_value = total_then["values"][summary_key]
        totals = (
            cell(now_value, kind, language, summary_key in total_now["suppressed"]),
            cell(then_value, kind, language, summary_key in total_then["suppressed"]),
            change(now_value, then_value),
        )
    previous_scope = filters.scope().previous()
    return _page(
        request,
        "trends",
        filters,
        charts,
        zones=zones,
        measures=TREND_MEASURES,
        granularities=TREND_GRANULARITIES,
        rows=rows,
        totals=totals,
        previous_from=previous_scope.first,
        previous_to=previous_scope.last,
        any_suppressed=bool(hidden),
    )


DWELL_LABELS = (
    ("5-20m", "ff_dwell_5_20"),
    ("20-60m", "ff_dwell_20_60"),
    ("1-6h", "ff_dwell_1_6h"),
    ("6h+", "ff_dwell_6h_plus"),
)
LOYALTY_LABELS = tuple((k, f"ff_loyalty_{k}") for k in metrics.LOYALTY_CLASSES)


async def dwell(request: web.Request, session: accounts.ConsoleSession) -> web.Response:
    filters, zones = await _start(request, session, "dwell")
    if filters is None or not filters.stores:
        return _page(request, "dwell", filters, zones=zones)
    db = request.app[DB]
    language = request_language(request)
    translate = _translator(request)
    scope = filters.scope()
    dwell_result, loyalty_result, summary = await asyncio.gather(
        metrics.dwell(db, scope), metrics.loyalty(db, scope), metrics.summary(db, scope)
    )
    dwell_values, loyalty_values = dwell_result["values"], loyalty_result["values"]
    dwell_rows = [
        (
            translate(label),
            cell(dwell_values[key], "count", language, key in dwell_result["suppressed"]),
        )
        for key, label in DWELL_LABELS
    ]
    loyalty_rows = [
        (
            translate(label),
            cell(loyalty_values[key], "count", language, key in loyalty_result["suppressed"]),
        )
        for key, label in LOYALTY_LABELS
    ]
    hidden = set(summary["suppressed"]) | set(dwell_result["suppressed"])
    rates = [
        Kpi(f"ff_m_{key}", cell(value, kind, language, key in hidden))
        for key, kind, value in (
            ("median_dwell", "duration", summary["values"]["median_dwell"]),
            ("bounce_rate", "rate", dwell_values["bounce_rate"]),
            ("engaged_rate", "rate", dwell_values["engaged_rate"]),
            ("returning_share", "rate", summary["values"]["returning_share"]),
        )
    ]
    charts = Charts()
    charts.add(
        "chart-dwell",
        "bar",
        [label for label, _ in dwell_rows],
        [{"label": translate("ff_m_visits"), "data": [c.value for _, c in dwell_rows]}],
    )
    charts.add(
        "chart-loyalty",
        "bar",
        [label for label, _ in loyalty_rows],
        [{"label": translate("ff_shoppers"), "data": [c.value for _, c in loyalty_rows]}],
        horizontal=True,
    )
    return _page(
        request,
        "dwell",
        filters,
        charts,
        zones=zones,
        dwell_rows=dwell_rows,
        loyalty_rows=loyalty_rows,
        shoppers=cell(
            loyalty_values["shoppers"],
            "count",
            language,
            "shoppers" in loyalty_result["suppressed"],
        ),
        rates=rates,
        # With one class hidden, the total would give it away (total minus the others).
        total_hidden=any(c.suppressed for _, c in loyalty_rows),
        any_suppressed=bool(hidden or loyalty_result["suppressed"]),
    )


@dataclass(frozen=True)
class HeatCell:
    text: Cell
    level: int  # 0 (none) .. 5 (the busiest hour)


async def heatmap(request: web.Request, session: accounts.ConsoleSession) -> web.Response:
    filters, zones = await _start(request, session, "heatmap")
    if filters is None or not filters.stores:
        return _page(request, "heatmap", filters, zones=zones)
    db = request.app[DB]
    language = request_language(request)
    result = await metrics.heatmap(db, filters.scope())
    values = result["values"]
    hidden = set(result["suppressed"])
    grid = values["visits"]
    top = max((v or 0 for row in grid for v in row), default=0)
    rows = []
    for d, row in enumerate(grid):
        cells = []
        for h, v in enumerate(row):
            suppressed = f"{d}.{h}" in hidden
            level = 0 if not v else max(1, min(5, round(5 * v / top))) if top else 0
            if suppressed:
                level = 1  # some visits, fewer than 10
            cells.append(HeatCell(cell(v, "count", language, suppressed), level))
        rows.append((WEEKDAYS[language][d], cells))
    peak = values["peak_hour"]
    busiest = values["peak_weekday_hour"]
    return _page(
        request,
        "heatmap",
        filters,
        None,
        zones=zones,
        rows=rows,
        hours=list(range(24)),
        peak=f"{peak:02d}:00–{(peak + 1) % 24:02d}:00" if peak is not None else "",
        peak_visits=cell(
            values["peak_hour_visits"], "count", language, "peak_hour_visits" in hidden
        ),
        busiest=(f"{WEEKDAYS[language][busiest[0]]} {busiest[1]:02d}:00" if busiest else ""),
        any_suppressed=bool(hidden),
    )


STORE_COLUMNS = (
    ("visitors", "count"),
    ("passers_by", "count"),
    ("capture_rate", "rate"),
    ("visits", "count"),
    ("median_dwell", "duration"),
    ("bounce_rate", "rate"),
    ("engaged_rate", "rate"),
    ("returning_share", "rate"),
    ("connected", "count"),
)


async def stores(request: web.Request, session: accounts.ConsoleSession) -> web.Response:
    filters, zones = await _start(request, session, "stores")
    if filters is None or not filters.stores:
        return _page(request, "stores", filters, zones=zones)
    db = request.app[DB]
    language = request_language(request)
    translate = _translator(request)
    scope = Scope(
        filters.membership.merchant_id, tuple(filters.stores), "", filters.first, filters.last
    )
    result = await metrics.stores(db, scope)
    hidden = set(result["suppressed"])
    rows = []
    for row in result["series"]:
        sid = row["store"]
        cells = {
            key: cell(row[key], kind, language, f"{sid}.{key}" in hidden)
            for key, kind in STORE_COLUMNS
        }
        link = "/footfall?" + urlencode(filters.query(store=sid, **{"from": None, "to": None}))
        rows.append(StoreRow(row["name"], sid, cells, link))
    charts = Charts()
    charts.add(
        "chart-stores",
        "bar",
        [r.name for r in rows],
        [
            {
                "label": translate("ff_m_visitors"),
                "data": [r.cells["visitors"].value for r in rows],
            },
            {
                "label": translate("ff_m_passers_by"),
                "data": [r.cells["passers_by"].value for r in rows],
                "role": "previous",
            },
        ],
        horizontal=True,
    )
    return _page(
        request,
        "stores",
        filters,
        charts,
        zones=zones,
        rows=rows,
        columns=STORE_COLUMNS,
        any_suppressed=bool(hidden),
    )


_HANDLERS: Mapping[str, Any] = {
    "overview": overview,
    "trends": trends,
    "dwell": dwell,
    "heatmap": heatmap,
    "stores": stores,
}
