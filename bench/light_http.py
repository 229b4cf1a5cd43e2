"""A light HTTP/1.1 load generator for the benches whose load cannot be a wrk script (a login
that reads its SMS code from the database between two posts).

The aiohttp client took about 1.3 ms of CPU a login on a 2-core machine, from the same cores the
portal, PostgreSQL and the broker need; this one keeps a connection open per shopper and does
only what a bench needs: a request out, a status line, headers and a Content-Length body back.
Anything else (a chunked body, a malformed answer) is an error, never a guess.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from urllib.parse import urlencode

MAX_HEAD = 64 * 1024  # bytes of status line and headers at most
MAX_BODY = 8 * 1024 * 1024


class LightHttpError(Exception):
    """An answer this client does not read, or a connection that broke."""


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]  # names lowercased; a repeated header keeps its last value
    body: bytes

    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


class LightConnection:
    """One keep-alive connection to `host:port` from `local_host` (a shopper's own address),
    opened when first needed and again after the server closed it."""

    def __init__(self, host: str, port: int, local_host: str | None = None, timeout: float = 20):
        self._host, self._port = host, port
        self._local = (local_host, 0) if local_host else None
        self._timeout = timeout
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def get(self, path: str) -> Answer:
        return await self.request("GET", path)

    async def post_form(self, path: str, fields: dict[str, str]) -> Answer:
        body = urlencode(fields).encode()
        return await self.request("POST", path, body, "application/x-www-form-urlencoded")

    async def request(
        self,
        method: str,
        path: str,
        body: bytes = b"",
        content_type: str = "",
        headers: dict[str, str] | None = None,
    ) -> Answer:
        head = f"{method} {path} HTTP/1.1\r\nHost: {self._host}:{self._port}\r\n"
        if body or method == "POST":
            head += f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
        for name, value in (headers or {}).items():
            head += f"{name}: {value}\r\n"
        message = head.encode("latin-1") + b"\r\n" + body
        try:
            async with asyncio.timeout(self._timeout):
                return await self._exchange(message)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
            await self.close()
            raise LightHttpError(f"{type(exc).__name__}: {exc}") from exc
        except BaseException:
            await self.close()  # a timeout or a bad answer: the connection is in an unknown state
            raise

    async def _exchange(self, message: bytes) -> Answer:
        if self._writer is None or self._writer.is_closing():
            self._reader, self._writer = await asyncio.open_connection(
                self._host, self._port, local_addr=self._local, limit=MAX_HEAD
            )
        assert self._reader is not None
        self._writer.write(message)
        head = await self._reader.readuntil(b"\r\n\r\n")
        status, headers = parse_head(head)
        if "chunked" in headers.get("transfer-encoding", ""):
            raise LightHttpError("a chunked answer (this client reads Content-Length bodies)")
        length = headers.get("content-length", "0")
        if not length.isascii() or not length.isdigit() or int(length) > MAX_BODY:
            raise LightHttpError(f"Content-Length {length[:20]!r}")
        body = await self._reader.readexactly(int(length))
        if headers.get("connection", "").lower() == "close":
            await self.close()
        return Answer(status, headers, body)

    async def close(self) -> None:
        writer, self._reader, self._writer = self._writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError):  # it broke already: nothing left to release
                await writer.wait_closed()


def parse_head(head: bytes) -> tuple[int, dict[str, str]]:
    """The status and headers of an answer's head (up to and with its blank line)."""
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        raise LightHttpError(f"status line {lines[0][:60]!r}")
    headers = {}
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep:
            raise LightHttpError(f"header line {line[:60]!r}")
        headers[name.strip().lower()] = value.strip()
    return int(parts[1]), headers
