"""Vouchers (docs/logins.md, "Vouchers"): a merchant makes a batch of printed codes, each letting
up to `max_devices` devices online for `minutes` from the code's first use, within a data limit.

Codes are drawn from an alphabet without look-alikes (no 0/O, 1/I) and typed by shoppers in any
case, with spaces or dashes. Redemption holds under concurrency: each code's row is locked while
it is redeemed, so of two phones racing for a single-device code exactly one gets in. Guessing
is held back by counting refused codes per device and per IP (portal/rate_limits.py).
"""

from __future__ import annotations

import dataclasses
import logging
import math
import re
import secrets
import unicodedata
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from accounts import audit
from controller.services import find_router
from kernel.errors import PorticoError
from kernel.sql import load_queries
from portal import rate_limits, session_usage, sessions
from portal.grants import Admission, store_admission
from portal.logins import TermsRequired, require_method
from portal.rate_limits import Limit
from portal.stores import Visit

log = logging.getLogger("portico.portal.vouchers")
queries = load_queries(__file__, "vouchers.sql")

ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # 32 symbols: no 0/O and no 1/I
CODE_LENGTH = 10  # 50 bits: far beyond guessing at the rate limits below
GROUP = 5  # a code is shown as ABCDE-FGHJK
_CODE = re.compile(r"^[0-9A-Z]{6,16}$")  # what the vouchers table accepts (migration 0020)
MAX_TYPED = 64  # characters of a typed code looked at

# The bounds of a batch (migration 0020's CHECKs, and a sheet a merchant can print).
LIMITS = {
    "minutes": (1, 525_600),  # a year
    "quota_mb": (0, 1_048_576),  # 1 TB; 0: no limit
    "max_devices": (1, 100),
    "count": (1, 1000),
}
MAX_NAME = 100
DRAWS = 5  # rounds of drawing codes again for those already taken at the merchant


# -- errors a shopper sees ----------------------------------------------------------------------


class VoucherRefused(PorticoError):
    """A code that lets no one in; the splash shows why, in the shopper's language."""

    status = 403
    reason = "refused"  # a word for the log line


class VoucherMissing(VoucherRefused):
    message_id = "error_voucher_missing"
    status = 400
    reason = "missing"


class VoucherMalformed(VoucherRefused):
    message_id = "error_voucher_malformed"
    status = 400
    reason = "malformed"


class UnknownVoucher(VoucherRefused):
    message_id = "error_voucher_unknown"
    status = 400
    reason = "unknown"


class VoucherRevoked(VoucherRefused):
    message_id = "error_voucher_revoked"
    reason = "revoked"


class VoucherExpired(VoucherRefused):
    """Past the batch's "valid until" for a device not on the voucher yet."""

    message_id = "error_voucher_expired"
    reason = "expired"


class VoucherTimeUsed(VoucherRefused):
    """The voucher's minutes, counted from its first use, have run out."""

    message_id = "error_voucher_time_used"
    reason = "time used"


class VoucherFull(VoucherRefused):
    """Already on as many devices as it allows."""

    message_id = "error_voucher_full"
    reason = "all devices used"


class VoucherDataUsed(VoucherRefused):
    """Its sessions together used the voucher's data limit."""

    message_id = "error_voucher_data_used"
    reason = "data used"


class VoucherOtherStore(VoucherRefused):
    message_id = "error_voucher_other_store"
    reason = "other store"


class TooManyVoucherTries(VoucherRefused):
    message_id = "error_voucher_rate"
    status = 429
    reason = "rate limited"


# -- codes --------------------------------------------------------------------------------------


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def normalize_code(typed: str) -> str:
    """The code a shopper typed as stored: any case, full-width letters (a Chinese keyboard),
    spaces and dashes of any kind are fine. VoucherMissing or VoucherMalformed otherwise."""
    text = unicodedata.normalize("NFKC", typed[:MAX_TYPED])
    code = "".join(
        ch for ch in text if not ch.isspace() and unicodedata.category(ch) != "Pd"
    ).upper()
    if not code:
        raise VoucherMissing("no code typed")
    if not _CODE.match(code):
        raise VoucherMalformed(f"{len(code)} characters, not a voucher code")
    return code


