"""accounts.email: the outbox provider keeps messages; the SMTP adapter speaks to a real SMTP
server (a small one on a loopback socket, tests/smtp_server.py) and says clearly when it
cannot send."""

from __future__ import annotations

import email
import uuid
from collections.abc import Iterator
from email.policy import default

import asyncpg
import pytest

from accounts.email import (
    Email,
    EmailSendFailed,
    OutboxEmailProvider,
    SmtpEmailProvider,
    email_provider,
    outbox,
)
from kernel.config import ConfigError, Settings, load_settings
from kernel.embedded import free_port
from tests.smtp_server import Received, provider, smtp_server


@pytest.fixture
def smtp() -> Iterator[tuple[int, Received]]:
    with smtp_server() as server:
        yield server


async def test_smtp_sends_a_utf8_message_to_the_server(smtp) -> None:
    port, received = smtp
    await provider(port).send(
        Email("shop@example.com", "完成注册 – Portico", "打开链接：https://x\n")
    )

    assert received.auth == ["\0portico\0s3cret"]
    [(sender, recipients, data)] = received.envelopes
    assert (sender, recipients) == ("no-reply@portico.test", ["shop@example.com"])
    message = email.message_from_bytes(data, policy=default)
    assert message["Subject"] == "完成注册 – Portico"
    assert message.get_content().replace("\r\n", "\n") == "打开链接：https://x\n"
    assert message["Message-ID"].endswith("@portico.test>")


async def test_smtp_refusals_and_unreachable_servers_are_clear_errors(smtp) -> None:
    port, received = smtp
    received.refuse_rcpt = True
    with pytest.raises(EmailSendFailed, match="SMTPRecipientsRefused"):
        await provider(port).send(Email("nobody@example.com", "s", "b"))
    with pytest.raises(EmailSendFailed, match="ConnectionRefusedError"):
        await provider(free_port()).send(Email("a@example.com", "s", "b"))


async def test_the_outbox_keeps_messages_newest_first(db: asyncpg.Pool) -> None:
    to = f"{uuid.uuid4().hex}@example.com"
    provider = OutboxEmailProvider(db)
    await provider.send(Email(to, "first", "1"))
    await provider.send(Email(to, "second", "2"))
    kept = [m.subject for m in await outbox(db, 500) if m.to_address == to]
    assert kept == ["second", "first"]


def test_settings_choose_the_provider_and_refuse_what_cannot_work(
    settings: Settings, db: asyncpg.Pool
) -> None:
    assert isinstance(email_provider(settings, db), OutboxEmailProvider)
    smtp = load_settings({}, env="test", secret_key="k" * 40, email_provider="smtp", smtp_host="mx")
    assert isinstance(email_provider(smtp, db), SmtpEmailProvider)
    for bad in [
        {"email_provider": "pigeon"},
        {"email_provider": "smtp"},  # no host
        {"email_provider": "smtp", "smtp_host": "mail.example.com", "smtp_security": "none"},
        {"smtp_security": "ssl3"},
        {"email_from": "no address"},
    ]:
        with pytest.raises(ConfigError):
            load_settings({}, env="test", secret_key="k" * 40, **bad)
