"""The console's contact budget page, /marketing/budget (docs/marketing.md, "The console"): a
merchant's contacts per shopper per day and per 7 days, quiet hours and the k-threshold
(marketing_settings; marketing/budget.py applies them). Every member may look; only an owner
may change it, each change in the audit log with the settings before and after."""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import time
from typing import Any

import asyncpg
from aiohttp import web

from accounts import audit
from accounts import services as accounts
from accounts.web import redirect, render_page
from kernel.sql import load_queries
from kernel.web import DB
from marketing import budget
from marketing.console_common import PATH, Place, asked, need_place, text, whole
from marketing.rule_form import Error

queries = load_queries(__file__, "console_budget.sql")

BUDGET_PATH = PATH + "/budget"
K_DEFAULT = 50  # migration 0045's marketing_settings.k_threshold default
BUDGET_LIMITS = {"max_per_day": (0, 50), "max_per_week": (0, 200), "k_threshold": (10, 10_000)}
_CLOCK = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)(:00)?$")


@dataclass(frozen=True)
class BudgetSettings:
    """A merchant's contact budget and k-threshold (marketing_settings, its defaults)."""

    max_per_day: int
    max_per_week: int
    quiet_from: time
    quiet_until: time
    k_threshold: int

    def audited(self) -> dict[str, Any]:
        return {
            "mkc_max_per_day": self.max_per_day,
            "mkc_max_per_week": self.max_per_week,
            "mkc_quiet_from": self.quiet_from.strftime("%H:%M"),
            "mkc_quiet_until": self.quiet_until.strftime("%H:%M"),
            "mkc_k_threshold": self.k_threshold,
        }

    def form(self) -> dict[str, str]:
        return {
            "max_per_day": str(self.max_per_day),
            "max_per_week": str(self.max_per_week),
            "quiet_from": self.quiet_from.strftime("%H:%M"),
            "quiet_until": self.quiet_until.strftime("%H:%M"),
            "k_threshold": str(self.k_threshold),
        }


async def read_budget(
    db: asyncpg.Pool | asyncpg.Connection, merchant_id: uuid.UUID
) -> BudgetSettings:
    row = await db.fetchrow(queries.budget, merchant_id)
    if row is None:
        d = budget.Settings()
        return BudgetSettings(d.max_per_day, d.max_per_week, d.quiet_from, d.quiet_until, K_DEFAULT)
    return BudgetSettings(**dict(row))


async def budget_page(request: web.Request, session: accounts.ConsoleSession) -> web.Response:
    place = await need_place(request, session, asked(request), owner=False)
    current = await read_budget(request.app[DB], place.merchant_id)
    return _budget_render(request, place, current.form(), {})


def check_budget(
    form: Mapping[str, Any],
) -> tuple[BudgetSettings | None, dict[str, str], dict[str, Error]]:
    """The settings the form makes (None when a field is bad), what was typed, the errors."""
    typed = {name: text(form, name, 20) for name in (*BUDGET_LIMITS, "quiet_from", "quiet_until")}
    errors: dict[str, Error] = {}
    numbers: dict[str, int] = {}
    for name, (low, high) in BUDGET_LIMITS.items():
        number = whole(typed[name])
        if number is None or not low <= number <= high:
            errors[name] = ("mkc_err_range", {"low": low, "high": high})
        else:
            numbers[name] = number
    if not errors.keys() & {"max_per_day", "max_per_week"} and (
        numbers["max_per_week"] < numbers["max_per_day"]
    ):
        errors["max_per_week"] = ("mkc_err_week_below_day", {"day": numbers["max_per_day"]})
    clocks: dict[str, time] = {}
    for name in ("quiet_from", "quiet_until"):
        match = _CLOCK.match(typed[name])
        if match is None:
            errors[name] = ("mkc_err_time", {})
        else:
            clocks[name] = time(int(match.group(1)), int(match.group(2)))
    if errors:
        return None, typed, errors
    settings = BudgetSettings(
        numbers["max_per_day"],
        numbers["max_per_week"],
        clocks["quiet_from"],
        clocks["quiet_until"],
        numbers["k_threshold"],
    )
    return settings, typed, {}


async def save_budget(request: web.Request, session: accounts.ConsoleSession) -> web.Response:
    form = await request.post()
    place = await need_place(request, session, asked(request, form), owner=True)
    settings, typed, errors = check_budget(form)
    if settings is None:
        return _budget_render(request, place, typed, errors, status=400)
    async with request.app[DB].acquire() as conn, conn.transaction():
        await conn.execute(queries.lock_budget, place.merchant_id)
        before = await read_budget(conn, place.merchant_id)
        if before == settings:
            return redirect(place.url(notice="unchanged") + "#budget")
        await conn.execute(
            queries.save_budget,
            place.merchant_id,
            settings.max_per_day,
            settings.max_per_week,
            settings.quiet_from,
            settings.quiet_until,
            settings.k_threshold,
        )
        await audit.record_change(
            conn,
            place.merchant_id,
            audit.Actor.user(session.user.user_id),
            "marketing_budget.update",
            target_name=place.membership.merchant_name,
            before=before.audited(),
            after=settings.audited(),
        )
    return redirect(place.url(notice="budget_saved") + "#budget")


def _budget_render(
    request: web.Request,
    place: Place,
    values: dict[str, str],
    errors: dict[str, Error],
    status: int = 200,
) -> web.Response:
    return render_page(
        request,
        "marketing/budget.html",
        status=status,
        place=place,
        merchant=place.membership,
        values=values,
        errors=errors,
        limits=BUDGET_LIMITS,
        action=place.url(BUDGET_PATH),
        back=place.url() + "#budget",
    )
