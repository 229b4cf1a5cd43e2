"""`portico analytics import-pcap FILE… --router ID`: probe requests from monitor-mode
captures into footfall, as if the router's sensor had sent them.

The frames are read by analytics.capture (a fast hand parser), go through the privacy step
(analytics.ingest.FootfallIngest.record_probes: only hashes are stored) and are written in
batches, all in ONE transaction: a malformed file (truncated, wrong link type, huge, not a pcap)
stops the import with an error naming the file and nothing of this import is kept, not even the
files before it.

An old capture is imported for the days it was made: rows older than the raw retention (24 h by
default) go into their day partitions (attached in the transaction), and the import recomputes
the visits and hourly/daily rollups of those store-local days itself, in the same transaction,
as the rollup job would have when the rows were new (the job takes visits older than the raw
retention for finished). Newer rows are marked for the job, as the sensor's would be. After the
commit the retention job drops the old raw rows; visits go after their retention (30 days by
default), the rollups stay. `--shift-to-now` replays a capture as if its last frame had been
heard now instead (a first pass reads the files for their last time).

The router names the merchant, store and zone. analytics never imports the controller: the
composition root gives `args.find_router` (controller.services.find_router) and
`args.database` (portico.runtime.database), and `args.on_recorded` (the rollups' mark_dirty).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO
from zoneinfo import ZoneInfo

import asyncpg

from accounts import services as accounts
from analytics import rollups
from analytics.capture import SUBTYPE_PROBE_REQ, CaptureError, Frame, read_frames
from analytics.ingest import FootfallIngest, Tracker, default_tracker
from analytics.observations import (
    OnRecorded,
    Recorded,
    ensure_partitions,
    window_days,
)
from analytics.retention import retention_of
from kernel.progress import ProgressBar

log = logging.getLogger("portico.analytics.importer")

BATCH = 20_000  # sightings per write


class ImportFailed(Exception):
    """The import could not be done; nothing of it was stored. The message says why."""


@dataclass
class Imported:
    files: int = 0
    frames: int = 0
    probes: int = 0
    recorded: Recorded = field(default_factory=Recorded)
    dropped: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    recomputed: tuple[date, date] | None = None  # store-local days older than the raw retention


class Progress(ProgressBar):
    """Bytes read of the total, with frames and their rate (the log has a line per file)."""

    def __init__(self, total: int, out: TextIO | None) -> None:
        super().__init__("import", total, out)
        self.started = time.monotonic()

    def frames(self, done: int, frames: int) -> None:
        percent = min(100, done * 100 // self.total)
        rate = frames / max(time.monotonic() - self.started, 1e-6)
        self.show(
            done,
            f"{percent:3d}% {done / 1e6:,.1f}/{self.total / 1e6:,.1f} MB "
            f"{frames:,} frames ({rate:,.0f}/s)",
        )


async def import_pcaps(
    db: asyncpg.Pool,
    secret_key: str,
    paths: Sequence[str | os.PathLike[str]],
    *,
    merchant_id: uuid.UUID,
    store_id: uuid.UUID,
    zone: str,
    on_recorded: OnRecorded | None = None,
    shift_to_now: bool = False,
    progress: TextIO | None = None,
    tracker_factory: Callable[[], Tracker] = default_tracker,
    batch: int = BATCH,
) -> Imported:
    """Import the captures' probe requests for one store and zone, all or nothing."""
    started = time.monotonic()
    files = [Path(p) for p in paths]
    for path in files:
        if not path.is_file():
            raise ImportFailed(f"{path}: no such file")
    total = sum(path.stat().st_size for path in files)
    shift = 0.0
    if shift_to_now:
        last = max((_last_ts(path) for path in files), default=None)
        if last is None:
            raise ImportFailed("the captures hold no probe request")
        shift = time.time() - last
    result = Imported()
    bar = Progress(total, progress)
    async with db.acquire() as conn:
        # Partitions first, apart: creating one locks the table, not for a whole import.
        async with conn.transaction():
            await ensure_partitions(conn, await window_days(conn))
            # What the rollup job still recomputes from raw rows: this merchant's retention
            # (rollups.recompute's raw horizon), not the longest any merchant keeps.
            retention = await retention_of(conn, merchant_id)
            live_from = time.time() - retention.raw_hours * 3600
        split = _Split(datetime.fromtimestamp(live_from, UTC), on_recorded)
        ingest = FootfallIngest(secret_key, on_recorded=split, tracker_factory=tracker_factory)

        async def write(frames: list[Frame]) -> None:
            if frames:
                result.recorded.add(
                    await ingest.record_probes(
                        conn, merchant_id, store_id, zone, frames, shift=shift
                    )
                )

        async with conn.transaction():
            done_bytes = 0
            for path in files:
                with path.open("rb") as file:
                    pending: list[Frame] = []
                    frames = probes = 0
                    try:
                        for frame in read_frames(file):
                            frames += 1
                            if frame.subtype != SUBTYPE_PROBE_REQ:
                                continue
                            probes += 1
                            pending.append(frame)
                            if len(pending) >= batch:
                                await write(pending)
                                pending = []
                                bar.frames(done_bytes + file.tell(), result.frames + frames)
                    except CaptureError as exc:
                        bar.close()
                        raise ImportFailed(f"{path}: {exc}; nothing was imported") from None
                    await write(pending)
                    result.frames += frames
                    result.probes += probes
                    done_bytes += path.stat().st_size
                    bar.frames(done_bytes, result.frames)
                result.files += 1
                log.info("read %s: %d frames so far", path, result.frames)
            bar.close()
            if split.first is not None and split.last is not None:
                result.recomputed = await _recompute_old(
                    conn, merchant_id, store_id, split.first, split.last, progress
                )
    result.dropped = {
        k: v for k, v in ingest.counts.items() if k.startswith("dropped") or k == "bad_sighting"
    }
    result.seconds = time.monotonic() - started
    return result


