"""A simulated router fleet that speaks exactly the agent's MQTT contract.

Each `SimulatedRouter` plays openNDS and our agent at once: it keeps a table of clients with
their openNDS tokens, answers commands on `ap/v1/<id>/cmd` with acks (same checks as the shell
agent: version, id, expiry, duplicates, hid against the client's token), publishes a retained
status with a Last Will, and serves the two gateway URLs a phone sees:
`/` (a captive client is sent to the portal with an openNDS-style `fas=` redirect) and
`/opennds_auth/` (openNDS's own rhid check, then on to the landing page).
Used by `portico demo` and by the benchmarks; tests of the real agent use the shell script.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import aiomqtt
from aiohttp import web

from controller import topics
from kernel.mqtt import NO_DELAY, parse_mqtt_url
from portal.fas import encode_fas, rhid, safe_origin_url, sha256_hex

log = logging.getLogger("portico.simulator")

_MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")
_HID = re.compile(r"^[0-9a-f]{64}$")
_CUSTOM = re.compile(r"^[A-Za-z0-9_=-]{0,64}$")
_LIMIT_KEYS = ("minutes", "up_kbps", "down_kbps", "up_quota_kb", "down_quota_kb")


@dataclass
class SimClient:
    mac: str
    ip: str
    token: str
    authenticated: bool = False
    grant: dict[str, int] = field(default_factory=dict)


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
    ) -> None:
        self.router_id = router_id
        self.faskey = faskey
        self.portal_url = portal_url.rstrip("/")
        self.gateway_mac = gateway_mac
        self.gateway_name = gateway_name
        self.gateway_host = gateway_host
        self.gateway_port = gateway_port
        self.clients: dict[str, SimClient] = {}
        self.acks: list[dict[str, Any]] = []
        self._mqtt_url = mqtt_url
        self._password = password
        self._handled: OrderedDict[str, str] = OrderedDict()  # last 256 command ids -> status
        self._runner: web.AppRunner | None = None
        self._task: asyncio.Task[None] | None = None
        self.ready = asyncio.Event()

    # -- openNDS side -------------------------------------------------------------------------

    def add_client(self, mac: str, ip: str) -> SimClient:
        client = SimClient(mac=mac, ip=ip, token=secrets.token_hex(4))
        self.clients[mac] = client
        return client

    def new_visitor(self) -> SimClient:
        """A phone joining the WiFi: random (locally administered) MAC, next free IP."""
        mac = "da:" + ":".join(f"{b:02x}" for b in secrets.token_bytes(5))
        return self.add_client(
            mac, f"10.{len(self.clients) // 250 % 250}.0.{len(self.clients) % 250 + 2}"
        )

    @property
    def gateway_address(self) -> str:
        return f"{self.gateway_host}:{self.gateway_port}"

    def fas_fields(self, client: SimClient, origin_url: str = "") -> dict[str, str]:
        return {
            "hid": sha256_hex(client.token),
            "clientip": client.ip,
            "clientmac": client.mac,
            "client_type": "cpd_can",
            "cpi_query": "(null)",
            "gatewayname": quote(f"{self.gateway_name} Node:{self.gateway_mac.replace(':', '')} "),
            "gatewayurl": quote(f"http://{self.gateway_address}", safe=""),
            "version": "11.0.0",
            "gatewayaddress": self.gateway_address,
            "gatewaymac": self.gateway_mac.replace(":", ""),
            "originurl": quote(origin_url, safe=""),
            "clientif": "br-lan",
            "themespec": "(null)",
        }

    def redirect_url(self, client: SimClient, origin_url: str = "") -> str:
        """Where openNDS would send this captive client: the portal with `fas=` (not %-encoded)."""
        fas = encode_fas(self.fas_fields(client, origin_url))
        return f"{self.portal_url}/fas/{self.router_id}/?fas={fas}"

    # -- agent side ---------------------------------------------------------------------------

    def handle_command(self, payload: bytes) -> dict[str, Any]:
        """What the agent does with one `cmd` payload; returns the ack to publish."""
        try:
            data = topics.decode(payload)
        except topics.BadMessage:
            return _ack("", "rejected", "malformed")
        command_id = data.get("id")
        if not isinstance(command_id, str) or not topics.COMMAND_ID.match(command_id):
            return _ack("", "rejected", "malformed")
        if command_id in self._handled:
            return _ack(command_id, "duplicate", self._handled[command_id])
        ack = self._execute(command_id, data)
        self._handled[command_id] = ack["status"]
        if len(self._handled) > 256:
            self._handled.popitem(last=False)
        return ack

    def _execute(self, command_id: str, data: dict[str, Any]) -> dict[str, Any]:
        exp = data.get("exp")
        if not isinstance(exp, int) or isinstance(exp, bool):
            return _ack(command_id, "rejected", "bad_args")
        if exp < time.time():
            return _ack(command_id, "expired", "expired")
        op, args = data.get("op"), data.get("args")
        if not isinstance(args, dict):
            return _ack(command_id, "rejected", "bad_args")
        if op == "ping":
            return _ack(command_id, "done", "ok")
        if op == "auth":
            return self._auth(command_id, args)
        if op == "restore":
            return self._restore(command_id, args)
        if op == "deauth":
            return self._deauth(command_id, args)
        return _ack(command_id, "rejected", "unknown_op")

    def _auth(self, command_id: str, args: dict[str, Any]) -> dict[str, Any]:
        mac, hid, custom = args.get("mac"), args.get("hid"), args.get("custom", "")
        limits = {k: args.get(k, 0) for k in _LIMIT_KEYS}
        if not isinstance(hid, str) or not _HID.match(hid) or not _valid_grant(mac, custom, limits):
            return _ack(command_id, "rejected", "bad_args")
        client = self.clients.get(mac)  # type: ignore[arg-type]
        if client is None:
            return _ack(command_id, "rejected", "no_client")
        if sha256_hex(client.token) != hid:
            return _ack(command_id, "rejected", "hid_mismatch")
        client.authenticated, client.grant = True, limits
        return _ack(command_id, "done", "ok")

    def _restore(self, command_id: str, args: dict[str, Any]) -> dict[str, Any]:
        mac, custom = args.get("mac"), args.get("custom", "")
        limits = {k: args.get(k, 0) for k in _LIMIT_KEYS}
        if not _valid_grant(mac, custom, limits):
            return _ack(command_id, "rejected", "bad_args")
        client = self.clients.get(mac)  # type: ignore[arg-type]
        if client is None:
            return _ack(command_id, "error", "ndsctl_failed")  # openNDS answers "No"
        client.authenticated, client.grant = True, limits
        return _ack(command_id, "done", "ok")

    def restart_nds(self) -> None:
        """openNDS restarted: every grant is gone and every client has a new token."""
        for client in self.clients.values():
            client.authenticated, client.grant = False, {}
            client.token = secrets.token_hex(4)

    def _deauth(self, command_id: str, args: dict[str, Any]) -> dict[str, Any]:
        mac = args.get("mac")
        if not isinstance(mac, str) or not _MAC.match(mac):
            return _ack(command_id, "rejected", "bad_args")
        client = self.clients.get(mac)
        if client is not None:
            client.authenticated = False
        return _ack(command_id, "done", "ok")

    # -- running ------------------------------------------------------------------------------

    async def start(self) -> None:
        await self._start_gateway()
        self._task = asyncio.create_task(self._run_mqtt(), name=f"sim-{self.router_id}")
        await asyncio.wait_for(self.ready.wait(), timeout=10)

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
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
                    await client.subscribe(topics.topic(self.router_id, "cmd"), qos=1)
                    await client.publish(status_topic, self._status(), qos=1, retain=True)
                    await client.publish(
                        topics.topic(self.router_id, "evt"),
                        topics.encode({"type": "agent_started", "ts": int(time.time())}),
                        qos=1,
                    )
                    self.ready.set()
                    async for message in client.messages:
                        ack = self.handle_command(bytes(message.payload))  # type: ignore[arg-type]
                        self.acks.append(ack)
                        del self.acks[:-1000]
                        await client.publish(
                            topics.topic(self.router_id, "ack"), json.dumps(ack), qos=1
                        )
            except aiomqtt.MqttError as exc:
                log.warning("simulated router %s lost the broker: %s", self.router_id, exc)
                await asyncio.sleep(1)

    def _status(self) -> bytes:
        return topics.encode(
            {
                "online": True,
                "agent": "portico-simulator/1.0",
                "fw": "simulated",
                "boot_id": secrets.token_hex(8),
                "caps": ["auth", "restore", "deauth", "ping"],
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
        """A new phone's first web request: openNDS answers 307 to the portal."""
        client = self.new_visitor()
        # Real openNDS passes the URL the phone asked for; the demo has no internet behind it,
        # so the shopper lands on the portal's "you're online" page instead.
        origin = f"{self.portal_url}/online"
        raise web.HTTPTemporaryRedirect(self.redirect_url(client, origin))

    async def _opennds_auth(self, request: web.Request) -> web.Response:
        tok, redir = request.query.get("tok", ""), request.query.get("redir", "")
        for client in self.clients.values():
            if rhid(sha256_hex(client.token), self.faskey) == tok:
                client.authenticated = True
                target = safe_origin_url(redir) or f"{self.portal_url}/online"
                raise web.HTTPFound(target)
        # openNDS silently bounces a wrong token back to the portal.
        raise web.HTTPFound(f"{self.portal_url}/fas/{self.router_id}/")


def _valid_grant(mac: object, custom: object, limits: dict[str, object]) -> bool:
    return (
        isinstance(mac, str)
        and bool(_MAC.match(mac))
        and isinstance(custom, str)
        and bool(_CUSTOM.match(custom))
        and all(type(v) is int and 0 <= v <= 10_000_000 for v in limits.values())  # type: ignore[operator]
    )


def _ack(command_id: str, status: str, code: str) -> dict[str, Any]:
    return {
        "v": 1,
        "id": command_id,
        "status": status,
        "code": code,
        "msg": "",
        "ts": int(time.time()),
    }
