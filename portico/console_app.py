"""The merchant console: wires the accounts and analytics views into one aiohttp application."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import asyncpg
from aiohttp import web

import accounts.messages
import analytics.messages
import controller.messages
from accounts import services as account_services
from accounts import views as account_views
from accounts.web import CATALOG, console_session, error_pages, login_required, merge_catalogs
from analytics import api as analytics_api
from analytics import dashboard_assets as footfall_assets
from analytics import dashboards as footfall_dashboards
from analytics import views as analytics_views
from controller import console as controller_console
from controller.commands import CommandSender
from kernel.config import Settings
from kernel.jobs import every
from kernel.web import DB, SETTINGS, TEMPLATES, make_templates, security_headers

log = logging.getLogger("portico.console")

PURGE_INTERVAL = 3600.0  # seconds between sweeps of expired sessions and old login attempts


def make_console_app(
    settings: Settings, db: asyncpg.Pool, sender: CommandSender | None = None
) -> web.Application:
    """The console application; the caller owns (opens and closes) the pool and the command
    sender (the Routers page's reboot and apply-config; without one they say so)."""
    app = web.Application(middlewares=[security_headers, error_pages, console_session])
    app[SETTINGS] = settings
    app[DB] = db
    if sender is not None:
        app[controller_console.SENDER] = sender
    app[TEMPLATES] = make_templates("accounts", "analytics", "controller")
    app[footfall_assets.ASSETS] = footfall_assets.load_assets()  # chart.js, read once
    app[CATALOG] = merge_catalogs(
        accounts.messages.MESSAGES, analytics.messages.MESSAGES, controller.messages.MESSAGES
    )
    add_routes(app.router)
    app.cleanup_ctx.append(_purge_periodically)
    return app


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/", account_views.index, name="index")
    login = router.add_resource("/login", name="login")
    login.add_route("GET", account_views.login_form)
    login.add_route("POST", account_views.login)
    router.add_post("/logout", account_views.logout, name="logout")
    router.add_get("/dashboard", login_required(analytics_views.dashboard), name="dashboard")
    analytics_api.add_routes(router)  # /api/footfall/<metric>
    footfall_dashboards.add_routes(router)  # /footfall pages
    router.add_get("/static/vendor/{name}", footfall_assets.serve_asset)  # chart.js (npm)
    router.add_get("/static/footfall/{name}", footfall_assets.serve_asset)
    controller_console.add_routes(router)
    router.add_get("/healthz", healthz, name="healthz")


async def healthz(request: web.Request) -> web.Response:
    return web.Response(text="ok")


async def _purge_periodically(app: web.Application) -> AsyncIterator[None]:
    task = asyncio.create_task(_purge_loop(app[DB]))
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _purge_loop(db: asyncpg.Pool) -> None:
    await every(
        PURGE_INTERVAL, lambda: account_services.purge_expired(db), log, "purge console sessions"
    )
