"""`portico analytics accuracy` on small crafted captures with a known head count."""

from __future__ import annotations

import argparse
import functools
import re
import struct
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from scapy.layers.dot11 import Dot11, Dot11Elt, Dot11EltRates, Dot11ProbeReq, RadioTap
from scapy.packet import raw

from analytics.accuracy import add_accuracy_parser, main_accuracy

PRAGUE = ZoneInfo("Europe/Prague")
DAY0 = datetime(2024, 3, 5, 9, 0, tzinfo=PRAGUE).timestamp()


@functools.cache
def _template(rssi: int, model: int) -> bytes:
    return raw(
        RadioTap(present="Channel+dBm_AntSignal", ChannelFrequency=2437, dBm_AntSignal=rssi)
        / Dot11(type=0, subtype=4, addr1="ff:ff:ff:ff:ff:ff", addr3="ff:ff:ff:ff:ff:ff")
        / Dot11ProbeReq()
        / Dot11Elt(ID=0, info=b"")
        / Dot11EltRates(rates=[0x82, 0x84, 0x8B, 0x96, model])
    )


def _record(ts: float, src: str, seq: int, rssi: int, model: int) -> bytes:
    """A radiotap probe request from scapy, with the address and counter patched in."""
    frame = bytearray(_template(rssi, model))
    rt_len = frame[2]
    frame[rt_len + 10 : rt_len + 16] = bytes.fromhex(src.replace(":", ""))
    struct.pack_into("<H", frame, rt_len + 22, seq << 4)
    sec = int(ts)
    return struct.pack("<IIII", sec, int((ts - sec) * 1e6), len(frame), len(frame)) + frame


def _people(day: int, window: int) -> int:
    return (window * (day + 1) + day) % 6


def _write_day(folder: Path, day: int) -> None:
    """A morning of 24 windows: each person in the room probes twice a minute from a new
    random MAC each time; a fixed lab computer probes all along, and passers-by in the
    corridor, heard faintly, come and go."""
    start = DAY0 + day * 86400
    records: list[bytes] = []
    rows = ["datetime;src;rssi;occupancy"]
    seq = 0
    for window in range(24):
        people = _people(day, window)
        for second in range(0, 300, 30):
            ts = start + window * 300 + second
            for person in range(people):
                seq += 1
                mac = f"02:{day:02x}:{window:02x}:{second // 30:02x}:{person:02x}:01"
                records.append(_record(ts + person, mac, seq, -55, 0x0C + person))
            records.append(_record(ts + 10, "dc:fb:48:68:be:e4", seq, -45, 0x30))
            for passer in range((window * 7 + second) % 5):  # corridor traffic, heard faintly
                mac = f"06:ff:{window:02x}:{second // 30:02x}:{passer:02x}:00"
                records.append(_record(ts + 12 + passer, mac, 7, -88, 0x31))
            local = datetime.fromtimestamp(ts, PRAGUE).replace(tzinfo=None)
            rows.append(f"{local.isoformat(sep=' ')};x;-55;{people}.0")
    header = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 127)
    name = f"lab_2024-03-{5 + day:02d}"
    (folder / f"{name}_anonymized.pcap").write_bytes(header + b"".join(records))
    (folder / f"{name}_ver-99.csv").write_text("\n".join(rows) + "\n")


def _run(data: Path, *extra: str) -> int:
    parser = argparse.ArgumentParser()
    add_accuracy_parser(parser.add_subparsers(dest="command"))
    return main_accuracy(parser.parse_args(["accuracy", "--data", str(data), *extra]))


def test_report_on_crafted_days(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for day in range(3):
        _write_day(tmp_path, day)
    assert _run(tmp_path) == 0
    out = capsys.readouterr().out
    assert "Held-out days: 3, 5-minute windows: 72" in out
    est = re.search(r"\| estimator \| ([-\d.]+) \| ([-\d.]+) \| ([-\d.]+) .*\| ([\d.]+) \|", out)
    base = re.search(
        r"\| naive baseline \| ([-\d.]+) \| ([-\d.]+) \| ([-\d.]+) .*\| ([\d.]+) \|", out
    )
    assert est is not None and base is not None
    pooled, median, worst, mae = map(float, est.groups())
    assert pooled > 0.97 and median > 0.97 and worst > 0.95 and mae < 0.5
    # the corridor's random MACs blur the naive count, not the estimator
    assert float(base.group(4)) > mae + 0.3 and float(base.group(1)) < pooled
    for day in range(3):
        assert f"| lab_2024-03-{5 + day:02d} | 24 |" in out


def test_bad_data_is_reported_not_crashed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(tmp_path) == 1
    assert "no capture with ground truth" in capsys.readouterr().err
    for day in range(3):
        _write_day(tmp_path, day)
    broken = tmp_path / "lab_2024-03-06_anonymized.pcap"
    broken.write_bytes(broken.read_bytes()[:-7])
    assert _run(tmp_path) == 1
    err = capsys.readouterr().err
    assert "lab_2024-03-06_anonymized.pcap" in err and "truncated record" in err
    assert _run(tmp_path, "--timezone", "Mars/Olympus") == 2
