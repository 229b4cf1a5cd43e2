"""analytics.capture against scapy's own dissection, on crafted and real captures, and its
refusal of malformed files."""

from __future__ import annotations

import io
import itertools
import struct
from pathlib import Path

import pytest
from scapy.layers.dot11 import (
    Dot11,
    Dot11Beacon,
    Dot11Elt,
    Dot11EltRates,
    Dot11FCS,
    Dot11ProbeReq,
    RadioTap,
)
from scapy.packet import Packet, raw
from scapy.utils import PcapWriter, rdpcap, wrpcap

from analytics.capture import CaptureError, Frame, fingerprint_of, read_frames

BRNO = Path(__file__).resolve().parents[3] / "shared" / "data" / "probe-requests-brno"
REAL_PCAP = BRNO / "sc6-61_2023-10-11_anonymized.pcap"


def _probe(
    src: str,
    seq: int,
    ssid: bytes = b"",
    channel: int = 6,
    rates: list[int] | None = None,
) -> Packet:
    return (
        Dot11(type=0, subtype=4, addr1="ff:ff:ff:ff:ff:ff", addr2=src, addr3="ff:ff:ff:ff:ff:ff")
        / Dot11ProbeReq()
        / Dot11Elt(ID=0, info=ssid)
        / Dot11EltRates(rates=rates or [0x82, 0x84, 0x8B, 0x96])
        / Dot11Elt(ID=3, info=bytes([channel]))
        / Dot11Elt(ID=45, info=bytes(range(26)))
        / Dot11Elt(ID=221, info=b"\x00\x50\xf2\x08\x00\x10" + bytes([seq & 0xFF]))
    )


def _with_seq(pkt: Packet, seq: int) -> Packet:
    pkt[Dot11].SC = (seq << 4) | 3  # fragment number 3 must not leak into seq
    return pkt


def _crafted() -> list[Packet]:
    """Radiotap variants: plain, TSFT (8-byte alignment), FCS present, no signal, 5 GHz."""
    pkts = [
        RadioTap(present="Channel+dBm_AntSignal", ChannelFrequency=2437, dBm_AntSignal=-61)
        / _with_seq(_probe("02:aa:bb:cc:dd:01", 0, b"home", 6), 100),
        RadioTap(
            present="TSFT+Flags+Rate+Channel+dBm_AntSignal+Antenna",
            mac_timestamp=99,
            Flags=0,
            Rate=2,
            ChannelFrequency=2412,
            dBm_AntSignal=-85,
            Antenna=1,
        )
        / _with_seq(_probe("3c:22:fb:00:00:02", 0, b"", 1), 4095),
        RadioTap(
            present="Flags+Channel+dBm_AntSignal",
            Flags="FCS",
            ChannelFrequency=5180,
            dBm_AntSignal=-30,
        )
        / Dot11FCS(
            raw(_with_seq(_probe("aa:bb:cc:dd:ee:03", 0, b"cafe", 36), 7)) + b"\xde\xad\xbe\xef"
        ),
        RadioTap(present="Rate", Rate=4) / _with_seq(_probe("02:aa:bb:cc:dd:04", 0), 1),
        RadioTap(present="Channel+dBm_AntSignal", ChannelFrequency=2462, dBm_AntSignal=-70)
        / Dot11(
            type=0,
            subtype=8,
            addr1="ff:ff:ff:ff:ff:ff",
            addr2="00:11:22:33:44:55",
            addr3="00:11:22:33:44:55",
            SC=0x450,
        )
        / Dot11Beacon()
        / Dot11Elt(ID=0, info=b"shop"),
    ]
    for i, p in enumerate(pkts):
        p.time = 1_700_000_000 + i * 0.25
    return pkts


def _expected(pkt: Packet) -> dict[str, object]:
    """What scapy's dissection says about one packet."""
    dot11 = pkt.getlayer(Dot11) or pkt.getlayer(Dot11FCS)
    rt = pkt.getlayer(RadioTap)
    ssid = None
    elt = pkt.getlayer(Dot11Elt)
    while elt is not None:
        if elt.ID == 0 and elt.info:
            ssid = elt.info.decode()
            break
        elt = elt.payload.getlayer(Dot11Elt)
    return {
        "ts": float(pkt.time),
        "src": dot11.addr2,
        "dst": dot11.addr1,
        "seq": dot11.SC >> 4,
        "subtype": dot11.subtype,
        "rssi": getattr(rt, "dBm_AntSignal", None) if rt is not None else None,
        "freq": getattr(rt, "ChannelFrequency", None) if rt is not None else None,
        "ssid": ssid,
    }


def _fields(frame: Frame) -> dict[str, object]:
    return {
        k: getattr(frame, k) for k in ("ts", "src", "dst", "seq", "subtype", "rssi", "freq", "ssid")
    }


