"""Shopper sessions after the grant: what is left of each (time, data), their policy as the
router holds it, and their re-grant when a router's openNDS restarts (docs/logins.md,
"Session policy").

Where each fact comes from, by gateway:
- openNDS with our agent: the session's last grant (`auth`, or a `restore` after an openNDS
  restart or an extension) is what openNDS enforces: its minutes, rates and quotas
  (controller.services.latest_grants); the agent's `usage` reports (openNDS's `ndsctl json` at
  every heartbeat) give the data used since that grant and the client's last traffic
  (`last_active`, openNDS's counters.last_updated);
- WiFiDog: the session's admission (its token's download quota, else the store's) and the
  gateway's counters reports (wifidog_usage; `updated_at` is when they last grew);
- openNDS's authmon (FAS level 3 without the agent): the store's policy; no usage reaches us.

A voucher's session also has what is left of the voucher's data limit: the limit, less what the
voucher's other sessions (ended, and running as last kept) and this one used in all
(portal/session_usage.py); what is left of its download is the smaller of that and what is left
of its grant's quota.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import asyncpg

from controller.services import (
    AccessPolicy,
    ClientUsage,
    CommandSender,
    Grant,
    Restore,
    RestoreReport,
    Router,
    RouterRef,
    StillWanted,
    client_usage,
    latest_grants,
    restore_clients,
)
from kernel.sql import load_queries
from portal.session_usage import Reading, Usage, fold, keep, usage_of
from portal.stores import StorePortal

log = logging.getLogger("portico.portal")
queries = load_queries(__file__)

# How far a router's clock may be behind ours when its reports are looked up from a session's
# start (its reports carry its own time).
CLOCK_SLACK = timedelta(minutes=2)


def session_key(session_id: uuid.UUID) -> str:
    """What a session's grants carry as openNDS's `custom` (portal.grants, the restores)."""
    return session_id.hex[:16]


def gateway_of(command_id: str) -> str:
    """Which path granted a session: 'wifidog', 'authmon' (openNDS's own, level 3) or 'agent'."""
    if command_id == "wifidog":
        return "wifidog"
    if command_id.startswith("authmon-"):
        return "authmon"
    return "agent"


@dataclass(frozen=True)
class LiveSession:
    """One session as it stands: what its router enforces and what is left of it."""

    session_id: uuid.UUID
    gateway: str  # gateway_of
    device_hash: str
    client_mac: str | None
    status: str
    end_reason: str | None
    active: bool
    seconds_left: int
    policy: AccessPolicy  # rates and quotas the router holds for it now (0: none)
    down_used_kb: int | None  # data used against those quotas (None: nobody reported it)
    up_used_kb: int | None
    idle_minutes: int  # its idle timeout (0: none)
    idle_seconds: int | None  # how long without traffic at the last report (None: unknown)
    extensions: int
    extend_minutes: int  # what one extension adds (0: this session cannot be extended)
    max_extensions: int
    voucher_code: str | None
    voucher_quota_kb: int  # its voucher's data limit, download (0: none, or no voucher)
    voucher_others_kb: int  # what the voucher's other sessions used, as kept
    used: Usage  # all this session used, with its last report folded in
    kept: Usage  # as the session row holds it (session_usage.keep stores `used`)

    @property
    def minutes_left(self) -> int:
        return -(-self.seconds_left // 60)

    @property
    def can_extend(self) -> bool:
        return self.active and self.extend_minutes > 0 and self.extensions < self.max_extensions

    @property
    def voucher_left_kb(self) -> int | None:
        """What is left of the voucher's data limit (None: no voucher, no limit, or this
        session's own use is not known: openNDS's authmon alone reports none)."""
        if not self.voucher_quota_kb or self.gateway == "authmon":
            return None
        return max(0, self.voucher_quota_kb - self.voucher_others_kb - self.used.down_kb)

    @property
    def down_limit_kb(self) -> int:
        """The download limit the shopper is shown: the voucher's, else the grant's quota."""
        return self.voucher_quota_kb or self.policy.down_quota_kb

    @property
    def down_left_kb(self) -> int | None:
        """Download left under the grant's quota and the voucher's limit, the smaller (None:
        no quota, or the use is not known)."""
        left = [
            kb
            for kb in (_left(self.policy.down_quota_kb, self.down_used_kb), self.voucher_left_kb)
            if kb is not None
        ]
        return min(left) if left else None

    @property
    def up_left_kb(self) -> int | None:
        return _left(self.policy.up_quota_kb, self.up_used_kb)

    @property
    def bytes_left(self) -> int | None:
        """RFC 8908's bytes-remaining counts sent and received together; the quotas here are
        per direction, so the bytes the client may move in any mix before one of them is
        reached: the smaller of what is left (None: no quota, or the use is not known)."""
        left = [kb for kb in (self.down_left_kb, self.up_left_kb) if kb is not None]
        quotas = [q for q in (self.down_limit_kb, self.policy.up_quota_kb) if q]
        if not quotas or len(left) < len(quotas):
            return None
        return min(left) * 1024

    @property
    def over_quota(self) -> bool:
        return self.down_left_kb == 0 or self.up_left_kb == 0

    @property
    def idle_too_long(self) -> bool:
        idle = self.idle_seconds
        return bool(self.idle_minutes and idle is not None and idle >= self.idle_minutes * 60)


def _left(quota_kb: int, used_kb: int | None) -> int | None:
    if not quota_kb or used_kb is None:
        return None
    return max(0, quota_kb - used_kb)


async def live_sessions(
    db: asyncpg.Pool,
    router: Router,
    portal: StorePortal,
    session_ids: list[uuid.UUID],
) -> list[LiveSession]:
    """These sessions of `router` (others' are left out) as they stand now."""
    rows = await db.fetch(queries.live_sessions, router.merchant_id, session_ids)
    rows = [row for row in rows if row["router_id"] == router.router_id]
    agent_rows = [row for row in rows if gateway_of(row["command_id"]) == "agent"]
    grants: dict[str, Grant] = {}
    usage: dict[str, ClientUsage] = {}
    if agent_rows:
        since = min(row["started_at"] for row in agent_rows) - CLOCK_SLACK
        keys = [session_key(row["session_id"]) for row in agent_rows]
        grants = await latest_grants(db, router.ref, keys, since)
        devices = list({row["device_hash"] for row in agent_rows})
        usage = await client_usage(db, router.ref, devices, since)
    # A device on two running sessions (it logged in again before the first ended): its
    # reports are its latest grant's, not counted twice.
    latest: dict[str, tuple[datetime, uuid.UUID]] = {}
    for row in agent_rows:
        grant = grants.get(session_key(row["session_id"]))
        if grant is not None and row["status"] == "active":
            mine = (grant.granted_at, row["session_id"])
            latest[row["device_hash"]] = max(latest.get(row["device_hash"], mine), mine)
    return [
        _live(
            row,
            portal,
            grants,
            usage
            if latest.get(row["device_hash"], (None, row["session_id"]))[1] == row["session_id"]
            else {},
        )
        for row in rows
    ]


async def live_session(
    db: asyncpg.Pool, router: Router, portal: StorePortal, session_id: uuid.UUID
) -> LiveSession | None:
    """One session of `router` as it stands; None when the router has no such session."""
    found = await live_sessions(db, router, portal, [session_id])
    return found[0] if found else None


def _live(
    row: asyncpg.Record,
    portal: StorePortal,
    grants: dict[str, Grant],
    usage: dict[str, ClientUsage],
) -> LiveSession:
    gateway = gateway_of(row["command_id"])
    policy = portal.policy
    down_used = up_used = idle = None
    kept = used = usage_of(row)
    if gateway == "agent":
        grant = grants.get(session_key(row["session_id"]))
        if grant is not None:
            policy = grant.policy
        report = usage.get(row["device_hash"])
        # Counters count from openNDS's last grant: a report from before it is not this grant's.
        if report is not None and report.state == "Authenticated":
            epoch = _epoch(grant, report)
            if grant is None or report.received_at > grant.granted_at:
                down_used, up_used = report.down_kb, report.up_kb
                idle = report.idle_seconds
            elif kept.epoch is not None:
                # The last report of the grant before (an extension's, a restore's): still the
                # counter last read, so what it grew by since counts.
                epoch = kept.epoch
            else:
                epoch = None
            if epoch is not None and row["status"] == "active":
                reading = Reading(epoch, report.down_kb, report.up_kb, report.reported_at)
                used = fold(kept, reading)
    elif gateway == "wifidog":
        if row["token_down_quota_kb"] is not None:
            policy = replace(policy, down_quota_kb=row["token_down_quota_kb"])
        if row["incoming"] is not None:
            down_used, up_used = row["incoming"] // 1024, row["outgoing"] // 1024
            idle = row["quiet_seconds"]
            used = replace(
                kept, down_kb=max(kept.down_kb, down_used), up_kb=max(kept.up_kb, up_used)
            )
    # openNDS's authmon is asked for nothing but grants: an extension's deauth would come back
    # as its `deauthed` and end the session (portal/authmon.py), so it is not offered there.
    extendable = gateway in ("agent", "wifidog")
    return LiveSession(
        session_id=row["session_id"],
        gateway=gateway,
        device_hash=row["device_hash"],
        client_mac=row["client_mac"],
        status=row["status"],
        end_reason=row["end_reason"],
        active=row["active"],
        seconds_left=int(row["seconds_left"]) if row["active"] else 0,
        policy=policy,
        down_used_kb=down_used,
        up_used_kb=up_used,
        idle_minutes=row["idle_minutes"],
        idle_seconds=idle,
        extensions=row["extensions"],
        extend_minutes=portal.extend_minutes if extendable else 0,
        max_extensions=portal.max_extensions,
        voucher_code=row["voucher_code"],
        voucher_quota_kb=row["voucher_quota_kb"],
        voucher_others_kb=row["voucher_others_kb"],
        used=used,
        kept=kept,
    )


def _epoch(grant: Grant | None, report: ClientUsage) -> str:
    """Which counter a report read: openNDS's counters start again at every grant (and at
    its session_start, which an unknown grant also changes)."""
    granted = grant.granted_at.isoformat() if grant is not None else "-"
    return f"{granted}/{report.session_start or '-'}"


async def keep_usage(db: asyncpg.Pool, router: Router, session_ids: list[uuid.UUID]) -> int:
    """Keep what these sessions of `router` used, with their last reports folded in
    (portal/session_usage.py): before a voucher's limit is counted, an extension's new grant,
    a logout. How many sessions' use changed."""
    row = await db.fetchrow(queries.store_portal, router.merchant_id, router.store_id)
    if row is None or not session_ids:
        return 0
    live = await live_sessions(db, router, StorePortal(**dict(row)), session_ids)
    return await keep(db, router.merchant_id, [(s.session_id, s.kept, s.used) for s in live])


def remaining_policy(session: LiveSession, minutes: int) -> AccessPolicy:
    """A new grant that carries on `session` for `minutes`: its rates, and what is left of its
    quotas (openNDS's counters start again at every grant; at least 1 kB, as 0 would mean
    no quota)."""
    policy = session.policy
    down, up = session.down_left_kb, session.up_left_kb
    return AccessPolicy(
        minutes,
        policy.up_kbps,
        policy.down_kbps,
        policy.up_quota_kb if up is None else max(1, up),
        policy.down_quota_kb if down is None else max(1, down),
    )


async def restore_sessions(
    db: asyncpg.Pool,
    sender: CommandSender,
    router: Router,
    *,
    first_pause: float = 1.0,
) -> RestoreReport:
    """After openNDS on `router` restarted, re-grant its active sessions, each with its own
    policy and what is left of it, retrying each until it is settled or its session ends
    (controller.restore); return how each ended."""
    row = await db.fetchrow(queries.store_portal, router.merchant_id, router.store_id)
    sessions = await db.fetch(
        queries.active_sessions_of_router, router.merchant_id, router.router_id
    )
    if row is None or not sessions:
        return RestoreReport()
    portal = StorePortal(**dict(row))
    live = await live_sessions(db, router, portal, [s["session_id"] for s in sessions])
    # Their counters start again at the new grants: what they used so far is kept first.
    await keep(db, router.merchant_id, [(s.session_id, s.kept, s.used) for s in live])
    policies = {s.session_id: remaining_policy(s, 0) for s in live}
    restores = []
    for session in sessions:
        policy = policies.get(session["session_id"], portal.policy)
        restores.append(
            Restore(
                key=session_key(session["session_id"]),
                mac=session["client_mac"],
                ends_at=session["expires_at"],
                up_kbps=policy.up_kbps,
                down_kbps=policy.down_kbps,
                up_quota_kb=policy.up_quota_kb,
                down_quota_kb=policy.down_quota_kb,
            )
        )
    report = await restore_clients(
        sender,
        router.ref,
        restores,
        still_wanted=_session_needs(db),
        first_pause=first_pause,
    )
    log.info(
        "restored %d of %d sessions on %s (%s)",
        report.count("restored"),
        len(sessions),
        router.router_id,
        report.summary(),
    )
    return report


def _session_needs(db: asyncpg.Pool) -> StillWanted:
    async def needs(router: RouterRef, mac: str) -> bool:
        found = await db.fetchval(
            queries.client_has_active_session, router.merchant_id, router.router_id, mac
        )
        return bool(found)

    return needs