def format_code(code: str) -> str:
    """ABCDEFGHJK -> ABCDE-FGHJK: easier to read out and type."""
    return "-".join(code[i : i + GROUP] for i in range(0, len(code), GROUP))


# -- batches ------------------------------------------------------------------------------------

Error = tuple[str, dict[str, object]]  # (message id, its fields) beside a form field


@dataclass(frozen=True)
class BatchSpec:
    """A batch the merchant asks for; `store_id` None: any of the merchant's stores."""

    name: str
    store_id: uuid.UUID | None
    minutes: int
    quota_kb: int  # 0: no data limit
    max_devices: int
    valid_until: datetime | None  # not redeemable by a new device after (None: no end)
    count: int


def batch_errors(spec: BatchSpec, now: datetime) -> dict[str, Error]:
    """What is wrong with a batch, by form field (empty: nothing)."""
    errors: dict[str, Error] = {}
    if not spec.name.strip():
        errors["name"] = ("vch_error_required", {})
    elif len(spec.name.strip()) > MAX_NAME:
        errors["name"] = ("vch_error_too_long", {"max": MAX_NAME})
    numbers = {
        "minutes": (spec.minutes, 1),
        "quota_mb": (spec.quota_kb, 1024),  # the form asks in MB; stored in KB
        "max_devices": (spec.max_devices, 1),
        "count": (spec.count, 1),
    }
    for name, (value, unit) in numbers.items():
        low, high = LIMITS[name]
        if not low * unit <= value <= high * unit:
            errors[name] = ("vch_error_range", {"low": low, "high": high})
    if spec.valid_until is not None:
        if spec.valid_until.tzinfo is None:
            raise ValueError("valid_until must be timezone-aware")
        if spec.valid_until <= now:
            errors["valid_until"] = ("vch_error_past", {})
    return errors


class BadBatch(PorticoError):
    message_id = "vch_error_batch"
    status = 400


async def create_batch(
    db: asyncpg.Pool,
    merchant_id: uuid.UUID,
    spec: BatchSpec,
    *,
    created_by: uuid.UUID | None = None,
    now: datetime,
    store_name: str = "",
) -> uuid.UUID:
    """Store the batch and its codes in one transaction (all or nothing), with its audit
    entry (`voucher_batch.create`, by `created_by`; no codes) when a user made it. The caller
    checked that `spec.store_id` is one of the merchant's stores (named `store_name`)."""
    errors = batch_errors(spec, now)
    if errors:
        raise BadBatch(f"bad batch fields: {', '.join(sorted(errors))}")
    batch_id = uuid.uuid4()
    async with db.acquire() as conn, conn.transaction():
        await conn.execute(
            queries.insert_batch,
            merchant_id,
            batch_id,
            spec.store_id,
            spec.name.strip(),
            spec.minutes,
            spec.quota_kb,
            spec.max_devices,
            spec.valid_until,
            created_by,
        )
        await _insert_codes(conn, merchant_id, batch_id, spec.count)
        if created_by is not None:
            await audit.record_change(
                conn,
                merchant_id,
                audit.Actor.user(created_by),
                "voucher_batch.create",
                target_id=batch_id,
                target_name=spec.name.strip(),
                after={
                    "store": store_name,
                    "minutes": spec.minutes,
                    "quota_kb": spec.quota_kb,
                    "max_devices": spec.max_devices,
                    "valid_until": spec.valid_until,
                    "count": spec.count,
                },
            )
    log.info("voucher batch %s: %d codes for merchant %s", batch_id, spec.count, merchant_id)
    return batch_id


