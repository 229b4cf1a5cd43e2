"""accounts.signup: what the link makes, a link whose address got an account meanwhile, the
limit counted atomically enough under a burst, and the purge."""

from __future__ import annotations

import asyncio
import threading
import uuid

import asyncpg
import pytest

from accounts import services as accounts
from accounts import signup
from accounts.email import EmailProvider, EmailSendFailed, OutboxEmailProvider
from tests.smtp_server import provider, smtp_server


async def _request(
    db: asyncpg.Pool, address: str, client: str, sender: EmailProvider | None = None
) -> None:
    await signup.request_signup(
        db,
        sender or OutboxEmailProvider(db),
        email=address,
        password="a long enough password",
        merchant_name="Corner Shop",
        client=client,
        language="zh-CN",
        verify_url="https://console.example/signup/verify",
    )


async def _sent(db: asyncpg.Pool, addresses: list[str]) -> list[asyncpg.Record]:
    query = "SELECT subject, body FROM email_outbox WHERE to_address = ANY($1::text[])"
    return await db.fetch(query, addresses)


def _token(mail: asyncpg.Record) -> str:
    return mail["body"].split("?token=", 1)[1].split()[0]


async def test_the_mail_is_in_the_sign_ups_language(db: asyncpg.Pool) -> None:
    address = f"zh-{uuid.uuid4().hex}@example.com"
    await _request(db, address, uuid.uuid4().hex)
    [mail] = await _sent(db, [address])
    assert mail["subject"] == "完成 Portico 注册" and "“Corner Shop”" in mail["body"]


async def test_a_link_whose_address_got_an_account_meanwhile_creates_nothing(
    db: asyncpg.Pool,
) -> None:
    address = f"late-{uuid.uuid4().hex}@example.com"
    await _request(db, address, uuid.uuid4().hex)
    [mail] = await _sent(db, [address])
    await accounts.create_user(db, address, "Someone", "their own password")

    with pytest.raises(signup.SignupAlreadyDone):
        await signup.complete_signup(db, _token(mail))

    user_id = await accounts.user_id_by_email(db, address)
    assert await accounts.memberships_of(db, user_id) == []  # no merchant was made


async def test_a_burst_of_sign_ups_from_one_client_lets_at_most_the_limit_through(
    db: asyncpg.Pool,
) -> None:
    client = uuid.uuid4().hex
    addresses = [f"burst-{n}-{uuid.uuid4().hex}@example.com" for n in range(signup.PER_CLIENT * 2)]
    results = await asyncio.gather(
        *(_request(db, a, client) for a in addresses), return_exceptions=True
    )
    refused = [r for r in results if isinstance(r, signup.SignupThrottled)]
    assert all(r is None or isinstance(r, signup.SignupThrottled) for r in results)
    assert len(await _sent(db, addresses)) <= signup.PER_CLIENT
    assert len(refused) >= signup.PER_CLIENT


async def test_purge_drops_expired_requests_and_old_attempts(db: asyncpg.Pool) -> None:
    client = uuid.uuid4().hex
    address = f"old-{uuid.uuid4().hex}@example.com"
    await _request(db, address, client)
    await db.execute(
        "UPDATE signup_requests SET expires_at = now() - interval '1 second' WHERE email = $1",
        address,
    )
    await db.execute(
        "UPDATE signup_attempts SET attempted_at = now() - interval '2 hours'"
        " WHERE client_hash = $1",
        client,
    )

    await signup.purge(db)

    assert await db.fetchval("SELECT count(*) FROM signup_requests WHERE email = $1", address) == 0
    left = "SELECT count(*) FROM signup_attempts WHERE client_hash = $1"
    assert await db.fetchval(left, client) == 0


async def test_the_link_is_committed_before_its_email_goes_and_a_refusal_is_said(
    db: asyncpg.Pool,
) -> None:
    """Against a real SMTP server on a loopback socket (tests/smtp_server.py): while the server
    holds its answer to the message, the request its link names is already committed; a
    server that refuses the message is EmailSendFailed (the form says so, 503)."""
    address = f"held-{uuid.uuid4().hex}@example.com"
    with smtp_server() as (port, received):
        received.hold = threading.Event()
        sending = asyncio.create_task(
            _request(db, address, f"client-{uuid.uuid4().hex}", provider(port))
        )
        try:
            assert await asyncio.to_thread(received.arrived.wait, 10)
            query = "SELECT count(*) FROM signup_requests WHERE email = $1"
            assert await db.fetchval(query, address) == 1
        finally:
            received.hold.set()
        await sending
        received.refuse_rcpt = True
        with pytest.raises(EmailSendFailed):
            refused = f"refused-{uuid.uuid4().hex}@example.com"
            await _request(db, refused, f"client-{uuid.uuid4().hex}", provider(port))
    assert len(received.envelopes) == 1
