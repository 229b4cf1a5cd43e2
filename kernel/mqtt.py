"""MQTT: connection settings from an `mqtt://user:pass@host:port` URL, a client factory, and
the one supervised consumer every domain's subscriptions go through (`Consumer`)."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
import socket
import ssl
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import aiomqtt


@dataclass(frozen=True)
class BrokerAddress:
    host: str
    port: int
    username: str | None = None
    password: str | None = None
    tls: bool = False


def parse_mqtt_url(url: str) -> BrokerAddress:
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts", "tcp", "ssl"):
        raise ValueError(f"MQTT URL must start with mqtt:// or mqtts://, got {url!r}")
    if not parts.hostname:
        raise ValueError(f"MQTT URL has no host: {url!r}")
    tls = parts.scheme in ("mqtts", "ssl")
    return BrokerAddress(
        host=parts.hostname,
        port=parts.port or (8883 if tls else 1883),
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        tls=tls,
    )


# Commands and acks are small packets: without TCP_NODELAY each waits for a delayed TCP ack.
NO_DELAY = ((socket.IPPROTO_TCP, socket.TCP_NODELAY, 1),)


def make_client(url: str, client_name: str, **kwargs: object) -> aiomqtt.Client:
    """An MQTT 3.1.1 client (the contract's baseline) with a unique, readable client id."""
    address = parse_mqtt_url(url)
    kwargs.setdefault("identifier", f"portico-{client_name}-{uuid.uuid4().hex[:12]}")
    client = aiomqtt.Client(
        hostname=address.host,
        port=address.port,
        username=address.username,
        password=address.password,
        protocol=aiomqtt.ProtocolVersion.V311,
        tls_context=ssl.create_default_context() if address.tls else None,
        keepalive=30,
        socket_options=NO_DELAY,
        **kwargs,  # type: ignore[arg-type]
    )
    # Hundreds of logins a second keep many publishes in flight; that is normal, not a warning.
    client.pending_calls_threshold = 10_000
    return client


# ---------------------------------------------------------------------------- consuming

# The one place that reaches into paho under aiomqtt: aiomqtt 2.5 acks every QoS 1 message as
# it hands it over, before a handler has stored it. paho's manual ack lets us ack after.


def enable_manual_ack(client: aiomqtt.Client) -> None:
    """Ack QoS 1 messages only when `ack()` is called for them (before connecting)."""
    client._client.manual_ack_set(True)


def ack(client: aiomqtt.Client, message: aiomqtt.Message) -> None:
    client._client.ack(message.mid, message.qos)


@dataclass(frozen=True)
class Delivery:
    """One message as a handler sees it."""

    topic: str
    leaf: str  # the topic's last level: what the dispatch table is keyed by
    payload: bytes
    retain: bool


Handler = Callable[[Delivery], Awaitable[None]]


class Refused(Exception):
    """A handler's verdict that a message breaks the contract: it is counted, logged and acked
    (never retried). `reason` is a short counter name: malformed, bad_version, unknown_router…"""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class Metrics:
    """In-memory counters of a consumer (exposed by its owner, logged every minute)."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}

    def add(self, name: str, n: int = 1) -> None:
        self.counts[name] = self.counts.get(name, 0) + n

    def get(self, name: str) -> int:
        return self.counts.get(name, 0)

    def snapshot(self) -> dict[str, int]:
        return dict(sorted(self.counts.items()))


class _Redeliver(Exception):
    """A handler failed: drop the connection so the broker redelivers what is not acked."""


@dataclass
class _Inflight:
    message: aiomqtt.Message
    done: bool = False
    failed: BaseException | None = None
    tail: asyncio.Future[None] | None = None  # set when it ends (ordered leaves)


class Consumer:
    """One supervised MQTT consumer: a persistent session, acks after the handler, dispatch by
    topic leaf.

    - The session is persistent (clean_session false, a fixed `client_id`): what arrives while
      the consumer is down, and what it received but did not ack, is delivered again when it
      reconnects.
    - Each message goes to `routes[leaf]`; handlers run concurrently (at most `concurrency` at
      once, so a handler may batch several messages into one database write), and acks go out
      in the order the messages came, each once its handler has returned.
    - A message with no route, or over `max_payload` bytes, or one its handler `Refused`, is
      counted, logged and acked: bad input never stops the loop.
    - A handler that raises anything else: the message is not acked, the connection is dropped
      and made again after a back-off, and the broker redelivers. A message whose handler fails
      `max_tries` times (not counting `transient` errors, such as a database that is down) is a
      poison message: counted, logged and acked, so it cannot loop forever.
    - Broker errors reconnect with a growing, random back-off. Nothing but cancellation ends
      `run()`.
    """

    def __init__(
        self,
        url: str,
        *,
        client_id: str,
        subscriptions: list[str],
        routes: dict[str, Handler],
        max_payload: int,
        max_tries: int = 5,
        concurrency: int = 512,
        transient: Callable[[BaseException], bool] = lambda exc: False,
        name: str = "consumer",
        on_resubscribed: Callable[[float], Awaitable[None]] | None = None,
        ordered: frozenset[str] = frozenset(),
        clock: Callable[[], float] = time.time,
    ) -> None:
        """`on_resubscribed(lost_at)`: called (in the background) once the consumer has
        subscribed again after losing the broker; `lost_at` (unix seconds, `clock`) is the last
        time it heard from the broker (its last message, or its subscribing), not the moment
        it noticed the loss: a connection that dies without a word (the broker's host crashed,
        a partition, this process stalled) is noticed only at the keepalive or later, and what
        was sent meanwhile must be asked for too. `ordered`: leaves whose messages on one topic
        are handled one after the other, in the order they came (a router's status: online
        then offline must not be stored the other way round)."""
        self._url = url
        self.client_id = client_id
        self._subscriptions = subscriptions
        self.routes = dict(routes)
        self._max_payload = max_payload
        self._max_tries = max_tries
        self._slots = asyncio.Semaphore(concurrency)
        self._transient = transient
        self._tries: OrderedDict[bytes, int] = OrderedDict()
        self._log = logging.getLogger(f"portico.mqtt.{name}")
        self._refusals_logged: dict[str, float] = {}
        self.metrics = Metrics()
        self.connected = asyncio.Event()
        self._on_resubscribed = on_resubscribed
        self._lost_at: float | None = None
        self._heard_at: float | None = None  # the broker's last sign of life (see above)
        self._clock = clock
        self._ordered = ordered
        self._tails: dict[str, asyncio.Future[None]] = {}  # topic -> its last message's end
        self._hooks: set[asyncio.Task[None]] = set()

    async def run(self) -> None:
        backoff = 0.5
        while True:
            try:
                await self._session()
                backoff = 0.5  # a clean end (a handler failure): reconnect soon
            except aiomqtt.MqttError as exc:
                self._log.warning("lost the broker (%s); reconnecting", exc)
                self.metrics.add("reconnects")
                if self._lost_at is None:
                    self._lost_at = self._heard_at or self._clock()
            except _Redeliver as exc:
                self._log.warning("%s; reconnecting so the broker delivers it again", exc)
                self.metrics.add("redeliveries")
            finally:
                self.connected.clear()
            await asyncio.sleep(backoff + random.random() * backoff)
            backoff = min(backoff * 2, 10)

    async def _session(self) -> None:
        client = make_client(
            self._url,
            "consumer",
            identifier=self.client_id,
            clean_session=False,
            max_queued_incoming_messages=0,
        )
        enable_manual_ack(client)
        window: deque[_Inflight] = deque()
        tasks: set[asyncio.Task[None]] = set()
        self._tails = {}
        wake = asyncio.Event()
        async with client:
            for topic in self._subscriptions:
                await client.subscribe(topic, qos=1)
            self._heard_at = self._clock()
            self.connected.set()
            self._log.info("consuming %s as %s", ", ".join(self._subscriptions), self.client_id)
            if self._lost_at is not None and self._on_resubscribed is not None:
                hook = asyncio.create_task(self._on_resubscribed(self._lost_at))
                self._hooks.add(hook)
                hook.add_done_callback(self._hook_done)
            self._lost_at = None
            reader = asyncio.create_task(self._read(client, window, tasks, wake))
            reader.add_done_callback(lambda _task: wake.set())
            try:
                await self._ack_in_order(client, window, reader, wake)
            finally:
                reader.cancel()
                for task in list(tasks):
                    task.cancel()
                await asyncio.gather(reader, *tasks, return_exceptions=True)

    def _hook_done(self, task: asyncio.Task[None]) -> None:
        self._hooks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self._log.error("the resubscribed hook failed", exc_info=task.exception())

    async def _read(
        self,
        client: aiomqtt.Client,
        window: deque[_Inflight],
        tasks: set[asyncio.Task[None]],
        wake: asyncio.Event,
    ) -> None:
        async for message in client.messages:
            self._heard_at = self._clock()
            await self._slots.acquire()
            item = _Inflight(message)
            window.append(item)
            after: asyncio.Future[None] | None = None
            topic = str(message.topic)
            if topic.rsplit("/", 1)[-1] in self._ordered:
                after = self._tails.get(topic)
                tail: asyncio.Future[None] = asyncio.get_running_loop().create_future()
                self._tails[topic] = tail
                item.tail = tail
            task = asyncio.create_task(self._process(item, wake, after))
            tasks.add(task)
            task.add_done_callback(tasks.discard)

    async def _ack_in_order(
        self,
        client: aiomqtt.Client,
        window: deque[_Inflight],
        reader: asyncio.Task[None],
        wake: asyncio.Event,
    ) -> None:
        while True:
            await wake.wait()
            wake.clear()
            while window and window[0].done:
                item = window.popleft()
                if item.failed is not None:
                    raise _Redeliver(f"a handler failed on {item.message.topic}: {item.failed!r}")
                ack(client, item.message)
            if reader.done():
                reader.result()  # the broker connection ended: MqttError
                return

    async def _process(
        self, item: _Inflight, wake: asyncio.Event, after: asyncio.Future[None] | None
    ) -> None:
        try:
            if after is not None:
                await asyncio.shield(after)  # the topic's previous message first
            await self._deliver(item.message)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            item.failed = exc
        finally:
            item.done = True
            self._slots.release()
            if item.tail is not None:
                item.tail.set_result(None)
                topic = str(item.message.topic)
                if self._tails.get(topic) is item.tail:
                    del self._tails[topic]
            wake.set()

    async def _deliver(self, message: aiomqtt.Message) -> None:
        topic = str(message.topic)
        payload = message.payload
        if not isinstance(payload, bytes | bytearray):
            payload = str(payload).encode()
        self.metrics.add("received")
        leaf = topic.rsplit("/", 1)[-1]
        handler = self.routes.get(leaf)
        try:
            if handler is None:
                raise Refused("wrong_topic", f"no handler for {topic!r}")
            if len(payload) > self._max_payload:
                raise Refused("oversized", f"{len(payload)} bytes, over {self._max_payload}")
            await handler(Delivery(topic, leaf, bytes(payload), bool(message.retain)))
        except Refused as exc:
            self.metrics.add(f"refused.{exc.reason}")
            self._log_refusal(topic, exc)
            return
        except Exception as exc:
            key = hashlib.sha256(topic.encode() + b"\0" + bytes(payload)).digest()
            if self._transient(exc):
                self.metrics.add("failed.transient")
                raise
            tries = self._tries.pop(key, 0) + 1
            self.metrics.add("failed")
            if tries >= self._max_tries:
                self.metrics.add("poison")
                self._log.error(
                    "dropping a message on %s after %d failed tries (last: %r)", topic, tries, exc
                )
                return
            self._tries[key] = tries
            while len(self._tries) > 10_000:
                self._tries.popitem(last=False)
            raise
        self.metrics.add("handled")

    def _log_refusal(self, topic: str, exc: Refused) -> None:
        """One line per refusal, but at most one a second per reason (a flood stays countable
        in the metrics without flooding the log)."""
        now = time.monotonic()
        if now - self._refusals_logged.get(exc.reason, -1.0) < 1.0:
            return
        self._refusals_logged[exc.reason] = now
        self._log.warning(
            "refused a message on %s: %s (%d refused so far for %s)",
            topic,
            exc,
            self.metrics.get(f"refused.{exc.reason}"),
            exc.reason,
        )
