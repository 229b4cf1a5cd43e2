"""WiFiDog tokens, sessions and usage: what the auth-server protocol keeps in PostgreSQL.

The hot paths (`auth/?stage=counters` and `ping/`, every CheckInterval for every client and
router) stay off a per-request database round trip where durability allows:
- the session a token stands for is cached for a few seconds (ending it clears the entry);
- usage is written by group commit: a request waits for the one statement (one transaction)
  that holds its write and every other write that arrived meanwhile, so it is answered only
  once its counters are stored, yet the database sees one commit per batch;
- liveness from `ping/` is coalesced: the latest ping of each router is written at most once a
  second, in one statement for all routers;
- which gw_ids exist is one set per process, reloaded at most every couple of seconds and only
  when asked for an id it lacks, so a flood of unregistered gw_ids does not reach PostgreSQL.

Tokens that can serve nothing any more are deleted in bounded batches (`purge_tokens`, run
every few minutes by the portal role).
"""

from __future__ import annotations

import asyncio
import logging
import math
import secrets
import time
import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg

import analytics.services as analytics
from controller.services import Router
from kernel.batch import GroupCommit
from kernel.errors import PorticoError
from kernel.jobs import every
from kernel.privacy import device_hash
from kernel.shopper_events import OnShopperEvents
from kernel.sql import load_queries
from portal.grants import Admission
from portal.shopper_events import LoginDone, tell_logins
from portal.stores import StorePortal

log = logging.getLogger("portico.portal.wifidog")
queries = load_queries(__file__)

TOKEN_TTL_SECONDS = 300  # from the splash's Connect to the gateway's stage=login: one hop
SESSION_CACHE_TTL = 5.0  # a session ended elsewhere is noticed within this, plus one interval
KNOWN_GATEWAYS_REFRESH = 2.0  # a router registered after a miss is served within this
# Purge: a token never used goes an hour after it expired (a late gateway still gets "expired"
# in the log, not "unknown"); a used one a day after its session ended or expired (its
# `portal/` page says "ended" meanwhile). In batches, each its own short transaction.
UNUSED_TOKEN_GRACE = 3600.0
USED_TOKEN_RETENTION = 86400.0
PURGE_BATCH = 5000
PURGE_MAX_BATCHES = 100  # per run; what is left waits for the next run
PURGE_INTERVAL = 300.0


class UsageNotRecorded(PorticoError):
    """The batch holding this counters report could not be written."""

    message_id = "error_generic"
    status = 503


@dataclass(frozen=True)
class WifidogClient:
    """A client as the gateway's login/ redirect names it (http_callback_404, src/http.c)."""

    gw_address: str
    gw_port: int
    mac: str
    ip: str
    url: str


@dataclass(frozen=True)
class TokenSession:
    """The session a used token stands for, as the counters stage needs it."""

    router_id: str
    session_id: uuid.UUID
    client_mac: str | None
    client_ip: str
    origin_url: str
    active: bool
    expires_epoch: float
    down_quota_kb: int | None = None  # the admission's own (a voucher's); None: the store's

    @property
    def expired(self) -> bool:
        return self.expires_epoch <= time.time()


async def issue_token(
    db: asyncpg.Pool, router: Router, client: WifidogClient, admission: Admission
) -> str:
    """A single-use token for this client, bound to its MAC and IP (PRODUCT.md §5), carrying
    what its login method decided until the gateway's stage=login."""
    token = secrets.token_urlsafe(24)  # 32 chars of [A-Za-z0-9_-]: nothing to url-encode
    await db.execute(
        queries.wifidog_issue_token,
        router.merchant_id,
        token,
        router.router_id,
        client.mac,
        client.ip,
        client.url,
        admission.terms_version,
        float(TOKEN_TTL_SECONDS),
        admission.method,
        admission.identity_hash,
        admission.voucher_code,
        admission.policy.minutes,
        admission.policy.down_quota_kb,
        admission.idle_minutes,
    )
    return token


