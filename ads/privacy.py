"""A shopper's export and erasure requests, for what ads keeps of them (PRODUCT.md §5;
docs/privacy.md says what each table keeps and why).

Ads knows a shopper by keys (`keys`): the identity hashes of their phone numbers and email
addresses (the ad decision counts a shopper by their identity when the portal knows it) and
their devices' pseudonyms (claims and redemptions are keyed by the device; the decision counts
a shopper it cannot name by the device).

- `export_shopper`: the coupon codes they claimed (coupon, state, when, until when), the
  redemptions of them at the till, the ad events counted for them (impressions, clicks,
  actions, ghost impressions of a holdout: which campaign, line item, creative, store, when)
  and which devices an identity was seen on.
- `erase_shopper`, in the caller's transaction: claims, redemptions and ad events stay counted
  under keys that name nobody ('x:<code>', none, 'x:<event id>'); the identity's device links
  are deleted.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from kernel.jsonable import plain
from kernel.sql import load_queries

queries = load_queries(__file__, "privacy.sql")


@dataclass(frozen=True)
class AdsErased:
    claims: int  # anonymised
    redemptions: int  # anonymised
    ad_events: int  # anonymised
    identity_devices: int  # deleted


async def export_shopper(
    conn: asyncpg.Connection, merchant_id: uuid.UUID, keys: Sequence[str]
) -> dict[str, Any]:
    """Everything ads keeps of the shopper known by `keys`, as JSON-ready data."""
    wanted = sorted(set(keys))

    async def rows(query: str) -> list[Any]:
        return [plain(dict(r)) for r in await conn.fetch(query, merchant_id, wanted)]

    return {
        "claims": await rows(queries.claims),
        "redemptions": await rows(queries.redemptions),
        "ad_events": await rows(queries.ad_events),
        "identity_devices": await rows(queries.identity_devices),
    }


async def erase_shopper(
    conn: asyncpg.Connection, merchant_id: uuid.UUID, keys: Sequence[str]
) -> AdsErased:
    """Erase what ads keeps of the shopper known by `keys` (see the module), in the caller's
    transaction (ValueError without one)."""
    if not conn.is_in_transaction():
        raise ValueError("erase_shopper runs in the caller's transaction")
    wanted = sorted(set(keys))

    async def count(query: str) -> int:
        return int((await conn.execute(query, merchant_id, wanted)).rsplit(" ", 1)[-1])

    return AdsErased(
        claims=await count(queries.erase_claims),
        redemptions=await count(queries.erase_redemptions),
        ad_events=await count(queries.erase_ad_events),
        identity_devices=await count(queries.erase_identity_devices),
    )
