"""Password reset by email: the same answer whether or not the address has an account, a link
that works once and expires, every session ended on reset, limits per address and per client,
and the forms' CSRF cookie."""

from __future__ import annotations

import asyncio
import email
import re
import threading
import uuid
from collections.abc import AsyncIterator
from email.policy import default

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from accounts import password_reset
from kernel.config import Settings
from portico.console_app import make_console_app
from tests.console.test_console_app import EN, ZH, csrf_token, new_member, sign_in
from tests.smtp_server import provider, smtp_server

_LINK = re.compile(r"http://\S+(/password/reset\?token=[A-Za-z0-9_-]+)")
NEW_PASSWORD = "a brand new passphrase"


@pytest.fixture
async def client(settings: Settings, db: asyncpg.Pool) -> AsyncIterator[TestClient]:
    await db.execute("DELETE FROM password_reset_attempts")  # the tests share one client address
    async with TestClient(TestServer(make_console_app(settings, db))) as client:
        yield client


@pytest.fixture
async def other_device(settings: Settings, db: asyncpg.Pool) -> AsyncIterator[TestClient]:
    async with TestClient(TestServer(make_console_app(settings, db))) as client:
        yield client


async def _ask(client: TestClient, address: str, headers: dict[str, str] = EN) -> object:
    page = await (await client.get("/password/forgot", headers=headers)).text()
    form = {"csrf_token": csrf_token(page), "email": address}
    return await client.post("/password/forgot", data=form, headers=headers)


async def _mails(db: asyncpg.Pool, address: str, expected: int) -> list[str]:
    """The address's messages, once `expected` are there (they are sent in the background)."""
    for _attempt in range(50):
        bodies = await db.fetch("SELECT body FROM email_outbox WHERE to_address = $1", address)
        if len(bodies) >= expected:
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.1)  # and no more come
    return [
        r["body"]
        for r in await db.fetch(
            "SELECT body FROM email_outbox WHERE to_address = $1 ORDER BY created_at", address
        )
    ]


async def test_a_reset_sets_the_password_and_ends_every_session(
    client: TestClient, other_device: TestClient, db: asyncpg.Pool
) -> None:
    member = await new_member(db)
    await sign_in(other_device, member.email)
    assert (await other_device.get("/dashboard", allow_redirects=False)).status == 200

    asked = await _ask(client, member.email)

    assert asked.status == 200
    assert f"If {member.email} has a Portico account" in await asked.text()
    [body] = await _mails(db, member.email, 1)
    link = _LINK.search(body).group(1)
    page = await (await client.get(link, headers=ZH)).text()
    assert "设置新密码" in page
    token = link.partition("token=")[2]
    short = {"csrf_token": csrf_token(page), "token": token, "password": "short"}
    refused = await client.post("/password/reset", data=short, headers=EN)
    assert refused.status == 400 and "8 to 1024" in (await refused.text()).replace(",", "")
    done = await client.post("/password/reset", data=short | {"password": NEW_PASSWORD}, headers=EN)
    assert "Your password was changed. Sign in with it." in await done.text()
    assert (await other_device.get("/dashboard", allow_redirects=False)).status == 303
    assert (
        await db.fetchval(
            "SELECT count(*) FROM console_sessions WHERE user_id = $1", member.user_id
        )
        == 0
    )
    assert (await sign_in(client, member.email, NEW_PASSWORD)).status == 303
    again = await client.get(link, headers=EN)
    assert again.status == 404 and "unknown, used or expired" in await again.text()


async def test_an_unknown_address_gets_the_same_answer_and_no_mail(
    client: TestClient, db: asyncpg.Pool
) -> None:
    member = await new_member(db)
    unknown = f"nobody-{uuid.uuid4().hex[:8]}@example.com"

    known_page = await (await _ask(client, member.email)).text()
    unknown_page = await (await _ask(client, unknown)).text()

    assert known_page.replace(member.email, "X") == unknown_page.replace(unknown, "X")
    assert await _mails(db, unknown, 0) == []
    assert len(await _mails(db, member.email, 1)) == 1


async def test_an_address_gets_at_most_three_links_an_hour_and_a_client_ten_requests(
    client: TestClient, db: asyncpg.Pool
) -> None:
    member = await new_member(db)
    for _attempt in range(password_reset.PER_ADDRESS + 1):
        assert (await _ask(client, member.email)).status == 200
    assert len(await _mails(db, member.email, password_reset.PER_ADDRESS + 1)) == 3

    others = [f"x{n}-{uuid.uuid4().hex[:6]}@example.com" for n in range(10)]
    statuses = [(await _ask(client, address)).status for address in others]
    assert statuses.count(429) == 4  # 4 + 6 = 10 from this client; the 11th on refused
    refused = await _ask(client, member.email, ZH)
    assert refused.status == 429 and "此网络的重置密码请求过多" in await refused.text()


