"""A model of our router agent (firmware-scripts/files/usr/sbin/portico-agent) over OpenNds.

It answers one `cmd` payload with one ack as the shell agent does: the same checks (version,
id, expiry, duplicates, argument ranges, hid against openNDS's token) and the same retries of a
refused ndsctl call inside the sender's `wait_ms`. Each step names the shell function it follows.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import secrets
import time
import uuid
from collections import OrderedDict, deque
from typing import Any

from controller import topics
from portal.fas import sha256_hex
from simulators.opennds import NOT_STARTED, OpenNds

_MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")
_IPV4 = re.compile(r"^[0-9.]+$")  # portico_dhcp_ipv4
_OPT55 = re.compile(r"^[1-9][0-9]{0,2}(,[1-9][0-9]{0,2}){0,63}$")  # portico_dhcp_opt55
_HID = re.compile(r"^[0-9a-f]{64}$")
_CUSTOM = re.compile(r"^[A-Za-z0-9_=-]{0,64}$")
_LIMIT_KEYS = ("minutes", "up_kbps", "down_kbps", "up_quota_kb", "down_quota_kb")
WAIT_DEFAULT_MS = 4000  # WAIT_DEFAULT
ACK_MARGIN = 0.3  # seconds, ACK_MARGIN
DUP_KEEP = 256  # DUP_KEEP
MAX_DEPTH = 8  # MAX_DEPTH: JSON nesting accepted in a command
TELE_BATCH_BYTES = 16384  # the agent's TELE_BATCH_BYTES
SENT_KEEP = 2000  # events kept for tele_resend (the agent keeps SPOOL_MAX_KB of them)
_BOOT_ID = re.compile(r"^[A-Za-z0-9-]{1,64}$")  # is_boot_id
AGENT = "portico-simulator/1.0"
CAPS = [
    *("auth", "restore", "deauth", "ping", "tele_resend", "diagnostics", "reboot"),
    *("apply-config", "desired"),
]
_HOST = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.-]{0,252}$")  # is_host
_FASKEY = re.compile(r"^[0-9a-f]{64}$")  # is_faskey
_SESSION = (  # desired_fields: body.session's fields and openNDS's options for them
    ("minutes", "sessiontimeout"),
    ("up_kbps", "uploadrate"),
    ("down_kbps", "downloadrate"),
    ("up_quota_kb", "uploadquota"),
    ("down_quota_kb", "downloadquota"),
)
WG_MAX = 32  # WG_MAX


class AgentModel:
    """`pauses`: back_off's two sleeps (seconds); tests may shorten them, nothing else."""

    def __init__(self, nds: OpenNds, *, pauses: tuple[float, float] = (0.1, 0.25)) -> None:
        self.nds = nds
        self.pauses = pauses
        self._handled: OrderedDict[str, str] = OrderedDict()  # command id -> first status
        # init_tele: the event ids' epoch (boot id digits + 4 random ones) and sequence.
        self.epoch = secrets.token_hex(6)
        self.seq = 0
        self.sent: deque[tuple[int, bytes]] = deque(maxlen=SENT_KEEP)  # tele.spool.sent
        self.resend: list[bytes] = []  # what the last tele_resend asked for
        self.granting_since: float | None = None  # grant's $STATE_DIR/granting (monotonic)
        self.boot_id = str(uuid.uuid4())  # /proc/sys/kernel/random/boot_id
        self.reboots = 0  # how many times op_reboot ran `reboot`
        self._reboot_due = False
        # The desired configuration (apply_desired): openNDS's options as uci holds them, the
        # version and sha256 in effect, the last document received (desired.hex), how many
        # times openNDS restarted for one, and the broker check (a test may make it fail for
        # a configuration, as a real one can cut the router off).
        self.config: dict[str, Any] = {}
        self.applied: tuple[int, str] = (0, "")
        self.desired_doc: bytes = b""
        self.nds_restarts = 0
        self.broker_ok: Any = lambda config: True
        self.states: list[dict[str, Any]] = []  # state reports not yet published

    def tele(self, kind: str, **fields: Any) -> bytes:
        """tele: one telemetry event, numbered; kept as sent (the model has no outage)."""
        self.seq += 1
        ts = int(time.time())
        event = {"v": 1, "id": f"{self.epoch}-{self.seq}", "type": kind, "ts": ts, **fields}
        payload = json.dumps(event, separators=(",", ":")).encode()
        self.sent.append((ts, payload))
        return payload

    def spool_heartbeat(self, agent: str, fw: str) -> list[bytes]:
        """tele_usage then tele_heartbeat: what one heartbeat spools (no stations: the
        simulated router has no radio). tele_usage reads `ndsctl json` (ndsctl_json_all,
        src/util.c): every field a string; a number that is not one is sent as 0 (num())."""
        events = []
        for mac in list(self.nds.clients):
            fields = self.nds.ndsctl_json(mac)
            if fields is None:  # ndsctl cannot connect: tele_usage sends nothing
                break
            if not fields:  # the client left meanwhile (`{}`): nothing of it to send
                continue
            events.append(
                self.tele(
                    "usage",
                    mac=mac,
                    state=fields["state"],
                    down_kb=_num(fields["download_this_session"]),
                    up_kb=_num(fields["upload_this_session"]),
                    session_start=_num(fields["session_start"]),
                    last_active=_num(fields["last_active"]),
                )
            )
        events.append(
            self.tele(
                "heartbeat",
                uptime_s=int(time.monotonic()),
                load=[0.0, 0.0, 0.0],
                clients=len(self.nds.clients),
                stations=0,
                agent=agent,
                fw=fw,
                nds="11.0.0",
                spool_dropped=0,
            )
        )
        return events

    def dhcp_lease(
        self, action: str, mac: str, ip: str, opt55: str | None, ts: int | None = None
    ) -> bytes | None:
        """portico_dhcp_hook (/etc/hotplug.d/dhcp/90-portico), then tele_dhcp: the `dhcp`
        event of a lease dnsmasq reports with `action` (add, old, del) for `mac` at `ip`, with
        DNSMASQ_REQUESTED_OPTIONS `opt55` (None: unset), at `ts` (default now); None for a
        lease the hook skips. OpenWrt's dhcp-script.sh hands the hook old as ACTION update
        and del as remove: only add and old count."""
        if action not in ("add", "old") or not _MAC.fullmatch(mac) or not _IPV4.fullmatch(ip):
            return None
        if opt55 is None or not _is_opt55(opt55):
            return None
        return self.tele("dhcp", ts=int(time.time()) if ts is None else ts, mac=mac, opt55=opt55)

    async def handle_command(self, payload: bytes, queued: float = 0.0) -> dict[str, Any]:
        """handle_message: one payload in, one ack out, in the shell agent's order of checks.

        `queued`: seconds since the payload arrived (it waited behind other commands), which
        the shell agent measures to the hundredth (queued_since)."""
        data = _json_object(payload)
        if data is None:
            return ack("", "rejected", "malformed")
        command_id = data.get("id")
        if not isinstance(command_id, str) or not topics.COMMAND_ID.match(command_id):
            return ack("", "rejected", "malformed")
        if command_id in self._handled:
            return ack(command_id, "duplicate", self._handled[command_id])
        result = await self._execute(command_id, data, queued)
        self._handled[command_id] = result["status"]  # finish
        if len(self._handled) > DUP_KEEP:
            self._handled.popitem(last=False)
        if self._reboot_due:  # op_reboot: the ack first, then `reboot`
            self._reboot_due = False
            self.reboot()
        return result

    def granting(self) -> bool:
        """granting: a grant is being tried, marked less than a minute ago."""
        since = self.granting_since
        return since is not None and time.monotonic() - since < 60

    def reboot(self) -> None:
        """What a reboot leaves: a new boot id, openNDS without clients, no handled ids (the
        shell agent keeps them in /tmp)."""
        self.reboots += 1
        self.boot_id = str(uuid.uuid4())
        self._handled.clear()
        self.nds.clients.clear()

    async def _execute(
        self, command_id: str, data: dict[str, Any], queued: float
    ) -> dict[str, Any]:
        if data.get("v") != 1 or isinstance(data.get("v"), bool):
            return ack(command_id, "rejected", "bad_version")
        op, exp, args = data.get("op"), data.get("exp"), data.get("args")
        if not isinstance(op, str) or not _is_count(exp, 10**12 - 1):
            return ack(command_id, "rejected", "malformed")
        if not isinstance(args, dict):
            return ack(command_id, "rejected", "malformed")
        wait_ms = data.get("wait_ms", WAIT_DEFAULT_MS)
        if not _is_count(wait_ms, topics.MAX_WAIT_MS):
            return ack(command_id, "rejected", "malformed")
        if exp < int(time.time()):  # type: ignore[operator]
            return ack(command_id, "expired", "expired")
        if wait_ms > 0 and queued * 1000 >= wait_ms:  # type: ignore[operator]
            return ack(command_id, "expired", "wait_over")
        # start_clock: retry while the sender waits, and never past exp.
        retry_until = min(
            time.monotonic() + wait_ms / 1000 - ACK_MARGIN - queued,  # type: ignore[operator]
            time.monotonic() + (exp - time.time()),  # type: ignore[operator]
        )
        if op == "ping":
            return ack(command_id, "done", "ok")
        if op == "tele_resend":
            return self._tele_resend(command_id, args)
        if op == "diagnostics":
            return self._diagnostics(command_id)
        if op == "reboot":
            return self._reboot(command_id, args)
        if op == "apply-config":
            return self._apply_config(command_id)
        if op in ("auth", "restore"):
            # grant(): marks $STATE_DIR/granting while it tries; the main loop's heartbeat
            # waits for it (granting), 30 s at most.
            self.granting_since = time.monotonic()
            try:
                return await self._grant(command_id, op, args, retry_until)
            finally:
                self.granting_since = None
        if op == "deauth":
            return await self._deauth(command_id, args, retry_until)
        return ack(command_id, "rejected", "unknown_op")

    async def _grant(
        self, command_id: str, op: str, args: dict[str, Any], retry_until: float
    ) -> dict[str, Any]:
        """grant_args, then grant: read the client's state before every try."""
        mac, custom = args.get("mac"), args.get("custom", "")
        limits = [args.get(key) for key in _LIMIT_KEYS]
        if not (isinstance(mac, str) and _MAC.match(mac)):
            return ack(command_id, "rejected", "bad_args")
        if not all(_is_count(value, 10_000_000) for value in limits):
            return ack(command_id, "rejected", "bad_args")
        if not (isinstance(custom, str) and _CUSTOM.match(custom)):
            return ack(command_id, "rejected", "bad_args")
        hid = args.get("hid") if op == "auth" else None
        if op == "auth" and not (isinstance(hid, str) and _HID.match(hid)):
            return ack(command_id, "rejected", "bad_args")
        attempts = 0
        while True:
            client = self.nds.ndsctl_json(mac)
            if client is None:  # client_info failed: ndsctl cannot connect (yet)
                if not await self._back_off(attempts, retry_until):
                    message = f"openNDS refused {attempts} times; last: ndsctl json: {NOT_STARTED}"
                    return ack(command_id, "error", "ndsctl_failed", message, attempts=attempts)
                continue
            if not client.get("token") and (op == "auth" or attempts > 0):
                return ack(command_id, "rejected", "no_client", attempts=attempts)
            if hid is not None and sha256_hex(client["token"]) != hid:
                return ack(command_id, "rejected", "hid_mismatch", attempts=attempts)
            if client.get("state") == "Authenticated":
                note = "already authenticated" if attempts == 0 else ""
                return ack(command_id, "done", "ok", note, attempts=attempts)
            attempts += 1
            result = self.nds.ndsctl_auth(mac, *limits, custom)  # type: ignore[arg-type]
            if result.exit_code == 0:
                return ack(command_id, "done", "ok", attempts=attempts)
            if not await self._back_off(attempts, retry_until):
                message = f"openNDS refused {attempts} times; last: ndsctl auth: {result.output}"
                return ack(command_id, "error", "ndsctl_failed", message, attempts=attempts)

    def _tele_resend(self, command_id: str, args: dict[str, Any]) -> dict[str, Any]:
        """op_tele_resend: what was sent since args.since goes out again (`resend`, as the
        messages send_tele publishes)."""
        since = args.get("since")
        if not _is_count(since, 10**12 - 1):
            return ack(command_id, "rejected", "bad_args")
        events = [payload for ts, payload in self.sent if ts >= since]  # type: ignore[operator]
        self.resend = tele_batches(events)
        return ack(command_id, "done", "ok", f"{len(events)} events sent again")

    def _diagnostics(self, command_id: str) -> dict[str, Any]:
        """op_diagnostics: the fixed facts; `ndsctl status` as the simulated openNDS would
        print its first lines (exit 3 while ndsctl cannot connect)."""
        ready = self.nds.ndsctl_ready()
        nds_status = (
            f"==================\nopenNDS Status\n====\nVersion: 11.0.0\n"
            f"Current clients: {len(self.nds.clients)}"
            if ready
            else NOT_STARTED
        )
        result = ack(command_id, "done", "ok")
        result["diag"] = {
            "agent": AGENT,
            "fw": "simulated",
            "clock": int(time.time()),
            "uptime_s": int(time.monotonic()),
            "mem_total_kb": 0,
            "mem_free_kb": 0,
            "load": [0.0, 0.0, 0.0],
            "boot_id": self.boot_id,
            "nds_rc": 0 if ready else 3,
            "nds_status": nds_status.encode()[:512].decode(errors="replace"),
        }
        return result

    def handle_desired(self, payload: bytes) -> None:
        """handle_desired: a retained document (empty: cleared), kept for apply-config."""
        if payload:
            self.desired_doc = payload
            self.apply_desired(payload, force=False)

    def apply_desired(self, payload: bytes, *, force: bool) -> tuple[str, str]:
        """apply_desired: (result, error); a state report is queued in `states` unless the
        version is applied already (unchanged)."""
        try:
            version, sha, config = _desired_fields(payload)
        except _BadDocument as exc:
            self._report_state(exc.version, "rejected", str(exc))
            return "rejected", str(exc)
        if not force and self.applied == (version, sha):
            return "unchanged", ""
        backup, nds_faskey = dict(self.config), self.nds.faskey
        merged = {**self.config, **config}  # apply_uci: options set, the walled garden replaced
        error = ""
        if merged != self.config:
            self.config = merged
            self.nds.faskey = merged.get("faskey", self.nds.faskey)
            self.nds_restarts += 1  # restart_nds
        if not self.broker_ok(self.config):  # broker_check
            error = "broker unreachable after applying it; rolled back"
        if error:  # rollback
            self.config, self.nds.faskey = backup, nds_faskey
            self.nds_restarts += 1
            self._report_state(version, "failed", error)
            return "failed", error
        self.applied = (version, sha)
        self._report_state(version, "ok", "")
        return "ok", ""

    def _report_state(self, version: int, result: str, error: str) -> None:
        """report_state: the retained state payload."""
        self.states.append(
            {
                "v": 1,
                "version": version,
                "applied_version": self.applied[0],
                "result": result,
                "error": error,
                "ts": int(time.time()),
            }
        )

    def _apply_config(self, command_id: str) -> dict[str, Any]:
        """op_apply_config: the last document again, even when it is applied."""
        if not self.desired_doc:
            return ack(command_id, "rejected", "no_config")
        result, error = self.apply_desired(self.desired_doc, force=True)
        if result == "ok":
            return ack(command_id, "done", "ok", f"version {self.applied[0]} applied")
        if result == "rejected":
            return ack(command_id, "rejected", "bad_config", error)
        return ack(command_id, "error", "apply_failed", error)

    def _reboot(self, command_id: str, args: dict[str, Any]) -> dict[str, Any]:
        """op_reboot: only the boot named in args.boot_id reboots; another is done already."""
        boot_id = args.get("boot_id")
        if not (isinstance(boot_id, str) and _BOOT_ID.match(boot_id)):
            return ack(command_id, "rejected", "bad_args")
        if boot_id != self.boot_id:
            return ack(command_id, "done", "ok", "already rebooted")
        self._reboot_due = True
        return ack(command_id, "done", "ok", "rebooting")

    async def _back_off(self, attempts: int, retry_until: float) -> bool:
        """back_off: a short pause for the first five tries, then a longer one, while the
        sender still waits; False when the next try would end after that."""
        pause = self.pauses[0] if attempts <= 5 else self.pauses[1]
        if time.monotonic() + pause >= retry_until:
            return False
        await asyncio.sleep(pause)
        return True

    async def _deauth(
        self, command_id: str, args: dict[str, Any], retry_until: float
    ) -> dict[str, Any]:
        """op_deauth: a client that is gone or not Authenticated is done."""
        mac = args.get("mac")
        if not (isinstance(mac, str) and _MAC.match(mac)):
            return ack(command_id, "rejected", "bad_args")
        attempts = 0
        while True:
            attempts += 1
            result = self.nds.ndsctl_deauth(mac)
            if result.exit_code == 0:
                return ack(command_id, "done", "ok", attempts=attempts)
            client = self.nds.ndsctl_json(mac)
            if client is not None and client.get("state") != "Authenticated":
                return ack(
                    command_id, "done", "ok", "client was not authenticated", attempts=attempts
                )
            if not await self._back_off(attempts, retry_until):
                message = f"openNDS refused {attempts} times; last: ndsctl deauth: {result.output}"
                return ack(command_id, "error", "ndsctl_failed", message, attempts=attempts)


