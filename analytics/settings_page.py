"""The footfall settings page of the merchant console, /footfall/settings
(docs/footfall-dashboards.md, "Settings"). For one store: its metric definitions
(analytics.settings), its merchant's retention (analytics.retention), its staff and fixed
devices (analytics.ingest.list_fixed_device: only keyed hashes are kept or shown), and its
occupancy calibration, fitted from head counts the merchant enters
(analytics.occupancy.fit_calibration on the store's raw observations at those times).

GET shows the page. A POST saves one of its forms (the hidden field `form`) and redirects back
to it with a notice. A form with bad input comes back (400) with an error beside each bad
field, in the page's language, and nothing is stored. Every member of the merchant may look;
only an owner may change anything (staff get 403). A store or merchant that is not the user's
is a 404, as on the dashboards.
"""

from __future__ import annotations

import dataclasses
import re
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import asyncpg
from aiohttp import web
from multidict import MultiDictProxy

from accounts import audit
from accounts import services as accounts
from accounts.web import login_required, redirect, render_page, request_language
from analytics import occupancy as estimator
from analytics.dashboard_assets import ASSETS
from analytics.dashboards import PAGES, BadFilter, fmt_duration, id_param, one_param
from analytics.ingest import list_fixed_device
from analytics.retention import Retention, retention_of, set_retention
from analytics.settings import (
    FIELDS,
    LIMITS,
    FootfallSettings,
    occupancy_calibration,
    set_occupancy_calibration,
    settings_of,
    update_settings,
)
from kernel.errors import PorticoError
from kernel.privacy import normalize_mac
from kernel.sql import load_queries
from kernel.web import DB, SETTINGS

queries = load_queries(__file__, "settings_page.sql")

PATH = "/footfall/settings"
OWNER = "owner"
RSSI_FIELDS = frozenset({"inside_rssi", "detected_rssi"})
# The bounds analytics.retention.set_retention checks (migration 0016's CHECKs); a test holds
# the two together.
RETENTION_LIMITS = {"raw_hours": (1, 168), "visits_days": (1, 3650)}
RETENTION_UNITS = {"raw_hours": "ffs_unit_hours", "visits_days": "ffs_unit_days"}
DEVICES_SHOWN = 200
DEVICE_PREFIX = 8  # hex digits of a device's hash shown: enough to tell devices apart
HEADCOUNT_ROWS = 4
MIN_HEADCOUNTS = 2
MAX_PEOPLE = 10_000
# analytics.metrics applies a store's calibration to features computed with the estimator's
# default parameters: it is fitted on features computed with the same.
PARAMS = estimator.EstimatorParams()
# A head count's window and the windows smoothed with it must be over (and stored).
SETTLE = timedelta(seconds=estimator.WINDOW * (PARAMS.smooth + 1) + 60 * PARAMS.pad_minutes)
_WHOLE = re.compile(r"^[+-]?\d{1,9}$")
_HASH = re.compile(r"^[0-9a-f]{32}$")
_SHOWN_TEXT = 100  # characters of a rejected value shown back in its field

# The page's forms: which section each belongs to, and the notice once it is saved.
SECTIONS = {
    "metrics": "metrics",
    "retention": "retention",
    "add_device": "devices",
    "remove_device": "devices",
    "calibrate": "calibration",
    "forget_calibration": "calibration",
}
SAVED = {
    "metrics": "ffs_saved_metrics",
    "retention": "ffs_saved_retention",
    "add_device": "ffs_device_added",
    "remove_device": "ffs_device_removed",
    "calibrate": "ffs_calibrated",
    "forget_calibration": "ffs_calibration_forgotten",
}

Error = tuple[str, dict[str, object]]  # (message id, its fields)


class OwnersOnly(PorticoError):
    message_id = "ffs_error_owner_only"
    status = 403


class CalibrationRefused(Exception):
    """Head counts that cannot give a calibration; `message_id` says why."""

    def __init__(self, message_id: str) -> None:
        super().__init__(message_id)
        self.message_id = message_id


