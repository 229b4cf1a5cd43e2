"""The probe model against the real captures, and its crafted frames against scapy and the
capture reader (analytics.capture)."""

from __future__ import annotations

import io
import itertools
import random
from pathlib import Path

import pytest
from scapy.layers.dot11 import Dot11, Dot11Elt, RadioTap
from scapy.utils import rdpcap

from analytics.capture import read_frames
from simulators import probes
from simulators.pcap_writer import pcap_bytes, write_pcap

DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "probe-requests-brno"


def _frames(model: int, ssid: str | None) -> list[probes.ProbeFrame]:
    return [
        probes.ProbeFrame(
            1_764_000_000.25 + k,
            mac,
            probes.BROADCAST,
            rssi,
            seq,
            probes.channel_freq(channel),
            4,
            probes.model_fingerprint(model, channel, ssid or ""),
            ssid,
            "ap-1",
            model,
        )
        for k, (mac, rssi, seq, channel) in enumerate(
            [
                ("da:11:22:33:44:55", -40, 0, 1),
                ("3c:a9:f4:01:02:03", -91, 4095, 6),
                ("7e:00:00:00:00:01", -127, 2048, 13),
            ]
        )
    ]


ALL_FRAMES = [
    frame
    for model in range(len(probes.MODELS))
    for ssid in (None, "CMCC-5G")
    for frame in _frames(model, ssid)
]


def test_measured_ranges_are_what_the_real_captures_give() -> None:
    files = sorted(DATA.glob("*_ver-99.csv"))
    if not files:
        pytest.skip(f"the real captures are not at {DATA}")
    stats = [probes.probe_stats(probes.csv_records(str(path))) for path in files]
    for key, (low, high) in probes.MEASURED.items():
        values = [s[key] for s in stats]
        assert min(values) == pytest.approx(low, abs=0.001), key
        assert max(values) == pytest.approx(high, abs=0.001), key


# Measured on six days; the model may stray this far past the days' range (shares, or
# sequence steps for the median step between bursts).
TOLERANCE = {"between_step_median": 3.0, "randomized_share": 0.03}


def test_the_model_probes_like_the_real_phones() -> None:
    stats = probes.probe_stats(probes.sensor_stream(phones=60, seconds=2 * 3600, seed=3))
    assert stats["macs"] > 1000
    for key, (low, high) in probes.MEASURED.items():
        slack = TOLERANCE.get(key, 0.02)
        assert low - slack <= stats[key] <= high + slack, (key, stats[key], (low, high))


def test_random_macs_rotate_while_the_sequence_counter_goes_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(probes, "PARTIAL_SCANS", 0.0)  # every scan reaches the sensor's channel
    rng = random.Random(5)
    ios = probes.MODELS.index(probes.MODEL_BY_NAME["ios-17"])
    phone = probes.Phone.new(rng, ios)
    scans = [phone.scan(100.0 * n, 6) for n in range(200)]
    macs = {probe[1] for scan in scans for probe in scan}
    assert all(probes.is_randomized(mac) for mac in macs)
    assert 180 <= len(macs) < 200  # a new MAC at 95 % of the scans
    for scan in scans:  # a burst: one MAC, consecutive sequence numbers
        assert len({p[1] for p in scan}) == 1
        assert [p[2] for p in scan] == [(scan[0][2] + k) % 4096 for k in range(len(scan))]
    for before, after in itertools.pairwise(scans):
        # A sweep sends n probes on each of the 13 channels, and perhaps 1-2 frames of its
        # own; the sensor on channel 6 hears the sixth channel's burst.
        sweep = 13 * len(before) + 5 * (len(after) - len(before))
        assert 0 <= (after[0][2] - before[0][2]) % 4096 - sweep <= 2
    laptop = probes.Phone.new(rng, probes.MODELS.index(probes.MODEL_BY_NAME["windows-laptop"]))
    sent = {probe[1] for n in range(10) for probe in laptop.scan(60.0 * n, 6)}
    assert sent == {laptop.global_mac}
    assert not probes.is_randomized(laptop.global_mac)


def test_a_partial_scan_is_not_heard_but_moves_the_counter(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(probes, "PARTIAL_SCANS", 1.0)
    phone = probes.Phone.new(random.Random(6))
    before = phone.seq
    assert phone.scan(0.0, 6) == []
    assert 2 <= (phone.seq - before) % 4096 <= 25


def test_device_models_have_distinct_fingerprints_that_ignore_ssid_and_channel() -> None:
    fingerprints = {probes.model_fingerprint(m, 6, "") for m in range(len(probes.MODELS))}
    assert len(fingerprints) == len(probes.MODELS)
    for model in range(len(probes.MODELS)):
        assert probes.model_fingerprint(model, 1, "Home") == probes.model_fingerprint(model, 11, "")


@pytest.mark.parametrize("frame", ALL_FRAMES, ids=lambda f: f"{probes.MODELS[f.model].name}")
def test_crafted_bytes_are_scapys_and_parse_back_the_same(frame: probes.ProbeFrame) -> None:
    data = probes.frame_bytes(frame)
    assert data == bytes(probes.scapy_frame(frame))
    parsed = RadioTap(data)
    dot11 = parsed[Dot11]
    assert (dot11.type, dot11.subtype) == (0, 4)
    assert (dot11.addr1, dot11.addr2, dot11.SC >> 4) == (frame.dst, frame.src, frame.seq)
    assert (parsed.dBm_AntSignal, parsed.ChannelFrequency) == (frame.rssi, frame.freq)
    ids, element = [], parsed.getlayer(Dot11Elt)
    while element is not None:
        ids.append(element.ID)
        element = element.payload.getlayer(Dot11Elt)
    assert ids == probes.MODELS[frame.model].element_ids()
    assert (parsed[Dot11Elt].info.decode() or None) == frame.ssid


def test_pcap_of_crafted_frames_reads_back_in_scapy_and_the_capture_reader(tmp_path: Path) -> None:
    path = tmp_path / "crafted.pcap"
    assert write_pcap(path, ((f.ts, probes.frame_bytes(f)) for f in ALL_FRAMES)) == len(ALL_FRAMES)
    packets = rdpcap(str(path))
    assert [bytes(p) for p in packets] == [probes.frame_bytes(f) for f in ALL_FRAMES]
    assert [float(p.time) for p in packets] == pytest.approx([f.ts for f in ALL_FRAMES], abs=1e-6)
    read = list(read_frames(io.BytesIO(path.read_bytes())))
    assert len(read) == len(ALL_FRAMES)
    for got, sent in zip(read, ALL_FRAMES, strict=True):
        assert (got.src, got.dst, got.rssi, got.seq, got.freq, got.subtype, got.ssid) == (
            sent.src, sent.dst, sent.rssi, sent.seq, sent.freq, 4, sent.ssid
        )  # fmt: skip
        assert got.fingerprint == sent.fingerprint
        assert got.ts == pytest.approx(sent.ts, abs=1e-6)


def test_mqtt_fp_is_eight_hex_digits() -> None:
    assert probes.fp_hex(0x1A2B) == "00001a2b"
    assert probes.fp_hex(-1) == "ffffffff"
    assert len(pcap_bytes([])) == 24
