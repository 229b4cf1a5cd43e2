"""Fast reader of 802.11 monitor-mode captures (classic pcap, radiotap or raw 802.11).

`read_frames(path_or_fileobj)` yields one `Frame` per management frame (probe requests and
the other management subtypes; control and data frames are skipped). Headers are parsed by
hand with `struct` on the raw bytes: scapy's full dissection manages under 1,000 frames/s,
this path over 100,000 frames/s per core. scapy stays the reference in the tests.

Malformed files raise `CaptureError` naming the byte offset and the record number: before
anything is yielded when the file header is bad, on the first bad record otherwise.
"""

from __future__ import annotations

import functools
import struct
import zlib
from collections.abc import Iterator
from os import PathLike
from typing import BinaryIO, NamedTuple

LINKTYPE_IEEE802_11 = 105
LINKTYPE_RADIOTAP = 127
SUPPORTED_LINKTYPES = (LINKTYPE_IEEE802_11, LINKTYPE_RADIOTAP)

# A record longer than this is corruption, whatever the snaplen says (802.11 frames are
# at most ~11.5 KB plus a radiotap header).
MAX_RECORD = 65536
CHUNK = 1 << 20

SUBTYPE_ASSOC_REQ = 0
SUBTYPE_REASSOC_REQ = 2
SUBTYPE_PROBE_REQ = 4
SUBTYPE_PROBE_RESP = 5
SUBTYPE_BEACON = 8

# Bytes of fixed fields before the information elements, per management subtype.
_IE_START = {
    SUBTYPE_ASSOC_REQ: 4,
    SUBTYPE_REASSOC_REQ: 10,
    SUBTYPE_PROBE_REQ: 0,
    SUBTYPE_PROBE_RESP: 12,
    SUBTYPE_BEACON: 12,
}

# Elements that describe the device model and stay the same from burst to burst: supported
# and extended rates, HT / VHT capabilities, extended capabilities, interworking, HE / EHT
# capabilities (element-id extension 35 / 108) and, for vendor-specific elements, only the
# OUI and type (their bodies carry per-burst data such as WPS UUIDs and P2P device names).
# Left out: SSID (0), DS parameter set (3: the channel), request elements, and anything else.
_FP_ELEMENTS = frozenset({1, 50, 45, 127, 191, 107})
_FP_EXTENSIONS = frozenset({35, 108})
_ELEMENT_VENDOR = 221
_ELEMENT_EXTENSION = 255

# Radiotap fields of the default namespace, by bit: (alignment, size). From
# https://www.radiotap.org/fields/defined (the same table Linux's ieee80211_radiotap.h holds).
_RT_FIELDS: dict[int, tuple[int, int]] = {
    0: (8, 8),  # TSFT
    1: (1, 1),  # Flags
    2: (1, 1),  # Rate
    3: (2, 4),  # Channel: u16 frequency, u16 flags
    4: (1, 2),  # FHSS
    5: (1, 1),  # dBm antenna signal
    6: (1, 1),  # dBm antenna noise
    7: (2, 2),  # lock quality
    8: (2, 2),  # TX attenuation
    9: (2, 2),  # dB TX attenuation
    10: (1, 1),  # dBm TX power
    11: (1, 1),  # antenna
    12: (1, 1),  # dB antenna signal
    13: (1, 1),  # dB antenna noise
    14: (2, 2),  # RX flags
    15: (2, 2),  # TX flags
    16: (1, 1),  # RTS retries
    17: (1, 1),  # data retries
    18: (4, 8),  # XChannel: u32 flags, u16 frequency, u8 channel, u8 max power
    19: (1, 3),  # MCS
    20: (4, 8),  # A-MPDU status
    21: (2, 12),  # VHT
    22: (8, 12),  # timestamp
    23: (2, 12),  # HE
    24: (2, 12),  # HE-MU
    25: (2, 6),  # HE-MU-other-user
    26: (1, 1),  # 0-length PSDU
    27: (2, 4),  # L-SIG
}
_RT_TLV = 28
_RT_NS_RADIOTAP = 29
_RT_NS_VENDOR = 30
_RT_EXT = 31
_RT_FLAG_FCS = 0x10
_RT_FLAG_BADFCS = 0x40

