"""Telemetry from routers (`ap/v1/<id>/tele`, docs/mqtt-contract.md): checked, pseudonymised
and written to PostgreSQL in batches, before the MQTT message is acked.

Each event has an id `<boot>-<seq>` (the router's boot, a counter within it); a message is one
event, or a batch of them (a JSON array: the agent's spool flush), each checked on its own.
Handlers of many messages wait on one batch: it is written when it holds `max_batch` events or
`max_delay` seconds after its first, in one INSERT … ON CONFLICT DO NOTHING, so an event that
comes again (the broker redelivers what was not acked; the agent's spool replays what it is not
sure was received) is stored once. Only when the batch is committed do the handlers return
and the consumer ack their messages; a failed write fails every handler of the batch, and the
consumer has the broker deliver them again.

MACs of station and usage events are replaced by `kernel.privacy.device_hash` with the
merchant's key at once (PRODUCT.md §5); the raw MAC is never stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg

from controller import topics
from controller.listener import contract_batch, contract_message
from controller.services import CommandFailed, CommandSender, Router, RouterRef
from kernel.cache import TtlCache
from kernel.logs import Throttled
from kernel.mqtt import Delivery, Refused
from kernel.privacy import device_hash, is_randomized_mac
from kernel.sql import load_queries

log = logging.getLogger("portico.controller.telemetry")
queries = load_queries(__file__)

EVENT_ID = re.compile(r"^([0-9a-f]{1,32})-([1-9][0-9]{0,17})$")
MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")
IFNAME = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")
TS_RANGE = (1_500_000_000, 4_102_444_800)  # 2017 … 2100: anything else is a broken clock
MAX_COUNT = 2**53  # JSON integers we accept (kB counters, seconds)


@dataclass(frozen=True)
class Row:
    merchant_id: Any
    router_id: str
    boot_id: str
    seq: int
    type: str
    occurred_at: datetime
    device_hash: str | None
    randomized: bool | None
    rssi: int | None
    data: dict[str, Any]


def _count(data: dict[str, Any], key: str, *, required: bool = True) -> int | None:
    value = data.get(key)
    if value is None and not required:
        return None
    if type(value) is not int or not 0 <= value <= MAX_COUNT:
        raise Refused("bad_field", f"{key} must be a count, got {str(value)[:20]!r}")
    return value


def _text(data: dict[str, Any], key: str, most: int) -> str:
    value = data.get(key, "")
    if not isinstance(value, str) or len(value) > most:
        raise Refused("bad_field", f"{key} must be a string of at most {most} characters")
    return value


def _mac(data: dict[str, Any]) -> str:
    mac = data.get("mac")
    if not isinstance(mac, str) or not MAC.match(mac):
        raise Refused("bad_field", "mac must be xx:xx:xx:xx:xx:xx in lower case")
    return mac


def parse_event(router: Router, data: dict[str, Any], secret_key: str) -> Row:
    """One telemetry payload as a row to store; Refused for anything off the contract."""
    match = EVENT_ID.match(str(data.get("id", "")))
    if not match:
        raise Refused("bad_field", "id must be <boot hex>-<sequence>")
    ts = data.get("ts")
    if type(ts) is not int or not TS_RANGE[0] <= ts <= TS_RANGE[1]:
        raise Refused("bad_field", "ts must be unix seconds")
    kind = data.get("type")
    rssi: int | None = None
    hashed: str | None = None
    randomized: bool | None = None
    if kind == "heartbeat":
        load = data.get("load", [])
        if not (
            isinstance(load, list)
            and len(load) <= 3
            and all(type(x) in (int, float) and 0 <= x < 10_000 for x in load)
        ):
            raise Refused("bad_field", "load must be up to three numbers")
        fields: dict[str, Any] = {
            "uptime_s": _count(data, "uptime_s"),
            "load": load,
            "mem_total_kb": _count(data, "mem_total_kb", required=False),
            "mem_free_kb": _count(data, "mem_free_kb", required=False),
            "clients": _count(data, "clients", required=False),
            "stations": _count(data, "stations", required=False),
            "spool_dropped": _count(data, "spool_dropped", required=False),
            "agent": _text(data, "agent", 64),
            "fw": _text(data, "fw", 128),
            "nds": _text(data, "nds", 32),
        }
    elif kind == "station":
        event = data.get("event")
        if event not in ("join", "leave"):
            raise Refused("bad_field", "event must be join or leave")
        value = data.get("rssi")
        if value is not None and (type(value) is not int or not -127 <= value <= 0):
            raise Refused("bad_field", "rssi must be dBm, -127 … 0")
        interface = data.get("if", "")
        if not isinstance(interface, str) or not IFNAME.match(interface):
            raise Refused("bad_field", "if must name an interface")
        mac = _mac(data)
        rssi = value
        fields = {"event": event, "if": interface}
    elif kind == "usage":
        mac = _mac(data)
        fields = {
            "state": _text(data, "state", 32),
            "down_kb": _count(data, "down_kb"),
            "up_kb": _count(data, "up_kb"),
            "session_start": _count(data, "session_start", required=False),
            "last_active": _count(data, "last_active", required=False),
        }
    else:
        raise Refused("bad_field", f"unknown telemetry type {str(kind)[:20]!r}")
    if kind != "heartbeat":
        hashed = device_hash(secret_key, str(router.merchant_id), mac)
        randomized = is_randomized_mac(mac)
    return Row(
        router.merchant_id,
        router.router_id,
        match.group(1),
        int(match.group(2)),
        kind,
        datetime.fromtimestamp(ts, UTC),
        hashed,
        randomized,
        rssi,
        {key: value for key, value in fields.items() if value is not None},
    )


class _Batch:
    def __init__(self) -> None:
        self.rows: list[Row] = []
        self.written: asyncio.Future[None] = asyncio.get_running_loop().create_future()


class TelemetryIngest:
    """The `tele` handler of the controller's consumer (wired by the composition root)."""

    def __init__(
        self,
        db: asyncpg.Pool,
        secret_key: str,
        *,
        max_batch: int = 1000,
        max_delay: float = 0.02,
    ) -> None:
        self._db = db
        self._secret_key = secret_key
        self._max_batch = max_batch
        self._max_delay = max_delay
        self._batch: _Batch | None = None
        self._routers: TtlCache[str, Router] = TtlCache(ttl=60, max_items=50_000)
        self.stored = 0  # events written (duplicates skipped by the database not counted)
        self.refused_events: dict[str, int] = {}  # events of batches refused, by reason
        self._refusal_log = Throttled(log, 1.0)

    async def handle(self, message: Delivery) -> None:
        if topics.is_batch(message.payload):
            await self._handle_batch(message)
            return
        router, data = await contract_message(self._db, message, known=self._routers.get)
        self._routers.put(router.router_id, router)
        row = parse_event(router, data, self._secret_key)
        await self._add([row])

    async def _handle_batch(self, message: Delivery) -> None:
        """Several events in one message (the agent's spool flush): each is checked on its own;
        the good ones are stored, the bad ones counted (`refused_events`) and logged."""
        router, elements = await contract_batch(self._db, message, known=self._routers.get)
        self._routers.put(router.router_id, router)
        rows = []
        for element in elements:
            try:
                if not isinstance(element, dict):
                    raise Refused("malformed", "a batch element is not a JSON object")
                if element.get("v") != topics.VERSION:
                    raise Refused("bad_version", f"event version {element.get('v')!r}")
                rows.append(parse_event(router, element, self._secret_key))
            except Refused as exc:
                self.refused_events[exc.reason] = self.refused_events.get(exc.reason, 0) + 1
                self._refusal_log.warning(
                    "refused an event of a batch from %s: %s (%d refused so far for %s)",
                    router.router_id,
                    exc,
                    self.refused_events[exc.reason],
                    exc.reason,
                )
        if not rows:
            raise Refused("bad_field", f"none of the {len(elements)} events could be stored")
        await self._add(rows)

    async def _add(self, rows: list[Row]) -> None:
        batch = self._batch
        if batch is None:
            batch = self._batch = _Batch()
            asyncio.get_running_loop().call_later(self._max_delay, self._flush_soon, batch)
        batch.rows.extend(rows)
        if len(batch.rows) >= self._max_batch:
            self._flush_soon(batch)
        await asyncio.shield(batch.written)

    def _flush_soon(self, batch: _Batch) -> None:
        if self._batch is not batch:
            return  # written already
        self._batch = None
        asyncio.get_running_loop().create_task(self._write(batch))

    async def _write(self, batch: _Batch) -> None:
        rows = batch.rows
        try:
            result = await self._db.execute(
                queries.insert_telemetry,
                [r.merchant_id for r in rows],
                [r.router_id for r in rows],
                [r.boot_id for r in rows],
                [r.seq for r in rows],
                [r.type for r in rows],
                [r.occurred_at for r in rows],
                [r.device_hash for r in rows],
                [r.randomized for r in rows],
                [r.rssi for r in rows],
                [r.data for r in rows],
            )
        except Exception as exc:  # every waiting handler gets it; the consumer redelivers
            batch.written.set_exception(exc)
            batch.written.exception()  # retrieved: handlers that were cancelled do not warn
            return
        self.stored += int(result.rsplit(" ", 1)[-1])
        batch.written.set_result(None)


