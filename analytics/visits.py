"""Sessionisation: one device's sightings at one store become visits (pure, no database).

A visit is a run of sightings with no silence longer than `gap` (15 min by default). It is cut
at `cap` (12 h): a sighting more than `cap` after the visit's first one starts a new visit.
The cut presence is kept as consecutive visits rather than dropped: staff and fixed devices
are filtered at ingest (analytics/observations.py), and cutting keeps sessionisation a
left-to-right fold whose only state is the open visit — so sessionising in chunks, or starting
again at any visit's first sighting, gives the same visits as sessionising everything at once
(analytics/rollups.py relies on this). The long presence still shows, in the 6 h+ dwell bucket.

Definitions (PRODUCT.md §3, docs/footfall-metrics.md): a visit is `inside` when its first and
last sightings at or above the store's inside RSSI are at least `visitor_min_dwell` apart; a
visitor visit is inside or has a portal login; `entered` has any sighting at or above the inside
RSSI, or is connected; `connected` has an association or a login.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

DEFAULT_INSIDE_RSSI = -70
DEFAULT_VISITOR_MIN_DWELL = 300.0
DEFAULT_GAP = 900.0
DEFAULT_CAP = 43200.0


@dataclass(frozen=True, slots=True)
class Rules:
    """A store's sessionisation settings (footfall_settings); durations in seconds."""

    inside_rssi: int = DEFAULT_INSIDE_RSSI
    visitor_min_dwell: float = DEFAULT_VISITOR_MIN_DWELL
    gap: float = DEFAULT_GAP
    cap: float = DEFAULT_CAP


@dataclass(frozen=True, slots=True)
class Sighting:
    """One observation of the device (unix seconds), or one portal login (rssi None, no zone)."""

    ts: float
    rssi: int | None = None
    zone: str = ""
    connected: bool = False
    logged_in: bool = False
    randomized: bool = False


@dataclass(frozen=True, slots=True)
class Visit:
    start: float
    end: float
    zone: str  # the zone of most sightings ('' when only logins)
    max_rssi: int | None
    sightings: int
    entered: bool
    inside: bool
    visitor: bool
    connected: bool
    logged_in: bool
    randomized: bool

    @property
    def dwell(self) -> float:
        return self.end - self.start


@dataclass(slots=True)
class _Open:
    """The visit being built: running aggregates only, so memory does not grow with it."""

    start: float
    end: float
    zones: Counter[str] = field(default_factory=Counter)
    max_rssi: int | None = None
    sightings: int = 0
    first_inside: float | None = None
    last_inside: float | None = None
    connected: bool = False
    logged_in: bool = False
    randomized: bool = False

    def add(self, s: Sighting, rules: Rules) -> None:
        self.end = s.ts
        self.sightings += 1
        if s.zone:
            self.zones[s.zone] += 1
        if s.rssi is not None:
            self.max_rssi = s.rssi if self.max_rssi is None else max(self.max_rssi, s.rssi)
            if s.rssi >= rules.inside_rssi:
                if self.first_inside is None:
                    self.first_inside = s.ts
                self.last_inside = s.ts
        self.connected = self.connected or s.connected or s.logged_in
        self.logged_in = self.logged_in or s.logged_in
        self.randomized = self.randomized or s.randomized

    def close(self, rules: Rules) -> Visit:
        inside = (
            self.first_inside is not None
            and self.last_inside is not None
            and self.last_inside - self.first_inside >= rules.visitor_min_dwell
        )
        # Most sightings wins; a tie goes to the first zone name, so the answer is stable.
        zone = min(self.zones.items(), key=lambda kv: (-kv[1], kv[0]))[0] if self.zones else ""
        return Visit(
            start=self.start,
            end=self.end,
            zone=zone,
            max_rssi=self.max_rssi,
            sightings=self.sightings,
            entered=self.first_inside is not None or self.connected,
            inside=inside,
            visitor=inside or self.logged_in,
            connected=self.connected,
            logged_in=self.logged_in,
            randomized=self.randomized,
        )


class Sessioniser:
    """Feed one device's sightings in time order, in any number of chunks; `finish()` gives the
    visits. `feed` returns the visits closed so far by that chunk."""

    def __init__(self, rules: Rules = Rules()) -> None:
        self.rules = rules
        self._open: _Open | None = None

    def feed(self, sightings: Iterable[Sighting]) -> list[Visit]:
        closed = []
        for s in sightings:
            current = self._open
            if current is not None and s.ts < current.end:
                raise ValueError("sightings must be fed in time order")
            if (
                current is None
                or s.ts - current.end > self.rules.gap
                or (s.ts - current.start > self.rules.cap)
            ):
                if current is not None:
                    closed.append(current.close(self.rules))
                current = self._open = _Open(start=s.ts, end=s.ts)
            current.add(s, self.rules)
        return closed

    def finish(self) -> list[Visit]:
        """Close the open visit (if any); the sessioniser can then start afresh."""
        if self._open is None:
            return []
        last, self._open = self._open.close(self.rules), None
        return [last]


def sessionise(sightings: Iterable[Sighting], rules: Rules = Rules()) -> list[Visit]:
    """All visits of one device's sightings (sorted here by time, so any order will do)."""
    sessioniser = Sessioniser(rules)
    visits = sessioniser.feed(sorted(sightings, key=lambda s: s.ts))
    return visits + sessioniser.finish()
