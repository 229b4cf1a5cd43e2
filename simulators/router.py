"""A simulated router: openNDS (simulators.opennds) and our agent (simulators.agent) at once.

It holds openNDS's client table, answers commands on `ap/v1/<id>/cmd` with acks as the shell
agent does, publishes a retained status with a Last Will, and serves the gateway URLs a phone
sees: any URL (a new phone is sent to the portal with an openNDS `fas=` redirect) and
`/opennds_auth/` (openNDS's own check). Used by `portico demo`, the benchmarks and tests; the
real agent's tests run the shell script.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import json
import logging
import random
import secrets
import time
from collections.abc import Coroutine
from typing import Any

import aiomqtt
from aiohttp import web

from controller import topics
from kernel.mqtt import NO_DELAY, parse_mqtt_url
from portal.fas import rhid, sha256_hex
from simulators.agent import AGENT, CAPS, AgentModel, tele_batches
from simulators.authmon import AuthmonModel
from simulators.opennds import Gateway, OpenNds, SimClient

__all__ = ["SimClient", "SimulatedRouter"]

log = logging.getLogger("portico.simulator")


PHONE_COOKIE = "sim_phone"  # the demo's stand-in for a phone's MAC address
INTERNET_PAGE = (
    "<!doctype html><meta charset=utf-8><title>Online (simulated)</title>"
    "<p>This simulated router let your phone through. On a real network this would be"
    " <b>{url}</b>; the demo has no internet behind its routers."
)


class SimulatedRouter:
    def __init__(
        self,
        router_id: str,
        *,
        mqtt_url: str,
        password: str,
        faskey: str,
        portal_url: str,
        gateway_mac: str,
        gateway_name: str = "Portico Demo",
        gateway_host: str = "127.0.0.1",
        gateway_port: int = 0,
        refusal_rate: float = 0.0,
        refusal_run: float | None = None,
        rng: random.Random | None = None,
        retry_pauses: tuple[float, float] = (0.1, 0.25),
        fas_level: int = 1,
        with_agent: bool = True,
        authmon_interval: float = 5.0,
        authmon_start_delay: float = 5.0,
        heartbeat: float | None = None,
    ) -> None:
        """`fas_level`: openNDS's fas_secure_enabled (1-3). `with_agent=False` (level 3 only):
        no agent on MQTT; openNDS's authmon polls the portal instead (simulators.authmon).
        `heartbeat`: seconds between the agent's telemetry (its HEARTBEAT); None: only when
        `publish_telemetry()` is called."""
        if fas_level not in (1, 2, 3):
            raise ValueError("fas_level must be 1, 2 or 3")
        if not with_agent and fas_level != 3:
            raise ValueError("a router without the agent needs FAS level 3 (authmon)")
        self.fas_level = fas_level
        self.with_agent = with_agent
        self.router_id = router_id
        self.portal_url = portal_url.rstrip("/")
        self.gateway_mac = gateway_mac
        self.gateway_name = gateway_name
        self.gateway_host = gateway_host
        self.gateway_port = gateway_port
        self.nds = OpenNds(
            refusal_rate=refusal_rate, refusal_run=refusal_run, rng=rng, faskey=faskey
        )
        self.agent = AgentModel(self.nds, pauses=retry_pauses)
        self.acks: list[dict[str, Any]] = []
        self._mqtt_url = mqtt_url
        self._password = password
        self._runner: web.AppRunner | None = None
        self._task: asyncio.Task[None] | None = None
        self._client: aiomqtt.Client | None = None
        self._stop = asyncio.Event()
        self._jobs: set[asyncio.Task[None]] = set()
        self.ready = asyncio.Event()
        self.heartbeat = heartbeat
        self.nds_poll = 1.0  # check_nds: seconds between ndsctl_answers while waiting
        self.nds_ready_wait = 90.0  # NDS_READY_WAIT
        self.authmon = AuthmonModel(
            self.nds,
            url=f"{self.portal_url}/fas/{router_id}/",
            gateway_hash=self.gateway.gateway_hash,
            interval=authmon_interval,
            start_delay=authmon_start_delay,
        )

    # -- openNDS side -------------------------------------------------------------------------

    @property
    def clients(self) -> dict[str, SimClient]:
        return self.nds.clients

    @property
    def gateway_address(self) -> str:
        return f"{self.gateway_host}:{self.gateway_port}"

    @property
    def gateway(self) -> Gateway:
        return Gateway(
            nds=self.nds,
            fas_url=f"{self.portal_url}/fas/{self.router_id}/",
            faskey=self.nds.faskey,  # openNDS's own: a desired document may rotate it
            gateway_name=self.gateway_name,
            gateway_mac=self.gateway_mac,
            gateway_address=self.gateway_address,
            fas_level=self.fas_level,
        )

    def add_client(self, mac: str, ip: str) -> SimClient:
        return self.nds.add_client(mac, ip)

    def new_visitor(self) -> SimClient:
        """A phone joining the WiFi: random (locally administered) MAC, next free IP."""
        mac = "da:" + ":".join(f"{b:02x}" for b in secrets.token_bytes(5))
        n = len(self.clients)
        return self.add_client(mac, f"10.{n // 250 % 250}.0.{n % 250 + 2}")

    def fas_fields(self, client: SimClient, origin_url: str = "") -> dict[str, str]:
        return self.gateway.fas_fields(client, origin_url)

    def redirect_url(self, client: SimClient, origin_url: str = "") -> str:
        """Where openNDS sends this captive client: the portal with `fas=` (not %-encoded)."""
        return self.gateway.splash_redirect(client, origin_url)

    def restart_nds(
        self, ready_after: float = 0.0, self_restore_after: float | None = None
    ) -> None:
        """openNDS restarts: its grants are gone and ndsctl answers only after `ready_after`
        seconds. The agent then reports `nds_restarted` (check_nds). With `self_restore_after`,
        openNDS's own auth_restore re-grants its authlog's clients that many seconds after the
        restart (15-30 s on a real openNDS), with its global rates and quotas."""
        self.nds.restart(ready_after)
        if self._client is None or self._stop.is_set():
            return
        self._background(self._check_nds(), "check-nds")
        if self_restore_after is not None:
            self._background(self._auth_restore(self_restore_after), "auth-restore")

    def _background(self, job: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.get_running_loop().create_task(job, name=f"sim-{name}-{self.router_id}")
        self._jobs.add(task)
        task.add_done_callback(self._jobs.discard)
        task.add_done_callback(_log_failure)

    async def _check_nds(self) -> None:
        """check_nds in portico-agent: after openNDS's pid changed, ask ndsctl every second
        (ndsctl_answers) and report nds_restarted once it answers, or after NDS_READY_WAIT."""
        since = time.monotonic()
        while True:
            if self.nds.ndsctl_ready() or time.monotonic() - since >= self.nds_ready_wait:
                break
            await asyncio.sleep(self.nds_poll)
        fields = {
            "type": "nds_restarted",
            "ts": int(time.time()),
            "ndsctl": "ready" if self.nds.ndsctl_ready() else "not_ready",
            "waited_s": int(time.monotonic() - since),
        }
        client = self._client
        if client is not None:
            await client.publish(topics.topic(self.router_id, "evt"), topics.encode(fields), qos=1)

    async def _auth_restore(self, delay: float) -> None:
        await asyncio.sleep(delay)
        self.nds.auth_restore()

    # -- agent side ---------------------------------------------------------------------------

    async def handle_command(self, payload: bytes) -> dict[str, Any]:
        """What the agent does with one `cmd` payload; returns the ack to publish."""
        return await self.agent.handle_command(payload)

    # -- running ------------------------------------------------------------------------------

    async def start(self, *, http: bool = True) -> None:
        """Connect the agent (or start authmon); with `http`, also serve the gateway's URLs."""
        if http:
            await self._start_gateway()
        if not self.with_agent:
            # openNDS at level 3 starts authmon (main.c); nothing speaks MQTT.
            self._task = asyncio.create_task(
                self.authmon.run(self._stop), name=f"sim-authmon-{self.router_id}"
            )
            self.ready.set()
            return
        self._task = asyncio.create_task(self._run_mqtt(), name=f"sim-{self.router_id}")
        await asyncio.wait_for(self.ready.wait(), timeout=10)
        if self.heartbeat is not None:
            job = asyncio.create_task(self._heartbeats(self.heartbeat), name="sim-heartbeat")
            self._jobs.add(job)
            job.add_done_callback(self._jobs.discard)

    async def _heartbeats(self, every: float) -> None:
        """The agent's main loop sends telemetry every HEARTBEAT (tele_usage, tele_heartbeat,
        flush_tele); the first right after it started. Like the main loop, a beat waits while
        a grant is tried (granting), for 30 s at most, checking every second (its tick)."""
        while True:
            due = time.monotonic()
            while self.agent.granting() and time.monotonic() - due < 30:  # noqa: ASYNC110 (polled, as the shell agent does)
                await asyncio.sleep(1)
            try:
                await self.publish_telemetry()
            except aiomqtt.MqttError as exc:  # the broker is away: the next beat tries again
                log.warning("simulated router %s sent no telemetry: %s", self.router_id, exc)
            await asyncio.sleep(every)

    async def stop(self) -> None:
        self._stop.set()
        if self._client is not None:
            # shutdown() in portico-agent: a stopped router says it is offline (a clean
            # DISCONNECT sends no Last Will).
            with contextlib.suppress(aiomqtt.MqttError, TimeoutError):
                async with asyncio.timeout(2):
                    await self._client.publish(
                        topics.topic(self.router_id, "status"),
                        topics.encode({"online": False}),
                        qos=1,
                        retain=True,
                    )
        for job in [*self._jobs, *([self._task] if self._task else [])]:
            job.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await job
        if self._runner:
            await self._runner.cleanup()

    async def _run_mqtt(self) -> None:
        address = parse_mqtt_url(self._mqtt_url)
        status_topic = topics.topic(self.router_id, "status")
        will = aiomqtt.Will(status_topic, topics.encode({"online": False}), qos=1, retain=True)
        while True:
            try:
                async with aiomqtt.Client(
                    address.host,
                    address.port,
                    username=self.router_id,
                    password=self._password,
                    identifier=f"{self.router_id}-cmd",
                    protocol=aiomqtt.ProtocolVersion.V311,
                    will=will,
                    socket_options=NO_DELAY,
                ) as client:
                    self._client = client
                    await client.subscribe(topics.topic(self.router_id, "cmd"), qos=1)
                    await client.subscribe(topics.topic(self.router_id, "desired"), qos=1)
                    await client.publish(status_topic, self._status(), qos=1, retain=True)
                    await client.publish(
                        topics.topic(self.router_id, "evt"),
                        topics.encode({"type": "agent_started", "ts": int(time.time())}),
                        qos=1,
                    )
                    self.ready.set()
                    # mosquitto_sub writes each command with its receive time into the FIFO;
                    # the shell agent reads them one at a time (read_commands).
                    inbox: asyncio.Queue[tuple[float, str, bytes]] = asyncio.Queue()
                    reader = asyncio.create_task(self._read_commands(client, inbox))
                    # A lost link ends the loop below too; anything else must not pass unseen.
                    reader.add_done_callback(_log_failure)
                    try:
                        async for message in client.messages:
                            inbox.put_nowait(
                                (time.monotonic(), str(message.topic), bytes(message.payload))  # type: ignore[arg-type]
                            )
                    finally:
                        reader.cancel()
            except aiomqtt.MqttError as exc:
                self._client = None
                if self.ready.is_set():
                    log.warning("simulated router %s lost the broker: %s", self.router_id, exc)
                else:  # e.g. a new router's account, written a moment ago, not yet reloaded
                    log.info(
                        "simulated router %s not in at the broker yet (%s); trying again",
                        self.router_id,
                        exc,
                    )
                await asyncio.sleep(1)

    async def _read_commands(
        self, client: aiomqtt.Client, inbox: asyncio.Queue[tuple[float, str, bytes]]
    ) -> None:
        while True:
            arrived, topic_name, payload = await inbox.get()
            if topic_name.endswith("/desired"):  # handle_desired
                self.agent.handle_desired(payload)
                await self._publish_states(client)
                continue
            ack = await self.agent.handle_command(payload, time.monotonic() - arrived)
            await self._publish_states(client)  # apply-config reports before it acks
            self.acks.append(ack)
            del self.acks[:-1000]
            await client.publish(topics.topic(self.router_id, "ack"), json.dumps(ack), qos=1)
            resend, self.agent.resend = self.agent.resend, []
            for batch in resend:  # op_tele_resend
                await client.publish(topics.topic(self.router_id, "tele"), batch, qos=1)

    async def _publish_states(self, client: aiomqtt.Client) -> None:
        """report_state: each state the agent queued, retained."""
        states, self.agent.states = self.agent.states, []
        for state in states:
            topic_name = topics.topic(self.router_id, "state")
            await client.publish(topic_name, json.dumps(state), qos=1, retain=True)

    async def publish_telemetry(self) -> int:
        """One heartbeat (portico-agent's heartbeat(): publish_online, the retained status the
        controller counts as the router heard from, then tele_usage, tele_heartbeat and
        flush_tele); how many telemetry events."""
        client = self._client
        if client is None:
            return 0
        await client.publish(
            topics.topic(self.router_id, "status"), self._status(), qos=1, retain=True
        )
        events = self.agent.spool_heartbeat("portico-simulator/1.0", "simulated")
        await self.publish_events(events)
        return len(events)

    async def publish_events(self, events: list[bytes]) -> None:
        """Telemetry events as the agent flushes them (flush_tele, send_tele): tests also send
        events no real agent would, as a hostile or broken router could."""
        client = self._client
        if client is None:
            return
        for batch in tele_batches(events):
            await client.publish(topics.topic(self.router_id, "tele"), batch, qos=1)

    def _status(self) -> bytes:
        return topics.encode(
            {
                "online": True,
                "agent": AGENT,
                "fw": "simulated",
                "boot_id": self.agent.boot_id,
                "caps": CAPS,
                "ts": int(time.time()),
            }
        )

    async def _start_gateway(self) -> None:
        app = web.Application()
        app.router.add_get("/opennds_auth/", self._opennds_auth)
        app.router.add_get("/{tail:.*}", self._captive)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.gateway_host, self.gateway_port)
        await site.start()
        server = site._server
        assert server is not None and server.sockets  # type: ignore[attr-defined]
        self.gateway_port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]

    async def _captive(self, request: web.Request) -> web.Response:
        """A phone's web request. openNDS knows a phone by its MAC; every browser here comes
        from 127.0.0.1, so a cookie stands in for it. A phone it has let through reaches "the
        internet" (the demo has none: a page that says so); any other phone is sent to the
        portal with a 307 carrying the URL it asked for (originurl)."""
        client = self.clients.get(request.cookies.get(PHONE_COOKIE, ""))
        if client is not None and client.authenticated:
            return web.Response(
                text=INTERNET_PAGE.format(url=html.escape(str(request.url))),
                content_type="text/html",
            )
        client = client or self.new_visitor()
        answer = web.HTTPTemporaryRedirect(self.redirect_url(client, str(request.url)))
        answer.set_cookie(PHONE_COOKIE, client.mac, httponly=True, samesite="Lax")
        raise answer

    async def _opennds_auth(self, request: web.Request) -> web.Response:
        # openNDS knows the client by its IP; every browser here comes from 127.0.0.1, so the
        # simulator finds it by the tok instead, and a tok of nobody's is a new phone.
        tok = request.query.get("tok", "")
        client = (
            next(
                (
                    c
                    for c in self.clients.values()
                    if rhid(sha256_hex(c.token), self.nds.faskey) == tok
                ),
                None,
            )
            or self.new_visitor()
        )
        answer = self.gateway.opennds_auth(client, request.query_string)
        if answer.status == 403:
            raise web.HTTPForbidden()
        if answer.status == 503:  # send_error(connection, 503)
            raise web.HTTPServiceUnavailable(
                text="<h1>Error 503 - Service Unavailable. This may be a temporary condition.</h1>",
                content_type="text/html",
            )
        raise web.HTTPTemporaryRedirect(answer.location)


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:  # an MqttError included
        log.error("simulated agent stopped handling commands", exc_info=task.exception())
