"""Sending commands to routers and waiting for their acks.

A `CommandSender` keeps one MQTT connection (reconnecting by itself), subscribes to every
router's `ack` topic and matches acks to the commands it sent by id. Each command is written
to PostgreSQL before it is published, and its outcome (ack or timeout) afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import aiomqtt
import asyncpg

from controller import topics
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


@dataclass(frozen=True)
class Ack:
    command_id: str
    status: str
    code: str
    msg: str
    attempts: int | None = None  # ndsctl calls the router made (auth, restore, deauth)

    @property
    def ok(self) -> bool:
        return self.status == "done"


@dataclass(frozen=True)
class RouterRef:
    merchant_id: Any
    router_id: str


class CommandSender:
    def __init__(
        self, mqtt_url: str, db: asyncpg.Pool, *, ack_timeout: float = 5.0, ttl: int = 30
    ) -> None:
        self._mqtt_url = mqtt_url
        self._db = db
        self._ack_timeout = ack_timeout
        self._ttl = ttl
        self._client: aiomqtt.Client | None = None
        self._connected = asyncio.Event()
        self._pending: dict[str, asyncio.Future[Ack]] = {}
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="command-sender")
        try:
            await asyncio.wait_for(self._connected.wait(), timeout=10)
        except TimeoutError:
            log.error("command sender: no connection to the broker yet; will keep trying")

    async def stop(self) -> None:
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
    ) -> Ack:
        """Publish a command and wait for its ack; RouterUnreachable when none comes in time.

        With `record_ack=False` the caller stores the ack (`record_ack()`) in its own
        transaction, together with what the command achieved.
        """
        command_id = uuid.uuid4().hex
        expires = datetime.now(UTC) + timedelta(seconds=self._ttl)
        await self._db.execute(
            queries.insert_command,
            router.merchant_id,
            command_id,
            router.router_id,
            op,
            args,
            expires,
        )
        future: asyncio.Future[Ack] = asyncio.get_running_loop().create_future()
        self._pending[command_id] = future
        wait = timeout or self._ack_timeout
        try:
            await self._publish(
                router.router_id, command_id, op, args, int(expires.timestamp()), wait_ms(wait)
            )
            ack = await asyncio.wait_for(future, wait)
        except (TimeoutError, aiomqtt.MqttError) as exc:
            await self._db.execute(queries.record_timeout, router.merchant_id, command_id)
            log.error(
                "command %s %s to router %s got no ack: %s",
                command_id,
                op,
                router.router_id,
                type(exc).__name__,
            )
            raise RouterUnreachable(f"router {router.router_id} did not answer") from exc
        finally:
            self._pending.pop(command_id, None)
        if record_ack:
            await store_ack(self._db, router, ack)
        return ack

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
        future = self._pending.get(command_id)
        if future is None or future.done():
            # Another sender's command, or one we already gave up on (logged when it timed out).
            log.debug("ack %s from %s matches no waiting command", command_id, router_id)
            return
        attempts = data.get("attempts")
        if type(attempts) is not int or not 0 <= attempts <= 10_000:
            attempts = None  # absent (older agents, ping) or not a count
        future.set_result(
            Ack(
                command_id,
                status,
                str(data.get("code", ""))[:64],
                str(data.get("msg", ""))[:200],
                attempts,
            )
        )


# The command's trip to the router and the ack's trip back take this long at most, on a
# normal link; the router spends the rest of the sender's wait retrying a refused ndsctl call.
TRANSIT_MS = 500


def wait_ms(ack_timeout: float) -> int:
    """The `wait_ms` a command carries: how long the router may work on it before it acks."""
    return max(0, min(topics.MAX_WAIT_MS, int(ack_timeout * 1000) - TRANSIT_MS))


async def store_ack(conn: asyncpg.Connection | asyncpg.Pool, router: RouterRef, ack: Ack) -> None:
    await conn.execute(
        queries.record_ack, router.merchant_id, ack.command_id, ack.status, ack.code, ack.attempts
    )
