"""What each merchant the user owns uses of its plan, for the console's dashboard ("Stores
3 / 5 · Routers 4 / 20 · Seats 2 / 10"; accounts/plans.py). Routers are the controller's and
the rest the accounts', so it lives in the composition root, which may import both."""

from __future__ import annotations

import uuid

import asyncpg

from accounts import plans
from accounts import services as accounts
from controller import services as controller


async def usages(
    db: asyncpg.Pool, memberships: list[accounts.Membership]
) -> dict[uuid.UUID, plans.Usage]:
    """The usage of each merchant among `memberships` that the user owns (staff see none)."""
    found = {}
    for membership in memberships:
        if membership.role == "owner":
            merchant_id = membership.merchant_id
            routers = await controller.router_count(db, merchant_id)
            found[merchant_id] = await plans.usage(db, merchant_id, routers)
    return found
