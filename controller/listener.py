"""The controller role: consume routers' status and events, store them, react.

Each message is written to PostgreSQL before it is acknowledged to the broker (paho's manual
ack), so a crash between the two means redelivery, never loss. Several controller replicas
share the load through an MQTT shared subscription where the broker supports one.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Any

import aiomqtt
import asyncpg

from controller import topics
from controller.services import Router, find_router
from kernel.mqtt import make_client
from kernel.sql import load_queries

log = logging.getLogger("portico.controller.listener")
queries = load_queries(__file__)

RestartHook = Callable[[Router], Awaitable[None]]


class FleetListener:
    def __init__(
        self,
        mqtt_url: str,
        db: asyncpg.Pool,
        *,
        shared_group: str | None = "ctrl",
        on_nds_restarted: RestartHook | None = None,
    ) -> None:
        self._mqtt_url = mqtt_url
        self._db = db
        self._shared_group = shared_group
        self._on_nds_restarted = on_nds_restarted
        self.connected = asyncio.Event()

    def _subscription(self, leaf: str) -> str:
        plain = f"{topics.ROOT}/+/{leaf}"
        return f"$share/{self._shared_group}/{plain}" if self._shared_group else plain

    async def run(self) -> None:
        backoff = 0.5
        while True:
            try:
                client = make_client(self._mqtt_url, "controller")
                client._client.manual_ack_set(True)  # aiomqtt 2.x exposes no manual ack itself
                async with client:
                    for leaf in ("status", "evt"):
                        await client.subscribe(self._subscription(leaf), qos=1)
                    self.connected.set()
                    backoff = 0.5
                    log.info("controller listening for router status and events")
                    async for message in client.messages:
                        await self._handle(str(message.topic), message.payload)
                        client._client.ack(message.mid, message.qos)
            except aiomqtt.MqttError as exc:
                log.warning("controller lost the broker (%s); reconnecting", exc)
            finally:
                self.connected.clear()
            await asyncio.sleep(backoff + random.random() * backoff)
            backoff = min(backoff * 2, 10)

    async def _handle(self, topic_name: str, payload: Any) -> None:
        try:
            router_id, leaf = topics.split_topic(topic_name)
            data = topics.decode(payload)
        except topics.BadMessage as exc:
            log.warning("ignored a bad message on %s: %s", topic_name, exc)
            return
        router = await find_router(self._db, router_id)
        if router is None:
            log.warning("message on %s from an unknown router", topic_name)
            return
        if leaf == "status":
            await self._on_status(router, data)
        elif leaf == "evt":
            await self._on_event(router, data)

    async def _on_status(self, router: Router, data: dict[str, Any]) -> None:
        online = data.get("online")
        if not isinstance(online, bool):
            log.warning("status from %s without a boolean 'online'", router.router_id)
            return
        await self._db.execute(
            queries.record_status, router.merchant_id, router.router_id, online, data
        )
        log.info("router %s is %s", router.router_id, "online" if online else "offline")

    async def _on_event(self, router: Router, data: dict[str, Any]) -> None:
        kind = data.get("type")
        if kind not in topics.EVENT_TYPES:
            log.warning("event of unknown type %r from %s", kind, router.router_id)
            return
        await self._db.execute(
            queries.insert_event, router.merchant_id, router.router_id, kind, data
        )
        log.info("router %s reported %s", router.router_id, kind)
        if kind == "nds_restarted" and self._on_nds_restarted is not None:
            await self._on_nds_restarted(router)
