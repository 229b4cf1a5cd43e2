"""`portico advertiser add`: an advertiser with its first admin, for the platform's operators
(a newcomer's first advertiser; docs/ads-model.md). The admin is an existing console user (by
email) or a new one, whose password comes from $PORTICO_NEW_PASSWORD or is made and printed
once."""

from __future__ import annotations

import argparse
import os
import secrets
import uuid
from typing import TextIO

import asyncpg

import accounts.services as accounts
from ads import advertisers
from portico.routers import CommandError

PASSWORD_ENV = "PORTICO_NEW_PASSWORD"  # noqa: S105 (the variable's name, not a password)


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    advertiser = sub.add_parser("advertiser", help="add an advertiser with its first admin")
    actions = advertiser.add_subparsers(dest="action", required=True)
    add = actions.add_parser(
        "add",
        help="a new advertiser; its admin signs in to the console at /advertiser",
        description=__doc__,
    )
    add.add_argument("name", help="the advertiser's name, e.g. 'Lucky Bean Coffee'")
    add.add_argument("--email", required=True, help="its first admin's sign-in email")
    add.add_argument("--display-name", help="the admin's name when a new user is made")
    add.add_argument(
        "--category",
        default="other",
        choices=advertisers.CATEGORIES,
        help="what it sells (venues may block a category)",
    )


async def user_for(
    conn: asyncpg.Connection, email: str, display_name: str | None
) -> tuple[uuid.UUID, str | None]:
    """The console user with this email, or a new one: (user id, the new user's password,
    from $PORTICO_NEW_PASSWORD or made here; None for an existing user)."""
    user_id = await accounts.user_id_by_email(conn, email)
    if user_id is not None:
        return user_id, None
    password = os.environ.get(PASSWORD_ENV) or secrets.token_urlsafe(12)
    name = display_name or email.split("@")[0]
    return await accounts.create_user(conn, email, name, password), password


def print_password(out: TextIO, password: str | None) -> None:
    """Show a password made here once (not one the operator gave in the environment)."""
    if password is not None and not os.environ.get(PASSWORD_ENV):
        out.write(f"Password (shown once): {password}\n")


async def add(
    db: asyncpg.Pool,
    out: TextIO,
    *,
    name: str,
    email: str,
    category: str = "other",
    display_name: str | None = None,
) -> uuid.UUID:
    async with db.acquire() as conn, conn.transaction():
        try:
            user_id, password = await user_for(conn, email, display_name)
            advertiser_id = await advertisers.create_advertiser(
                conn, name, category=category, admin_user_id=user_id
            )
        except (accounts.AccountError, advertisers.AdvertiserError) as exc:
            raise CommandError(f"advertiser not added: {exc}") from None
    out.write(f"Advertiser {name.strip()} added ({advertiser_id}), admin {email}.\n")
    print_password(out, password)
    out.write("Sign in to the console and open /advertiser.\n")
    return advertiser_id
