"""What a suspended merchant's members get from the console (docs/console.md, "A suspended
merchant"): its pages and forms answer 403 with the suspension's message, never the 404 of a
foreign id, and a form changes nothing.

`accounts.services.memberships_of`, every domain's tenant check, leaves a suspended merchant
out; this check runs before the handler (the composition root's `console_nav` middleware) and
says why:

- a request naming one of the user's suspended merchants (`merchant` or `merchant_id`, in the
  query or the form) is refused;
- a request whose path names a record of one of the user's suspended merchants (a router's or
  a voucher batch's id: their forms name no merchant) is refused, whichever other merchants the
  user has; the record's owner is found through its domain's named function (PATH_RECORDS), and
  only among the user's suspended merchants, so a stranger's id is still the handler's 404;
- a state-changing request of a user whose every merchant is suspended is refused too, whatever
  it names.

Neither applies to the user's own account (signing out, their sessions), the forms posted
before sign-in, or the advertiser's and operator's consoles: those belong to other roles and
answer as they do for anyone without them.

Lives in the composition root: it names the advertiser's and operator's paths, and asks the
controller and the portal who holds a router or a batch.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence

import asyncpg
from aiohttp import web
from multidict import MultiDictProxy

from accounts import services
from accounts.web import ANONYMOUS_FORMS, SAFE_METHODS, MerchantSuspended
from ads import advertiser_pages, report_pages
from controller import services as controller
from kernel.web import DB
from portal import vouchers
from portico import operator_pages

# Fields that name the merchant a page or form is for.
MERCHANT_FIELDS = ("merchant", "merchant_id")
# A user's own account, not a merchant's: a suspended merchant's member may still use them.
OWN_ACCOUNT_ROUTES = frozenset({"logout", "sessions_end_others", "session_end", *ANONYMOUS_FORMS})
# Consoles of other roles (an advertiser's member, a platform operator): a merchant's suspension
# changes nothing there.
OTHER_ROLES_PATHS = (advertiser_pages.PATH, report_pages.API, operator_pages.PATH)


async def _router_owner(
    db: asyncpg.Pool, router_id: str, among: Sequence[uuid.UUID]
) -> uuid.UUID | None:
    router = await controller.find_router(db, router_id)
    return router.merchant_id if router is not None and router.merchant_id in among else None


async def _batch_owner(
    db: asyncpg.Pool, batch_id: str, among: Sequence[uuid.UUID]
) -> uuid.UUID | None:
    try:
        return await vouchers.batch_owner(db, uuid.UUID(batch_id), among)
    except ValueError:  # not a batch id at all: the handler's 404
        return None


# Path parameters naming a merchant's record in routes whose forms name no merchant: which of
# the given merchants holds the record (None: none of them), asked of its own domain.
PATH_RECORDS: dict[
    str, Callable[[asyncpg.Pool, str, Sequence[uuid.UUID]], Awaitable[uuid.UUID | None]]
] = {"router_id": _router_owner, "batch_id": _batch_owner}


async def refuse_suspended(
    request: web.Request,
    live: list[services.Membership],
    suspended: list[services.Membership],
) -> None:
    """MerchantSuspended when the request is for one of the user's suspended merchants (see
    the module's docstring); nothing otherwise."""
    if not suspended or not _merchants_route(request):
        return
    changing = request.method not in SAFE_METHODS
    form = await request.post() if changing else None
    named = _named_merchants(request, form)
    for membership in suspended:
        if str(membership.merchant_id) in named:
            raise _refusal(membership)
    if changing and not live:
        raise _refusal(suspended[0])
    owner = await _path_owner(request, [m.merchant_id for m in suspended])
    for membership in suspended:
        if membership.merchant_id == owner:
            raise _refusal(membership)


async def _path_owner(request: web.Request, among: list[uuid.UUID]) -> uuid.UUID | None:
    """The merchant among `among` that holds a record the request's path names (PATH_RECORDS),
    if any."""
    for param, owner_of in PATH_RECORDS.items():
        value = request.match_info.get(param)
        if value is not None:
            owner = await owner_of(request.app[DB], value, among)
            if owner is not None:
                return owner
    return None


def _named_merchants(
    request: web.Request, form: MultiDictProxy[str | bytes | web.FileField] | None
) -> set[str]:
    named = {v for f in MERCHANT_FIELDS for v in request.query.getall(f, [])}
    if form is not None:
        named |= {v for f in MERCHANT_FIELDS for v in form.getall(f, []) if isinstance(v, str)}
    return {v.strip().lower() for v in named}


def _merchants_route(request: web.Request) -> bool:
    """Whether the route acts for a merchant: not the user's own account, nor another role's
    console."""
    if request.match_info.route.name in OWN_ACCOUNT_ROUTES:
        return False
    path = request.path
    return not any(path == p or path.startswith(p + "/") for p in OTHER_ROLES_PATHS)


def _refusal(membership: services.Membership) -> MerchantSuspended:
    return MerchantSuspended(
        f"merchant {membership.merchant_id} is suspended", merchant=membership.merchant_name
    )
