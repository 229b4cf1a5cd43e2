"""Plans and their limits (docs/console.md "Plans and their limits"): a merchant's plan caps
its stores, its routers in service and its seats (owners and staff, with pending invitations).
The plans and their numbers are data (the `plans` table, migration 0042); a limit of None is
unlimited. Operators set a merchant's plan (accounts/operators.py).

Every creation a plan caps calls `lock_plan` first inside its own transaction: the
merchant's row stays locked until that transaction ends, so two creations at the limit, at
once, are one after the other, and the second counts what the first added. Stores
(accounts/stores.py), invitations and their acceptance (accounts/invitations.py) check here;
routers, whose table is the controller's, count themselves and call `check`
(controller/provisioning.py). Lowering a plan below what a merchant has, or a plan's limits
(an operator's Plans page, accounts/operators.py `set_limits`), removes nothing: it only stops
further additions.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import asyncpg

from accounts import services
from kernel.sql import load_queries

__all__ = [
    "KINDS",
    "Plan",
    "PlanLimitReached",
    "PlanMerchants",
    "Usage",
    "all_plans",
    "check",
    "check_members",
    "check_seats",
    "check_stores",
    "localized",
    "lock_plan",
    "merchants_by_plan",
    "message",
    "plan_label",
    "plan_of",
    "usage",
]

queries = load_queries(__file__, "plans.sql")

KINDS = ("stores", "routers", "seats")


@dataclass(frozen=True)
class Plan:
    plan: str
    max_stores: int | None  # None: unlimited
    max_routers: int | None
    max_seats: int | None

    def limit(self, kind: str) -> int | None:
        return {"stores": self.max_stores, "routers": self.max_routers, "seats": self.max_seats}[
            kind
        ]


@dataclass(frozen=True)
class Usage:
    """What a merchant has against its plan's limits."""

    plan: Plan
    stores: int
    seats: int  # members and live invitations
    routers: int | None = None  # None: not counted (a page about stores or the team)

    def rows(self, *kinds: str) -> list[tuple[str, int, int | None]]:
        """(kind, used, limit) of `kinds` (none given: every one counted), as pages show them."""
        used = {"stores": self.stores, "routers": self.routers, "seats": self.seats}
        return [
            (kind, count, self.plan.limit(kind))
            for kind in kinds or KINDS
            if (count := used[kind]) is not None
        ]

    def over(self) -> list[str]:
        """The kinds of which the merchant has more than its plan allows (a plan lowered)."""
        return [kind for kind, used, limit in self.rows() if limit is not None and used > limit]


class PlanLimitReached(services.AccountError):
    """One more would go over the plan's limit: nothing was added. Its values name the plan
    (its id: pages show its label, `plan_label`) and the limit."""

    status = 409

    def __init__(self, kind: str, plan: Plan, *, message_id: str | None = None) -> None:
        limit = plan.limit(kind)
        super().__init__(
            f"the {plan.plan} plan allows {limit} {kind}", plan=plan.plan, limit=limit, kind=kind
        )
        self.message_id = message_id or f"error_plan_{kind}"
        self.kind = kind
        self.plan = plan


def plan_label(translate: Callable[..., str], plan: str) -> str:
    """The plan's name in the translator's language (its id when the catalog has none)."""
    text = translate(f"plan_{plan}")
    return plan if text == f"plan_{plan}" else text


def localized(exc: PlanLimitReached, translate: Callable[..., str]) -> dict[str, object]:
    """The error's values for its message in the translator's language (the plan by name)."""
    return {**exc.values, "plan": plan_label(translate, exc.plan.plan)}


def message(exc: PlanLimitReached, translate: Callable[..., str], **more: object) -> str:
    """The error's text in the translator's language (`more`: the merchant, for acceptance)."""
    return translate(exc.message_id, **localized(exc, translate), **more)


