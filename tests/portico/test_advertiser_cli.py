"""`portico advertiser add` (portico/advertisers.py): an advertiser with its first admin."""

from __future__ import annotations

import io
import uuid

import asyncpg
import pytest

import accounts.services as accounts
from ads import advertisers
from portico import advertisers as cli
from portico.routers import CommandError


async def test_add_makes_the_admin_and_prints_a_password_once(db: asyncpg.Pool) -> None:
    email = f"cli-{uuid.uuid4().hex}@example.com"
    out = io.StringIO()
    advertiser_id = await cli.add(db, out, name=" Tea Co ", email=email, category="food")
    text = out.getvalue()
    assert f"Advertiser Tea Co added ({advertiser_id}), admin {email}." in text
    password = text.split("Password (shown once): ")[1].split("\n")[0]
    user = await accounts.authenticate(db, email, password, client="test")
    (membership,) = await advertisers.memberships_of(db, user.user_id)
    assert (membership.advertiser_id, membership.role) == (advertiser_id, "admin")

    again = io.StringIO()
    second = await cli.add(db, again, name="Tea Co Two", email=email.upper())
    assert "Password" not in again.getvalue()  # an existing user keeps theirs
    assert {m.advertiser_id for m in await advertisers.memberships_of(db, user.user_id)} == {
        advertiser_id,
        second,
    }


async def test_a_bad_name_or_email_adds_nothing(db: asyncpg.Pool) -> None:
    with pytest.raises(CommandError, match="advertiser not added"):
        await cli.add(db, io.StringIO(), name="  ", email=f"x-{uuid.uuid4().hex}@example.com")
    with pytest.raises(CommandError, match="advertiser not added"):
        await cli.add(db, io.StringIO(), name="Fine", email="not an email")
    assert await accounts.user_id_by_email(db, "not an email") is None
