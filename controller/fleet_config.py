"""Desired configuration per router (docs/mqtt-contract.md, desired and state).

The controller keeps each router's desired document in PostgreSQL (`router_configs`), with a
version that grows by one at every change, and publishes it retained on
`ap/v1/<id>/desired`: `{"v":1,"version":N,"sha256":"<hex>","body":{...}}`, body last and in
canonical form (sorted keys, no whitespace, ASCII), sha256 over the body's bytes. The agent
applies it as a transaction and reports, retained on `ap/v1/<id>/state`, the version it
tried, the version in effect, and the result; the listener stores that (`StateIngest`), so
desired versus applied (drift) is one query (`config_drift`).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
import secrets
import uuid
from dataclasses import dataclass, replace
from typing import Any

import asyncpg

from controller import topics
from controller.commands import Ack, CommandSender, RouterRef
from controller.listener import contract_message
from kernel.mqtt import Delivery, Refused
from kernel.sql import load_queries

log = logging.getLogger("portico.controller.config")
queries = load_queries(__file__)

WALLED_GARDEN_MAX = 32  # WG_MAX in the agent
_HOST = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.-]{0,252}$")
_FASKEY = re.compile(r"^[0-9a-f]{64}$")
SESSION_KEYS = ("minutes", "up_kbps", "down_kbps", "up_quota_kb", "down_quota_kb")
RESULTS = frozenset({"ok", "failed", "rejected"})
MAX_VERSION = 10**12 - 1  # the agent's is_exp: at most 12 digits


@dataclass(frozen=True)
class DesiredConfig:
    """What a router should run: openNDS's walled garden (hosts and TCP ports reachable
    before login), its session defaults (what openNDS applies to sessions it restores by
    itself) and, when rotating, a new faskey."""

    walled_garden: tuple[tuple[str, int], ...] = ()
    minutes: int = 0
    up_kbps: int = 0
    down_kbps: int = 0
    up_quota_kb: int = 0
    down_quota_kb: int = 0
    faskey: str | None = None

    def __post_init__(self) -> None:
        if len(self.walled_garden) > WALLED_GARDEN_MAX:
            raise ValueError(f"at most {WALLED_GARDEN_MAX} walled-garden entries")
        for host, port in self.walled_garden:
            if not _HOST.match(host) or type(port) is not int or not 1 <= port <= 65535:
                raise ValueError(f"bad walled-garden entry {host!r}:{port!r}")
        for key in SESSION_KEYS:
            value = getattr(self, key)
            if type(value) is not int or not 0 <= value <= 10_000_000:
                raise ValueError(f"{key} must be 0..10000000")
        if self.faskey is not None and not _FASKEY.match(self.faskey):
            raise ValueError("faskey must be 64 lower-case hex digits")

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "session": {key: getattr(self, key) for key in SESSION_KEYS},
            "walled_garden": [{"host": h, "port": p} for h, p in self.walled_garden],
        }
        if self.faskey is not None:
            body["faskey"] = self.faskey
        return body


def canonical(body: dict[str, Any]) -> str:
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def body_sha256(body: dict[str, Any]) -> str:
    return hashlib.sha256(canonical(body).encode()).hexdigest()


def desired_payload(version: int, body: dict[str, Any]) -> bytes:
    """The retained document: body last, canonical, hashed."""
    text = canonical(body)
    sha = hashlib.sha256(text.encode()).hexdigest()
    return f'{{"v":{topics.VERSION},"version":{version},"sha256":"{sha}","body":{text}}}'.encode()


@dataclass(frozen=True)
class Desired:
    version: int
    sha256: str
    changed: bool  # False: the document was the same as the one published already


class NoDesiredConfig(ValueError):
    """A faskey rotation needs the router's desired configuration to carry it in."""


class RotationPending(ValueError):
    """A new faskey is already on its way to the router."""


# The portal reads a router (its faskeys) through a cache of a few seconds (5 s: SETTINGS_TTL in
# portal/stores.py); a new key waits longer than that before the router may start using it.
KEY_SETTLE_SECONDS = 6.0


async def set_desired(
    db: asyncpg.Pool, sender: CommandSender, router: RouterRef, config: DesiredConfig
) -> Desired:
    """Store the router's desired configuration (a new version when it changed) and publish
    it retained. Publishing again an unchanged document is harmless (the agent skips a
    version it applied); it also repairs a broker that lost its retained messages. A faskey
    being rotated in rides along in every document until the router has applied one."""
    pending = await db.fetchval(queries.faskey_next_of, router.merchant_id, router.router_id)
    if pending and config.faskey is None:
        config = replace(config, faskey=pending)
    desired, body = await _store_desired(db, router, config)
    await _publish_desired(sender, router, desired.version, body)
    return desired


