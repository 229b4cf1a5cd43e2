"""The public sign-up pages of the console (accounts/signup.py, docs/console.md "Sign-up"):

- /signup: email, password and the merchant's name. A bad field comes back (400) with its
  error; a good form sends the email and shows /signup/sent, whatever the address (an
  address with an account gets a note instead of a link, and the page says the same).
- /signup/verify?token=…: the email's link. Opening it shows a button (mail scanners open
  links; only a person presses the button); pressing it creates the account and signs in.
- /email-outbox: the development email provider's outbox, outside production only (the way
  to the link when nothing is sent).

The forms carry a double-submit CSRF cookie (accounts.web.ANONYMOUS_FORMS).
"""

from __future__ import annotations

from aiohttp import web

from accounts import email, signup
from accounts import services as accounts
from accounts.web import (
    redirect,
    render_anonymous_form,
    render_page,
    request_language,
    signed_in,
)
from kernel.web import DB, SETTINGS, client_ip

PATH = "/signup"
SENT_PATH = "/signup/sent"
VERIFY_PATH = "/signup/verify"
OUTBOX_PATH = "/email-outbox"
EMAIL = web.AppKey("console_email", email.EmailProvider)  # set by the composition root
_SHOWN = 254  # characters of a typed value shown back


async def signup_form(request: web.Request) -> web.Response:
    return _form(request, {"email": "", "merchant_name": ""}, {})


async def submit_signup(request: web.Request) -> web.Response:
    form = await request.post()
    values = {k: _text(form.get(k)) for k in ("email", "password", "merchant_name")}
    errors = _field_errors(values)
    shown = {"email": values["email"][:_SHOWN], "merchant_name": values["merchant_name"][:_SHOWN]}
    if errors:
        return _form(request, shown, errors, status=400)
    settings = request.app[SETTINGS]
    try:
        await signup.request_signup(
            request.app[DB],
            request.app[EMAIL],
            email=values["email"],
            password=values["password"],
            merchant_name=values["merchant_name"],
            client=accounts.client_key(settings.secret_key, client_ip(request)),
            language=request_language(request),
            verify_url=settings.console_url + VERIFY_PATH,
        )
    except (signup.SignupThrottled, email.EmailSendFailed) as exc:
        return _form(request, shown, {"form": (exc.message_id, {})}, status=exc.status)
    return redirect(SENT_PATH)


def _field_errors(values: dict[str, str]) -> dict[str, tuple[str, dict[str, object]]]:
    errors: dict[str, tuple[str, dict[str, object]]] = {}
    try:
        accounts.check_email(values["email"])
    except accounts.InvalidEmail:
        errors["email"] = ("su_error_email", {})
    try:
        accounts.check_password(values["password"])
    except accounts.WeakPassword:
        limits = {"min": accounts.MIN_PASSWORD_LENGTH, "max": accounts.MAX_PASSWORD_LENGTH}
        errors["password"] = ("su_error_password", limits)
    try:
        accounts.clean_name(values["merchant_name"])
    except accounts.InvalidName:
        errors["merchant_name"] = ("su_error_merchant_name", {"max": accounts.MAX_NAME_LENGTH})
    return errors


def _form(
    request: web.Request,
    values: dict[str, str],
    errors: dict[str, tuple[str, dict[str, object]]],
    status: int = 200,
) -> web.Response:
    return render_anonymous_form(
        request,
        "signup",
        "accounts/signup.html",
        status=status,
        values=values,
        errors=errors,
        min_password=accounts.MIN_PASSWORD_LENGTH,
    )


async def sent_page(request: web.Request) -> web.Response:
    return render_page(request, "accounts/signup_sent.html", outbox=_outbox_shown(request))


async def verify_form(request: web.Request) -> web.Response:
    token = request.query.get("token", "")
    if not await signup.link_is_live(request.app[DB], token):
        raise signup.SignupLinkInvalid("sign-up link unknown, used or expired")
    return render_anonymous_form(
        request, "signup_verify", "accounts/signup_verify.html", token=token
    )


async def verify(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    user = await signup.complete_signup(request.app[DB], _text(form.get("token")))
    return await signed_in(request, user.user_id, "/dashboard")


def _outbox_shown(request: web.Request) -> bool:
    settings = request.app[SETTINGS]
    return settings.email_provider == "outbox" and not settings.production


async def outbox_page(request: web.Request) -> web.Response:
    """What the outbox provider kept, newest first: a development tool, so not in production
    (every message to everyone is on it)."""
    if not _outbox_shown(request):
        raise web.HTTPNotFound()
    messages = await email.outbox(request.app[DB])
    return render_page(request, "accounts/email_outbox.html", messages=messages)


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def add_routes(router: web.UrlDispatcher) -> None:
    """The sign-up pages and the email outbox (the composition root calls this)."""
    resource = router.add_resource(PATH, name="signup")
    resource.add_route("GET", signup_form)
    resource.add_route("POST", submit_signup)
    router.add_get(SENT_PATH, sent_page, name="signup_sent")
    verify_resource = router.add_resource(VERIFY_PATH, name="signup_verify")
    verify_resource.add_route("GET", verify_form)
    verify_resource.add_route("POST", verify)
    router.add_get(OUTBOX_PATH, outbox_page, name="email_outbox")
