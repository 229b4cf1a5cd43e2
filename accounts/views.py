"""Console sign-in and sign-out."""

from __future__ import annotations

import secrets

from aiohttp import web

from accounts import services
from accounts.web import (
    LOGIN_CSRF_COOKIE,
    SESSION,
    SESSION_COOKIE,
    clear_login_csrf_cookie,
    clear_session_cookie,
    redirect,
    render_page,
    safe_next,
    set_login_csrf_cookie,
    signed_in,
)
from kernel.web import DB, SETTINGS, client_ip

HOME_ROUTE = "dashboard"  # where a signed-in user lands
LOGIN_NOTICES = {"password_reset": "pr_done"}  # ?notice= shown above the sign-in form


def _url(request: web.Request, route: str) -> str:
    return str(request.app.router[route].url_for())


async def index(request: web.Request) -> web.StreamResponse:
    route = HOME_ROUTE if request.get(SESSION) else "login"
    return redirect(_url(request, route))


async def login_form(request: web.Request) -> web.StreamResponse:
    after = safe_next(request.query.get("next", ""))
    if request.get(SESSION):
        return redirect(after or _url(request, HOME_ROUTE))
    return _login_page(request, after=after or "")


async def login(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    email = str(form.get("email", ""))
    password = str(form.get("password", ""))
    after = safe_next(str(form.get("next", "")))
    db = request.app[DB]
    try:
        client = services.client_key(request.app[SETTINGS].secret_key, client_ip(request))
        user = await services.authenticate(db, email, password, client=client)
    except (services.InvalidCredentials, services.LoginLocked) as exc:
        return _login_page(request, email=email, error=exc, status=exc.status, after=after or "")
    response = await signed_in(request, user.user_id, after or _url(request, HOME_ROUTE))
    clear_login_csrf_cookie(response)
    return response


async def logout(request: web.Request) -> web.StreamResponse:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        await services.end_session(request.app[DB], token)
    response = redirect(_url(request, "login"))
    clear_session_cookie(response)
    return response


def _login_page(
    request: web.Request,
    email: str = "",
    error: services.AccountError | None = None,
    status: int = 200,
    after: str = "",
) -> web.Response:
    # Keep the browser's token across reloads and tabs; mint one on the first visit.
    token = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not 32 <= len(token) <= 64:
        token = secrets.token_urlsafe(32)
    response = render_page(
        request,
        "accounts/login.html",
        status=status,
        email=email,
        error=error,
        login_csrf_token=token,
        after=after,
        notice=LOGIN_NOTICES.get(request.query.get("notice", "")),
    )
    set_login_csrf_cookie(request, response, token)
    return response