async def _insert_codes(
    conn: asyncpg.Connection, merchant_id: uuid.UUID, batch_id: uuid.UUID, count: int
) -> None:
    """`count` new codes, unique at the merchant: a code drawn twice or already taken is
    drawn again (a collision is one in 2^50 per pair, so a second round is rare)."""
    missing = count
    for _ in range(DRAWS):
        drawn = {new_code() for _ in range(missing)}
        stored = await conn.fetch(queries.insert_codes, merchant_id, batch_id, list(drawn))
        missing -= len(stored)
        if missing == 0:
            return
    raise RuntimeError(f"could not draw {count} unique voucher codes in {DRAWS} rounds")


@dataclass(frozen=True)
class Batch:
    batch_id: uuid.UUID
    store_id: uuid.UUID | None
    name: str
    minutes: int
    quota_kb: int
    max_devices: int
    valid_until: datetime | None
    created_at: datetime
    total: int
    used: int  # codes used at least once
    revoked: int
    unused: int  # neither used nor revoked


MAX_BATCHES = 500  # listed on one page


async def list_batches(db: asyncpg.Pool, merchant_id: uuid.UUID) -> list[Batch]:
    """The merchant's batches, newest first, with how many codes are used, unused, revoked."""
    rows = await db.fetch(queries.batches, merchant_id, None, MAX_BATCHES)
    return [Batch(**dict(row)) for row in rows]


async def get_batch(db: asyncpg.Pool, merchant_id: uuid.UUID, batch_id: uuid.UUID) -> Batch | None:
    row = await db.fetchrow(queries.batches, merchant_id, batch_id, 1)
    return Batch(**dict(row)) if row else None


async def batch_owner(
    db: asyncpg.Pool, batch_id: uuid.UUID, among: Sequence[uuid.UUID]
) -> uuid.UUID | None:
    """Which of the merchants `among` holds the batch (None: none of them). The console asks
    it of a batch's id in a request's path, among the user's suspended merchants
    (portico/suspension.py), to say why instead of answering as for a foreign id."""
    return await db.fetchval(queries.batch_owner, list(among), batch_id)


@dataclass(frozen=True)
class Voucher:
    code: str
    first_used_at: datetime | None
    revoked_at: datetime | None
    devices: int

    @property
    def shown(self) -> str:
        return format_code(self.code)


async def codes_of_batch(
    db: asyncpg.Pool, merchant_id: uuid.UUID, batch_id: uuid.UUID
) -> list[Voucher]:
    rows = await db.fetch(queries.codes_of_batch, merchant_id, batch_id)
    return [Voucher(**dict(row)) for row in rows]


async def revoke_batch(
    db: asyncpg.Pool, merchant_id: uuid.UUID, batch_id: uuid.UUID, *, actor: audit.Actor
) -> int:
    """Revoke every code of the batch not revoked yet; how many. No device gets in with these
    codes again, and the sessions running on them end within a minute: due now, the session
    end job ends them as 'staff' and has their routers deauth the clients. The audit log
    records it (`voucher_batch.revoke`, by `actor`) in the same transaction, unless no code
    was left to revoke."""
    async with db.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(queries.revoke_batch, merchant_id, batch_id)
        if row["revoked"]:
            await _record_revoke(conn, merchant_id, batch_id, row["name"], actor, row["revoked"])
    return row["revoked"]


async def revoke_code(
    db: asyncpg.Pool,
    merchant_id: uuid.UUID,
    batch_id: uuid.UUID,
    code: str,
    *,
    actor: audit.Actor,
) -> bool:
    """Revoke one code of the batch, and end its running sessions (as revoke_batch); False
    when it is not one of its live codes. The audit entry (by `actor`) counts the code, never
    shows it."""
    async with db.acquire() as conn, conn.transaction():
        batch_name = await conn.fetchval(queries.revoke_code, merchant_id, code, batch_id)
        if batch_name is None:
            return False
        await _record_revoke(conn, merchant_id, batch_id, batch_name, actor, 1)
    return True


