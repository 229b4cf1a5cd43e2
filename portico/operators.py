"""`portico operator add`: a platform operator (docs/console.md "Operator admin"), who sees
every merchant at /operator, sets its plan and suspends it. Never made by a sign-up. The
operator is an existing console user (by email) or a new one, whose password comes from
$PORTICO_NEW_PASSWORD or is made and printed once."""

from __future__ import annotations

import argparse
import uuid
from typing import TextIO

import asyncpg

import accounts.services as accounts
from accounts import operators
from portico.advertisers import print_password, user_for
from portico.routers import CommandError


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    operator = sub.add_parser("operator", help="add a platform operator (merchants, plans)")
    actions = operator.add_subparsers(dest="action", required=True)
    add = actions.add_parser(
        "add", help="make a user a platform operator (console: /operator)", description=__doc__
    )
    add.add_argument("--email", required=True, help="the operator's sign-in email")
    add.add_argument("--display-name", help="the operator's name when a new user is made")


async def add(
    db: asyncpg.Pool, out: TextIO, *, email: str, display_name: str | None = None
) -> uuid.UUID:
    async with db.acquire() as conn, conn.transaction():
        try:
            user_id, password = await user_for(conn, email, display_name)
            await operators.grant(conn, user_id)
        except accounts.AccountError as exc:
            raise CommandError(f"operator not added: {exc}") from None
    out.write(f"Operator {accounts.normalize_email(email)} added.\n")
    print_password(out, password)
    out.write("Sign in to the console and open /operator.\n")
    return user_id
