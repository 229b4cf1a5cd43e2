"""Code guessing held back on the POS API (docs/coupons.md, "Limits").

Refused codes (a typo, an unknown code, one never given out, an unknown lock or redemption)
are counted per API key and per client IP address in fixed windows of REFUSAL_WINDOW seconds.
A key or address at its limit has every request refused, right or wrong, with a 429 and
Retry-After until its window ends; the refusal that brings a counter to its limit logs one
"alert" warning (once per counter and window). A POS that mistypes now and then stays far
below the limits; someone trying codes from a stolen key meets them within minutes.

The counters are the portal's fixed-window rate limits (portal/rate_limits.py), which the
composition root passes in as a RefusalCounters (portico/pos_refusals.py): ads does not
import the portal, which imports ads.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Protocol

from ads import pos_redemption, redemption
from ads.pos_keys import PosKey
from kernel.errors import PorticoError

log = logging.getLogger("portico.ads.pos")

REFUSAL_WINDOW = 600  # seconds
KEY_REFUSALS = 50  # refused codes one API key may have in a window
IP_REFUSALS = 50  # refused codes from one client address at one merchant, whatever the keys
GUESSES = (
    redemption.CodeMistyped,
    redemption.CodeUnknown,
    redemption.CodeNotClaimed,
    pos_redemption.LockUnknown,
    pos_redemption.RedemptionUnknown,
)


class HeldBack(PorticoError):
    """The key or the address is at its limit of refused codes: until `retry_after` seconds."""

    message_id = "pos_error_held_back"
    status = 429

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail, seconds=retry_after)
        self.retry_after = retry_after


@dataclass(frozen=True)
class Caller:
    key: PosKey
    ip: str


class RefusalCounters(Protocol):
    """Fixed-window counters of refused codes per key (KEY_REFUSALS) and per client address
    (IP_REFUSALS) in windows of REFUSAL_WINDOW seconds."""

    async def held_back(self, caller: Caller) -> float | None:
        """Seconds until the window ends when the key or the address is at its limit (counted
        without a hit), else None."""

    async def refused(self, caller: Caller) -> list[str]:
        """Count one refusal on each counter; the counters ("key", "ip") it brought to their
        limit (each once a window)."""


async def check(counters: RefusalCounters, caller: Caller) -> None:
    """HeldBack when the caller's key or address is at its limit."""
    seconds = await counters.held_back(caller)
    if seconds is not None:
        raise HeldBack(
            f"key {caller.key.key_id} or its address is at its limit of refused codes",
            retry_after=max(1, math.ceil(seconds)),
        )


async def count_refusal(counters: RefusalCounters, caller: Caller) -> None:
    """One more refused code; the alert when it brings a counter to its limit."""
    for counter in await counters.refused(caller):
        key = caller.key
        limit = KEY_REFUSALS if counter == "key" else IP_REFUSALS
        by = f"the API key {key.prefix}… ({key.name!r})" if counter == "key" else caller.ip
        log.warning(
            "alert: POS API of merchant %s: %d refused codes from %s in %d s (key %s); its "
            "requests are refused with 429 until the window ends",
            key.merchant_id,
            limit,
            by,
            REFUSAL_WINDOW,
            key.key_id,
        )
