"""Platform operators (docs/console.md "Operator admin"): the people who run Portico. They see
every merchant (name, created, stores, routers and seats against its plan's limits, plan,
status), set its plan (accounts/plans.py), suspend or unsuspend it, and change what each plan
allows (`set_limits`). Only the command line makes an operator (`portico operator add`),
never a sign-up.

A suspended merchant's members cannot use the console for it (accounts.services.memberships_of
leaves it out, and the console says why), and its portal grants nobody (the portal reads
`accounts.services.merchant_suspended`, cached). Plans and suspension changes are in the
merchant's audit log, by the operator; a plan's new limits in the log of every merchant on it.
"""

from __future__ import annotations

import logging
import re
import unicodedata
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from accounts import audit, plans, services
from kernel.sql import load_queries

__all__ = [
    "MAX_LIMIT",
    "InvalidPlan",
    "InvalidSuspension",
    "Limits",
    "MerchantRow",
    "OperatorsOnly",
    "change_plan",
    "check_limits",
    "grant",
    "is_operator",
    "merchants",
    "set_limits",
    "set_plan",
    "set_suspended",
]

log = logging.getLogger("portico.operators")
queries = load_queries(__file__, "operators.sql")

MAX_LISTED = 1000
MAX_LIMIT = 100_000  # the most a plan's limit may be, short of unlimited
_WHOLE = re.compile(r"^[0-9]{1,9}$")

Limits = dict[str, int | None]  # a plan's limit of each kind (plans.KINDS); None: unlimited
Error = tuple[str, dict[str, object]]  # (message id, its values)


class OperatorsOnly(services.AccountError):
    message_id = "error_operators_only"
    status = 403


class InvalidPlan(services.AccountError):
    message_id = "error_invalid_plan"
    status = 400


class InvalidSuspension(services.AccountError):
    """A suspension form that says neither suspend nor unsuspend."""

    message_id = "error_invalid_suspension"
    status = 400


@dataclass(frozen=True)
class MerchantRow:
    merchant_id: uuid.UUID
    name: str
    created_at: datetime
    plan: str
    suspended_at: datetime | None
    stores: int
    members: int
    seats: int  # members and live invitations (accounts/plans.py)
    max_stores: int | None  # the plan's limits; None: unlimited
    max_routers: int | None
    max_seats: int | None


async def grant(conn: services.Executor, user_id: uuid.UUID) -> None:
    """Make the user an operator (the command line only: `portico operator add`)."""
    try:
        await conn.execute(queries.grant_operator, user_id)
    except asyncpg.ForeignKeyViolationError as exc:
        raise services.UnknownMerchantOrUser(f"no user {user_id}") from exc


async def is_operator(db: services.Executor, user_id: uuid.UUID) -> bool:
    return bool(await db.fetchval(queries.is_operator, user_id))


async def merchants(db: services.Executor, limit: int = MAX_LISTED) -> list[MerchantRow]:
    """Every merchant, newest first (at most `limit`)."""
    return [MerchantRow(**dict(r)) for r in await db.fetch(queries.merchants, limit)]


async def set_plan(
    db: asyncpg.Pool, merchant_id: uuid.UUID, plan: str, operator: uuid.UUID
) -> bool:
    """Set the merchant's plan, one of the `plans` table's (InvalidPlan); False when it had it
    already. A plan below what the merchant has is allowed: nothing is removed, and the
    merchant adds no more of what is over (accounts/plans.py)."""
    async with db.acquire() as conn:
        return await change_plan(conn, merchant_id, plan, audit.Actor.user(operator))


async def change_plan(
    conn: asyncpg.Connection, merchant_id: uuid.UUID, plan: str, actor: audit.Actor
) -> bool:
    """set_plan on the caller's connection (in its transaction, if any), by `actor`: an
    operator, or the demo's seed."""
    known = [p.plan for p in await plans.all_plans(conn)]
    if plan not in known:
        raise InvalidPlan(f"plan must be one of {', '.join(known)}, not {plan[:20]!r}")
    async with conn.transaction():
        row = await _merchant(conn, merchant_id)
        if row["plan"] == plan:
            return False
        await conn.execute(queries.set_plan, merchant_id, plan)
        await audit.record_change(
            conn,
            merchant_id,
            actor,
            "merchant.plan",
            target_id=merchant_id,
            target_name=row["name"],
            before={"plan": row["plan"]},
            after={"plan": plan},
        )
    return True


