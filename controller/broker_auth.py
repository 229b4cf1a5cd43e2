"""The broker's accounts and ACLs: Mosquitto's password and ACL files, written from PostgreSQL.

Every router logs in to the broker as username = its router id with its own password; only the
hash is stored (`routers.mqtt_password_hash`, Mosquitto's PBKDF2-SHA512 `$7$` format, so the
broker checks it without Portico). Portico's own processes log in with service accounts: the
controller and the portal, each limited to what it needs. The ACL lets a router publish only
on `ap/v1/<its id>/{status,ack,evt,tele,state,capture}` and read only
`ap/v1/<its id>/{cmd,desired}`.

PostgreSQL is the source of truth. `BrokerFiles.sync()` writes both files from it and makes
the broker reload them (SIGHUP) when they changed; `keep_in_sync()` does so whenever a router
gets a password or is revoked (a NOTIFY on `CHANNEL`), and every `RESYNC_INTERVAL` seconds in
case a notification was missed. On a reload Mosquitto 2 checks every connected client against
the new password file and disconnects those whose account is gone: revoking a router cuts it
off at once (tests/controller/test_broker_auth.py shows it).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import logging
import os
import random
import re
import secrets
import signal
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import asyncpg

from controller import topics
from kernel.mqtt import parse_mqtt_url
from kernel.sql import load_queries

log = logging.getLogger("portico.controller.broker")
queries = load_queries(__file__)

CHANNEL = "portico_broker_accounts"  # NOTIFY payload: the router id whose account changed
RESYNC_INTERVAL = 30.0  # seconds between full syncs, should a notification be missed
COALESCE = 0.05  # seconds to wait after a notification for the ones that follow it
PASSWD_NAME = "portico.passwd"  # noqa: S105 - a file name
ACL_NAME = "portico.acl"

CONTROLLER_USER = "portico.controller"
PORTAL_USER = "portico.portal"
ROLES = ("controller", "portal")
# A dot is not allowed in a router id, so no router can ever take a service account's name.
SERVICE_USER = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_.-]+$")

# Mosquitto's own default (mosquitto_passwd). Router passwords are 32 random characters, so
# the work factor protects nothing; the broker pays it at every CONNECT, and for every
# connected client at every reload.
PBKDF2_ITERATIONS = 101
SALT_BYTES = 12  # as mosquitto_passwd
HASH_BYTES = 64  # SHA-512
_HASH = re.compile(r"^\$7\$(\d+)\$([A-Za-z0-9+/]+=*)\$([A-Za-z0-9+/]+=*)$")

ROUTER_PUBLISHES = ("status", "ack", "evt", "tele", "state", "capture")
ROUTER_READS = ("cmd", "desired")
# Both ways, for the router alone: the agent's ping to itself after it applied a desired
# configuration (docs/mqtt-contract.md, desired).
ROUTER_ECHO = "echo"
# What each service account may do. The controller reads what routers report and sends
# commands and desired configurations; the portal only sends commands and reads their acks.
SERVICE_RULES = {
    "controller": [
        *(f"topic read {topics.ROOT}/+/{leaf}" for leaf in ROUTER_PUBLISHES),
        *(f"topic write {topics.ROOT}/+/{leaf}" for leaf in ROUTER_READS),
    ],
    "portal": [f"topic write {topics.ROOT}/+/cmd", f"topic read {topics.ROOT}/+/ack"],
}


class BrokerAuthError(ValueError):
    """A broker account or file that cannot work; the message says which and why."""


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """`password` in Mosquitto's `$7$` format: PBKDF2-HMAC-SHA512, as mosquitto_passwd writes."""
    salt = secrets.token_bytes(SALT_BYTES) if salt is None else salt
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, PBKDF2_ITERATIONS, HASH_BYTES)
    return (
        f"$7${PBKDF2_ITERATIONS}${base64.b64encode(salt).decode()}"
        f"${base64.b64encode(digest).decode()}"
    )


