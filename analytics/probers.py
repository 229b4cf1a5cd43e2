"""In-memory de-duplication of randomised probers, one tracker per sensor.

Phones probe with random (locally administered) MACs and change them every few bursts, so
counting MACs counts the same phone many times. `ProberTracker.assign(frame)` maps each frame
to the MAC that stands for its device: the frame's own MAC for a globally administered address,
and for a random one the first MAC of the cluster it joined. A random MAC joins a recent
cluster with the same probe fingerprint (the model-identifying information elements, see
analytics.capture) when either

- its 802.11 sequence number continues the cluster's (many phones keep one counter across
  MAC rotations: the new MAC starts a few numbers after the old one stopped), or
- its signal strength is close to the cluster's (the same phone, still in the same place).

Clusters not heard for `expire` seconds are forgotten, and the tracker holds at most
`max_clusters`, so memory stays bounded on a busy street. Fingerprints live only in this
object's memory: nothing here is written anywhere.

A new MAC is compared only with the clusters it could join: those of its fingerprint whose last
sequence number its own could continue (an index by buckets of SEQ_BUCKET numbers) and those
never linked by their counter (the only ones a signal-only match may take). The answer is the
one a scan of every cluster of the fingerprint in creation order gives (the first of the best
wins; tests/analytics/reference_probers.py is that scan), at a cost that does not grow with the
crowd.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

from analytics.capture import Frame, is_randomized

SEQ_BUCKET = 64  # sequence numbers per bucket of the index (4096 is a multiple)


@dataclass(slots=True, eq=False)  # eq=False: hashed by identity in the indexes
class _Cluster:
    key: str  # the first MAC seen: the device's stand-in
    fingerprint: int
    last_ts: float
    last_seq: int
    rssi: float | None  # smoothed signal strength
    mac: str  # the MAC currently in use
    order: int  # creation order: of equally good matches the oldest cluster wins
    bucket: int  # of its last sequence number, in the index
    macs: list[str] = field(default_factory=list)  # every MAC it took, forgotten with it
    seq_linked: bool = False  # has changed MAC with a continuing counter at least once


@functools.cache
def _buckets_before(seq_gap: int) -> tuple[tuple[int, ...], ...]:
    """For each sequence number, the buckets its 1 … seq_gap predecessors fall in."""
    return tuple(
        tuple({(seq - step) % 4096 // SEQ_BUCKET for step in range(1, min(seq_gap, 4096) + 1)})
        for seq in range(4096)
    )


class ProberTracker:
    """De-duplicates randomised probers for one sensor (frames must come in time order)."""

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
        self._clusters: list[_Cluster] = []  # live ones, oldest first
        # fingerprint -> bucket of the last sequence number -> clusters (dicts: ordered sets)
        self._by_seq: dict[int, dict[int, dict[_Cluster, None]]] = {}
        self._unlinked: dict[int, dict[_Cluster, None]] = {}  # fingerprint -> not seq_linked
        self._created = 0
        self._last_sweep = float("-inf")
        self._buckets_before = _buckets_before(seq_gap)

    def __len__(self) -> int:
        """Number of live clusters (randomised devices currently remembered)."""
        return len(self._clusters)

    def assign(self, frame: Frame) -> str:
        src, ts = frame.src, frame.ts
        if not is_randomized(src):
            return src
        if ts - self._last_sweep > 10.0:
            self._sweep(ts)
        cluster = self._by_mac.get(src)
        if cluster is None:
            cluster = self._join(frame)
        if ts > cluster.last_ts:
            cluster.last_ts = ts
        seq = frame.seq
        if seq % 4096 // SEQ_BUCKET != cluster.bucket:
            self._unindex_seq(cluster)
            self._index_seq(cluster, seq)
        cluster.last_seq = seq
        rssi = frame.rssi
        if rssi is not None:
            cluster.rssi = float(rssi) if cluster.rssi is None else 0.7 * cluster.rssi + 0.3 * rssi
        return cluster.key

    def _join(self, frame: Frame) -> _Cluster:
        """The cluster of a MAC not seen before: the one it continues, or a new one."""
        cluster, by_seq = self._match(frame)
        if cluster is None:
            if len(self._by_mac) >= self.max_clusters:
                self._sweep(frame.ts, force_oldest=True)
            cluster = _Cluster(
                frame.src, frame.fingerprint, frame.ts, frame.seq, None, frame.src, self._created, 0
            )
            self._created += 1
            self._clusters.append(cluster)
            self._index_seq(cluster, frame.seq)
            self._unlinked.setdefault(cluster.fingerprint, {})[cluster] = None
        elif by_seq and not cluster.seq_linked:
            cluster.seq_linked = True
            self._unlink(cluster)
        self._by_mac[frame.src] = cluster
        cluster.macs.append(frame.src)
        cluster.mac = frame.src
        return cluster

    def _match(self, frame: Frame) -> tuple[_Cluster | None, bool]:
        """The cluster a new random MAC continues, and whether the sequence numbers say so.
        Of equal scores the oldest cluster wins. A counter match scores at most 1 and a match on
        signal alone at least 1 (quiet >= 0), so a cluster is never taken on signal over its
        own counter."""
        ts, seq, rssi, fp = frame.ts, frame.seq, frame.rssi, frame.fingerprint
        window, seq_gap = self.window, self.seq_gap
        best: _Cluster | None = None
        best_rank = (float("inf"), 0)
        by_seq = False
        buckets = self._by_seq.get(fp)
        if buckets:
            tolerance = self.seq_rssi_tolerance
            for bucket in self._buckets_before[seq % 4096]:
                for cluster in buckets.get(bucket, ()):
                    dt = ts - cluster.last_ts
                    gap = (seq - cluster.last_seq) % 4096
                    if dt > window or dt < -1.0 or not 0 < gap <= seq_gap:
                        continue
                    other = cluster.rssi
                    drssi = abs(rssi - other) if rssi is not None and other is not None else 0.0
                    if drssi <= tolerance:
                        # a continuing counter is the strongest evidence
                        rank = (gap / seq_gap, cluster.order)
                        if rank < best_rank:
                            best, best_rank, by_seq = cluster, rank, True
        if best is not None and self.quiet > 0:
            return best, by_seq  # a signal-only match scores over 1 + quiet / window: worse
        quiet, tolerance = max(self.quiet, -1.0), self.rssi_tolerance
        scale = max(tolerance, 1e-9)
        for cluster in self._unlinked.get(fp, ()):
            # A phone that resets its counter with its MAC (iOS): only a cluster silent for a
            # while (not a second phone probing alongside it) whose counter never ran on
            # across a rotation, judged on signal strength and time.
            dt = ts - cluster.last_ts
            if dt > window or dt < quiet:
                continue
            other = cluster.rssi
            drssi = abs(rssi - other) if rssi is not None and other is not None else 0.0
            if drssi <= tolerance:
                rank = (1.0 + drssi / scale + dt / window, cluster.order)
                if rank < best_rank:
                    best, best_rank, by_seq = cluster, rank, False
        return best, by_seq

    def _sweep(self, now: float, force_oldest: bool = False) -> None:
        """Forget clusters not heard for `expire` seconds (or the oldest half when full)."""
        self._last_sweep = now
        cutoff = now - self.expire
        if force_oldest:
            times = sorted(c.last_ts for c in self._by_mac.values())
            cutoff = max(cutoff, times[len(times) // 2])
        alive = []
        for cluster in self._clusters:
            if cluster.last_ts >= cutoff:
                alive.append(cluster)
            else:
                self._forget(cluster)
        self._clusters = alive

    def _forget(self, cluster: _Cluster) -> None:
        for mac in cluster.macs:
            if self._by_mac.get(mac) is cluster:
                del self._by_mac[mac]
        self._unindex_seq(cluster)
        if not cluster.seq_linked:
            self._unlink(cluster)

    def _index_seq(self, cluster: _Cluster, seq: int) -> None:
        cluster.bucket = seq % 4096 // SEQ_BUCKET
        buckets = self._by_seq.setdefault(cluster.fingerprint, {})
        buckets.setdefault(cluster.bucket, {})[cluster] = None

    def _unindex_seq(self, cluster: _Cluster) -> None:
        buckets = self._by_seq[cluster.fingerprint]
        clusters = buckets[cluster.bucket]
        del clusters[cluster]
        if not clusters:
            del buckets[cluster.bucket]
            if not buckets:
                del self._by_seq[cluster.fingerprint]

    def _unlink(self, cluster: _Cluster) -> None:
        clusters = self._unlinked[cluster.fingerprint]
        del clusters[cluster]
        if not clusters:
            del self._unlinked[cluster.fingerprint]
