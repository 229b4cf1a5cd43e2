"""`portico analytics import-pcap` (analytics.importer): captures crafted with scapy go through
the privacy step into footfall_observations, all or nothing; malformed files (truncated,
wrong link type, a huge record) are refused with a clear error and nothing is kept."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import struct
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from unittest.mock import ANY
from zoneinfo import ZoneInfo

import asyncpg
import pytest
from scapy.layers.dot11 import Dot11, Dot11Beacon, Dot11Elt, Dot11ProbeReq, RadioTap
from scapy.layers.l2 import Ether
from scapy.packet import Packet
from scapy.utils import wrpcap

from accounts import services as accounts
from analytics.capture import SUBTYPE_PROBE_REQ, read_frames
from analytics.importer import (
    ImportFailed,
    add_import_pcap_parser,
    import_pcaps,
    main_import_pcap,
)
from analytics.ingest import FootfallIngest, Sighting, list_fixed_device
from analytics.observations import Recorded
from analytics.rollups import mark_dirty
from kernel.db import create_pool
from kernel.privacy import probe_hash
from simulators import probes, shoppers
from simulators.pcap_writer import LINKTYPE_IEEE802_11, write_pcap
from tests.analytics.raw_macs import tables_holding
from tests.analytics.reference_probers import ScanTracker
from tests.clock import clear_of_midnight

SECRET = "test-secret-" + "x" * 40
BROADCAST = "ff:ff:ff:ff:ff:ff"
Capture = tuple[Path, str, str, float]  # the file, a phone's MAC, a laptop's, when


def probe(mac: str, ts: float, rssi: int, seq: int, rates: bytes = b"\x02\x04\x0b\x16") -> Packet:
    frame = (
        RadioTap(present="dBm_AntSignal", dBm_AntSignal=rssi)
        / Dot11(type=0, subtype=4, addr1=BROADCAST, addr2=mac, addr3=BROADCAST, SC=seq << 4)
        / Dot11ProbeReq()
        / Dot11Elt(ID=0, info=b"")
        / Dot11Elt(ID=1, info=rates)
    )
    frame.time = ts
    return frame


def beacon(ts: float) -> Packet:
    frame = (
        RadioTap(present="dBm_AntSignal", dBm_AntSignal=-40)
        / Dot11(type=0, subtype=8, addr1=BROADCAST, addr2="00:11:22:33:44:55", addr3=BROADCAST)
        / Dot11Beacon()
        / Dot11Elt(ID=0, info=b"shop")
    )
    frame.time = ts
    return frame


def fresh_mac(first: str) -> str:
    return ":".join([first, *(f"{b:02x}" for b in uuid.uuid4().bytes[:5])])


async def utc_store(db: asyncpg.Pool) -> tuple[uuid.UUID, uuid.UUID]:
    merchant_id = await accounts.create_merchant(db, f"Import {uuid.uuid4().hex[:8]}")
    return merchant_id, await accounts.create_store(db, merchant_id, "Shop", "UTC")


async def stored(db: asyncpg.Pool, merchant_id: uuid.UUID) -> list[asyncpg.Record]:
    return await db.fetch(
        "SELECT * FROM footfall_observations WHERE merchant_id = $1 ORDER BY seen_at",
        merchant_id,
    )


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def capture(tmp_path: Path) -> Capture:
    """A capture of the last few minutes: a phone, a laptop, a beacon, noise to drop; all on
    one UTC day (the stores' here), whose probe hash the test expects for each."""
    now = clear_of_midnight(time.time(), 200)
    phone, laptop = fresh_mac("da"), fresh_mac("00")
    frames = [
        beacon(now - 200),
        probe(phone, now - 190, -60, 100),
        probe(laptop, now - 180, -70, 5),
        probe("01:00:5e:00:00:01", now - 170, -50, 1),  # multicast: dropped
        probe(fresh_mac("d2"), now - 160, -90, 7),  # too weak: dropped
        probe(phone, now - 150, -61, 101),
    ]
    path = tmp_path / "now.pcap"
    wrpcap(str(path), frames)
    return path, phone, laptop, now


async def test_a_capture_is_imported_hashed_with_a_progress_bar(
    db: asyncpg.Pool, capture: Capture
) -> None:
    path, phone, laptop, now = capture
    merchant_id, store_id = await utc_store(db)
    bar = Terminal()
    result = await import_pcaps(
        db, SECRET, [path], merchant_id=merchant_id, store_id=store_id, zone="ap-x", progress=bar
    )
    assert (result.files, result.frames, result.probes) == (1, 6, 5)
    assert result.recorded.inserted == 3
    assert result.dropped == {"dropped_multicast": 1, "dropped_weak": 1}
    assert "\rimport [" in bar.getvalue() and "100%" in bar.getvalue()
    day = datetime.fromtimestamp(now - 190, UTC).date()
    m, s = str(merchant_id), str(store_id)
    rows = await stored(db, merchant_id)
    assert [(r["device_hash"], r["rssi"], r["zone"]) for r in rows] == [
        (probe_hash(SECRET, m, s, day, phone), -60, "ap-x"),
        (probe_hash(SECRET, m, s, day, laptop), -70, "ap-x"),
        (probe_hash(SECRET, m, s, day, phone), -61, "ap-x"),
    ]
    # Again: nothing new.
    again = await import_pcaps(
        db, SECRET, [path], merchant_id=merchant_id, store_id=store_id, zone="ap-x"
    )
    assert (again.recorded.inserted, again.recorded.duplicates) == (0, 3)
    assert await tables_holding(db, [phone, laptop]) == {}


def truncated(path: Path, tmp_path: Path) -> Path:
    bad = tmp_path / "truncated.pcap"
    bad.write_bytes(path.read_bytes()[:-7])
    return bad


def ethernet(_path: Path, tmp_path: Path) -> Path:
    bad = tmp_path / "ethernet.pcap"
    wrpcap(str(bad), [Ether() / b"x" * 20])
    return bad


def huge_record(path: Path, tmp_path: Path) -> Path:
    data = path.read_bytes()
    header = struct.pack("<IIII", int(time.time()), 0, 200_000_000, 200_000_000)
    bad = tmp_path / "huge.pcap"
    bad.write_bytes(data + header + b"\x00" * 64)
    return bad


def not_pcap(_path: Path, tmp_path: Path) -> Path:
    bad = tmp_path / "notes.pcap"
    bad.write_text("these are not the frames you are looking for\n" * 10)
    return bad


@pytest.mark.parametrize(
    ("make_bad", "says"),
    [
        (truncated, "truncated record"),
        (ethernet, "unsupported link type 1"),
        (huge_record, "exceeds"),
        (not_pcap, "not a pcap file"),
    ],
)
async def test_a_malformed_file_stops_the_import_and_nothing_is_kept(
    db: asyncpg.Pool, capture: Capture, tmp_path: Path, make_bad, says: str
) -> None:
    path, _phone, _laptop, _now = capture
    bad = make_bad(path, tmp_path)
    merchant_id, store_id = await utc_store(db)
    with pytest.raises(ImportFailed, match=f"{bad.name}.*{says}.*nothing was imported"):
        await import_pcaps(
            db,
            SECRET,
            [path, bad],  # the good file first: rolled back with the bad one
            merchant_id=merchant_id,
            store_id=store_id,
            zone="ap-x",
            progress=Terminal(),
        )
    assert await stored(db, merchant_id) == []


async def test_shift_to_now_replays_an_old_capture_as_if_it_ended_now(
    db: asyncpg.Pool, tmp_path: Path
) -> None:
    phone = fresh_mac("00")
    old = datetime(2023, 5, 4, 10, tzinfo=UTC).timestamp()
    path = tmp_path / "old.pcap"
    wrpcap(str(path), [probe(phone, old + 60 * i, -60, i) for i in range(5)])
    merchant_id, store_id = await utc_store(db)
    kept = dict(merchant_id=merchant_id, store_id=store_id, zone="ap-old")
    shifted = await import_pcaps(db, SECRET, [path], shift_to_now=True, **kept)  # type: ignore[arg-type]
    assert (shifted.recorded.inserted, shifted.recomputed) == (5, None)
    rows = await stored(db, merchant_id)
    last = rows[-1]["seen_at"].timestamp()
    assert abs(last - time.time()) < 30 and rows[0]["seen_at"].timestamp() == last - 240


# -- the import's fast path stores what the privacy step stores sighting by sighting ------------


def probe_bytes(ts: float, mac: str, rssi: int, seq: int, model: int = 5) -> tuple[float, bytes]:
    frame = probes.ProbeFrame(ts, mac, BROADCAST, rssi, seq, 2437, 4, 0, None, "ap-eq", model)
    return ts, probes.frame_bytes(frame)


def beacon_bytes(ts: float) -> tuple[float, bytes]:
    _ts, data = probe_bytes(ts, "00:11:22:33:44:55", -40, 1)
    return ts, data[:14] + bytes([0x80]) + data[15:]  # frame control: a beacon


def timezone_with_midnight_at(moment: float) -> str:
    """A fixed-offset zone whose local midnight falls within the hour after `moment`."""
    hours = (24 - datetime.fromtimestamp(moment, UTC).hour - 1) % 24
    if hours > 14:
        hours -= 24
    return f"Etc/GMT{-hours:+d}"  # the sign of Etc/GMT zones is inverted (POSIX)


def equality_capture(tmp_path: Path, now: float) -> tuple[list[Path], str]:
    """Ten hours of a store to the last ten minutes (the shopper model, a staff laptop there
    the last seven and a half, a listed POS tablet, multicast and weak frames, five frames of
    one device in one second, beacons, frames two hours ahead), then ten minutes without
    radiotap (no signal). The store's midnight falls two hours in."""
    start, end = now - 10 * 3600, now - 600
    frames, _ = shoppers.simulate(EQUAL_STORE, start, end, 3)
    records = [(f.ts, probes.frame_bytes(f)) for f in frames]
    records += [probe_bytes(end - 60 * i, STAFF, -55, i) for i in range(450)]
    records += [probe_bytes(start + 300 * i, POS, -50, i) for i in range(80)]
    records += [probe_bytes(start + 7 * i, "01:00:5e:00:00:01", -50, i) for i in range(3)]
    records += [probe_bytes(start + 9 * i, "3c:a9:f4:00:00:09", -90, i) for i in range(5)]
    second = float(int(start + 4000))
    records += [
        probe_bytes(second + 0.1 * i, FOLDED, rssi, 40 + i)
        for i, rssi in enumerate((-70, -60, -60, -65, 0))
    ]
    records += [beacon_bytes(start + 11 * i) for i in range(20)]
    records += [probe_bytes(now + 7200 + i / 4, "ac:5f:3e:00:00:04", -60, i) for i in range(6)]
    records.sort(key=lambda r: r[0])
    first, last = tmp_path / "radiotap.pcap", tmp_path / "raw.pcap"
    write_pcap(first, records)
    late, _ = shoppers.simulate(EQUAL_STORE, end, now, 3)
    write_pcap(last, [(f.ts, probes.frame_bytes(f)[14:]) for f in late], LINKTYPE_IEEE802_11)
    return [first, last], timezone_with_midnight_at(now - 9 * 3600)


# Open round the clock, every day alike: what the capture holds must not depend on the hour or
# the weekday the test runs (a mall shop's evening and its closed night differ tenfold).
EQUAL_STORE = shoppers.StoreProfile(
    "Equal", ("ap-eq",), hourly=(60.0,) * 24, weekday=(1.0,) * 7, opens=0.0, closes=24.0
)
STAFF, POS, FOLDED = "3c:a9:f4:00:00:01", "7c:8b:ca:00:00:02", "ac:5f:3e:00:00:03"


async def snapshot(db: asyncpg.Pool, merchant_id: uuid.UUID) -> dict[str, list[tuple]]:
    """What the import left of this merchant, then cleared for the next run."""
    got = {
        "observations": "SELECT zone, seen_at, device_hash, source, rssi, randomized "
        "FROM footfall_observations WHERE merchant_id = $1 ORDER BY seen_at, device_hash",
        "long_stays": "SELECT day, device_hash, seconds FROM footfall_long_stays "
        "WHERE merchant_id = $1 ORDER BY day, device_hash",
        "marks": "SELECT bucket_start FROM footfall_dirty WHERE merchant_id = $1 "
        "ORDER BY bucket_start",
        "detected": "SELECT device_hash FROM footfall_fixed_devices "
        "WHERE merchant_id = $1 AND reason = 'detected' ORDER BY device_hash",
    }
    result = {
        name: [tuple(r) for r in await db.fetch(sql, merchant_id)] for name, sql in got.items()
    }
    for sql in (
        "DELETE FROM footfall_observations WHERE merchant_id = $1",
        "DELETE FROM footfall_long_stays WHERE merchant_id = $1",
        "DELETE FROM footfall_dirty WHERE merchant_id = $1",
        "DELETE FROM footfall_fixed_devices WHERE merchant_id = $1 AND reason = 'detected'",
    ):
        await db.execute(sql, merchant_id)
    return result


async def import_sighting_by_sighting(
    db: asyncpg.Pool,
    paths: list[Path],
    merchant_id: uuid.UUID,
    store_id: uuid.UUID,
    zone: str,
    batch: int,
) -> tuple[Recorded, dict[str, int]]:
    """The import as it was before its fast path: a Sighting per probe request, through
    FootfallIngest.record with the prober tracker as first written (a scan of every cluster),
    in batches of `batch` per file, in one transaction."""
    ingest = FootfallIngest(SECRET, on_recorded=mark_dirty, tracker_factory=ScanTracker)
    recorded = Recorded()
    async with db.acquire() as conn, conn.transaction():
        for path in paths:
            pending: list[Sighting] = []
            for frame in read_frames(path):
                if frame.subtype != SUBTYPE_PROBE_REQ:
                    continue
                pending.append(Sighting(zone, frame.src, frame.ts, frame.rssi, "probe", frame))
                if len(pending) >= batch:
                    recorded.add(await ingest.record(conn, merchant_id, store_id, pending))
                    pending = []
            if pending:
                recorded.add(await ingest.record(conn, merchant_id, store_id, pending))
    dropped = {
        k: v for k, v in ingest.counts.items() if k.startswith("dropped") or k == "bad_sighting"
    }
    return recorded, dropped


@pytest.mark.parametrize("batch", [997, 20_000])
async def test_the_fast_path_stores_what_the_privacy_step_stores_sighting_by_sighting(
    db: asyncpg.Pool, tmp_path: Path, batch: int
) -> None:
    now = time.time()
    paths, timezone = equality_capture(tmp_path, now)
    merchant_id = await accounts.create_merchant(db, f"Equal {uuid.uuid4().hex[:8]}")
    store_id = await accounts.create_store(db, merchant_id, "Shop", timezone)
    await list_fixed_device(db, SECRET, merchant_id, store_id, POS)

    recorded, dropped = await import_sighting_by_sighting(
        db, paths, merchant_id, store_id, "ap-eq", batch
    )
    before = await snapshot(db, merchant_id)
    result = await import_pcaps(
        db,
        SECRET,
        paths,
        merchant_id=merchant_id,
        store_id=store_id,
        zone="ap-eq",
        on_recorded=mark_dirty,
        batch=batch,
    )
    after = await snapshot(db, merchant_id)

    assert after == before
    assert result.recorded == recorded and result.dropped == dropped
    # The capture had what it was made for.
    rows = before["observations"]
    assert len(rows) > 5_000 and result.recorded.duplicates > 1_000
    assert result.recorded.out_of_window == 6  # frames, not rows
    assert dropped == {"dropped_fixed": 80, "dropped_multicast": 3, "dropped_weak": ANY}
    assert before["long_stays"] and before["marks"]
    assert any(r[4] is None for r in rows) and any(r[5] for r in rows)
    tz = ZoneInfo(timezone)
    assert len({r[1].astimezone(tz).date() for r in rows}) == 2  # the probe key rotated
    # Five frames of one device in one second: the first of the strongest (0 dBm counts as
    # no signal, as record_observations has it).
    second = datetime.fromtimestamp(int(now - 10 * 3600 + 4000), UTC)
    hashed = probe_hash(
        SECRET, str(merchant_id), str(store_id), second.astimezone(tz).date(), FOLDED
    )
    assert [r[4] for r in rows if r[2] == hashed] == [-60]


async def test_the_command_resolves_the_router_and_exits_1_on_a_bad_file(
    database_url: str,
    db: asyncpg.Pool,
    capture: Capture,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path, _phone, _laptop, _now = capture
    merchant_id, store_id = await utc_store(db)
    monkeypatch.setenv("PORTICO_SECRET_KEY", SECRET)

    @contextlib.asynccontextmanager
    async def database(_settings: object) -> AsyncIterator[asyncpg.Pool]:
        pool = await create_pool(database_url, size=2)  # on the command's own event loop
        try:
            yield pool
        finally:
            await pool.close()

    async def find_router(_db: asyncpg.Pool, router_id: str) -> argparse.Namespace | None:
        if router_id != "ap-cli":
            return None
        return argparse.Namespace(merchant_id=merchant_id, store_id=store_id, router_id=router_id)

    parser = argparse.ArgumentParser(prog="portico analytics")
    add_import_pcap_parser(parser.add_subparsers(dest="command"))

    def run(*argv: str) -> int:
        args = parser.parse_args(["import-pcap", *argv])
        args.database, args.find_router = database, find_router
        return main_import_pcap(args)

    assert await asyncio.to_thread(run, str(path), "--router", "ap-cli") == 0
    assert len(await stored(db, merchant_id)) == 3
    assert await asyncio.to_thread(run, str(path), "--router", "ap-nowhere") == 1
    assert await asyncio.to_thread(run, str(tmp_path / "missing.pcap"), "--router", "ap-cli") == 1
