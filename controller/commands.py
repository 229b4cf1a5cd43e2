"""Sending commands to routers and waiting for their acks.

A `CommandSender` keeps one MQTT connection (reconnecting by itself), subscribes to every
router's `ack` topic and matches acks to the commands it sent by id. Each command is written
to PostgreSQL before it is published, and its outcome (ack or timeout) afterwards.

A grant (`auth` or `restore`) the sender gave up on may still be carried out: the router got
the command and acks `done` after the portal showed its failure page and stored no session.
The sender remembers such commands (router and MAC) for the command's lifetime; when one is
acked `done` late, it sends a compensating `deauth` for that MAC, unless the client is wanted
after all: a later grant for the same MAC succeeded (the shopper's Try again), or, where a
`client_wanted` check is wired in, an active session needs the client.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import aiomqtt
import asyncpg

from controller import topics
from kernel.batch import GroupCommit
from kernel.errors import PorticoError
from kernel.mqtt import make_client
from kernel.sql import load_queries

log = logging.getLogger("portico.controller.commands")
queries = load_queries(__file__)


class CommandFailed(PorticoError):
    """The router did not confirm the command."""

    message_id = "error_router"
    status = 503
    retry_same_request = True  # a late or lost ack: a new command usually goes through


class RouterUnreachable(CommandFailed):
    """No ack within the time bound, or no connection to the broker."""

    def __init__(self, message: str, command_id: str | None = None) -> None:
        super().__init__(message)
        self.command_id = command_id  # the command that got no ack (to resend it)


@dataclass(frozen=True)
class Ack:
    command_id: str
    status: str
    code: str
    msg: str
    attempts: int | None = None  # ndsctl calls the router made (auth, restore, deauth)
    diag: dict[str, Any] | None = None  # the facts of a `diagnostics` ack

    @property
    def ok(self) -> bool:
        return self.status == "done"


@dataclass(frozen=True)
class RouterRef:
    merchant_id: Any
    router_id: str


# "Does an active session need this client on this router?" (the composition root wires the
# portal's answer; the controller cannot read the portal's sessions itself).
ClientWanted = Callable[[RouterRef, str], Awaitable[bool]]

GRANT_OPS = ("auth", "restore")
# How many given-up grants the sender remembers at most (the oldest are forgotten first).
MAX_GIVEN_UP = 10_000


@dataclass(frozen=True)
class GivenUp:
    """A grant whose ack did not come in time: what a late `done` would have to undo."""

    router: RouterRef
    op: str
    mac: str
    forget_at: float  # time.monotonic(): after this the router can no longer carry it out
    sent_by: str  # the compensating deauth is on record as sent by whoever sent the grant


SENT_BY = re.compile(r"^(portal|controller|cli|console|user:[0-9a-f-]{36})$")


class CommandSender:
    def __init__(
        self,
        mqtt_url: str,
        db: asyncpg.Pool,
        *,
        ack_timeout: float = 5.0,
        grant_timeout: float | None = None,
        ttl: int = 30,
        client_wanted: ClientWanted | None = None,
        origin: str = "controller",
    ) -> None:
        """`grant_timeout`: the wait for `auth` and `restore` (default: `ack_timeout`). A real
        openNDS refuses good grants by accident, in runs, and each try takes it about a second
        (its binauth script runs every time), so the agent needs room for several tries.
        `origin`: who its commands are on record as sent by, unless `send()` names someone
        (migration 0012: portal, controller, cli, console, or `user:<id>`)."""
        if not SENT_BY.match(origin):
            raise ValueError(f"unknown command origin {origin!r}")
        self.origin = origin
        self._mqtt_url = mqtt_url
        self._db = db
        self._ack_timeout = ack_timeout
        self._grant_timeout = grant_timeout or ack_timeout
        self._ttl = ttl
        self.client_wanted = client_wanted
        self._client: aiomqtt.Client | None = None
        self._connected = asyncio.Event()
        self._pending: dict[str, asyncio.Future[Ack]] = {}
        self._given_up: dict[str, GivenUp] = {}
        self._compensations: set[asyncio.Task[None]] = set()
        self._task: asyncio.Task[None] | None = None
        # Each command is on record before it goes out; concurrent sends share one INSERT.
        self._command_log: GroupCommit[tuple[Any, ...]] = GroupCommit(
            self._insert_commands, name="command-log"
        )

    async def _insert_commands(self, rows: list[tuple[Any, ...]]) -> None:
        await self._db.execute(queries.insert_commands, *map(list, zip(*rows, strict=True)))

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="command-sender")
        try:
            await asyncio.wait_for(self._connected.wait(), timeout=10)
        except TimeoutError:
            log.error("command sender: no connection to the broker yet; will keep trying")

    async def stop(self) -> None:
        for task in list(self._compensations):
            task.cancel()
        for task in list(self._compensations):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def send(
        self,
        router: RouterRef,
        op: str,
        args: dict[str, Any],
        timeout: float | None = None,
        *,
        record_ack: bool = True,
        resend: str | None = None,
        sent_by: str | None = None,
    ) -> Ack:
        """Publish a command and wait for its ack; RouterUnreachable when none comes in time.

        With `record_ack=False` the caller stores the ack (`record_ack()`) in its own
        transaction, together with what the command achieved.

        `resend`: the id of a command sent before that got no ack; it goes out again under the
        same id (with a new `exp`), so a router that did receive it answers `duplicate` with
        the first outcome instead of carrying it out twice (contract: cmd, `id`).

        `sent_by`: who the audit log names (`user:<id>` for a console user); default the
        sender's origin.
        """
        sent_by = sent_by or self.origin
        if not SENT_BY.match(sent_by):
            raise ValueError(f"unknown command origin {sent_by!r}")
        command_id = resend or uuid.uuid4().hex
        expires = datetime.now(UTC) + timedelta(seconds=self._ttl)
        if resend is None:
            await self._command_log.add(
                (router.merchant_id, command_id, router.router_id, op, args, expires, sent_by)
            )
        else:
            self._given_up.pop(command_id, None)  # its ack is awaited again
            found = await self._db.fetchval(
                queries.resend_command, router.merchant_id, command_id, router.router_id, expires
            )
            if not found:
                raise ValueError(f"no command {command_id} on router {router.router_id} to resend")
        future: asyncio.Future[Ack] = asyncio.get_running_loop().create_future()
        self._pending[command_id] = future
        wait = timeout or self.wait_for(op)
        try:
            await self._publish(
                router.router_id, command_id, op, args, int(expires.timestamp()), wait_ms(wait)
            )
            ack = await asyncio.wait_for(future, wait)
        except (TimeoutError, aiomqtt.MqttError) as exc:
            await self._db.execute(queries.record_timeout, router.merchant_id, command_id)
            self._remember_given_up(command_id, router, op, args, wait, sent_by)
            log.error(
                "command %s %s to router %s got no ack: %s",
                command_id,
                op,
                router.router_id,
                type(exc).__name__,
            )
            raise RouterUnreachable(
                f"router {router.router_id} did not answer", command_id
            ) from exc
        finally:
            self._pending.pop(command_id, None)
        if record_ack:
            await store_ack(self._db, router, ack)
        return ack

    async def wait_connected(self, timeout: float) -> None:
        """Return once the sender has its broker connection; TimeoutError after `timeout`."""
        await asyncio.wait_for(self._connected.wait(), timeout)

    async def publish(self, topic_name: str, payload: bytes, *, retain: bool = False) -> None:
        """One QoS 1 message on the sender's connection (a retained desired document)."""
        if not self._connected.is_set():
            await asyncio.wait_for(self._connected.wait(), timeout=5)
        assert self._client is not None
        await self._client.publish(topic_name, payload, qos=1, retain=retain)

    async def _publish(
        self, router_id: str, command_id: str, op: str, args: dict[str, Any], exp: int, wait: int
    ) -> None:
        if not self._connected.is_set():
            await asyncio.wait_for(self._connected.wait(), timeout=1)
        assert self._client is not None
        payload = topics.encode(
            {"id": command_id, "op": op, "args": args, "exp": exp, "wait_ms": wait}
        )
        await self._client.publish(topics.topic(router_id, "cmd"), payload, qos=1)

    async def _run(self) -> None:
        backoff = 0.5
        while True:
            try:
                async with make_client(self._mqtt_url, "commands") as client:
                    await client.subscribe(f"{topics.ROOT}/+/ack", qos=1)
                    self._client = client
                    self._connected.set()
                    backoff = 0.5
                    log.info("command sender connected to the broker")
                    async for message in client.messages:
                        self._on_ack(str(message.topic), message.payload)
            except aiomqtt.MqttError as exc:
                log.warning("command sender lost the broker (%s); reconnecting", exc)
            finally:
                self._connected.clear()
                self._client = None
            await asyncio.sleep(backoff + random.random() * backoff)
            backoff = min(backoff * 2, 10)

    def _on_ack(self, topic_name: str, payload: Any) -> None:
        try:
            router_id, _leaf = topics.split_topic(topic_name)
            data = topics.decode(payload)
            command_id = data.get("id")
            status = data.get("status")
            if not isinstance(command_id, str) or status not in topics.ACK_STATUSES:
                raise topics.BadMessage(f"ack without a valid id/status: {data!r}")
        except topics.BadMessage as exc:
            log.warning("ignored a bad ack on %s: %s", topic_name, exc)
            return
        attempts = data.get("attempts")
        if type(attempts) is not int or not 0 <= attempts <= 10_000:
            attempts = None  # absent (older agents, ping) or not a count
        diag = data.get("diag")
        ack = Ack(
            command_id,
            status,
            str(data.get("code", ""))[:64],
            str(data.get("msg", ""))[:200],
            attempts,
            diag if isinstance(diag, dict) else None,
        )
        future = self._pending.get(command_id)
        if future is not None and not future.done():
            future.set_result(ack)
            return
        given_up = self._given_up.pop(command_id, None)
        if given_up is None or given_up.router.router_id != router_id:
            # Another sender's command, or one we already gave up on that needs no undoing.
            log.debug("ack %s from %s matches no waiting command", command_id, router_id)
            return
        task = asyncio.create_task(self._late_grant(given_up, ack), name=f"late-{command_id}")
        self._compensations.add(task)
        task.add_done_callback(self._compensations.discard)

    def wait_for(self, op: str) -> float:
        """How long the sender waits for the ack of an `op` command."""
        return self._grant_timeout if op in GRANT_OPS else self._ack_timeout

    def _remember_given_up(
        self,
        command_id: str,
        router: RouterRef,
        op: str,
        args: dict[str, Any],
        wait: float,
        sent_by: str,
    ) -> None:
        mac = args.get("mac")
        if op not in GRANT_OPS or not isinstance(mac, str):
            return
        now = time.monotonic()
        for old_id, old in list(self._given_up.items()):
            if old.forget_at > now and len(self._given_up) < MAX_GIVEN_UP:
                break  # insertion order: the rest are younger
            del self._given_up[old_id]
        # The router refuses the command once `exp` (now + ttl) has passed; its ack may still
        # be on its way for the sender's wait and the trip back after that.
        forget_at = now + self._ttl + wait + 5
        self._given_up[command_id] = GivenUp(router, op, mac, forget_at, sent_by)

    async def _late_grant(self, given_up: GivenUp, ack: Ack) -> None:
        """A grant we gave up on was acked after all: record it, and undo it if nobody wants it."""
        router = given_up.router
        try:
            await self._db.execute(
                queries.record_late_ack,
                router.merchant_id,
                ack.command_id,
                ack.status,
                ack.code,
                ack.attempts,
            )
            if not ack.ok:
                log.info(
                    "late ack %s/%s for %s %s on %s: nothing to undo",
                    ack.status,
                    ack.code,
                    given_up.op,
                    ack.command_id,
                    router.router_id,
                )
                return
            reason = await self._still_wanted(given_up, ack.command_id)
            if reason:
                log.info(
                    "late done for %s %s on %s: client kept (%s)",
                    given_up.op,
                    ack.command_id,
                    router.router_id,
                    reason,
                )
                await self._record_compensation(given_up, ack.command_id, "kept", reason)
                return
            await self._compensate(given_up, ack.command_id)
        except (asyncpg.PostgresError, OSError) as exc:
            log.error("late ack %s on %s not handled: %s", ack.command_id, router.router_id, exc)

    async def _still_wanted(self, given_up: GivenUp, command_id: str) -> str:
        """Why the client must stay let through ("" if nothing needs it).

        A later grant for the same MAC that is still in flight is waited for (bounded by the
        grant wait): the shopper's Try again may be about to store a session.
        """
        router = given_up.router
        deadline = time.monotonic() + self._grant_timeout + 1
        while True:
            state = await self._db.fetchval(
                queries.later_grant_state,
                router.merchant_id,
                router.router_id,
                given_up.mac,
                command_id,
            )
            if state == "done":
                return "a later grant for the client succeeded"
            if state != "sent" or time.monotonic() >= deadline:
                break
            await asyncio.sleep(0.1)
        if self.client_wanted is not None:
            if await self.client_wanted(router, given_up.mac):
                return "an active session needs the client"
        elif given_up.op == "restore":
            # A restore is only sent for a session we verified; without a session check we
            # cannot tell that it has ended since, so the grant stays.
            return "a restore, and no session check is wired in"
        return ""

    async def _compensate(self, given_up: GivenUp, command_id: str) -> None:
        router = given_up.router
        log.warning(
            "late done for %s %s on %s: no session needs the client; sending deauth",
            given_up.op,
            command_id,
            router.router_id,
        )
        try:
            deauth = await self.send(
                router, "deauth", {"mac": given_up.mac}, sent_by=given_up.sent_by
            )
        except CommandFailed as exc:
            log.error("compensating deauth on %s got no ack: %s", router.router_id, exc)
            await self._record_compensation(given_up, command_id, "no_ack", str(exc))
            return
        outcome = "deauthed" if deauth.ok else "refused"
        log.log(
            logging.INFO if deauth.ok else logging.ERROR,
            "compensating deauth %s on %s: %s/%s",
            deauth.command_id,
            router.router_id,
            deauth.status,
            deauth.code,
        )
        await self._record_compensation(
            given_up, command_id, outcome, deauth.code, deauth_command=deauth.command_id
        )

    async def _record_compensation(
        self,
        given_up: GivenUp,
        command_id: str,
        outcome: str,
        detail: str,
        *,
        deauth_command: str | None = None,
    ) -> None:
        # No MAC in the event: the raw MAC stays in the commands only (PRODUCT.md §5).
        payload = {
            "command": command_id,
            "op": given_up.op,
            "outcome": outcome,
            "detail": detail[:200],
            "deauth_command": deauth_command,
        }
        await self._db.execute(
            queries.insert_event,
            given_up.router.merchant_id,
            given_up.router.router_id,
            "late_grant",
            payload,
        )


# The command's trip to the router and the ack's trip back take this long at most, on a
# normal link; the router spends the rest of the sender's wait retrying a refused ndsctl call.
TRANSIT_MS = 500


def wait_ms(ack_timeout: float) -> int:
    """The `wait_ms` a command carries: how long the router may work on it before it acks."""
    return max(0, min(topics.MAX_WAIT_MS, int(ack_timeout * 1000) - TRANSIT_MS))


async def store_ack(conn: asyncpg.Connection | asyncpg.Pool, router: RouterRef, ack: Ack) -> None:
    await store_acks(conn, [(router, ack)])


async def store_acks(
    conn: asyncpg.Connection | asyncpg.Pool, acks: list[tuple[RouterRef, Ack]]
) -> None:
    """Several commands' acks in one statement."""
    await conn.execute(
        queries.record_acks,
        [router.merchant_id for router, _ in acks],
        [ack.command_id for _, ack in acks],
        [ack.status for _, ack in acks],
        [ack.code for _, ack in acks],
        [ack.attempts for _, ack in acks],
    )
