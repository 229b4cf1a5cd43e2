"""Coupons redeemed by a merchant's point-of-sale system through the POS API (ads/pos_api.py,
docs/coupons.md): a code is locked while its sale goes through, redeemed once (asked again
with the same Idempotency-Key, the same redemption comes back) and may be rolled back within
ads.redemption.UNDO_WINDOW, as at the till.

A code goes claimed → locked → redeemed, or back to claimed when its lock runs out (LOCK_TIME)
or is released; a redemption rolled back leaves it claimed. A locked code is locked or redeemed
by nobody else, the till included, until its lock ends. Every function takes the key the POS
authenticated with: another merchant's codes, locks and redemptions are simply unknown, and a
key limited to one store acts for that store only.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

from accounts import services as accounts
from ads import redemption
from ads.pos_keys import PosKey
from ads.services import queries as till_queries
from kernel.cache import TtlCache
from kernel.errors import PorticoError
from kernel.shopper_events import OnShopperEvents
from kernel.sql import load_queries

queries = load_queries(__file__, "pos.sql")

LOCK_TIME = timedelta(minutes=5)
LOCKS_KEPT = timedelta(days=30)  # ended locks kept for review (many locks, few redemptions)


class LockUnknown(PorticoError):
    message_id = "pos_error_lock_unknown"
    status = 404


class LockEnded(PorticoError):
    """The lock ran out or was released (its code may have been locked again since)."""

    message_id = "pos_error_lock_ended"
    status = 409


class RedemptionUnknown(PorticoError):
    message_id = "pos_error_redemption_unknown"
    status = 404


class AlreadyRolledBack(PorticoError):
    message_id = "pos_error_rolled_back"
    status = 409


class IdempotencyKeyReused(PorticoError):
    """The Idempotency-Key was used before by this API key for another code, store or POS
    reference."""

    message_id = "pos_error_idempotency_reused"
    status = 422


class StoreUnknown(PorticoError):
    message_id = "pos_error_store_unknown"
    status = 422


class StoreNotAllowed(PorticoError):
    """The key is limited to another of the merchant's stores."""

    message_id = "pos_error_store_not_allowed"
    status = 403


@dataclass(frozen=True)
class Lock:
    lock_id: uuid.UUID
    code: str
    store_id: uuid.UUID | None
    pos_reference: str | None
    expires_at: datetime


@dataclass(frozen=True)
class PosRedemption:
    redemption_id: uuid.UUID
    code: str
    title: str
    store_id: uuid.UUID
    redeemed_at: datetime
    rolled_back_at: datetime | None
    pos_reference: str | None
    replayed: bool  # made before, under the same Idempotency-Key

    @property
    def undo_until(self) -> datetime:
        return self.redeemed_at + redemption.UNDO_WINDOW


@dataclass(frozen=True)
class Rollback:
    redemption_id: uuid.UUID
    code: str
    rolled_back_at: datetime


# Stores are never deleted: one found is kept a while, so a busy POS costs no query for it.
_known_stores: TtlCache[tuple[uuid.UUID, uuid.UUID], bool] = TtlCache(600.0)


async def acting_store(db: asyncpg.Pool, key: PosKey, asked: uuid.UUID | None) -> uuid.UUID | None:
    """The store a request acts for: the one asked, which must be the key's when the key is
    limited to a store (then also the default), and one of the merchant's."""
    if key.store_id is not None:
        if asked is not None and asked != key.store_id:
            raise StoreNotAllowed(f"key {key.key_id} is for store {key.store_id}, not {asked}")
        return key.store_id
    if asked is None:
        return None
    if _known_stores.get((key.merchant_id, asked)) is None:
        if await accounts.get_store(db, key.merchant_id, asked) is None:
            raise StoreUnknown(f"merchant {key.merchant_id} has no store {asked}")
        _known_stores.put((key.merchant_id, asked), True)
    return asked


async def lock(
    db: asyncpg.Pool,
    key: PosKey,
    typed: str,
    *,
    store_id: uuid.UUID | None,
    pos_reference: str | None,
) -> Lock:
    """Lock a claimed, unexpired code for LOCK_TIME; anything else raises why it cannot be."""
    code = redemption.read_code(typed)
    row = await db.fetchrow(
        queries.lock_code,
        key.merchant_id,
        code,
        LOCK_TIME.total_seconds(),
        uuid.uuid4(),
        key.key_id,
        store_id,
        pos_reference,
    )
    if row is None:
        status = await redemption.check_code(db, key.merchant_id, code, "en")
        raise redemption.why_not_redeemable(status)
    return Lock(**dict(row))


