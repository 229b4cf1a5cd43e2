"""The controller role: consume routers' status and events, store them, react.

All consuming goes through `kernel.mqtt.Consumer`: a persistent MQTT session with a fixed
client id per controller process, each message acked only after its handler has written it to
PostgreSQL (so a crash between the two redelivers it), a dispatch table by topic leaf (other
domains' handlers, such as telemetry, are added by the composition root), and a loop that
survives broker and database errors. Several controller replicas share the load through an
MQTT shared subscription where the broker supports one.

Bad input (a wrong topic, an oversized or malformed payload, a wrong version, an unknown
router) is refused: counted in `metrics`, logged, acked, never retried.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import asyncpg

from controller import topics
from controller.services import Router, find_router
from kernel.db import is_transient
from kernel.mqtt import Consumer, Delivery, Handler, Metrics, Refused
from kernel.sql import load_queries

T = TypeVar("T")

log = logging.getLogger("portico.controller.listener")
queries = load_queries(__file__)

RestartHook = Callable[[Router], Awaitable[None]]

# A router that has not been heard from for this long is offline even without a Last Will
# (a broker restart loses the connection state; a NAT may drop a connection silently). The
# agent's heartbeat is 60 s by default.
HEARTBEAT_TIMEOUT = 300  # seconds
# A router offline this long gets one alert in the log (level ERROR).
OFFLINE_ALERT = 900  # seconds
SWEEP_EVERY = 30.0  # seconds


def default_client_id() -> str:
    return f"portico-ctrl-{socket.gethostname()}"[:64]


class FleetListener:
    def __init__(
        self,
        mqtt_url: str,
        db: asyncpg.Pool,
        *,
        shared_group: str | None = "ctrl",
        on_nds_restarted: RestartHook | None = None,
        client_id: str | None = None,
        routes: dict[str, Handler] | None = None,
        sweep_every: float = SWEEP_EVERY,
        on_resubscribed: Callable[[float], Awaitable[None]] | None = None,
    ) -> None:
        """`routes`: more topic leaves and their handlers (each `ap/v1/+/<leaf>`).
        `on_resubscribed(lost_at)`: after the listener lost the broker and subscribed again
        (the composition root asks routers to send their telemetry again: see
        controller.telemetry.request_resend)."""
        self._db = db
        self._shared_group = shared_group
        self._on_nds_restarted = on_nds_restarted
        self._sweep_every = sweep_every
        table: dict[str, Handler] = {"status": self._on_status, "evt": self._on_event}
        table.update(routes or {})
        self.consumer = Consumer(
            mqtt_url,
            client_id=client_id or default_client_id(),
            subscriptions=[self._subscription(leaf) for leaf in table],
            routes=table,
            # The largest any leaf takes (a capture chunk); each handler holds its own limit
            # (topics.decode 4 KiB, a tele batch 64 KiB, a capture chunk 256 KiB).
            max_payload=max(topics.MAX_BATCH_PAYLOAD, topics.MAX_CAPTURE_PAYLOAD),
            transient=is_transient,
            name="controller",
            on_resubscribed=on_resubscribed,
            ordered=frozenset({"status", "evt"}),  # per router, in order; telemetry in any
        )

    @property
    def connected(self) -> asyncio.Event:
        return self.consumer.connected

    @property
    def metrics(self) -> Metrics:
        return self.consumer.metrics

    def _subscription(self, leaf: str) -> str:
        plain = f"{topics.ROOT}/+/{leaf}"
        return f"$share/{self._shared_group}/{plain}" if self._shared_group else plain

    async def run(self) -> None:
        sweeper = asyncio.create_task(self._sweep_forever(), name="controller-sweep")
        try:
            await self.consumer.run()
        finally:
            sweeper.cancel()

    # -- handlers -----------------------------------------------------------------------------

    async def _on_status(self, message: Delivery) -> None:
        router, data = await contract_message(self._db, message)
        online = data.get("online")
        if not isinstance(online, bool):
            raise Refused("bad_field", "status without a boolean 'online'")
        was = await self._db.fetchval(
            queries.record_status_transition, router.merchant_id, router.router_id, online, data
        )
        if was is not online:  # a transition (or the first status): worth a line in the log
            log.info(
                "router %s is %s (was %s)",
                router.router_id,
                "online" if online else "offline",
                "unknown" if was is None else ("online" if was else "offline"),
            )

    async def _on_event(self, message: Delivery) -> None:
        router, data = await contract_message(self._db, message)
        kind = data.get("type")
        if kind not in topics.EVENT_TYPES:
            raise Refused("unknown_event", f"event of unknown type {str(kind)[:40]!r}")
        await self._db.execute(
            queries.insert_event, router.merchant_id, router.router_id, kind, data
        )
        log.info("router %s reported %s", router.router_id, kind)
        if kind == "nds_restarted" and self._on_nds_restarted is not None:
            await self._on_nds_restarted(router)

    # -- offline without a Last Will ------------------------------------------------------------

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(self._sweep_every)
            try:
                await self.sweep()
            except (asyncpg.PostgresError, OSError) as exc:
                log.error("offline sweep failed (will try again): %r", exc)

    async def sweep(self) -> None:
        """Mark routers silent for HEARTBEAT_TIMEOUT offline; alert once for those offline for
        OFFLINE_ALERT. Replicas may sweep at once: each transition is returned to one of them."""
        for row in await self._db.fetch(queries.mark_silent_offline, HEARTBEAT_TIMEOUT):
            log.warning(
                "router %s is offline (nothing heard for %d s)", row["router_id"], HEARTBEAT_TIMEOUT
            )
        for row in await self._db.fetch(
            queries.offline_too_long, OFFLINE_ALERT, OFFLINE_ALERT + self._sweep_every
        ):
            log.error(
                "ALERT router %s (%s) has been offline for over %d minutes",
                row["router_id"],
                row["name"],
                OFFLINE_ALERT // 60,
            )


async def contract_message(
    db: asyncpg.Pool | asyncpg.Connection,
    message: Delivery,
    *,
    known: Callable[[str], Router | None] = lambda _router_id: None,
) -> tuple[Router, dict[str, Any]]:
    """The router a message comes from and its payload, or Refused for what breaks the
    contract (topic, size, JSON, version) or comes from a router we do not know. `known`: a
    cache to ask before the database."""
    router_id, data = _checked(message, topics.decode)
    return await _sender(db, router_id, known), data


async def contract_batch(
    db: asyncpg.Pool | asyncpg.Connection,
    message: Delivery,
    *,
    known: Callable[[str], Router | None] = lambda _router_id: None,
) -> tuple[Router, list[Any]]:
    """`contract_message` for a `tele` batch: the router and the batch's elements."""
    router_id, elements = _checked(message, topics.decode_batch)
    return await _sender(db, router_id, known), elements


def _checked(message: Delivery, decode: Callable[[bytes], T]) -> tuple[str, T]:
    try:
        router_id, _leaf = topics.split_topic(message.topic)
        return router_id, decode(message.payload)
    except topics.BadMessage as exc:
        raise Refused(exc.reason, str(exc)) from None


async def _sender(
    db: asyncpg.Pool | asyncpg.Connection, router_id: str, known: Callable[[str], Router | None]
) -> Router:
    router = known(router_id) or await find_router(db, router_id)
    if router is None:
        raise Refused("unknown_router", f"no router {router_id!r}")
    return router
