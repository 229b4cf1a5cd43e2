import hashlib
import uuid
from datetime import timedelta

import asyncpg
import pytest

from accounts import services

PASSWORD = "correct horse battery"


def unique_email() -> str:
    return f"user-{uuid.uuid4().hex}@example.com"


def client_of(email: str) -> str:
    """The client an email's owner signs in from: one for each test's own email (the tests
    share a database, and the lockout counts a client's failures across every email)."""
    return f"client-of:{email.lower()}"


def new_client() -> str:
    return f"client:{uuid.uuid4().hex}"


async def test_create_user_normalises_email_and_authenticates(db: asyncpg.Pool) -> None:
    email = unique_email()
    user_id = await services.create_user(db, f"  {email.upper()} ", "Li Lei", PASSWORD)

    user = await services.authenticate(db, email.upper(), PASSWORD, client=client_of(email))

    assert user == services.User(user_id, email, "Li Lei")
    stored = await db.fetchval(
        "SELECT password_hash FROM user_accounts WHERE user_id = $1", user_id
    )
    assert stored.startswith("$argon2id$") and PASSWORD not in stored


@pytest.mark.parametrize(
    "email", ["", "no-at-sign", "a@b", "two@@example.com", "sp ace@example.com"]
)
async def test_create_user_rejects_bad_email(db: asyncpg.Pool, email: str) -> None:
    with pytest.raises(services.InvalidEmail):
        await services.create_user(db, email, "Name", PASSWORD)


async def test_create_user_rejects_short_password(db: asyncpg.Pool) -> None:
    with pytest.raises(services.WeakPassword) as caught:
        await services.create_user(db, unique_email(), "Name", "short")
    assert "8 characters" in str(caught.value)


async def test_create_user_rejects_a_taken_email(db: asyncpg.Pool) -> None:
    email = unique_email()
    await services.create_user(db, email, "First", PASSWORD)
    with pytest.raises(services.EmailTaken):
        await services.create_user(db, email.upper(), "Second", PASSWORD)


async def test_wrong_password_is_rejected(db: asyncpg.Pool) -> None:
    email = unique_email()
    await services.create_user(db, email, "Name", PASSWORD)
    with pytest.raises(services.InvalidCredentials):
        await services.authenticate(db, email, PASSWORD + "!", client=client_of(email))


async def test_unknown_email_is_rejected_like_a_wrong_password(db: asyncpg.Pool) -> None:
    with pytest.raises(services.InvalidCredentials):
        await services.authenticate(db, unique_email(), PASSWORD, client=new_client())


async def test_repeated_failures_lock_the_account_even_for_the_right_password(
    db: asyncpg.Pool,
) -> None:
    email = unique_email()
    await services.create_user(db, email, "Name", PASSWORD)
    for _ in range(services.LOCKOUT_FAILURES):
        with pytest.raises(services.InvalidCredentials):
            await services.authenticate(db, email, "wrong password", client=client_of(email))

    with pytest.raises(services.LoginLocked) as caught:
        await services.authenticate(db, email, PASSWORD, client=client_of(email))
    assert caught.value.status == 429
    assert 14 <= caught.value.values["minutes"] <= 15
    assert not isinstance(caught.value, services.ClientLocked)  # this account, from here


async def test_unknown_emails_are_locked_too(db: asyncpg.Pool) -> None:
    email = unique_email()
    for _ in range(services.LOCKOUT_FAILURES):
        with pytest.raises(services.InvalidCredentials):
            await services.authenticate(db, email, "guess", client=client_of(email))
    with pytest.raises(services.LoginLocked):
        await services.authenticate(db, email, "guess", client=client_of(email))


async def test_a_success_clears_earlier_failures(db: asyncpg.Pool) -> None:
    email = unique_email()
    await services.create_user(db, email, "Name", PASSWORD)
    for _round in range(2):
        for _ in range(services.LOCKOUT_FAILURES - 1):
            with pytest.raises(services.InvalidCredentials):
                await services.authenticate(db, email, "wrong password", client=client_of(email))
        await services.authenticate(db, email, PASSWORD, client=client_of(email))


async def test_failures_from_one_client_do_not_lock_the_owner_out_elsewhere(
    db: asyncpg.Pool,
) -> None:
    """Anyone who knows an owner's email could keep them out by failing with it: the lock is
    on the email from that client only."""
    email, attacker = unique_email(), new_client()
    await services.create_user(db, email, "Name", PASSWORD)
    for _ in range(services.LOCKOUT_FAILURES):
        with pytest.raises(services.InvalidCredentials):
            await services.authenticate(db, email, "wrong password", client=attacker)
    with pytest.raises(services.LoginLocked):
        await services.authenticate(db, email, PASSWORD, client=attacker)
    user = await services.authenticate(db, email, PASSWORD, client=client_of(email))
    assert user.email == email


