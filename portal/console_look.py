"""The console's Portal settings page, /portal (docs/console.md, "Portal settings"): one page per
store for its owners with the splash's look (brand name and colours, welcome texts, landing
page), its logo and background picture, and a live phone-sized preview of the splash in zh-CN
and English; it links to the pages that already set the rest of the portal (login methods,
terms and session policy on /logins; the ads' approval queue and block lists on /approvals)
rather than repeating them.

Owners only: staff get 403, a merchant or store that is not the user's a 404. A form with bad
input comes back (400) with the error beside its field and nothing stored; a good one is saved
with its audit entry (portal/look.py) and the page redirects back to itself, so the preview
shows the saved look even without JavaScript. With JavaScript (portal/static/look-preview.js,
served from the console), the previews follow the form as it is typed, through the preview
route's query: a draft is never stored.
"""

from __future__ import annotations

import uuid
from importlib import resources
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from multidict import MultiDictProxy

from accounts import audit
from accounts import services as accounts
from accounts.web import login_required, redirect, render_page, request_language
from ads import creative_errors
from kernel.errors import PorticoError
from kernel.web import DB, TEMPLATES
from portal import look, views
from portal.console_logins import Place, find_place

PATH = "/portal"
PICTURES_PATH = PATH + "/pictures"
PREVIEW_PATH = PATH + "/preview"
UPLOAD_ROUTES = frozenset({"portal_pictures"})  # the composition root lets these be large
LANGUAGES = ("zh-CN", "en")
SAVED = ("look", "logo", "background", "nothing")
SCRIPT = resources.files("portal").joinpath("static/look-preview.js").read_bytes()

# The preview is shown in a sandboxed frame of the settings page: it may be framed by the
# console itself only, runs no script and posts no form. It keeps the console's origin
# (allow-same-origin, harmless without allow-scripts) so that its pictures' requests carry the
# session cookie, which a sandboxed page's opaque origin would not send.
PREVIEW_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; "
        "frame-ancestors 'self'; form-action 'none'; sandbox allow-same-origin"
    ),
    "X-Frame-Options": "SAMEORIGIN",
    "Cache-Control": "no-store",
}

# Each refused upload's text here: the advertisers' texts name videos, which a store's
# pictures cannot be.
_UPLOAD_MESSAGES = {
    creative_errors.EmptyFile: "lk_error_empty",
    creative_errors.UnsupportedType: "lk_error_type",
    creative_errors.UnknownType: "lk_error_type_unknown",
    creative_errors.TooLarge: "lk_error_too_large",
    creative_errors.TooManyPixels: "lk_error_pixels",
    creative_errors.Animated: "lk_error_animated",
    creative_errors.BrokenImage: "lk_error_broken",
}


class OwnersOnly(PorticoError):
    message_id = "lk_error_owner_only"
    status = 403


def add_routes(router: web.UrlDispatcher) -> None:
    """The page, its forms, its preview and the static script (portico/console_app.py)."""
    page = router.add_resource(PATH, name="portal_settings")
    page.add_route("GET", login_required(settings_page))
    page.add_route("POST", login_required(save_look))
    router.add_post(PICTURES_PATH, login_required(save_picture), name="portal_pictures")
    router.add_get(PREVIEW_PATH, login_required(preview), name="portal_preview")
    router.add_get(
        PATH + "/picture/{store_id}/{image_id}",
        login_required(picture),
        name="portal_picture",
    )
    router.add_get("/static/portal/look-preview.js", script, name="portal_look_script")


def _text(values: MultiDictProxy[Any], name: str) -> str:
    value = values.get(name)
    return value if isinstance(value, str) else ""


async def _owned_place(
    request: web.Request, session: accounts.ConsoleSession, values: MultiDictProxy[Any]
) -> Place | None:
    place = await find_place(
        request.app[DB], session.user.user_id, _text(values, "merchant"), _text(values, "store")
    )
    if place is not None and not place.owner:
        raise OwnersOnly(f"{session.user.user_id} is not an owner of its merchant")
    return place


