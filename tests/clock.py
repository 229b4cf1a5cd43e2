"""Wall-clock helpers for tests whose data must not straddle a midnight.

A device's probe hash is salted per store-local day, observations go to UTC day partitions,
visits and rollups are per local day: a test that makes data "a minute ago" and "forty seconds
ago" and expects one device, one day, fails on the day its run crosses midnight (for a store in
Asia/Shanghai: 16:00 UTC).
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo


def clear_of_midnight(now: float, span: float, timezone: str = "UTC") -> float:
    """`now`, or the last second before `timezone`'s latest midnight when that midnight falls
    within `span` seconds before `now`: so that [result - span, result] lies within one local
    day (for timestamps a test makes in the past of `now`)."""
    local = datetime.fromtimestamp(now, ZoneInfo(timezone))
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()
    return midnight - 1 if now - span < midnight else now
