"""A real openNDS in network namespaces of its own (docs/real-gateway-tests.md).

Topology (every name carries a random suffix, so parallel runs never collide):

    <p>-client1..N        <p>-gateway                        <p>-wan
    eth0 192.168.77.1x -- lanX ports of br-lan 192.168.77.1  wan0 10.200.0.2 (the portal)
                          gw-wan 10.200.0.1             --        10.200.0.99 (a web site)

openNDS runs in the gateway's network namespace and in a mount namespace of its own
(`unshare -m`), where OPENNDS_ROOT/etc and OPENNDS_ROOT/usr are overlay-mounted over /etc and
/usr, /tmp is a private tmpfs (openNDS keeps its socket, heartbeat and logs there) and /dev gets
an overlay so that busybox syslogd can own /dev/log (openNDS logs only through syslog). The
host's /etc, /usr, /tmp and /dev are not changed. The agent runs in the same namespaces with the
real /usr/bin/ndsctl. No `uci` is provided: without it openNDS's libopennds.sh
(get_option_from_config, get_list_from_config) reads /etc/config/opennds itself, and the agent
takes its settings from PORTICO_* variables.

Sockets for the portal (wan namespace) and for the MQTT relay (gateway loopback, forwarded to
the broker in the root namespace) are opened in those namespaces by a short-lived thread that
calls setns(2), so the servers themselves run in the test's event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import datetime
import ipaddress
import os
import shutil
import signal
import socket
import ssl
import subprocess
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

OPENNDS_ROOT = os.environ.get("OPENNDS_ROOT", "")
SKIP_NO_ROOT = "set OPENNDS_ROOT to an openNDS install tree; see docs/real-gateway-tests.md"
TOOLS = ("ip", "unshare", "nsenter", "nft", "busybox", "mosquitto_sub", "mosquitto_pub", "mount")

LAN_PREFIX = "192.168.77"
GATEWAY_IP = f"{LAN_PREFIX}.1"
GATEWAY_PORT = 2050
WAN_GATEWAY_IP = "10.200.0.1"
PORTAL_IP = "10.200.0.2"
PORTAL_PORT = 8080
ORIGIN_IP = "10.200.0.99"  # the site a phone tries first; intercepted by openNDS
CMD_TIMEOUT = 20.0  # seconds, the bound of every command the harness runs
CLONE_NEWNET = 0x40000000


def skip_reason() -> str | None:
    """Why the real-gateway tests cannot run here, or None."""
    if not OPENNDS_ROOT:
        return SKIP_NO_ROOT
    root = Path(OPENNDS_ROOT)
    missing = [
        p
        for p in ("usr/bin/opennds", "usr/bin/ndsctl", "usr/lib/opennds/libopennds.sh", "etc")
        if not (root / p).exists()
    ]
    if missing:
        return f"OPENNDS_ROOT={root} lacks {', '.join(missing)}; see docs/real-gateway-tests.md"
    if os.geteuid() != 0:
        return "real-gateway tests need root (network and mount namespaces)"
    tools = [tool for tool in TOOLS if shutil.which(tool) is None]
    if tools:
        return f"missing {', '.join(tools)} (apt-get install iproute2 util-linux nftables ...)"
    return None


def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, check=check, capture_output=True, text=True, timeout=CMD_TIMEOUT, stdin=None
    )


def client_mac(index: int) -> str:
    return f"02:50:00:00:00:{index:02x}"


def client_ip(index: int) -> str:
    return f"{LAN_PREFIX}.{10 + index}"


# ---------------------------------------------------------------------------- namespaces


def socket_in_netns(netns: str, host: str, port: int) -> socket.socket:
    """A listening, non-blocking TCP socket bound inside network namespace `netns`."""
    libc = ctypes.CDLL(None, use_errno=True)
    result: dict[str, socket.socket | BaseException] = {}

    def work() -> None:
        try:
            with open(f"/run/netns/{netns}") as handle:
                if libc.setns(handle.fileno(), CLONE_NEWNET) != 0:
                    raise OSError(ctypes.get_errno(), f"setns {netns}")
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
            sock.listen(128)
            sock.setblocking(False)
            result["sock"] = sock
        except BaseException as exc:  # reported in the caller's thread
            result["error"] = exc

    thread = threading.Thread(target=work, name=f"setns-{netns}")
    thread.start()
    thread.join(CMD_TIMEOUT)
    outcome = result.get("sock") or result.get("error")
    if isinstance(outcome, socket.socket):
        return outcome
    raise RuntimeError(f"no socket in {netns} for {host}:{port}: {outcome!r}")


@dataclass
class Topology:
    clients: int
    prefix: str = field(default_factory=lambda: f"ptc{uuid.uuid4().hex[:6]}")
    created: list[str] = field(default_factory=list)

    @property
    def gateway(self) -> str:
        return f"{self.prefix}-gateway"

    @property
    def wan(self) -> str:
        return f"{self.prefix}-wan"

    def client(self, index: int) -> str:
        return f"{self.prefix}-client{index}"

    def _ns(self, name: str) -> None:
        run("ip", "netns", "add", name)
        self.created.append(name)
        run("ip", "-n", name, "link", "set", "lo", "up")

    def create(self) -> None:
        gw, wan = self.gateway, self.wan
        self._ns(gw)
        self._ns(wan)
        run("ip", "-n", gw, "link", "add", "br-lan", "type", "bridge")
        run("ip", "-n", gw, "addr", "add", f"{GATEWAY_IP}/24", "dev", "br-lan")
        run("ip", "-n", gw, "link", "set", "br-lan", "up")
        run(
            "ip",
            "link",
            "add",
            "gw-wan",
            "netns",
            gw,
            "type",
            "veth",
            "peer",
            "name",
            "wan0",
            "netns",
            wan,
        )
        run("ip", "-n", gw, "addr", "add", f"{WAN_GATEWAY_IP}/24", "dev", "gw-wan")
        run("ip", "-n", gw, "link", "set", "gw-wan", "up")
        run("ip", "-n", gw, "route", "add", "default", "via", PORTAL_IP)
        run("ip", "netns", "exec", gw, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        for address in (PORTAL_IP, ORIGIN_IP):
            run("ip", "-n", wan, "addr", "add", f"{address}/24", "dev", "wan0")
        run("ip", "-n", wan, "link", "set", "wan0", "up")
        run("ip", "-n", wan, "route", "add", "default", "via", WAN_GATEWAY_IP)
        for index in range(1, self.clients + 1):
            name = self.client(index)
            self._ns(name)
            port = f"lan{index}"
            run(
                "ip",
                "link",
                "add",
                "eth0",
                "netns",
                name,
                "type",
                "veth",
                "peer",
                "name",
                port,
                "netns",
                gw,
            )
            run("ip", "-n", gw, "link", "set", port, "master", "br-lan")
            run("ip", "-n", gw, "link", "set", port, "up")
            run("ip", "-n", name, "link", "set", "eth0", "address", client_mac(index))
            run("ip", "-n", name, "addr", "add", f"{client_ip(index)}/24", "dev", "eth0")
            run("ip", "-n", name, "link", "set", "eth0", "up")
            run("ip", "-n", name, "route", "add", "default", "via", GATEWAY_IP)

    def destroy(self) -> list[str]:
        errors = []
        for name in reversed(self.created):
            done = run("ip", "netns", "del", name, check=False)
            if done.returncode != 0:
                errors.append(f"ip netns del {name}: {done.stderr.strip()}")
        self.created.clear()
        return errors


# ---------------------------------------------------------------------------- openNDS

# The first process of the gateway's mount namespace. `cd` first: after /tmp is covered by a
# tmpfs, the work directory (under the host's /tmp) is bound back from the working directory.
NS_SETUP = r"""#!/bin/sh
set -eu
root=$1
work=$2
cd "$work"
for dir in etc usr; do
	mount -t overlay overlay \
		-o "lowerdir=$root/$dir:/$dir,upperdir=$work/$dir.upper,workdir=$work/$dir.work" "/$dir"