async def test_one_client_failing_across_many_emails_is_locked_for_all(db: asyncpg.Pool) -> None:
    """Password spraying: a few guesses at each of many accounts, never five at one."""
    email, attacker = unique_email(), new_client()
    await services.create_user(db, email, "Name", PASSWORD)
    for n in range(services.LOCKOUT_CLIENT_FAILURES):
        with pytest.raises(services.InvalidCredentials):
            await services.authenticate(db, f"{n}-{unique_email()}", "Summer2026!", client=attacker)
    with pytest.raises(services.LoginLocked) as caught:
        await services.authenticate(db, email, PASSWORD, client=attacker)
    assert 14 <= caught.value.values["minutes"] <= 15
    assert isinstance(caught.value, services.ClientLocked)  # the page says: from this network
    assert (
        await services.authenticate(db, email, PASSWORD, client=client_of(email))
    ).email == email


def test_client_keys_are_keyed_pseudonyms() -> None:
    one = services.client_key("secret-one", "203.0.113.7")
    assert one == services.client_key("secret-one", "203.0.113.7")
    assert one != services.client_key("secret-two", "203.0.113.7")
    assert one != services.client_key("secret-one", "203.0.113.8")
    assert "203.0.113.7" not in one


async def test_stores_are_scoped_to_their_merchant(db: asyncpg.Pool) -> None:
    merchant = await services.create_merchant(db, "Tea House")
    other = await services.create_merchant(db, "Other")
    beta = await services.create_store(db, merchant, "Beta", "Europe/London")
    alpha = await services.create_store(db, merchant, "Alpha")
    await services.create_store(db, other, "Not mine")

    stores = await services.list_stores(db, merchant)

    assert stores == [
        services.Store(merchant, alpha, "Alpha", "Asia/Shanghai"),
        services.Store(merchant, beta, "Beta", "Europe/London"),
    ]
    assert await services.get_store(db, merchant, beta) == stores[1]
    assert await services.get_store(db, other, beta) is None


@pytest.mark.parametrize("timezone", ["Mars/Olympus", "", "../../etc/passwd"])
async def test_create_store_rejects_an_unknown_timezone(db: asyncpg.Pool, timezone: str) -> None:
    merchant = await services.create_merchant(db, "Tea House")
    with pytest.raises(services.InvalidTimezone):
        await services.create_store(db, merchant, "Store", timezone)


async def test_create_store_for_an_unknown_merchant_fails_clearly(db: asyncpg.Pool) -> None:
    with pytest.raises(services.UnknownMerchantOrUser):
        await services.create_store(db, uuid.uuid4(), "Store")


async def test_memberships_list_only_the_users_merchants(db: asyncpg.Pool) -> None:
    mine = await services.create_merchant(db, "Mine")
    await services.create_merchant(db, "Someone else's")
    user = await services.create_user(db, unique_email(), "Name", PASSWORD)

    await services.add_membership(db, mine, user, "staff")
    await services.add_membership(db, mine, user, "owner")  # changes the role

    assert await services.memberships_of(db, user) == [services.Membership(mine, "Mine", "owner")]


async def test_add_membership_checks_role_and_ids(db: asyncpg.Pool) -> None:
    merchant = await services.create_merchant(db, "Shop")
    user = await services.create_user(db, unique_email(), "Name", PASSWORD)
    with pytest.raises(services.InvalidRole):
        await services.add_membership(db, merchant, user, "admin")
    with pytest.raises(services.UnknownMerchantOrUser):
        await services.add_membership(db, merchant, uuid.uuid4(), "staff")


async def test_sessions_store_only_the_token_hash(db: asyncpg.Pool) -> None:
    user_id = await services.create_user(db, unique_email(), "Name", PASSWORD)

    new = await services.start_session(db, user_id)

    digest = hashlib.sha256(new.token.encode()).digest()
    row = await db.fetchrow("SELECT * FROM console_sessions WHERE session_hash = $1", digest)
    assert row["user_id"] == user_id
    assert new.token.encode() not in row["session_hash"]
    session = await services.session_for_token(db, new.token)
    assert session is not None and session.user.user_id == user_id
    assert session.csrf_token == row["csrf_token"] and len(session.csrf_token) >= 32

    await services.end_session(db, new.token)
    assert await services.session_for_token(db, new.token) is None


async def test_an_expired_session_is_not_found_and_is_purged(db: asyncpg.Pool) -> None:
    user_id = await services.create_user(db, unique_email(), "Name", PASSWORD)
    expired = await services.start_session(db, user_id, lifetime=timedelta(seconds=-1))
    live = await services.start_session(db, user_id)

    assert await services.session_for_token(db, expired.token) is None
    await services.purge_expired(db)
    count = await db.fetchval("SELECT count(*) FROM console_sessions WHERE user_id = $1", user_id)
    assert count == 1
    assert await services.session_for_token(db, live.token) is not None


async def test_unknown_or_oversized_tokens_find_no_session(db: asyncpg.Pool) -> None:
    assert await services.session_for_token(db, "not-a-token") is None
    assert await services.session_for_token(db, "x" * 10_000) is None


def test_csrf_matches_only_the_same_non_empty_token() -> None:
    assert services.csrf_matches("abc", "abc")
    assert not services.csrf_matches("abc", "abd")
    assert not services.csrf_matches("abc", None)
    assert not services.csrf_matches("", "")
    assert not services.csrf_matches("abc", "é")
