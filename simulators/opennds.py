"""A model of openNDS 11 on one router (openNDS/openNDS, src/; commit b9fbb8d).

What a router's openNDS holds and answers, as far as Portico meets it: the client table with each
client's token and state, the three ndsctl calls the agent makes, and the gateway's HTTP answers
to a phone. Every behaviour names the openNDS function it follows.
"""

from __future__ import annotations

import random
import secrets
import time
from dataclasses import dataclass, field
from typing import NamedTuple
from urllib.parse import parse_qsl

from portal.fas import encode_fas, rhid, sha256_hex
from portal.fas_aes import encrypt_fas

PREAUTHENTICATED = "Preauthenticated"
AUTHENTICATED = "Authenticated"


@dataclass
class SimClient:
    """One entry of openNDS's client list (t_client, src/client_list.h)."""

    mac: str
    ip: str
    token: str
    authenticated: bool = False
    grant: dict[str, int] = field(default_factory=dict)
    session_start: int = 0  # unix seconds of the grant (binauth_action: sessionstart = now)
    custom: str = ""  # the grant's custom data (ndsctl auth's last argument)
    session_end: int = 0  # unix seconds the grant ends at (0: never)
    # The client's counters (t_counters, src/client_list.h): bytes since it was added, and
    # when its upload last grew (client_list_add_client sets it to the time it was added).
    incoming: int = 0
    outgoing: int = 0
    last_updated: int = field(default_factory=lambda: int(time.time()))

    @property
    def state(self) -> str:
        return AUTHENTICATED if self.authenticated else PREAUTHENTICATED


class Ndsctl(NamedTuple):
    """What one ndsctl call ends with: its exit status and what it printed."""

    exit_code: int
    output: str


class RefusalModel:
    """When openNDS's binauth race refuses a grant: a two-state (Gilbert) chain over the
    gateway's successive binauth runs. After a refusal the next call is refused with
    probability 1 - 1/run (runs of mean length `run`); after a grant with the probability that
    keeps the long-run share of refusals at `rate`. Without `run` every call is drawn on its
    own (runs of mean length 1 / (1 - rate))."""

    def __init__(self, rate: float, run: float | None, rng: random.Random) -> None:
        if not 0.0 <= rate <= 1.0:
            raise ValueError("refusal_rate must be between 0 and 1")
        self.rate = rate
        self.after_refusal = self.after_grant = rate
        if run is not None and 0.0 < rate < 1.0:
            shortest = rate / (1.0 - rate)  # a longer run than this keeps after_grant <= 1
            if run < max(1.0, shortest):
                raise ValueError(f"refusal_run must be at least {max(1.0, shortest):.2f}")
            self.after_refusal = 1.0 - 1.0 / run
            self.after_grant = rate / (run * (1.0 - rate))
        self._rng = rng
        self._last_refused = rng.random() < rate  # start in the chain's stationary state

    @property
    def transitions(self) -> tuple[float, float]:
        """The chance of a refusal after a grant and after a refusal."""
        return self.after_grant, self.after_refusal

    def refuse(self) -> bool:
        """Whether this binauth run loses the race."""
        p = self.after_refusal if self._last_refused else self.after_grant
        self._last_refused = self._rng.random() < p
        return self._last_refused