async def _record_revoke(
    conn: asyncpg.Connection,
    merchant_id: uuid.UUID,
    batch_id: uuid.UUID,
    batch_name: str,
    actor: audit.Actor,
    count: int,
) -> None:
    await audit.record_change(
        conn,
        merchant_id,
        actor,
        "voucher_batch.revoke",
        target_id=batch_id,
        target_name=batch_name,
        after={"codes_revoked": count},
    )


async def brand_of_store(db: asyncpg.Pool, merchant_id: uuid.UUID, store_id: uuid.UUID) -> str:
    """The name the store's portal shows (its splash header), or "" when it has none."""
    return await db.fetchval(queries.brand_of_store, merchant_id, store_id) or ""


# -- redemption ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Redemption:
    code: str
    minutes_left: int  # whole minutes of the voucher's time still to run
    quota_kb: int  # what is left of the voucher's data limit (download); 0: no data limit
    again: bool  # this device had redeemed the code before


def _minutes_left(first_used_at: datetime | None, minutes: int, now: datetime) -> int:
    if first_used_at is None:
        return minutes
    seconds = minutes * 60 - (now - first_used_at).total_seconds()
    return max(0, math.floor(seconds / 60))


Counters = Sequence[tuple[Limit, str]]  # rate-limit counters: (limit, keyed hash)


async def redeem(
    db: asyncpg.Pool,
    merchant_id: uuid.UUID,
    store_id: uuid.UUID,
    code: str,
    device: str,
    held_back_by: Counters = (),
) -> Redemption:
    """Let `device` use the voucher `code` at this store, or raise why not.

    A device already on the voucher may come back for the time left (even past "valid
    until", which only keeps new devices out). A new one takes a free device place; the
    first one starts the clock. A counter of `held_back_by` at its limit refuses the code
    (checked in the same statement that counts the devices: one round trip less)."""
    try:
        return await _redeem(db, merchant_id, store_id, code, device, held_back_by, fold=True)
    except _FoldFirst as first:
        # Not inside the voucher's transaction: folding the agent's reports uses the pool,
        # and a login holding one connection while waiting for another can exhaust it.
        await _fold_agent_usage(db, merchant_id, first.agent_sessions)
        return await _redeem(db, merchant_id, store_id, code, device, held_back_by, fold=False)


class _FoldFirst(Exception):
    """The voucher's running agent sessions have reports to fold in before it is counted."""

    def __init__(self, agent_sessions: dict[str, list[uuid.UUID]]) -> None:
        super().__init__("fold the agent's usage reports first")
        self.agent_sessions = agent_sessions


async def _fold_agent_usage(
    db: asyncpg.Pool, merchant_id: uuid.UUID, agent_sessions: dict[str, list[uuid.UUID]]
) -> None:
    for router_id, session_ids in agent_sessions.items():
        router = await find_router(db, router_id)
        if router is not None and router.merchant_id == merchant_id:
            await sessions.keep_usage(db, router, session_ids)


async def _redeem(
    db: asyncpg.Pool,
    merchant_id: uuid.UUID,
    store_id: uuid.UUID,
    code: str,
    device: str,
    held_back_by: Counters,
    *,
    fold: bool,
) -> Redemption:
    subjects = [rate_limits.subject(limit, key) for limit, key in held_back_by]
    windows = [limit.window for limit, _key in held_back_by]
    maxima = [limit.max_hits for limit, _key in held_back_by]
    async with db.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(queries.lock_voucher, merchant_id, code)
        if row is None:
            raise UnknownVoucher("no such code at the merchant")
        devices = await conn.fetchrow(
            queries.voucher_devices, merchant_id, code, device, subjects, windows, maxima
        )
        if devices["held_back"]:
            raise TooManyVoucherTries("refused codes at their limit")
        if row["revoked_at"] is not None:
            raise VoucherRevoked("code revoked")
        if row["store_id"] is not None and row["store_id"] != store_id:
            raise VoucherOtherStore(f"code is for store {row['store_id']}")
        now = row["now"]
        left = _minutes_left(row["first_used_at"], row["minutes"], now)
        if left < 1:
            raise VoucherTimeUsed("the voucher's minutes have run out")
        if not devices["mine"]:
            if row["valid_until"] is not None and now >= row["valid_until"]:
                raise VoucherExpired("past the batch's valid-until")
            if devices["devices"] >= row["max_devices"]:
                raise VoucherFull(f"on {devices['devices']} of {row['max_devices']} devices")
        data_left = await _data_left(conn, merchant_id, code, row["quota_kb"], fold=fold)
        if devices["mine"]:
            return Redemption(code, left, data_left, again=True)
        await conn.execute(queries.add_voucher_device, merchant_id, code, device, now)
    return Redemption(code, left, data_left, again=False)


