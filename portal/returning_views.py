"""The returning shopper's Continue (portal/returning.py), under both gateways: checked again
(the splash was shown a while ago, and a post can be forged), then admitted as the identity the
shopper is known by."""

from __future__ import annotations

import logging

from aiohttp import web

from kernel.web import DB
from portal import identities, login_views, logins, returning, views

log = logging.getLogger("portico.portal.returning")
routes = web.RouteTableDef()


@login_views.method_post(routes, "returning", "returning")
async def returning_login(request: web.Request) -> web.Response:
    arrival = await login_views.arrival(request)
    request[views.RETRY_FORM] = (request.path, {"fas": arrival.carried, "lang": arrival.lang})
    visit = arrival.visit
    if visit.portal.returning_days <= 0:
        raise logins.MethodDisabled("returning shoppers are not let through at this store")
    db = request.app[DB]
    found = await returning.recognise(db, visit)
    if found is None:
        log.info("returning login refused at %s: not recognised", visit.router.router_id)
        return await arrival.splash(error=returning.NotReturning.message_id, status=403)
    if found.identity_hash is not None:
        # Keeps the device's link to the identity fresh (it is how this device is known).
        await identities.link_device(db, visit.merchant_id, visit.device, found.identity_hash)
    log.info(
        "returning login at %s (%s)",
        visit.router.router_id,
        "by identity" if found.identity_hash else "by device",
    )
    return await arrival.admit(returning.admission(visit, found))