def add_routes(router: web.UrlDispatcher) -> None:
    """The page (portico/console_app.py calls this)."""
    resource = router.add_resource(PATH, name="footfall_settings")
    resource.add_route("GET", login_required(settings_page))
    resource.add_route("POST", login_required(save_settings))


# Which store --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Place:
    """The store the page is about, checked against the user's memberships."""

    membership: accounts.Membership
    memberships: list[accounts.Membership]
    stores: list[accounts.Store]
    store: accounts.Store | None  # None: the merchant has no store yet

    @property
    def owner(self) -> bool:
        return self.membership.role == OWNER

    def query(self) -> dict[str, str]:
        params = {"merchant": str(self.membership.merchant_id)}
        if self.store is not None:
            params["store"] = str(self.store.store_id)
        return params

    def url(self, path: str = PATH, **more: str) -> str:
        return f"{path}?{urlencode(self.query() | more)}"


async def find_place(request: web.Request, user_id: uuid.UUID, strict: bool) -> Place | None:
    """The store of the `merchant` and `store` parameters (by default the first merchant's
    first store); None when the user belongs to no merchant. Not the user's: 404. `strict`
    (a POST): the store must be named and belong to the merchant named."""
    db = request.app[DB]
    memberships = await accounts.memberships_of(db, user_id)
    if not memberships:
        return None
    membership = memberships[0]
    merchant_param = one_param(request, "merchant")
    if merchant_param:
        merchant_id = id_param(merchant_param, "merchant")
        found = next((m for m in memberships if m.merchant_id == merchant_id), None)
        if found is None:
            raise web.HTTPNotFound()
        membership = found
    store: accounts.Store | None = None
    store_param = one_param(request, "store")
    if store_param not in ("", "all"):
        store_id = id_param(store_param, "store")
        for candidate in [membership] if merchant_param else memberships:
            store = await accounts.get_store(db, candidate.merchant_id, store_id)
            if store is not None:
                membership = candidate
                break
        else:
            # The merchant picker changed while the previous merchant's store stayed chosen:
            # show the new merchant's first store. Anyone else's store does not exist here.
            if strict or not await _users_store(db, memberships, store_id):
                raise web.HTTPNotFound()
    elif strict:
        raise BadFilter("no store named", name="store")
    # Staff see only the stores they are given (as the dashboards: analytics/dashboards.py):
    # another store of the merchant is a 404 here too.
    stores = await accounts.visible_stores(db, membership.merchant_id, user_id)
    if store is not None and store.store_id not in {s.store_id for s in stores}:
        raise web.HTTPNotFound()
    return Place(membership, memberships, stores, store or (stores[0] if stores else None))


async def _users_store(
    db: asyncpg.Pool, memberships: list[accounts.Membership], store_id: uuid.UUID
) -> bool:
    for membership in memberships:
        if await accounts.get_store(db, membership.merchant_id, store_id) is not None:
            return True
    return False


# Reading the forms ---------------------------------------------------------------------------


@dataclass
class Submitted:
    """A form sent back: what was typed (shown again) and each bad field's error."""

    form: str = ""
    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, Error] = field(default_factory=dict)

    def value(self, name: str, current: object) -> str:
        return self.values[name] if name in self.values else str(current)


def _text(form: MultiDictProxy[Any], name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def whole_number(text: str, low: int, high: int) -> int | Error:
    """The number typed, or the error to show beside its field."""
    if not text:
        return ("ffs_error_required", {})
    text = text.replace("\N{MINUS SIGN}", "-")  # a typographic minus, pasted
    if not _WHOLE.match(text):
        return ("ffs_error_whole_number", {})
    number = int(text)
    if not low <= number <= high:
        return ("ffs_error_range", {"low": low, "high": high})
    return number


def _numbers(
    form: MultiDictProxy[Any], limits: Mapping[str, tuple[int, int]], submitted: Submitted
) -> dict[str, int]:
    numbers = {}
    for name, (low, high) in limits.items():
        text = submitted.values[name] = _text(form, name)[:_SHOWN_TEXT]
        parsed = whole_number(text, low, high)
        if isinstance(parsed, int):
            numbers[name] = parsed
        else:
            submitted.errors[name] = parsed
    return numbers


def local_time(text: str, timezone: str) -> datetime | None:
    """A datetime-local field's value (store time), or None when it is not one."""
    try:
        moment = datetime.fromisoformat(text.replace(" ", "T"))
    except ValueError:
        return None
    if not date(2000, 1, 1) <= moment.date() <= date(9000, 1, 1):
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=ZoneInfo(timezone))