async def use_token(
    db: asyncpg.Pool,
    secret_key: str,
    router: Router,
    portal: StorePortal,
    token: str,
    mac: str,
    ip: str,
    on_events: OnShopperEvents | None = None,
) -> uuid.UUID | str:
    """stage=login: take the token and store the session and its login event in one
    transaction (the login told to `on_events` in it). Returns the new session id, or why the
    token was refused."""
    session_id = uuid.uuid4()
    merchant_id = router.merchant_id
    async with db.acquire() as conn, conn.transaction():
        # The row lock makes a second use of the same token wait, then find it used.
        taken = await conn.fetchrow(
            queries.wifidog_use_token, merchant_id, token, router.router_id, mac, ip, session_id
        )
        if taken is None:
            return await _refusal(conn, router, token, mac, ip)
        device = device_hash(secret_key, str(merchant_id), mac)
        await conn.execute(
            queries.insert_session,
            merchant_id,
            session_id,
            router.store_id,
            router.router_id,
            device,
            mac,
            ip,
            taken["method"],
            taken["terms_version"],
            "wifidog",
            taken["minutes"] or portal.session_minutes,
            taken["identity_hash"],
            taken["voucher_code"],
            taken["idle_minutes"],
        )
        await analytics.record_event(
            conn,
            merchant_id,
            "login",
            store_id=router.store_id,
            device_hash=device,
            data={
                "method": taken["method"],
                "router": router.router_id,
                "session": str(session_id),
                "gateway": "wifidog",
            },
        )
        done = LoginDone(
            merchant_id,
            session_id,
            router.store_id,
            device,
            taken["method"],
            taken["identity_hash"],
            taken["voucher_code"],
        )
        await tell_logins(conn, on_events, [done])
    log.info("login %s at router %s (wifidog)", session_id, router.router_id)
    return session_id


async def _refusal(conn: asyncpg.Connection, router: Router, token: str, mac: str, ip: str) -> str:
    row = await conn.fetchrow(queries.wifidog_token_state, router.merchant_id, token)
    if row is None or row["router_id"] != router.router_id:
        return "unknown"
    if row["used"]:
        return "used"
    if row["expired"]:
        return "expired"
    if row["client_mac"] != mac:
        return "mac_mismatch"
    if row["client_ip"] != ip:
        return "ip_mismatch"
    return "unknown"


# (merchant, token) -> (monotonic expiry, session); a plain dict so that ending a session can
# drop its entry at once.
_sessions: dict[tuple[uuid.UUID, str], tuple[float, TokenSession]] = {}
MAX_CACHED_SESSIONS = 100_000


async def token_session(db: asyncpg.Pool, router: Router, token: str) -> TokenSession | None:
    """The session a used token stands for at this router (cached), or None."""
    key = (router.merchant_id, token)
    entry = _sessions.get(key)
    found = entry[1] if entry is not None and entry[0] > time.monotonic() else None
    if found is None:
        row = await db.fetchrow(queries.wifidog_token_session, router.merchant_id, token)
        if row is None:
            return None
        found = TokenSession(
            row["router_id"],
            row["session_id"],
            row["client_mac"],
            row["client_ip"],
            row["origin_url"],
            row["status"] == "active",
            row["expires_epoch"],
            row["down_quota_kb"],
        )
        if len(_sessions) >= MAX_CACHED_SESSIONS:
            _sessions.pop(next(iter(_sessions)))
        _sessions[key] = (time.monotonic() + SESSION_CACHE_TTL, found)
    return found if found.router_id == router.router_id else None


async def end_session(
    db: asyncpg.Pool, router: Router, token: str, session_id: uuid.UUID, reason: str
) -> bool:
    """End a WiFiDog session for `reason` (portal_sessions.end_reason): the session is marked
    ended and its raw MAC scrubbed. False when it did not end: it had ended already, or (for
    'expired') its end moved later (an Extend handled by another worker)."""
    ended = await db.fetchval(queries.wifidog_end_session, router.merchant_id, session_id, reason)
    forget(router, token)
    return ended is not None


def forget(router: Router, token: str) -> None:
    """Drop the cached session of a token (it ended, or its end moved)."""
    _sessions.pop((router.merchant_id, token), None)


async def log_out(db: asyncpg.Pool, router: Router, token: str, session_id: uuid.UUID) -> bool:
    """End a WiFiDog session at the shopper's request, with its logout event. False when it
    had ended already (a second submission, its end, a counters report that ended it)."""
    async with db.acquire() as conn, conn.transaction():
        ended = await conn.fetchrow(queries.wifidog_log_out, router.merchant_id, session_id)
        if ended is not None:
            await analytics.record_event(
                conn,
                router.merchant_id,
                "logout",
                store_id=ended["store_id"],
                device_hash=ended["device_hash"],
                data={"router": router.router_id, "session": str(session_id)},
            )
    _sessions.pop((router.merchant_id, token), None)
    return ended is not None


def over_quota(portal: StorePortal, session: TokenSession, incoming: int, outgoing: int) -> bool:
    """The session's data quota (kB; 0 = none): its admission's download quota when it brought
    one (a voucher's), else the store's; the upload quota is the store's. Incoming is the
    client's download."""
    down_kb = portal.down_quota_kb if session.down_quota_kb is None else session.down_quota_kb
    down, up = down_kb * 1024, portal.up_quota_kb * 1024
    return bool((down and incoming > down) or (up and outgoing > up))