def _assert_matches_scapy(path: Path, frames: list[Frame]) -> None:
    reference = [p for p in rdpcap(str(path)) if (p.getlayer(Dot11) or p.getlayer(Dot11FCS))]
    assert len(frames) == len(reference)
    for frame, pkt in zip(frames, reference, strict=True):
        exp = _expected(pkt)
        got = _fields(frame)
        assert got["ts"] == pytest.approx(exp.pop("ts"), abs=1e-6)
        got.pop("ts")
        assert got == exp


def test_crafted_radiotap_matches_scapy(tmp_path: Path) -> None:
    path = tmp_path / "crafted.pcap"
    wrpcap(str(path), _crafted(), linktype=127)
    frames = list(read_frames(path))
    assert [f.subtype for f in frames] == [4, 4, 4, 4, 8]
    assert frames[2].freq == 5180 and frames[2].rssi == -30  # FCS frame: trailer stripped
    assert frames[3].rssi is None and frames[3].freq is None
    _assert_matches_scapy(path, frames)


def test_nanosecond_and_big_endian_pcaps(tmp_path: Path) -> None:
    pkts = _crafted()
    little = tmp_path / "ns.pcap"
    with PcapWriter(str(little), linktype=127, nano=True, sync=True) as w:
        for p in pkts:
            w.write(p)
    frames = list(read_frames(little))
    _assert_matches_scapy(little, frames)
    big = tmp_path / "big.pcap"
    big.write_bytes(_to_big_endian(little.read_bytes()))
    assert list(read_frames(big)) == frames


def _to_big_endian(data: bytes) -> bytes:
    """Re-encode a little-endian pcap's file and record headers in big-endian order."""
    magic, *rest = struct.unpack_from("<IHHiIII", data, 0)
    out = [struct.pack(">IHHiIII", magic, *rest)]
    pos = 24
    while pos < len(data):
        sec, frac, incl, orig = struct.unpack_from("<IIII", data, pos)
        out.append(struct.pack(">IIII", sec, frac, incl, orig))
        out.append(data[pos + 16 : pos + 16 + incl])
        pos += 16 + incl
    return b"".join(out)


def test_raw_80211_linktype(tmp_path: Path) -> None:
    pkts = [_with_seq(_probe(f"02:00:00:00:00:0{i}", 0, b"x"), i) for i in range(3)]
    for i, p in enumerate(pkts):
        p.time = 1_600_000_000 + i
    path = tmp_path / "raw.pcap"
    wrpcap(str(path), pkts, linktype=105)
    frames = list(read_frames(path))
    assert [f.rssi for f in frames] == [None] * 3
    _assert_matches_scapy(path, frames)


def test_extended_present_bitmaps_and_alignment() -> None:
    """Three present words (two radiotap-namespace resets, per-antenna signals), as Linux
    drivers write them: the first, combined signal is the one reported."""
    words = (
        (1 << 0) | (1 << 1) | (1 << 2) | (1 << 3) | (1 << 5) | (1 << 29) | (1 << 31),
        (1 << 5) | (1 << 11) | (1 << 29) | (1 << 31),
        (1 << 5) | (1 << 11),
    )
    data = (
        struct.pack("<Q", 1)  # TSFT, aligned to 8 from the header start (offset 16)
        + bytes([0x10, 2])  # flags: FCS at end; rate
        + struct.pack("<HH", 2437, 0xA0)
        + bytes([-50 & 0xFF, -52 & 0xFF, 0, -49 & 0xFF, 1])
    )
    header = struct.pack("<BBH3I", 0, 0, 16 + len(data), *words) + data
    frame_bytes = raw(_with_seq(_probe("02:11:22:33:44:55", 0, b"x"), 291)) + b"FCS!"
    pkt = RadioTap(header + frame_bytes)
    pkt.time = 1_650_000_000.5
    buf = io.BytesIO()
    w = PcapWriter(buf, linktype=127)
    w.write(pkt)
    w.flush()
    [frame] = read_frames(io.BytesIO(buf.getvalue()))
    assert pkt[RadioTap].dBm_AntSignal == frame.rssi == -50
    assert pkt[RadioTap].ChannelFrequency == frame.freq == 2437
    assert frame.seq == 291 and frame.src == "02:11:22:33:44:55" and frame.ssid == "x"


def test_vendor_namespace_is_skipped() -> None:
    # word 0: Flags + vendor namespace + ext; word 1 (vendor): 1 field; 3 bytes of vendor data
    words = ((1 << 1) | (1 << 30) | (1 << 31), 1)
    vendor = b"\x00\x11\x22" + b"\x00" + struct.pack("<H", 3) + b"xyz"
    body = bytes([0]) + b"\x00" + vendor  # flags byte, pad to 2, namespace field, vendor data
    header = struct.pack("<BBH2I", 0, 0, 12 + len(body), *words) + body
    data = header + raw(_with_seq(_probe("02:00:00:00:00:09", 0), 5))
    [frame] = read_frames(io.BytesIO(_pcap([data], linktype=127)))
    assert frame.src == "02:00:00:00:00:09" and frame.seq == 5 and frame.rssi is None


