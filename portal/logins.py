"""Login methods: each decides whether a shopper may enter and on what terms (an Admission),
then hands over to portal.grants. Each is switched on per store (portal_settings.login_methods)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from aiohttp import web

from kernel.errors import PorticoError
from portal.grants import Admission, store_admission
from portal.stores import Visit


class ShowSplash(Protocol):
    async def __call__(
        self, *, error: str | None = None, status: int = 200, coupon_code: str | None = None
    ) -> web.Response: ...


@dataclass(frozen=True)
class Arrival:
    """A form posted from the splash, whichever gateway sent the shopper (the gateway seam):
    the visit, the redirect every form carries back (openNDS's `fas`, a WiFiDog ticket), the
    shopper's language and fields, where this gateway's method forms post (`method_base`), and
    how it lets the shopper in (`admit`: the response that follows an Admission) or shows the
    splash again (`splash`, with an error or a claimed coupon)."""

    visit: Visit
    carried: str
    lang: str
    form: dict[str, str]
    method_base: str
    admit: Callable[[Admission], Awaitable[web.Response]]
    splash: ShowSplash


class TermsRequired(PorticoError):
    message_id = "error_terms_required"
    status = 400


class MethodDisabled(PorticoError):
    message_id = "error_method_disabled"
    status = 403


def require_method(visit: Visit, method: str) -> None:
    if method not in visit.portal.login_methods:
        raise MethodDisabled(f"{method} login is not enabled for this store")


def click_through(visit: Visit, *, accepted_terms: bool) -> Admission:
    """Click-through: the store's terms accepted, nothing else asked."""
    require_method(visit, "click")
    if not accepted_terms:
        raise TermsRequired("terms not accepted")
    return store_admission(visit, "click")