class UsageWriter:
    """Group commit of counters reports (kernel.batch): one statement per batch, each caller
    answered after the batch holding its report committed."""

    def __init__(self, db: asyncpg.Pool) -> None:
        self._db = db
        self._group: GroupCommit[tuple[uuid.UUID, uuid.UUID, int, int]] = GroupCommit(
            self._write, name="wifidog-usage"
        )

    async def record(
        self, merchant_id: uuid.UUID, session_id: uuid.UUID, incoming: int, outgoing: int
    ) -> None:
        try:
            await self._group.add((merchant_id, session_id, incoming, outgoing))
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as exc:
            log.exception("could not record a batch of counters reports")
            raise UsageNotRecorded(f"counters report not written: {exc}") from exc

    async def _write(self, reports: list[tuple[uuid.UUID, uuid.UUID, int, int]]) -> None:
        latest: dict[tuple[uuid.UUID, uuid.UUID], tuple[int, int]] = {}
        for merchant_id, session_id, incoming, outgoing in reports:  # one row per session
            old = latest.get((merchant_id, session_id), (0, 0))
            latest[(merchant_id, session_id)] = (max(incoming, old[0]), max(outgoing, old[1]))
        await self._db.execute(
            queries.wifidog_record_usage,
            [k[0] for k in latest],
            [k[1] for k in latest],
            [v[0] for v in latest.values()],
            [v[1] for v in latest.values()],
        )


_writers: dict[asyncpg.Pool, UsageWriter] = {}


def usage_writer(db: asyncpg.Pool) -> UsageWriter:
    """The process's group-commit writer for this pool."""
    writer = _writers.get(db)
    if writer is None:
        writer = _writers[db] = UsageWriter(db)
    return writer


async def usage_of(db: asyncpg.Pool, merchant_id: uuid.UUID, session_id: uuid.UUID) -> Any:
    return await db.fetchrow(queries.wifidog_usage_of, merchant_id, session_id)


# -- which gw_ids exist ----------------------------------------------------------------------


class KnownGateways:
    """The gw_ids of every registered WiFiDog router: one set, reloaded from PostgreSQL only
    when asked for an id it lacks, and then at most every `refresh` seconds.

    A gw_id the set lacks is refused without a query, so a flood of random gw_ids costs at most
    one query per `refresh` seconds and no memory (the set holds registered routers only; a
    per-id negative cache would query for every new random id and grow with them). A router
    registered after a miss is served from the first reload that starts after its
    registration, within `refresh` seconds. An id in the set still goes through the usual
    look-up (services.store_gateway), which decides."""

    def __init__(self, refresh: float = KNOWN_GATEWAYS_REFRESH) -> None:
        self.refresh = refresh
        self.loads = 0
        self._ids: frozenset[str] = frozenset()
        self._loaded_at = -math.inf  # monotonic time the last load started
        self._lock = asyncio.Lock()

    async def may_exist(self, db: asyncpg.Pool, gw_id: str) -> bool:
        if gw_id in self._ids:
            return True
        if time.monotonic() - self._loaded_at < self.refresh:
            return False
        async with self._lock:  # one reload at a time; the others wait for it
            if time.monotonic() - self._loaded_at >= self.refresh:
                started = time.monotonic()
                rows = await db.fetch(queries.wifidog_gateway_ids)
                self._ids = frozenset(row["router_id"] for row in rows)
                self._loaded_at = started
                self.loads += 1
        return gw_id in self._ids


# -- purge -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Purged:
    unused: int
    used: int


async def purge_tokens(
    db: asyncpg.Pool,
    *,
    batch: int = PURGE_BATCH,
    max_batches: int = PURGE_MAX_BATCHES,
    unused_grace: float = UNUSED_TOKEN_GRACE,
    used_retention: float = USED_TOKEN_RETENTION,
) -> Purged:
    """Delete tokens that can serve nothing: never used and `unused_grace` seconds past their
    expiry; used, with a session that ended or expired `used_retention` seconds ago (and issued
    that long ago). At most `max_batches` statements of at most `batch` rows each; rows another
    purge holds are skipped (several portal processes may purge at once)."""
    counts = []
    for query, age in (
        (queries.wifidog_purge_unused_tokens, unused_grace),
        (queries.wifidog_purge_used_tokens, used_retention),
    ):
        total = 0
        for _ in range(max_batches):
            status = await db.execute(query, float(age), batch)
            deleted = int(status.rsplit(" ", 1)[1])  # "DELETE n"
            total += deleted
            if deleted < batch:
                break
        counts.append(total)
    return Purged(*counts)


async def purge_tokens_forever(db: asyncpg.Pool, interval: float = PURGE_INTERVAL) -> None:
    """`purge_tokens` every `interval` seconds until cancelled (kernel.jobs.every)."""

    async def run() -> None:
        purged = await purge_tokens(db)
        if purged.unused or purged.used:
            log.info("purged %d unused and %d used wifidog tokens", purged.unused, purged.used)

    await every(interval, run, log, "purge wifidog tokens")
