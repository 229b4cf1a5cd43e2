"""Signed webhooks: a merchant's own endpoint told of each contact (docs/marketing-dispatch.md).

Each contact is one POST of a JSON body, the same bytes at every try, with
`X-Portico-Delivery: <contact id>` (the delivery id: a receiver dedupes by it) and
`X-Portico-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">` keyed with the
webhook's secret (`whsec_…`, shown once by `create_webhook`, kept sealed). `verify_signature`
is what a receiver runs (our tests do): the signature over the exact bytes received, and a
timestamp no further than `tolerance` seconds from its clock, so a captured request cannot be
replayed later.

The answer decides: 2xx delivered; 408, 429, 3xx (redirects are not followed), 5xx, no answer
within the timeout or no connection: tried again with back-off; any other 4xx: failed at once.

Server-side request forgery: a merchant names the URL and our servers call it, so in
production no webhook may reach a loopback, private, link-local or otherwise non-public
address, checked both when it is created and at every connection (the resolver refuses such
addresses, so a name that resolves to one later, DNS rebinding, is refused too). Development
and test settings allow them: the receivers there run on this machine.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import secrets
import socket
import time
import uuid
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import asyncpg
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver
from cryptography.exceptions import InvalidTag

from kernel.errors import PorticoError
from kernel.privacy import seal, unseal
from kernel.sql import load_queries
from marketing import channels
from marketing.channels import Delivery, Outcome

queries = load_queries(__file__, "webhooks.sql")

SIGNATURE_HEADER = "X-Portico-Signature"
DELIVERY_HEADER = "X-Portico-Delivery"
TOLERANCE = 300  # seconds a receiver accepts between a signature's time and its own clock
RETRIED_4XX = frozenset({408, 429})


class WebhookError(PorticoError):
    message_id = "mk_webhook_invalid"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.values = {"detail": detail}  # the message's {detail}


class RefusedAddress(OSError):
    """A webhook's host is (or resolves to) an address that is not public."""


def is_public(address: str) -> bool:
    """A global unicast address (an IPv4-mapped IPv6 one judged as its IPv4)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def check_url(url: str, *, allow_private: bool) -> str:
    """The URL when a webhook may post to it; WebhookError naming what is wrong."""
    url = url.strip()
    if len(url) > 2000:
        raise WebhookError("the URL is longer than 2000 characters")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise WebhookError("an http:// or https:// URL with a host")
    if parts.username or parts.password:
        raise WebhookError("no user name or password in the URL")
    try:
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError:
        raise WebhookError("the port is not a number from 1 to 65535") from None
    if not allow_private:
        host = parts.hostname
        if host == "localhost" or host.endswith((".localhost", ".local", ".internal")):
            raise WebhookError("the host is not on the public internet")
        try:
            literal = ipaddress.ip_address(host)
        except ValueError:
            literal = None
        if literal is not None and not is_public(str(literal)):
            raise WebhookError("the address is not on the public internet")
    return url


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


async def create_webhook(
    db: asyncpg.Pool | asyncpg.Connection,
    merchant_id: uuid.UUID,
    url: str,
    *,
    secret_key: str,
    allow_private: bool = False,
) -> tuple[uuid.UUID, str]:
    """A new webhook of the merchant: its id and its signing secret, the only time the secret
    is shown (it is kept sealed). `allow_private`: outside production (settings.production)."""
    checked = check_url(url, allow_private=allow_private)
    webhook_id, secret = uuid.uuid4(), new_secret()
    sealed = seal(secret_key, str(merchant_id), secret)
    await db.execute(queries.insert_webhook, merchant_id, webhook_id, checked, sealed)
    return webhook_id, secret


def signature(secret: str, body: bytes, timestamp: int) -> str:
    """The X-Portico-Signature header's value for `body` sent at `timestamp`."""
    signed = f"{timestamp}.".encode() + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify_signature(
    secret: str, header: str, body: bytes, tolerance: int = TOLERANCE, now: float | None = None
) -> bool:
    """A receiver's check: the header signs exactly `body` with `secret`, at a time within
    `tolerance` seconds of `now`. Several v1 values may be given (one per secret while a
    receiver rotates them); one that matches is enough."""
    timestamp: int | None = None
    given: list[str] = []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t" and value.isascii() and value.isdigit():  # "²".isdigit() too
            timestamp = int(value)
        elif name == "v1" and value:
            given.append(value)
    if timestamp is None or not given:
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        return False
    expected = signature(secret, body, timestamp).rpartition("v1=")[2]
    return any(hmac.compare_digest(expected, v) for v in given)