# The forms' actions: each stores only when every field is good -------------------------------

# Each action runs on `db`, a connection in the transaction that also records its audit entry.
Action = Callable[
    [web.Request, asyncpg.Connection, accounts.Store, MultiDictProxy[Any]], Awaitable[Submitted]
]


async def _save_metrics(
    request: web.Request, db: asyncpg.Connection, store: accounts.Store, form: MultiDictProxy[Any]
) -> Submitted:
    submitted = Submitted("metrics")
    numbers = _numbers(form, {name: LIMITS[name] for name in FIELDS}, submitted)
    inside, detected = numbers.get("inside_rssi"), numbers.get("detected_rssi")
    if inside is not None and detected is not None and inside < detected:
        submitted.errors["inside_rssi"] = ("ffs_error_inside_weaker", {"detected": detected})
    if not submitted.errors:
        await update_settings(db, store.merchant_id, store.store_id, **numbers)
    return submitted


async def _save_retention(
    request: web.Request, db: asyncpg.Connection, store: accounts.Store, form: MultiDictProxy[Any]
) -> Submitted:
    submitted = Submitted("retention")
    numbers = _numbers(form, RETENTION_LIMITS, submitted)
    if not submitted.errors:
        await set_retention(db, store.merchant_id, Retention(**numbers))
    return submitted


async def _add_device(
    request: web.Request, db: asyncpg.Connection, store: accounts.Store, form: MultiDictProxy[Any]
) -> Submitted:
    submitted = Submitted("add_device")
    text = _text(form, "mac")
    mac = normalize_mac(text)
    if mac is None:
        submitted.errors["mac"] = ("ffs_error_mac", {})
    elif int(mac[:2], 16) & 0x01:
        submitted.errors["mac"] = ("ffs_error_mac_group", {})
    if submitted.errors:
        submitted.values["mac"] = text[:_SHOWN_TEXT]  # a bad value only: a good MAC is not shown
        return submitted
    assert mac is not None
    secret = request.app[SETTINGS].secret_key
    await list_fixed_device(db, secret, store.merchant_id, store.store_id, mac)
    return submitted


async def _remove_device(
    request: web.Request, db: asyncpg.Connection, store: accounts.Store, form: MultiDictProxy[Any]
) -> Submitted:
    submitted = Submitted("remove_device")
    hashed = _text(form, "device")
    if not _HASH.match(hashed):
        raise BadFilter("device is not a device hash", name="device")
    if not await unlist_fixed_hash(db, store.merchant_id, store.store_id, hashed):
        submitted.errors["device"] = ("ffs_error_not_listed", {})
    return submitted


async def _calibrate(
    request: web.Request, db: asyncpg.Connection, store: accounts.Store, form: MultiDictProxy[Any]
) -> Submitted:
    submitted = Submitted("calibrate")
    now = datetime.now(UTC)
    raw_hours = (await retention_of(db, store.merchant_id)).raw_hours
    counts: list[tuple[datetime, int]] = []
    for row in range(HEADCOUNT_ROWS):
        time_name, people_name = f"time_{row}", f"people_{row}"
        time_text = submitted.values[time_name] = _text(form, time_name)[:_SHOWN_TEXT]
        people_text = submitted.values[people_name] = _text(form, people_name)[:_SHOWN_TEXT]
        if not time_text and not people_text:
            continue
        moment = _headcount_time(time_text, store, now, raw_hours, submitted.errors, time_name)
        people = whole_number(people_text, 0, MAX_PEOPLE)
        if not isinstance(people, int):
            submitted.errors[people_name] = people
        elif moment is not None:
            counts.append((moment, people))
    if submitted.errors:
        return submitted
    if len(counts) < MIN_HEADCOUNTS:
        submitted.errors["calibration"] = ("ffs_error_too_few", {"count": MIN_HEADCOUNTS})
        return submitted
    try:
        calibration = await fit_headcounts(db, store, counts)
    except CalibrationRefused as refused:
        submitted.errors["calibration"] = (refused.message_id, {})
        return submitted
    await set_occupancy_calibration(db, store.merchant_id, store.store_id, calibration)
    return submitted