async def rotate_faskey(
    db: asyncpg.Pool,
    sender: CommandSender,
    router: RouterRef,
    *,
    settle: float = KEY_SETTLE_SECONDS,
) -> Desired:
    """Give the router a new faskey: its desired configuration again, with the new key. The
    key is on record as `faskey_next` (with the document's version) before the document goes
    out, so the portal accepts redirects under it from the moment the router may switch; once
    the router reports that version (or a later one) applied, it is the router's faskey
    (StateIngest). NoDesiredConfig when the router has none yet (a document of only a key
    would empty its walled garden); RotationPending while an earlier new key is not applied."""
    if await db.fetchval(queries.faskey_next_of, router.merchant_id, router.router_id):
        raise RotationPending(f"router {router.router_id} has not applied its last new faskey")
    body = await db.fetchval(queries.desired_body_of, router.merchant_id, router.router_id)
    if body is None:
        raise NoDesiredConfig(f"router {router.router_id} has no desired configuration yet")
    config = replace(config_of(body), faskey=secrets.token_hex(32))
    desired, body = await _store_desired(db, router, config)
    await db.execute(
        queries.set_faskey_next,
        router.merchant_id,
        router.router_id,
        config.faskey,
        desired.version,
    )
    await asyncio.sleep(settle)  # every portal knows the key before the router can use it
    await _publish_desired(sender, router, desired.version, body)
    log.info("router %s: new faskey in desired version %d", router.router_id, desired.version)
    return desired


def config_of(body: dict[str, Any]) -> DesiredConfig:
    """A stored desired body back as the configuration it was made from."""
    session = body.get("session", {})
    return DesiredConfig(
        walled_garden=tuple((e["host"], e["port"]) for e in body.get("walled_garden", [])),
        faskey=body.get("faskey"),
        **{key: session.get(key, 0) for key in SESSION_KEYS},
    )


async def _store_desired(
    db: asyncpg.Pool, router: RouterRef, config: DesiredConfig
) -> tuple[Desired, dict[str, Any]]:
    body = config.body()
    sha = body_sha256(body)
    row = await db.fetchrow(queries.upsert_desired, router.merchant_id, router.router_id, body, sha)
    version, changed = row["desired_version"], row["changed"]
    if changed:
        log.info("router %s: desired configuration version %d", router.router_id, version)
    return Desired(version, sha, changed), body


async def _publish_desired(
    sender: CommandSender, router: RouterRef, version: int, body: dict[str, Any]
) -> None:
    await sender.publish(
        topics.topic(router.router_id, "desired"), desired_payload(version, body), retain=True
    )


async def reapply(sender: CommandSender, router: RouterRef, *, sent_by: str | None = None) -> Ack:
    """`apply-config`: the router applies its current desired document again (a transaction,
    as when it arrives); done, or error/apply_failed with the reason, rolled back."""
    return await sender.send(router, "apply-config", {}, timeout=60.0, sent_by=sent_by)


async def config_drift(db: asyncpg.Pool, merchant_id: uuid.UUID) -> list[asyncpg.Record]:
    """Per router with a desired configuration: desired_version, applied_version,
    state_version, result, error, reported_at, and in_sync (desired = applied)."""
    return await db.fetch(queries.config_drift, merchant_id)


def parse_state(data: dict[str, Any]) -> tuple[int, int, str, str]:
    """(version, applied_version, result, error) of a state payload; Refused otherwise."""
    version, applied = data.get("version"), data.get("applied_version")
    for name, value in (("version", version), ("applied_version", applied)):
        if type(value) is not int or not 0 <= value <= MAX_VERSION:
            raise Refused("bad_field", f"state {name} is not a version")
    result, error = data.get("result"), data.get("error", "")
    if result not in RESULTS:
        raise Refused("bad_field", f"state result {str(result)[:20]!r} is unknown")
    if not isinstance(error, str):
        raise Refused("bad_field", "state error is not text")
    return version, applied, result, error[:500]  # type: ignore[return-value]


class StateIngest:
    """The listener's handler for `state` (dispatch leaf "state")."""

    def __init__(self, db: asyncpg.Pool) -> None:
        self._db = db

    async def handle(self, message: Delivery) -> None:
        router, data = await contract_message(self._db, message)
        version, applied, result, error = parse_state(data)
        await self._db.execute(
            queries.record_config_state,
            router.merchant_id,
            router.router_id,
            version,
            applied,
            result,
            error,
        )
        if result == "ok":
            # A faskey being rotated in is the router's once it applied a version carrying it.
            promoted = await self._db.fetchval(
                queries.promote_faskey, router.merchant_id, router.router_id, applied
            )
            if promoted:
                log.info("router %s: now uses its new faskey", router.router_id)
        if result != "ok":
            log.warning(
                "router %s: configuration version %d %s: %s",
                router.router_id,
                version,
                result,
                error,
            )