async def test_an_expired_link_is_refused(client: TestClient, db: asyncpg.Pool) -> None:
    member = await new_member(db)
    await _ask(client, member.email)
    [body] = await _mails(db, member.email, 1)
    await db.execute(
        "UPDATE password_resets SET expires_at = now() - interval '1 second' WHERE user_id = $1",
        member.user_id,
    )
    link = _LINK.search(body).group(1)
    assert (await client.get(link, headers=EN)).status == 404
    with pytest.raises(password_reset.ResetLinkInvalid):
        await password_reset.reset_password(db, link.partition("token=")[2], NEW_PASSWORD)


async def test_the_reset_forms_need_their_csrf_cookie(client: TestClient, db: asyncpg.Pool) -> None:
    member = await new_member(db)
    asked = await client.post("/password/forgot", data={"email": member.email}, headers=EN)
    reset = await client.post(
        "/password/reset", data={"token": "x" * 43, "password": NEW_PASSWORD}, headers=EN
    )
    assert (asked.status, reset.status) == (403, 403)
    assert (
        await db.fetchval("SELECT count(*) FROM password_resets WHERE user_id = $1", member.user_id)
        == 0
    )


async def test_a_malformed_address_comes_back_with_its_error(client: TestClient) -> None:
    response = await _ask(client, "not an address", ZH)
    assert response.status == 400 and "请输入邮箱地址。" in await response.text()


async def test_the_counters_keep_no_address(client: TestClient, db: asyncpg.Pool) -> None:
    """PRODUCT.md §5: the per-address counter holds a keyed hash of the address, not it."""
    member = await new_member(db)
    assert (await _ask(client, member.email.upper())).status == 200

    [row] = await db.fetch("SELECT email_hash, client_hash FROM password_reset_attempts")
    assert member.email not in row["email_hash"] and "@" not in row["email_hash"]
    assert len(row["email_hash"]) == 32 and row["email_hash"] != row["client_hash"]
    assert (await _ask(client, member.email)).status == 200  # the same address, the same key
    counted = await db.fetchval(
        "SELECT count(*) FROM password_reset_attempts WHERE email_hash = $1", row["email_hash"]
    )
    assert counted == 2


async def test_a_dead_link_is_said_before_a_short_password(
    client: TestClient, db: asyncpg.Pool
) -> None:
    """Fixing the password of a form whose link expired meanwhile would only lead to a 404."""
    member = await new_member(db)
    await _ask(client, member.email)
    [body] = await _mails(db, member.email, 1)
    link = _LINK.search(body).group(1)
    page = await (await client.get(link, headers=EN)).text()
    await db.execute("DELETE FROM password_resets WHERE user_id = $1", member.user_id)
    form = {"csrf_token": csrf_token(page), "token": link.partition("token=")[2], "password": "x"}

    response = await client.post("/password/reset", data=form, headers=EN)

    assert response.status == 404 and "unknown, used or expired" in await response.text()


async def test_the_link_is_committed_before_its_email_goes_and_a_refusal_changes_no_answer(
    settings: Settings, db: asyncpg.Pool, caplog: pytest.LogCaptureFixture
) -> None:
    """Against a real SMTP server on a loopback socket (tests/smtp_server.py): while the server
    holds its answer to the message, the link it carries already works (committed); a server
    that refuses the message changes nothing the asker sees, and the log says it."""
    member = await new_member(db)
    await db.execute("DELETE FROM password_reset_attempts")
    with smtp_server() as (port, received):
        received.hold = threading.Event()
        sending = await _reset_by(db, settings, port, member.email)
        assert sending is not None
        try:
            assert await asyncio.to_thread(received.arrived.wait, 10)
            body = email.message_from_bytes(received.envelopes[0][2], policy=default)
            link = _LINK.search(body.get_content())
            assert link is not None
            token = link.group(1).partition("token=")[2]
            assert await password_reset.link_is_live(db, token)
        finally:
            received.hold.set()
        await sending
        received.refuse_rcpt = True
        refused = await _reset_by(db, settings, port, member.email)
        assert refused is not None
        await refused  # the background send: it logs, raises nothing
    assert len(received.envelopes) == 1
    assert "password reset email not sent" in caplog.text


async def _reset_by(
    db: asyncpg.Pool, settings: Settings, port: int, address: str
) -> asyncio.Task[None] | None:
    return await password_reset.request_reset(
        db,
        provider(port),
        email=address,
        client=f"client-{uuid.uuid4().hex}",
        secret_key=settings.secret_key,
        language="en",
        reset_url=settings.console_url + "/password/reset",
    )
