"""Password reset by email (docs/console.md "Password reset").

Asking for a reset gets the same answer ("if the address has an account, we sent a link")
whether or not the address has an account; the email is sent in the background, so the time
taken does not tell either. A link carries a random token whose SHA-256 alone is stored; it
expires after `LINK_TTL` and works once. Setting the new password ends every console session
of the user and drops their other links.

Limits: `PER_ADDRESS` requests for one address in `WINDOW` (more are answered the same but
send nothing, so nobody can flood a mailbox) and `PER_CLIENT` from one client address (more
are refused, 429; this says nothing about any account). Refused requests count too. The
counters hold keyed hashes of the address and the client, never either itself.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from datetime import timedelta

import asyncpg

from accounts import services
from accounts.email import Email, EmailProvider, EmailSendFailed
from accounts.messages_reset import RESET
from kernel.i18n import LANGUAGES, translator
from kernel.sql import load_queries

__all__ = [
    "LINK_TTL",
    "PER_ADDRESS",
    "PER_CLIENT",
    "ResetLinkInvalid",
    "ResetThrottled",
    "link_is_live",
    "purge",
    "request_reset",
    "reset_password",
]

log = logging.getLogger("portico.console")
queries = load_queries(__file__, "password_reset.sql")

LINK_TTL = timedelta(hours=1)
WINDOW = timedelta(hours=1)
PER_ADDRESS = 3
PER_CLIENT = 10
_sending: set[asyncio.Task[None]] = set()  # background sends, kept until done


class ResetThrottled(services.AccountError):
    message_id = "error_reset_throttled"
    status = 429


class ResetLinkInvalid(services.AccountError):
    """Unknown, used or expired."""

    message_id = "error_reset_link"
    status = 404


async def request_reset(
    db: asyncpg.Pool,
    provider: EmailProvider,
    *,
    email: str,
    client: str,
    secret_key: str,
    language: str,
    reset_url: str,
) -> asyncio.Task[None] | None:
    """Count the request (ResetThrottled over the client's limit) and, for an address with an
    account within its limit, store a link and send it to `reset_url?token=…` in the
    background (the returned task; None when nothing is sent). InvalidEmail for a malformed
    address. `client` is the client's keyed hash (services.client_key); the address is counted
    by its own, made with `secret_key`."""
    email = services.check_email(email)
    address = services.email_key(secret_key, email)
    counts = await db.fetchrow(queries.insert_attempt, address, client, WINDOW)
    if counts["by_client"] > PER_CLIENT:
        raise ResetThrottled(f"{counts['by_client']} reset requests from one client in {WINDOW}")
    if counts["by_address"] > PER_ADDRESS:
        log.info("password reset: address over its limit, nothing sent")
        return None
    user_id = await services.user_id_by_email(db, email)
    if user_id is None:
        return None
    token = secrets.token_urlsafe(32)
    await db.execute(queries.insert_reset, services.token_hash(token), user_id, LINK_TTL)
    _ = translator(RESET, language if language in LANGUAGES else LANGUAGES[0])
    minutes = int(LINK_TTL / timedelta(minutes=1))
    body = _("pr_mail_body", link=f"{reset_url}?token={token}", minutes=minutes)
    task = asyncio.create_task(_send(provider, Email(email, _("pr_mail_subject"), body)))
    _sending.add(task)
    task.add_done_callback(_sending.discard)
    return task


async def _send(provider: EmailProvider, message: Email) -> None:
    try:
        await provider.send(message)
    except EmailSendFailed as exc:  # the user sees the same page: they can ask again
        log.warning("password reset email not sent: %s", exc)


async def link_is_live(db: asyncpg.Pool, token: str) -> bool:
    return len(token) in services.TOKEN_LENGTHS and await db.fetchval(
        queries.reset_is_live, services.token_hash(token)
    )


async def reset_password(db: asyncpg.Pool, token: str, password: str) -> None:
    """Set the password of the link's user (WeakPassword), end all their sessions and drop
    their other links. ResetLinkInvalid for a link unknown, used or expired."""
    # The link first, as invitations.accept does: a dead link is said before a short password.
    if not await link_is_live(db, token):
        raise ResetLinkInvalid("reset link unknown, used or expired")
    services.check_password(password)
    password_hash = await services.hash_password(password)
    async with db.acquire() as conn, conn.transaction():
        user_id = await conn.fetchval(queries.take_reset, services.token_hash(token))
        if user_id is None:
            raise ResetLinkInvalid("no live reset for this token")
        await services.set_password_hash(conn, user_id, password_hash)
        await conn.execute(queries.forget_resets_of, user_id)
        await conn.execute(queries.end_sessions_of, user_id)
    log.info("password reset for user %s: every session ended", user_id)


async def purge(db: asyncpg.Pool) -> None:
    """Drop expired links and requests older than the limits' window."""
    await db.execute(queries.purge_resets)
    await db.execute(queries.purge_attempts, WINDOW)
