"""analytics.probers: crafted probe streams with a known number of phones."""

from __future__ import annotations

import random

from analytics.capture import Frame
from analytics.probers import ProberTracker
from simulators import shoppers
from tests.analytics.reference_probers import ScanTracker

MODEL_A = 0x1111
MODEL_B = 0x2222


def _frame(ts: float, src: str, seq: int, rssi: int | None, fp: int = MODEL_A) -> Frame:
    return Frame(ts, src, "ff:ff:ff:ff:ff:ff", rssi, seq % 4096, 2437, 4, fp, None)


def _rotating_phone(
    start: float, prefix: str, seq0: int, rssi: int, bursts: int, fp: int = MODEL_A
) -> list[Frame]:
    """A phone that probes a 3-frame burst every 20 s with a fresh random MAC each time,
    its sequence counter running on across the rotations (as many Android phones do)."""
    out = []
    seq = seq0
    for b in range(bursts):
        mac = f"{prefix}:00:00:{b:02x}"
        for i in range(3):
            out.append(_frame(start + 20 * b + 0.02 * i, mac, seq, rssi + (b % 3) - 1, fp))
            seq += 1
        seq += 2  # a probe on another channel the sensor did not hear
    return out


def _devices(tracker: ProberTracker, frames: list[Frame]) -> set[str]:
    return {tracker.assign(f) for f in sorted(frames, key=lambda f: f.ts)}


def test_two_phones_of_one_model_rotating_macs_are_two_devices() -> None:
    a = _rotating_phone(0.0, "02:aa:01", seq0=100, rssi=-50, bursts=10)
    b = _rotating_phone(5.0, "06:bb:02", seq0=2000, rssi=-52, bursts=10)
    assert len({f.src for f in a + b}) == 20
    tracker = ProberTracker()
    keys = _devices(tracker, a + b)
    assert keys == {"02:aa:01:00:00:00", "06:bb:02:00:00:00"}  # each the first MAC seen


def test_sequence_numbers_wrap_around() -> None:
    phone = _rotating_phone(0.0, "02:aa:01", seq0=4090, rssi=-60, bursts=4)
    assert _devices(ProberTracker(), phone) == {"02:aa:01:00:00:00"}


def test_same_model_far_apart_in_signal_and_sequence_is_two_devices() -> None:
    first = _frame(0.0, "02:00:00:00:00:01", 10, -40)
    assert (
        len(_devices(ProberTracker(), [first, _frame(15.0, "0a:00:00:00:01:00", 1000, -80)])) == 2
    )
    # far in sequence at the same signal after a pause: a phone resetting its counter (one);
    # close in sequence but far in signal: two phones ...
    assert (
        len(_devices(ProberTracker(), [first, _frame(15.0, "0a:00:00:00:01:00", 1000, -41)])) == 1
    )
    assert len(_devices(ProberTracker(), [first, _frame(15.0, "0a:00:00:00:01:00", 12, -80)])) == 2
    # ... and a continuing counter at a similar signal is the same phone
    assert len(_devices(ProberTracker(), [first, _frame(15.0, "0a:00:00:00:01:00", 12, -45)])) == 1


def test_rotation_without_sequence_continuity_matches_on_signal_after_a_pause() -> None:
    # iOS resets the counter with the MAC: only the fingerprint, signal and timing link them.
    first = [_frame(0.0, "02:11:11:11:11:11", 1500, -61)]
    second = [_frame(15.0, "02:22:22:22:22:22", 37, -63)]
    assert len(_devices(ProberTracker(), first + second)) == 1
    # the same pair 10 dB apart: two phones
    second_far = [_frame(15.0, "02:22:22:22:22:22", 37, -73)]
    assert len(_devices(ProberTracker(), first + second_far)) == 2


def test_two_phones_probing_in_the_same_instant_are_not_merged() -> None:
    frames = [
        _frame(10.0, "02:00:00:00:00:01", 100, -60),
        _frame(10.1, "02:00:00:00:00:02", 900, -61),  # same model, same signal, same burst
    ]
    assert len(_devices(ProberTracker(), frames)) == 2


def test_different_models_are_never_merged() -> None:
    frames = [
        _frame(0.0, "02:00:00:00:00:01", 100, -60, MODEL_A),
        _frame(10.0, "02:00:00:00:00:02", 101, -60, MODEL_B),
    ]
    assert len(_devices(ProberTracker(), frames)) == 2


