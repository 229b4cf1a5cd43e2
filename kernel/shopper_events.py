"""Shoppers' events that another domain may learn of, in the transaction that records them.

The portal (logins, consent withdrawals, coupon claims) and ads (redemptions) describe what a
shopper did as `ShopperEvent`s and hand them to an `OnShopperEvents` hook, if one was given
them; the composition root (portico/runtime.py) decides who listens (precision marketing's
live stream: marketing.intake.record_shopper_events). The domains that produce events import
nothing of the one that listens.

Each event is named by what it is (`event_id`, from its own record: a login's session, a
redemption's id), so that the same real event handed over twice (a retried request, a
redelivered message) is recognised as one by whoever keeps it.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg
from aiohttp import web

KINDS = frozenset({"login", "consent", "claim", "redemption"})
_NAMESPACE = uuid.UUID("3d7f0a41-25c6-4f0e-8b7b-61a1f3c2e9d4")


def event_id(kind: str, *parts: object) -> uuid.UUID:
    """The id of a real event of `kind`, from what names it (its record's own ids)."""
    return uuid.uuid5(_NAMESPACE, "|".join([kind, *(str(p) for p in parts)]))


@dataclass(frozen=True, slots=True)
class ShopperEvent:
    """One thing a shopper did.

    `device_hash`: the device's merchant-keyed pseudonym (kernel.privacy.device_hash), or None
    for an event about an identity rather than a device (a consent withdrawn by a link or by
    staff: `data["identity_hash"]` names the shopper then). `data` by kind:
    login {method, identity_hash?, consent_sms?, consent_email?}; consent {channel: sms, email,
    wechat (marketing's own, from WeChat's pushes) or all, given, identity_hash?}; claim and
    redemption {coupon_id}."""

    merchant_id: uuid.UUID
    kind: str
    event_id: uuid.UUID
    device_hash: str | None
    store_id: uuid.UUID | None
    occurred_at: datetime
    data: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"no shopper event kind {self.kind!r}")


# Called in the producer's transaction with what it recorded; a failure rolls that back.
OnShopperEvents = Callable[[asyncpg.Connection, Sequence[ShopperEvent]], Awaitable[object]]

# Where the portal's and the console's apps keep the hook (absent: nobody listens).
SHOPPER_EVENTS = web.AppKey("shopper_events", OnShopperEvents)
