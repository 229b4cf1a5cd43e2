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

Footfall: `probes` events (a router's summary of the probe requests it heard), station joins
and leaves and usage events are handed, as raw sightings, to `analytics.ingest` (its privacy
step hashes them) and stored in the same transaction as the batch; `dhcp` events keep only the
device's OS family (analytics.fingerprints). `probes` and `dhcp` events are not kept in
router_telemetry.
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

from analytics import fingerprints
from analytics.ingest import FootfallIngest, Sighting, probe_sighting
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
FINGERPRINT = re.compile(r"^[0-9a-f]{8}$")
MAX_PROBES = 64  # observations in one `probes` event
MAX_PROBE_DT = 300  # seconds an observation may be after the event's ts
MAX_SEQ = 4095  # 802.11 sequence numbers
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
    store_id: Any = None
    stored: bool = True  # a router_telemetry row (probes and dhcp events are not)
    sightings: tuple[Sighting, ...] = ()  # for footfall (analytics.ingest)
    os_family: str | None = None  # a dhcp event's


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


def _rssi(value: Any) -> int | None:
    if value is not None and (type(value) is not int or not -127 <= value <= 0):
        raise Refused("bad_field", "rssi must be dBm, -127 … 0")
    return value


def _probes(router: Router, data: dict[str, Any], ts: int) -> tuple[Sighting, ...]:
    """A `probes` event's observations `[mac, dt, rssi, seq, fp]` as sightings."""
    obs = data.get("obs")
    if not isinstance(obs, list) or not 1 <= len(obs) <= MAX_PROBES:
        raise Refused("bad_field", f"obs must be a list of 1 … {MAX_PROBES} observations")
    sightings = []
    for item in obs:
        if not isinstance(item, list) or len(item) != 5:
            raise Refused("bad_field", "an observation must be [mac, dt, rssi, seq, fp]")
        mac, dt, rssi, seq, fp = item
        if not isinstance(mac, str) or not MAC.match(mac):
            raise Refused(
                "bad_field", "an observation's mac must be xx:xx:xx:xx:xx:xx in lower case"
            )
        if type(dt) is not int or not 0 <= dt <= MAX_PROBE_DT:
            raise Refused("bad_field", f"an observation's dt must be 0 … {MAX_PROBE_DT} seconds")
        if type(rssi) is not int:
            raise Refused("bad_field", "an observation's rssi must be dBm, -127 … 0")
        _rssi(rssi)
        if type(seq) is not int or not 0 <= seq <= MAX_SEQ:
            raise Refused("bad_field", f"an observation's seq must be 0 … {MAX_SEQ}")
        if not isinstance(fp, str) or not FINGERPRINT.match(fp):
            raise Refused("bad_field", "an observation's fp must be 8 lower-case hex digits")
        sightings.append(probe_sighting(router.router_id, mac, ts + dt, rssi, seq, int(fp, 16)))
    return tuple(sightings)


def parse_event(
    router: Router,
    data: dict[str, Any],
    secret_key: str,
    footfall: FootfallIngest | None = None,
) -> Row:
    """One telemetry payload as a row to store; Refused for anything off the contract.
    `footfall`: station and usage events also become its sightings (None: they do not)."""
    match = EVENT_ID.match(str(data.get("id", "")))
    if not match:
        raise Refused("bad_field", "id must be <boot hex>-<sequence>")
    ts = data.get("ts")
    if type(ts) is not int or not TS_RANGE[0] <= ts <= TS_RANGE[1]:
        raise Refused("bad_field", "ts must be unix seconds")
    kind = data.get("type")
    if kind not in topics.TELEMETRY_TYPES:
        raise Refused("bad_field", f"unknown telemetry type {str(kind)[:20]!r}")
    rssi: int | None = None
    hashed: str | None = None
    randomized: bool | None = None
    sightings: tuple[Sighting, ...] = ()
    os_family = None
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
            "capture_dropped": _count(data, "capture_dropped", required=False),
            "agent": _text(data, "agent", 64),
            "fw": _text(data, "fw", 128),
            "nds": _text(data, "nds", 32),
        }
    elif kind == "station":
        event = data.get("event")
        if event not in ("join", "leave"):
            raise Refused("bad_field", "event must be join or leave")
        rssi = _rssi(data.get("rssi"))
        interface = data.get("if", "")
        if not isinstance(interface, str) or not IFNAME.match(interface):
            raise Refused("bad_field", "if must name an interface")
        mac = _mac(data)
        fields = {"event": event, "if": interface}
        if footfall is not None:
            sightings = tuple(footfall.station_event(router.router_id, mac, ts, event, rssi))
    elif kind == "usage":
        mac = _mac(data)
        fields = {
            "state": _text(data, "state", 32),
            "down_kb": _count(data, "down_kb"),
            "up_kb": _count(data, "up_kb"),
            "session_start": _count(data, "session_start", required=False),
            "last_active": _count(data, "last_active", required=False),
        }
        if footfall is not None:  # openNDS holds the client: it is there
            sightings = (Sighting(router.router_id, mac, ts, None, "assoc"),)
    elif kind == "probes":
        sightings = _probes(router, data, ts)
        fields = {"obs": len(sightings)}
    else:  # dhcp
        mac = _mac(data)
        opt55 = data.get("opt55")
        if not isinstance(opt55, str):
            raise Refused("bad_field", "opt55 must be the option numbers as a string: 1,3,6")
        try:
            os_family = fingerprints.os_family(opt55)
        except ValueError as exc:
            raise Refused("bad_field", f"opt55: {exc}") from None
        fields = {}
    if kind not in ("heartbeat", "probes"):
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
        router.store_id,
        kind not in ("probes", "dhcp"),
        sightings,
        os_family,
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
        footfall: FootfallIngest | None = None,
    ) -> None:
        self._db = db
        self._secret_key = secret_key
        # The composition root passes one with the rollups' hook (on_recorded).
        self.footfall = footfall or FootfallIngest(secret_key)
        self._max_batch = max_batch
        self._max_delay = max_delay
        self._batch: _Batch | None = None
        self._routers: TtlCache[str, Router] = TtlCache(ttl=60, max_items=50_000)
        self.stored = 0  # events written (duplicates skipped by the database not counted)
        self.footfall_failed = 0  # batches whose footfall part failed (logged; the rest stored)
        self.refused_events: dict[str, int] = {}  # events of batches refused, by reason
        self._refusal_log = Throttled(log, 1.0)

    async def handle(self, message: Delivery) -> None:
        if topics.is_batch(message.payload):
            await self._handle_batch(message)
            return
        router, data = await contract_message(self._db, message, known=self._routers.get)
        self._routers.put(router.router_id, router)
        row = parse_event(router, data, self._secret_key, self.footfall)
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
                rows.append(parse_event(router, element, self._secret_key, self.footfall))
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
            if any(r.sightings or r.os_family for r in rows):
                async with self._db.acquire() as conn, conn.transaction():
                    stored = await self._insert(conn, [r for r in rows if r.stored])
                    await self._footfall_apart(conn, rows)
            else:  # heartbeats only: one statement
                stored = await self._insert(self._db, rows)
        except Exception as exc:  # every waiting handler gets it; the consumer redelivers
            batch.written.set_exception(exc)
            batch.written.exception()  # retrieved: handlers that were cancelled do not warn
            return
        self.stored += stored
        batch.written.set_result(None)

    async def _footfall_apart(self, conn: asyncpg.Connection, rows: list[Row]) -> None:
        """`_footfall` in a savepoint: its failure (a bug, a store deleted meanwhile) is logged
        and counted, and loses the batch's footfall only, not its telemetry."""
        try:
            async with conn.transaction():
                await self._footfall(conn, rows)
        except (asyncpg.PostgresError, LookupError) as exc:
            if isinstance(exc, asyncpg.PostgresConnectionError):
                raise
            self.footfall_failed += 1
            log.exception("could not record the footfall of a telemetry batch")

    async def _insert(self, conn: asyncpg.Connection | asyncpg.Pool, rows: list[Row]) -> int:
        if not rows:
            return 0
        stored = await conn.fetchval(
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
        return int(stored)

    async def _footfall(self, conn: asyncpg.Connection, rows: list[Row]) -> None:
        """The batch's sightings, per store, and OS families, through analytics."""
        by_store: dict[tuple[Any, Any], list[Sighting]] = {}
        devices = []
        for row in rows:
            if row.sightings:
                by_store.setdefault((row.merchant_id, row.store_id), []).extend(row.sightings)
            if row.os_family is not None:
                devices.append(
                    fingerprints.DeviceOs(
                        row.merchant_id, row.device_hash or "", row.os_family, row.occurred_at
                    )
                )
        for (merchant_id, store_id), sightings in by_store.items():
            await self.footfall.record(conn, merchant_id, store_id, sightings)
        if devices:
            await fingerprints.record_device_os(conn, devices)


# How far before the moment the broker was lost a resend reaches back: events a router sent
# just before may still have been on their way to the controllers.
RESEND_MARGIN = 10  # seconds
RESEND_CONCURRENCY = 200  # tele_resend commands in flight at once
RESEND_TRIES = 3  # a resend is harmless twice (events are stored once): try again on no ack
SENDER_WAIT = 30.0  # seconds for the command sender's own connection to come back
RECONNECT_WAIT = 60.0  # seconds a router heard from since the loss has to come back online
RECONNECT_POLL = 1.0  # seconds between looks for those routers


async def request_resend(
    sender: CommandSender,
    db: asyncpg.Pool,
    lost_at: float,
    *,
    timeout: float = 10.0,
    tries: int = RESEND_TRIES,
    reconnect_wait: float = RECONNECT_WAIT,
) -> dict[str, int]:
    """After a controller lost the broker at `lost_at` and subscribed again: ask every
    agent to publish again the telemetry it sent since then (op `tele_resend`).

    A Mosquitto that restarted keeps persistent sessions but not their shared subscriptions:
    until the controllers subscribe again it drops what routers send (they got their PUBACK,
    so their spools let it go). The agents keep what they sent for a while (tele.spool.sent);
    what comes twice is stored once. Returns the acks' statuses counted (`offline`: a router
    that did not come back within `reconnect_wait`).

    Asked: the routers online now, and those heard from since the loss that are offline now,
    once they come back (a broker going down sends its clients' Last Wills: a router may be
    back a moment after this starts; asking only the online ones lost its events).
    The command sender lost the broker too and reconnects on its own back-off: wait for it
    first (a send while it is away fails at once, and the events would be lost)."""
    since = int(lost_at) - RESEND_MARGIN
    try:
        await sender.wait_connected(SENDER_WAIT)
    except TimeoutError:
        log.error("no resend of telemetry since %d: the command sender is not connected", since)
        return {"no_sender": 1}
    rows = await db.fetch(queries.agent_routers_to_resend, since)
    slots = asyncio.Semaphore(RESEND_CONCURRENCY)
    outcomes: dict[str, int] = {}

    async def ask(ref: RouterRef) -> None:
        async with slots:
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

    online = [RouterRef(r["merchant_id"], r["router_id"]) for r in rows if r["online"]]
    away = {RouterRef(r["merchant_id"], r["router_id"]) for r in rows if not r["online"]}
    asking = [asyncio.create_task(ask(ref)) for ref in online]
    deadline = asyncio.get_running_loop().time() + reconnect_wait
    while away and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(RECONNECT_POLL)
        back = await routers_online_among(db, away)
        away -= back
        asking += [asyncio.create_task(ask(ref)) for ref in back]
    if away:
        outcomes["offline"] = len(away)
    await asyncio.gather(*asking)
    log.info("asked %d routers for their telemetry since %d again: %s", len(rows), since, outcomes)
    return outcomes


async def routers_online_among(db: asyncpg.Pool, routers: set[RouterRef]) -> set[RouterRef]:
    """Which of these routers are connected now."""
    pairs = list(routers)
    found = await db.fetch(
        queries.routers_online_among,
        [ref.merchant_id for ref in pairs],
        [ref.router_id for ref in pairs],
    )
    return {RouterRef(r["merchant_id"], r["router_id"]) for r in found}