def _url(place: Place, **more: str) -> str:
    params = {"merchant": str(place.membership.merchant_id)}
    if place.store is not None:
        params["store"] = str(place.store.store_id)
    return f"{PATH}?{urlencode(params | more)}"


def _picture_url(store: accounts.Store, image_id: uuid.UUID) -> str:
    """Where the console serves a store's picture (the `picture` route)."""
    return f"{PATH}/picture/{store.store_id}/{image_id}?merchant={store.merchant_id}"


async def _stored(request: web.Request, store: accounts.Store) -> look.Look:
    found = await look.read_look(request.app[DB], store.merchant_id, store.store_id)
    return found if found is not None else look.default_look(store.name)


async def settings_page(request: web.Request, session: accounts.ConsoleSession) -> web.Response:
    place = await _owned_place(request, session, request.query)
    saved = request.query.get("saved", "")
    return await _render(request, place, saved=saved if saved in SAVED else "")


async def save_look(request: web.Request, session: accounts.ConsoleSession) -> web.Response:
    form = await request.post()
    place = await _owned_place(request, session, form)
    if place is None or place.store is None:
        raise web.HTTPNotFound()
    typed = {name: _text(form, name)[: look.MAX_URL + 10] for name in look.FORM_FIELDS}
    checked, errors = look.check_form(typed)
    if checked is None:
        return await _render(request, place, typed=typed, errors=errors, status=400)
    store = place.store
    changed = await look.save_look(
        request.app[DB],
        store.merchant_id,
        store.store_id,
        store.name,
        checked,
        audit.Actor.user(session.user.user_id),
    )
    return redirect(_url(place, saved="look" if changed else "nothing") + "#look")


async def save_picture(request: web.Request, session: accounts.ConsoleSession) -> web.Response:
    form = await request.post()
    place = await _owned_place(request, session, form)
    if place is None or place.store is None:
        raise web.HTTPNotFound()
    kind = _text(form, "kind")
    if kind not in look.IMAGE_KINDS:
        raise web.HTTPBadRequest(text="no picture kind")
    upload = form.get("file")
    data: bytes | None = None
    if _text(form, "remove") != "1":
        if isinstance(upload, web.FileField):
            # Its real size named in the refusal, but no more than the limit and a byte read.
            size = upload.file.seek(0, 2)
            upload.file.seek(0)
            data = upload.file.read(look.LIMITS[kind].max_bytes + 1)
            if size > len(data):
                refused = creative_errors.TooLarge("image", size, look.LIMITS[kind].max_bytes)
                return await _refused(request, place, kind, refused)
        if not data:
            data = b""  # no file chosen: "the file is empty"
    store = place.store
    try:
        await look.save_picture(
            request.app[DB],
            store.merchant_id,
            store.store_id,
            store.name,
            kind,
            data,
            audit.Actor.user(session.user.user_id),
        )
    except creative_errors.UploadRefused as refused:
        return await _refused(request, place, kind, refused)
    return redirect(_url(place, saved=kind) + "#pictures")


async def _refused(
    request: web.Request, place: Place, kind: str, refused: creative_errors.UploadRefused
) -> web.Response:
    """The page again with why the picture was refused beside its field (nothing stored)."""
    message_id = _UPLOAD_MESSAGES.get(type(refused), refused.message_id)
    errors = {kind: (message_id, dict(refused.values))}
    return await _render(request, place, errors=errors, status=refused.status)


