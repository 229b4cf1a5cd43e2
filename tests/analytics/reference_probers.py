"""The prober tracker as first written (analytics/probers.py before its index, verbatim but
for the class name): a new MAC is compared with every cluster of its fingerprint in creation
order. tests/analytics/test_probers.py checks the indexed tracker gives the same answers."""

from __future__ import annotations

from dataclasses import dataclass

from analytics.capture import Frame, is_randomized


@dataclass(slots=True)
class _Cluster:
    key: str  # the first MAC seen: the device's stand-in
    fingerprint: int
    last_ts: float
    last_seq: int
    rssi: float | None  # smoothed signal strength
    mac: str  # the MAC currently in use
    seq_linked: bool = False  # has changed MAC with a continuing counter at least once


class ScanTracker:
    """analytics.probers.ProberTracker as it was before its index: every cluster of the
    fingerprint scanned in creation order."""

    def __init__(
        self,
        *,
        window: float = 130.0,
        seq_gap: int = 64,
        rssi_tolerance: float = 6.0,
        seq_rssi_tolerance: float = 15.0,
        quiet: float = 10.0,
        expire: float = 300.0,
        max_clusters: int = 20_000,
    ) -> None:
        # How long after its last frame a cluster may take a new MAC: longer than the ~60 s
        # between a screen-off phone's scans (docs/analytics-accuracy.md).
        self.window = window
        self.seq_gap = seq_gap  # the largest sequence-number step across a MAC change
        self.rssi_tolerance = rssi_tolerance  # dB, for a match on signal strength alone
        self.seq_rssi_tolerance = seq_rssi_tolerance  # dB, when the sequence numbers agree
        self.quiet = quiet  # seconds a cluster must be silent before a signal-only match
        self.expire = expire
        self.max_clusters = max_clusters
        self._by_mac: dict[str, _Cluster] = {}
        self._by_fp: dict[int, list[_Cluster]] = {}
        self._last_sweep = float("-inf")

    def __len__(self) -> int:
        """Number of live clusters (randomised devices currently remembered)."""
        return sum(len(v) for v in self._by_fp.values())

    def assign(self, frame: Frame) -> str:
        if not is_randomized(frame.src):
            return frame.src
        ts = frame.ts
        if ts - self._last_sweep > 10.0:
            self._sweep(ts)
        cluster = self._by_mac.get(frame.src)
        if cluster is None:
            cluster, by_seq = self._match(frame)
            if by_seq:
                cluster.seq_linked = True
            if cluster is None:
                cluster = _Cluster(frame.src, frame.fingerprint, ts, frame.seq, None, frame.src)
                self._by_fp.setdefault(frame.fingerprint, []).append(cluster)
                if len(self._by_mac) >= self.max_clusters:
                    self._sweep(ts, force_oldest=True)
            self._by_mac[frame.src] = cluster
            cluster.mac = frame.src
        cluster.last_ts = max(cluster.last_ts, ts)
        cluster.last_seq = frame.seq
        if frame.rssi is not None:
            cluster.rssi = (
                float(frame.rssi) if cluster.rssi is None else 0.7 * cluster.rssi + 0.3 * frame.rssi
            )
        return cluster.key

    def _match(self, frame: Frame) -> tuple[_Cluster | None, bool]:
        """The cluster a new random MAC continues, and whether the sequence numbers say so."""
        best: _Cluster | None = None
        best_score = float("inf")
        by_seq = False
        for cluster in self._by_fp.get(frame.fingerprint, ()):
            dt = frame.ts - cluster.last_ts
            if dt > self.window or dt < -1.0:
                continue
            drssi = (
                abs(frame.rssi - cluster.rssi)
                if frame.rssi is not None and cluster.rssi is not None
                else 0.0
            )
            gap = (frame.seq - cluster.last_seq) % 4096
            seq_match = 0 < gap <= self.seq_gap and drssi <= self.seq_rssi_tolerance
            if seq_match:
                score = gap / self.seq_gap  # a continuing counter is the strongest evidence
            elif drssi <= self.rssi_tolerance and dt >= self.quiet and not cluster.seq_linked:
                # A phone that resets its counter with its MAC (iOS): only a cluster silent
                # for a while (not a second phone probing alongside it) whose counter never
                # ran on across a rotation, judged on signal strength and time.
                score = 1.0 + drssi / max(self.rssi_tolerance, 1e-9) + dt / self.window
            else:
                continue
            if score < best_score:
                best, best_score, by_seq = cluster, score, seq_match
        return best, by_seq

    def _sweep(self, now: float, force_oldest: bool = False) -> None:
        """Forget clusters not heard for `expire` seconds (or the oldest half when full)."""
        self._last_sweep = now
        cutoff = now - self.expire
        if force_oldest:
            times = sorted(c.last_ts for c in self._by_mac.values())
            cutoff = max(cutoff, times[len(times) // 2])
        for fp in list(self._by_fp):
            alive = [c for c in self._by_fp[fp] if c.last_ts >= cutoff]
            if alive:
                self._by_fp[fp] = alive
            else:
                del self._by_fp[fp]
        self._by_mac = {m: c for m, c in self._by_mac.items() if c.last_ts >= cutoff}
