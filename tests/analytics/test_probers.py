"""analytics.probers: crafted probe streams with a known number of phones."""

from __future__ import annotations

from analytics.capture import Frame
from analytics.probers import ProberTracker

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
