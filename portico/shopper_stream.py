"""Precision marketing's live stream, wired (docs/marketing.md, "The live stream").

The composition root hands these hooks to the domains that see shoppers, so that analytics,
the portal and ads never import marketing:

- `marketing.intake.Sightings().seen`: analytics' `on_devices_seen` (the footfall ingest's
  stable devices), as thinned sightings, for the controller role (portico/runtime.py);
- `shopper_events(secret_key)`: the portal's and ads' `OnShopperEvents` (logins, consent
  withdrawals, coupon claims and redemptions), for the portal and console apps. A login with
  a voucher names its holder here by a keyed pseudonym of the code (kernel.privacy, kind
  'voucher'), so that the code itself never reaches marketing's tables.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import replace

import asyncpg

from kernel.privacy import identity_hash
from kernel.shopper_events import OnShopperEvents, ShopperEvent
from marketing import intake


def shopper_events(secret_key: str) -> OnShopperEvents:
    async def on_events(conn: asyncpg.Connection, events: Sequence[ShopperEvent]) -> None:
        await intake.record_shopper_events(conn, [_pseudonymous(secret_key, e) for e in events])

    return on_events


def _pseudonymous(secret_key: str, event: ShopperEvent) -> ShopperEvent:
    """The event with a voucher code replaced by its holder's identity hash."""
    code = event.data.get("voucher_code")
    if code is None:
        return event
    data = {k: v for k, v in event.data.items() if k != "voucher_code"}
    data.setdefault("identity_hash", voucher_holder(secret_key, event.merchant_id, str(code)))
    return replace(event, data=data)


def voucher_holder(secret_key: str, merchant_id: uuid.UUID, code: str) -> str:
    """The pseudonym of whoever holds a voucher (its devices are one shopper, as a phone's)."""
    return identity_hash(secret_key, str(merchant_id), "voucher", code)
