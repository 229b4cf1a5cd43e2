"""The POS API's refused-code counters (ads/pos_guard.py) on the portal's fixed-window rate
limits (portal/rate_limits.py): wired here, in the composition root, so that ads does not
import the portal. A key is counted by its id, an address by its keyed hash at the merchant
(never in the clear); the portal's retention drops the windows once they are over.
"""

from __future__ import annotations

import asyncpg

from ads import pos_guard
from portal import rate_limits
from portal.rate_limits import Limit

KEY = Limit("pos_key", pos_guard.REFUSAL_WINDOW, pos_guard.KEY_REFUSALS, "pos_error_held_back")
IP = Limit("pos_ip", pos_guard.REFUSAL_WINDOW, pos_guard.IP_REFUSALS, "pos_error_held_back")
NAMES = {KEY.kind: "key", IP.kind: "ip"}


class PortalRefusalCounters:
    """pos_guard.RefusalCounters in portal_rate_limits."""

    def __init__(self, db: asyncpg.Pool, secret_key: str) -> None:
        self._db = db
        self._secret_key = secret_key

    def _hits(self, caller: pos_guard.Caller) -> list[tuple[Limit, str]]:
        merchant_id = caller.key.merchant_id
        address = rate_limits.ip_hash(self._secret_key, merchant_id, caller.ip)
        return [(KEY, str(caller.key.key_id)), (IP, address)]

    async def held_back(self, caller: pos_guard.Caller) -> float | None:
        return await rate_limits.seconds_held_back(
            self._db, caller.key.merchant_id, self._hits(caller)
        )

    async def refused(self, caller: pos_guard.Caller) -> list[str]:
        hits = self._hits(caller)
        counts = await rate_limits.hit_counts(self._db, caller.key.merchant_id, hits)
        return [
            NAMES[limit.kind]
            for (limit, _key), count in zip(hits, counts, strict=True)
            if count == limit.max_hits
        ]
