"""Merchant sign-up (docs/console.md "Sign-up"): an email, a password and the merchant's name
make a pending request and an email with a link; opening the link creates the user, the
merchant and the owner's membership (with their audit entries) and signs the owner in.

Nothing tells a visitor whether an address already has an account: a sign-up with such an
address hashes its password all the same, sends that address a message saying it has an
account (instead of a link), and the page says the same "check your email" either way. No
account exists before its address is verified, so a sign-up with someone else's address
creates nothing anyone can sign in to.

Sign-ups are limited per client address (`PER_CLIENT` in `WINDOW`, refused ones counted too);
the address is kept only as a keyed hash (accounts.services.client_key), for the window.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

import asyncpg

from accounts import audit, services
from accounts.email import Email, EmailProvider
from accounts.messages_console import SIGNUP
from kernel.i18n import LANGUAGES, translator
from kernel.sql import load_queries

__all__ = [
    "LINK_TTL",
    "PER_CLIENT",
    "SignupLinkInvalid",
    "SignupThrottled",
    "complete_signup",
    "link_is_live",
    "purge",
    "request_signup",
]

queries = load_queries(__file__, "signup.sql")

PER_CLIENT = 5  # sign-ups from one address in WINDOW
WINDOW = timedelta(hours=1)
LINK_TTL = timedelta(hours=24)


class SignupThrottled(services.AccountError):
    message_id = "error_signup_throttled"
    status = 429


class SignupLinkInvalid(services.AccountError):
    """Unknown, used or expired."""

    message_id = "error_signup_link"
    status = 404


class SignupAlreadyDone(services.AccountError):
    """The link's address got an account meanwhile (another sign-up's link, an invitation)."""

    message_id = "error_signup_has_account"
    status = 409


async def request_signup(
    db: asyncpg.Pool,
    provider: EmailProvider,
    *,
    email: str,
    password: str,
    merchant_name: str,
    client: str,
    language: str,
    verify_url: str,
) -> None:
    """Check the fields (InvalidEmail, WeakPassword, InvalidName), count the client's sign-up
    (SignupThrottled over the limit), and send the address its email: a link to
    `verify_url?token=…` for a new address, a note that it has an account otherwise."""
    email = services.check_email(email)
    services.check_password(password)
    merchant_name = services.clean_name(merchant_name)
    language = language if language in LANGUAGES else LANGUAGES[0]
    # Counted before it is checked, so that sign-ups sent at once cannot all pass the check.
    await db.execute(queries.insert_attempt, client)
    attempts = await db.fetchval(queries.count_attempts, client, WINDOW)
    if attempts > PER_CLIENT:
        raise SignupThrottled(f"{attempts} sign-ups from one client in {WINDOW}")
    password_hash = await services.hash_password(password)  # either way: the same time taken
    _ = translator(SIGNUP, language)
    if await services.user_id_by_email(db, email) is not None:
        await provider.send(
            Email(email, _("su_mail_exists_subject"), _("su_mail_exists_body", email=email))
        )
        return
    token = secrets.token_urlsafe(32)
    await db.execute(
        queries.insert_request,
        services.token_hash(token),
        email,
        merchant_name,
        password_hash,
        language,
        LINK_TTL,
    )
    hours = int(LINK_TTL / timedelta(hours=1))
    link = f"{verify_url}?token={token}"
    body = _("su_mail_verify_body", merchant=merchant_name, link=link, hours=hours)
    await provider.send(Email(email, _("su_mail_verify_subject"), body))


async def link_is_live(db: asyncpg.Pool, token: str) -> bool:
    return len(token) in services.TOKEN_LENGTHS and await db.fetchval(
        queries.request_is_live, services.token_hash(token)
    )


async def complete_signup(db: asyncpg.Pool, token: str) -> services.User:
    """Create the account a link stands for: the user, the merchant and the owner's membership,
    each in the merchant's audit log. SignupLinkInvalid for a link unknown, used or expired;
    SignupAlreadyDone when the address got an account meanwhile."""
    if len(token) not in services.TOKEN_LENGTHS:
        raise SignupLinkInvalid("a sign-up token of the wrong length")
    async with db.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(queries.take_request, services.token_hash(token))
        if row is None:
            raise SignupLinkInvalid("no live sign-up request for this token")
        email = row["email"]
        display_name = email.partition("@")[0][:200] or email
        try:
            user_id = await services.insert_user(conn, email, display_name, row["password_hash"])
        except services.EmailTaken as exc:
            raise SignupAlreadyDone(f"{email} has an account already") from exc
        merchant_id = await services.create_merchant(conn, row["merchant_name"])
        await services.add_membership(conn, merchant_id, user_id, "owner")
        await conn.execute(queries.forget_requests_of, email)
        actor = audit.Actor.user(user_id)
        await audit.record_change(
            conn,
            merchant_id,
            actor,
            "merchant.create",
            target_id=merchant_id,
            target_name=row["merchant_name"],
            after={"name": row["merchant_name"]},
        )
        await audit.record_change(
            conn,
            merchant_id,
            actor,
            "membership.create",
            target_id=user_id,
            target_name=email,
            after={"email": email, "role": "owner"},
        )
    return services.User(user_id, email, display_name)


async def purge(db: asyncpg.Pool) -> None:
    """Drop expired sign-up requests and attempts older than the limit's window."""
    await db.execute(queries.purge_requests)
    await db.execute(queries.purge_attempts, WINDOW)
