"""The voucher login's view, under both gateways (portal/login_views.py): the splash's voucher
form posts here; the code is redeemed (portal/vouchers.py) and the gateway admits the shopper,
or the splash comes back saying why not."""

from __future__ import annotations

import logging

from aiohttp import web

from kernel.web import DB, SETTINGS, client_ip
from portal import login_views, views, vouchers
from portal.logins import TermsRequired

log = logging.getLogger("portico.portal.vouchers")
routes = web.RouteTableDef()


@login_views.method_post(routes, "voucher", "voucher")
async def voucher_login(request: web.Request) -> web.Response:
    arrival = await login_views.arrival(request)
    form = arrival.form
    # A router that refuses by accident or answers late: the shopper's retry posts the same
    # code again, which the same device may redeem again for the time left.
    retry = {
        "fas": arrival.carried,
        "code": form.get("code", "")[: vouchers.MAX_TYPED],
        "accept": form.get("accept", ""),
        "lang": arrival.lang,
    }
    request[views.RETRY_FORM] = (request.path, retry)
    try:
        admission = await vouchers.voucher_login(
            request.app[DB],
            request.app[SETTINGS].secret_key,
            arrival.visit,
            typed=form.get("code", ""),
            accepted_terms=form.get("accept") == "1",
            ip=client_ip(request),
        )
    except (TermsRequired, vouchers.VoucherRefused) as refused:
        log.info(
            "voucher login refused at router %s: %s",
            arrival.visit.router.router_id,
            getattr(refused, "reason", "terms not accepted"),
        )
        return await arrival.splash(error=refused.message_id, status=refused.status)
    return await arrival.admit(admission)
