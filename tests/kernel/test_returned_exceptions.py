"""A redirect (or any HTTPException) a handler raises is returned by the error middlewares as a
plain response (kernel.web.returned): raised on to aiohttp, it would be kept as the response
while its traceback holds aiohttp's frame, a reference cycle that keeps the request and the
handler's locals alive until the cyclic garbage collector's next full pass."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Awaitable, Callable

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from accounts.web import error_pages as console_error_pages
from kernel.web import returned
from portal.views import error_pages as portal_error_pages


class Held:
    """Something a handler holds while it raises (a visit, a form)."""


def test_the_response_keeps_status_headers_body_and_cookies() -> None:
    exc = web.HTTPSeeOther("/next?a=1", headers={"X-Extra": "1"})
    exc.set_cookie("lang", "zh-CN", httponly=True)
    response = returned(exc)
    assert type(response) is web.Response
    assert (response.status, response.headers["Location"]) == (303, "/next?a=1")
    assert response.headers["X-Extra"] == "1"
    assert response.body == exc.body
    assert response.cookies["lang"].value == "zh-CN" and response.cookies["lang"]["httponly"]


async def _as_aiohttp_handles_it(
    middleware: Callable[..., Awaitable[web.StreamResponse]], held: list[weakref.ref[Held]]
) -> web.StreamResponse:
    async def handler(request: web.Request) -> web.StreamResponse:
        thing = Held()
        held.append(weakref.ref(thing))
        raise web.HTTPSeeOther(f"/online?{id(thing)}")

    request = make_mocked_request("POST", "/fas/r/login")
    # What aiohttp's RequestHandler._handle_request does with a raised HTTPException.
    try:
        return await middleware(request, handler)
    except web.HTTPException as exc:
        resp = exc
    return resp


@pytest.mark.parametrize("middleware", [portal_error_pages, console_error_pages])
async def test_a_raised_redirect_is_freed_without_the_garbage_collector(
    middleware: Callable[..., Awaitable[web.StreamResponse]],
) -> None:
    held: list[weakref.ref[Held]] = []
    gc.collect()
    gc.disable()
    try:
        response = await _as_aiohttp_handles_it(middleware, held)
        assert response.status == 303 and type(response) is web.Response
        assert held[0]() is None  # freed by reference counting alone: no cycle holds it
    finally:
        gc.enable()
