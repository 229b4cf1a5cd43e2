"""Provisioning: add a router to a store with an install code, redeem it once, revoke a router.

A new router gets a single-use install code that expires (`CLAIM_TTL`). Its installer
(firmware-scripts/install.sh) redeems the code over HTTPS (controller/device_routes.py) and
receives the router's own MQTT password, made at that moment: the password exists only on the
router and, hashed, in PostgreSQL. Redeeming is one UPDATE under a row lock, so of several
concurrent redemptions of a code exactly one wins. Failed redemptions are counted per client
address and limited (`MAX_FAILED_CLAIMS` per `CLAIM_WINDOW`).

Each change of a router's broker account is announced with a NOTIFY that the broker sync
(controller/broker_auth.py) turns into new password and ACL files at once.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

from accounts import audit, plans
from accounts import services as accounts
from controller import broker_auth, topics
from controller.services import FAS_LEVELS, Router, router_count
from kernel.errors import PorticoError
from kernel.sql import load_queries

queries = load_queries(__file__)

CLAIM_TTL = timedelta(hours=24)
CLAIM_CODE = re.compile(r"^[a-z2-7]{20}$")  # 100 random bits in lower-case base32
MAX_FAILED_CLAIMS = 10
CLAIM_WINDOW = timedelta(minutes=15)


class ProvisioningError(PorticoError):
    """Adding, installing or revoking a router went wrong in a way we can explain."""


class UnknownStore(ProvisioningError):
    message_id = "error_unknown_store"
    status = 404


class UnknownRouter(ProvisioningError):
    message_id = "error_unknown_router"
    status = 404


class RouterIdTaken(ProvisioningError):
    message_id = "error_router_id_taken"
    status = 409


class InvalidRouter(ProvisioningError):
    message_id = "error_invalid_router"


class ClaimFailed(ProvisioningError):
    """An install code that cannot be redeemed; `reason` is the word the installer shows."""

    reason = "unknown"
    status = 404


class ClaimUnknown(ClaimFailed):
    reason = "unknown"
    status = 404


class ClaimExpired(ClaimFailed):
    reason = "expired"
    status = 410


class ClaimReplaced(ClaimFailed):
    reason = "replaced"
    status = 410


class ClaimUsed(ClaimFailed):
    reason = "used"
    status = 409


class RouterRevoked(ClaimFailed):
    reason = "revoked"
    status = 410


class TooManyClaims(ClaimFailed):
    reason = "rate_limited"
    status = 429


@dataclass(frozen=True)
class Claim:
    """An install code as the person adding the router sees it, once."""

    router_id: str
    code: str
    expires_at: datetime


@dataclass(frozen=True)
class Redemption:
    """What a router receives for its code: its identity and its new broker password."""

    merchant_id: uuid.UUID
    router_id: str
    store_id: uuid.UUID
    mqtt_password: str
    faskey: str
    fas_level: int


def install_command(portal_url: str, code: str) -> str:
    """The one line an installer runs on the router (firmware-scripts/README.md)."""
    return f"wget -qO- {portal_url.rstrip('/')}/i/{code} | sh"


def code_hash(code: str) -> bytes:
    return hashlib.sha256(code.encode()).digest()


def new_router_id() -> str:
    return f"ap-{secrets.token_hex(5)}"


async def add_router(
    conn: asyncpg.Connection,
    merchant_id: uuid.UUID,
    store_id: uuid.UUID,
    *,
    actor: audit.Actor,
    name: str = "",
    router_id: str | None = None,
    fas_level: int = 1,
    ttl: timedelta = CLAIM_TTL,
) -> tuple[Router, Claim]:
    """A new openNDS router (with our agent) in a store, not installed yet, and its install code.

    The caller has checked that the user may add routers to this merchant. The merchant's audit
    log records the router (`router.create`, by `actor`) in the same transaction.
    accounts.plans.PlanLimitReached, and nothing added, when the merchant's plan allows no more
    routers in service (counted with the merchant's row locked: two at once cannot both pass).
    """
    router_id = router_id or new_router_id()
    if not topics.ROUTER_ID.match(router_id):
        raise InvalidRouter(f"router id {router_id!r} must match [A-Za-z0-9_-]{{1,64}}")
    if fas_level not in FAS_LEVELS:
        raise InvalidRouter(f"FAS level must be one of {FAS_LEVELS}, not {fas_level!r}")
    store = await accounts.get_store(conn, merchant_id, store_id)
    if store is None:
        raise UnknownStore(f"merchant {merchant_id} has no store {store_id}")
    name = " ".join(name.split())[:100] or router_id
    faskey = secrets.token_hex(32)
    async with conn.transaction():
        plan = await plans.lock_plan(conn, merchant_id)
        plans.check(plan, "routers", await router_count(conn, merchant_id))
        try:
            await conn.execute(queries.insert_directory_entry, router_id, merchant_id)
        except asyncpg.UniqueViolationError:
            raise RouterIdTaken(f"router id {router_id} is taken", router_id=router_id) from None
        await conn.execute(
            queries.insert_router,
            merchant_id,
            router_id,
            store_id,
            name,
            None,  # gateway_mac: learnt from the router
            faskey,
            None,  # no broker password until the install code is redeemed
            "opennds",
            fas_level,
        )
        claim = await _new_claim(conn, merchant_id, router_id, ttl)
        await audit.record_change(
            conn,
            merchant_id,
            actor,
            "router.create",
            target_id=router_id,
            target_name=name,
            after={"name": name, "store": store.name, "fas_level": fas_level},
        )
    router = Router(
        merchant_id, router_id, store_id, name, None, faskey, False, "opennds", fas_level
    )
    return router, claim


async def issue_claim(
    conn: asyncpg.Connection,
    merchant_id: uuid.UUID,
    router_id: str,
    *,
    actor: audit.Actor,
    ttl: timedelta = CLAIM_TTL,
) -> Claim:
    """A new install code for a router already added (to install it again, or a lost code);
    earlier codes of the router that were not redeemed stop working. Redeeming it gives the
    router a new password, so the old one stops working then. The audit log records it
    (`router.new_code`, by `actor`; never the code)."""
    async with conn.transaction():
        row = await conn.fetchrow(queries.get_router, merchant_id, router_id)
        if row is None or row["revoked_at"] is not None:
            raise UnknownRouter(f"merchant {merchant_id} has no router {router_id} in service")
        claim = await _new_claim(conn, merchant_id, router_id, ttl)
        await audit.record_change(
            conn,
            merchant_id,
            actor,
            "router.new_code",
            target_id=router_id,
            target_name=row["name"],
            after={"code_expires": claim.expires_at},
        )
    return claim


async def _new_claim(
    conn: asyncpg.Connection, merchant_id: uuid.UUID, router_id: str, ttl: timedelta
) -> Claim:
    """The router's install code, in the caller's transaction; earlier ones stop working."""
    code = base64.b32encode(secrets.token_bytes(20)).decode().lower()[:20]
    await conn.execute(queries.void_claims, merchant_id, router_id)
    expires_at = await conn.fetchval(
        queries.insert_claim, code_hash(code), merchant_id, router_id, ttl
    )
    return Claim(router_id, code, expires_at)


async def redeem_claim(db: asyncpg.Pool, code: str, client_ip: str) -> Redemption:
    """Redeem an install code once: the router gets a new broker password (stored hashed).

    Raises a ClaimFailed subclass that names the reason; TooManyClaims once the address has
    failed MAX_FAILED_CLAIMS times within CLAIM_WINDOW.
    """
    ip = _ip_or_none(client_ip)
    async with db.acquire() as conn:
        await _check_rate(conn, ip)
        try:
            return await _redeem(conn, code, ip)
        except ClaimFailed:
            await _record_failure(conn, ip)
            raise


async def check_claim(db: asyncpg.Pool, code: str, client_ip: str) -> str:
    """The router id of a code that can still be redeemed, without redeeming it (the bootstrap
    script's GET). Raises like redeem_claim; a used code is not an error here, so that running
    the install command again on the router that redeemed it works."""
    ip = _ip_or_none(client_ip)
    async with db.acquire() as conn:
        await _check_rate(conn, ip)
        row = await conn.fetchrow(queries.claim_state, code_hash(code)) if _valid(code) else None
        problem = ClaimUnknown("no such install code") if row is None else _unusable(row)
        if problem is not None and not isinstance(problem, ClaimUsed):
            await _record_failure(conn, ip)
            raise problem
        return row["router_id"]


async def _redeem(conn: asyncpg.Connection, code: str, ip: str | None) -> Redemption:
    if not _valid(code):
        raise ClaimUnknown("malformed install code")
    password = broker_auth.new_password()
    async with conn.transaction():
        row = await conn.fetchrow(queries.redeem_claim, code_hash(code), ip)
        if row is None:
            state = await conn.fetchrow(queries.claim_state, code_hash(code))
            problem = None if state is None else _unusable(state)
            raise problem or ClaimUnknown("no such install code")
        await conn.execute(
            queries.set_router_password,
            row["merchant_id"],
            row["router_id"],
            broker_auth.hash_password(password),
        )
        await conn.execute(queries.notify_broker_accounts, row["router_id"])
    return Redemption(
        row["merchant_id"],
        row["router_id"],
        row["store_id"],
        password,
        row["faskey"],
        row["fas_level"],
    )


def _unusable(state: asyncpg.Record) -> ClaimFailed | None:
    """Why a code cannot be redeemed (claim_state's row), or None when it can."""
    router_id = state["router_id"]
    if state["revoked_at"] is not None:
        return RouterRevoked(f"router {router_id} was revoked")
    if state["redeemed_at"] is not None:
        return ClaimUsed(f"install code of {router_id} was used already", router_id=router_id)
    if state["voided_at"] is not None:
        return ClaimReplaced(f"install code of {router_id} was replaced by a newer one")
    if state["expired"]:
        return ClaimExpired(f"install code of {router_id} expired at {state['expires_at']}")
    return None


async def _check_rate(conn: asyncpg.Connection, ip: str | None) -> None:
    if ip is None:
        return
    failed = await conn.fetchval(queries.failed_claim_attempts, ip, CLAIM_WINDOW)
    if failed >= MAX_FAILED_CLAIMS:
        raise TooManyClaims(f"{failed} failed install codes from {ip}")


async def _record_failure(conn: asyncpg.Connection, ip: str | None) -> None:
    if ip is not None:
        await conn.execute(queries.record_failed_claim, ip)


def _valid(code: str) -> bool:
    return bool(CLAIM_CODE.match(code))


def _ip_or_none(text: str) -> str | None:
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


async def revoke_router(
    conn: asyncpg.Connection,
    merchant_id: uuid.UUID,
    router_id: str,
    *,
    actor: audit.Actor,
) -> None:
    """Take a router out of service for good: the broker drops its account (and cuts its
    connections) as soon as the sync sees the NOTIFY; the portal and controller ignore it; its
    install codes stop working. The caller has checked the user may manage this merchant. The
    audit log records it (`router.revoke`, by `actor`) in the same transaction."""
    async with conn.transaction():
        name = await conn.fetchval(queries.revoke_router, merchant_id, router_id)
        if name is None:
            raise UnknownRouter(f"merchant {merchant_id} has no router {router_id} in service")
        await audit.record_change(
            conn,
            merchant_id,
            actor,
            "router.revoke",
            target_id=router_id,
            target_name=name,
            before={"in_service": True},
            after={"in_service": False},
        )
        await conn.execute(queries.void_claims, merchant_id, router_id)
        await conn.execute(queries.notify_broker_accounts, router_id)
