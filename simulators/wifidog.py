"""A model of a WiFiDog gateway (wifidog/wifidog-gateway, src/; commit b9771dd).

What the gateway does towards its auth server, as far as Portico meets it: it redirects a new
client's browser to `login/`, takes the token back on its own `/wifidog/auth?token=`, asks
`auth/?stage=login`, reports every client's counters and pings every CheckInterval, and obeys
`Auth: N` and `Pong`. Every request is built with the parameter names and order of the C
function named beside it. Used by `portico demo`, the tests and the benchmarks.

A simulated gateway cannot read a browser's MAC from the ARP table (arp_get(), src/firewall.c)
on loopback, so its HTTP side knows a browser by a cookie it sets on the first redirect.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import secrets
import time
from dataclasses import dataclass
from urllib.parse import quote

import aiohttp
from aiohttp import web

log = logging.getLogger("portico.simulator.wifidog")

AUTH_ERROR, AUTH_DENIED, AUTH_ALLOWED = -1, 0, 1  # t_authcode, src/auth.h
COOKIE = "wdsim"  # the simulator's stand-in for arp_get(r->clientAddr)
_AUTH_CODE = re.compile(r"Auth: ([+-]?\d+)")


@dataclass
class WdClient:
    """One entry of wifidog's client list (t_client, src/client_list.h)."""

    ip: str
    mac: str
    token: str = ""
    allowed: bool = False  # fw_connection_state == FW_MARK_KNOWN
    incoming: int = 0  # bytes towards the client (iptables_fw_counters_update)
    outgoing: int = 0
    last_updated: float = 0.0

    def use(self, incoming: int, outgoing: int) -> None:
        """Traffic through the firewall: counters grow and the client counts as active."""
        self.incoming += incoming
        self.outgoing += outgoing
        self.last_updated = time.time()


def parse_auth_code(body: str) -> int:
    """auth_server_request(): strstr(res, "Auth: ") then sscanf("Auth: %d"); else AUTH_ERROR."""
    index = body.find("Auth: ")
    if index < 0:
        return AUTH_ERROR
    match = _AUTH_CODE.match(body, index)
    return int(match.group(1)) if match else AUTH_ERROR


