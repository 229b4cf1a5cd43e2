"""`portico analytics accuracy`: score the occupancy estimator on real captures.

Runs the real pipeline — analytics.capture.read_frames → analytics.probers.ProberTracker →
analytics.occupancy — on a directory of day captures with ground truth (the Brno dataset:
`<site>_<date>_anonymized.pcap` with `<site>_<date>_ver-99.csv`, whose `occupancy` column is
the head count), and sets it beside the naive baseline (distinct source MACs per 5 minutes,
fixed computers removed, linear fit).

The split is by day, leave-one-day-out: for each day, the estimator's parameters (RSSI
threshold, smoothing, minutes seen, whether non-random devices get their own weight) are
chosen by an inner leave-one-day-out on the other days only, the calibration is fitted on
those other days, and the held-out day is scored. Nothing is tuned on the day it is scored on.
docs/analytics-accuracy.md holds the method and the figures this prints.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import logging
import math
import re
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import TextIO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from analytics.capture import (
    SUBTYPE_PROBE_REQ,
    CaptureError,
    is_multicast,
    is_randomized,
    read_frames,
)
from analytics.occupancy import (
    Calibration,
    EstimatorParams,
    Moments,
    Observation,
    pearson,
    truth_by_window,
    window_features,
    window_of,
)
from analytics.probers import ProberTracker
from kernel.progress import ProgressBar

log = logging.getLogger(__name__)

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "probe-requests-brno"

# The lab's fixed all-in-one computers (the dataset's README): the per-store list of known
# fixed devices that a merchant keeps in the product.
BRNO_FIXED = frozenset(
    """dc:fb:48:68:be:e4 dc:fb:48:8c:71:fc dc:fb:48:2a:52:e0 dc:fb:48:f5:c6:c2
    dc:fb:48:e3:ab:78 dc:fb:48:00:51:90 dc:fb:48:75:d8:42 dc:fb:48:de:86:8d
    dc:fb:48:dd:c6:0b dc:fb:48:55:d5:78 dc:fb:48:c2:1d:64 40:ec:99:f9:34:a6
    40:ec:99:8e:3f:63 40:ec:99:1f:3e:75""".split()
)

# The candidates chosen from inside each training fold.
GRID = tuple(
    EstimatorParams(rssi_threshold=t, smooth=s, min_minutes=m, use_static=u)
    for t, s, m, u in itertools.product((-85, -80, -75, -70, -65), (0, 1, 2), (1, 2), (True, False))
)

_PCAP = re.compile(r"^(?P<key>.+)_anonymized\.pcap$")
_CSV = re.compile(r"^(?P<key>.+)_ver-99\.csv$")


class AccuracyError(Exception):
    """The data directory cannot be scored; the message says why."""


@dataclass
class Day:
    name: str
    truth: dict[int, float]  # people per window start
    observations: list[Observation]
    baseline: dict[int, int]  # distinct source MACs per window start


@dataclass
class Scores:
    pooled_r: float
    median_r: float
    worst_r: float
    worst_day: str
    mae: float
    per_day: dict[str, tuple[float, float, int]]  # day -> (r, MAE, windows)
    windows: int


# --- loading ---------------------------------------------------------------------------


def find_days(data: Path, position: str | None = "position_1") -> list[tuple[str, Path, Path]]:
    """(day name, pcap, csv) for each capture with its ground truth under `data`."""
    if not data.is_dir():
        raise AccuracyError(f"{data}: not a directory")
    pcaps: dict[str, Path] = {}
    csvs: dict[str, Path] = {}
    for path in sorted(data.rglob("*")):
        if position and any(p.startswith("position_") and p != position for p in path.parts):
            continue
        if m := _PCAP.match(path.name):
            pcaps[m["key"]] = path
        elif m := _CSV.match(path.name):
            csvs[m["key"]] = path
    days = [(key, pcaps[key], csvs[key]) for key in sorted(pcaps) if key in csvs]
    if not days:
        raise AccuracyError(
            f"{data}: no capture with ground truth (<name>_anonymized.pcap + <name>_ver-99.csv)"
        )
    return days


def read_truth(path: Path, tz: ZoneInfo) -> dict[int, float]:
    """Mean `occupancy` per 5-minute window; the csv's datetimes are local time in `tz`."""
    samples = []
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh, delimiter=";")
        if not reader.fieldnames or not {"datetime", "occupancy"} <= set(reader.fieldnames):
            raise AccuracyError(f"{path}: needs ';'-separated columns datetime and occupancy")
        for line, row in enumerate(reader, start=2):
            try:
                ts = datetime.fromisoformat(row["datetime"]).replace(tzinfo=tz).timestamp()
                people = float(row["occupancy"]) if row["occupancy"] else math.nan
            except (TypeError, ValueError) as exc:
                raise AccuracyError(f"{path}:{line}: {exc}") from None
            samples.append((ts, people))
    return truth_by_window(samples)


