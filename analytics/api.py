"""The footfall JSON API on the console (docs/analytics-api.md):
`GET /api/footfall/<metric>?store=&zone=&from=&to=&granularity=&measure=&merchant=&format=`.

Session-authenticated by the console's session middleware (a request without a session gets a
401 in JSON rather than the pages' redirect to the sign-in form, which a script cannot use),
tenant-scoped: only the signed-in user's merchants and their stores; any other store is a 404.
Every parameter is checked: a bad one is a 400 with {"error", "detail"}. `format=csv` gives the
same aggregates as a CSV download; no response ever carries a row per shopper or device.
"""

from __future__ import annotations

import csv
import io
import re
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from accounts import services as accounts
from accounts.web import SESSION
from analytics import metrics
from analytics.metrics import GRANULARITIES, MEASURES, Scope
from kernel.web import DB

PARAMETERS = frozenset(
    {"store", "merchant", "zone", "from", "to", "granularity", "measure", "format", "lang"}
)
# The longest range each granularity may ask for, in days.
MAX_DAYS = {"hour": 31, "day": 400, "week": 800, "month": 1100}
DEFAULT_DAYS = 7
EARLIEST = date(2000, 1, 1)
_ZONE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class BadRequest(Exception):
    def __init__(self, error: str, detail: str, status: int = 400) -> None:
        super().__init__(detail)
        self.error, self.detail, self.status = error, detail, status


@dataclass(frozen=True)
class Request:
    scope: Scope
    store: str  # the store's id, or "all"
    measure: str
    format: str


Metric = Callable[..., Awaitable[dict[str, Any]]]


def add_routes(router: web.UrlDispatcher) -> None:
    """The console's footfall API routes (portico/console_app.py calls this)."""
    router.add_get("/api/footfall/{metric}", footfall, name="api_footfall")


async def footfall(request: web.Request) -> web.Response:
    session = request.get(SESSION)
    if session is None:
        return _error(401, "not_signed_in", "sign in to the console first")
    metric = request.match_info["metric"]
    handler = METRICS.get(metric)
    if handler is None:
        return _error(404, "unknown_metric", f"no metric {metric!r}; one of {', '.join(METRICS)}")
    try:
        asked = await _parse(request, session.user.user_id, metric)
    except BadRequest as exc:
        return _error(exc.status, exc.error, exc.detail)
    result = await handler(request.app[DB], asked)
    body = _envelope(metric, asked, result)
    if asked.format == "csv":
        return _csv(metric, asked, body)
    response = web.json_response(body)
    response.headers["Cache-Control"] = "no-store"
    return response


def _error(status: int, error: str, detail: str) -> web.Response:
    response = web.json_response({"error": error, "detail": detail}, status=status)
    response.headers["Cache-Control"] = "no-store"
    return response


# Parameters ---------------------------------------------------------------------------------


def _one(request: web.Request, name: str) -> str | None:
    values = request.query.getall(name, [])
    if len(values) > 1:
        raise BadRequest("bad_parameter", f"{name} given more than once")
    return values[0] if values else None


def _choice(request: web.Request, name: str, choices: tuple[str, ...], default: str) -> str:
    value = _one(request, name)
    if value is None or value == "":
        return default
    if value not in choices:
        raise BadRequest("bad_parameter", f"{name} must be one of {', '.join(choices)}")
    return value


