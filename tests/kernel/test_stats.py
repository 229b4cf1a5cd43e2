"""Shared statistics (kernel/stats.py) against published figures."""

from __future__ import annotations

import pytest

from kernel import stats


def test_newcombe_gives_the_published_interval() -> None:
    # Newcombe (1998), Statistics in Medicine 17:873, examples (a) and (b), method 10; and
    # the Wilson interval of 81/263 of his paper on single proportions (17:857).
    d, low, high = stats.newcombe(56, 70, 48, 80)
    assert (round(d, 4), round(low, 4), round(high, 4)) == (0.2, 0.0524, 0.3339)
    d, low, high = stats.newcombe(9, 10, 3, 10)
    assert (round(d, 4), round(low, 4), round(high, 4)) == (0.6, 0.1705, 0.8090)
    assert tuple(round(x, 4) for x in stats.wilson(81, 263)) == (0.2553, 0.3662)
    # A rate of 0 in the holdout still has an interval (the Wald one would be of width 0).
    d, low, high = stats.newcombe(10, 100, 0, 100)
    assert d == 0.1 and 0 < low < 0.1 < high < 0.2


def test_wilson_needs_trials() -> None:
    with pytest.raises(ValueError, match="no trials"):
        stats.wilson(0, 0)
    assert stats.wilson(0, 10)[0] == 0.0
    assert stats.wilson(10, 10)[1] == pytest.approx(1.0)