def load_day(name: str, pcap: Path, truth_csv: Path, tz: ZoneInfo) -> Day:
    """Run capture → prober de-duplication on one day's capture."""
    tracker = ProberTracker()  # one sensor, one day: a fresh tracker per capture
    observations = []
    macs: dict[int, set[str]] = defaultdict(set)
    try:
        for frame in read_frames(pcap):
            if frame.subtype != SUBTYPE_PROBE_REQ or is_multicast(frame.src):
                continue
            key = tracker.assign(frame)
            observations.append(Observation(frame.ts, key, frame.rssi, is_randomized(frame.src)))
            if frame.src not in BRNO_FIXED:
                macs[window_of(frame.ts)].add(frame.src)
    except CaptureError as exc:
        raise AccuracyError(f"{pcap}: {exc}") from None
    baseline = {w: len(s) for w, s in macs.items()}
    return Day(name, read_truth(truth_csv, tz), observations, baseline)


# --- scoring ---------------------------------------------------------------------------


def score(predictions: dict[str, list[tuple[float, float]]]) -> Scores:
    """Pooled and per-day figures from (estimate, truth) pairs per held-out day."""
    per_day: dict[str, tuple[float, float, int]] = {}
    all_est: list[float] = []
    all_true: list[float] = []
    for day, pairs in predictions.items():
        est = [p for p, _ in pairs]
        true = [t for _, t in pairs]
        all_est += est
        all_true += true
        mae = statistics.fmean(abs(p - t) for p, t in pairs)
        per_day[day] = (pearson(est, true), mae, len(pairs))
    rs = {d: r for d, (r, _, _) in per_day.items() if not math.isnan(r)}
    worst_day = min(rs, key=rs.__getitem__) if rs else ""
    return Scores(
        pooled_r=pearson(all_est, all_true),
        median_r=statistics.median(rs.values()) if rs else math.nan,
        worst_r=rs[worst_day] if rs else math.nan,
        worst_day=worst_day,
        mae=statistics.fmean(abs(p - t) for p, t in zip(all_est, all_true, strict=True)),
        per_day=per_day,
        windows=len(all_est),
    )


Features = dict[int, tuple[float, float]]


def _inner_mae(
    train: Sequence[str],
    feats: dict[str, Features],
    moments: dict[str, Moments],
    truth: dict[str, dict[int, float]],
    use_static: bool,
) -> float:
    """Leave-one-day-out error inside the training days: how a candidate is chosen."""
    total = sum((moments[d] for d in train), Moments())
    error = 0.0
    count = 0
    for held in train:
        cal = _minus(total, moments[held]).fit(use_static)
        error += sum(abs(cal.apply(feats[held][w]) - y) for w, y in truth[held].items())
        count += len(truth[held])
    return error / count


def _minus(a: Moments, b: Moments) -> Moments:
    return Moments(*(getattr(a, f) - getattr(b, f) for f in Moments.__slots__))


