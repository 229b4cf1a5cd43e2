"""accounts.invitations and its email, against a real SMTP server on a loopback socket
(tests/smtp_server.py): the email goes only once the invitation is committed, never for one
that rolled back; a refused email leaves the invitation pending, not sent; re-sending gives it
a new link and the old one stops working."""

from __future__ import annotations

import asyncio
import email
import re
import threading
import uuid
from collections.abc import Iterator
from email.policy import default

import asyncpg
import pytest

from accounts import invitations
from tests.console.test_console_app import Member, new_member
from tests.smtp_server import Received, provider, smtp_server

ACCEPT_URL = "http://console.test/invite"
_TOKEN = re.compile(re.escape(ACCEPT_URL) + r"\?token=([A-Za-z0-9_-]+)")


@pytest.fixture
def smtp() -> Iterator[tuple[int, Received]]:
    with smtp_server() as server:
        yield server


async def _invite(db: asyncpg.Pool, port: int, member: Member, address: str) -> invitations.Invited:
    return await invitations.invite(
        db,
        provider(port),
        member.merchant_id,
        member.user_id,
        email=address,
        role="owner",
        store_ids=[],
        language="en",
        accept_url=ACCEPT_URL,
    )


async def _resend(
    db: asyncpg.Pool, port: int, member: Member, invitation_id: uuid.UUID
) -> invitations.Invited:
    return await invitations.resend(
        db,
        provider(port),
        member.merchant_id,
        invitation_id,
        member.user_id,
        accept_url=ACCEPT_URL,
    )


def _tokens(received: Received) -> list[str]:
    """The link tokens of the messages the server took, in order."""
    found = []
    for _sender, _recipients, data in received.envelopes:
        body = email.message_from_bytes(data, policy=default).get_content()
        found += _TOKEN.findall(body)
    return found


async def test_the_invitation_is_committed_before_its_email_goes(
    db: asyncpg.Pool, smtp: tuple[int, Received]
) -> None:
    port, received = smtp
    received.hold = threading.Event()
    member = await new_member(db)
    address = f"held-{uuid.uuid4().hex[:8]}@example.com"
    sending = asyncio.create_task(_invite(db, port, member, address))
    try:
        assert await asyncio.to_thread(received.arrived.wait, 10), "no message reached the server"
        # The server has the message and has not answered: the invitation is already committed
        # (another connection sees it), not waiting on the mail server in an open transaction.
        pending = await invitations.pending(db, member.merchant_id)
        assert [i.email for i in pending] == [address]
    finally:
        received.hold.set()
    invited = await sending
    assert invited.sent and _tokens(received)


async def test_no_email_goes_for_an_invitation_that_rolled_back(
    db: asyncpg.Pool, smtp: tuple[int, Received]
) -> None:
    """The invitation's transaction fails at COMMIT (a deferred constraint trigger, checked
    then): nothing is stored and the mail server never hears of it."""
    port, received = smtp
    member = await new_member(db)
    await db.execute(
        """
        CREATE FUNCTION refuse_rollback_invitations() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF NEW.email LIKE 'rollback-%' THEN
                RAISE EXCEPTION 'refused at commit';
            END IF;
            RETURN NULL;
        END $$;
        CREATE CONSTRAINT TRIGGER refuse_rollback_invitations AFTER INSERT ON invitations
        DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
        EXECUTE FUNCTION refuse_rollback_invitations();
        """
    )
    try:
        with pytest.raises(asyncpg.RaiseError, match="refused at commit"):
            await _invite(db, port, member, f"rollback-{uuid.uuid4().hex[:8]}@example.com")
    finally:
        await db.execute(
            "DROP TRIGGER refuse_rollback_invitations ON invitations;"
            " DROP FUNCTION refuse_rollback_invitations();"
        )
    assert await invitations.pending(db, member.merchant_id) == []
    assert received.envelopes == [] and not received.arrived.is_set()


async def test_a_refused_email_leaves_the_invitation_pending_to_be_sent_again(
    db: asyncpg.Pool, smtp: tuple[int, Received]
) -> None:
    port, received = smtp
    member = await new_member(db)
    address = f"refused-{uuid.uuid4().hex[:8]}@example.com"
    received.refuse_rcpt = True

    invited = await _invite(db, port, member, address)

    assert invited.sent is False and received.envelopes == []
    (pending,) = await invitations.pending(db, member.merchant_id)
    assert (pending.invitation_id, pending.email) == (invited.invitation_id, address)

    # Refused again: still pending, still not sent.
    again = await _resend(db, port, member, invited.invitation_id)
    assert again == invitations.Invited(invited.invitation_id, False)

    received.refuse_rcpt = False
    sent = await _resend(db, port, member, invited.invitation_id)
    assert sent == invitations.Invited(invited.invitation_id, True)
    (token,) = _tokens(received)
    link = await invitations.invitation_for_token(db, token)
    assert link is not None and link.email == address


async def test_re_sending_gives_a_new_link_and_the_old_one_stops_working(
    db: asyncpg.Pool, smtp: tuple[int, Received]
) -> None:
    port, received = smtp
    member = await new_member(db)
    invited = await _invite(db, port, member, f"twice-{uuid.uuid4().hex[:8]}@example.com")
    resent = await _resend(db, port, member, invited.invitation_id)
    assert invited.sent and resent.sent
    first, second = _tokens(received)
    assert first != second
    assert await invitations.invitation_for_token(db, first) is None
    assert await invitations.invitation_for_token(db, second) is not None
    actions = await db.fetch(
        "SELECT action FROM audit_log WHERE merchant_id = $1 ORDER BY entry_id",
        member.merchant_id,
    )
    assert [r["action"] for r in actions] == ["invitation.create", "invitation.resend"]


async def test_another_merchants_or_an_unknown_invitation_is_not_re_sent(
    db: asyncpg.Pool, smtp: tuple[int, Received]
) -> None:
    port, received = smtp
    member, other = await new_member(db), await new_member(db)
    invited = await _invite(db, port, member, f"mine-{uuid.uuid4().hex[:8]}@example.com")
    for who, invitation_id in ((other, invited.invitation_id), (member, uuid.uuid4())):
        with pytest.raises(invitations.NoSuchRecord):
            await _resend(db, port, who, invitation_id)
    assert len(received.envelopes) == 1