async def release(db: asyncpg.Pool, key: PosKey, lock_id: uuid.UUID) -> str:
    """End a current lock early (the sale was cancelled): its code, claimed again."""
    code = await db.fetchval(queries.release_lock, key.merchant_id, lock_id)
    if code is None:
        raise await _lock_refusal(db, key, lock_id)
    return code


async def redeem(
    db: asyncpg.Pool,
    key: PosKey,
    *,
    typed: str | None,
    lock_id: uuid.UUID | None,
    store_id: uuid.UUID,
    pos_reference: str | None,
    idempotency_key: str,
    language: str,
    on_events: OnShopperEvents | None = None,
) -> PosRedemption:
    """Redeem a code (`typed`), or the code of a current lock, once at `store_id`. The same
    request again with the same `idempotency_key` gets the same redemption back (`replayed`);
    the key used before for another request is IdempotencyKeyReused."""
    code = None if typed is None else redemption.read_code(typed)
    args = (key.merchant_id, code, lock_id, uuid.uuid4(), store_id, key.key_id, None)
    args += (idempotency_key, pos_reference)
    row = await _redeem_once(db, args, on_events)
    if row is None:  # lost a race, perhaps to the same request under the same idempotency key
        row = await _redeem_once(db, args, on_events)
    if row is None:
        if lock_id is not None:
            raise await _lock_refusal(db, key, lock_id)
        assert code is not None
        status = await redemption.check_code(db, key.merchant_id, code, "en")
        raise redemption.why_not_redeemable(status)
    if not row["same_request"]:
        raise IdempotencyKeyReused(
            f"key {key.key_id} redeemed {row['code']} under this idempotency key before"
        )
    return PosRedemption(
        redemption_id=row["redemption_id"],
        code=row["code"],
        title=row["title_zh"] if language == "zh-CN" else row["title_en"],
        store_id=row["store_id"],
        redeemed_at=row["redeemed_at"],
        rolled_back_at=row["rolled_back_at"],
        pos_reference=row["pos_reference"],
        replayed=row["replayed"],
    )


async def _redeem_once(
    db: asyncpg.Pool, args: tuple[object, ...], on_events: OnShopperEvents | None
) -> asyncpg.Record | None:
    try:
        return await redemption.redeem_row(db, args, on_events)
    except asyncpg.UniqueViolationError:
        # Another request under the same idempotency key stored its redemption first: the
        # next try sees it.
        return None


async def rollback(db: asyncpg.Pool, key: PosKey, redemption_id: uuid.UUID) -> Rollback:
    """Roll a redemption back within UNDO_WINDOW (the code is claimed again); a key limited to
    a store only rolls back that store's."""
    row = await db.fetchrow(
        till_queries.undo_redemption,
        key.merchant_id,
        redemption_id,
        redemption.UNDO_WINDOW.total_seconds(),
        None,
        key.key_id,
        key.store_id,
    )
    if row is not None:
        return Rollback(redemption_id, row["code"], row["rolled_back_at"])
    found = await db.fetchrow(
        queries.redemption_status, key.merchant_id, redemption_id, key.store_id
    )
    if found is None:
        raise RedemptionUnknown(f"merchant {key.merchant_id} has no redemption {redemption_id}")
    if found["rolled_back_at"] is not None:
        raise AlreadyRolledBack(f"redemption {redemption_id} was rolled back already")
    raise redemption.UndoTooLate(f"redemption {redemption_id} is older than the undo window")


async def _lock_refusal(db: asyncpg.Pool, key: PosKey, lock_id: uuid.UUID) -> PorticoError:
    """Why the lock cannot be redeemed or released now."""
    row = await db.fetchrow(queries.lock_status, key.merchant_id, lock_id)
    if row is None:
        return LockUnknown(f"merchant {key.merchant_id} has no lock {lock_id}")
    if row["state"] == "redeemed" or row["expired"]:
        status = await redemption.check_code(db, key.merchant_id, row["code"], "en")
        return redemption.why_not_redeemable(status)
    return LockEnded(f"lock {lock_id} on {row['code']} ran out or was released")


async def purge_old_locks(db: asyncpg.Pool) -> int:
    """Drop the locks that ended more than LOCKS_KEPT ago (run by the console's purge job); a
    code whose last lock went stays as it was (a lock past its time reads as claimed)."""
    done = await db.execute(queries.purge_old_locks, LOCKS_KEPT.total_seconds())
    return int(done.split()[-1])
