"""The portal application factory: shopper pages served to phones behind routers."""

from __future__ import annotations

import asyncpg
from aiohttp import web

from controller.services import CommandSender
from kernel.config import Settings
from kernel.web import DB, SETTINGS, TEMPLATES, make_templates, security_headers
from portal import ad_views, sms_views
from portal.ad_views import routes as ad_routes
from portal.authmon_views import routes as authmon_routes
from portal.captive_api import routes as captive_api_routes
from portal.email_views import routes as email_routes
from portal.extend_views import routes as extend_routes
from portal.keys import OFFERS, SENDER
from portal.online import OfferHooks
from portal.returning_views import routes as returning_routes
from portal.sms_inbound import routes as sms_reply_routes
from portal.views import error_pages, routes
from portal.voucher_views import routes as voucher_routes
from portal.wallet_views import routes as wallet_routes
from portal.wifidog import routes as wifidog_routes


def make_portal_app(
    settings: Settings,
    db: asyncpg.Pool,
    sender: CommandSender,
    *,
    offers: OfferHooks | None = None,
) -> web.Application:
    """The caller owns the pool and the command sender (opened in its cleanup context).
    `offers`: where the online page's offers come from (marketing's, wired by the composition
    root); none, no offers."""
    app = web.Application(middlewares=[security_headers, error_pages], client_max_size=64 * 1024)
    app[SETTINGS] = settings
    app[DB] = db
    app[SENDER] = sender
    if offers is not None:
        app[OFFERS] = offers
    app[TEMPLATES] = make_templates("portal")
    app.add_routes(routes)
    app.add_routes(ad_routes)  # the splash ad's file, impression beacon and click
    app.on_shutdown.append(ad_views.count_pending)  # ghosts decided but not yet counted
    app.add_routes(authmon_routes)
    app.add_routes(wifidog_routes)
    app.add_routes(captive_api_routes)
    app.add_routes(extend_routes)  # Extend on the online page
    app.add_routes(email_routes)  # email login, consent withdrawal, terms pages
    app.add_routes(returning_routes)
    sms_views.install(app)  # its routes and its SMS provider
    app.add_routes(sms_reply_routes)  # shoppers' replies to texts (a "T" opts out)
    app.add_routes(voucher_routes)
    app.add_routes(wallet_routes)  # the shopper's coupons, from the online page
    return app
