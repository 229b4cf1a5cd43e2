"""Merchants, stores, console users and their sessions; other domains call these, never the tables.

Passwords are argon2 hashes. A console session is a random token kept in the browser; only its
SHA-256 is stored, with a per-session CSRF token that every POST form must carry back.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import math
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import asyncpg
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from kernel.errors import PorticoError
from kernel.sql import load_queries

__all__ = [
    "ROLES",
    "AccountError",
    "ConsoleSession",
    "EmailTaken",
    "InvalidCredentials",
    "InvalidEmail",
    "InvalidName",
    "InvalidRole",
    "InvalidTimezone",
    "LoginLocked",
    "Membership",
    "NewSession",
    "Store",
    "UnknownMerchantOrUser",
    "User",
    "WeakPassword",
    "add_membership",
    "authenticate",
    "create_merchant",
    "create_store",
    "create_user",
    "csrf_matches",
    "end_session",
    "get_store",
    "list_stores",
    "memberships_of",
    "purge_expired",
    "session_for_token",
    "start_session",
]

queries = load_queries(__file__)

ROLES = ("owner", "staff")
MIN_PASSWORD_LENGTH = 8  # NIST SP 800-63B minimum for a password a person chooses
MAX_PASSWORD_LENGTH = 1024  # hashing megabytes of "password" is a cheap denial of service
MAX_NAME_LENGTH = 200
LOCKOUT_FAILURES = 5  # for one email from one client
LOCKOUT_CLIENT_FAILURES = 20  # from one client, whatever the emails
LOCKOUT_WINDOW = timedelta(minutes=15)
SESSION_LIFETIME = timedelta(hours=12)

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_hasher = PasswordHasher()

Executor = asyncpg.Connection | asyncpg.Pool


# Errors ------------------------------------------------------------------------------------


class AccountError(PorticoError):
    message_id = "error_account"


class InvalidEmail(AccountError):
    message_id = "error_invalid_email"


class WeakPassword(AccountError):
    message_id = "error_weak_password"


class InvalidName(AccountError):
    message_id = "error_invalid_name"


class EmailTaken(AccountError):
    message_id = "error_email_taken"
    status = 409


class InvalidTimezone(AccountError):
    message_id = "error_invalid_timezone"


class InvalidRole(AccountError):
    message_id = "error_invalid_role"


class UnknownMerchantOrUser(AccountError):
    message_id = "error_unknown_merchant_or_user"
    status = 404


class InvalidCredentials(AccountError):
    message_id = "error_invalid_credentials"
    status = 401


class LoginLocked(AccountError):
    message_id = "error_login_locked"
    status = 429


class ClientLocked(LoginLocked):
    """Locked for every email: this address failed too often, whatever the emails."""

    message_id = "error_login_locked_here"


# Records -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Store:
    merchant_id: uuid.UUID
    store_id: uuid.UUID
    name: str
    timezone: str


@dataclass(frozen=True)
class User:
    user_id: uuid.UUID
    email: str
    display_name: str


@dataclass(frozen=True)
class Membership:
    merchant_id: uuid.UUID
    merchant_name: str
    role: str


@dataclass(frozen=True)
class NewSession:
    """What the browser gets once: the raw token is never stored."""

    token: str
    expires_at: datetime


@dataclass(frozen=True)
class ConsoleSession:
    user: User
    csrf_token: str
    expires_at: datetime
    session_id: uuid.UUID | None = None  # names it on the Sessions page
    operator: bool = False  # the user is a platform operator (accounts.operators), as of now


# Merchants and stores ----------------------------------------------------------------------


async def create_merchant(conn: Executor, name: str) -> uuid.UUID:
    merchant_id = uuid.uuid4()
    await conn.execute(queries.insert_merchant, merchant_id, clean_name(name))
    return merchant_id


async def merchant_named(db: Executor, name: str) -> uuid.UUID | None:
    """The oldest merchant with exactly this name (names are not unique; the demo's is)."""
    return await db.fetchval(queries.merchant_named, name)


async def create_store(
    conn: Executor, merchant_id: uuid.UUID, name: str, timezone: str = "Asia/Shanghai"
) -> uuid.UUID:
    _check_timezone(timezone)
    store_id = uuid.uuid4()
    try:
        await conn.execute(queries.insert_store, merchant_id, store_id, clean_name(name), timezone)
    except asyncpg.ForeignKeyViolationError as exc:
        raise UnknownMerchantOrUser(f"no merchant {merchant_id}") from exc
    return store_id


async def list_stores(db: Executor, merchant_id: uuid.UUID) -> list[Store]:
    """The merchant's stores by name. The caller has checked the user may see this merchant."""
    return [Store(**dict(r)) for r in await db.fetch(queries.list_stores, merchant_id)]


async def merchant_zone(db: Executor, merchant_id: uuid.UUID) -> str:
    """The time zone the merchant's console pages show times in: its stores' when they share
    one, else UTC."""
    zones = {store.timezone for store in await list_stores(db, merchant_id)}
    return zones.pop() if len(zones) == 1 else "UTC"


async def get_store(db: Executor, merchant_id: uuid.UUID, store_id: uuid.UUID) -> Store | None:
    row = await db.fetchrow(queries.get_store, merchant_id, store_id)
    return Store(**dict(row)) if row else None


async def find_stores(
    db: Executor, store: str, merchant: str | None = None
) -> list[tuple[Store, str]]:
    """Stores whose id or exact name is `store`, of the merchant whose id or exact name is
    `merchant` (None: any), each with its merchant's name. For operators (the command line),
    not for console users: it crosses merchants."""
    rows = await db.fetch(queries.find_stores, store.strip(), merchant)
    return [
        (Store(r["merchant_id"], r["store_id"], r["name"], r["timezone"]), r["merchant_name"])
        for r in rows
    ]


@dataclass(frozen=True)
class StoreFacts:
    timezone: str
    city: str | None
    category: str = "other"  # "other": none chosen (the default of a store, migration 0034)


@dataclass(frozen=True)
class VenueFacts:
    """What ad targeting matches on at a merchant: its category and its stores' categories,
    cities and time zones."""

    category: str  # the merchant's
    stores: dict[uuid.UUID, StoreFacts]

    def category_at(self, store_id: uuid.UUID) -> str:
        """The store's category; the merchant's for a store without one ("other", a store's
        default) and for a store the merchant does not have."""
        store = self.stores.get(store_id)
        if store is None or store.category == "other":
            return self.category
        return store.category


MERCHANT_CATEGORIES = (
    "food",
    "fashion",
    "beauty",
    "electronics",
    "grocery",
    "services",
    "entertainment",
    "other",
)


class InvalidCategory(AccountError):
    message_id = "error_invalid_category"


async def venue_facts(db: Executor, merchant_id: uuid.UUID) -> VenueFacts:
    rows = await db.fetch(queries.venue_facts, merchant_id)
    category = rows[0]["category"] if rows else "other"
    stores = {
        r["store_id"]: StoreFacts(r["timezone"], r["city"], r["store_category"])
        for r in rows
        if r["store_id"]
    }
    return VenueFacts(category, stores)


async def merchant_names(db: Executor, merchant_ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
    """Names of merchants by id (the venues an advertiser targets, public in its console; the
    merchant an invitation names); an unknown id is left out."""
    rows = await db.fetch(queries.merchant_names, merchant_ids)
    return {r["merchant_id"]: r["name"] for r in rows}


async def set_merchant_category(db: Executor, merchant_id: uuid.UUID, category: str) -> None:
    if category not in MERCHANT_CATEGORIES:
        raise InvalidCategory(f"category {category[:40]!r} is not one of {MERCHANT_CATEGORIES}")
    await db.execute(queries.set_merchant_category, merchant_id, category)


async def set_store_city(
    db: Executor, merchant_id: uuid.UUID, store_id: uuid.UUID, city: str | None
) -> None:
    city = (city or "").strip() or None
    if city is not None and len(city) > 80:
        raise InvalidName("a city must have at most 80 characters")
    await db.execute(queries.set_store_city, merchant_id, store_id, city)


async def stores_of_member(
    db: Executor, merchant_id: uuid.UUID, user_id: uuid.UUID
) -> list[Store] | None:
    """The stores a member may act for: None for an owner (every store), else a staff member's
    given stores (possibly none); [] for someone who is no member at all."""
    role = await db.fetchval(queries.member_role, merchant_id, user_id)
    if role == "owner":
        return None
    if role is None:
        return []
    return [Store(**dict(r)) for r in await db.fetch(queries.member_stores, merchant_id, user_id)]


async def visible_stores(db: Executor, merchant_id: uuid.UUID, user_id: uuid.UUID) -> list[Store]:
    """The merchant's stores this member may see: all for an owner, the given ones for staff."""
    given = await stores_of_member(db, merchant_id, user_id)
    return await list_stores(db, merchant_id) if given is None else given


async def set_member_stores(
    conn: asyncpg.Connection,
    merchant_id: uuid.UUID,
    user_id: uuid.UUID,
    store_ids: list[uuid.UUID],
) -> None:
    """The stores a staff member may act for, replacing those given before."""
    async with conn.transaction():
        await conn.execute(queries.clear_member_stores, merchant_id, user_id)
        try:
            await conn.execute(queries.add_member_stores, merchant_id, user_id, store_ids)
        except asyncpg.ForeignKeyViolationError as exc:
            raise UnknownMerchantOrUser(
                f"no member {user_id} or no such store at merchant {merchant_id}"
            ) from exc


def _check_timezone(timezone: str) -> None:
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidTimezone(f"unknown time zone {timezone!r}", timezone=timezone) from exc


def clean_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > MAX_NAME_LENGTH:
        raise InvalidName(f"a name must have 1 to {MAX_NAME_LENGTH} characters")
    return name


# Users and memberships ---------------------------------------------------------------------


def normalize_email(email: str) -> str:
    return email.strip().lower()


def check_email(email: str) -> str:
    """The address normalized, or InvalidEmail."""
    email = normalize_email(email)
    if len(email) > 254 or not _EMAIL.match(email) or not email.isprintable():
        raise InvalidEmail(f"{email[:60]!r} is not an email address")
    return email


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPassword(
            f"a password needs at least {MIN_PASSWORD_LENGTH} characters",
            min_length=MIN_PASSWORD_LENGTH,
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise WeakPassword(f"a password may have at most {MAX_PASSWORD_LENGTH} characters")


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_hasher.hash, password)


async def create_user(conn: Executor, email: str, display_name: str, password: str) -> uuid.UUID:
    email = check_email(email)
    check_password(password)
    return await insert_user(conn, email, display_name, await hash_password(password))


async def insert_user(
    conn: Executor, email: str, display_name: str, password_hash: str
) -> uuid.UUID:
    """A user whose password is already hashed (a verified sign-up), or EmailTaken."""
    user_id = await conn.fetchval(
        queries.insert_user, uuid.uuid4(), email, clean_name(display_name), password_hash
    )
    if user_id is None:
        raise EmailTaken(f"a user with email {email} already exists")
    return user_id


async def set_password_hash(db: Executor, user_id: uuid.UUID, password_hash: str) -> None:
    """Store a new hash (hash_password) of the user's password."""
    await db.execute(queries.update_password_hash, user_id, password_hash)


async def user_id_by_email(db: Executor, email: str) -> uuid.UUID | None:
    """For operators (the command line, the demo): the user with this email, if any."""
    row = await db.fetchrow(queries.user_by_email, normalize_email(email))
    return row["user_id"] if row else None


async def add_membership(
    conn: Executor, merchant_id: uuid.UUID, user_id: uuid.UUID, role: str
) -> None:
    """Make the user an owner or staff of the merchant (changing the role if already a member).
    New staff may act for every store the merchant has now, until set_member_stores narrows
    that; a store opened later is given to staff explicitly."""
    if role not in ROLES:
        raise InvalidRole(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    try:
        await conn.execute(queries.upsert_membership, merchant_id, user_id, role)
    except asyncpg.ForeignKeyViolationError as exc:
        raise UnknownMerchantOrUser(f"no merchant {merchant_id} or no user {user_id}") from exc
    if role == "staff":
        await conn.execute(queries.give_new_staff_every_store, merchant_id, user_id)


async def memberships_of(db: Executor, user_id: uuid.UUID) -> list[Membership]:
    """The merchants this user may see: the basis of every per-tenant check in the console."""
    return [Membership(**dict(r)) for r in await db.fetch(queries.memberships_of, user_id)]


async def memberships_and_suspended(
    db: Executor, user_id: uuid.UUID
) -> tuple[list[Membership], list[Membership]]:
    """memberships_of, and apart from them the user's merchants that the platform suspended
    (which memberships_of leaves out: the console says why they are gone), in one query."""
    live: list[Membership] = []
    suspended: list[Membership] = []
    for r in await db.fetch(queries.memberships_and_suspended, user_id):
        membership = Membership(r["merchant_id"], r["merchant_name"], r["role"])
        (suspended if r["suspended"] else live).append(membership)
    return live, suspended


async def merchant_suspended(db: Executor, merchant_id: uuid.UUID) -> bool:
    """Whether the platform suspended the merchant (an unknown merchant is not suspended: the
    caller's own look-up says it does not exist)."""
    return bool(await db.fetchval(queries.merchant_suspended, merchant_id))


async def member_count(db: Executor, merchant_id: uuid.UUID, role: str) -> int:
    """How many owners or staff the merchant has."""
    return await db.fetchval(queries.count_members, merchant_id, role)


async def member_names(
    db: Executor, merchant_id: uuid.UUID, user_ids: list[uuid.UUID]
) -> dict[uuid.UUID, str]:
    """Display names of those of `user_ids` who are members of the merchant (no one else's)."""
    rows = await db.fetch(queries.member_names, merchant_id, user_ids)
    return {r["user_id"]: r["display_name"] for r in rows}


# Authentication ----------------------------------------------------------------------------


def client_key(secret_key: str, address: str) -> str:
    """A sign-in client's pseudonym for the lockout (its address is never stored)."""
    digest = hmac.digest(secret_key.encode(), f"console-client:{address}".encode(), "sha256")
    return digest.hex()[:32]


def email_key(secret_key: str, email: str) -> str:
    """An email address's pseudonym for counting requests about it (password resets): a keyed
    hash, so the counters never hold the address (PRODUCT.md §5)."""
    digest = hmac.digest(secret_key.encode(), f"console-email:{email}".encode(), "sha256")
    return digest.hex()[:32]


async def authenticate(db: asyncpg.Pool, email: str, password: str, *, client: str) -> User:
    """The user with this email and password, or InvalidCredentials / LoginLocked.

    `client` (client_key of the request's address) scopes the lockout: failures lock this email
    from this client, and many failures lock the client, but nobody else can lock an owner out
    by failing with their email from elsewhere."""
    email = normalize_email(email)
    lock = await db.fetchrow(
        queries.lockout_ends_at,
        email,
        LOCKOUT_WINDOW,
        LOCKOUT_FAILURES,
        client,
        LOCKOUT_CLIENT_FAILURES,
    )
    if lock["ends_at"] is not None:
        left = lock["ends_at"] - datetime.now(UTC)
        minutes = max(1, math.ceil(left / timedelta(minutes=1)))
        locked = ClientLocked if lock["by_client"] else LoginLocked
        raise locked(f"too many failed sign-ins for {email} from this client", minutes=minutes)
    row = await db.fetchrow(queries.user_by_email, email)
    checkable = row is not None and len(password) <= MAX_PASSWORD_LENGTH
    # Otherwise still verify one hash, so the time taken does not reveal which emails exist.
    stored_hash = row["password_hash"] if checkable else _dummy_hash()
    ok = await asyncio.to_thread(_verify, stored_hash, password if checkable else "")
    succeeded = checkable and ok
    await db.execute(queries.insert_login_attempt, email, client, succeeded)
    if not succeeded:
        raise InvalidCredentials("wrong email or password")
    if _hasher.check_needs_rehash(stored_hash):
        new_hash = await asyncio.to_thread(_hasher.hash, password)
        await set_password_hash(db, row["user_id"], new_hash)
    return User(row["user_id"], row["email"], row["display_name"])


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@functools.cache
def _dummy_hash() -> str:
    return _hasher.hash(secrets.token_urlsafe(16))


# Sessions and CSRF -------------------------------------------------------------------------


TOKEN_LENGTHS = range(20, 101)  # a link's token that may be ours (token_urlsafe(32): 43)


def token_hash(token: str) -> bytes:
    """What is stored of a random token a browser or an email link carries: its SHA-256."""
    return hashlib.sha256(token.encode()).digest()


async def start_session(
    db: Executor,
    user_id: uuid.UUID,
    lifetime: timedelta = SESSION_LIFETIME,
    *,
    device: str = "",
) -> NewSession:
    """A new session; `device` is the coarse browser description the Sessions page shows
    (accounts.sessions.describe_device), never the raw User-Agent."""
    token = secrets.token_urlsafe(32)
    expires_at = datetime.now(UTC) + lifetime
    csrf_token = secrets.token_urlsafe(32)
    await db.execute(
        queries.insert_session, token_hash(token), user_id, csrf_token, expires_at, device[:80]
    )
    return NewSession(token, expires_at)


async def session_for_token(db: Executor, token: str) -> ConsoleSession | None:
    """The live session the browser's token names, or None (unknown or expired)."""
    if not token or len(token) > 128:
        return None
    row = await db.fetchrow(queries.session_by_hash, token_hash(token))
    if row is None:
        return None
    if row["stale"]:  # "last seen" to the minute: one write a minute, not one a request
        await db.execute(queries.touch_session, token_hash(token))
    user = User(row["user_id"], row["email"], row["display_name"])
    return ConsoleSession(
        user, row["csrf_token"], row["expires_at"], row["session_id"], row["operator"]
    )


async def end_session(db: Executor, token: str) -> None:
    await db.execute(queries.delete_session, token_hash(token))


def csrf_matches(expected: str, submitted: str | None) -> bool:
    if not expected or not submitted:
        return False
    return hmac.compare_digest(expected.encode(), submitted.encode())


async def purge_expired(db: Executor) -> None:
    """Drop expired sessions and login attempts too old to matter for the lockout."""
    await db.execute(queries.delete_expired_sessions)
    await db.execute(queries.delete_old_login_attempts, LOCKOUT_WINDOW)