def check(plan: Plan, kind: str, used: int, *, message_id: str | None = None) -> None:
    """PlanLimitReached when one more than `used` goes over the plan's limit of `kind`."""
    limit = plan.limit(kind)
    if limit is not None and used + 1 > limit:
        raise PlanLimitReached(kind, plan, message_id=message_id)


async def all_plans(db: services.Executor) -> list[Plan]:
    """Every plan, in the order operators see them."""
    return [Plan(**dict(r)) for r in await db.fetch(queries.plans)]


async def plan_of(db: services.Executor, merchant_id: uuid.UUID) -> Plan:
    row = await db.fetchrow(queries.plan_of, merchant_id)
    if row is None:
        raise services.UnknownMerchantOrUser(f"no merchant {merchant_id}")
    return Plan(**dict(row))


async def lock_plan(conn: asyncpg.Connection, merchant_id: uuid.UUID) -> Plan:
    """The merchant's plan, with its row locked to the end of the caller's transaction (the
    caller is in one: without it the lock would go at once)."""
    if not conn.is_in_transaction():
        raise RuntimeError("lock_plan outside a transaction locks nothing")
    row = await conn.fetchrow(queries.lock_plan, merchant_id)
    if row is None:
        raise services.UnknownMerchantOrUser(f"no merchant {merchant_id}")
    return Plan(**dict(row))


async def check_stores(conn: asyncpg.Connection, merchant_id: uuid.UUID) -> None:
    """Lock the merchant and refuse one more store over its plan (PlanLimitReached)."""
    plan = await lock_plan(conn, merchant_id)
    check(plan, "stores", await conn.fetchval(queries.count_stores, merchant_id))


async def check_seats(conn: asyncpg.Connection, merchant_id: uuid.UUID, email: str) -> None:
    """Lock the merchant and refuse an invitation of `email` over its seats: members and live
    invitations, but for `email`'s own, which the new one replaces."""
    plan = await lock_plan(conn, merchant_id)
    check(plan, "seats", await conn.fetchval(queries.count_seats, merchant_id, email))


async def check_members(conn: asyncpg.Connection, merchant_id: uuid.UUID) -> None:
    """Lock the merchant and refuse one more member over its seats (an invitation accepted:
    its seat was counted while pending, but the plan may have been lowered since). Other
    pending invitations do not stop it: the first to accept joins."""
    plan = await lock_plan(conn, merchant_id)
    used = await conn.fetchval(queries.count_members, merchant_id)
    check(plan, "seats", used, message_id="error_plan_seats_accept")


async def usage(db: services.Executor, merchant_id: uuid.UUID, routers: int | None = None) -> Usage:
    """The merchant's plan and what it uses of it; its routers in service come from the
    controller, whose table they are (controller.services.router_count), when a page shows
    them."""
    plan = await plan_of(db, merchant_id)
    stores = await db.fetchval(queries.count_stores, merchant_id)
    seats = await db.fetchval(queries.count_seats, merchant_id, None)
    return Usage(plan, stores, seats, routers)


@dataclass(frozen=True)
class PlanMerchants:
    """How many merchants are on a plan, and how many of them have more than it allows."""

    merchants: int = 0
    over: int = 0


async def merchants_by_plan(
    db: services.Executor, routers: Mapping[uuid.UUID, int]
) -> dict[str, PlanMerchants]:
    """Each plan's merchants, and those over one of its limits at least (Usage.over; a plan
    without merchants is absent). `routers`: each merchant's routers in service, from the
    controller, whose table they are (controller.services.router_counts)."""
    by_plan = {p.plan: p for p in await all_plans(db)}
    found: dict[str, PlanMerchants] = {}
    for row in await db.fetch(queries.merchant_usages):
        plan = by_plan[row["plan"]]
        used = Usage(plan, row["stores"], row["seats"], routers.get(row["merchant_id"], 0))
        counted = found.get(plan.plan, PlanMerchants())
        found[plan.plan] = PlanMerchants(counted.merchants + 1, counted.over + bool(used.over()))
    return found
