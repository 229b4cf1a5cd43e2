"""Wall-clock helpers for tests whose data must not straddle a midnight.

A device's probe hash is salted per store-local day, observations go to UTC day partitions,
visits and rollups are per local day: a test that makes data "a minute ago" and "forty seconds
ago" and expects one device, one day, fails on the day its run crosses midnight (for a store in
Asia/Shanghai: 16:00 UTC).
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo


def clear_of_midnight(now: float, span: float, timezone: str = "UTC") -> float:
    """`now`, or the last second before `timezone`'s latest midnight when that midnight falls
    within `span` seconds before `now`: so that [result - span, result] lies within one local
    day (for timestamps a test makes in the past of `now`)."""
    local = datetime.fromtimestamp(now, ZoneInfo(timezone))
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()
    return midnight - 1 if now - span < midnight else now


async def away_from_midnight(timezone: str, past: float, ahead: float) -> None:
    """Return at once, or after sleeping past `timezone`'s next midnight, so that the last
    `past` seconds and the next `ahead` seconds lie within one local day: for a test that
    makes data just before now and then asks a page whose "today" is the server's (which a
    test cannot pass a `now` to). Sleeps at most `ahead` + `past` seconds, on few runs."""
    while True:
        now = time.time()
        local = datetime.fromtimestamp(now, ZoneInfo(timezone))
        midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
        since = now - midnight.timestamp()
        until = (midnight + timedelta(days=1)).timestamp() - now
        if since >= past and until > ahead:
            return
        await asyncio.sleep(min(0.5, max(0.05, past - since if since < past else until)))