@dataclass
class _Split:
    """The import's on_recorded: what is new within the raw retention is marked for the rollup
    job (`on_recorded`, as the sensor's rows are); the span of what is new and older is kept
    for the import to recompute (the job would take those visits for finished)."""

    live_from: datetime
    on_recorded: OnRecorded | None
    first: datetime | None = None
    last: datetime | None = None

    async def __call__(
        self,
        conn: asyncpg.Connection,
        merchant_id: uuid.UUID,
        store_id: uuid.UUID,
        earliest: datetime,
        latest: datetime,
    ) -> None:
        if earliest < self.live_from:
            self.first = earliest if self.first is None else min(self.first, earliest)
            old_end = min(latest, self.live_from)
            self.last = old_end if self.last is None else max(self.last, old_end)
        if latest >= self.live_from and self.on_recorded is not None:
            await self.on_recorded(
                conn, merchant_id, store_id, max(earliest, self.live_from), latest
            )


async def _recompute_old(
    conn: asyncpg.Connection,
    merchant_id: uuid.UUID,
    store_id: uuid.UUID,
    first: datetime,
    last: datetime,
    out: TextIO | None,
) -> tuple[date, date]:
    """Visits and rollups of the store-local days from `first` to `last`, day by day, in the
    import's transaction; the days."""
    store = await accounts.get_store(conn, merchant_id, store_id)
    if store is None:
        raise ImportFailed(f"no store {store_id} of merchant {merchant_id}")
    tz = ZoneInfo(store.timezone)
    retention = await retention_of(conn, merchant_id)
    # rollups.recompute leaves alone the visits that began before `now` less the raw retention
    # (their sightings are gone): as of this `now`, the visits before this import's rows. Its
    # days are then within the visits' retention too, so their rollups are recomputed.
    as_of = first + timedelta(hours=retention.raw_hours)
    await conn.execute(rollups.queries.lock_store, merchant_id, store_id)  # the job skips it
    days = _days(first.astimezone(tz).date(), last.astimezone(tz).date())
    bar = ProgressBar("rollups", len(days), out)
    for day in days:
        start, end = rollups.day_start(day, tz), rollups.day_start(day + timedelta(days=1), tz)
        await rollups.recompute(conn, store, start, end, now=as_of)
        bar.step(f"{bar.done + 1}/{len(days)} {day}")
    bar.close()
    log.info("recomputed footfall of %s (%s) %s..%s", store.name, store_id, days[0], days[-1])
    return days[0], days[-1]


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def _last_ts(path: Path) -> float | None:
    """The time of a capture's last probe request (a first pass, which also checks it)."""
    last = None
    try:
        with path.open("rb") as file:
            for frame in read_frames(file):
                if frame.subtype == SUBTYPE_PROBE_REQ and (last is None or frame.ts > last):
                    last = frame.ts
    except CaptureError as exc:
        raise ImportFailed(f"{path}: {exc}; nothing was imported") from None
    return last