done
mount -t overlay overlay -o "lowerdir=/dev,upperdir=$work/dev.upper,workdir=$work/dev.work" /dev
mount -t tmpfs tmpfs /tmp
mkdir -p "$work"
mount --no-canonicalize --bind . "$work"
cp "$work/opennds.conf" /etc/config/opennds
busybox syslogd -n -O "$work/syslog" &
echo "$!" >"$work/syslogd.pid"
echo ready >"$work/ns.ready"
exec sleep 2147483647
"""

OPENNDS_CONF = """config opennds 'setup'
	option enabled '1'
	option debuglevel '3'
	option gatewayinterface 'br-lan'
	option gatewayname 'Portico Real Gateway'
	option fasport '{fasport}'
	option fasremoteip '{fasremoteip}'
	option faspath '{faspath}'
	option fas_secure_enabled '{fas_level}'
	option login_option_enabled '0'
	option faskey '{faskey}'
	option dhcp_leases_file '{leases}'
"""


# Opt-in refusals (OpenNDS(refusals=True)): openNDS runs this in place of binauth_log.sh
# (option binauth_deprecated, read by conf.c). It runs binauth_log.sh as usual and then, while
# /tmp/portico-refusals holds a count above 0, fails an `ndsctl auth` grant: what a grant that
# loses the binauth race looks like to everyone outside openNDS (the script ran to the end,
# binauth_action() returns non-zero, auth_change_state() refuses, ndsctl prints "Failed to
# authenticate client", the client stays Preauthenticated), on demand instead of by chance.
REFUSING_BINAUTH = """#!/bin/sh
/usr/lib/opennds/binauth_log.sh "$@"
rc=$?
left=$(cat /tmp/portico-refusals 2>/dev/null)
if [ "$1" = ndsctl_auth ] && [ "${left:-0}" -gt 0 ]; then
	echo $((left - 1)) >/tmp/portico-refusals
	logger -t portico-test "refused ndsctl_auth of $2 ($((left - 1)) refusals left)"
	exit 1
