"""Platform operators (docs/console.md "Operator admin"): the people who run Portico. They see
every merchant (name, created, stores, routers and seats against its plan's limits, plan,
status), set its plan (accounts/plans.py), and suspend or unsuspend it. Only the command
line makes an operator (`portico operator add`), never a sign-up.

A suspended merchant's members cannot use the console for it (accounts.services.memberships_of
leaves it out, and the console says why), and its portal grants nobody (the portal reads
`accounts.services.merchant_suspended`, cached). Plans and suspension changes are in the
merchant's audit log, by the operator.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from accounts import audit, plans, services
from kernel.sql import load_queries

__all__ = [
    "InvalidPlan",
    "InvalidSuspension",
    "MerchantRow",
    "OperatorsOnly",
    "change_plan",
    "grant",
    "is_operator",
    "merchants",
    "set_plan",
    "set_suspended",
]

queries = load_queries(__file__, "operators.sql")

MAX_LISTED = 1000


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


async def _merchant(conn: asyncpg.Connection, merchant_id: uuid.UUID) -> asyncpg.Record:
    row = await conn.fetchrow(queries.merchant_for_update, merchant_id)
    if row is None:
        raise services.UnknownMerchantOrUser(f"no merchant {merchant_id}")
    return row
