"""API keys of the POS redemption API (docs/coupons.md, "POS API"): a merchant's owner makes
them in the console (ads/pos_keys_page.py) and a point-of-sale system sends one as
`Authorization: Bearer <key>` (ads/pos_api.py).

A key is `pos_` and 43 random URL-safe characters (256 bits), shown once, when it is made.
Only its keyed hash is stored (HMAC-SHA256 under a key derived from the platform secret, as
kernel/privacy.py derives its keys), with the key's first characters for the console to tell
keys apart. A key may be limited to one of the merchant's stores. Revoked keys stay listed;
a process keeps a key it looked up for KEY_CACHE_SECONDS (revoking clears its own at once).
A key of a merchant the platform suspended is known but refused, and its use is not noted:
whether the merchant is suspended is asked of accounts (`accounts.services.merchant_suspended`)
when the key is looked up and kept as long, so a suspension, or its end, reaches the API
within KEY_CACHE_SECONDS.
"""

from __future__ import annotations

import functools
import hmac
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from accounts import audit
from accounts import services as accounts
from kernel.cache import TtlCache
from kernel.errors import PorticoError
from kernel.sql import load_queries

queries = load_queries(__file__, "pos.sql")

KEY_START = "pos_"  # what every key begins with
SHOWN_CHARS = 12  # of the key, kept to tell keys apart: "pos_" and 8 random characters
MAX_NAME = 100
MAX_LIVE_KEYS = 50  # per merchant, not revoked
TOUCH_EVERY = 60.0  # seconds: a key's last use is noted at most this often
# Seconds a process keeps a key it looked up: a busy POS costs no query for its key. Revoking
# clears this process's keys at once; another process (--workers) takes a revoked key at most
# this long.
KEY_CACHE_SECONDS = 2.0
_TOKEN = re.compile(r"pos_[A-Za-z0-9_-]{43}")


class KeyNameInvalid(PorticoError):
    message_id = "pos_keys_error_name"
    status = 400


class TooManyKeys(PorticoError):
    message_id = "pos_keys_error_too_many"
    status = 409


class KeyUnknown(PorticoError):
    message_id = "pos_keys_error_unknown"
    status = 404


@dataclass(frozen=True)
class PosKey:
    """A key in use, as a request authenticated with it acts."""

    merchant_id: uuid.UUID
    key_id: uuid.UUID
    store_id: uuid.UUID | None  # None: any of the merchant's stores
    name: str
    prefix: str


@dataclass(frozen=True)
class KeyListing:
    key_id: uuid.UUID
    name: str
    prefix: str
    store_id: uuid.UUID | None
    created_by: uuid.UUID
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


@dataclass(frozen=True)
class NewKey:
    """What the owner sees once: the key itself is never stored."""

    key_id: uuid.UUID
    name: str
    token: str


@dataclass(frozen=True)
class Authenticated:
    """A presented key that exists: `key`, whether it was revoked, and whether the platform
    suspended its merchant."""

    key: PosKey
    revoked: bool
    suspended: bool


_found: TtlCache[bytes, Authenticated] = TtlCache(KEY_CACHE_SECONDS)


@functools.cache
def _hashing_key(secret_key: str) -> bytes:
    return hmac.digest(secret_key.encode(), b"pos-api-key", "sha256")


def key_hash(secret_key: str, token: str) -> bytes:
    """The stored form of a key: HMAC-SHA256 under a key derived from the platform secret."""
    return hmac.digest(_hashing_key(secret_key), token.encode(), "sha256")


def clean_name(name: str) -> str:
    name = " ".join(name.split())
    if not name or len(name) > MAX_NAME or not name.isprintable():
        raise KeyNameInvalid(f"a key's name has 1 to {MAX_NAME} printable characters")
    return name


async def create_key(
    db: asyncpg.Pool,
    secret_key: str,
    merchant_id: uuid.UUID,
    *,
    name: str,
    store_id: uuid.UUID | None,
    created_by: uuid.UUID,
    store_name: str = "",
) -> NewKey:
    """A new key of the merchant (for one of its stores, or any when `store_id` is None), with
    its audit entry (`pos_key.create`: its name and `store_name`, never the key) in one
    transaction. The caller has checked that the user is an owner and the store the
    merchant's."""
    token = KEY_START + secrets.token_urlsafe(32)
    key_id = uuid.uuid4()
    name = clean_name(name)
    async with db.acquire() as conn, conn.transaction():
        made = await conn.fetchval(
            queries.insert_key,
            merchant_id,
            key_id,
            name,
            token[:SHOWN_CHARS],
            store_id,
            created_by,
            key_hash(secret_key, token),
            MAX_LIVE_KEYS,
        )
        if made is None:
            raise TooManyKeys(f"merchant {merchant_id} has {MAX_LIVE_KEYS} keys already")
        await audit.record_change(
            conn,
            merchant_id,
            audit.Actor.user(created_by),
            "pos_key.create",
            target_id=key_id,
            target_name=name,
            after={"store": store_name},
        )
    return NewKey(key_id, name, token)


async def revoke_key(
    db: asyncpg.Pool,
    merchant_id: uuid.UUID,
    key_id: uuid.UUID,
    *,
    actor: audit.Actor,
) -> None:
    """The key stops working at once (its next request is refused); KeyUnknown when it is not
    the merchant's or was revoked already. The audit log records it (`pos_key.revoke`, by
    `actor`) in the same transaction."""
    async with db.acquire() as conn, conn.transaction():
        name = await conn.fetchval(queries.revoke_key, merchant_id, key_id)
        if name is None:
            raise KeyUnknown(f"merchant {merchant_id} has no key {key_id} in use")
        await audit.record_change(
            conn,
            merchant_id,
            actor,
            "pos_key.revoke",
            target_id=key_id,
            target_name=name,
            before={"in_use": True},
            after={"in_use": False},
        )
    _found.clear()


async def list_keys(db: asyncpg.Pool, merchant_id: uuid.UUID) -> list[KeyListing]:
    """The merchant's keys, those in use first, newest first."""
    return [KeyListing(**dict(row)) for row in await db.fetch(queries.list_keys, merchant_id)]


async def authenticate(db: asyncpg.Pool, secret_key: str, token: str) -> Authenticated | None:
    """The key `token` is, or None when it is no key of ours (malformed or unknown). A key
    that may act (not revoked, its merchant not suspended) has its use noted, at most once
    every TOUCH_EVERY seconds."""
    if not _TOKEN.fullmatch(token):
        return None
    digest = key_hash(secret_key, token)
    found = _found.get(digest)
    if found is None:
        row = await db.fetchrow(queries.key_by_hash, digest)
        if row is None:
            return None  # not kept: a key made a moment later works at once
        key = PosKey(row["merchant_id"], row["key_id"], row["store_id"], row["name"], row["prefix"])
        suspended = await accounts.merchant_suspended(db, key.merchant_id)
        found = Authenticated(key, revoked=row["revoked_at"] is not None, suspended=suspended)
        if not (found.revoked or found.suspended):
            await db.execute(queries.touch_key, key.merchant_id, key.key_id, TOUCH_EVERY)
        _found.put(digest, found)
    return found