def body_of(delivery: Delivery) -> bytes:
    """The POST's body: the same bytes at every try of one contact."""
    document: dict[str, Any] = {
        "delivery_id": str(delivery.contact_id),
        "type": "marketing.contact",
        "merchant_id": str(delivery.merchant_id),
        "trigger_id": str(delivery.trigger_id),
        "offer_key": delivery.offer_key,
        "shopper": delivery.profile_key,  # the merchant's pseudonym of the shopper
        "store_id": str(delivery.store_id) if delivery.store_id else None,
        "event_at": delivery.event_at.isoformat(),
        "decided_at": delivery.decided_at.isoformat(),
        "message": delivery.texts,
        "coupon_id": str(delivery.coupon_id) if delivery.coupon_id else None,
    }
    return json.dumps(document, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


class PublicResolver(AbstractResolver):
    """DNS answers with every non-public address left out; none left: RefusedAddress. The
    connection goes to an address checked here, so a name cannot be checked public and then
    resolve elsewhere."""

    def __init__(self) -> None:
        self._resolver = DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        answers = await self._resolver.resolve(host, port, family)
        public = [a for a in answers if is_public(a["host"])]
        if not public:
            raise RefusedAddress(f"{host} resolves to no public address")
        return public

    async def close(self) -> None:
        await self._resolver.close()


PER_HOST = 16  # requests at once to one receiver (a merchant's webhook, WeChat's API)


def http_session(*, allow_private: bool) -> aiohttp.ClientSession:
    """The client session dispatch channels call out with: in production its resolver refuses
    private addresses. No proxies from the environment, no cookies kept. At most PER_HOST
    requests at once to one receiver (the dispatcher has many contacts in flight)."""
    resolver = None if allow_private else PublicResolver()
    connector = aiohttp.TCPConnector(resolver=resolver, limit=100, limit_per_host=PER_HOST)
    return aiohttp.ClientSession(
        connector=connector, cookie_jar=aiohttp.DummyCookieJar(), trust_env=False
    )


class WebhookChannel:
    def __init__(
        self,
        db: asyncpg.Pool,
        http: aiohttp.ClientSession,
        secret_key: str,
        *,
        timeout: float = 5.0,
        allow_private: bool = False,
    ) -> None:
        self._db = db
        self._http = http
        self._secret_key = secret_key
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._allow_private = allow_private

    async def send(self, delivery: Delivery) -> Outcome:
        if delivery.webhook_id is None:
            return channels.failed("the trigger names no webhook")
        row = await self._db.fetchrow(queries.webhook, delivery.merchant_id, delivery.webhook_id)
        if row is None:
            return channels.failed("the webhook was deleted")
        try:
            url = check_url(row["url"], allow_private=self._allow_private)
            secret = unseal(
                self._secret_key, str(delivery.merchant_id), bytes(row["sealed_secret"])
            )
        except WebhookError as exc:
            return channels.failed(f"webhook: {exc.detail}")
        except InvalidTag:
            return channels.failed("webhook: its secret does not open with this platform's key")
        body = body_of(delivery)
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "Portico-Webhooks/1",
            DELIVERY_HEADER: str(delivery.contact_id),
            SIGNATURE_HEADER: signature(secret, body, int(time.time())),
        }
        try:
            async with self._http.post(
                url, data=body, headers=headers, timeout=self._timeout, allow_redirects=False
            ) as response:
                status, wait = response.status, _retry_after(response.headers.get("Retry-After"))
        except aiohttp.ClientConnectorError as exc:
            if isinstance(exc.os_error, RefusedAddress):
                return channels.failed(f"webhook: {exc.os_error}")
            return channels.retry(f"webhook: cannot connect ({exc.os_error})")
        except TimeoutError:
            return channels.retry("webhook: no answer in time")
        except aiohttp.ClientError as exc:
            return channels.retry(f"webhook: {type(exc).__name__}")
        return outcome_of(status, wait)


def outcome_of(status: int, retry_after: float = 0.0) -> Outcome:
    if 200 <= status < 300:
        return channels.delivered()
    if 400 <= status < 500 and status not in RETRIED_4XX:
        return channels.failed(f"webhook: HTTP {status}")
    return channels.retry(f"webhook: HTTP {status}", retry_after)


def _retry_after(value: str | None) -> float:
    """Retry-After in seconds (its date form is not used), at most an hour."""
    if value and value.strip().isascii() and value.strip().isdigit():  # not "²"
        return min(float(value.strip()), 3600.0)
    return 0.0
