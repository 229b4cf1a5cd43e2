"""Capture chunks from routers in monitor mode (`ap/v1/<id>/capture`, docs/mqtt-contract.md):
one classic pcap file a message, its probe requests stored as footfall before the ack.

A chunk is checked whole before anything of it is written: its size first (at most
`topics.MAX_CAPTURE_PAYLOAD`), then every record through `analytics.capture.read_frames` from
memory; a chunk that is truncated, of another link type, not a pcap or over the size is refused
(counted by reason in `refused`, logged by the consumer, acked, never retried) and nothing of
it is stored. The probe requests of a good chunk become sightings at the router's zone and go
through the same `FootfallIngest` as the telemetry path (its privacy step hashes the MACs; its
prober trackers are per sensor, so the two inputs of one router share one), in one transaction,
before the consumer acks the message. Frames outside the raw retention window (a router whose
clock is off) are counted `out_of_window` and not stored; a chunk delivered again stores
nothing twice (observations are keyed per device, zone and second).
"""

from __future__ import annotations

import io
import logging
import time

import asyncpg

from analytics.capture import SUBTYPE_PROBE_REQ, CaptureError, Frame, read_frames
from analytics.ingest import FootfallIngest, Sighting
from analytics.observations import FUTURE_SLACK, raw_keep_hours
from controller import topics
from controller.services import Router, find_router
from kernel.cache import TtlCache
from kernel.logs import Throttled
from kernel.mqtt import Delivery, Refused

log = logging.getLogger("portico.controller.capture")


class CaptureIngest:
    """The `capture` handler of the controller's consumer (wired by the composition root)."""

    def __init__(
        self,
        db: asyncpg.Pool,
        footfall: FootfallIngest,
        *,
        max_chunk: int = topics.MAX_CAPTURE_PAYLOAD,
    ) -> None:
        self._db = db
        self.footfall = footfall  # the telemetry path's own: one prober tracker per sensor
        self._max_chunk = max_chunk
        self._routers: TtlCache[str, Router] = TtlCache(ttl=60, max_items=50_000)
        self.chunks_stored = 0  # chunks written (a redelivered one counts again)
        self.frames = 0  # management frames read from stored chunks
        self.probes = 0  # probe requests among them
        self.inserted = 0  # observations new to the table
        self.duplicates = 0  # observations stored before (a redelivery)
        self.out_of_window = 0  # probe requests outside the raw retention window (clock off)
        self.refused: dict[str, int] = {}  # chunks refused, by reason
        self._clock_log = Throttled(log, 60.0)

    async def handle(self, message: Delivery) -> None:
        try:
            await self._handle(message)
        except Refused as exc:
            self.refused[exc.reason] = self.refused.get(exc.reason, 0) + 1
            raise  # the consumer counts, logs (throttled) and acks it

    async def _handle(self, message: Delivery) -> None:
        payload = message.payload
        if len(payload) > self._max_chunk:
            raise Refused("oversized", f"capture of {len(payload)} bytes, over {self._max_chunk}")
        try:
            router_id, _leaf = topics.split_topic(message.topic)
        except topics.BadMessage as exc:
            raise Refused(exc.reason, str(exc)) from None
        frames = _parse(payload)  # whole, before anything is written
        router = self._routers.get(router_id) or await find_router(self._db, router_id)
        if router is None:
            raise Refused("unknown_router", f"no router {router_id!r}")
        self._routers.put(router_id, router)
        probes = sorted(
            (f for f in frames if f.subtype == SUBTYPE_PROBE_REQ), key=lambda f: f.ts
        )  # the prober tracker wants time order
        async with self._db.acquire() as conn, conn.transaction():
            # A router whose clock is far off: its frames are counted and never reach the
            # trackers or the long-stay counts (record_observations would refuse them too).
            now = time.time()
            oldest = now - await raw_keep_hours(conn) * 3600
            newest = now + FUTURE_SLACK
            sightings = [
                Sighting(router.router_id, f.src, f.ts, f.rssi, "probe", f)
                for f in probes
                if oldest <= f.ts <= newest
            ]
            outside = len(probes) - len(sightings)
            recorded = await self.footfall.record(
                conn, router.merchant_id, router.store_id, sightings
            )
        self.chunks_stored += 1
        self.frames += len(frames)
        self.probes += len(probes)
        self.inserted += recorded.inserted
        self.duplicates += recorded.duplicates
        self.out_of_window += outside + recorded.out_of_window
        if outside:
            self._clock_log.warning(
                "%d of %d probe requests in a capture from %s are outside the retention window "
                "(is the router's clock right?)",
                outside,
                len(probes),
                router.router_id,
            )


def _parse(payload: bytes) -> list[Frame]:
    """Every frame of a chunk, or Refused naming what is wrong with it."""
    try:
        return list(read_frames(io.BytesIO(payload)))
    except CaptureError as exc:
        raise Refused("bad_capture", str(exc)) from None