def add_import_pcap_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "import-pcap",
        help="import probe requests from monitor-mode captures (pcap)",
        description="Read 802.11 monitor-mode captures (pcap, radiotap or raw 802.11) and "
        "store their probe requests as the router's footfall observations, hashed at once. "
        "All files are imported in one transaction: a malformed file stops the import and "
        "nothing is kept. Frames older than the raw retention count for their own days: the "
        "visits and rollups of those days are recomputed by the import.",
    )
    parser.add_argument("files", nargs="+", metavar="FILE", help="pcap files")
    parser.add_argument(
        "--router", required=True, help="the router whose sensor heard them (its id)"
    )
    parser.add_argument(
        "--shift-to-now",
        action="store_true",
        help="move the frames' times so that the last one is now (a replay; without it an "
        "old capture counts for the days it was made)",
    )


RouterFinder = Callable[[asyncpg.Pool, str], Awaitable[Any]]
DatabaseOpener = Callable[[Any], contextlib.AbstractAsyncContextManager[asyncpg.Pool]]


def main_import_pcap(args: argparse.Namespace) -> int:
    """`portico analytics import-pcap`; the composition root gives `args.find_router`, and
    may give `args.database` and `args.on_recorded` (see the module's docstring)."""
    try:
        return asyncio.run(_main(args))
    except ImportFailed as exc:
        print(f"portico analytics import-pcap: {exc}", file=sys.stderr)
        return 1


async def _main(args: argparse.Namespace) -> int:
    from kernel.config import load_settings

    settings = load_settings()
    find_router: RouterFinder | None = getattr(args, "find_router", None)
    if find_router is None:
        raise ImportFailed("no router look-up wired (args.find_router)")
    opener: DatabaseOpener = args.database  # portico.runtime.database (portico/cli.py)
    async with opener(settings) as db:
        router = await find_router(db, args.router)
        if router is None:
            raise ImportFailed(f"no router {args.router!r}")
        result = await import_pcaps(
            db,
            settings.secret_key,
            args.files,
            merchant_id=router.merchant_id,
            store_id=router.store_id,
            zone=router.router_id,
            on_recorded=getattr(args, "on_recorded", None),
            shift_to_now=args.shift_to_now,
            progress=sys.stderr,
        )
    print(summary(result))
    return 0


def summary(result: Imported) -> str:
    recorded = result.recorded
    dropped = ", ".join(f"{v:,} {k.removeprefix('dropped_')}" for k, v in result.dropped.items())
    text = (
        f"imported {result.files} files: {result.frames:,} frames, {result.probes:,} probe "
        f"requests, {recorded.inserted:,} observations stored (one per device and second; "
        f"{recorded.duplicates:,} more frames of a stored second) in {result.seconds:.1f} s"
    )
    if dropped:
        text += f"; dropped: {dropped}"
    if result.recomputed:
        first, last = result.recomputed
        text += (
            f"; visits and rollups of {first}…{last} recomputed (older than the raw retention: "
            "the retention job drops those raw observations, the rollups stay)"
        )
    if recorded.out_of_window:
        text += (
            f"; {recorded.out_of_window:,} observations more than an hour ahead of this "
            "machine's clock were not stored (the sensor's clock?)"
        )
    return text
