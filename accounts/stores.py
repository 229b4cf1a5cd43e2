"""A store's details: name, address, city, category, time zone and opening hours (issue 10,
docs/console.md "Stores"). The console's Stores page (accounts/store_pages.py) adds and edits
them; analytics and ad targeting read them (accounts.services.venue_facts).

`check_fields` reads a submitted form into `StoreDetails`, or says what is wrong with each bad
field (a message id and its values, for the page's language). `add_store` and `update_store`
write the details and record the change in the merchant's audit log (accounts/audit.py) in
one transaction.

Opening hours: per weekday (mon … sun) either closed or one span "HH:MM"–"HH:MM"; a span whose
closing time is not after its opening time runs past midnight, and 00:00–00:00 is all day.
"""

from __future__ import annotations

import functools
import re
import uuid
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from accounts import audit, plans
from accounts.services import MAX_NAME_LENGTH, MERCHANT_CATEGORIES, AccountError
from kernel.sql import load_queries

__all__ = [
    "CATEGORIES",
    "WEEKDAYS",
    "StoreDetails",
    "UnknownStore",
    "add_store",
    "check_fields",
    "list_store_details",
    "store_details",
    "time_zones",
    "update_store",
]

queries = load_queries(__file__, "stores.sql")

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
CATEGORIES = MERCHANT_CATEGORIES  # one list for merchants, stores and advertisers (0029, 0034)
MAX_ADDRESS = 300  # migration 0034's CHECK
MAX_CITY = 80  # migration 0029's CHECK
_TIME = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])$")
_SHOWN = 300  # characters of a typed value shown back in its field

Error = tuple[str, dict[str, object]]  # (message id, its values)
Hours = dict[str, tuple[str, str]]  # weekday -> (opens, closes); a day missing is closed


class UnknownStore(AccountError):
    message_id = "error_not_found"
    status = 404


@dataclass(frozen=True)
class StoreDetails:
    name: str
    address: str = ""
    city: str | None = None
    category: str = "other"
    timezone: str = "Asia/Shanghai"
    opening_hours: Hours = field(default_factory=dict)

    def record(self) -> dict[str, Any]:
        """The fields as the audit log keeps them (hours as {"mon": "09:00–18:00"})."""
        return {
            "name": self.name,
            "address": self.address,
            "city": self.city,
            "category": self.category,
            "timezone": self.timezone,
            "opening_hours": {d: f"{o}–{c}" for d, (o, c) in self.opening_hours.items()},
        }

    def form(self) -> dict[str, str]:
        """The values of the page's form."""
        values = {
            "name": self.name,
            "address": self.address,
            "city": self.city or "",
            "category": self.category,
            "timezone": self.timezone,
        }
        for day in WEEKDAYS:
            opens, closes = self.opening_hours.get(day, ("", ""))
            values[f"{day}_opens"], values[f"{day}_closes"] = opens, closes
        return values


@functools.cache
def time_zones() -> tuple[str, ...]:
    """The IANA time zones a store may be in (areas and cities, and UTC), sorted."""
    names = zoneinfo.available_timezones()
    area = ("Africa/", "America/", "Antarctica/", "Asia/", "Atlantic/", "Australia/")
    more = ("Europe/", "Indian/", "Pacific/")
    return (*sorted(n for n in names if n.startswith(area + more)), "UTC")