def test_fingerprint_ignores_ssid_channel_and_vendor_bodies() -> None:
    a = raw(_probe("02:00:00:00:00:01", 1, b"home", 1)[Dot11ProbeReq].payload)
    b = raw(_probe("02:00:00:00:00:02", 2, b"office", 11)[Dot11ProbeReq].payload)
    c = raw(_probe("02:00:00:00:00:03", 2, b"home", 1, rates=[0x02, 0x04])[Dot11ProbeReq].payload)
    assert fingerprint_of(a)[0] == fingerprint_of(b)[0]
    assert fingerprint_of(a)[0] != fingerprint_of(c)[0]
    assert fingerprint_of(a)[1] == "home" and fingerprint_of(b)[1] == "office"


@pytest.mark.skipif(not REAL_PCAP.exists(), reason="the Brno captures are not on this machine")
def test_real_capture_sample_matches_scapy(tmp_path: Path) -> None:
    sample = tmp_path / "sample.pcap"
    data = REAL_PCAP.read_bytes()
    pos = 24
    for _ in range(1500):
        pos += 16 + struct.unpack_from("<I", data, pos + 8)[0]
    sample.write_bytes(data[:pos])
    frames = list(read_frames(sample))
    assert len(frames) == 1500
    assert len({f.src for f in frames}) > 50
    _assert_matches_scapy(sample, frames)


# --- malformed input -------------------------------------------------------------------


def _pcap(records: list[bytes], linktype: int = 127, snaplen: int = 65535) -> bytes:
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, snaplen, linktype)]
    for i, rec in enumerate(records):
        out.append(struct.pack("<IIII", 1_700_000_000 + i, 0, len(rec), len(rec)) + rec)
    return b"".join(out)


def _good_record() -> bytes:
    return raw(
        RadioTap(present="Channel+dBm_AntSignal", ChannelFrequency=2412, dBm_AntSignal=-40)
        / _probe("02:00:00:00:00:01", 0)
    )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "truncated pcap file header"),
        (b"\xd4\xc3\xb2\xa1\x02\x00", "truncated pcap file header"),
        (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "not a pcap file"),
        (b"\x0a\x0d\x0d\x0a" + bytes(40), "pcapng"),
        (_pcap([b"x" * 20], linktype=1), "unsupported link type 1"),
    ],
)
def test_bad_file_header_is_refused_before_any_frame(data: bytes, message: str) -> None:
    frames = read_frames(io.BytesIO(data))
    with pytest.raises(CaptureError, match=message):
        next(frames)


def test_truncated_record_names_record_and_offset() -> None:
    good = _good_record()
    data = _pcap([good, good, good])
    cut = data[: len(data) - 10]
    got: list[Frame] = []
    with pytest.raises(CaptureError, match=r"offset \d+: record 3: truncated record"):
        for f in read_frames(io.BytesIO(cut)):
            got.append(f)
    assert len(got) == 2
    with pytest.raises(CaptureError, match="record 4: truncated record header"):
        list(read_frames(io.BytesIO(data + b"\x00" * 7)))


def test_huge_record_length_is_refused() -> None:
    data = bytearray(_pcap([_good_record()]))
    struct.pack_into("<I", data, 24 + 8, 0x7FFFFFFF)
    with pytest.raises(CaptureError, match=r"offset 24: record 1: length 2147483647 exceeds"):
        list(read_frames(io.BytesIO(bytes(data))))
    small_snap = _pcap([_good_record()], snaplen=32)
    with pytest.raises(CaptureError, match="exceeds the snap length"):
        list(read_frames(io.BytesIO(small_snap)))


def test_bad_radiotap_header_is_refused() -> None:
    rec = bytearray(_good_record())
    struct.pack_into("<H", rec, 2, 5000)  # radiotap length beyond the record
    with pytest.raises(CaptureError, match="record 1: bad radiotap header"):
        list(read_frames(io.BytesIO(_pcap([bytes(rec)]))))


def test_garbage_records_do_not_crash_the_reader() -> None:
    """Random bytes inside well-framed records: either skipped frames or a CaptureError."""
    seeds = itertools.islice(itertools.count(1), 200)
    for seed in seeds:
        body = bytes((seed * 7919 + i * 104729) % 251 for i in range(seed % 90))
        rec = b"\x00\x00" + struct.pack("<H", 8 + seed % 40) + body
        try:
            list(read_frames(io.BytesIO(_pcap([rec]))))
        except CaptureError as exc:
            assert "record 1" in str(exc)
