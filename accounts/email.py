"""Email to console users (sign-up links, and later invitations and password resets), through
an `EmailProvider` chosen by `settings.email_provider` (docs/console.md "Email"):

- `OutboxEmailProvider` ("outbox", development): the message goes to email_outbox, which the
  console's Email outbox page shows outside production (accounts/email_outbox_page.py);
  nothing leaves the machine. Messages are deleted after `OUTBOX_KEEP`.
- `SmtpEmailProvider` ("smtp"): the message goes to the SMTP server of the settings
  (STARTTLS, implicit TLS, or plain only to a server on this machine), with the standard
  library's smtplib run in a thread so the event loop never waits on the network.
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Protocol

import asyncpg

from kernel.config import Settings
from kernel.errors import PorticoError
from kernel.sql import load_queries

__all__ = [
    "Email",
    "EmailProvider",
    "EmailSendFailed",
    "OutboxEmailProvider",
    "SmtpEmailProvider",
    "email_provider",
    "outbox",
    "purge_outbox",
]

queries = load_queries(__file__, "email.sql")

OUTBOX_KEEP = timedelta(hours=24)


class EmailSendFailed(PorticoError):
    """The mail server did not take the message (down, refused us, timed out)."""

    message_id = "error_email_unavailable"
    status = 503


@dataclass(frozen=True)
class Email:
    to: str
    subject: str
    body: str  # plain text


@dataclass(frozen=True)
class OutboxEmail:
    created_at: datetime
    to_address: str
    subject: str
    body: str


class EmailProvider(Protocol):
    async def send(self, email: Email) -> None:
        """Send one message, or raise EmailSendFailed."""
        ...


class OutboxEmailProvider:
    """Development: the message goes to the console's email outbox."""

    def __init__(self, db: asyncpg.Pool | asyncpg.Connection) -> None:
        self._db = db

    async def send(self, email: Email) -> None:
        await self._db.execute(
            queries.outbox_insert, uuid.uuid4(), email.to, email.subject, email.body
        )


class SmtpEmailProvider:
    """An SMTP server (RFC 5321) with STARTTLS (RFC 3207), implicit TLS (RFC 8314) or, to a
    server on this machine only, plain; authenticated when a username is set."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        security: str,
        username: str,
        password: str,
        sender: str,
        timeout: float,
    ) -> None:
        self._host, self._port, self._security = host, port, security
        self._username, self._password = username, password
        self._sender, self._timeout = sender, timeout

    @classmethod
    def from_settings(cls, settings: Settings) -> SmtpEmailProvider:
        return cls(
            host=settings.smtp_host,
            port=settings.smtp_port,
            security=settings.smtp_security,
            username=settings.smtp_username,
            password=settings.smtp_password,
            sender=settings.email_from,
            timeout=settings.smtp_timeout,
        )

    def message(self, email: Email) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self._sender
        message["To"] = email.to
        message["Subject"] = email.subject
        message["Date"] = formatdate(localtime=False)
        message["Message-ID"] = make_msgid(domain=self._sender.rpartition("@")[2].strip("> "))
        message.set_content(email.body)  # UTF-8, quoted-printable or base64 as needed
        return message

    async def send(self, email: Email) -> None:
        message = self.message(email)
        try:
            await asyncio.to_thread(self._send, message)
        except (OSError, smtplib.SMTPException) as exc:  # SMTPException: the server said no
            raise EmailSendFailed(
                f"smtp {self._host}:{self._port}: {type(exc).__name__}: {str(exc)[:200]}"
            ) from None

    def _send(self, message: EmailMessage) -> None:
        context = ssl.create_default_context()
        smtp: smtplib.SMTP
        if self._security == "tls":
            smtp = smtplib.SMTP_SSL(self._host, self._port, timeout=self._timeout, context=context)
        else:
            smtp = smtplib.SMTP(self._host, self._port, timeout=self._timeout)
        with smtp:
            if self._security == "starttls":
                smtp.starttls(context=context)
            if self._username:
                smtp.login(self._username, self._password)
            smtp.send_message(message)


def email_provider(settings: Settings, db: asyncpg.Pool) -> EmailProvider:
    """The provider `settings.email_provider` names."""
    if settings.email_provider == "smtp":
        return SmtpEmailProvider.from_settings(settings)
    return OutboxEmailProvider(db)


async def outbox(db: asyncpg.Pool, limit: int = 50) -> list[OutboxEmail]:
    """The newest messages the outbox provider kept, newest first."""
    return [OutboxEmail(**dict(r)) for r in await db.fetch(queries.outbox_page, limit)]


async def purge_outbox(db: asyncpg.Pool) -> None:
    await db.execute(queries.outbox_purge, OUTBOX_KEEP)
