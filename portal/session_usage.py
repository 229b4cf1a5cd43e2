"""What each session used, kept on the session (migration 0027), so that a voucher's data limit
holds across its devices and sessions (docs/logins.md, "Vouchers: one data limit").

The sources, by gateway (portal/sessions.py reads them):
- openNDS with our agent: the agent's `usage` reports (controller.services.client_usage),
  whose counters count from openNDS's last grant of the client and start again at every grant
  (an extension's restore, a restore after an openNDS restart or a reboot). A session's use is
  folded from them (`fold`): a later reading of the same grant's counter adds what it grew by;
  a new grant's counter, or one that went back (a reset we were not told of), adds all it
  holds; a report older than the last one read is not read at all. So a counter reset never
  gives data back, and a report read twice never counts twice. The session job folds every
  running session's last report at each run (portal/session_end.py), and a voucher's
  redemption folds its other devices' first (portal/vouchers.py).
- WiFiDog: the gateway's counters reports; the session's use is their highest (the counters
  stage writes it with them: wifidog_record_usage). A WiFiDog gateway that restarts forgets
  its clients, which log in again (a new session), so within a session they only grow; one
  that goes back gives nothing back.
- openNDS's authmon alone (level 3, no agent): nothing reports a client's use, so its sessions
  count 0; openNDS enforces the quota each of its grants carried, per session only.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from kernel.sql import load_queries

queries = load_queries(__file__, "session_usage.sql")

# The most a session is ever counted (kB): 8 EiB, far past any real use, and where a hostile
# router's largest counters (2^53, controller.telemetry.MAX_COUNT) stop adding, so no sum
# overflows.
MAX_USED_KB = 2**53


@dataclass(frozen=True)
class Usage:
    """A session's use as kept (migration 0027): the totals, and the counter last read."""

    down_kb: int = 0
    up_kb: int = 0
    epoch: str | None = None  # which counter was last read (a grant, openNDS's session_start)
    epoch_down_kb: int = 0
    epoch_up_kb: int = 0
    reported_at: datetime | None = None  # that report's time (the router's clock)


@dataclass(frozen=True)
class Reading:
    """One report of a session's counter."""

    epoch: str
    down_kb: int
    up_kb: int
    reported_at: datetime


def fold(used: Usage, reading: Reading) -> Usage:
    """`used` with `reading` counted (see the module doc); `used` itself when the reading is
    older than the last one read (one of the same second is read: a router's clock counts
    seconds, and the same reading read again adds nothing)."""
    if used.reported_at is not None and reading.reported_at < used.reported_at:
        return used
    down = min(max(0, reading.down_kb), MAX_USED_KB)
    up = min(max(0, reading.up_kb), MAX_USED_KB)
    same = reading.epoch == used.epoch and down >= used.epoch_down_kb and up >= used.epoch_up_kb
    grew_down = down - used.epoch_down_kb if same else down
    grew_up = up - used.epoch_up_kb if same else up
    return Usage(
        min(MAX_USED_KB, used.down_kb + grew_down),
        min(MAX_USED_KB, used.up_kb + grew_up),
        reading.epoch,
        down,
        up,
        reading.reported_at,
    )


def usage_of(row: asyncpg.Record) -> Usage:
    """A session row's kept use (the columns of migration 0027)."""
    return Usage(
        row["down_used_kb"],
        row["up_used_kb"],
        row["usage_epoch"],
        row["usage_epoch_down_kb"],
        row["usage_epoch_up_kb"],
        row["usage_reported_at"],
    )


async def keep(
    db: asyncpg.Pool | asyncpg.Connection,
    merchant_id: uuid.UUID,
    changes: list[tuple[uuid.UUID, Usage, Usage]],
) -> int:
    """Store each session's newly folded use `(session, as read, as folded)`, in one
    statement; a session whose use someone else kept meanwhile (another run of the job) is
    left as they kept it, as is one whose report was older. How many were stored."""
    changes = [c for c in changes if c[2] != c[1]]
    if not changes:
        return 0
    stored = await db.fetch(
        queries.keep_session_usage,
        merchant_id,
        [session for session, _old, _new in changes],
        [old.reported_at for _s, old, _new in changes],
        [new.down_kb for _s, _old, new in changes],
        [new.up_kb for _s, _old, new in changes],
        [new.epoch for _s, _old, new in changes],
        [new.epoch_down_kb for _s, _old, new in changes],
        [new.epoch_up_kb for _s, _old, new in changes],
        [new.reported_at for _s, _old, new in changes],
    )
    return len(stored)


@dataclass(frozen=True)
class VoucherUsage:
    used_kb: int  # what the voucher's sessions, ended and running, used (download), as kept
    agent_sessions: dict[str, list[uuid.UUID]]  # its running sessions of our agent, by router


async def voucher_usage(
    db: asyncpg.Pool | asyncpg.Connection, merchant_id: uuid.UUID, code: str
) -> VoucherUsage:
    """What the voucher's sessions used of its data limit, as kept."""
    row = await db.fetchrow(queries.voucher_usage, merchant_id, code)
    by_router: dict[str, list[uuid.UUID]] = {}
    for router_id, session_id in zip(row["agent_routers"], row["agent_sessions"], strict=True):
        by_router.setdefault(router_id, []).append(session_id)
    return VoucherUsage(row["used_kb"], by_router)


async def sessions_of_used_up_vouchers(db: asyncpg.Pool, limit: int) -> list[asyncpg.Record]:
    """The running sessions (merchant_id, session_id, router_id, command_id, client_mac,
    voucher_code) of every voucher whose sessions together used its data limit; up to `limit`."""
    return await db.fetch(queries.sessions_of_used_up_vouchers, limit)