def verify_password(password: str, encoded: str) -> bool:
    match = _HASH.match(encoded)
    if not match:
        return False
    iterations, salt, digest = int(match[1]), base64.b64decode(match[2]), base64.b64decode(match[3])
    mine = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations, len(digest))
    return hmac.compare_digest(mine, digest)


def new_password() -> str:
    """A router's or service account's password: 32 URL-safe characters (192 bits)."""
    return secrets.token_urlsafe(24)


@dataclass(frozen=True)
class ServiceAccount:
    """One of Portico's own broker accounts (not a router)."""

    username: str
    password_hash: str
    role: str  # ROLES

    def __post_init__(self) -> None:
        if not SERVICE_USER.match(self.username):
            raise BrokerAuthError(
                f"service account {self.username!r} must look like 'portico.controller': a dot "
                "keeps it apart from every router id"
            )
        if self.role not in ROLES:
            raise BrokerAuthError(f"role must be one of {ROLES}, not {self.role!r}")
        if not _HASH.match(self.password_hash):
            raise BrokerAuthError(f"{self.username}: the password hash is not Mosquitto's $7$")


@dataclass(frozen=True)
class GeneratedAccount:
    """A service account made up at start (the embedded broker's): its URL carries the password."""

    account: ServiceAccount
    url: str


def generate_account(role: str, host: str, port: int) -> GeneratedAccount:
    username = {"controller": CONTROLLER_USER, "portal": PORTAL_USER}[role]
    password = new_password()
    account = ServiceAccount(username, hash_password(password), role)
    return GeneratedAccount(account, f"mqtt://{username}:{quote(password, safe='')}@{host}:{port}")


def account_from_url(url: str, role: str) -> ServiceAccount:
    """The service account an MQTT URL logs in with (`mqtt://portico.portal:secret@host`)."""
    address = parse_mqtt_url(url)
    if not address.username or not address.password:
        raise BrokerAuthError(
            f"the {role}'s MQTT URL has no username and password; a broker Portico administers "
            "needs them (e.g. mqtts://portico.controller:SECRET@mqtt.example.com:8883)"
        )
    # A salt derived from the account: every controller process writes the same line, so two
    # of them never take turns rewriting the file (and reloading the broker) with new salts.
    salt = hashlib.sha256(f"{address.username}:{address.password}".encode()).digest()[:SALT_BYTES]
    return ServiceAccount(address.username, hash_password(address.password, salt=salt), role)


def password_file(accounts: Sequence[ServiceAccount], routers: Sequence[tuple[str, str]]) -> str:
    """Mosquitto's password file: `username:hash` a line; routers are (router id, hash)."""
    lines = [f"{a.username}:{a.password_hash}" for a in accounts]
    for router_id, password_hash in routers:
        if not topics.ROUTER_ID.match(router_id) or not _HASH.match(password_hash):
            raise BrokerAuthError(f"router {router_id!r} has an unusable id or password hash")
        lines.append(f"{router_id}:{password_hash}")
    return "\n".join(lines) + "\n"


def acl_file(accounts: Sequence[ServiceAccount]) -> str:
    """Mosquitto's ACL file: the router patterns (%u = username = router id), then each
    service account's topics. Anything not allowed is denied."""
    lines = [
        "# Written by Portico (controller/broker_auth.py) from PostgreSQL; edits are overwritten.",
        "# Routers: username = router id; each touches only its own subtree.",
        *(f"pattern write {topics.ROOT}/%u/{leaf}" for leaf in ROUTER_PUBLISHES),
        *(f"pattern read {topics.ROOT}/%u/{leaf}" for leaf in ROUTER_READS),
        f"pattern readwrite {topics.ROOT}/%u/{ROUTER_ECHO}",
    ]
    for account in accounts:
        lines += ["", f"user {account.username}", *SERVICE_RULES[account.role]]
    return "\n".join(lines) + "\n"


