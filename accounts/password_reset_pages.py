"""The console's password reset pages (accounts/password_reset.py, docs/console.md
"Password reset"), public:

- /password/forgot: an email address; the answer is the same whether it has an account;
- /password/reset?token=…: the email's link; a new password, then every session ends and the
  user signs in again.

The forms carry a double-submit CSRF cookie (accounts.web.ANONYMOUS_FORMS).
"""

from __future__ import annotations

from aiohttp import web

from accounts import password_reset
from accounts import services as accounts
from accounts.signup_pages import EMAIL
from accounts.web import (
    redirect,
    render_anonymous_form,
    render_page,
    request_language,
)
from kernel.web import DB, SETTINGS, client_ip

FORGOT_PATH = "/password/forgot"
RESET_PATH = "/password/reset"
Errors = dict[str, tuple[str, dict[str, object]]]


async def forgot_form(request: web.Request) -> web.Response:
    return _page(request, "forgot", "accounts/password_forgot.html", email="", errors={})


async def forgot(request: web.Request) -> web.Response:
    form = await request.post()
    address = _text(form.get("email"))[:254]
    settings = request.app[SETTINGS]
    try:
        await password_reset.request_reset(
            request.app[DB],
            request.app[EMAIL],
            email=address,
            client=accounts.client_key(settings.secret_key, client_ip(request)),
            secret_key=settings.secret_key,
            language=request_language(request),
            reset_url=settings.console_url + RESET_PATH,
        )
    except accounts.InvalidEmail:
        errors: Errors = {"email": ("pr_error_email", {})}
        return _page(
            request, "forgot", "accounts/password_forgot.html", 400, email=address, errors=errors
        )
    except password_reset.ResetThrottled as exc:
        errors = {"email": (exc.message_id, {})}
        return _page(
            request, "forgot", "accounts/password_forgot.html", 429, email=address, errors=errors
        )
    return render_page(request, "accounts/password_sent.html", email=address)


async def reset_form(request: web.Request) -> web.Response:
    token = request.query.get("token", "")
    if not await password_reset.link_is_live(request.app[DB], token):
        raise password_reset.ResetLinkInvalid("reset link unknown, used or expired")
    return _page(request, "reset", "accounts/password_reset.html", token=token, errors={})


async def reset(request: web.Request) -> web.Response:
    form = await request.post()
    token = _text(form.get("token"))
    try:
        await password_reset.reset_password(request.app[DB], token, _text(form.get("password")))
    except accounts.WeakPassword:
        limits = {"min": accounts.MIN_PASSWORD_LENGTH, "max": accounts.MAX_PASSWORD_LENGTH}
        errors: Errors = {"password": ("su_error_password", limits)}
        return _page(
            request, "reset", "accounts/password_reset.html", 400, token=token, errors=errors
        )
    return redirect("/login?notice=password_reset")


def _page(
    request: web.Request, form: str, template: str, status: int = 200, **context: object
) -> web.Response:
    return render_anonymous_form(
        request,
        f"password_{form}",
        template,
        status=status,
        min_password=accounts.MIN_PASSWORD_LENGTH,
        **context,
    )


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def add_routes(router: web.UrlDispatcher) -> None:
    """The password reset pages (the composition root calls this)."""
    forgot_resource = router.add_resource(FORGOT_PATH, name="password_forgot")
    forgot_resource.add_route("GET", forgot_form)
    forgot_resource.add_route("POST", forgot)
    reset_resource = router.add_resource(RESET_PATH, name="password_reset")
    reset_resource.add_route("GET", reset_form)
    reset_resource.add_route("POST", reset)
