"""The first-run checklist on the console's dashboard (docs/console.md "First-run
checklist"): for each merchant the user owns, what is still missing before shoppers see it
working — a store, a router, a branded portal, a staff member — each with the page that adds
it. A merchant with nothing missing has no checklist. It reads each domain through its
services, so it lives in the composition root, the one place that may import them all.
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from accounts import services as accounts
from controller import services as controller
from portal import stores as portal_stores


@dataclass(frozen=True)
class Step:
    key: str  # names its texts: cl_<key>, cl_<key>_hint
    done: bool
    link: str | None  # the page that does it (None: no console page yet)


@dataclass(frozen=True)
class Checklist:
    membership: accounts.Membership
    steps: list[Step]

    @property
    def done_count(self) -> int:
        return sum(step.done for step in self.steps)


async def checklists(db: asyncpg.Pool, memberships: list[accounts.Membership]) -> list[Checklist]:
    """The checklists of the merchants among `memberships` the user owns that miss something."""
    found = []
    for membership in memberships:
        if membership.role != "owner":
            continue  # staff cannot add stores, routers or staff
        merchant_id = membership.merchant_id
        steps = [
            Step(
                "store",
                bool(await accounts.list_stores(db, merchant_id)),
                f"/stores/new?merchant={merchant_id}",
            ),
            Step("router", bool(await controller.list_routers(db, merchant_id)), "/routers"),
            Step(
                "branding",
                await portal_stores.branded_store_count(db, merchant_id) > 0,
                f"/portal?merchant={merchant_id}",
            ),
            Step(
                "staff",
                await accounts.member_count(db, merchant_id, "staff") > 0,
                f"/team?merchant={merchant_id}",
            ),
        ]
        if not all(step.done for step in steps):
            found.append(Checklist(membership, steps))
    return found