def _moments(feats: Features, truth: dict[int, float]) -> Moments:
    m = Moments()
    for w, people in truth.items():
        m.add(feats[w], people)
    return m


def cross_validate(
    days: Sequence[Day],
    grid: Sequence[EstimatorParams] = GRID,
    fixed: frozenset[str] = BRNO_FIXED,
    progress: Callable[[str], None] | None = None,
) -> tuple[Scores, Scores, dict[str, tuple[EstimatorParams, Calibration]]]:
    """Leave-one-day-out: (estimator scores, baseline scores, chosen params per day)."""
    if len(days) < 3:
        raise AccuracyError("leave-one-day-out needs at least 3 days with ground truth")
    names = [d.name for d in days]
    truth = {d.name: d.truth for d in days}
    # Features do not depend on the fold: compute each candidate's once per day.
    feature_sets: dict[EstimatorParams, dict[str, Features]] = {}
    moment_sets: dict[EstimatorParams, dict[str, Moments]] = {}
    for params in sorted({replace(p, use_static=True) for p in grid}, key=repr):
        feature_sets[params] = {
            d.name: window_features(d.observations, sorted(d.truth), params, fixed) for d in days
        }
        moment_sets[params] = {n: _moments(f, truth[n]) for n, f in feature_sets[params].items()}
        if progress:
            progress(
                f"features RSSI>={params.rssi_threshold} smooth {params.smooth} "
                f"min {params.min_minutes}"
            )
    estimates: dict[str, list[tuple[float, float]]] = {}
    baseline: dict[str, list[tuple[float, float]]] = {}
    chosen: dict[str, tuple[EstimatorParams, Calibration]] = {}
    base_feats = {d.name: {w: (float(d.baseline.get(w, 0)), 0.0) for w in d.truth} for d in days}
    base_moments = {n: _moments(f, truth[n]) for n, f in base_feats.items()}
    for held in names:
        train = [n for n in names if n != held]
        best = min(
            grid,
            key=lambda p: _inner_mae(
                train,
                feature_sets[replace(p, use_static=True)],
                moment_sets[replace(p, use_static=True)],
                truth,
                p.use_static,
            ),
        )
        key = replace(best, use_static=True)
        feats = feature_sets[key]
        cal = sum((moment_sets[key][d] for d in train), Moments()).fit(best.use_static)
        chosen[held] = (best, cal)
        estimates[held] = [(cal.apply(feats[held][w]), y) for w, y in truth[held].items()]
        base_cal = sum((base_moments[d] for d in train), Moments()).fit(use_static=False)
        baseline[held] = [(base_cal.apply(base_feats[held][w]), y) for w, y in truth[held].items()]
        if progress:
            progress(f"fold {held}")
    return score(estimates), score(baseline), chosen


# --- report ----------------------------------------------------------------------------


def report(
    est: Scores,
    base: Scores,
    chosen: dict[str, tuple[EstimatorParams, Calibration]],
    skipped: Sequence[str],
    out: TextIO,
) -> None:
    """The figures as Markdown tables (pasted into docs/analytics-accuracy.md)."""

    def f(x: float) -> str:
        return "n/a" if math.isnan(x) else f"{x:.3f}"

    w = out.write
    w(f"Held-out days: {len(est.per_day)}, 5-minute windows: {est.windows}\n\n")
    w("| | pooled r | median per-day r | worst per-day r | MAE (people) |\n")
    w("|---|---|---|---|---|\n")
    for label, s in (("estimator", est), ("naive baseline", base)):
        w(
            f"| {label} | {f(s.pooled_r)} | {f(s.median_r)} | {f(s.worst_r)} ({s.worst_day}) "
            f"| {s.mae:.2f} |\n"
        )
    w("| target | ≥ 0.90 | ≥ 0.85 | | ≤ 1.5 |\n\n")
    w(
        "| held-out day | windows | estimator r | estimator MAE | baseline r | baseline MAE "
        "| chosen on the other days: RSSI ≥, smooth ±, min minutes, static weight "
        "| w_random, w_static, intercept |\n"
    )
    w("|---|---|---|---|---|---|---|---|\n")
    for day, (r, mae, n) in est.per_day.items():
        br, bmae, _ = base.per_day[day]
        p, c = chosen[day]
        w(
            f"| {day} | {n} | {f(r)} | {mae:.2f} | {f(br)} | {bmae:.2f} "
            f"| {p.rssi_threshold} dBm, {p.smooth}, {p.min_minutes}, "
            f"{'yes' if p.use_static else 'no'} "
            f"| {c.w_random:.3f}, {c.w_static:.3f}, {c.intercept:.2f} |\n"
        )
    if skipped:
        w(
            f"\nLeft out ({len(skipped)} days whose head count spans fewer people than "
            f"--min-range): {', '.join(skipped)}\n"
        )


