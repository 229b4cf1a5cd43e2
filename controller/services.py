"""What other domains may ask of the controller: find a router, let a client through; and, for
a shopper's export and erasure request (portico/shopper_data.py), what the controller keeps of
their devices (`export_shopper`, `erase_shopper`: controller/privacy.py)."""

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
from controller.privacy import ControllerErased, erase_shopper, export_shopper
from controller.restore import Restore, RestoreReport, StillWanted, restore_clients
from kernel.sql import load_queries

__all__ = [
    "AccessPolicy",
    "Ack",
    "ClientUsage",
    "CommandFailed",
    "CommandSender",
    "ControllerErased",
    "GatewayPing",
    "Grant",
    "Restore",
    "RestoreReport",
    "Router",
    "RouterRef",
    "RouterUnreachable",
    "StillWanted",
    "authorize_client",
    "client_usage",
    "command_log",
    "deauth_client",
    "erase_shopper",
    "export_shopper",
    "find_router",
    "fleet_routers",
    "latest_grants",
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


async def router_counts(db: asyncpg.Pool) -> dict[uuid.UUID, int]:
    """How many routers in service each merchant has (merchants without any are absent)."""
    return {r["merchant_id"]: r["routers"] for r in await db.fetch(queries.router_counts)}


async def router_count(db: asyncpg.Pool | asyncpg.Connection, merchant_id: uuid.UUID) -> int:
    """How many routers in service the merchant has (what its plan's router limit counts)."""
    return await db.fetchval(queries.router_count, merchant_id)


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


async def deauth_client(
    sender: CommandSender, router: Router | RouterRef, *, mac: str, sent_by: str = "portal"
) -> Ack:
    """Ask the router to end `mac`'s access (the agent's `deauth`: done when it is not let
    through any more, also when it was not). RouterUnreachable when no ack comes in time."""
    ref = router.ref if isinstance(router, Router) else router
    return await sender.send(ref, "deauth", {"mac": mac}, sent_by=sent_by)


async def regrant_client(
    sender: CommandSender,
    router: Router,
    *,
    mac: str,
    policy: AccessPolicy,
    custom: str,
    sent_by: str = "portal",
) -> Ack:
    """Grant `mac` again without a hid (the agent's `restore`): for a client this controller
    verified before, e.g. after a deauth that was only there to change its grant (openNDS
    changes nothing of an Authenticated client: ndsctl_auth, src/ndsctl_thread.c)."""
    args = _grant_args(mac, policy, custom)
    return await sender.send(router.ref, "restore", args, sent_by=sent_by)


@dataclass(frozen=True)
class Grant:
    """The last grant a router carried out for a client (by its `custom` key)."""

    policy: AccessPolicy
    granted_at: datetime  # the ack's arrival (our clock)


async def latest_grants(
    db: asyncpg.Pool | asyncpg.Connection, router: RouterRef, keys: list[str], since: datetime
) -> dict[str, Grant]:
    """What each client (named by the `custom` it was granted with) got in its last `auth` or
    `restore` since `since`: the minutes, rates and quotas openNDS enforces for it now."""
    if not keys:
        return {}
    rows = await db.fetch(queries.latest_grants, router.merchant_id, router.router_id, since, keys)
    return {row["custom"]: Grant(_policy_of(row["args"]), row["granted_at"]) for row in rows}


def _policy_of(args: dict[str, Any]) -> AccessPolicy:
    return AccessPolicy(
        int(args.get("minutes", 0)),
        int(args.get("up_kbps", 0)),
        int(args.get("down_kbps", 0)),
        int(args.get("up_quota_kb", 0)),
        int(args.get("down_quota_kb", 0)),
    )


@dataclass(frozen=True)
class ClientUsage:
    """A client's counters as the agent last reported them (`usage` telemetry: openNDS's
    `ndsctl json`, at every heartbeat). Times are the router's clock."""

    reported_at: datetime  # the report's time on the router's clock
    received_at: datetime  # when the controller stored it (our clock)
    state: str
    down_kb: int  # openNDS's download_this_session: since its last grant of the client
    up_kb: int
    session_start: int | None  # unix seconds of openNDS's grant
    last_active: int | None  # unix seconds of the client's last traffic (counters.last_updated)

    @property
    def idle_seconds(self) -> int | None:
        """How long the client had been without traffic when it was reported (None: unknown;
        both times are the router's, so clock skew does not enter)."""
        if not self.last_active:
            return None
        return max(0, int(self.reported_at.timestamp()) - self.last_active)


async def client_usage(
    db: asyncpg.Pool | asyncpg.Connection,
    router: RouterRef,
    device_hashes: list[str],
    since: datetime,
) -> dict[str, ClientUsage]:
    """The last usage report since `since` of each device (by its keyed hash) at the router,
    while openNDS held it Authenticated."""
    if not device_hashes:
        return {}
    rows = await db.fetch(
        queries.latest_client_usage, router.merchant_id, router.router_id, since, device_hashes
    )
    return {row["device_hash"]: _usage_of(row) for row in rows}


def _usage_of(row: asyncpg.Record) -> ClientUsage:
    data = row["data"]
    return ClientUsage(
        row["occurred_at"],
        row["received_at"],
        str(data.get("state", "")),
        int(data.get("down_kb", 0)),
        int(data.get("up_kb", 0)),
        data.get("session_start"),
        data.get("last_active"),
    )
