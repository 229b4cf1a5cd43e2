"""The shopper model: its truth is consistent, its radio looks like a store, it is deterministic."""

from __future__ import annotations

import itertools
import random
import statistics
from datetime import date
from pathlib import Path

import pytest

from analytics.capture import read_frames
from simulators import probes, shoppers

PROFILE = shoppers.mall_store("Test Mall", ["ap-1", "ap-2"], scale=0.4)
# Two local days (Asia/Shanghai): Friday 27 and Saturday 28 November 2026
START = shoppers.utc(2026, 11, 26, 16)
END = shoppers.utc(2026, 11, 28, 16)


@pytest.fixture(scope="module")
def run() -> tuple[list[probes.ProbeFrame], shoppers.Truth]:
    frames, truth = shoppers.simulate(PROFILE, START, END, seed=11)
    return list(frames), truth


def test_occupancy_counts_the_shoppers_inside_in_each_window(run) -> None:
    _, truth = run
    inside = [v for v in truth.visits if v.kind == "shopper"]
    assert inside and max(truth.occupancy.values()) > 5
    windows = range(int(START.timestamp()), int(END.timestamp()), shoppers.WINDOW)
    assert sorted(truth.occupancy) == list(windows)
    for window in windows:
        covering = sum(1 for v in inside if v.start < window + shoppers.WINDOW and v.end > window)
        assert truth.occupancy[window] == covering, window