_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")


class CaptureError(ValueError):
    """The capture file is malformed or not a supported pcap."""


class Frame(NamedTuple):
    """One management frame. Immutable; a NamedTuple rather than a frozen dataclass because
    building one costs 0.65 µs against 3 µs, which was a third of the per-frame budget."""

    ts: float  # unix seconds
    src: str  # transmitter, lower-case aa:bb:cc:dd:ee:ff
    dst: str
    rssi: int | None  # dBm
    seq: int  # 802.11 sequence number, 0 … 4095
    freq: int | None  # MHz
    subtype: int  # management subtype; 4 = probe request
    fingerprint: int  # hash of the model-identifying elements; memory only, never stored
    ssid: str | None  # None for a wildcard probe or no SSID element


def is_randomized(mac: str) -> bool:
    """A locally administered (randomised) unicast address: bit 1 of the first octet, read off
    its second hex digit (a lookup, not int(): this runs for every probe request)."""
    return len(mac) >= 2 and mac[1] in _LOCAL_DIGITS


_LOCAL_DIGITS = frozenset("2367abefABEF")  # hex digits with bit 1 set


def is_multicast(mac: str) -> bool:
    return len(mac) >= 2 and int(mac[:2], 16) & 0x01 == 0x01


def fingerprint_of(elements: bytes) -> tuple[int, str | None]:
    """(fingerprint, ssid) of a run of information elements.

    The fingerprint is a CRC-32 over the identifying elements in their order; the
    SSID and the channel are left out, so the same phone gives the same value in every
    burst whatever network it asks for.
    """
    parts = []
    ssid: str | None = None
    pos = 0
    end = len(elements)
    while pos + 2 <= end:
        eid = elements[pos]
        length = elements[pos + 1]
        body_end = pos + 2 + length
        if body_end > end:
            break  # element cut off by the snap length: ignore the rest
        if eid == 0:
            if length and ssid is None:
                ssid = elements[pos + 2 : body_end].decode("utf-8", "replace")
        elif eid in _FP_ELEMENTS:
            parts.append(elements[pos:body_end])
        elif eid == _ELEMENT_VENDOR:
            parts.append(elements[pos : min(pos + 6, body_end)])  # id, length, OUI, type
        elif eid == _ELEMENT_EXTENSION and length and elements[pos + 2] in _FP_EXTENSIONS:
            parts.append(elements[pos:body_end])
        pos = body_end
    return zlib.crc32(b"".join(parts)), ssid


def _radiotap_layout(hdr: bytes | memoryview, rt_len: int) -> tuple[int, int, int, bool] | None:
    """Offsets of (flags, dBm signal, channel frequency) in a radiotap header, -1 when absent,
    and whether the layout depends only on the present words (so it can be cached).

    Walks every present word (bit 31 chains them), switching namespace at bits 29/30;
    fields are aligned to their natural size counted from the start of the header.
    Returns None when the header is inconsistent.
    """
    words = []
    pos = 4
    while True:
        if pos + 4 > rt_len:
            return None
        word = _U32.unpack_from(hdr, pos)[0]
        words.append(word)
        pos += 4
        if not word & (1 << _RT_EXT):
            break
    off = pos
    flags_at = signal_at = freq_at = -1
    namespace = "radiotap"
    index = 0  # word index within the current namespace
    cacheable = True
    vendor_skip = 0
    for word in words:
        if namespace == "radiotap":
            for bit in range(29):
                if not word & (1 << bit):
                    continue
                field = _RT_FIELDS.get(bit + 32 * index) if bit < _RT_TLV else None
                if field is None:
                    return (flags_at, signal_at, freq_at, cacheable) if off <= rt_len else None
                align, size = field
                off = (off + align - 1) & ~(align - 1)
                if off + size > rt_len:
                    return None
                if index == 0:
                    if bit == 1 and flags_at < 0:
                        flags_at = off
                    elif bit == 3 and freq_at < 0:
                        freq_at = off
                    elif bit == 5 and signal_at < 0:
                        signal_at = off
                off += size
        else:  # vendor namespace: its data is skip_length bytes after the namespace field
            off += vendor_skip
            if off > rt_len:
                return None
        index += 1
        if word & (1 << _RT_NS_VENDOR):
            off = (off + 1) & ~1
            if off + 6 > rt_len:
                return None
            vendor_skip = _U16.unpack_from(hdr, off + 4)[0]
            off += 6
            namespace, index, cacheable = "vendor", 0, False
        elif word & (1 << _RT_NS_RADIOTAP):
            namespace, index = "radiotap", 0
        # a word continuing the same namespace keeps counting its index
    return flags_at, signal_at, freq_at, cacheable