def check_fields(
    form: Mapping[str, Any],
) -> tuple[StoreDetails | None, dict[str, str], dict[str, Error]]:
    """The details a form asks for (None when a field is bad), the values to show back, and
    the error of each bad field."""
    values = {k: _text(form.get(k)) for k in _FORM_FIELDS}
    errors: dict[str, Error] = {}
    name = values["name"].strip()
    if not name or len(name) > MAX_NAME_LENGTH:
        errors["name"] = ("st_error_name", {"max": MAX_NAME_LENGTH})
    address = values["address"].strip()
    if len(address) > MAX_ADDRESS:
        errors["address"] = ("st_error_too_long", {"max": MAX_ADDRESS})
    city = values["city"].strip()
    if len(city) > MAX_CITY:
        errors["city"] = ("st_error_too_long", {"max": MAX_CITY})
    for key, text in (("name", name), ("address", address), ("city", city)):
        if key not in errors and not text.isprintable():
            errors[key] = ("st_error_control", {})
    if values["category"] not in CATEGORIES:
        errors["category"] = ("st_error_category", {})
    if values["timezone"] not in zoneinfo.available_timezones():  # a legacy name kept, too
        errors["timezone"] = ("st_error_timezone", {})
    hours: Hours = {}
    for day in WEEKDAYS:
        opens, closes = values[f"{day}_opens"].strip(), values[f"{day}_closes"].strip()
        if not opens and not closes:
            continue  # closed
        if not opens or not closes:
            errors[f"{day}_hours"] = ("st_error_hours_pair", {})
        elif not _TIME.match(opens) or not _TIME.match(closes):
            errors[f"{day}_hours"] = ("st_error_hours_format", {})
        elif opens == closes and opens != "00:00":
            errors[f"{day}_hours"] = ("st_error_hours_same", {})
        else:
            hours[day] = (opens, closes)
    shown = {k: v[:_SHOWN] for k, v in values.items()}
    if errors:
        return None, shown, errors
    details = StoreDetails(
        name, address, city or None, values["category"], values["timezone"], hours
    )
    return details, shown, errors


_HOURS_FIELDS = tuple(f"{day}_{end}" for day in WEEKDAYS for end in ("opens", "closes"))
_FORM_FIELDS = ("name", "address", "city", "category", "timezone", *_HOURS_FIELDS)


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


async def list_store_details(
    db: asyncpg.Pool | asyncpg.Connection, merchant_id: uuid.UUID
) -> list[tuple[uuid.UUID, StoreDetails]]:
    """The merchant's stores with their details, by name. The caller has checked the user may
    see them all (an owner)."""
    rows = await db.fetch(queries.store_details, merchant_id, None)
    return [(r["store_id"], _details(r)) for r in rows]


async def store_details(
    db: asyncpg.Pool | asyncpg.Connection, merchant_id: uuid.UUID, store_id: uuid.UUID
) -> StoreDetails | None:
    rows = await db.fetch(queries.store_details, merchant_id, store_id)
    return _details(rows[0]) if rows else None


async def add_store(
    db: asyncpg.Pool, merchant_id: uuid.UUID, details: StoreDetails, actor: audit.Actor
) -> uuid.UUID:
    """Add a store to the merchant, and its entry to the audit log; PlanLimitReached (and
    nothing added) when the merchant's plan allows no more stores."""
    store_id = uuid.uuid4()
    async with db.acquire() as conn, conn.transaction():
        await plans.check_stores(conn, merchant_id)
        await conn.execute(queries.insert_store_details, merchant_id, store_id, *_columns(details))
        await audit.record_change(
            conn,
            merchant_id,
            actor,
            "store.create",
            target_id=store_id,
            target_name=details.name,
            after=details.record(),
        )
    return store_id


async def update_store(
    db: asyncpg.Pool,
    merchant_id: uuid.UUID,
    store_id: uuid.UUID,
    details: StoreDetails,
    actor: audit.Actor,
) -> bool:
    """Change the merchant's store to `details` (UnknownStore when it has none with this id),
    with its entry in the audit log; False when nothing changed (and nothing is recorded)."""
    async with db.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(queries.lock_store_details, merchant_id, store_id)
        if row is None:
            raise UnknownStore(f"merchant {merchant_id} has no store {store_id}")
        before = _details(row)
        if before == details:
            return False
        await conn.execute(queries.update_store_details, merchant_id, store_id, *_columns(details))
        await audit.record_change(
            conn,
            merchant_id,
            actor,
            "store.update",
            target_id=store_id,
            target_name=details.name,
            before=before.record(),
            after=details.record(),
        )
    return True


def _columns(details: StoreDetails) -> tuple[object, ...]:
    hours = {d: {"opens": o, "closes": c} for d, (o, c) in details.opening_hours.items()}
    return (
        details.name,
        details.address,
        details.city,
        details.category,
        details.timezone,
        hours,
    )


def _details(row: asyncpg.Record) -> StoreDetails:
    hours = row["opening_hours"] or {}
    return StoreDetails(
        name=row["name"],
        address=row["address"],
        city=row["city"],
        category=row["category"],
        timezone=row["timezone"],
        opening_hours={d: (hours[d]["opens"], hours[d]["closes"]) for d in WEEKDAYS if d in hours},
    )
