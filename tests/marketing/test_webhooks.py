"""Signed webhooks (marketing/webhooks.py): the signature a receiver checks, the URLs a
merchant may name (no private targets in production), and the channel against a real
receiver on loopback: delivered, retried, failed."""

from __future__ import annotations

import json
import time
import uuid

import aiohttp
import asyncpg
import pytest
from cryptography.exceptions import InvalidTag

from kernel.config import Settings
from kernel.privacy import unseal
from marketing import webhooks
from marketing.dispatch import Dispatcher, Policy
from marketing.webhooks import WebhookChannel, WebhookError
from tests.marketing.receivers import (
    Receiver,
    a_contact,
    a_trigger,
    a_webhook,
    contact_row,
    make_due,
)
from tests.marketing.test_engine import a_merchant

SECRET = "whsec_test-secret"
BODY = b'{"delivery_id":"x","message":{"en":"hi"}}'


def test_a_receiver_accepts_the_signature_of_the_body_it_got() -> None:
    now = int(time.time())
    header = webhooks.signature(SECRET, BODY, now)
    assert header.startswith(f"t={now},v1=") and len(header.split("v1=")[1]) == 64
    assert webhooks.verify_signature(SECRET, header, BODY)
    # A receiver rotating its secrets may be given several v1 values: one match is enough.
    rotated = f"{header},v1={'0' * 64}"
    assert webhooks.verify_signature(SECRET, rotated, BODY)


@pytest.mark.parametrize(
    ("what", "secret", "body", "age"),
    [
        ("a tampered body", SECRET, BODY.replace(b"hi", b"ho"), 0),
        ("another secret", "whsec_other", BODY, 0),
        ("an old timestamp (a replay)", SECRET, BODY, 301),
        ("a timestamp from the future", SECRET, BODY, -301),
    ],
)
def test_a_receiver_refuses(what: str, secret: str, body: bytes, age: int) -> None:
    header = webhooks.signature(SECRET, BODY, int(time.time()) - age)
    assert not webhooks.verify_signature(secret, header, body), what


@pytest.mark.parametrize(
    "header", ["", "v1=abc", "t=now,v1=abc", "t=1700000000", "t=1700000000,v2=abc", "garbage"]
)
def test_a_malformed_signature_header_is_refused(header: str) -> None:
    assert not webhooks.verify_signature(SECRET, header, BODY, now=1_700_000_000)


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/hook",
        "https:///no-host",
        "https://user:pass@example.com/hook",
        "https://example.com:99999/hook",
        "https://example.com/" + "x" * 2000,
    ],
)
def test_a_webhook_url_must_be_http_with_a_host(url: str) -> None:
    with pytest.raises(WebhookError):
        webhooks.check_url(url, allow_private=True)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://localhost/hook",
        "https://10.1.2.3/hook",
        "https://192.168.0.10/hook",
        "https://169.254.169.254/latest/meta-data",  # a cloud's metadata service
        "https://[::1]/hook",
        "https://[::ffff:10.0.0.1]/hook",
        "https://printer.local/hook",
    ],
)
def test_production_refuses_private_targets(url: str) -> None:
    with pytest.raises(WebhookError):
        webhooks.check_url(url, allow_private=False)
    assert webhooks.check_url(url, allow_private=True) == url  # development and tests


def test_production_takes_a_public_target() -> None:
    for url in ("https://hooks.example.com/portico", "http://93.184.216.34/hook"):
        assert webhooks.check_url(url, allow_private=False) == url


async def test_the_resolver_refuses_a_name_that_resolves_to_a_private_address() -> None:
    resolver = webhooks.PublicResolver()
    try:
        with pytest.raises(webhooks.RefusedAddress):
            await resolver.resolve("localhost", 80)
    finally:
        await resolver.close()


async def test_the_secret_is_shown_once_and_kept_sealed(
    db: asyncpg.Pool, settings: Settings
) -> None:
    merchant, _store = await a_merchant(db)
    webhook_id, secret = await webhooks.create_webhook(
        db, merchant, "https://hooks.example.com/x", secret_key=settings.secret_key
    )
    assert secret.startswith("whsec_") and len(secret) > 40
    sealed = await db.fetchval(
        "SELECT sealed_secret FROM marketing_webhooks WHERE webhook_id = $1", webhook_id
    )
    assert secret.encode() not in bytes(sealed)
    assert unseal(settings.secret_key, str(merchant), bytes(sealed)) == secret
    with pytest.raises(InvalidTag):  # sealed for this merchant only
        unseal(settings.secret_key, str(uuid.uuid4()), bytes(sealed))
    with pytest.raises(WebhookError):
        await webhooks.create_webhook(
            db, merchant, "http://127.0.0.1/x", secret_key=settings.secret_key
        )


async def a_webhook_contact(
    db: asyncpg.Pool, settings: Settings, receiver: Receiver
) -> tuple[uuid.UUID, uuid.UUID]:
    merchant, _store = await a_merchant(db)
    hook = await a_webhook(db, merchant, receiver, settings.secret_key)
    trigger = await a_trigger(db, merchant, "webhook", webhook_id=hook)
    return merchant, await a_contact(db, merchant, trigger, "d:" + "9a" * 16, channel="webhook")


