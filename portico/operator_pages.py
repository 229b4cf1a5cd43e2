"""The operator's console pages (docs/console.md "Operator admin"), for platform operators
only (accounts.operators; anyone else gets 404, as if the pages did not exist):

- /operator: every merchant with when it was created, its stores, routers and seats against
  its plan's limits, plan and status; a form per merchant to set the plan and to suspend or
  unsuspend it; the plans and their limits (accounts/plans.py);
- POST /operator/merchants/<id>/plan and /operator/merchants/<id>/suspension;
- /operator/plans: each plan's limits (stores, routers, seats; a whole number or unlimited)
  in a form of its own, with how many merchants are on it and over its limits; POSTed there,
  a bad field comes back (400) with its error and nothing stored. Lowering a limit removes
  nothing (accounts.operators.set_limits).

It reads the routers through the controller's services, so it lives in the composition root.
"""

from __future__ import annotations

import uuid
from urllib.parse import urlencode

from aiohttp import web

from accounts import operators, plans
from accounts import services as accounts
from accounts.web import NotYours, login_required, redirect, render_page
from controller import services as controller
from kernel.web import DB

PATH = "/operator"
PLANS_PATH = PATH + "/plans"
NOTICES = {
    "plan": "op_notice_plan",
    "suspended": "op_notice_suspended",
    "unsuspended": "op_notice_unsuspended",
    "unchanged": "op_notice_unchanged",
}


def _operator(session: accounts.ConsoleSession) -> None:
    if not session.operator:  # read with the session, this request (services.session_for_token)
        raise NotYours(f"user {session.user.user_id} is no operator")


async def merchants_page(request: web.Request, session: accounts.ConsoleSession) -> web.Response:
    _operator(session)
    db = request.app[DB]
    return render_page(
        request,
        "accounts/operator.html",
        merchants=await operators.merchants(db),
        routers=await controller.router_counts(db),
        plans=await plans.all_plans(db),
        notice=NOTICES.get(request.query.get("notice", "")),
    )


async def set_plan(request: web.Request, session: accounts.ConsoleSession) -> web.Response:
    _operator(session)
    form = await request.post()
    plan = form.get("plan")
    changed = await operators.set_plan(
        request.app[DB],
        _merchant_id(request),
        plan if isinstance(plan, str) else "",
        session.user.user_id,
    )
    return redirect(f"{PATH}?notice={'plan' if changed else 'unchanged'}")


async def set_suspension(request: web.Request, session: accounts.ConsoleSession) -> web.Response:
    _operator(session)
    form = await request.post()
    suspended = {"1": True, "0": False}.get(str(form.get("suspended")))
    if suspended is None:  # not "unsuspend" by default: a form without its choice changes nothing
        raise operators.InvalidSuspension("suspended must be 1 or 0")
    changed = await operators.set_suspended(
        request.app[DB], _merchant_id(request), suspended, session.user.user_id
    )
    notice = ("suspended" if suspended else "unsuspended") if changed else "unchanged"
    return redirect(f"{PATH}?notice={notice}")


async def plans_page(request: web.Request, session: accounts.ConsoleSession) -> web.Response:
    _operator(session)
    saved = request.query.get("plan", "")
    notice = {"saved": "opp_saved", "unchanged": "op_notice_unchanged"}.get(
        request.query.get("notice", "")
    )
    return await _plans_page(request, notice=notice, saved=saved)


async def save_limits(request: web.Request, session: accounts.ConsoleSession) -> web.Response:
    _operator(session)
    db = request.app[DB]
    form = await request.post()
    plan = form.get("plan")
    plan = plan if isinstance(plan, str) else ""
    if plan not in [p.plan for p in await plans.all_plans(db)]:
        raise operators.InvalidPlan(f"no plan {plan[:20]!r}")
    limits, shown, errors = operators.check_limits(form)
    if limits is None:
        return await _plans_page(request, status=400, editing=plan, values=shown, errors=errors)
    changed = await operators.set_limits(db, plan, limits, session.user.user_id)
    query = urlencode({"notice": "saved" if changed else "unchanged", "plan": plan})
    return redirect(f"{PLANS_PATH}?{query}#plan-{plan}")


async def _plans_page(
    request: web.Request,
    *,
    status: int = 200,
    notice: str | None = None,
    saved: str = "",
    editing: str = "",
    values: dict[str, str] | None = None,
    errors: dict[str, operators.Error] | None = None,
) -> web.Response:
    """The plans with their limits, each in its form; `editing`'s form shows `values` and
    `errors` (a form that came back)."""
    db = request.app[DB]
    all_plans = await plans.all_plans(db)
    if not any(p.plan == saved for p in all_plans):
        saved, notice = "", None  # a notice names the plan saved: none, or none of the plans
    return render_page(
        request,
        "accounts/operator_plans.html",
        status=status,
        plans=all_plans,
        merchants=await plans.merchants_by_plan(db, await controller.router_counts(db)),
        kinds=plans.KINDS,
        notice=notice,
        saved=saved,
        editing=editing,
        values=values or {},
        errors=errors or {},
        max_limit=operators.MAX_LIMIT,
    )


def _merchant_id(request: web.Request) -> uuid.UUID:
    try:
        return uuid.UUID(request.match_info["merchant_id"])
    except ValueError:
        raise NotYours("a merchant id that is not a uuid") from None


def add_routes(router: web.UrlDispatcher) -> None:
    """The operator's pages (the composition root calls this)."""
    router.add_get(PATH, login_required(merchants_page), name="operator")
    router.add_post(
        PATH + "/merchants/{merchant_id}/plan", login_required(set_plan), name="operator_plan"
    )
    router.add_post(
        PATH + "/merchants/{merchant_id}/suspension",
        login_required(set_suspension),
        name="operator_suspension",
    )
    plans_resource = router.add_resource(PLANS_PATH, name="operator_plans")
    plans_resource.add_route("GET", login_required(plans_page))
    plans_resource.add_route("POST", login_required(save_limits))