async def _data_left(
    conn: asyncpg.Connection, merchant_id: uuid.UUID, code: str, quota_kb: int, *, fold: bool
) -> int:
    """What is left of the voucher's data limit for a new session (0: it has none): the limit
    less what its ended sessions used and its running ones used so far. With `fold`, running
    agent sessions first have their agent's last reports folded in (_FoldFirst: outside the
    transaction). VoucherDataUsed when nothing is left."""
    if not quota_kb:
        return 0
    usage = await session_usage.voucher_usage(conn, merchant_id, code)
    if fold and usage.agent_sessions:
        raise _FoldFirst(usage.agent_sessions)
    if usage.used_kb >= quota_kb:
        raise VoucherDataUsed(f"its sessions used {usage.used_kb} of {quota_kb} kB")
    return quota_kb - usage.used_kb


def voucher_admission(visit: Visit, redemption: Redemption) -> Admission:
    """The store's terms and policy, for the voucher's time left and within what is left of its
    data limit."""
    policy = dataclasses.replace(visit.portal.policy, minutes=redemption.minutes_left)
    if redemption.quota_kb:
        policy = dataclasses.replace(policy, down_quota_kb=redemption.quota_kb)
    admission = store_admission(visit, "voucher")
    return dataclasses.replace(admission, policy=policy, voucher_code=redemption.code)


# -- guessing -----------------------------------------------------------------------------------

# Refused codes are counted per device and per IP (portal/rate_limits.py); a device or IP at
# its limit may not try any code, right or wrong, until the window ends. Shoppers behind one
# router share its public IP (NAT), so the IP limit is generous; it bounds a guesser who forges
# a new device for every try. Codes that let someone in are not counted.
DEVICE_REFUSALS = Limit("voucher_device", 600, 10, "error_voucher_rate")
IP_REFUSALS = Limit("voucher_ip", 600, 60, "error_voucher_rate")


def _counters(secret_key: str, visit: Visit, ip: str) -> Counters:
    ip_key = rate_limits.ip_hash(secret_key, visit.merchant_id, ip)
    return [(DEVICE_REFUSALS, visit.device), (IP_REFUSALS, ip_key)]


async def count_refusal(db: asyncpg.Pool, merchant_id: uuid.UUID, counters: Counters) -> None:
    """One more refused code on each counter; TooManyVoucherTries once one is over its limit
    (from then on every code is refused until the window ends)."""
    try:
        await rate_limits.hit(db, merchant_id, counters)
    except rate_limits.RateLimited as over:
        raise TooManyVoucherTries(over.detail) from over


async def voucher_login(
    db: asyncpg.Pool, secret_key: str, visit: Visit, *, typed: str, accepted_terms: bool, ip: str
) -> Admission:
    """The voucher method: the store offers it, the terms are accepted, the code is good."""
    require_method(visit, "voucher")
    if not accepted_terms:
        raise TermsRequired("terms not accepted")
    counters = _counters(secret_key, visit, ip)
    try:
        code = normalize_code(typed)
        redemption = await redeem(
            db, visit.merchant_id, visit.router.store_id, code, visit.device, counters
        )
    except TooManyVoucherTries:
        raise  # held back: not one more refusal
    except VoucherRefused:
        await count_refusal(db, visit.merchant_id, counters)
        raise
    return voucher_admission(visit, redemption)
