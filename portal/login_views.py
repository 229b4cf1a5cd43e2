"""Where each login method's forms arrive, whichever gateway sent the shopper.

A method's view is registered once for both gateways (`method_post`): under openNDS's
`/fas/<router>/<path>` and under WiFiDog's `/wifidog/<path>`. It reads the post as an Arrival
(`arrival`), decides with its method (portal/logins.py and the method's own module), and ends
with `arrival.admit(admission)` or `arrival.splash(error=…)`: the gateway does the rest.
"""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from kernel.web import Handler
from portal import views, wifidog
from portal.logins import Arrival


def method_post(routes: web.RouteTableDef, path: str, name: str) -> Callable[[Handler], Handler]:
    """Register a method's POST view under both gateways' paths."""

    def register(handler: Handler) -> Handler:
        routes.post(f"/fas/{{router_id}}/{path}", name=name)(handler)
        routes.post(f"{wifidog.PREFIX}{path}", name=f"wifidog_{name}")(handler)
        return handler

    return register


async def arrival(request: web.Request) -> Arrival:
    """The post as the seam sees it: openNDS's paths name the router, WiFiDog's do not."""
    if "router_id" in request.match_info:
        return await views.fas_arrival(request)
    return await wifidog.wifidog_arrival(request)
