"""What a suspended merchant's members get from the console (docs/console.md, "A suspended
merchant"): its pages and forms answer 403 with the suspension's message, never the 404 of a
foreign id, and a form changes nothing.

`accounts.services.memberships_of`, every domain's tenant check, leaves a suspended merchant
out; this check runs before the handler (the composition root's `console_nav` middleware) and
says why:

- a request naming one of the user's suspended merchants (`merchant` or `merchant_id`, in the
  query or the form) is refused;
- a state-changing request of a user whose every merchant is suspended is refused too, whatever
  it names (a router's or a batch's id in the path).

Neither applies to the user's own account (signing out, their sessions), the forms posted
before sign-in, or the advertiser's and operator's consoles: those belong to other roles and
answer as they do for anyone without them.

Lives in the composition root: it names the advertiser's and operator's paths.
"""

from __future__ import annotations

from aiohttp import web
from multidict import MultiDictProxy

from accounts import services
from accounts.web import ANONYMOUS_FORMS, SAFE_METHODS, MerchantSuspended
from ads import advertiser_pages, report_pages
from portico import operator_pages

# Fields that name the merchant a page or form is for.
MERCHANT_FIELDS = ("merchant", "merchant_id")
# A user's own account, not a merchant's: a suspended merchant's member may still use them.
OWN_ACCOUNT_ROUTES = frozenset({"logout", "sessions_end_others", "session_end", *ANONYMOUS_FORMS})
# Consoles of other roles (an advertiser's member, a platform operator): a merchant's suspension
# changes nothing there.
OTHER_ROLES_PATHS = (advertiser_pages.PATH, report_pages.API, operator_pages.PATH)


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
