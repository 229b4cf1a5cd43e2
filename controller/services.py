"""What other domains may ask of the controller: find a router, let a client through."""

from __future__ import annotations

import json
import logging
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from controller import broker_auth, topics
from controller.commands import (
    Ack,
    CommandFailed,
    CommandSender,
    RouterRef,
    RouterUnreachable,
    store_ack,
    store_acks,
)
from controller.restore import Restore, RestoreReport, StillWanted, restore_clients
from kernel.sql import load_queries

__all__ = [
    "AccessPolicy",
    "Ack",
    "CommandFailed",
    "CommandSender",
    "GatewayPing",
    "Restore",
    "RestoreReport",
    "Router",
    "RouterRef",
    "RouterUnreachable",
    "StillWanted",
    "authorize_client",
    "command_log",
    "deauth_client",
    "find_router",
    "fleet_routers",
    "record_ack",
    "record_acks",
    "record_authmon_polls",
    "record_gateway_pings",
    "record_router_status",
    "register_router",
    "reset_router_password",
    "restore_clients",
]

log = logging.getLogger("portico.controller")
queries = load_queries(__file__)


@dataclass(frozen=True)
class Router:
    merchant_id: uuid.UUID
    router_id: str
    store_id: uuid.UUID
    name: str
    gateway_mac: str | None
    faskey: str
    online: bool
    gateway: str = "opennds"  # GATEWAYS
    fas_level: int = 1  # openNDS's fas_secure_enabled: 1, 2 or 3
    faskey_next: str | None = None  # being rotated in: the router may use it already

    @property
    def faskeys(self) -> tuple[str, ...]:
        """The keys a redirect from this router may be under (two while one is rotated in)."""
        return (self.faskey, self.faskey_next) if self.faskey_next else (self.faskey,)

    @property
    def ref(self) -> RouterRef:
        return RouterRef(self.merchant_id, self.router_id)


GATEWAYS = ("opennds", "wifidog")
FAS_LEVELS = (1, 2, 3)


@dataclass(frozen=True)
class AccessPolicy:
    minutes: int
    up_kbps: int = 0
    down_kbps: int = 0
    up_quota_kb: int = 0
    down_quota_kb: int = 0


@dataclass(frozen=True)
class NewRouter:
    router: Router
    mqtt_password: str  # shown once to the installer; only its hash is stored


async def find_router(db: asyncpg.Pool | asyncpg.Connection, router_id: str) -> Router | None:
    if not topics.ROUTER_ID.match(router_id):
        return None
    row = await db.fetchrow(queries.find_router, router_id)
    return Router(**dict(row)) if row else None


async def register_router(
    conn: asyncpg.Connection,
    merchant_id: uuid.UUID,
    store_id: uuid.UUID,
    router_id: str,
    name: str,
    *,
    gateway_mac: str | None = None,
    faskey: str | None = None,
    mqtt_password: str | None = None,
    gateway: str = "opennds",
    fas_level: int = 1,
) -> NewRouter:
    """Add a router to a store with its own faskey and MQTT password, known to the caller
    (tests, the demo, benchmarks); installers get theirs through an install code instead
    (controller.provisioning)."""
    if gateway not in GATEWAYS:
        raise ValueError(f"gateway must be one of {GATEWAYS}, not {gateway!r}")
    if fas_level not in FAS_LEVELS:
        raise ValueError(f"fas_level must be one of {FAS_LEVELS}, not {fas_level!r}")
    faskey = faskey or secrets.token_hex(32)
    mqtt_password = mqtt_password or broker_auth.new_password()
    password_hash = broker_auth.hash_password(mqtt_password)
    async with conn.transaction():
        await conn.execute(queries.insert_directory_entry, router_id, merchant_id)
        await conn.execute(
            queries.insert_router,
            merchant_id,
            router_id,
            store_id,
            name,
            gateway_mac,
            faskey,
            password_hash,
            gateway,
            fas_level,
        )
        # The broker sync (controller/broker_auth.py) adds the router's account at once.
        await conn.execute(queries.notify_broker_accounts, router_id)
    router = Router(
        merchant_id, router_id, store_id, name, gateway_mac, faskey, False, gateway, fas_level
    )
    return NewRouter(router, mqtt_password)


