"""Shoppers' phones heard by simulated routers, live: `probes` and `station` telemetry.

A router that summarises its monitor-mode capture sends compact `probes` events on
`ap/v1/<router>/tele` (docs/mqtt-contract.md), and its agent reports WiFi stations joining and
leaving (`station`, from hostapd's `get_clients`: the agent's tele_stations). `PresenceFeed`
plays a store's people (simulators.shoppers) in real time through each of its routers: it
collects what each zone heard for a few seconds (at most 64 observations an event, as the
contract allows) and publishes it with the router's own broker account, numbering events in
the router's agent sequence (simulators.agent.AgentModel.tele), as mosquitto_pub does for the
shell agent's spool (flush_tele, send_tele). The rate is bounded per router.

A shopper the model logs in on the portal is, from the login to the station's leave, a client
openNDS holds: the agent reports it at every heartbeat (`usage`, its tele_usage over `ndsctl
json`; HEARTBEAT, 60 s by default), so the controller sees it present each minute, not only
at its join and leave (`logged_in_usage`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiomqtt

from controller import topics
from kernel.mqtt import NO_DELAY, parse_mqtt_url
from simulators import probes, shoppers
from simulators.agent import AgentModel, tele_batches

log = logging.getLogger("portico.simulator.presence")

FLUSH_SECONDS = 5.0  # how long a router collects observations before it sends them
MAX_OBS = 64  # observations per `probes` event (the contract's limit)
MAX_PER_SECOND = 200  # observations a router sends a second at most; more are dropped
CHUNK_SECONDS = 300.0  # how far ahead the model is run at a time
STATION_IF = "phy0-ap0"
HEARTBEAT = 60.0  # the agent's default HEARTBEAT (firmware: uci portico.heartbeat)
LONGEST_VISIT = 4.5 * 3600  # the model's longest shopper visit and more: a login still online


def probe_obs(frame: probes.ProbeFrame, ts: int) -> list[Any]:
    """One observation of a `probes` event: [mac, dt, rssi, seq, fp], dt whole seconds after
    `ts` (the controller takes integers: observations are kept per second)."""
    dt = int(frame.ts) - ts
    return [frame.src, dt, frame.rssi, frame.seq, probes.fp_hex(frame.fingerprint)]


@dataclass
class RouterLink:
    """One router the feed speaks for: its broker login and its agent (for event ids)."""

    router_id: str
    password: str
    agent: AgentModel


@dataclass(frozen=True)
class Usage:
    """One `usage` report of a logged-in client (the agent's tele_usage at a heartbeat)."""

    ts: float
    zone: str
    mac: str
    session_start: int


def logged_in_usage(
    profile: shoppers.StoreProfile, start: float, end: float, seed: int, every: float = HEARTBEAT
) -> list[Usage]:
    """The `usage` reports in [start, end) of the model's logged-in clients: at each heartbeat
    (multiples of `every`) from their login to their station's leave. Logins up to
    LONGEST_VISIT before `start` count (a client online when the range begins)."""
    _frames, truth = shoppers.simulate(profile, start - LONGEST_VISIT, end + LONGEST_VISIT, seed)
    leaves: dict[tuple[str, str], list[float]] = {}
    for e in truth.stations:
        if e.event == "leave":
            leaves.setdefault((e.zone, e.mac), []).append(e.ts)
    reports = []
    for login in truth.logins:
        left = next((t for t in leaves.get((login.zone, login.mac), []) if t > login.ts), None)
        if left is None or left <= start or login.ts >= end:
            continue
        tick = max(start, login.ts) // every * every
        while tick < min(left, end):
            if tick >= start and tick > login.ts:
                reports.append(Usage(tick, login.zone, login.mac, int(login.ts)))
            tick += every
    reports.sort(key=lambda u: u.ts)
    return reports


@dataclass
class _Pending:
    ts: int = 0
    obs: list[list[Any]] = field(default_factory=list)
    opened: float = 0.0


@dataclass
class FeedStats:
    probes_sent: int = 0
    stations_sent: int = 0
    usage_sent: int = 0  # logged-in clients' heartbeat reports
    dropped: int = 0


class PresenceFeed:
    """Plays `profile` (its zones are router ids) through `links` until stopped."""

    def __init__(
        self,
        profile: shoppers.StoreProfile,
        links: list[RouterLink],
        *,
        mqtt_url: str,
        seed: int,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        known = {link.router_id for link in links}
        if not known or not known <= set(profile.zones):
            raise ValueError("each router must be one of the profile's zones")
        self.profile = profile
        self.links = {link.router_id: link for link in links}
        self.mqtt_url = mqtt_url
        self.seed = seed
        self.clock = clock
        self.sleep = sleep
        self.stats = FeedStats()
        self._task: asyncio.Task[None] | None = None
        self._clients: dict[str, aiomqtt.Client] = {}
        self._pending: dict[str, _Pending] = {zone: _Pending() for zone in self.links}
        self._second: dict[str, tuple[int, int]] = {}

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"presence-{self.profile.name}")
        self._task.add_done_callback(_log_failure)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    @contextlib.asynccontextmanager
    async def connected(self) -> AsyncIterator[None]:
        """Each router's own connection to the broker (as its mosquitto_pub would make)."""
        address = parse_mqtt_url(self.mqtt_url)
        async with contextlib.AsyncExitStack() as stack:
            for link in self.links.values():
                client = aiomqtt.Client(
                    address.host,
                    address.port,
                    username=link.router_id,
                    password=link.password,
                    identifier=f"{link.router_id}-presence",
                    protocol=aiomqtt.ProtocolVersion.V311,
                    socket_options=NO_DELAY,
                )
                self._clients[link.router_id] = await stack.enter_async_context(client)
            try:
                yield
            finally:
                self._clients.clear()

    async def _run(self) -> None:
        async with self.connected():
            log.info("presence of %s: %d routers", self.profile.name, len(self.links))
            start = self.clock()
            while True:
                end = start + CHUNK_SECONDS
                await self.play(start, end)
                start = end

    async def play(self, start: float, end: float) -> None:
        """Send what the routers heard in [start, end), each item when its time comes."""
        frames, truth = shoppers.simulate(self.profile, start, end, self.seed)
        stations = [e for e in truth.stations if e.zone in self.links]
        items: list[tuple[float, int, Any]] = [(e.ts, 0, e) for e in stations]
        items += [(f.ts, 1, f) for f in frames if f.zone in self.links]
        # The model over a few hours around the range: plain CPU work, in a thread.
        usage = await asyncio.to_thread(logged_in_usage, self.profile, start, end, self.seed)
        items += [(u.ts, 2, u) for u in usage if u.zone in self.links]
        items.sort(key=lambda item: (item[0], item[1]))
        for ts, _, item in items:
            wait = ts - self.clock()
            if wait > 0:
                await self._flush_due(ts)
                await self.sleep(wait)
            if isinstance(item, shoppers.StationEvent):
                await self._station(item)
            elif isinstance(item, Usage):
                await self._usage(item)
            else:
                await self._probe(item)
        await self._flush_due(end, force=True)

    async def _probe(self, frame: probes.ProbeFrame) -> None:
        second = int(frame.ts)
        last_second, count = self._second.get(frame.zone, (second, 0))
        count = count + 1 if last_second == second else 1
        self._second[frame.zone] = (second, count)
        if count > MAX_PER_SECOND:
            self.stats.dropped += 1
            return
        pending = self._pending[frame.zone]
        if not pending.obs:
            pending.ts, pending.opened = second, frame.ts
        pending.obs.append(probe_obs(frame, pending.ts))
        if len(pending.obs) >= MAX_OBS:
            await self._flush(frame.zone)

    async def _flush_due(self, now: float, force: bool = False) -> None:
        for zone, pending in self._pending.items():
            if pending.obs and (force or now - pending.opened >= FLUSH_SECONDS):
                await self._flush(zone)

    async def _flush(self, zone: str) -> None:
        pending = self._pending[zone]
        obs, pending.obs = pending.obs, []
        # ts: the second of the first observation (dt counts from it, 0 … 300); a `ts` given
        # to AgentModel.tele replaces its clock's
        event = self.links[zone].agent.tele("probes", ts=pending.ts, obs=obs)
        await self._publish(zone, event)
        self.stats.probes_sent += len(obs)

    async def _station(self, event: shoppers.StationEvent) -> None:
        payload = self.links[event.zone].agent.tele(
            "station",
            ts=int(event.ts),
            event=event.event,
            mac=event.mac,
            rssi=event.rssi,
            **{"if": STATION_IF},
        )
        await self._publish(event.zone, payload)
        self.stats.stations_sent += 1

    async def _usage(self, report: Usage) -> None:
        """tele_usage of one client openNDS holds (as the agent sends it at a heartbeat)."""
        minutes = max(0, int(report.ts) - report.session_start) // 60
        payload = self.links[report.zone].agent.tele(
            "usage",
            ts=int(report.ts),
            mac=report.mac,
            state="Authenticated",
            down_kb=minutes * 900,  # a shopper browsing: ~15 kB/s down, ~2 up
            up_kb=minutes * 120,
            session_start=report.session_start,
            last_active=int(report.ts) - 5,
        )
        await self._publish(report.zone, payload)
        self.stats.usage_sent += 1

    async def _publish(self, zone: str, event: bytes) -> None:
        client = self._clients.get(zone)
        if client is None:
            return
        for batch in tele_batches([event]):
            try:
                await client.publish(topics.topic(zone, "tele"), batch, qos=1)
            except aiomqtt.MqttError as exc:  # the broker is away: this event is lost
                self.stats.dropped += 1
                log.warning("presence of %s: not sent: %s", zone, exc)


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("the presence feed stopped", exc_info=task.exception())
