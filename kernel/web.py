"""The web shell shared by the portal and the console: app keys, templates, headers, errors."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import asyncpg
import jinja2
from aiohttp import web

from kernel.config import Settings

log = logging.getLogger("portico.web")

SETTINGS = web.AppKey("settings", Settings)
DB = web.AppKey("db", asyncpg.Pool)
TEMPLATES = web.AppKey("templates", jinja2.Environment)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# Pages carry no external resources: everything is served from our own origin.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self'; frame-ancestors 'none'; form-action 'self' http: https:"
)


def make_templates(*packages: str) -> jinja2.Environment:
    """One jinja2 environment over the `templates/` folders of the given packages."""
    loader = jinja2.ChoiceLoader([jinja2.PackageLoader(p, "templates") for p in packages])
    return jinja2.Environment(
        loader=loader,
        autoescape=jinja2.select_autoescape(["html", "xml"]),
        undefined=jinja2.StrictUndefined,
        enable_async=False,
        auto_reload=False,  # templates ship with the code; no stat() per request
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render(
    request: web.Request, template: str, status: int = 200, **context: object
) -> web.Response:
    env = request.app[TEMPLATES]
    text = env.get_template(template).render(**context)
    response = web.Response(text=text, status=status, content_type="text/html", charset="utf-8")
    response.headers["Cache-Control"] = "no-store"
    return response


SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
}


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    response = await handler(request)
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def returned(exc: web.HTTPException) -> web.Response:
    """A raised HTTPException (a redirect, a 404) as a plain response for a middleware to return.

    Left to propagate, aiohttp keeps the exception as the response (`resp = exc` in
    `RequestHandler._handle_request`), whose traceback holds that very frame: a reference cycle
    that keeps the request, and every frame and local the handler had, until the cyclic garbage
    collector runs. Under load a login a redirect raised so left ~40 objects each, and the
    collector's full passes over them paused the portal for 30–120 ms (docs/benchmarks.md)."""
    response = web.Response(
        status=exc.status, reason=exc.reason, body=exc.body, headers=exc.headers
    )
    for name, morsel in exc.cookies.items():
        response.cookies[name] = morsel
    return response


def client_ip(request: web.Request) -> str:
    return request.remote or ""