def _headcount_time(
    text: str,
    store: accounts.Store,
    now: datetime,
    raw_hours: int,
    errors: dict[str, Error],
    name: str,
) -> datetime | None:
    """A head count's time, when the observations around it are complete and still kept."""
    if not text:
        errors[name] = ("ffs_error_row_incomplete", {})
        return None
    moment = local_time(text, store.timezone)
    if moment is None:
        errors[name] = ("ffs_error_time", {})
    elif moment > now - SETTLE:
        errors[name] = ("ffs_error_time_recent", {"minutes": int(SETTLE.total_seconds() // 60)})
    elif moment - SETTLE < now - timedelta(hours=raw_hours):
        errors[name] = ("ffs_error_time_old", {"hours": raw_hours})
    else:
        return moment
    return None


async def _forget_calibration(
    request: web.Request, db: asyncpg.Connection, store: accounts.Store, form: MultiDictProxy[Any]
) -> Submitted:
    await set_occupancy_calibration(db, store.merchant_id, store.store_id, None)
    return Submitted("forget_calibration")


ACTIONS: Mapping[str, Action] = {
    "metrics": _save_metrics,
    "retention": _save_retention,
    "add_device": _add_device,
    "remove_device": _remove_device,
    "calibrate": _calibrate,
    "forget_calibration": _forget_calibration,
}


# Data the page needs beyond analytics.settings / retention / ingest ----------------------------


@dataclass(frozen=True)
class FixedDevice:
    device_hash: str
    reason: str  # 'listed' | 'detected'
    since: datetime
    long_days: int  # days with a long stay among those kept (the last 7)
    last_long_day: date | None
    longest: int | None  # seconds present on its longest such day


async def fixed_devices(
    db: asyncpg.Pool, merchant_id: uuid.UUID, store_id: uuid.UUID, limit: int = DEVICES_SHOWN
) -> tuple[list[FixedDevice], int]:
    """The store's staff and fixed devices (newest first, at most `limit`) and how many."""
    rows = await db.fetch(queries.fixed_devices, merchant_id, store_id, limit)
    total = await db.fetchval(queries.count_fixed_devices, merchant_id, store_id)
    return [FixedDevice(**dict(r)) for r in rows], total


async def unlist_fixed_hash(
    db: asyncpg.Pool, merchant_id: uuid.UUID, store_id: uuid.UUID, device_hash: str
) -> bool:
    """Take a device the merchant listed off the list by its hash; whether it was listed.
    (analytics.ingest.unlist_fixed_device does the same from a MAC, which the page never has.)"""
    result = await db.execute(queries.unlist_fixed_hash, merchant_id, store_id, device_hash)
    return result == "DELETE 1"


async def fit_headcounts(
    db: asyncpg.Pool, store: accounts.Store, counts: Sequence[tuple[datetime, int]]
) -> estimator.Calibration:
    """The store's occupancy calibration from head counts (a time, the people counted then):
    the features of each count's 5-minute window from the raw observations, then least
    squares. Randomised devices only (use_static=False): with a handful of counts a third
    weight would fit the noise; the Brno lab's own selection left it out too
    (analytics.occupancy.DEFAULT_PARAMS)."""
    features = [await _features_at(db, store, moment) for moment, _ in counts]
    if len({f[0] for f in features}) < 2:
        raise CalibrationRefused("ffs_error_flat")
    try:
        calibration = estimator.fit_calibration(
            features, [float(people) for _, people in counts], use_static=False
        )
    except ValueError:
        raise CalibrationRefused("ffs_error_flat") from None
    if calibration.w_random <= 0:
        raise CalibrationRefused("ffs_error_backwards")
    return calibration


async def _features_at(
    db: asyncpg.Pool, store: accounts.Store, moment: datetime
) -> tuple[float, float]:
    """(randomised, static) devices of the window holding `moment`, as the live estimate
    (analytics.metrics._people_now) computes them: the whole store, PARAMS."""
    window = estimator.window_of(moment.timestamp())
    before = estimator.WINDOW * PARAMS.smooth + 60 * PARAMS.pad_minutes
    rows = await db.fetch(
        queries.observations_between,
        store.merchant_id,
        store.store_id,
        datetime.fromtimestamp(window - before, UTC),
        datetime.fromtimestamp(window, UTC) + SETTLE,
    )
    observations = [
        estimator.Observation(
            r["seen_at"].timestamp(), r["device_hash"], r["rssi"], r["randomized"]
        )
        for r in rows
    ]
    return estimator.window_features(observations, [window], PARAMS)[window]


# The page ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Field:
    """One number field as the template draws it."""

    name: str
    label: str  # message id
    hint: str  # message id
    value: str
    low: int
    high: int
    unit: str  # message id
    default: str
    equivalent: str  # the saved value in minutes or hours, for durations
    error: Error | None


@dataclass(frozen=True)
class DeviceRow:
    device_hash: str  # for the remove form only; the page shows `prefix`
    prefix: str
    reason: str
    since: str  # store-local
    long_days: int
    last_long_day: str
    longest_hours: str


@dataclass(frozen=True)
class CalibrationView:
    w_random: str
    w_static: str
    sign: str
    intercept: str


def _metric_fields(current: FootfallSettings, submitted: Submitted, language: str) -> list[Field]:
    defaults = FootfallSettings()
    ours = submitted.form == "metrics"
    fields = []
    for name in FIELDS:
        low, high = LIMITS[name]
        saved, default = getattr(current, name), getattr(defaults, name)
        duration = name not in RSSI_FIELDS
        fields.append(
            Field(
                name=name,
                label=f"ffs_f_{name}",
                hint=f"ffs_f_{name}_hint",
                value=submitted.value(name, saved) if ours else str(saved),
                low=low,
                high=high,
                unit="ffs_unit_seconds" if duration else "ffs_unit_dbm",
                default=f"{default} ({fmt_duration(default, language)})"
                if duration
                else str(default),
                # The saved value's length; not beside a value typed and refused.
                equivalent=fmt_duration(saved, language) if duration and not ours else "",
                error=submitted.errors.get(name) if ours else None,
            )
        )
    return fields


def _retention_fields(current: Retention, submitted: Submitted) -> list[Field]:
    defaults = Retention()
    ours = submitted.form == "retention"
    return [
        Field(
            name=name,
            label=f"ffs_f_{name}",
            hint=f"ffs_f_{name}_hint",
            value=submitted.value(name, getattr(current, name))
            if ours
            else str(getattr(current, name)),
            low=low,
            high=high,
            unit=RETENTION_UNITS[name],
            default=str(getattr(defaults, name)),
            equivalent="",
            error=submitted.errors.get(name) if ours else None,
        )
        for name, (low, high) in RETENTION_LIMITS.items()
    ]


def _device_row(device: FixedDevice, zone: ZoneInfo) -> DeviceRow:
    return DeviceRow(
        device_hash=device.device_hash,
        prefix=device.device_hash[:DEVICE_PREFIX],
        reason=device.reason,
        since=device.since.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
        long_days=device.long_days,
        last_long_day=device.last_long_day.isoformat() if device.last_long_day else "",
        longest_hours=f"{device.longest / 3600:.1f}" if device.longest is not None else "",
    )


def _calibration_view(calibration: estimator.Calibration | None) -> CalibrationView | None:
    if calibration is None:
        return None
    intercept = calibration.intercept
    return CalibrationView(
        w_random=f"{calibration.w_random:.2f}",
        w_static=f"{calibration.w_static:.2f}",
        sign="−" if intercept < 0 else "+",
        intercept=f"{abs(intercept):.1f}",
    )


async def settings_page(request: web.Request, session: accounts.ConsoleSession) -> web.Response:
    place = await find_place(request, session.user.user_id, strict=False)
    return await _render(request, place, Submitted(), _saved_notice(request))


async def save_settings(request: web.Request, session: accounts.ConsoleSession) -> web.Response:
    place = await find_place(request, session.user.user_id, strict=True)
    if place is None or place.store is None:
        raise web.HTTPNotFound()
    if not place.owner:
        raise OwnersOnly(f"{session.user.email} is not an owner of {place.membership.merchant_id}")
    form = await request.post()
    kind = _text(form, "form")
    action = ACTIONS.get(kind)
    if action is None:
        raise BadFilter(f"no form {kind[:30]!r}", name="form")
    store = place.store
    async with request.app[DB].acquire() as conn, conn.transaction():
        before = await _audited(conn, store, kind)
        submitted = await action(request, conn, store, form)
        if not submitted.errors:
            await audit.record_change(
                conn,
                store.merchant_id,
                audit.Actor.user(session.user.user_id),
                f"footfall.{kind}",
                target_id=store.store_id,
                target_name=store.name,
                before=before,
                after=await _audited(conn, store, kind),
            )
    if submitted.errors:
        return await _render(request, place, submitted, None, status=400)
    return redirect(f"{place.url(done=kind)}#{SECTIONS[kind]}")


async def _audited(
    conn: asyncpg.Connection, store: accounts.Store, kind: str
) -> dict[str, Any] | None:
    """What the audit log shows of a form's settings: the store's numbers, the merchant's
    retention, how many fixed devices the store has (never a MAC or its hash), the store's
    calibration (None: none)."""
    merchant_id, store_id = store.merchant_id, store.store_id
    if kind == "metrics":
        return dataclasses.asdict(await settings_of(conn, merchant_id, store_id))
    if kind == "retention":
        return dataclasses.asdict(await retention_of(conn, merchant_id))
    if kind in ("add_device", "remove_device"):
        count = await conn.fetchval(queries.count_fixed_devices, merchant_id, store_id)
        return {"fixed_devices": count}
    calibration = await occupancy_calibration(conn, merchant_id, store_id)
    return None if calibration is None else dataclasses.asdict(calibration)


def _saved_notice(request: web.Request) -> str | None:
    """The form named by `done` (after a save's redirect), when it is one of the page's."""
    done = request.query.get("done", "")
    return done if done in SAVED else None


async def _render(
    request: web.Request,
    place: Place | None,
    submitted: Submitted,
    saved: str | None,
    status: int = 200,
) -> web.Response:
    assets = request.app[ASSETS]
    context: dict[str, Any] = {
        "place": place,
        "pages": PAGES,
        "style_url": assets.own["footfall.css"].url,
        "submitted": submitted,
        "section": SECTIONS.get(submitted.form or saved or ""),
        "saved": SAVED.get(saved or ""),
    }
    if place is not None and place.store is not None:
        context |= await _store_context(request, place, place.store, submitted)
    return render_page(request, "analytics/settings.html", status=status, **context)


async def _store_context(
    request: web.Request, place: Place, store: accounts.Store, submitted: Submitted
) -> dict[str, Any]:
    db = request.app[DB]
    language = request_language(request)
    merchant_id, store_id = store.merchant_id, store.store_id
    current = await settings_of(db, merchant_id, store_id)
    retention = await retention_of(db, merchant_id)
    devices, total = await fixed_devices(db, merchant_id, store_id)
    calibration = await occupancy_calibration(db, merchant_id, store_id)
    zone = ZoneInfo(store.timezone)
    headcounts = [
        (
            submitted.values.get(f"time_{row}", "") if submitted.form == "calibrate" else "",
            submitted.values.get(f"people_{row}", "") if submitted.form == "calibrate" else "",
        )
        for row in range(HEADCOUNT_ROWS)
    ]
    return {
        "metric_fields": _metric_fields(current, submitted, language),
        "retention_fields": _retention_fields(retention, submitted),
        "raw_hours": retention.raw_hours,
        "devices": [_device_row(d, zone) for d in devices],
        "devices_total": total,
        "mac_value": submitted.values.get("mac", "") if submitted.form == "add_device" else "",
        "calibration": _calibration_view(calibration),
        "headcounts": headcounts,
        "now_local": datetime.now(zone).strftime("%Y-%m-%dT%H:%M"),
        "errors": submitted.errors,
        "action": place.url(),
    }
