"""The occupancy estimator: de-duplicated observations in, people per 5-minute window out.

Pure functions, no database. The steps, each with a reason measured on the Brno captures
(docs/analytics-accuracy.md):

1. keep observations at or above an RSSI threshold (a probe heard at −85 dBm is as likely
   from the corridor as from the room; the estimator's default is stricter than "detected");
2. drop the store's known fixed devices, and globally administered devices present for
   more than `max_daily_minutes` of the day (staff laptops, printers, fixed computers);
3. per window, count the devices seen on at least `min_minutes` distinct minutes of the
   window ± `pad_minutes` — separately for randomised devices (already de-duplicated by
   analytics.probers) and for globally administered ones;
4. smooth each count over ± `smooth` adjacent windows (people stay longer than 5 minutes,
   probes are bursty);
5. people = w_random · randomised + w_static · static + intercept, the weights fitted per
   site by least squares on days with a known head count (`fit_calibration`).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

WINDOW = 300  # seconds in an estimate window


@dataclass(frozen=True, slots=True)
class Observation:
    ts: float  # unix seconds
    device_key: str  # the de-duplicated device (a MAC or its hash)
    rssi: int | None  # dBm
    randomized: bool


@dataclass(frozen=True, slots=True)
class EstimatorParams:
    rssi_threshold: int = -70
    min_minutes: int = 1
    pad_minutes: int = 0
    smooth: int = 1
    max_daily_minutes: int = 360  # a globally administered device seen longer is fixed/staff
    use_static: bool = True  # give globally administered devices their own weight
    trailing: bool = False  # smooth over past windows only (for "occupancy now")


@dataclass(frozen=True, slots=True)
class Calibration:
    """people = w_random · randomised + w_static · static + intercept (per site)."""

    w_random: float
    w_static: float
    intercept: float

    def apply(self, features: tuple[float, float]) -> float:
        people = self.w_random * features[0] + self.w_static * features[1] + self.intercept
        return max(0.0, people)


# For a store with no head counts of its own: the settings the leave-one-day-out selection
# chose most on the Brno lab (docs/analytics-accuracy.md), and the calibration fitted on its
# six days with them (w_random 0.807, intercept -0.03; with trailing smoothing 0.784, 0.08).
# One lab's figures: a store's own calibration days replace them.
DEFAULT_PARAMS = EstimatorParams(rssi_threshold=-70, smooth=2, min_minutes=1, use_static=False)
DEFAULT_CALIBRATION = Calibration(w_random=0.8, w_static=0.0, intercept=0.0)


def window_of(ts: float) -> int:
    """Start (unix seconds) of the 5-minute window holding ts."""
    return int(ts // WINDOW) * WINDOW


def long_present_devices(
    observations: Iterable[Observation], max_daily_minutes: int
) -> frozenset[str]:
    """Globally administered devices heard on more than max_daily_minutes distinct minutes
    of one UTC day: staff or fixed devices. (Random MACs rotate, so the rule cannot apply.)"""
    minutes: dict[tuple[str, int], set[int]] = defaultdict(set)
    for ob in observations:
        if not ob.randomized:
            minute = int(ob.ts // 60)
            minutes[(ob.device_key, minute // 1440)].add(minute)
    return frozenset(key for (key, _day), mins in minutes.items() if len(mins) > max_daily_minutes)


def window_counts(
    observations: Iterable[Observation],
    params: EstimatorParams,
    fixed: frozenset[str] = frozenset(),
) -> dict[int, tuple[int, int]]:
    """(randomised, static) device counts per window start, before smoothing."""
    observations = list(observations)
    excluded = fixed | long_present_devices(observations, params.max_daily_minutes)
    minutes: dict[tuple[str, bool], set[int]] = defaultdict(set)
    for ob in observations:
        if ob.rssi is None or ob.rssi < params.rssi_threshold or ob.device_key in excluded:
            continue
        minutes[(ob.device_key, ob.randomized)].add(int(ob.ts // 60))
    counts: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    per_window = WINDOW // 60
    for (_key, randomized), mins in minutes.items():
        windows = {m // per_window for m in mins}
        for w in windows:
            lo = w * per_window - params.pad_minutes
            hi = (w + 1) * per_window + params.pad_minutes
            if sum(1 for m in mins if lo <= m < hi) >= params.min_minutes:
                counts[w * WINDOW][0 if randomized else 1] += 1
    return {w: (c[0], c[1]) for w, c in counts.items()}


def window_features(
    observations: Iterable[Observation],
    windows: Sequence[int],
    params: EstimatorParams,
    fixed: frozenset[str] = frozenset(),
) -> dict[int, tuple[float, float]]:
    """Smoothed (randomised, static) counts for each requested window start.

    A window with no observation counts zero; smoothing averages the window with its
    ± params.smooth neighbours (all of them, heard or not), or with the params.smooth
    windows before it when params.trailing (a live estimate has no later windows yet).
    """
    counts = window_counts(observations, params, fixed)
    out: dict[int, tuple[float, float]] = {}
    span = range(-params.smooth, 1 if params.trailing else params.smooth + 1)
    for w in windows:
        near = [counts.get(w + i * WINDOW, (0, 0)) for i in span]
        rnd = sum(c[0] for c in near) / len(near)
        static = sum(c[1] for c in near) / len(near) if params.use_static else 0.0
        out[w] = (rnd, static)
    return out


@dataclass(slots=True)
class Moments:
    """Sums of the least-squares normal equations over (randomised, static, people) rows:
    calibrations over many day subsets add these up instead of revisiting every window."""

    n: float = 0.0
    r: float = 0.0
    s: float = 0.0
    y: float = 0.0
    rr: float = 0.0
    ss: float = 0.0
    rs: float = 0.0
    ry: float = 0.0
    sy: float = 0.0

    def add(self, features: tuple[float, float], people: float) -> None:
        r, s = features
        self.n += 1
        self.r += r
        self.s += s
        self.y += people
        self.rr += r * r
        self.ss += s * s
        self.rs += r * s
        self.ry += r * people
        self.sy += s * people

    def __add__(self, other: Moments) -> Moments:
        return Moments(*(getattr(self, f) + getattr(other, f) for f in self.__slots__))

    def fit(self, use_static: bool = True) -> Calibration:
        """Least squares; a feature that never varies gets weight 0 (no singular system)."""
        if self.n < 1:
            raise ValueError("calibration needs at least one window with a known head count")
        n = self.n
        varies_r = self.rr / n - (self.r / n) ** 2 > 1e-9
        varies_s = use_static and self.ss / n - (self.s / n) ** 2 > 1e-9
        # Rows of the normal equations, over the columns in use plus the intercept.
        cols = [c for c, used in (("r", varies_r), ("s", varies_s)) if used]
        sq = {"rr": self.rr, "ss": self.ss, "rs": self.rs, "sr": self.rs}
        lin = {"r": self.r, "s": self.s}
        xy = {"r": self.ry, "s": self.sy}
        a = [[sq[ci + cj] for cj in cols] + [lin[ci]] for ci in cols]
        a.append([lin[c] for c in cols] + [n])
        b = [xy[c] for c in cols] + [self.y]
        solution = _solve(a, b)
        weights = dict(zip(cols, solution, strict=False))
        return Calibration(weights.get("r", 0.0), weights.get("s", 0.0), solution[-1])


def fit_calibration(
    features: Sequence[tuple[float, float]], truth: Sequence[float], use_static: bool = True
) -> Calibration:
    """Least-squares (slopes, intercept) from training windows with a known head count."""
    if len(features) != len(truth):
        raise ValueError("calibration needs as many head counts as feature rows")
    moments = Moments()
    for f, y in zip(features, truth, strict=True):
        moments.add(f, y)
    return moments.fit(use_static)


def _solve(a: list[list[float]], b: list[float]) -> list[float]:
    """Gaussian elimination with partial pivoting, for the tiny normal equations above."""
    n = len(b)
    m = [[*row, b[i]] for i, row in enumerate(a)]
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(m[r][col]))
        if abs(m[pivot][col]) < 1e-12:
            raise ValueError("calibration features are collinear")
        m[col], m[pivot] = m[pivot], m[col]
        for r in range(n):
            if r != col:
                factor = m[r][col] / m[col][col]
                for k in range(col, n + 1):
                    m[r][k] -= factor * m[col][k]
    return [m[i][n] / m[i][i] for i in range(n)]


def estimate(
    observations: Iterable[Observation],
    windows: Sequence[int],
    params: EstimatorParams,
    calibration: Calibration,
    fixed: frozenset[str] = frozenset(),
) -> dict[int, float]:
    """Estimated people per window start."""
    feats = window_features(observations, windows, params, fixed)
    return {w: calibration.apply(f) for w, f in feats.items()}


def pearson(x: Sequence[float], y: Sequence[float]) -> float:
    """Pearson correlation; NaN when either side is constant or empty."""
    n = len(x)
    if n != len(y) or n < 2:
        return math.nan
    mx = sum(x) / n
    my = sum(y) / n
    sxy = sum((a - mx) * (b - my) for a, b in zip(x, y, strict=True))
    sxx = sum((a - mx) ** 2 for a in x)
    syy = sum((b - my) ** 2 for b in y)
    if sxx == 0 or syy == 0:
        return math.nan
    return sxy / math.sqrt(sxx * syy)


def truth_by_window(samples: Iterable[tuple[float, float]]) -> dict[int, float]:
    """Mean ground-truth head count per window from (ts, people) samples (NaNs skipped)."""
    sums: dict[int, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for ts, people in samples:
        if not math.isnan(people):
            acc = sums[window_of(ts)]
            acc[0] += people
            acc[1] += 1
    return {w: s / n for w, (s, n) in sums.items()}


def fit_from_days(
    days: Mapping[str, tuple[Mapping[int, tuple[float, float]], Mapping[int, float]]],
    use_static: bool = True,
) -> Calibration:
    """Calibration over several days' (features per window, truth per window)."""
    feats: list[tuple[float, float]] = []
    truth: list[float] = []
    for features, people in days.values():
        for w, y in people.items():
            feats.append(features[w])
            truth.append(y)
    return fit_calibration(feats, truth, use_static)