async def preview(request: web.Request, session: accounts.ConsoleSession) -> web.Response:
    """The store's splash with its saved look, or with the draft in the query (`draft=1`): a
    draft with a bad field shows the saved value of that field."""
    place = await _owned_place(request, session, request.query)
    if place is None or place.store is None:
        raise web.HTTPNotFound()
    store = place.store
    lang = request.query.get("lang") or request_language(request)  # default: the console's
    if lang not in LANGUAGES:
        raise web.HTTPNotFound()
    shown = await _stored(request, store)
    if request.query.get("draft") == "1":
        typed = {n: request.query.get(n, getattr(shown, n)) for n in look.FORM_FIELDS}
        _checked, errors = look.check_form(typed)
        good = {n: typed[n] for n in look.FORM_FIELDS if n not in errors}
        if "text_color" in errors or "page_color" in errors:  # a pair: keep both as saved
            good.pop("text_color", None)
            good.pop("page_color", None)
        shown = look.Look(**(shown.fields() | good | _rest(shown)))

    def picture_url(image_id: uuid.UUID | None) -> str:
        return _picture_url(store, image_id) if image_id else ""

    body = views.preview_page(request.app[TEMPLATES], shown, lang, picture_url)
    return web.Response(
        body=body, content_type="text/html", charset="utf-8", headers=PREVIEW_HEADERS
    )


def _rest(shown: look.Look) -> dict[str, object]:
    """What the form does not edit, kept as stored."""
    return {
        "terms_version": shown.terms_version,
        "logo_id": shown.logo_id,
        "background_id": shown.background_id,
        "login_methods": shown.login_methods,
    }


async def picture(request: web.Request, session: accounts.ConsoleSession) -> web.Response:
    """A store's picture for the preview (the console's own origin: the preview loads nothing
    from another host)."""
    place = await _owned_place(request, session, request.query)
    if place is None:
        raise web.HTTPNotFound()
    try:
        store_id = uuid.UUID(request.match_info["store_id"])
        image_id = uuid.UUID(request.match_info["image_id"])
    except ValueError:
        raise web.HTTPNotFound() from None
    if not any(s.store_id == store_id for s in place.stores):
        raise web.HTTPNotFound()
    merchant_id = place.membership.merchant_id
    found = await look.picture(request.app[DB], merchant_id, store_id, image_id)
    response = look.picture_response(found)
    response.headers["Cache-Control"] = "private, max-age=31536000, immutable"
    return response


async def script(request: web.Request) -> web.Response:
    return web.Response(
        body=SCRIPT,
        content_type="text/javascript",
        charset="utf-8",
        headers={"Cache-Control": "no-cache"},
    )


async def _render(
    request: web.Request,
    place: Place | None,
    *,
    typed: dict[str, str] | None = None,
    errors: dict[str, look.Error] | None = None,
    saved: str = "",
    status: int = 200,
) -> web.Response:
    context: dict[str, object] = {}
    if place is not None and place.store is not None:
        store = place.store
        stored = await _stored(request, store)
        merchant = str(store.merchant_id)
        query = {"merchant": merchant, "store": str(store.store_id)}
        context = {
            "stored": stored,
            "values": typed if typed is not None else stored.fields(),
            "preview_urls": {
                lang: f"{PREVIEW_PATH}?{urlencode(query | {'lang': lang})}" for lang in LANGUAGES
            },
            "picture_url": {
                kind: _picture_url(store, image_id)
                for kind, image_id in (
                    ("logo", stored.logo_id),
                    ("background", stored.background_id),
                )
                if image_id is not None
            },
            "limits": {
                kind: {
                    "mb": f"{limit.max_bytes / (1024 * 1024):g}",
                    "mp": f"{limit.max_pixels / 1_000_000:g}",
                    "side": limit.max_side,
                }
                for kind, limit in look.LIMITS.items()
            },
            "logins_url": f"/logins?{urlencode(query)}",
            "approvals_url": f"/approvals?{urlencode({'merchant': merchant})}",
            "min_contrast": f"{look.MIN_CONTRAST:g}",
        }
    return render_page(
        request,
        "portal/console_look.html",
        status=status,
        place=place,
        errors=errors or {},
        saved=saved,
        path=PATH,
        pictures_path=PICTURES_PATH,
        **context,
    )
