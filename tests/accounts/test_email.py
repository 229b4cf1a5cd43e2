"""accounts.email: the outbox provider keeps messages; the SMTP adapter speaks to a real SMTP
server (a small one on a loopback socket, below) and says clearly when it cannot send."""

from __future__ import annotations

import base64
import email
import socketserver
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
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


@dataclass
class Received:
    auth: list[str] = field(default_factory=list)
    envelopes: list[tuple[str, list[str], bytes]] = field(default_factory=list)
    refuse_rcpt: bool = False


class _SmtpHandler(socketserver.StreamRequestHandler):
    """RFC 5321's commands as smtplib sends them: EHLO, AUTH PLAIN, MAIL, RCPT, DATA, QUIT."""

    def handle(self) -> None:
        box: Received = self.server.received  # type: ignore[attr-defined]
        self._say("220 test.local ESMTP")
        sender, recipients = "", []
        while line := self.rfile.readline():
            command = line.decode().rstrip("\r\n")
            verb = command.split(" ", 1)[0].upper()
            if verb == "EHLO":
                self._say("250-test.local", "250-AUTH PLAIN", "250 8BITMIME")
            elif verb == "AUTH":
                box.auth.append(base64.b64decode(command.split()[2]).decode())
                self._say("235 2.7.0 ok")
            elif verb == "MAIL":
                sender, recipients = command[10:].strip("<>").split(">")[0], []
                self._say("250 ok")
            elif verb == "RCPT":
                if box.refuse_rcpt:
                    self._say("550 5.1.1 no such mailbox")
                    continue
                recipients.append(command[8:].strip("<>"))
                self._say("250 ok")
            elif verb == "DATA":
                self._say("354 go on")
                data = b""
                while (chunk := self.rfile.readline()) != b".\r\n":
                    data += chunk
                box.envelopes.append((sender, recipients, data))
                self._say("250 queued")
            elif verb == "QUIT":
                self._say("221 bye")
                return
            else:
                self._say("250 ok")

    def _say(self, *lines: str) -> None:
        self.wfile.write("".join(f"{line}\r\n" for line in lines).encode())


@pytest.fixture
def smtp_server() -> Iterator[tuple[int, Received]]:
    port = free_port()
    server = socketserver.ThreadingTCPServer(("127.0.0.1", port), _SmtpHandler)
    server.daemon_threads = True
    server.received = Received()  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield port, server.received  # type: ignore[attr-defined]
    server.shutdown()
    server.server_close()


def _smtp(port: int) -> SmtpEmailProvider:
    return SmtpEmailProvider(
        host="127.0.0.1",
        port=port,
        security="none",
        username="portico",
        password="s3cret",
        sender="Portico <no-reply@portico.test>",
        timeout=5,
    )


async def test_smtp_sends_a_utf8_message_to_the_server(smtp_server) -> None:
    port, received = smtp_server
    await _smtp(port).send(Email("shop@example.com", "完成注册 – Portico", "打开链接：https://x\n"))

    assert received.auth == ["\0portico\0s3cret"]
    [(sender, recipients, data)] = received.envelopes
    assert (sender, recipients) == ("no-reply@portico.test", ["shop@example.com"])
    message = email.message_from_bytes(data, policy=default)
    assert message["Subject"] == "完成注册 – Portico"
    assert message.get_content().replace("\r\n", "\n") == "打开链接：https://x\n"
    assert message["Message-ID"].endswith("@portico.test>")


async def test_smtp_refusals_and_unreachable_servers_are_clear_errors(smtp_server) -> None:
    port, received = smtp_server
    received.refuse_rcpt = True
    with pytest.raises(EmailSendFailed, match="SMTPRecipientsRefused"):
        await _smtp(port).send(Email("nobody@example.com", "s", "b"))
    with pytest.raises(EmailSendFailed, match="ConnectionRefusedError"):
        await _smtp(free_port()).send(Email("a@example.com", "s", "b"))


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