class WifidogGateway:
    """A WiFiDog gateway with its auth server at `auth_server` (scheme://host:port + Path)."""

    def __init__(
        self,
        gw_id: str,
        *,
        auth_server: str,
        gateway_host: str = "127.0.0.1",
        gateway_port: int = 0,
        check_interval: float = 60.0,  # DEFAULT_CHECKINTERVAL, src/conf.h
        client_timeout: int = 5,  # DEFAULT_CLIENTTIMEOUT
        version: str = "1.3.0",
    ) -> None:
        self.gw_id = gw_id
        self.auth_server = auth_server if auth_server.endswith("/") else auth_server + "/"
        self.gateway_host = gateway_host
        self.gateway_port = gateway_port
        self.check_interval = check_interval
        self.client_timeout = client_timeout
        self.version = version
        self.clients: dict[str, WdClient] = {}  # by MAC
        self.auth_down = False
        self.started = time.time()
        self.requests: list[str] = []  # every URL sent to the auth server, in order
        self._session: aiohttp.ClientSession | None = None
        self._runner: web.AppRunner | None = None
        self._task: asyncio.Task[None] | None = None
        self._visitors = 0
        self._pending: dict[str, WdClient] = {}  # redirected, not yet in the client list

    # -- clients -------------------------------------------------------------------------------

    def new_visitor(self) -> WdClient:
        """A phone joining the WiFi: random (locally administered) MAC, next free IP."""
        mac = "da:" + ":".join(f"{b:02x}" for b in secrets.token_bytes(5))
        self._visitors += 1
        n = self._visitors
        return WdClient(f"192.168.{n // 250 % 250}.{n % 250 + 2}", mac)

    def login_redirect(self, client: WdClient, requested_url: str) -> str:
        """http_callback_404 (src/http.c): 302 to login/ with the url-encoded request."""
        return (
            f"{self.auth_server}login/?gw_address={self.gateway_host}&gw_port={self.gateway_port}"
            f"&gw_id={self.gw_id}&ip={client.ip}&mac={client.mac}"
            f"&url={quote(requested_url, safe='')}"
        )

    async def auth_callback(self, client: WdClient, token: str) -> tuple[int, str]:
        """http_callback_auth + authenticate_client (src/http.c, src/auth.c): the browser brings
        the token; the gateway asks stage=login and answers with a redirect (status, Location)
        or, on AUTH_ERROR, an error page (500, message)."""
        self.clients.setdefault(client.mac, client)
        client.token = token  # client_list_add(), or the token saved when it changed
        code = await self.auth_server_request("login", client)
        if code == AUTH_ALLOWED:
            client.allowed = True  # fw_allow(client, FW_MARK_KNOWN)
            client.last_updated = time.time()
            return 302, f"{self.auth_server}portal/?gw_id={self.gw_id}&token={client.token}"
        if code == AUTH_DENIED:
            client.allowed = False  # fw_deny(client)
            return 302, f"{self.auth_server}gw_message.php?message=denied&token={client.token}"
        if code == 5:  # AUTH_VALIDATION
            client.allowed = True
            return 302, f"{self.auth_server}gw_message.php?message=activate&token={client.token}"
        if code == 6:  # AUTH_VALIDATION_FAILED
            return (
                302,
                f"{self.auth_server}gw_message.php?message=failed_validation&token={client.token}",
            )
        return 500, "Error: We did not get a valid answer from the central server"

    # -- towards the auth server ---------------------------------------------------------------

    async def auth_server_request(self, stage: str, client: WdClient) -> int:
        """auth_server_request (src/centralserver.c), without `deltatraffic`: login sends zero
        counters; the reply's first `Auth: N` decides."""
        counters = (0, 0) if stage == "login" else (client.incoming, client.outgoing)
        url = (
            f"{self.auth_server}auth/?stage={stage}&ip={client.ip}&mac={client.mac}"
            f"&token={quote(client.token, safe='')}&incoming={counters[0]}"
            f"&outgoing={counters[1]}&gw_id={self.gw_id}"
        )
        body = await self._get(url)
        return AUTH_ERROR if body is None else parse_auth_code(body)

    async def ping(self) -> bool:
        """ping() (src/ping_thread.c): the server is up when the reply contains `Pong`."""
        uptime = int(time.time() - self.started)
        url = (
            f"{self.auth_server}ping/?gw_id={self.gw_id}&sys_uptime={uptime + 1000}"
            f"&sys_memfree=20480&sys_load=0.12&wifidog_uptime={uptime}"
        )
        body = await self._get(url)
        self.auth_down = body is None or "Pong" not in body  # fw_set_authdown / authup
        return not self.auth_down

    async def sync_with_authserver(self) -> list[WdClient]:
        """fw_sync_with_authserver (src/firewall.c): counters for every client; a client idle
        for CheckInterval × ClientTimeout is logged out; AUTH_DENIED removes it. Returns the
        clients removed."""
        removed = []
        for client in list(self.clients.values()):
            code = await self.auth_server_request("counters", client)
            idle_limit = self.check_interval * self.client_timeout
            if client.last_updated + idle_limit <= time.time():
                await self.logout_client(client)
                removed.append(client)
            elif code in (AUTH_DENIED, 6):  # AUTH_DENIED, AUTH_VALIDATION_FAILED
                client.allowed = False  # fw_deny + client_list_delete
                self.clients.pop(client.mac, None)
                removed.append(client)
        return removed

    async def logout_client(self, client: WdClient) -> int:
        """logout_client (src/auth.c): fw_deny, remove, and tell the auth server."""
        client.allowed = False
        self.clients.pop(client.mac, None)
        return await self.auth_server_request("logout", client)

    async def _get(self, url: str) -> str | None:
        """http_get (src/simple_http.c): an HTTP/1.0 GET; the whole response is read."""
        self.requests.append(url)
        assert self._session is not None, "start() the gateway first"
        try:
            async with self._session.get(
                url,
                headers={"User-Agent": f"WiFiDog {self.version}"},
            ) as response:
                head = "".join(f"{k}: {v}\n" for k, v in response.headers.items())
                return head + "\n" + await response.text()
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("gateway %s could not reach its auth server: %s", self.gw_id, exc)
            return None

    # -- running -------------------------------------------------------------------------------

    @property
    def gateway_url(self) -> str:
        return f"http://{self.gateway_host}:{self.gateway_port}/"

    async def start(self, *, periodic: bool = True, http: bool = True) -> None:
        """Open the auth-server client; serve the gateway's HTTP side; run the check thread."""
        timeout = aiohttp.ClientTimeout(total=30)  # http_get's select() timeout
        # http_get (src/simple_http.c) speaks HTTP/1.0 and reads until the server closes.
        self._session = aiohttp.ClientSession(timeout=timeout, version=aiohttp.HttpVersion10)
        if http:
            app = web.Application()
            app.router.add_get("/wifidog/auth", self._http_auth)
            app.router.add_route("GET", "/{tail:.*}", self._http_404)
            self._runner = web.AppRunner(app, access_log=None)
            await self._runner.setup()
            site = web.TCPSite(self._runner, self.gateway_host, self.gateway_port)
            await site.start()
            if self.gateway_port == 0:
                server = site._server
                assert server is not None
                self.gateway_port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        if periodic:
            self._task = asyncio.create_task(self._check_loop(), name=f"wifidog-{self.gw_id}")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._runner:
            await self._runner.cleanup()
        if self._session:
            await self._session.close()

    async def _check_loop(self) -> None:
        """thread_ping and thread_client_timeout_check: both every CheckInterval."""
        while True:
            await self.ping()
            await self.sync_with_authserver()
            await asyncio.sleep(self.check_interval)

    def _client_of(self, request: web.Request) -> WdClient | None:
        mac = request.cookies.get(COOKIE, "")
        return self.clients.get(mac) or self._pending.get(mac)

    async def _http_404(self, request: web.Request) -> web.StreamResponse:
        client = self._client_of(request)
        if client is not None and client.allowed:
            return web.Response(text="online: the simulated internet answers this request")
        client = client or self.new_visitor()
        self._pending[client.mac] = client
        url = f"http://{request.host}{request.path_qs}"
        response = web.Response(status=302, headers={"Location": self.login_redirect(client, url)})
        response.set_cookie(COOKIE, client.mac)
        return response

    async def _http_auth(self, request: web.Request) -> web.StreamResponse:
        token = request.query.get("token")
        client = self._client_of(request)
        if not token:
            return web.Response(text="Invalid token", status=400)
        if client is None:
            return web.Response(text="Failed to retrieve your MAC address", status=400)
        status, where = await self.auth_callback(client, token)
        if status == 302:
            raise web.HTTPFound(where)
        return web.Response(text=where, status=status)