class OpenNds:
    """openNDS's client table and ndsctl, with its accidental refusals.

    `refusal_rate` is the share of `ndsctl auth` calls that openNDS refuses for no reason of the
    client's: binauth_action() (src/auth.c) runs the binauth script with system(), and
    sigchld_handler() (src/main.c) reaps any child with waitpid(-1); when the handler wins,
    system() returns -1, auth_change_state() returns 1 and the client stays Preauthenticated.
    Seen on a real openNDS 11 on 4 of 6 logins (openNDS issues #256, #284).

    The race is the gateway's, not a client's, and a real one refuses in runs (one phone was
    refused 4 times in a row by a real openNDS, docs/real-gateway-tests.md). `refusal_run` is
    the mean length of such a run (RefusalModel); None draws every call on its own.
    """

    def __init__(
        self,
        *,
        refusal_rate: float = 0.0,
        refusal_run: float | None = None,
        rng: random.Random | None = None,
        faskey: str = "",
    ) -> None:
        self.refusals = RefusalModel(refusal_rate, refusal_run, rng or random.SystemRandom())
        self.faskey = faskey
        self.clients: dict[str, SimClient] = {}
        self._ready_at = 0.0  # time.monotonic() from when ndsctl connects (restart)
        # binauth_log.sh's authlog: MAC -> session end (unix s, 0 = none) of each grant, which
        # auth_restore (libopennds.sh) reads after a restart.
        self.authlog: dict[str, int] = {}
        # binauth_log.sh's deauth logs, which it hands to send_to_fas_deauthed at level 3 (the
        # authmon model sends them: simulators/authmon.py).
        self.deauthed: list[str] = []
        # Phones connected to the router's network (what `libopennds.sh clientaddress` finds in
        # the neighbour table): MAC -> IP. A phone stays after openNDS deletes its client.
        self.neighbours: dict[str, str] = {}
        self.allow_preemptive_authentication = True  # openNDS's default
        self.auth_idle_timeout = 0  # authidletimeout, minutes (0: off; global, not per client)

    @property
    def refusal_rate(self) -> float:
        return self.refusals.rate

    def add_client(self, mac: str, ip: str) -> SimClient:
        """client_list_add_client (src/client_list.c): a new client gets a token "%04hx%04hx"."""
        client = SimClient(mac=mac, ip=ip, token=secrets.token_hex(4))
        self.clients[mac] = client
        self.neighbours[mac] = ip
        return client

    def traffic(self, mac: str, *, down_kb: int = 0, up_kb: int = 0, at: int | None = None) -> None:
        """The client moved data (iptables_fw_counters_update, src/fw_iptables.c): its counters
        grow, and `last_updated` moves only when its upload grew."""
        client = self.clients[mac]
        client.incoming += down_kb * 1024
        if up_kb:
            client.outgoing += up_kb * 1024
            client.last_updated = int(time.time()) if at is None else at

    def refresh_clients(self, now: int | None = None) -> list[str]:
        """fw_refresh_client_list (src/auth.c), every checkinterval: an Authenticated client is
        deauthenticated (deleted) at its session end (timeout_deauth), at its download or
        upload quota (download_quota_deauth, upload_quota_deauth; no fup throttle rate set),
        and after authidletimeout minutes without upload (idle_deauth). Returns the reasons."""
        now = int(time.time()) if now is None else now
        idle = self.auth_idle_timeout * 60
        reasons = []
        for client in list(self.clients.values()):
            if not client.authenticated:
                continue
            grant = client.grant
            reason = None
            if client.session_end and client.session_end <= now:
                reason = "timeout_deauth"
            elif grant.get("down_quota_kb") and grant["down_quota_kb"] <= client.incoming // 1024:
                reason = "download_quota_deauth"
            elif grant.get("up_quota_kb") and grant["up_quota_kb"] <= client.outgoing // 1024:
                reason = "upload_quota_deauth"
            elif idle and client.last_updated + idle <= now:
                reason = "idle_deauth"
            if reason:
                self._delete(client, reason, now)
                reasons.append(reason)
        return reasons

    def find_by_any(self, arg: str) -> SimClient | None:
        """client_list_find_by_any (src/client_list.c): by token first (longer than 8: an rhid,
        sha256hex(hid + faskey), client_list_find_by_token), then by IP, then by MAC.

        A MAC can be no client's token, rhid or IP, so looking it up first finds what openNDS's
        order finds, without hashing every client's token (thousands in the benchmarks)."""
        if arg in self.clients:
            return self.clients[arg]
        for client in self.clients.values():
            if len(arg) > 8:
                if self.faskey and arg == rhid(sha256_hex(client.token), self.faskey):
                    return client
            elif arg == client.token:
                return client
        for client in self.clients.values():
            if arg == client.ip:
                return client
        return None

    def ndsctl_ready(self) -> bool:
        """Whether ndsctl can connect: after a start, main_loop (src/main.c) sets up the
        firewall and the web server before thread_ndsctl listens on its socket."""
        return time.monotonic() >= self._ready_at

    def ndsctl_json(self, mac: str) -> dict[str, str] | None:
        """ndsctl_json_one (src/util.c): the client's fields, or {} for one it does not hold;
        None while ndsctl cannot connect (connect_to_server, src/ndsctl.c: exit 3)."""
        if not self.ndsctl_ready():
            return None
        client = self.clients.get(mac)
        if client is None:
            return {}
        return {
            "mac": client.mac,
            "ip": client.ip,
            "token": client.token,
            "state": client.state,
            "session_start": str(client.session_start),
            "session_end": str(client.session_end) if client.session_end else "null",
            "last_active": str(client.last_updated),
            "download_this_session": str(client.incoming // 1024),
            "upload_this_session": str(client.outgoing // 1024),
        }

    def ndsctl_auth(
        self,
        mac: str,
        minutes: int,
        up: int,
        down: int,
        up_quota: int,
        down_quota: int,
        custom: str,
    ) -> Ndsctl:
        """ndsctl_auth (src/ndsctl_thread.c): grants only a Preauthenticated client.

        ndsctl joins its arguments with "," (main, src/ndsctl.c) and prints "Failed to
        authenticate client …" with exit 1 for every "No": a refusal, an unknown client or one
        already authenticated look the same. A client openNDS does not hold is added first when
        allow_preemptive_authentication is on and the phone is connected (its MAC and IP from
        `libopennds.sh clientaddress`): preemptive authentication, a new client with a new
        token.
        """
        param = ",".join(str(v) for v in (mac, minutes, up, down, up_quota, down_quota, custom))
        if not self.ndsctl_ready():
            return Ndsctl(3, NOT_STARTED)
        client = self.find_by_any(mac)
        if client is None and self.allow_preemptive_authentication and mac in self.neighbours:
            client = self.add_client(mac, self.neighbours[mac])
        if client is None or client.authenticated or self.refusals.refuse():
            return Ndsctl(1, f"Failed to authenticate client {param}.")
        self._grant(client, minutes, up, down, up_quota, down_quota)
        client.custom = custom
        return Ndsctl(0, f"Client {param} authenticated.")

    def _grant(
        self, client: SimClient, minutes: int, up: int, down: int, up_quota: int, down_quota: int
    ) -> None:
        """auth_change_state to Authenticated; binauth_log.sh appends `<b64 mac>=<session end>`
        to its authlog."""
        client.authenticated = True
        client.session_start = int(time.time())
        client.session_end = client.session_start + minutes * 60 if minutes else 0
        client.grant = {
            "minutes": minutes,
            "up_kbps": up,
            "down_kbps": down,
            "up_quota_kb": up_quota,
            "down_quota_kb": down_quota,
        }
        self.authlog[client.mac] = int(time.time()) + minutes * 60 if minutes else 0

    def ndsctl_deauth(self, mac: str) -> Ndsctl:
        """ndsctl_deauth: auth_change_state (src/auth.c) deletes an Authenticated client (and
        binauth_log.sh logs the deauth, so auth_restore leaves it out)."""
        if not self.ndsctl_ready():
            return Ndsctl(3, NOT_STARTED)
        client = self.clients.get(mac)
        if client is None or not client.authenticated:
            return Ndsctl(1, f"Client {mac} not found.")
        self._delete(client, "ndsctl_deauth", int(time.time()))
        return Ndsctl(0, f"Client {mac} deauthenticated.")

    def _delete(self, client: SimClient, reason: str, now: int) -> None:
        """auth_change_state from Authenticated: the client is deleted (client_list_delete),
        binauth_log.sh logs the deauth with its reason (so auth_restore leaves it out)."""
        del self.clients[client.mac]
        self.authlog.pop(client.mac, None)
        self.deauthed.append(deauth_log(client, reason, now))

    def restart(self, ready_after: float = 0.0) -> None:
        """openNDS restarted: grants are gone, each client comes back with a new token, and
        ndsctl cannot connect for `ready_after` seconds (4-18 s on a real openNDS 11)."""
        self._ready_at = time.monotonic() + ready_after
        for client in self.clients.values():
            client.authenticated, client.grant = False, {}
            client.token = secrets.token_hex(4)

    def auth_restore(self) -> int:
        """auth_restore (libopennds.sh), run by main_loop in the background after a start: once
        openNDS's heartbeat shows (up to 15 s), each client of the authlog whose session has not
        ended gets a preemptive_auth file, which fw_refresh_client_list (src/auth.c) grants at
        its next checkinterval (15 s) with what is left of the session and openNDS's *global*
        rates and quotas, not the store's. Returns how many clients it let through."""
        now = int(time.time())
        restored = 0
        for mac, session_end in self.authlog.items():
            client = self.clients.get(mac)
            if client is None or client.authenticated or (session_end and session_end <= now):
                continue
            minutes = max(1, (session_end - now) // 60) if session_end else 0
            self._grant(client, minutes, 0, 0, 0, 0)
            restored += 1
        return restored


NOT_STARTED = "ndsctl: opennds probably not yet started (Error: Connection refused)"


def deauth_log(client: SimClient, reason: str, now: int) -> str:
    """binauth_log.sh's `loginfo` of a deauth (binauth_action, src/auth.c: the session ends
    now), as the FAS receives it from send_to_fas_deauthed: send_post_data runs the request with
    `eval`, which drops the double quotes around method, clientmac and custom."""
    return (
        f"method={reason}, clientmac={client.mac}, timestamp={now}, "
        f"bytes_incoming={client.incoming}, bytes_outgoing={client.outgoing}, "
        f"session_start={client.session_start}, session_end={now}, "
        f"token={client.token}, custom={uh_urlencode(client.custom or 'none')}"
    )


def uh_urlencode(text: str) -> str:
    """uh_urlencode (src/http_microhttpd_utils.c): alphanumerics and -_.~ stay, every other
    byte becomes %xx in lowercase hex (a real gateway sent `Node%3a...`, `http%3a%2f%2f...`)."""
    return "".join(
        chr(b) if (chr(b).isalnum() and b < 128) or chr(b) in "-_.~" else f"%{b:02x}"
        for b in text.encode()
    )


@dataclass(frozen=True)
class Redirect:
    """An HTTP answer of the gateway: a status and where it sends the browser."""

    status: int
    location: str = ""


@dataclass
class Gateway:
    """The gateway's HTTP answers to a phone (src/http_microhttpd.c), at FAS levels 1-3.

    At level 3 a real openNDS forces `https` on the fas_url (main.c); the simulated one keeps
    the scheme it is given, so the demo's plain-http portal works.
    """

    nds: OpenNds
    fas_url: str  # http://<fasremotefqdn>:<fasport><faspath>
    faskey: str
    gateway_name: str
    gateway_mac: str
    gateway_address: str  # ip:port
    fas_level: int = 1  # fas_secure_enabled

    def fas_fields(self, client: SimClient, origin_url: str = "") -> dict[str, str]:
        """construct_querystring's fields, as a real gateway sent them (at levels 2 and 3 it
        adds `authdir` after `gatewaymac`)."""
        fields = self._level_1_fields(client, origin_url)
        if self.fas_level < 2:
            return fields
        ordered = {}
        for key, value in fields.items():
            ordered[key] = value
            if key == "gatewaymac":
                ordered["authdir"] = "opennds_auth"
        return ordered

    @property
    def encoded_gateway_name(self) -> str:
        """config->url_encoded_gw_name: the name with " Node:<mac> " appended, url-encoded."""
        return uh_urlencode(f"{self.gateway_name} Node:{self.gateway_mac.replace(':', '')} ")

    @property
    def gateway_hash(self) -> str:
        """What authmon sends as gatewayhash (main.c: libopennds.sh hash_str)."""
        return sha256_hex(self.encoded_gateway_name)

    def _level_1_fields(self, client: SimClient, origin_url: str) -> dict[str, str]:
        return {
            "hid": sha256_hex(client.token),
            "clientip": client.ip,
            "clientmac": client.mac,
            "client_type": "cpd_can",
            "cpi_query": "(null)",
            "gatewayname": self.encoded_gateway_name,
            "gatewayurl": uh_urlencode(f"http://{self.gateway_address.split(':')[0]}"),
            "version": "11.0.0",
            "gatewayaddress": self.gateway_address,
            "gatewaymac": self.gateway_mac.replace(":", ""),
            "originurl": uh_urlencode(origin_url),
            "clientif": "br-lan",
            "themespec": "",
        }

    def splash_redirect(self, client: SimClient, origin_url: str = "") -> str:
        """encode_and_redirect_to_splashpage: `<fas_url>?fas=<base64>`, not %-encoded; at levels
        2 and 3 `?fas=<base64(base64(AES-256-CBC))>&iv=<16 hex>` (construct_querystring's PHP
        snippet, see portal/fas_aes.py), the fields joined by ", " as at level 1."""
        fields = self.fas_fields(client, origin_url)
        if self.fas_level < 2:
            return f"{self.fas_url}?fas={encode_fas(fields)}"
        # config->custom_params/vars/images/files, all unset, print as "(null)" each
        text = ", ".join([*(f"{k}={v}" for k, v in fields.items()), "(null)" * 4])
        encrypted, iv = encrypt_fas(text, self.faskey)
        return f"{self.fas_url}?fas={encrypted}&iv={iv}"

    def opennds_auth(self, client: SimClient, query: str) -> Redirect:
        """A GET of /opennds_auth/?<query> from `client`.

        authenticated(): the tok is not checked; 307 to `<fas_url>?<query>&status=authenticated`,
        the query rebuilt by get_query() from MHD's decoded arguments (no "?" when it is empty).
        preauthenticated(): no tok or no redir is 403; a wrong tok goes back to the splash
        (encode_and_redirect_to_splashpage); a good one goes through authenticate_client(),
        whose auth_client_auth() runs binauth and can lose the same race as ndsctl: then 503
        (send_error) and the client stays Preauthenticated. Otherwise 307 to redir as sent.
        """
        arguments = parse_qsl(query, keep_blank_values=True)
        if client.authenticated:
            rebuilt = "&".join(f"{key}={value}" for key, value in arguments)
            return Redirect(
                307, f"{self.fas_url}{'?' if rebuilt else ''}{rebuilt}&status=authenticated"
            )
        values = dict(arguments)
        redir, tok = values.get("redir"), values.get("tok")
        if redir is None or tok is None:
            return Redirect(403)
        if tok != rhid(sha256_hex(client.token), self.faskey):
            return Redirect(307, self.splash_redirect(client, redir))
        granted = self.nds.ndsctl_auth(client.mac, 0, 0, 0, 0, 0, "")
        if granted.exit_code != 0:
            return Redirect(503)
        return Redirect(307, redir)
