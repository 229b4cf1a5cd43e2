"""The console's route table, read from the application itself: every (method, path template) it
answers, sub-applications included, and each template's path with its parameters filled in.

Whatever walks every console route reads it from here, so a route any package adds is walked
too: the guards' tests (tests/console/test_guards.py: tenant isolation, CSRF), the audit and
browser tests, and the console page benchmark (bench/console_pages.py).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping
from dataclasses import dataclass

from aiohttp import web

from accounts.web import SESSIONLESS
from analytics import api as analytics_api

# The routes anyone may open, signed in or not (every other route must refuse an anonymous
# request). Path templates, as the route table spells them.
PUBLIC = frozenset(
    {
        "/",  # sends a visitor to sign in, a signed-in user to the dashboard
        "/login",  # the sign-in form (its POST has a double-submit CSRF cookie)
        "/signup",  # merchant sign-up (likewise)
        "/signup/sent",
        "/signup/verify",  # the emailed link's page (its token is the credential)
        "/email-outbox",  # development only: sign-up mail comes before any merchant
        "/invite",  # an invitation's emailed link (its token is the credential)
        "/password/forgot",  # password reset (the same answer whatever the address)
        "/password/reset",  # the emailed link's page (its token is the credential)
        "/healthz",
        "/static/vendor/{name}",  # chart.js, from npm
        "/static/footfall/{name}",  # the dashboards' own script
        "/static/portal/look-preview.js",  # the Portal settings page's preview script
        "/api/advertiser/v1/openapi.json",  # the APIs' documents
        "/api/pos/v1/openapi.json",
    }
)
# Path parameters that name no tenant's record: every value is tried.
NON_ID_PARAMS: dict[str, tuple[str, ...]] = {"metric": tuple(analytics_api.METRICS)}
STATE_CHANGING = ("POST", "PUT", "PATCH", "DELETE")
_PARAM = re.compile(r"\{([^}:]+)(?::[^}]*)?\}")


class UnfilledParameter(LookupError):
    """A route's path parameter with no value to fill it: a kind of record the caller's ids do
    not hold, and no NON_ID_PARAMS entry."""

    def __init__(self, route: Route, param: str) -> None:
        super().__init__(f"{route}: no value for path parameter {{{param}}}")
        self.route = route
        self.param = param


@dataclass(frozen=True)
class Route:
    method: str
    template: str
    sessionless: bool  # a SESSIONLESS sub-application's: its own credentials, no cookie
    catch_all: bool = False  # a route for any method ("*"): may answer 405 to all but GET

    @property
    def params(self) -> list[str]:
        return _PARAM.findall(self.template)

    @property
    def public(self) -> bool:
        return self.template in PUBLIC

    def __str__(self) -> str:
        return f"{self.method} {self.template}"


def route_table(app: web.Application) -> list[Route]:
    """Every (method, path template) the console answers, HEAD aside (GET's twin); a route for
    any method ("*") stands for GET and each state-changing method."""
    sessionless: set[int] = set()
    for resource in app.router.resources():
        sub = resource.get_info().get("app")
        if sub is not None and sub.get(SESSIONLESS):
            sessionless.update(id(route) for route in sub.router.routes())
    seen: dict[tuple[str, str], Route] = {}
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource is not None else {}
        template = info.get("path") or info.get("formatter")
        if not template:
            raise ValueError(f"route {route!r} has no path template to read")
        methods = ("GET", *STATE_CHANGING) if route.method == "*" else (route.method,)
        for method in methods:
            if method != "HEAD":
                made = Route(method, template, id(route) in sessionless, route.method == "*")
                seen.setdefault((method, template), made)
    return list(seen.values())


def paths(route: Route, ids: Mapping[str, str]) -> list[str]:
    """The route's path with each parameter filled from `ids` (a record of that kind, by the
    parameter's name), every value of a NON_ID_PARAMS one: one path per combination. Raises
    UnfilledParameter for a parameter of neither kind."""
    choices: list[tuple[str, ...]] = []
    for param in route.params:
        if param in ids:
            choices.append((ids[param],))
        elif param in NON_ID_PARAMS:
            choices.append(NON_ID_PARAMS[param])
        else:
            raise UnfilledParameter(route, param)
    out = []
    for values in itertools.product(*choices):
        filled = iter(values)
        out.append(_PARAM.sub(lambda _m, filled=filled: next(filled), route.template))
    return out