def _open(source: str | PathLike[str] | BinaryIO) -> tuple[BinaryIO, bool]:
    if isinstance(source, (str, PathLike)):
        return open(source, "rb"), True  # closed by read_frames
    return source, False


def read_frames(source: str | PathLike[str] | BinaryIO) -> Iterator[Frame]:
    """Yield the management frames of a pcap file (path or binary file object)."""
    fh, owned = _open(source)
    try:
        header = fh.read(24)
        order, ts_scale, snaplen, linktype, fcs_trailer = _parse_header(header)
        yield from _records(fh, order, ts_scale, snaplen, linktype, fcs_trailer)
    finally:
        if owned:
            fh.close()


def _parse_header(header: bytes) -> tuple[str, float, int, int, int]:
    if len(header) >= 4 and header[:4] == b"\x0a\x0d\x0d\x0a":
        raise CaptureError(
            "offset 0: this is a pcapng file; convert it to classic pcap first "
            "(editcap -F pcap in.pcapng out.pcap, or tcpdump -r in.pcapng -w out.pcap)"
        )
    if len(header) < 24:
        raise CaptureError(f"offset 0: truncated pcap file header ({len(header)} of 24 bytes)")
    magic = header[:4]
    if magic == b"\xd4\xc3\xb2\xa1":
        order, ts_scale = "<", 1e-6
    elif magic == b"\xa1\xb2\xc3\xd4":
        order, ts_scale = ">", 1e-6
    elif magic == b"\x4d\x3c\xb2\xa1":
        order, ts_scale = "<", 1e-9
    elif magic == b"\xa1\xb2\x3c\x4d":
        order, ts_scale = ">", 1e-9
    else:
        raise CaptureError(f"offset 0: not a pcap file (magic {magic.hex()})")
    major, _minor, _zone, _sigfigs, snaplen, network = struct.unpack(order + "HHiIII", header[4:])
    if major != 2:
        raise CaptureError(f"offset 4: unsupported pcap version {major}")
    linktype = network & 0xFFFF
    if linktype not in SUPPORTED_LINKTYPES:
        raise CaptureError(
            f"offset 20: unsupported link type {linktype} "
            "(expected 127 radiotap or 105 raw 802.11, from a monitor-mode capture)"
        )
    # Bits 26–31 of the link-type field may announce an FCS on every frame (pcap spec §8).
    fcs_trailer = 2 * (network >> 28) if network & (1 << 26) else 0
    limit = min(snaplen, MAX_RECORD) if snaplen else MAX_RECORD
    return order, ts_scale, limit, linktype, fcs_trailer


