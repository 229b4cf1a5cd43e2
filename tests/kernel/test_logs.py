"""A throttled warning: at most one per period, with a count of what it left out."""

from __future__ import annotations

import logging

import pytest

from kernel.logs import Throttled


def test_a_flood_is_one_warning_a_period_with_the_count_left_out(
    caplog: pytest.LogCaptureFixture,
) -> None:
    throttled = Throttled(logging.getLogger("test.throttled"), every=0.05)
    caplog.set_level(logging.WARNING, "test.throttled")

    for n in range(50):
        throttled.warning("bad thing %d", n)
    assert [r.getMessage() for r in caplog.records] == ["bad thing 0"]
    assert throttled.suppressed == 49

    throttled._next = 0.0  # the period is over
    throttled.warning("bad thing %d", 50)
    assert caplog.records[-1].getMessage() == ("bad thing 50 (and 49 more like it in the last 0 s)")
    assert throttled.suppressed == 0
