"""Sessions end when their policy says, and each ended row says why (docs/logins.md, "Session
policy"). Run every INTERVAL seconds by the controller role (portico/runtime.py), which owns
the routers' telemetry this reads and the command sender it deauths through.

- **expired**: a session past its end is ended at once (`ended_at` = its end, `end_reason`
  'expired', raw MAC dropped), then its router is told to deauth the client when the router
  is online (openNDS with our agent). openNDS also ends the client by its own timer
  (fw_refresh_client_list, src/auth.c: `timeout_deauth`), so a router that is offline now is
  not waited for: its session ends in our records all the same, and the log says so. A WiFiDog
  gateway is told at its next counters report (`Auth: 0`): it takes no commands.
- **idle**: no traffic for the session's idle timeout. openNDS's own idle timeout
  (`authidletimeout`) is one global setting, so ours is enforced here, from the agent's `usage`
  reports: openNDS's `last_active` (counters.last_updated, which moves when the client's upload
  grows) against the report's own time, both on the router's clock. The router deauths first;
  the row ends when it confirmed. WiFiDog: the gateway's counters reports (wifidog_usage's
  `updated_at`, when they last grew), ended here; the gateway kicks the client at its next
  report.
- **quota**: the agent reported the client at or over its grant's quota (openNDS enforces the
  quota itself too, and usually first: when it dropped the client before a report caught it
  over, the session ends later as 'expired'). WiFiDog quotas are enforced at each counters
  report (portal/wifidog.py). And a voucher's data limit is the voucher's, across its devices
  and sessions: once what its sessions used together (ended ones, and the running ones as last
  reported) reaches it, every running session of the voucher ends as 'quota' (openNDS: the
  router deauths first, as above; WiFiDog: the row ends and the gateway gets `Auth: 0` at its
  next counters report; openNDS's authmon alone: the row ends, openNDS's own per-session quota
  and timer end the client).

Every run first keeps what each running session of our agent used (portal/session_usage.py),
from the agent's last reports, also of a session due to end now and of a router that went
offline (its last reports still count).

Several processes may run this at once: an expired row is taken once (SKIP LOCKED), and a
deauth sent twice is harmless (the agent answers `done` for a client it no longer holds).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable
from dataclasses import dataclass, field

import asyncpg

from controller.services import (
    CommandFailed,
    CommandSender,
    Router,
    RouterRef,
    deauth_client,
    find_router,
)
from kernel.jobs import every
from kernel.sql import load_queries
from portal import session_usage, stores
from portal.sessions import LiveSession, gateway_of, live_sessions

log = logging.getLogger("portico.portal.session_end")
queries = load_queries(__file__)

INTERVAL = 15.0  # seconds between runs
BATCH = 1000  # expired sessions ended per statement
WATCH_LIMIT = 50_000  # running sessions checked for idle and quota per run
DEAUTH_CONCURRENCY = 50  # deauths in flight at once
SENT_BY = "controller"  # the audit log's name for these deauths


@dataclass
class EndReport:
    """What a run ended, and what became of the deauths it sent."""

    expired: int = 0
    idle: int = 0
    quota: int = 0  # over a session's quota, or its voucher's data limit
    usage_kept: int = 0  # sessions whose use was kept from newer reports
    deauthed: int = 0  # the router confirmed
    deauth_failed: int = 0  # no ack, or not done (an idle or quota session then goes on)
    router_offline: int = 0  # expired sessions whose router could not be told
    by_router: dict[str, int] = field(default_factory=dict)  # sessions ended per router

    def any(self) -> bool:
        return bool(self.expired or self.idle or self.quota or self.deauth_failed)


async def end_due_sessions(db: asyncpg.Pool, sender: CommandSender) -> EndReport:
    """End every session past its end, idle too long or over its quota; see the module doc."""
    report = EndReport()
    routers = _Routers(db)
    await _end_by_usage(db, sender, routers, report)
    await _end_expired(db, sender, routers, report)
    await _end_idle_wifidog(db, report)
    await _end_used_up_vouchers(db, sender, routers, report)
    return report


class _Routers:
    """Routers as the controller knows them now (online or not), looked up once per run."""

    def __init__(self, db: asyncpg.Pool) -> None:
        self._db = db
        self._found: dict[str, Router | None] = {}

    async def get(self, router_id: str) -> Router | None:
        if router_id not in self._found:
            self._found[router_id] = await find_router(self._db, router_id)
        return self._found[router_id]


async def _end_expired(
    db: asyncpg.Pool, sender: CommandSender, routers: _Routers, report: EndReport
) -> None:
    deauths: list[Awaitable[bool]] = []
    slots = asyncio.Semaphore(DEAUTH_CONCURRENCY)
    while True:
        rows = await db.fetch(queries.end_expired_sessions, BATCH)
        report.expired += len(rows)
        for row in rows:
            _count(report, row["router_id"])
            if gateway_of(row["command_id"]) == "wifidog" or row["client_mac"] is None:
                continue  # a WiFiDog gateway learns it at its next counters report
            router = await routers.get(row["router_id"])
            if router is None or not router.online or router.gateway != "opennds":
                report.router_offline += 1
                continue  # openNDS ends it by its own timer
            deauths.append(_deauth(sender, router.ref, row["client_mac"], slots, report))
        if len(rows) < BATCH:
            break
    await asyncio.gather(*deauths)
    if report.router_offline:
        log.info(
            "%d expired sessions ended while their router was offline: openNDS ends them by "
            "its own timer",
            report.router_offline,
        )


async def _deauth(
    sender: CommandSender,
    router: RouterRef,
    mac: str,
    slots: asyncio.Semaphore,
    report: EndReport,
) -> bool:
    """Deauth `mac` on the router; whether it confirmed."""
    async with slots:
        try:
            ack = await deauth_client(sender, router, mac=mac, sent_by=SENT_BY)
        except CommandFailed as exc:
            log.warning("deauth at %s got no ack: %s", router.router_id, exc)
            report.deauth_failed += 1
            return False
    if not ack.ok:
        log.warning("deauth at %s: %s/%s", router.router_id, ack.status, ack.code)
        report.deauth_failed += 1
        return False
    report.deauthed += 1
    return True


async def _end_idle_wifidog(db: asyncpg.Pool, report: EndReport) -> None:
    rows = await db.fetch(queries.end_idle_wifidog_sessions)
    report.idle += len(rows)
    for row in rows:
        _count(report, row["router_id"])


async def _end_by_usage(
    db: asyncpg.Pool, sender: CommandSender, routers: _Routers, report: EndReport
) -> None:
    """Sessions our agent granted, against the agent's usage reports: their use kept, and
    ended when idle or over quota."""
    rows = await db.fetch(queries.agent_sessions_to_watch, WATCH_LIMIT)
    by_router: dict[str, list[uuid.UUID]] = {}
    for row in rows:
        by_router.setdefault(row["router_id"], []).append(row["session_id"])
    slots = asyncio.Semaphore(DEAUTH_CONCURRENCY)
    ends: list[Awaitable[None]] = []
    for router_id, session_ids in by_router.items():
        router = await routers.get(router_id)
        if router is None or router.gateway != "opennds":
            continue
        try:
            _router, portal = await stores.store_gateway(db, router_id)
        except stores.UnknownGateway:
            continue
        sessions = await live_sessions(db, router, portal, session_ids)
        changes = [(s.session_id, s.kept, s.used) for s in sessions]
        report.usage_kept += await session_usage.keep(db, router.merchant_id, changes)
        if not router.online:
            continue  # no fresh reports, and no way to deauth: its own limits hold meanwhile
        for session in sessions:
            reason = _usage_end(session)
            if reason is not None and session.client_mac is not None:
                mac = session.client_mac
                ends.append(
                    _end_one(db, sender, router, session.session_id, mac, reason, slots, report)
                )
    await asyncio.gather(*ends)


async def _end_used_up_vouchers(
    db: asyncpg.Pool, sender: CommandSender, routers: _Routers, report: EndReport
) -> None:
    """Every running session of a voucher whose sessions together used its data limit."""
    rows = await session_usage.sessions_of_used_up_vouchers(db, WATCH_LIMIT)
    slots = asyncio.Semaphore(DEAUTH_CONCURRENCY)
    ends: list[Awaitable[None]] = []
    for row in rows:
        session_id, gateway = row["session_id"], gateway_of(row["command_id"])
        if gateway == "agent":
            router = await routers.get(row["router_id"])
            if router is None or not router.online or router.gateway != "opennds":
                continue  # its grant's own quota holds meanwhile; the next run tries again
            if row["client_mac"] is not None:
                mac = row["client_mac"]
                ends.append(_end_one(db, sender, router, session_id, mac, "quota", slots, report))
            continue
        # WiFiDog: the gateway gets `Auth: 0` at its next counters report. authmon: openNDS's
        # own quota and timer end the client (nobody can deauth it there).
        merchant_id = row["merchant_id"]
        if await db.fetchval(queries.end_session_of_used_up_voucher, merchant_id, session_id):
            report.quota += 1
            _count(report, row["router_id"])
            log.info("session %s at %s ended: voucher's data used", session_id, row["router_id"])
    await asyncio.gather(*ends)


def _usage_end(session: LiveSession) -> str | None:
    if not session.active:
        return None
    if session.idle_too_long:
        return "idle"
    if session.over_quota:
        return "quota"
    return None


async def _end_one(
    db: asyncpg.Pool,
    sender: CommandSender,
    router: Router,
    session_id: uuid.UUID,
    mac: str,
    reason: str,
    slots: asyncio.Semaphore,
    report: EndReport,
) -> None:
    """The router lets the client go first; then the session ends (else it goes on, and the
    next run tries again)."""
    if not await _deauth(sender, router.ref, mac, slots, report):
        return
    ended = await db.fetchrow(queries.end_session, router.merchant_id, session_id, reason)
    if ended is None:
        return  # it ended meanwhile (a logout, its expiry): that reason stands
    if reason == "idle":
        report.idle += 1
    else:
        report.quota += 1
    _count(report, router.router_id)
    log.info("session %s at %s ended: %s", session_id, router.router_id, reason)


def _count(report: EndReport, router_id: str) -> None:
    report.by_router[router_id] = report.by_router.get(router_id, 0) + 1


async def end_sessions_forever(
    db: asyncpg.Pool, sender: CommandSender, interval: float = INTERVAL
) -> None:
    """`end_due_sessions` every `interval` seconds until cancelled (kernel.jobs.every)."""

    async def run() -> None:
        report = await end_due_sessions(db, sender)
        if report.any():
            log.info(
                "sessions ended: %d expired, %d idle, %d over quota; %d deauths confirmed, "
                "%d failed, %d routers offline",
                report.expired,
                report.idle,
                report.quota,
                report.deauthed,
                report.deauth_failed,
                report.router_offline,
            )

    await every(interval, run, log, "end sessions")