class _BadDocument(ValueError):
    def __init__(self, message: str, version: int = 0) -> None:
        super().__init__(message)
        self.version = version


def _desired_fields(payload: bytes) -> tuple[int, str, dict[str, Any]]:
    """desired_fields: (version, sha256, the uci options it sets), or _BadDocument."""
    if len(payload) > topics.MAX_PAYLOAD:
        raise _BadDocument(f"payload longer than {topics.MAX_PAYLOAD} bytes")
    data = _json_object(payload)
    if data is None:
        raise _BadDocument("malformed: not one JSON object")
    if data.get("v") != 1 or isinstance(data.get("v"), bool):
        raise _BadDocument("v must be 1")
    version = data.get("version")
    if not _is_count(version, 10**12 - 1) or version == 0:
        raise _BadDocument("version must be a positive integer")
    sha, body = data.get("sha256"), data.get("body")
    if not (isinstance(sha, str) and _HID.match(sha)):
        raise _BadDocument("sha256 must be 64 hex digits", version)  # type: ignore[arg-type]
    if not isinstance(body, dict):
        raise _BadDocument("body must be an object", version)  # type: ignore[arg-type]
    text = payload.decode().split('"body":', 1)[1][:-1]
    if hashlib.sha256(text.encode()).hexdigest() != sha:
        raise _BadDocument("sha256 does not match the body", version)  # type: ignore[arg-type]
    config: dict[str, Any] = {}
    faskey = body.get("faskey")
    if faskey is not None:
        if not (isinstance(faskey, str) and _FASKEY.match(faskey)):
            raise _BadDocument("body.faskey must be 64 hex digits", version)  # type: ignore[arg-type]
        config["faskey"] = faskey
    session = body.get("session")
    if not isinstance(session, dict):
        raise _BadDocument("body.session must be an object", version)  # type: ignore[arg-type]
    for field, option in _SESSION:
        if not _is_count(session.get(field), 10_000_000):
            raise _BadDocument(f"body.session.{field} must be 0..10000000", version)  # type: ignore[arg-type]
        config[option] = session[field]
    garden = body.get("walled_garden")
    if not isinstance(garden, list):
        raise _BadDocument("body.walled_garden must be an array", version)  # type: ignore[arg-type]
    if len(garden) > WG_MAX:
        raise _BadDocument(f"body.walled_garden has over {WG_MAX} entries", version)  # type: ignore[arg-type]
    entries = []
    for i, entry in enumerate(garden):
        host = entry.get("host") if isinstance(entry, dict) else None
        port = entry.get("port") if isinstance(entry, dict) else None
        if not (isinstance(host, str) and _HOST.match(host)):
            raise _BadDocument(f"body.walled_garden.{i}.host is not a host", version)  # type: ignore[arg-type]
        if not _is_count(port, 65535) or port == 0:
            raise _BadDocument(f"body.walled_garden.{i}.port must be 1..65535", version)  # type: ignore[arg-type]
        entries.append(f"{host}:{port}")
    config["walled_garden"] = entries
    return version, sha, config  # type: ignore[return-value]