# --- command ---------------------------------------------------------------------------


class _Bar(ProgressBar):
    """The steps of a run: a bar on a terminal, one log line per step otherwise."""

    def __init__(self, total: int, out: TextIO) -> None:
        super().__init__("accuracy", total, out)
        self.started = time.monotonic()

    def step(self, detail: str = "") -> None:
        if not self.on_terminal:
            log.info("%s (%d/%d)", detail, self.done + 1, self.total)
        elapsed = time.monotonic() - self.started
        self.show(self.done + 1, f"{self.done + 1}/{self.total} {elapsed:5.0f}s {detail[:40]:<40}")


def add_accuracy_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "accuracy",
        help="score the occupancy estimator against ground truth (docs/analytics-accuracy.md)",
        description=__doc__.split("\n\n")[0],
    )
    parser.add_argument(
        "--data",
        type=Path,
        default=DEFAULT_DATA,
        help="directory searched recursively for <name>_anonymized.pcap + <name>_ver-99.csv "
        f"(default: {DEFAULT_DATA})",
    )
    parser.add_argument(
        "--position",
        default="position_1",
        help="use only files under this position_* folder when the data has several "
        "(default position_1; 'any' for all)",
    )
    parser.add_argument(
        "--timezone",
        default="Europe/Prague",
        help="time zone of the csv datetimes (default Europe/Prague)",
    )
    parser.add_argument("--days", type=int, default=0, help="use only the first N days (0: all)")
    parser.add_argument(
        "--min-range",
        type=float,
        default=3.0,
        metavar="PEOPLE",
        help="leave out days whose 5-minute head count spans fewer people than this "
        "(an empty lab with a one-minute visit has no meaningful correlation; default 3)",
    )


def main_accuracy(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    try:
        tz = ZoneInfo(args.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        print(f"error: unknown time zone {args.timezone!r}", file=sys.stderr)
        return 2
    try:
        found = find_days(args.data, None if args.position == "any" else args.position)
        if args.days > 0:
            found = found[: args.days]
        bar = _Bar(len(found) + len(GRID) // 2 + len(found), sys.stderr)
        days: list[Day] = []
        skipped: list[str] = []
        for name, pcap, truth_csv in found:
            day = load_day(name, pcap, truth_csv, tz)
            people = day.truth.values()
            if people and max(people) - min(people) >= max(args.min_range, 1e-9):
                days.append(day)
            else:
                skipped.append(name)  # a (nearly) flat head count has no per-day correlation
            bar.step(f"read {name}")
        est, base, chosen = cross_validate(days, progress=bar.step)
        bar.close()
    except AccuracyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    report(est, base, chosen, skipped, sys.stdout)
    return 0


if __name__ == "__main__":
    _parser = argparse.ArgumentParser(prog="python -m analytics.accuracy")
    add_accuracy_parser(_parser.add_subparsers(dest="command", required=True))
    sys.exit(main_accuracy(_parser.parse_args(["accuracy", *sys.argv[1:]])))