def pid_file_reloader(pid_file: Path) -> Callable[[], None]:
    """Reload a Mosquitto that runs outside Portico: SIGHUP to the pid in its pid file."""

    def reload() -> None:
        try:
            pid = int(pid_file.read_text().strip())
        except (OSError, ValueError) as exc:
            raise BrokerAuthError(f"cannot read Mosquitto's pid from {pid_file}: {exc}") from exc
        try:
            os.kill(pid, signal.SIGHUP)
        except OSError as exc:
            raise BrokerAuthError(f"cannot signal Mosquitto (pid {pid}): {exc}") from exc

    return reload


class BrokerFiles:
    """Mosquitto's password and ACL files in `directory`, and how to make the broker reload."""

    def __init__(
        self,
        directory: Path,
        accounts: Sequence[ServiceAccount],
        reload: Callable[[], None] | None = None,
    ) -> None:
        names = [a.username for a in accounts]
        if len(set(names)) != len(names):
            raise BrokerAuthError(f"service accounts named twice: {names}")
        self.directory = directory
        self.accounts = list(accounts)
        self.reload = reload
        self.passwd_path = directory / PASSWD_NAME
        self.acl_path = directory / ACL_NAME
        self._lock = asyncio.Lock()

    def write(self, routers: Sequence[tuple[str, str]]) -> bool:
        """Write both files (atomically); True when either changed."""
        self.directory.mkdir(parents=True, exist_ok=True)
        changed = _replace(self.passwd_path, password_file(self.accounts, routers))
        return _replace(self.acl_path, acl_file(self.accounts)) or changed

    async def sync(self, db: asyncpg.Pool | asyncpg.Connection) -> bool:
        """Write the files from PostgreSQL; reload the broker when they changed."""
        async with self._lock:
            rows = await db.fetch(queries.broker_router_accounts)
            routers = [(r["router_id"], r["mqtt_password_hash"]) for r in rows]
            if not self.write(routers):
                return False
            if self.reload is not None:
                self.reload()
            log.info(
                "broker accounts written (%d routers)%s",
                len(routers),
                "; broker reloaded" if self.reload is not None else "",
            )
            return True


def _replace(path: Path, text: str) -> bool:
    if path.exists() and path.read_text() == text:
        return False
    tmp = path.with_name(path.name + ".tmp")
    # Only the broker (running as our user) reads the hashes.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    tmp.replace(path)  # the broker never reads a half-written file
    return True


async def keep_in_sync(files: BrokerFiles, db: asyncpg.Pool, database_url: str) -> None:
    """Sync the broker's files whenever an account changes (LISTEN), and every RESYNC_INTERVAL.

    Runs until cancelled. A lost database connection is retried with back-off; a failed sync
    is logged and retried at the next change or interval, and never ends the loop.
    """
    wake = asyncio.Event()
    backoff = 1.0
    while True:
        conn: asyncpg.Connection | None = None
        try:
            # LISTEN needs a connection of its own: pooled ones are handed back without a reset.
            conn = await asyncpg.connect(database_url)
            await conn.add_listener(CHANNEL, lambda *_: wake.set())
            backoff = 1.0
            while not conn.is_closed():
                wake.clear()  # before reading: a change committed meanwhile wakes us again
                await _sync_logged(files, db)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), RESYNC_INTERVAL)
                    # A burst of changes (routers added in one go) makes one reload.
                    await asyncio.sleep(COALESCE)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            log.warning("broker account sync lost the database (%s); retrying", exc)
        finally:
            if conn is not None and not conn.is_closed():
                await conn.close()
        await asyncio.sleep(backoff + random.random() * backoff)
        backoff = min(backoff * 2, 30.0)


async def _sync_logged(files: BrokerFiles, db: asyncpg.Pool) -> None:
    try:
        await files.sync(db)
    except (BrokerAuthError, OSError) as exc:
        log.error("could not update the broker's accounts: %s", exc)