def _records(
    fh: BinaryIO, order: str, ts_scale: float, limit: int, linktype: int, fcs_trailer: int
) -> Iterator[Frame]:
    rec_hdr = struct.Struct(order + "IIII")
    unpack_rec = rec_hdr.unpack_from
    unpack_u16 = _U16.unpack_from
    radiotap = linktype == LINKTYPE_RADIOTAP
    layouts: dict[bytes, tuple[int, int, int, bool]] = {}
    fp_cache: dict[bytes, tuple[int, str | None]] = {}
    macs: dict[bytes, str] = {}
    ie_start = _IE_START
    # Frame(…) without the Python-level __new__ of a NamedTuple: 0.15 µs less a frame.
    new_frame = functools.partial(tuple.__new__, Frame)
    buf = b""
    pos = 0
    base = 24  # file offset of buf[0]
    record = 0
    while True:
        if len(buf) - pos < 16:
            more = fh.read(CHUNK)
            if not more:
                if len(buf) - pos:
                    raise CaptureError(
                        f"offset {base + pos}: record {record + 1}: truncated record header "
                        f"({len(buf) - pos} of 16 bytes)"
                    )
                return
            base += pos
            buf = buf[pos:] + more
            pos = 0
            continue
        sec, frac, incl, _orig = unpack_rec(buf, pos)
        if incl > limit:
            raise CaptureError(
                f"offset {base + pos}: record {record + 1}: length {incl} exceeds the "
                f"snap length / limit of {limit} bytes"
            )
        end = pos + 16 + incl
        if end > len(buf):
            more = fh.read(max(CHUNK, end - len(buf)))
            if not more:
                raise CaptureError(
                    f"offset {base + pos}: record {record + 1}: truncated record "
                    f"({len(buf) - pos - 16} of {incl} bytes)"
                )
            base += pos
            buf = buf[pos:] + more
            pos = 0
            continue
        record += 1
        start = pos + 16
        pos = end
        end -= fcs_trailer
        rssi = freq = None
        if radiotap:
            rt_len = unpack_u16(buf, start + 2)[0] if incl >= 8 else 0
            if rt_len < 8 or rt_len > incl or buf[start] != 0:
                raise CaptureError(
                    f"offset {base + start - 16}: record {record}: bad radiotap header "
                    f"(length {rt_len}, record {incl} bytes)"
                )
            # The present words decide the layout: cache it by their bytes.
            key_end = start + 8
            while buf[key_end - 1] & 0x80 and key_end + 4 <= start + rt_len:
                key_end += 4
            key = buf[start + 2 : key_end]
            layout = layouts.get(key)
            if layout is None:
                layout = _radiotap_layout(buf[start : start + rt_len], rt_len)
                if layout is None:
                    raise CaptureError(
                        f"offset {base + start - 16}: record {record}: bad radiotap header "
                        f"(inconsistent fields for length {rt_len})"
                    )
                if layout[3]:
                    layouts[key] = layout
            flags_at, signal_at, freq_at, _ = layout
            if flags_at >= 0:
                rt_flags = buf[start + flags_at]
                if rt_flags & _RT_FLAG_BADFCS:
                    continue  # corrupted in the air: its addresses cannot be trusted
                if rt_flags & _RT_FLAG_FCS:
                    end -= 4
            if signal_at >= 0:
                rssi = buf[start + signal_at]
                if rssi > 127:
                    rssi -= 256
            if freq_at >= 0:
                freq = unpack_u16(buf, start + freq_at)[0] or None
            start += rt_len
        if end - start < 24:
            continue  # a runt: not enough for a management header
        fc = buf[start]
        if fc & 0x0F:  # type bits 2-3 must be 0 (management), version 0
            continue
        subtype = fc >> 4
        body = start + 28 if buf[start + 1] & 0x80 else start + 24  # +HTC control field
        src_b = buf[start + 10 : start + 16]
        src = macs.get(src_b)
        if src is None:
            src = macs[src_b] = src_b.hex(":")
        dst_b = buf[start + 4 : start + 10]
        dst = macs.get(dst_b)
        if dst is None:
            dst = macs[dst_b] = dst_b.hex(":")
        if len(macs) > 100_000:
            macs.clear()  # bounded: a capture full of random MACs must not grow memory
        seq = unpack_u16(buf, start + 22)[0] >> 4
        skip = ie_start.get(subtype)
        if skip is None or body + skip > end:
            fingerprint, ssid = 0, None
        else:
            elements = buf[body + skip : end]
            cached = fp_cache.get(elements)
            if cached is None:
                if len(fp_cache) > 50_000:
                    fp_cache.clear()
                cached = fp_cache[elements] = fingerprint_of(elements)
            fingerprint, ssid = cached
        yield new_frame(
            (sec + frac * ts_scale, src, dst, rssi, seq, freq, subtype, fingerprint, ssid)
        )