async def reset_router_password(
    conn: asyncpg.Connection | asyncpg.Pool, merchant_id: uuid.UUID, router_id: str
) -> str:
    """Give a router a new random MQTT password and return it (the demo's simulated routers
    get theirs at every start); the old password stops working at the broker's next reload."""
    password = broker_auth.new_password()
    await conn.execute(
        queries.set_router_password, merchant_id, router_id, broker_auth.hash_password(password)
    )
    await conn.execute(queries.notify_broker_accounts, router_id)
    return password


async def authorize_client(
    sender: CommandSender,
    router: Router,
    *,
    mac: str,
    hid: str,
    policy: AccessPolicy,
    custom: str = "",
    record_ack: bool = True,
) -> Ack:
    """Ask the router to let `mac` through; the agent checks `hid` against openNDS's token."""
    args = {**_grant_args(mac, policy, custom), "hid": hid}
    return await sender.send(router.ref, "auth", args, record_ack=record_ack, sent_by="portal")


async def record_ack(conn: asyncpg.Connection | asyncpg.Pool, router: Router, ack: Ack) -> None:
    """Store a command's ack (for callers that sent it with `record_ack=False`)."""
    await store_ack(conn, router.ref, ack)


async def record_acks(
    conn: asyncpg.Connection | asyncpg.Pool, acks: list[tuple[Router, Ack]]
) -> None:
    """Several commands' acks in one statement (a group commit of logins)."""
    await store_acks(conn, [(router.ref, ack) for router, ack in acks])


def _grant_args(mac: str, policy: AccessPolicy, custom: str) -> dict[str, Any]:
    return {
        "mac": mac,
        "minutes": policy.minutes,
        "up_kbps": policy.up_kbps,
        "down_kbps": policy.down_kbps,
        "up_quota_kb": policy.up_quota_kb,
        "down_quota_kb": policy.down_quota_kb,
        "custom": custom,
    }


async def record_router_status(
    db: asyncpg.Pool | asyncpg.Connection, router: Router, *, online: bool, status: dict[str, Any]
) -> None:
    """Store what a router last said of itself (the listener does this for every status)."""
    await db.execute(queries.record_status, router.merchant_id, router.router_id, online, status)


async def command_log(db: asyncpg.Pool, router: RouterRef, limit: int = 50) -> list[asyncpg.Record]:
    """The router's last `limit` commands, newest first: op, args, sent_by, status, code,
    attempts, created_at, acked_at (the audit log)."""
    return await db.fetch(queries.command_log, router.merchant_id, router.router_id, limit)


async def list_routers(db: asyncpg.Pool, merchant_id: uuid.UUID) -> list[asyncpg.Record]:
    return await db.fetch(queries.list_routers, merchant_id)


async def fleet_routers(db: asyncpg.Pool, merchant_id: uuid.UUID) -> list[asyncpg.Record]:
    """list_routers with firmware, the last heartbeat, authmon's last poll and the
    configuration desired against applied (the console's Routers page)."""
    return await db.fetch(queries.fleet_routers, merchant_id)


@dataclass(frozen=True)
class GatewayPing:
    """A router's own gateway saying it is alive (a WiFiDog `ping/`), with what it reported."""

    merchant_id: uuid.UUID
    router_id: str
    status: dict[str, Any]
    seen: datetime


async def record_gateway_pings(
    db: asyncpg.Pool | asyncpg.Connection, pings: list[GatewayPing]
) -> None:
    """Mark routers online as of their latest ping, in one statement for a batch of them."""
    if not pings:
        return
    await db.execute(
        queries.record_gateway_pings,
        [p.merchant_id for p in pings],
        [p.router_id for p in pings],
        [json.dumps(p.status) for p in pings],
        [p.seen for p in pings],
    )


async def record_authmon_polls(
    db: asyncpg.Pool | asyncpg.Connection, pings: list[GatewayPing]
) -> None:
    """When openNDS's authmon last polled for each router (not `online`: that is the agent's)."""
    if not pings:
        return
    await db.execute(
        queries.record_authmon_polls,
        [p.merchant_id for p in pings],
        [p.router_id for p in pings],
        [p.seen for p in pings],
    )


async def deauth_client(sender: CommandSender, router: Router, *, mac: str) -> Ack:
    """Ask the router to end `mac`'s access (the agent's `deauth`: done when it is not let
    through any more, also when it was not). RouterUnreachable when no ack comes in time."""
    return await sender.send(router.ref, "deauth", {"mac": mac}, sent_by="portal")
