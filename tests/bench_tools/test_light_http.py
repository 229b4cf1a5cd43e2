"""The benches' light HTTP client (bench/light_http.py) against a real aiohttp server on
loopback: keep-alive, forms, redirects not followed, and the answers it refuses to guess at."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from bench.light_http import LightConnection, LightHttpError, parse_head


async def echo(request: web.Request) -> web.Response:
    form = await request.post()
    body = (
        f"{request.method} {form.get('name', '')} {request.transport.get_extra_info('peername')[0]}"
    )
    return web.Response(text=body)


async def redirect(request: web.Request) -> web.Response:
    raise web.HTTPSeeOther("/somewhere")


async def chunked(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse()
    response.enable_chunked_encoding()
    await response.prepare(request)
    await response.write(b"part")
    await response.write_eof()
    return response


async def closing(request: web.Request) -> web.Response:
    return web.Response(text="bye", headers={"Connection": "close"})


@pytest.fixture
async def server() -> AsyncIterator[int]:
    app = web.Application()
    app.add_routes(
        [
            web.get("/", echo),
            web.post("/", echo),
            web.post("/redirect", redirect),
            web.get("/chunked", chunked),
            web.get("/closing", closing),
        ]
    )
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    await runner.cleanup()


async def test_forms_and_keep_alive_from_the_given_address(server: int) -> None:
    conn = LightConnection("127.0.0.1", server, local_host="127.0.0.7")
    try:
        first = await conn.post_form("/", {"name": "小明 & co"})
        second = await conn.get("/")
        assert first.status == 200 and first.text() == "POST 小明 & co 127.0.0.7"
        assert second.text() == "GET  127.0.0.7"
        assert first.headers["content-type"].startswith("text/plain")
    finally:
        await conn.close()


async def test_a_redirect_is_an_answer_not_followed(server: int) -> None:
    conn = LightConnection("127.0.0.1", server)
    try:
        answer = await conn.post_form("/redirect", {})
        assert answer.status == 303 and answer.headers["location"] == "/somewhere"
    finally:
        await conn.close()


async def test_a_chunked_answer_is_refused_and_the_next_request_reconnects(server: int) -> None:
    conn = LightConnection("127.0.0.1", server)
    try:
        with pytest.raises(LightHttpError, match="chunked"):
            await conn.get("/chunked")
        assert (await conn.get("/")).status == 200
    finally:
        await conn.close()


async def test_connection_close_is_honoured(server: int) -> None:
    conn = LightConnection("127.0.0.1", server)
    try:
        assert (await conn.get("/closing")).text() == "bye"
        assert (await conn.get("/")).status == 200  # a new connection
    finally:
        await conn.close()


async def test_no_server_and_a_silent_server_are_errors() -> None:
    accepted: list[asyncio.StreamWriter] = []

    async def never_answer(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)

    silent = await asyncio.start_server(never_answer, "127.0.0.1", 0)
    port = silent.sockets[0].getsockname()[1]
    conn = LightConnection("127.0.0.1", port, timeout=0.5)
    try:
        with pytest.raises(LightHttpError, match="TimeoutError"):  # an OSError since 3.11
            await conn.get("/")
    finally:
        for writer in accepted:
            writer.close()
        silent.close()
        await silent.wait_closed()
    with pytest.raises(LightHttpError):
        await LightConnection("127.0.0.1", port).get("/")  # nothing listens there now


@pytest.mark.parametrize(
    "head",
    [b"garbage\r\n\r\n", b"HTTP/1.1 abc OK\r\n\r\n", b"HTTP/1.1 200 OK\r\nno colon\r\n\r\n"],
)
def test_malformed_heads_are_refused(head: bytes) -> None:
    with pytest.raises(LightHttpError):
        parse_head(head)