def dispatcher(
    db: asyncpg.Pool,
    settings: Settings,
    http: aiohttp.ClientSession,
    *,
    timeout: float = 5.0,
    max_attempts: int = 8,
) -> Dispatcher:
    channel = WebhookChannel(db, http, settings.secret_key, timeout=timeout, allow_private=True)
    return Dispatcher(db, {"webhook": channel}, policy=Policy(max_attempts=max_attempts))


async def test_a_webhook_is_posted_signed_and_delivered_on_a_2xx(
    db: asyncpg.Pool, settings: Settings, receiver: Receiver
) -> None:
    merchant, contact = await a_webhook_contact(db, settings, receiver)
    receiver.statuses = [204]
    async with aiohttp.ClientSession() as http:
        assert await dispatcher(db, settings, http).step() == 1
    [(delivery, body, signed)] = receiver.posts
    assert delivery == str(contact) and signed
    document = json.loads(body)
    assert document["offer_key"].startswith("webhook-") and document["shopper"] == "d:" + "9a" * 16
    assert document["message"] == {
        "zh-CN": "欢迎光临，今天奶茶八折",
        "en": "Welcome back: 20% off milk tea today",
    }
    row = await contact_row(db, merchant, contact)
    assert row["status"] == "delivered" and row["delivered_at"] is not None
    assert row["sent_at"] is not None and row["attempts"] == 1


async def test_a_webhook_is_retried_through_5xx_408_and_429_then_delivered(
    db: asyncpg.Pool, settings: Settings, receiver: Receiver
) -> None:
    merchant, contact = await a_webhook_contact(db, settings, receiver)
    receiver.statuses = [500, 408, 429, 302, 200]
    async with aiohttp.ClientSession() as http:
        d = dispatcher(db, settings, http)
        for status in (500, 408, 429, 302):
            assert await d.step() == 1
            row = await contact_row(db, merchant, contact)
            assert row["status"] == "pending" and row["last_error"] == f"webhook: HTTP {status}"
            await make_due(db, merchant)
        assert await d.step() == 1
    row = await contact_row(db, merchant, contact)
    assert (row["status"], row["attempts"]) == ("delivered", 5)
    assert len(receiver.posts) == 5 and len(receiver.deliveries) == 1  # one delivery, 5 posts
    assert len(receiver.bodies()[str(contact)]) == 1  # the same body at every try


@pytest.mark.parametrize("status", [400, 401, 404, 410, 422])
async def test_a_webhook_refused_with_a_4xx_fails_at_once(
    db: asyncpg.Pool, settings: Settings, receiver: Receiver, status: int
) -> None:
    merchant, contact = await a_webhook_contact(db, settings, receiver)
    receiver.statuses = [status]
    async with aiohttp.ClientSession() as http:
        await dispatcher(db, settings, http).step()
    row = await contact_row(db, merchant, contact)
    assert (row["status"], row["attempts"]) == ("failed", 1)
    assert row["last_error"] == f"webhook: HTTP {status}"


async def test_a_webhook_that_never_answers_or_is_down_is_retried_then_failed(
    db: asyncpg.Pool, settings: Settings, receiver: Receiver
) -> None:
    merchant, contact = await a_webhook_contact(db, settings, receiver)
    receiver.delay = 2.0  # longer than the timeout
    async with aiohttp.ClientSession() as http:
        d = dispatcher(db, settings, http, timeout=0.3, max_attempts=2)
        started = time.monotonic()
        await d.step()
        assert time.monotonic() - started < 1.5  # the timeout, not the receiver's pace
        row = await contact_row(db, merchant, contact)
        assert row["status"] == "pending" and row["last_error"] == "webhook: no answer in time"
        await receiver.close()  # now nothing listens there
        await make_due(db, merchant)
        await d.step()
    row = await contact_row(db, merchant, contact)
    assert row["status"] == "failed"
    assert row["last_error"].startswith("gave up after 2 tries: webhook: cannot connect")


async def test_production_refuses_a_name_that_resolves_to_loopback_at_connection(
    db: asyncpg.Pool, settings: Settings, receiver: Receiver
) -> None:
    """DNS rebinding: a name that passed the URL check but resolves to a private address when
    the request is made is refused by the production session's resolver, and not retried."""
    merchant, contact = await a_webhook_contact(db, settings, receiver)
    port = receiver.server.port  # type: ignore[union-attr]
    await db.execute(
        "UPDATE marketing_webhooks SET url = $2 WHERE merchant_id = $1",
        merchant,
        f"http://ip6-localhost.example.invalid:{port}/hook",
    )
    resolved: list[str] = []

    class Rebinding(webhooks.PublicResolver):
        async def resolve(self, host, port=0, family=0):  # type: ignore[no-untyped-def]
            resolved.append(host)
            return await super().resolve("localhost", port, family)

    http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(resolver=Rebinding()))
    try:
        channel = WebhookChannel(db, http, settings.secret_key, allow_private=True)
        await Dispatcher(db, {"webhook": channel}).step()
    finally:
        await http.close()
    assert resolved == ["ip6-localhost.example.invalid"]
    row = await contact_row(db, merchant, contact)
    assert row["status"] == "failed" and "resolves to no public address" in row["last_error"]
    assert receiver.posts == []


def test_digits_that_are_not_ascii_are_no_time_and_no_wait() -> None:
    from marketing import webhooks as hooks

    assert hooks.verify_signature("s", "t=²,v1=00", b"{}") is False
    assert hooks._retry_after("²") == 0.0
