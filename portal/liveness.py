"""Gateway liveness from what routers ask the portal: a WiFiDog gateway's `ping/` (it speaks no
MQTT: online as long as it pings, controller.services.record_gateway_pings) and a level-3
openNDS's authmon polls (when it last polled, record_authmon_polls; `online` stays the
agent's). The latest ping per router is written at most once a second."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import asyncpg

from controller.services import (
    GatewayPing,
    Router,
    record_authmon_polls,
    record_gateway_pings,
)

log = logging.getLogger("portico.portal.liveness")

PING_FLUSH_SECONDS = 1.0


class PingRecorder:
    """Coalesced liveness: the latest ping per router, written at most once a second."""

    def __init__(
        self,
        db: asyncpg.Pool,
        record: Callable[[asyncpg.Pool, list[GatewayPing]], Awaitable[None]],
        interval: float = PING_FLUSH_SECONDS,
    ) -> None:
        self._db = db
        self._record = record
        self._interval = interval
        self._latest: dict[tuple[uuid.UUID, str], GatewayPing] = {}
        self._timer: asyncio.Task[None] | None = None

    def note(self, router: Router, status: dict[str, Any]) -> None:
        seen = datetime.now(UTC)
        ping = GatewayPing(router.merchant_id, router.router_id, status, seen)
        self._latest[(router.merchant_id, router.router_id)] = ping
        if self._timer is None or self._timer.done():
            self._timer = asyncio.create_task(self._flush_later(), name="gateway-pings")

    async def _flush_later(self) -> None:
        await asyncio.sleep(self._interval)
        await self._write()

    async def _write(self) -> None:
        batch, self._latest = list(self._latest.values()), {}
        try:
            await self._record(self._db, batch)
        except (TimeoutError, asyncpg.PostgresError, OSError):
            # Liveness only: the router pings again within its CheckInterval.
            log.exception("could not record %d gateway pings", len(batch))

    async def drain(self) -> None:
        """Write what is pending now (tests, shutdown)."""
        if self._timer is not None and not self._timer.done():
            self._timer.cancel()
        self._timer = None
        await self._write()


_pingers: dict[asyncpg.Pool, PingRecorder] = {}
_polls: dict[asyncpg.Pool, PingRecorder] = {}


def ping_recorder(db: asyncpg.Pool) -> PingRecorder:
    """The process's recorder of WiFiDog pings for this pool."""
    recorder = _pingers.get(db)
    if recorder is None:
        recorder = _pingers[db] = PingRecorder(db, record_gateway_pings)
    return recorder


def authmon_recorder(db: asyncpg.Pool) -> PingRecorder:
    """The process's recorder of authmon polls for this pool."""
    recorder = _polls.get(db)
    if recorder is None:
        recorder = _polls[db] = PingRecorder(db, record_authmon_polls)
    return recorder