# How far before the moment the broker was lost a resend reaches back: events a router sent
# just before may still have been on their way to the controllers.
RESEND_MARGIN = 10  # seconds
RESEND_CONCURRENCY = 200  # tele_resend commands in flight at once
RESEND_TRIES = 3  # a resend is harmless twice (events are stored once): try again on no ack
SENDER_WAIT = 30.0  # seconds for the command sender's own connection to come back


async def request_resend(
    sender: CommandSender,
    db: asyncpg.Pool,
    lost_at: float,
    *,
    timeout: float = 10.0,
    tries: int = RESEND_TRIES,
) -> dict[str, int]:
    """After a controller lost the broker at `lost_at` and subscribed again: ask every
    connected agent to publish again the telemetry it sent since then (op `tele_resend`).

    A Mosquitto that restarted keeps persistent sessions but not their shared subscriptions:
    until the controllers subscribe again it drops what routers send (they got their PUBACK,
    so their spools let it go). The agents keep what they sent for a while (tele.spool.sent);
    what comes twice is stored once. Returns the acks' statuses counted.

    The command sender lost the broker too and reconnects on its own back-off: wait for it
    first (a send while it is away fails at once, and the events would be lost)."""
    since = int(lost_at) - RESEND_MARGIN
    try:
        await sender.wait_connected(SENDER_WAIT)
    except TimeoutError:
        log.error("no resend of telemetry since %d: the command sender is not connected", since)
        return {"no_sender": 1}
    routers = await db.fetch(queries.agent_routers_online)
    slots = asyncio.Semaphore(RESEND_CONCURRENCY)
    outcomes: dict[str, int] = {}

    async def ask(row: asyncpg.Record) -> None:
        async with slots:
            ref = RouterRef(row["merchant_id"], row["router_id"])
            status = "no_ack"
            for _try in range(tries):
                try:
                    ack = await sender.send(
                        ref, "tele_resend", {"since": since}, timeout, sent_by="controller"
                    )
                except CommandFailed:
                    with contextlib.suppress(TimeoutError):  # the next try fails at once then
                        await sender.wait_connected(SENDER_WAIT)
                    continue
                status = ack.status
                break
            outcomes[status] = outcomes.get(status, 0) + 1

    await asyncio.gather(*(ask(row) for row in routers))
    log.info(
        "asked %d routers for their telemetry since %d again: %s", len(routers), since, outcomes
    )
    return outcomes
