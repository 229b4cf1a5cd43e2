"""Re-granting sessions after openNDS restarted on a router, until each is settled.

`ndsctl auth` grants do not survive an openNDS restart. The agent reports `nds_restarted` once
openNDS answers ndsctl again (or after its bounded wait), and the controller then sends one
`restore` per active session. openNDS may still refuse (not ready yet, its binauth race), and
the router may not answer at all, so each restore is retried with a growing back-off until it
is settled or its session ends:

- `done` (or `duplicate` of a `done`): settled, restored (openNDS may have restored the
  client itself: the agent answers `done`, "already authenticated");
- `rejected` (or `duplicate` of one): settled, openNDS has no such client; the shopper logs in
  again through the splash;
- `error`, `expired` (or `duplicate` of those): a new command (a new id) after the back-off;
- no ack in time: the same command again (the same id, a new `exp`) after the back-off; a
  router that got it answers `duplicate` with the first outcome and does not run it twice.

A new id after an `error` is needed because the agent runs an id at most once (it answers a
repeated id `duplicate`); a restore is idempotent ("make it so": an `Authenticated` client is
`done` without a second grant), so a new command for the same client is safe. Between rounds
the caller's `still_wanted` check drops clients no active session needs any more.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from controller.commands import Ack, CommandSender, RouterRef, RouterUnreachable

log = logging.getLogger("portico.controller.restore")

FIRST_PAUSE = 1.0  # seconds before the second round
MAX_PAUSE = 60.0  # the back-off doubles up to this

StillWanted = Callable[[RouterRef, str], Awaitable[bool]]


@dataclass(frozen=True)
class Restore:
    """One session to re-grant: its client, the policy, and when the session ends."""

    key: str  # the caller's name for it (a session id); goes to openNDS as `custom`
    mac: str
    ends_at: datetime
    up_kbps: int = 0
    down_kbps: int = 0
    up_quota_kb: int = 0
    down_quota_kb: int = 0

    def args(self, now: datetime) -> dict[str, Any]:
        minutes = max(1, math.ceil((self.ends_at - now).total_seconds() / 60))
        return {
            "mac": self.mac,
            "minutes": minutes,
            "up_kbps": self.up_kbps,
            "down_kbps": self.down_kbps,
            "up_quota_kb": self.up_quota_kb,
            "down_quota_kb": self.down_quota_kb,
            "custom": self.key,
        }


@dataclass
class _Pending:
    restore: Restore
    tries: int = 0
    last_id: str | None = None
    resend: tuple[str, dict[str, Any]] | None = None  # (id, args) of a command with no ack


@dataclass
class RestoreReport:
    """How each session's restore ended: key -> outcome."""

    outcomes: dict[str, str] = field(default_factory=dict)
    commands: int = 0  # restore commands published (resends included)
    rounds: int = 0

    def count(self, outcome: str) -> int:
        return sum(1 for value in self.outcomes.values() if value == outcome)

    def summary(self) -> dict[str, Any]:
        counts: dict[str, int] = {}
        for value in self.outcomes.values():
            counts[value] = counts.get(value, 0) + 1
        return {"sessions": len(self.outcomes), "outcomes": counts, "commands": self.commands}


def _settled(ack: Ack) -> str | None:
    """The final outcome an ack means, or None when the restore must be tried again."""
    status = ack.code if ack.status == "duplicate" else ack.status
    if status == "done":
        return "restored"
    if status == "rejected":
        return "rejected"
    return None


async def restore_clients(
    sender: CommandSender,
    router: RouterRef,
    restores: list[Restore],
    *,
    still_wanted: StillWanted | None = None,
    first_pause: float = FIRST_PAUSE,
    max_pause: float = MAX_PAUSE,
) -> RestoreReport:
    """Send `restore` for each session and retry as the module says until all are settled.

    Outcomes: `restored`, `rejected` (no such client), `ended` (the session ended first),
    `not_wanted` (`still_wanted` said no). Commands go one at a time: the agent handles them
    one at a time anyway. A router that does not answer ends the round at once (the others
    would time out too); the next round starts with the same command again."""
    report = RestoreReport()
    pending = [_Pending(r) for r in restores]
    pause = first_pause
    while pending:
        report.rounds += 1
        waiting: list[_Pending] = []
        unreachable = False
        for item in pending:
            if unreachable:
                waiting.append(item)
                continue
            outcome = await _try_once(sender, router, item, still_wanted, report)
            if outcome is None:
                waiting.append(item)
                unreachable = item.resend is not None
            else:
                report.outcomes[item.restore.key] = outcome
        pending = waiting
        if pending:
            log.info(
                "router %s: %d of %d restores not settled after round %d; next in %.0f s",
                router.router_id,
                len(pending),
                len(restores),
                report.rounds,
                pause,
            )
            await asyncio.sleep(pause)
            pause = min(pause * 2, max_pause)
    return report


async def _try_once(
    sender: CommandSender,
    router: RouterRef,
    item: _Pending,
    still_wanted: StillWanted | None,
    report: RestoreReport,
) -> str | None:
    restore = item.restore
    now = datetime.now(UTC)
    if now >= restore.ends_at:
        return "ended"
    if item.tries and still_wanted is not None and not await still_wanted(router, restore.mac):
        return "not_wanted"
    item.tries += 1
    if item.resend is not None:
        command_id, args = item.resend
        resend: str | None = command_id
    else:
        args, resend = restore.args(now), None  # a new command: minutes left as of now
    report.commands += 1
    started = time.monotonic()
    try:
        ack = await sender.send(router, "restore", args, resend=resend, sent_by="controller")
    except RouterUnreachable as exc:
        command_id = exc.command_id
        item.resend = (command_id, args) if command_id else None
        log.warning(
            "router %s: restore %s got no ack (try %d); will send it again",
            router.router_id,
            command_id or "?",
            item.tries,
        )
        return None
    item.resend = None
    previous, item.last_id = item.last_id, ack.command_id
    outcome = _settled(ack)
    log.log(
        logging.INFO if outcome == "restored" else logging.WARNING,
        "router %s: restore %s%s (try %d) %s/%s in %.1f s%s",
        router.router_id,
        ack.command_id,
        f" (retry of {previous})" if previous and previous != ack.command_id else "",
        item.tries,
        ack.status,
        ack.code,
        time.monotonic() - started,
        "" if outcome else "; will try again",
    )
    return outcome
