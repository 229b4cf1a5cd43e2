"""Sessionisation (analytics/visits.py): worked examples and properties (hypothesis)."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics.visits import Rules, Sessioniser, Sighting, Visit, sessionise

MIN = 60.0
# Small cap and gap so that generated streams often meet both.
RULES = Rules(inside_rssi=-70, visitor_min_dwell=5 * MIN, gap=15 * MIN, cap=60 * MIN)


def test_a_gap_of_exactly_fifteen_minutes_continues_the_visit() -> None:
    visits = sessionise([Sighting(0, -60), Sighting(900, -60), Sighting(1801, -60)])

    assert [(v.start, v.end) for v in visits] == [(0, 900), (1801, 1801)]
    assert visits[0].dwell == 900
    assert visits[0].visitor and not visits[1].visitor


def test_inside_means_five_minutes_between_first_and_last_strong_sighting() -> None:
    weak_long = [Sighting(t, -80) for t in range(0, 3600, 120)]
    strong_short = [Sighting(0, -60), Sighting(240, -60), Sighting(600, -90)]
    strong_enough = [Sighting(0, -70), Sighting(200, -90), Sighting(300, -65)]

    assert [v.visitor for v in sessionise(weak_long)] == [False]
    assert not sessionise(weak_long)[0].entered
    short = sessionise(strong_short)[0]
    assert (short.entered, short.inside, short.visitor, short.max_rssi) == (True, False, False, -60)
    assert sessionise(strong_enough)[0].visitor


def test_a_login_makes_a_visitor_and_connected_regardless_of_dwell() -> None:
    (visit,) = sessionise([Sighting(10, -88, "ap-1"), Sighting(20, None, logged_in=True)])

    assert visit.visitor and visit.connected and visit.logged_in and visit.entered
    assert visit.zone == "ap-1"  # a login has no zone and does not vote


def test_an_association_is_connected_but_not_yet_a_visitor() -> None:
    (visit,) = sessionise([Sighting(0, -50, "ap-1", connected=True), Sighting(60, -50, "ap-1")])

    assert visit.connected and not visit.visitor and not visit.logged_in


def test_the_zone_is_where_most_sightings_were_ties_by_name() -> None:
    three_b = [Sighting(0, -60, "b"), Sighting(1, -60, "a"), Sighting(2, -60, "b")]
    tie = [Sighting(0, -60, "b"), Sighting(1, -60, "a")]

    assert sessionise(three_b)[0].zone == "b"
    assert sessionise(tie)[0].zone == "a"


def test_presence_longer_than_the_cap_is_cut_and_the_rest_is_a_new_visit() -> None:
    every_ten_minutes = [Sighting(t, -60) for t in range(0, 13 * 3600 + 1, 600)]

    visits = sessionise(every_ten_minutes)

    assert [(v.start, v.end) for v in visits] == [(0, 43200), (43800, 46800)]
    assert all(v.dwell <= 43200 for v in visits)


def test_sightings_out_of_order_are_sorted_but_a_fed_chunk_must_not_go_back() -> None:
    assert sessionise([Sighting(100, -60), Sighting(0, -60)])[0].start == 0
    sessioniser = Sessioniser()
    sessioniser.feed([Sighting(100, -60)])
    with pytest.raises(ValueError, match="time order"):
        sessioniser.feed([Sighting(50, -60)])


def test_no_sightings_no_visits() -> None:
    assert sessionise([]) == []
    assert Sessioniser().finish() == []


# Properties --------------------------------------------------------------------------------

sightings_strategy = st.lists(
    st.builds(
        Sighting,
        ts=st.integers(0, 6 * 3600).map(float),
        rssi=st.one_of(st.none(), st.integers(-95, -30)),
        zone=st.sampled_from(["", "ap-1", "ap-2"]),
        connected=st.booleans(),
        logged_in=st.booleans(),
        randomized=st.booleans(),
    ),
    max_size=60,
)


def _in(s: Sighting, v: Visit) -> bool:
    return v.start <= s.ts <= v.end


@settings(max_examples=300, deadline=None)
@given(sightings_strategy)
def test_visits_partition_the_sightings(sightings: list[Sighting]) -> None:
    visits = sessionise(sightings, RULES)

    for before, after in itertools.pairwise(visits):
        assert before.end < after.start  # never overlap, in order
        # A new visit starts only after a silence longer than the gap, or at the cap.
        assert after.start - before.end > RULES.gap or after.start - before.start > RULES.cap
    for s in sightings:
        assert sum(_in(s, v) for v in visits) == 1  # each sighting in exactly one visit
    assert sum(v.sightings for v in visits) == len(sightings)
    for v in visits:
        assert 0 <= v.dwell <= RULES.cap
        inner = sorted(s.ts for s in sightings if _in(s, v))
        assert (inner[0], inner[-1]) == (v.start, v.end)
        assert all(b - a <= RULES.gap for a, b in itertools.pairwise(inner))
        assert v.visitor == (v.inside or v.logged_in)
        assert v.connected == any(s.connected or s.logged_in for s in sightings if _in(s, v))
    if sightings:
        times = sorted(s.ts for s in sightings)
        silences = sum(b.start - a.end for a, b in itertools.pairwise(visits))
        assert sum(v.dwell for v in visits) + silences == times[-1] - times[0]


@settings(max_examples=300, deadline=None)
@given(sightings_strategy, st.lists(st.integers(0, 60), max_size=5))
def test_sessionising_in_chunks_equals_sessionising_at_once(
    sightings: list[Sighting], cuts: list[int]
) -> None:
    ordered = sorted(sightings, key=lambda s: s.ts)
    bounds = sorted({0, len(ordered), *(min(c, len(ordered)) for c in cuts)})
    sessioniser = Sessioniser(RULES)
    chunked: list[Visit] = []
    for lo, hi in itertools.pairwise(bounds):
        chunked += sessioniser.feed(ordered[lo:hi])
    chunked += sessioniser.finish()

    assert chunked == sessionise(sightings, RULES)


@settings(max_examples=200, deadline=None)
@given(sightings_strategy)
def test_starting_again_at_any_visit_gives_the_same_later_visits(sightings: list[Sighting]) -> None:
    visits = sessionise(sightings, RULES)
    for k, visit in enumerate(visits):
        later = [s for s in sightings if s.ts >= visit.start]
        assert sessionise(later, RULES) == visits[k:]


@settings(max_examples=300, deadline=None)
@given(sightings_strategy, sightings_strategy.filter(bool))
def test_late_sightings_change_only_visits_within_gap_reach(
    base: list[Sighting], late: list[Sighting]
) -> None:
    before = sessionise(base, RULES)
    after = sessionise(base + late, RULES)
    late_times = [s.ts for s in late]
    first_late = min(late_times)

    # A run of visits with no silence over the gap between them (cap cuts) is one chain; a
    # chain that no late sighting comes within the gap of keeps all of its visits.
    chains: list[list[Visit]] = []
    for v in before:
        if chains and v.start - chains[-1][-1].end <= RULES.gap:
            chains[-1].append(v)
        else:
            chains.append([v])
    for chain in chains:
        lo, hi = chain[0].start - RULES.gap, chain[-1].end + RULES.gap
        if not any(lo <= t <= hi for t in late_times):
            assert all(v in after for v in chain)
    # History is not rewritten: a visit closed before the first late sighting is kept.
    for v, nxt in zip(before, [*before[1:], None], strict=False):
        closed_by_silence = v.end + RULES.gap < first_late
        closed_by_next = nxt is not None and nxt.start < first_late
        if closed_by_silence or closed_by_next:
            assert v in after
    # And every late sighting is in exactly one visit.
    for s in late:
        assert sum(_in(s, v) for v in after) == 1
