"""The merchant console: wires the accounts and analytics views into one aiohttp application."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import asyncpg
from aiohttp import web

import accounts.messages
import accounts.messages_console
import accounts.messages_operator
import accounts.messages_plans
import accounts.messages_reset
import accounts.messages_team
import ads.messages
import ads.messages_segments
import analytics.messages
import controller.messages
import marketing.messages
import marketing.messages_console
import marketing.messages_privacy
import marketing.messages_reports
import marketing.messages_segments
import portal.messages_email
import portal.messages_look
import portal.messages_sessions
import portal.messages_sms
import portal.messages_vouchers
from accounts import (
    audit_page,
    invitations,
    password_reset,
    password_reset_pages,
    session_pages,
    signup,
    signup_pages,
    store_pages,
    team_pages,
)
from accounts import email as account_email
from accounts import services as account_services
from accounts import views as account_views
from accounts.web import (
    CATALOG,
    NAV,
    PAGE_EXTRAS,
    SESSION,
    SESSIONLESS,
    UPLOAD_ROUTES,
    ConsoleNav,
    console_session,
    error_pages,
    login_required,
    merge_catalogs,
)
from ads import (
    advertiser_pages,
    advertiser_segments,
    advertisers,
    approvals_page,
    code_import_page,
    pos_api,
    pos_keys_page,
    pos_redemption,
    redemption_page,
    report_pages,
)
from ads import services as ads_services
from analytics import api as analytics_api
from analytics import dashboard_assets as footfall_assets
from analytics import dashboards as footfall_dashboards
from analytics import settings_page as footfall_settings
from analytics import views as analytics_views
from controller import console as controller_console
from controller.commands import CommandSender
from kernel.config import Settings
from kernel.jobs import every
from kernel.web import DB, SETTINGS, TEMPLATES, Handler, make_templates, security_headers
from marketing import console_pages as marketing_pages
from marketing import services as marketing_services
from portal import console_logins, console_look, console_sms, console_vouchers
from portico import checklist, messages_shopper_data, operator_pages, plan_usage, suspension
from portico.pos_refusals import PortalRefusalCounters

log = logging.getLogger("portico.console")

PURGE_INTERVAL = 3600.0  # seconds between sweeps of expired sessions and old login attempts


# Console forms are small; creative uploads are the largest body (ads/creative_files.py limits
# each file itself, this only bounds what is read before it looks). Only signed-in users' POSTs
# to the upload routes may be this large (accounts.web.console_session).
MAX_BODY = 64 * 1024 * 1024


def make_console_app(
    settings: Settings, db: asyncpg.Pool, sender: CommandSender | None = None
) -> web.Application:
    """The console application; the caller owns (opens and closes) the pool and the command
    sender (the Routers page's reboot and apply-config; without one they say so)."""
    app = web.Application(
        middlewares=[security_headers, error_pages, console_session, console_nav],
        client_max_size=MAX_BODY,
    )
    app[SETTINGS] = settings
    app[DB] = db
    app[signup_pages.EMAIL] = account_email.email_provider(settings, db)
    app[UPLOAD_ROUTES] = frozenset(advertiser_pages.UPLOAD_ROUTES) | console_look.UPLOAD_ROUTES
    if sender is not None:
        app[controller_console.SENDER] = sender
    app[TEMPLATES] = make_templates(
        "accounts", "ads", "analytics", "controller", "marketing", "portal"
    )
    app[footfall_assets.ASSETS] = footfall_assets.load_assets()  # chart.js, read once
    # Marketing's shared segments on the advertiser's Segments page (ads never imports marketing).
    app[advertiser_segments.SEGMENTS] = advertiser_segments.SegmentHooks(
        shared=marketing_services.shared_segments
    )
    app[CATALOG] = merge_catalogs(
        accounts.messages.MESSAGES,
        accounts.messages_console.AUDIT,
        accounts.messages_console.STORES,
        accounts.messages_console.SIGNUP,
        accounts.messages_console.CHECKLIST,
        accounts.messages_team.TEAM,
        accounts.messages_reset.RESET,
        accounts.messages_reset.SESSIONS,
        accounts.messages_operator.OPERATOR,
        accounts.messages_plans.PLANS,
        ads.messages.CONSOLE,
        ads.messages.CREATIVE_FILES,
        ads.messages.ADVERTISERS,
        ads.messages_segments.SEGMENTS,
        analytics.messages.MESSAGES,
        controller.messages.MESSAGES,
        portal.messages_sms.CONSOLE,
        portal.messages_vouchers.CONSOLE,
        portal.messages_email.CONSOLE,
        portal.messages_sessions.CONSOLE,
        portal.messages_look.CONSOLE,
        marketing.messages_privacy.AUDIT,  # shopper data requests of marketing alone (older)
        messages_shopper_data.AUDIT,  # shopper data requests (portico/shopper_data.py)
        marketing.messages.MESSAGES,
        marketing.messages_console.CONSOLE,
        marketing.messages_segments.SEGMENTS,
        marketing.messages_reports.REPORTS,  # a trigger's closed-loop report
    )
    add_routes(app.router)
    app.add_subapp(pos_api.PREFIX, _pos_api(settings, db))
    app.cleanup_ctx.append(_purge_periodically)
    return app


def _pos_api(settings: Settings, db: asyncpg.Pool) -> web.Application:
    """The POS redemption API (/api/pos/v1): API keys instead of the console's sessions, its
    refused codes counted in the portal's rate limits."""
    api = pos_api.make_app(PortalRefusalCounters(db, settings.secret_key))
    api[SESSIONLESS] = True
    return api


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/", account_views.index, name="index")
    login = router.add_resource("/login", name="login")
    login.add_route("GET", account_views.login_form)
    login.add_route("POST", account_views.login)
    signup_pages.add_routes(router)  # /signup, /signup/verify, /email-outbox (development)
    password_reset_pages.add_routes(router)  # /password/forgot, /password/reset
    router.add_post("/logout", account_views.logout, name="logout")
    router.add_get("/dashboard", login_required(_home), name="dashboard")
    analytics_api.add_routes(router)  # /api/footfall/<metric>
    footfall_dashboards.add_routes(router)  # /footfall pages
    footfall_settings.add_routes(router)  # /footfall/settings
    router.add_get("/static/vendor/{name}", footfall_assets.serve_asset)  # chart.js (npm)
    router.add_get("/static/footfall/{name}", footfall_assets.serve_asset)
    controller_console.add_routes(router)
    console_sms.add_routes(router)  # /sms-outbox
    console_logins.add_routes(router)  # /logins: methods, returning days, terms, consents
    console_look.add_routes(router)  # /portal: a store's splash look, pictures, live preview
    console_vouchers.add_routes(router)  # /vouchers: batches, codes, printable sheets
    redemption_page.add_routes(router)  # /till: coupons redeemed at the till
    pos_keys_page.add_routes(router)  # /till/api-keys: the POS API's keys
    code_import_page.add_routes(router)  # /till/import: an imported pool's codes
    advertiser_pages.add_routes(router)  # /advertiser: campaigns, line items, caps, creatives
    advertiser_segments.add_routes(router)  # /advertiser/segments: what merchants share
    report_pages.add_routes(router)  # the campaign report, its CSV and JSON (docs/ad-reports.md)
    approvals_page.add_routes(router)  # /approvals: the merchant's ad approvals and blocks
    store_pages.add_routes(router)  # /stores: a merchant's stores, added and edited (owners)
    audit_page.add_routes(router)  # /audit: the merchant's audit log (owners)
    session_pages.add_routes(router)  # /account/sessions: the user's own sessions
    operator_pages.add_routes(router)  # /operator: every merchant, plans, suspension
    team_pages.add_routes(router)  # /team: members and invitations (owners); /invite
    marketing_pages.add_routes(router)  # /marketing: tags, triggers, the contact budget
    router.add_get("/healthz", healthz, name="healthz")


@web.middleware
async def console_nav(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Which parts of the console the layout shows the signed-in user: a merchant's pages when
    they belong to one, the advertiser pages when they belong to an advertiser, the operator's
    when they are one; for a POST too, whose answer may be a page (a form come back with its
    error). The banner of a suspended merchant is on the pages of GETs: a POST for it is
    refused with the reason itself. A request for a merchant the platform suspended is refused
    with the reason (portico/suspension.py)."""
    session = request.get(SESSION)
    if session is None or request.method in ("HEAD", "OPTIONS"):
        return await handler(request)
    db = request.app[DB]
    user_id = session.user.user_id
    memberships, suspended = await account_services.memberships_and_suspended(db, user_id)
    request[NAV] = ConsoleNav(
        merchant=bool(memberships),
        advertiser=bool(await advertisers.memberships_of(db, user_id)),
        owner=any(m.role == "owner" for m in memberships),
        operator=session.operator,
        suspended=tuple(m.merchant_name for m in suspended) if request.method == "GET" else (),
    )
    await suspension.refuse_suspended(request, memberships, suspended)
    return await handler(request)


async def _home(
    request: web.Request, session: account_services.ConsoleSession
) -> web.StreamResponse:
    """Where a signed-in user lands: the dashboard, or for a member of advertisers only (no
    merchant), the advertiser console."""
    db = request.app[DB]
    user_id = session.user.user_id
    memberships = await account_services.memberships_of(db, user_id)
    if not memberships and await advertisers.memberships_of(db, user_id):
        return web.Response(status=303, headers={"Location": advertiser_pages.PATH})
    nav = request.get(NAV)
    if not memberships and nav is not None and nav.operator:
        return web.Response(status=303, headers={"Location": operator_pages.PATH})
    request[PAGE_EXTRAS] = {
        "checklists": await checklist.checklists(db, memberships),
        "plan_usages": await plan_usage.usages(db, memberships),
    }
    return await analytics_views.dashboard(request, session)


async def healthz(request: web.Request) -> web.Response:
    return web.Response(text="ok")


async def _purge_periodically(app: web.Application) -> AsyncIterator[None]:
    tasks = [
        asyncio.create_task(_purge_loop(app[DB])),
        asyncio.create_task(_expire_loop(app[DB])),
    ]
    yield
    for task in tasks:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


EXPIRE_INTERVAL = 60.0  # seconds between runs of the coupon codes' expiry job


async def _expire_loop(db: asyncpg.Pool) -> None:
    async def expire() -> None:
        await ads_services.expire_codes(db)

    await every(EXPIRE_INTERVAL, expire, log, "expire coupon codes past their end")


async def _purge_loop(db: asyncpg.Pool) -> None:
    async def purge() -> None:
        await account_services.purge_expired(db)
        await signup.purge(db)
        await invitations.purge(db)
        await password_reset.purge(db)
        await account_email.purge_outbox(db)
        await pos_redemption.purge_old_locks(db)

    await every(PURGE_INTERVAL, purge, log, "purge console sessions and old POS locks")
