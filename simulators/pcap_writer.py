"""Writing pcap files (libpcap format, linktype 127 = radiotap) fast, for captures of any size.

scapy's `wrpcap` builds a packet object per frame (some thousands a second); this writes the
record headers with struct, as libpcap's `pcap_dump` does (pcap_dump in libpcap's sf-pcap.c),
so a bench-size capture (millions of frames) takes seconds.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

LINKTYPE_RADIOTAP = 127
LINKTYPE_IEEE802_11 = 105
_GLOBAL = struct.Struct("<IHHiIII")
_RECORD = struct.Struct("<IIII")
MAGIC = 0xA1B2C3D4  # microsecond timestamps, little-endian as written here
SNAPLEN = 65535


def write_header(out: BinaryIO, linktype: int = LINKTYPE_RADIOTAP) -> None:
    out.write(_GLOBAL.pack(MAGIC, 2, 4, 0, 0, SNAPLEN, linktype))


def write_records(out: BinaryIO, records: Iterable[tuple[float, bytes]]) -> int:
    """Append `(unix seconds, frame bytes)` records; returns how many."""
    count = 0
    pack = _RECORD.pack
    write = out.write
    for ts, data in records:
        seconds = int(ts)
        micros = round((ts - seconds) * 1_000_000)
        if micros >= 1_000_000:
            seconds, micros = seconds + 1, micros - 1_000_000
        write(pack(seconds, micros, len(data), len(data)))
        write(data)
        count += 1
    return count


def write_pcap(
    path: str | Path, records: Iterable[tuple[float, bytes]], linktype: int = LINKTYPE_RADIOTAP
) -> int:
    """A pcap file of `(unix seconds, frame bytes)` records; returns how many it holds."""
    with open(path, "wb") as out:
        write_header(out, linktype)
        return write_records(out, records)


def pcap_bytes(records: Iterable[tuple[float, bytes]], linktype: int = LINKTYPE_RADIOTAP) -> bytes:
    out = io.BytesIO()
    write_header(out, linktype)
    write_records(out, records)
    return out.getvalue()