async def set_suspended(
    db: asyncpg.Pool, merchant_id: uuid.UUID, suspended: bool, operator: uuid.UUID
) -> bool:
    """Suspend or unsuspend the merchant; False when it was so already."""
    async with db.acquire() as conn, conn.transaction():
        row = await _merchant(conn, merchant_id)
        if (row["suspended_at"] is not None) == suspended:
            return False
        await conn.execute(queries.set_suspended, merchant_id, suspended)
        await audit.record_change(
            conn,
            merchant_id,
            audit.Actor.user(operator),
            "merchant.suspend" if suspended else "merchant.unsuspend",
            target_id=merchant_id,
            target_name=row["name"],
            before={"suspended": not suspended},
            after={"suspended": suspended},
        )
    return True


def check_limits(
    form: Mapping[str, object],
) -> tuple[Limits | None, dict[str, str], dict[str, Error]]:
    """The limits a plan's form asks for (None when a field is bad), the values to show back,
    and the error of each bad field. Each kind (plans.KINDS) is unlimited when its box
    `unlimited_<kind>` is ticked (its number is then not read), else `max_<kind>` must be a
    whole number from 1 to MAX_LIMIT (full-width digits are read as digits)."""
    limits: Limits = {}
    shown: dict[str, str] = {}
    errors: dict[str, Error] = {}
    for kind in plans.KINDS:
        typed = form.get(f"max_{kind}")
        text = unicodedata.normalize("NFKC", typed).strip() if isinstance(typed, str) else ""
        unlimited = form.get(f"unlimited_{kind}") == "1"
        shown[f"max_{kind}"] = "" if unlimited else text[:12]
        shown[f"unlimited_{kind}"] = "1" if unlimited else ""
        if unlimited:
            limits[kind] = None
        elif _WHOLE.match(text) and 1 <= int(text) <= MAX_LIMIT:
            limits[kind] = int(text)
        else:
            errors[f"max_{kind}"] = ("opp_error_limit", {"max": MAX_LIMIT})
    return (None if errors else limits), shown, errors


async def set_limits(
    db: asyncpg.Pool, plan: str, limits: Mapping[str, int | None], operator: uuid.UUID
) -> bool:
    """Set the plan's limits (check_limits' kinds; InvalidPlan for a plan not in the table);
    False when it had them already. Lowering one below what a merchant has removes nothing: the
    merchant keeps its stores, routers and members and adds no more (accounts/plans.py). The
    change is in the audit log of every merchant on the plan (`plan.limits`, by the operator,
    before and after), in its own transaction, and in the platform's log."""
    wanted = {f"max_{kind}": limits[kind] for kind in plans.KINDS}
    async with db.acquire() as conn, conn.transaction():
        # NO KEY UPDATE: a merchant being put on the plan meanwhile (KEY SHARE) is not held up.
        row = await conn.fetchrow(queries.plan_for_update, plan)
        if row is None:
            raise InvalidPlan(f"no plan {plan[:20]!r}")
        before = {field: row[field] for field in wanted}
        if before == wanted:
            return False
        await conn.execute(queries.set_limits, plan, *wanted.values())
        merchants = [r["merchant_id"] for r in await conn.fetch(queries.merchants_on, plan)]
        await audit.record_change_at_each(
            conn,
            merchants,
            audit.Actor.user(operator),
            "plan.limits",
            target_id=plan,
            target_name=plan,
            before=_audited(before),
            after=_audited(wanted),
        )
    log.info("plan %s limits set by operator %s: %s -> %s", plan, operator, before, wanted)
    return True


def _audited(limits: Mapping[str, int | None]) -> dict[str, int | str]:
    """Limits as the console shows them: unlimited by its name (accounts/audit_page.py)."""
    return {field: "unlimited" if limit is None else limit for field, limit in limits.items()}


async def _merchant(conn: asyncpg.Connection, merchant_id: uuid.UUID) -> asyncpg.Record:
    row = await conn.fetchrow(queries.merchant_for_update, merchant_id)
    if row is None:
        raise services.UnknownMerchantOrUser(f"no merchant {merchant_id}")
    return row