def test_non_randomised_macs_map_to_themselves() -> None:
    tracker = ProberTracker()
    for i in range(5):
        frame = _frame(float(i), "3c:22:fb:00:00:01", 100 + i, -50)
        assert tracker.assign(frame) == "3c:22:fb:00:00:01"
    assert len(tracker) == 0  # globally administered devices take no cluster memory


def test_clusters_expire_and_memory_is_bounded() -> None:
    tracker = ProberTracker(expire=300.0, max_clusters=100)
    assert tracker.assign(_frame(0.0, "02:00:00:00:00:01", 100, -60)) == "02:00:00:00:00:01"
    # long after the expiry the same model continuing the counter is a new device
    later = tracker.assign(_frame(1000.0, "02:00:00:00:00:02", 101, -60))
    assert later == "02:00:00:00:00:02"
    assert len(tracker) == 1
    for i in range(5000):  # a crowd of distinct models within a minute
        tracker.assign(
            _frame(1000.0 + i / 100, f"02:01:00:00:{i >> 8:02x}:{i & 255:02x}", 0, -60, i)
        )
    assert len(tracker) <= 100


def test_returning_mac_keeps_its_device() -> None:
    tracker = ProberTracker()
    first = tracker.assign(_frame(0.0, "02:00:00:00:00:01", 100, -60))
    tracker.assign(_frame(20.0, "02:00:00:00:00:02", 104, -60))
    assert tracker.assign(_frame(40.0, "02:00:00:00:00:01", 108, -60)) == first


# -- the index gives the answers of a scan of every cluster ---------------------------------


def _same_as_the_scan(frames: list[Frame], **settings: float) -> int:
    """Feed both trackers; every frame must get the same device. The number of devices."""
    indexed, scan = ProberTracker(**settings), ScanTracker(**settings)  # type: ignore[arg-type]
    devices = set()
    for n, frame in enumerate(frames):
        got, want = indexed.assign(frame), scan.assign(frame)
        assert got == want, f"frame {n} {frame}: {got} against the scan's {want}"
        devices.add(got)
    assert len(indexed) == len(scan)
    return len(devices)


def test_the_index_matches_the_scan_on_a_simulated_mall() -> None:
    now = 1_700_000_000.0
    frames, _truth = shoppers.simulate(
        shoppers.mall_store("Equal", ("ap-1",), 3.0), now, now + 6 * 3600, 11
    )
    stream = [Frame(*f[:9]) for f in frames]
    assert len(stream) > 10_000
    assert _same_as_the_scan(stream) < len({f.src for f in stream}) / 3


def test_the_index_matches_the_scan_on_crafted_ties_and_edges() -> None:
    """Few models, signals on a few values and counters in a narrow range, so that clusters
    tie on score; frames a little out of order, some without a signal, counters wrapping,
    and a tracker small enough to be swept for room."""
    rng = random.Random(5)
    frames = []
    ts = 0.0
    for _ in range(20_000):
        ts += rng.choice((0.0, 0.01, 0.5, 3.0, 11.0))
        mac = f"{rng.choice('26ae')}{rng.randrange(16):x}:00:00:00:{rng.randrange(4):02x}:" + (
            f"{rng.randrange(40):02x}"
        )
        if rng.random() < 0.05:
            mac = "00:11:22:33:44:" + f"{rng.randrange(8):02x}"  # a global MAC
        rssi = None if rng.random() < 0.05 else rng.choice((-50, -53, -56, -60, -70))
        seq = rng.choice((4090, 4094, 0, 3, 30, 64, 100, 2000)) + rng.randrange(3)
        jitter = -rng.random() * 1.5 if rng.random() < 0.05 else 0.0
        frames.append(_frame(ts + jitter, mac, seq, rssi, rng.choice((MODEL_A, MODEL_B))))
    assert _same_as_the_scan(frames) > 1
    assert _same_as_the_scan(frames, max_clusters=50) > 1
    assert _same_as_the_scan(frames, seq_gap=200, quiet=0.0, window=30.0) > 1
    assert _same_as_the_scan(frames, seq_gap=1, expire=20.0) > 1