def test_the_truth_is_consistent(run) -> None:
    frames, truth = run
    t0, t1 = START.timestamp(), END.timestamp()
    kinds = {v.kind for v in truth.visits}
    assert kinds == {"shopper", "passer_by", "staff", "fixed"}
    for v in truth.visits:
        assert t0 <= v.start < v.end <= t1
        assert v.zone in PROFILE.zones
        if v.kind == "passer_by":
            assert v.dwell <= 120 and not v.inside and v.assoc_mac is None
        if v.logged_in:
            assert v.assoc_mac is not None and v.kind == "shopper"
    staff = [v for v in truth.visits if v.kind == "staff"]
    assert all(6 * 3600 - 1300 <= v.dwell <= 9 * 3600 + 1300 for v in staff)
    # station events: each connected stay joins before it leaves, on the visit's zone
    by_mac: dict[tuple[str, str], list[shoppers.StationEvent]] = {}
    for event in truth.stations:
        by_mac.setdefault((event.person, event.mac), []).append(event)
    for events in by_mac.values():
        kinds_seen = [e.event for e in events]
        assert kinds_seen == ["join", "leave"] * (len(events) // 2)
        assert all(a.ts < b.ts for a, b in itertools.pairwise(events))
    connected = {(v.person, v.assoc_mac) for v in truth.visits if v.assoc_mac and v.dwell >= 90}
    assert set(by_mac) <= {(v.person, v.assoc_mac) for v in truth.visits if v.assoc_mac}
    assert len(by_mac) >= 0.8 * len(connected) > 0
    logged = {(v.person, v.assoc_mac) for v in truth.visits if v.logged_in}
    assert truth.logins and {(x.person, x.mac) for x in truth.logins} <= logged
    # frames: time order, in range, only from the store's zones, detectable levels
    assert all(a.ts <= b.ts for a, b in itertools.pairwise(frames))
    assert all(t0 <= f.ts < t1 and f.zone in PROFILE.zones for f in frames)
    assert all(-127 <= f.rssi <= 0 and 0 <= f.seq < 4096 for f in frames)


def test_regulars_come_back_with_the_same_phone(run) -> None:
    _, truth = run
    regular = [v for v in truth.visits if v.person.startswith("regular-")]
    by_person: dict[str, set[str]] = {}
    for v in regular:
        by_person.setdefault(v.person, set()).add(v.device)
    assert any(len([v for v in regular if v.person == p]) > 1 for p in by_person)
    assert all(len(devices) == 1 for devices in by_person.values())


def test_inside_is_stronger_than_outside() -> None:
    store = shoppers.Store(PROFILE, seed=2)
    rng = random.Random(2)
    plans = store.plan_day(date(2026, 11, 27))
    levels: dict[str, list[int]] = {"shopper": [], "passer_by": []}
    for plan in plans:
        who = plan.who
        if who.kind in levels:
            nearest = (int(who.x // PROFILE.spacing) + 0.5) * PROFILE.spacing
            levels[who.kind].append(shoppers.rssi_at(rng, who, who.x, nearest))
    assert statistics.median(levels["shopper"]) >= statistics.median(levels["passer_by"]) + 12
    assert statistics.median(levels["shopper"]) > -70 > statistics.median(levels["passer_by"])


def test_arrivals_follow_the_weekday_and_hour_curve() -> None:
    store = shoppers.Store(PROFILE, seed=4)
    friday, saturday = store.plan_day(date(2026, 11, 27)), store.plan_day(date(2026, 11, 28))

    def shoppers_in(plans: list) -> list[shoppers.Visit]:
        return [p.visit for p in plans if p.visit.kind == "shopper"]

    assert len(shoppers_in(saturday)) > 1.2 * len(shoppers_in(friday))
    tz = shoppers.ZoneInfo(PROFILE.timezone)
    hours = [shoppers.datetime.fromtimestamp(v.start, tz).hour for v in shoppers_in(friday)]
    assert min(hours) >= 10 and max(hours) < 22
    assert hours.count(19) > hours.count(10)


def test_a_seed_decides_everything_and_a_day_is_the_same_in_any_range(run) -> None:
    frames, truth = run
    again, truth_again = shoppers.simulate(PROFILE, START, END, seed=11)
    assert list(again) == frames
    assert truth_again.visits == truth.visits and truth_again.stations == truth.stations
    other, _ = shoppers.simulate(PROFILE, START, END, seed=12)
    assert list(itertools.islice(other, 200)) != frames[:200]
    # the second day alone
    day2 = shoppers.utc(2026, 11, 27, 16)
    alone, truth_alone = shoppers.simulate(PROFILE, day2, END, seed=11)
    assert list(alone) == [f for f in frames if f.ts >= day2.timestamp()]
    assert truth_alone.visits == [v for v in truth.visits if v.start >= day2.timestamp()]


def test_the_probe_stream_of_a_store_matches_the_real_captures(run) -> None:
    frames, _ = run
    stats = probes.probe_stats((f.ts, f.src, f.seq) for f in frames if f.zone == "ap-1")
    for key in ("randomized_share", "in_burst_step1", "random_single_burst", "mean_burst"):
        low, high = probes.MEASURED[key]
        assert low - 0.03 <= stats[key] <= high + 0.03, (key, stats[key])


def test_a_zones_capture_reads_back(run, tmp_path: Path) -> None:
    frames, _ = run
    one_hour = [f for f in frames if f.ts < START.timestamp() + 20 * 3600][:5000]
    path = tmp_path / "ap-2.pcap"
    count = shoppers.write_capture(path, iter(one_hour), "ap-2")
    mine = [f for f in one_hour if f.zone == "ap-2"]
    assert count == len(mine) > 100
    read = list(read_frames(path))
    assert [(r.src, r.seq, r.rssi, r.fingerprint) for r in read] == [
        (f.src, f.seq, f.rssi, f.fingerprint) for f in mine
    ]


def test_bad_ranges_and_profiles_are_refused() -> None:
    with pytest.raises(ValueError, match="after start"):
        shoppers.simulate(PROFILE, END, START, seed=1)
    with pytest.raises(ValueError, match="time zone"):
        shoppers.simulate(PROFILE, START.replace(tzinfo=None), END, seed=1)
    with pytest.raises(ValueError, match="24 values"):
        shoppers.StoreProfile("x", ("ap",), hourly=(1.0,) * 23)
