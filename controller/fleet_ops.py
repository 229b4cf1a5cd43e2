"""Fleet commands from a fixed allow-list (docs/mqtt-contract.md, ops diagnostics and reboot).

`diagnose` asks a router for its fixed set of facts and checks each one, as anything a router
sends may be hostile; `reboot` names the boot it means (the boot id of the router's last
status), so a retry after the reboot is answered "already rebooted" and never reboots twice.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import asyncpg

from controller.commands import Ack, CommandFailed, CommandSender, RouterRef
from kernel.sql import load_queries

log = logging.getLogger("portico.controller.fleet")
queries = load_queries(__file__)

MAX_TEXT = 2048  # characters kept of a text fact (the agent sends at most 512 bytes)


class BadDiagnostics(CommandFailed):
    """The router acked `diagnostics` without the facts the contract names."""


@dataclass(frozen=True)
class Diagnostics:
    agent: str
    fw: str
    clock: int  # the router's unix time when it answered
    skew_s: int  # router clock less ours (positive: the router is ahead)
    uptime_s: int
    mem_total_kb: int
    mem_free_kb: int
    load: tuple[float, float, float]
    boot_id: str
    nds_rc: int  # exit status of `ndsctl status`: 0 openNDS answers, 3 not running
    nds_status: str  # its first lines

    @property
    def nds_running(self) -> bool:
        return self.nds_rc == 0


def _count(diag: dict[str, object], key: str) -> int:
    value = diag.get(key)
    if type(value) is not int or not 0 <= value < 2**53:
        raise BadDiagnostics(f"diagnostics: {key} is not a count: {value!r}")
    return value


def _text(diag: dict[str, object], key: str) -> str:
    value = diag.get(key)
    if not isinstance(value, str):
        raise BadDiagnostics(f"diagnostics: {key} is not text")
    return value[:MAX_TEXT]


def parse_diagnostics(ack: Ack, now: float | None = None) -> Diagnostics:
    """The checked facts of a `done` diagnostics ack; BadDiagnostics for anything else."""
    if not ack.ok:
        raise CommandFailed(f"diagnostics: {ack.status}/{ack.code} {ack.msg}")
    diag = ack.diag
    if diag is None:
        raise BadDiagnostics("diagnostics: the ack carries no diag object")
    load = diag.get("load")
    if not (
        isinstance(load, list)
        and len(load) == 3
        and all(type(x) in (int, float) and 0 <= x < 1e6 for x in load)
    ):
        raise BadDiagnostics(f"diagnostics: load is not three numbers: {load!r}")
    clock = _count(diag, "clock")
    return Diagnostics(
        agent=_text(diag, "agent")[:64],
        fw=_text(diag, "fw")[:128],
        clock=clock,
        skew_s=clock - int(time.time() if now is None else now),
        uptime_s=_count(diag, "uptime_s"),
        mem_total_kb=_count(diag, "mem_total_kb"),
        mem_free_kb=_count(diag, "mem_free_kb"),
        load=(float(load[0]), float(load[1]), float(load[2])),
        boot_id=_text(diag, "boot_id")[:64],
        nds_rc=_count(diag, "nds_rc"),
        nds_status=_text(diag, "nds_status"),
    )


async def diagnose(
    sender: CommandSender, router: RouterRef, *, sent_by: str | None = None
) -> Diagnostics:
    """Ask the router for its facts (RouterUnreachable when no ack comes in time)."""
    ack = await sender.send(router, "diagnostics", {}, sent_by=sent_by)
    return parse_diagnostics(ack)


async def reboot(
    sender: CommandSender,
    db: asyncpg.Pool | asyncpg.Connection,
    router: RouterRef,
    *,
    sent_by: str | None = None,
) -> Ack:
    """Reboot the router's current boot, as its last status names it. The ack is `done` with
    msg "rebooting", or "already rebooted" when the router rebooted since that status."""
    boot_id = await db.fetchval(queries.router_boot_id, router.merchant_id, router.router_id)
    if not boot_id:
        raise CommandFailed(f"router {router.router_id} has no boot id: it is not online")
    ack = await sender.send(router, "reboot", {"boot_id": boot_id}, sent_by=sent_by)
    log.info("reboot of %s (boot %s): %s %s", router.router_id, boot_id, ack.status, ack.msg)
    return ack