fi
exit $rc
"""
REFUSING_BINAUTH_PATH = "/usr/lib/opennds/portico-test-binauth.sh"


@dataclass
class OpenNDS:
    """openNDS (and whatever else is started with `spawn`) in the gateway's namespaces."""

    topology: Topology
    root: Path
    work: Path
    faskey: str
    faspath: str
    fas_level: int = 1
    ca_file: Path | None = None  # level 3: the CA php-cli (authmon) trusts for the https FAS
    refusals: bool = False  # binauth through REFUSING_BINAUTH; set_refusals() arms it
    holder: subprocess.Popen[bytes] | None = None
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    daemon: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0

    def prepare(self, clients: int) -> None:
        for name in ("etc", "usr", "dev"):
            (self.work / f"{name}.upper").mkdir(parents=True)
            (self.work / f"{name}.work").mkdir()
        (self.work / "ns-setup.sh").write_text(NS_SETUP)
        leases = self.work / "dhcp.leases"
        expiry = int(time.time()) + 86400
        leases.write_text(
            "".join(
                f"{expiry} {client_mac(i)} {client_ip(i)} phone{i} *\n"
                for i in range(1, clients + 1)
            )
        )
        (self.work / "opennds.conf").write_text(
            OPENNDS_CONF.format(
                fasport=PORTAL_PORT,
                fasremoteip=PORTAL_IP,
                faspath=self.faspath,
                faskey=self.faskey,
                leases=leases,
                fas_level=self.fas_level,
            )
        )
        if self.refusals:
            hook = self.work / "usr.upper" / REFUSING_BINAUTH_PATH.removeprefix("/usr/")
            hook.parent.mkdir(parents=True, exist_ok=True)
            hook.write_text(REFUSING_BINAUTH)
            hook.chmod(0o755)
            with (self.work / "opennds.conf").open("a") as conf:
                conf.write(f"\toption binauth_deprecated '{REFUSING_BINAUTH_PATH}'\n")
        if self.fas_level == 3:
            self._prepare_level_3()

    async def set_refusals(self, count: int) -> None:
        """Make openNDS refuse the next `count` ndsctl auth grants (REFUSING_BINAUTH)."""
        assert self.refusals, "started without refusals=True"
        proc = await asyncio.create_subprocess_exec(
            *self.nsenter(), "sh", "-c", f"echo {int(count)} >/tmp/portico-refusals"
        )
        assert await asyncio.wait_for(proc.wait(), CMD_TIMEOUT) == 0

    def _prepare_level_3(self) -> None:
        """What an OpenWrt router at level 3 has and a Debian host lacks, inside the namespace
        only: /bin/sh is busybox ash (authmon.sh uses `${var:0:1}`, which dash refuses), and
        php-cli trusts the CA of the portal's test certificate (authmon's post-request.php
        opens the https fas_url with PHP's default peer verification)."""
        bin_dir = self.work / "usr.upper" / "bin"
        bin_dir.mkdir(parents=True, exist_ok=True)
        (bin_dir / "sh").symlink_to(shutil.which("busybox") or "/usr/bin/busybox")
        assert self.ca_file is not None, "level 3 needs ca_file"
        for conf_d in Path("/etc/php").glob("*/cli/conf.d"):
            upper = self.work / "etc.upper" / conf_d.relative_to("/etc")
            upper.mkdir(parents=True, exist_ok=True)
            (upper / "99-portico-test-ca.ini").write_text(f"openssl.cafile={self.ca_file}\n")

    def enter(self) -> None:
        """Start the mount namespace's first process and wait until its mounts are made."""
        out = (self.work / "ns-setup.out").open("ab")
        with out:
            self.holder = subprocess.Popen(
                [
                    *("ip", "netns", "exec", self.topology.gateway),
                    *("unshare", "-m", "--propagation", "private"),
                    *("sh", str(self.work / "ns-setup.sh"), str(self.root), str(self.work)),
                ],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + CMD_TIMEOUT
        while not (self.work / "ns.ready").exists():
            if self.holder.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    "the gateway's mount namespace did not come up: "
                    + (self.work / "ns-setup.out").read_text()
                )
            time.sleep(0.05)

    def nsenter(self) -> list[str]:
        assert self.holder is not None
        return ["nsenter", "-t", str(self.holder.pid), "-m", "-n", "--"]

    def spawn(self, argv: list[str], log: Path, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
        with log.open("ab") as out:
            proc = subprocess.Popen(
                self.nsenter() + argv,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.processes.append(proc)
        return proc

    def start(self) -> None:
        self.started_at = time.monotonic()
        self.daemon = self.spawn(["/usr/bin/opennds", "-f", "-d", "3"], self.work / "opennds.out")

    async def ndsctl(self, *args: str, timeout: float = CMD_TIMEOUT) -> tuple[int, str, str]:
        proc = await asyncio.create_subprocess_exec(
            *self.nsenter(),
            "/usr/bin/ndsctl",
            *args,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            out, err = await asyncio.wait_for(proc.communicate(), timeout)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            raise
        return proc.returncode or 0, out.decode(errors="replace"), err.decode(errors="replace")

    async def wait_ready(self, timeout: float = 90.0) -> list[str]:
        """Poll `ndsctl status` until it answers; returns the distinct failures seen."""
        deadline = time.monotonic() + timeout
        seen: list[str] = []
        while True:
            assert self.daemon is not None
            if self.daemon.poll() is not None:
                raise RuntimeError(f"openNDS exited: {self.output()[-2000:]}")
            rc, out, err = await self.ndsctl("status")
            if rc == 0 and "openNDS Status" in out:
                return seen
            line = f"exit {rc}: {(err or out).strip()}"
            if line not in seen:
                seen.append(line)
            if time.monotonic() > deadline:
                raise RuntimeError(f"ndsctl did not answer in {timeout}s: {seen}")
            await asyncio.sleep(0.25)

    def race_possible(self) -> str:
        """Whether openNDS still catches SIGCHLD (bit 16 of SigCgt in /proc/<pid>/status).

        The binauth race needs sigchld_handler() (src/main.c) installed. _execute_ret()
        (src/util.c) sets SIGCHLD to SIG_DFL around every popen and restores what it saved;
        two threads doing that at once can lose the handler for the rest of the process, and
        from then on openNDS refuses no grant by accident."""
        assert self.daemon is not None
        try:
            status = Path(f"/proc/{self.daemon.pid}/status").read_text()
        except OSError as exc:
            return f"unknown ({exc.strerror})"
        fields = dict(line.split(":\t", 1) for line in status.splitlines() if ":\t" in line)
        if fields.get("Name", "").strip() != "opennds":
            return f"unknown (pid {self.daemon.pid} is {fields.get('Name', '?').strip()})"
        caught = int(fields["SigCgt"].strip(), 16) & (1 << 16)
        return "yes (sigchld_handler installed)" if caught else "no (sigchld_handler lost)"

    def output(self) -> str:
        path = self.work / "opennds.out"
        return path.read_text(errors="replace") if path.exists() else ""

    def syslog(self) -> str:
        path = self.work / "syslog"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> list[str]:
        """Stop everything started here, then the namespace; returns what went wrong."""
        errors: list[str] = []
        for proc in reversed(self.processes):
            errors += _terminate(proc, grace=15.0 if proc is self.daemon else 5.0)
        pid_file = self.work / "syslogd.pid"
        if pid_file.exists():
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(pid_file.read_text().strip()), signal.SIGTERM)
        if self.holder is not None:
            errors += _terminate(self.holder, grace=5.0)
        return errors


def _terminate(proc: subprocess.Popen[bytes], grace: float) -> list[str]:
    if proc.poll() is not None:
        return []
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(grace)
        return []
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)
        return [f"pid {proc.pid} ({proc.args!r}) needed SIGKILL"]


# ---------------------------------------------------------------------------- MQTT relay


class Relay:
    """Forwards TCP connections accepted on a socket (in another netns) to host:port."""

    def __init__(self, sock: socket.socket, host: str, port: int) -> None:
        self.sock, self.host, self.port = sock, host, port
        self.server: asyncio.Server | None = None
        self.writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._handle, sock=self.sock)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.add(writer)
        try:
            up_reader, up_writer = await asyncio.open_connection(self.host, self.port)
        except OSError:
            writer.close()
            self.writers.discard(writer)
            return
        self.writers.add(up_writer)
        await asyncio.gather(
            self._pipe(reader, up_writer), self._pipe(up_reader, writer), return_exceptions=True
        )

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        finally:
            writer.close()
            self.writers.discard(writer)

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
        for writer in list(self.writers):
            writer.close()
        if self.server is not None:
            await self.server.wait_closed()


def poll(check: Callable[[], object], timeout: float, step: float = 0.1) -> object:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(step)


# ---------------------------------------------------------------------------- TLS (level 3)


def make_test_tls(work: Path, ip: str) -> tuple[ssl.SSLContext, Path]:
    """A throwaway CA and a server certificate for `ip` (openNDS enforces https for the FAS at
    level 3, main.c "enforcing https for Level >= 3"). Returns the server context and the CA."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Portico test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ip)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(ip))]), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    ca_file = work / "test-ca.pem"
    ca_file.write_bytes(ca.public_bytes(pem))
    (work / "portal.pem").write_bytes(
        cert.public_bytes(pem)
        + key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(work / "portal.pem")
    return context, ca_file
