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

import asyncpg
import pytest
from scapy.layers.dot11 import Dot11, Dot11Beacon, Dot11Elt, Dot11ProbeReq, RadioTap
from scapy.layers.l2 import Ether
from scapy.packet import Packet
from scapy.utils import wrpcap

from accounts import services as accounts
from analytics.importer import (
    ImportFailed,
    add_import_pcap_parser,
    import_pcaps,
    main_import_pcap,
    summary,
)
from kernel.db import create_pool
from kernel.privacy import probe_hash
from tests.analytics.raw_macs import tables_holding

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
    """A capture of the last few minutes: a phone, a laptop, a beacon, noise to drop."""
    now = time.time()
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


async def test_an_old_capture_is_past_retention_unless_shifted_to_now(
    db: asyncpg.Pool, tmp_path: Path
) -> None:
    phone = fresh_mac("00")
    old = datetime(2023, 5, 4, 10, tzinfo=UTC).timestamp()
    path = tmp_path / "old.pcap"
    wrpcap(str(path), [probe(phone, old + 60 * i, -60, i) for i in range(5)])
    merchant_id, store_id = await utc_store(db)
    kept = dict(merchant_id=merchant_id, store_id=store_id, zone="ap-old")
    result = await import_pcaps(db, SECRET, [path], **kept)  # type: ignore[arg-type]
    assert (result.recorded.inserted, result.recorded.out_of_window) == (0, 5)
    assert "--shift-to-now" in summary(result)
    shifted = await import_pcaps(db, SECRET, [path], shift_to_now=True, **kept)  # type: ignore[arg-type]
    assert shifted.recorded.inserted == 5
    rows = await stored(db, merchant_id)
    last = rows[-1]["seen_at"].timestamp()
    assert abs(last - time.time()) < 30 and rows[0]["seen_at"].timestamp() == last - 240


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
