"""analytics.occupancy: counts, filters, smoothing and calibration on known answers."""

from __future__ import annotations

import math

import pytest

from analytics.occupancy import (
    WINDOW,
    Calibration,
    EstimatorParams,
    Moments,
    Observation,
    estimate,
    fit_calibration,
    long_present_devices,
    pearson,
    truth_by_window,
    window_counts,
    window_features,
)

T0 = 1_700_006_400 + 8 * 3600  # a window start: 08:00 UTC


def _ob(minute: float, key: str, rssi: int | None = -60, randomized: bool = True) -> Observation:
    return Observation(T0 + minute * 60, key, rssi, randomized)


def test_counts_split_random_and_static_and_apply_the_rssi_threshold() -> None:
    obs = [
        _ob(0, "r1"),
        _ob(1, "r1"),  # the same device twice: counted once
        _ob(2, "r2", rssi=-70),  # exactly at the threshold: kept
        _ob(3, "r3", rssi=-71),  # below: dropped
        _ob(4, "r4", rssi=None),  # no signal reading: dropped
        _ob(0, "aa:bb", randomized=False),
        _ob(6, "r1"),  # the next window
    ]
    counts = window_counts(obs, EstimatorParams(rssi_threshold=-70))
    assert counts == {T0: (2, 1), T0 + WINDOW: (1, 0)}


def test_fixed_and_long_present_devices_are_dropped() -> None:
    # "staff" is heard every minute for 7 hours; "visitor" for an hour
    obs = [_ob(m, "staff", randomized=False) for m in range(7 * 60)]
    obs += [_ob(m, "visitor", randomized=False) for m in range(60)]
    obs += [_ob(m, "till", randomized=False) for m in range(30)]
    assert long_present_devices(obs, 360) == {"staff"}
    counts = window_counts(obs, EstimatorParams(), fixed=frozenset({"till"}))
    assert counts[T0] == (0, 1)  # only the visitor
    assert max(c[1] for c in counts.values()) == 1


def test_min_minutes_requires_repeated_sightings() -> None:
    obs = [_ob(0, "once"), _ob(0.5, "twice"), _ob(3, "twice")]
    assert window_counts(obs, EstimatorParams(min_minutes=1))[T0] == (2, 0)
    assert window_counts(obs, EstimatorParams(min_minutes=2))[T0] == (1, 0)
    # a sighting just before the window counts with pad_minutes
    obs = [_ob(-1, "edge"), _ob(1, "edge")]
    assert window_counts(obs, EstimatorParams(min_minutes=2, pad_minutes=0)).get(T0) is None
    assert window_counts(obs, EstimatorParams(min_minutes=2, pad_minutes=1))[T0] == (1, 0)


def test_smoothing_averages_neighbouring_windows_including_silent_ones() -> None:
    obs = [_ob(0, "a"), _ob(0, "b"), _ob(0, "c"), _ob(5, "a")]
    windows = [T0 - WINDOW, T0, T0 + WINDOW, T0 + 2 * WINDOW]
    raw = window_features(obs, windows, EstimatorParams(smooth=0))
    assert raw == {T0 - WINDOW: (0, 0), T0: (3, 0), T0 + WINDOW: (1, 0), T0 + 2 * WINDOW: (0, 0)}
    smooth = window_features(obs, windows, EstimatorParams(smooth=1))
    assert smooth[T0] == pytest.approx((4 / 3, 0))
    assert smooth[T0 - WINDOW] == pytest.approx((1.0, 0))
    assert smooth[T0 + 2 * WINDOW] == pytest.approx((1 / 3, 0))
    trailing = window_features(obs, windows, EstimatorParams(smooth=1, trailing=True))
    assert trailing[T0] == pytest.approx((1.5, 0))  # (0 + 3) / 2: no later window yet
    assert trailing[T0 + WINDOW] == pytest.approx((2.0, 0))
    without_static = window_features(
        [_ob(0, "x", randomized=False)], [T0], EstimatorParams(smooth=0, use_static=False)
    )
    assert without_static[T0] == (0, 0.0)


def test_calibration_recovers_known_weights() -> None:
    feats = [(r, s) for r in range(6) for s in (0, 1, 3)]
    truth = [0.8 * r + 0.5 * s + 0.25 for r, s in feats]
    cal = fit_calibration(feats, truth)
    assert (cal.w_random, cal.w_static, cal.intercept) == pytest.approx((0.8, 0.5, 0.25))
    one = fit_calibration(feats, truth, use_static=False)
    assert one.w_static == 0.0 and one.w_random == pytest.approx(0.8)
    # moments added day by day give the same fit as all rows at once
    a, b = Moments(), Moments()
    for i, (f, y) in enumerate(zip(feats, truth, strict=True)):
        (a if i % 2 else b).add(f, y)
    assert (a + b).fit() == pytest.approx(cal)


def test_calibration_with_a_constant_feature_gives_it_no_weight() -> None:
    cal = fit_calibration([(1, 2), (2, 2), (3, 2)], [2.0, 4.0, 6.0])
    assert (cal.w_random, cal.w_static, cal.intercept) == pytest.approx((2.0, 0.0, 0.0))
    flat = fit_calibration([(1, 2), (1, 2)], [3.0, 5.0])
    assert flat == Calibration(0.0, 0.0, pytest.approx(4.0))
    with pytest.raises(ValueError, match="at least one window"):
        fit_calibration([], [])
    with pytest.raises(ValueError, match="as many head counts"):
        fit_calibration([(1, 1)], [1.0, 2.0])


def test_estimate_applies_the_calibration_and_never_goes_negative() -> None:
    obs = [_ob(0, "a"), _ob(0, "b"), _ob(0, "s", randomized=False)]
    cal = Calibration(w_random=1.5, w_static=1.0, intercept=-0.5)
    got = estimate(obs, [T0, T0 + WINDOW], EstimatorParams(smooth=0), cal)
    assert got == {T0: pytest.approx(3.5), T0 + WINDOW: 0.0}


def test_pearson_and_truth_windows() -> None:
    assert pearson([1, 2, 3], [2, 4, 6]) == pytest.approx(1.0)
    assert pearson([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    assert math.isnan(pearson([1, 1, 1], [1, 2, 3]))
    assert math.isnan(pearson([1], [1]))
    truth = truth_by_window([(T0, 2.0), (T0 + 10, 4.0), (T0 + 20, math.nan), (T0 + WINDOW, 1.0)])
    assert truth == {T0: 3.0, T0 + WINDOW: 1.0}
