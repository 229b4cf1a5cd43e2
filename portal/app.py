"""The portal application factory: shopper pages served to phones behind routers."""

from __future__ import annotations

import asyncpg
from aiohttp import web

from controller.services import CommandSender
from kernel.config import Settings
from kernel.web import DB, SETTINGS, TEMPLATES, make_templates, security_headers
from portal.authmon_views import routes as authmon_routes
from portal.captive_api import routes as captive_api_routes
from portal.keys import SENDER
from portal.views import error_pages, routes
from portal.wifidog import routes as wifidog_routes


def make_portal_app(settings: Settings, db: asyncpg.Pool, sender: CommandSender) -> web.Application:
    """The caller owns the pool and the command sender (opened in its cleanup context)."""
    app = web.Application(middlewares=[security_headers, error_pages], client_max_size=64 * 1024)
    app[SETTINGS] = settings
    app[DB] = db
    app[SENDER] = sender
    app[TEMPLATES] = make_templates("portal")
    app.add_routes(routes)
    app.add_routes(authmon_routes)
    app.add_routes(wifidog_routes)
    app.add_routes(captive_api_routes)
    return app