def _num(text: str) -> int:
    """tele_usage's num(): digits (at most 15) as a number, anything else 0."""
    return int(text) if text.isdigit() and len(text) <= 15 else 0


def _is_opt55(text: str) -> bool:
    """portico_dhcp_opt55 (and the agent's is_opt55): 1..64 numbers 1..254 joined by commas,
    no leading zeros (dnsmasq prints each with "%u")."""
    return bool(_OPT55.fullmatch(text)) and all(int(n) <= 254 for n in text.split(","))


def _is_count(value: object, most: int) -> bool:
    """is_uint with a bound: a JSON integer (not a bool) from 0 to `most`."""
    return type(value) is int and 0 <= value <= most


class _Invalid(ValueError):
    pass


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _value in pairs]
    if len(set(keys)) != len(keys):
        raise _Invalid("duplicate key")
    return dict(pairs)


def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max(map(_depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(_depth, value), default=0)
    return 0


def _json_object(payload: bytes) -> dict[str, Any] | None:
    """json.awk with root=object, max_depth=MAX_DEPTH: one strict JSON object of at most
    MAX_PAYLOAD bytes (no duplicate keys, no raw control characters), else None."""
    if len(payload) > topics.MAX_PAYLOAD:
        return None
    try:
        data = json.loads(payload, object_pairs_hook=_no_duplicate_keys)
    except (UnicodeDecodeError, ValueError):  # JSONDecodeError and _Invalid are ValueErrors
        return None
    if not isinstance(data, dict) or _depth(data) > MAX_DEPTH:
        return None
    return data


def ack(
    command_id: str, status: str, code: str, msg: str = "", *, attempts: int | None = None
) -> dict[str, Any]:
    """ack: the payload the agent publishes (attempts only for ops that call ndsctl)."""
    payload: dict[str, Any] = {"v": 1, "id": command_id, "status": status, "code": code, "msg": msg}
    if attempts is not None:
        payload["attempts"] = attempts
    payload["ts"] = int(time.time())
    return payload


def tele_batches(events: list[bytes], max_bytes: int = TELE_BATCH_BYTES) -> list[bytes]:
    """send_tele: events (one JSON line each) as JSON arrays of whole events, each at most
    `max_bytes` (counting a separator per event), one message per array."""
    batches: list[list[bytes]] = []
    size = 0
    for event in events:
        if not batches or (batches[-1] and size + len(event) + 1 > max_bytes):
            batches.append([])
            size = 0
        batches[-1].append(event)
        size += len(event) + 1
    return [b"[" + b",".join(batch) + b"]" for batch in batches]