def _uuid(value: str, name: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        what = "a store id (a UUID) or 'all'" if name == "store" else "a merchant id (a UUID)"
        raise BadRequest("bad_parameter", f"{name} must be {what}") from None


def _date(value: str | None, name: str) -> date | None:
    if value is None or value == "":
        return None
    if not _DATE.match(value):
        raise BadRequest("bad_parameter", f"{name} must be a date YYYY-MM-DD")
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise BadRequest("bad_parameter", f"{name} is not a calendar date: {value}") from None
    if day < EARLIEST:
        raise BadRequest("bad_parameter", f"{name} must not be before {EARLIEST}")
    return day


async def _parse(request: web.Request, user_id: uuid.UUID, metric: str) -> Request:
    unknown = sorted(set(request.query) - PARAMETERS)
    if unknown:
        raise BadRequest("bad_parameter", f"unknown parameter {unknown[0]!r}")
    db = request.app[DB]
    memberships = {m.merchant_id for m in await accounts.memberships_of(db, user_id)}
    store_param = _one(request, "store") or "all"
    merchant_param = _one(request, "merchant")
    merchant_id = _uuid(merchant_param, "merchant") if merchant_param else None
    if merchant_id is not None and merchant_id not in memberships:
        raise BadRequest("not_found", "no such merchant", 404)
    if store_param == "all":
        if merchant_id is None:
            if len(memberships) != 1:
                raise BadRequest(
                    "bad_parameter",
                    "you belong to several merchants: give merchant=<id> with store=all"
                    if memberships
                    else "you are not a member of any merchant",
                )
            (merchant_id,) = memberships
        stores = tuple(await accounts.list_stores(db, merchant_id))
        if not stores:
            raise BadRequest("not_found", "this merchant has no stores", 404)
    else:
        store_id = _uuid(store_param, "store")
        found = None
        for candidate in [merchant_id] if merchant_id else sorted(memberships):
            found = await accounts.get_store(db, candidate, store_id)
            if found is not None:
                break
        if found is None:
            raise BadRequest("not_found", "no such store", 404)
        merchant_id, stores = found.merchant_id, (found,)
    # Staff see only the stores they are given (accounts.stores_of_member; owners: None).
    given = await accounts.stores_of_member(db, merchant_id, user_id)
    if given is not None:
        given_ids = {g.store_id for g in given}
        if not {s.store_id for s in stores} <= given_ids:
            if store_param == "all":
                raise BadRequest("not_found", "you may see only your stores: give store=<id>", 404)
            raise BadRequest("not_found", "no such store", 404)
    zone = _one(request, "zone") or ""
    if zone and not _ZONE.match(zone):
        raise BadRequest("bad_parameter", "zone must be a router id (letters, digits, . _ : -)")
    if zone and store_param == "all":
        raise BadRequest("bad_parameter", "zone needs a single store, not store=all")
    granularity = _choice(request, "granularity", GRANULARITIES, "day")
    measure = _choice(request, "measure", MEASURES, "visits")
    fmt = _choice(request, "format", ("json", "csv"), "json")
    today = datetime.now(UTC).astimezone(ZoneInfo(stores[0].timezone)).date()
    last = _date(_one(request, "to"), "to") or today
    first = _date(_one(request, "from"), "from") or last - timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        raise BadRequest("bad_parameter", "from must not be after to")
    days = (last - first).days + 1
    if days > MAX_DAYS[granularity]:
        raise BadRequest(
            "bad_parameter",
            f"at most {MAX_DAYS[granularity]} days with granularity={granularity} "
            f"(asked for {days})",
        )
    scope = Scope(merchant_id, stores, zone, first, last, granularity)
    return Request(scope, store_param if len(stores) == 1 else "all", measure, fmt)


# Metrics ------------------------------------------------------------------------------------


async def _trend(db: Any, asked: Request) -> dict[str, Any]:
    return await metrics.trend(db, asked.scope, asked.measure)


def _on_scope(function: Callable[..., Awaitable[dict[str, Any]]]) -> Metric:
    async def run(db: Any, asked: Request) -> dict[str, Any]:
        return await function(db, asked.scope)

    return run


METRICS: dict[str, Metric] = {
    "summary": _on_scope(metrics.summary),
    "trend": _trend,
    "dwell": _on_scope(metrics.dwell),
    "loyalty": _on_scope(metrics.loyalty),
    "occupancy": _on_scope(metrics.occupancy),
    "heatmap": _on_scope(metrics.heatmap),
    "stores": _on_scope(metrics.stores),
}


def _envelope(metric: str, asked: Request, result: dict[str, Any]) -> dict[str, Any]:
    scope = asked.scope
    zones = Counter(s.timezone for s in scope.stores)
    body: dict[str, Any] = {
        "metric": metric,
        "store": str(scope.stores[0].store_id) if asked.store != "all" else "all",
        "merchant": str(scope.merchant_id),
        "zone": scope.zone or None,
        "from": scope.first.isoformat(),
        "to": scope.last.isoformat(),
        "granularity": scope.granularity,
        "timezone": next(iter(zones)) if len(zones) == 1 else "store-local",
    }
    body.update(result)
    return body


# CSV ----------------------------------------------------------------------------------------


def _cell(value: Any) -> Any:
    if value is None:
        return ""  # suppressed or undefined
    # A spreadsheet runs a cell that starts like a formula: a store name must not.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _csv_rows(metric: str, body: dict[str, Any]) -> list[list[Any]]:
    if metric == "heatmap":
        grid = body["values"]["visits"]
        weekdays = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
        return [["weekday", *range(24)]] + [[weekdays[d], *row] for d, row in enumerate(grid)]
    if metric == "occupancy":
        values = body["values"]
        rows: list[list[Any]] = [["period", "average", "peak"]]
        rows += [[p["period"], p["average"], p["peak"]] for p in values["series"]]
        rows += [["now", values["now"], ""], ["usual", values["usual"], ""]]
        return rows
    if "series" in body:
        series = body["series"]
        if not series:
            return [["period"]]
        header = list(series[0])
        return [header] + [[point[k] for k in header] for point in series]
    return [["name", "value"]] + [[k, v] for k, v in body["values"].items()]


def _csv(metric: str, asked: Request, body: dict[str, Any]) -> web.Response:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for row in _csv_rows(metric, body):
        writer.writerow([_cell(v) for v in row])
    scope = asked.scope
    name = f"footfall-{metric}-{asked.store}-{scope.first}-{scope.last}.csv"
    response = web.Response(text=out.getvalue(), content_type="text/csv", charset="utf-8")
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.headers["Cache-Control"] = "no-store"
    return response
