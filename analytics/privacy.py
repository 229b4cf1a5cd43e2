"""A shopper's export and erasure requests, for what analytics keeps of them (PRODUCT.md §5;
docs/privacy.md says what each table keeps and why).

Analytics knows a device by its stable pseudonym (`device_hash`: logins, associated devices)
and, when it only probed, by a probe hash that changes every day at every store
(kernel.privacy.probe_hash). A request that types a MAC has that MAC's probe hashes of every
store and every day raw observations may still be kept (`probe_hashes`) looked for too; the
MAC is never stored. A phone probing from random MACs cannot be found by its own MAC: by
design, nothing links those probes to it.

- `export_shopper`: the events (logins, logouts, coupon claims), the raw sightings summed per
  store, zone, source and day, the visits, login days, long stays, whether the device is a
  fixed one, its OS family.
- `erase_shopper`, in the caller's transaction: events stay counted without the device; the
  rest is deleted. Rollups (footfall_hourly, footfall_daily) count nobody by name and stay as
  they are; a day recomputed later counts without the shopper.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from accounts import services as accounts
from kernel.jsonable import plain
from kernel.privacy import probe_hash
from kernel.sql import load_queries

queries = load_queries(__file__, "privacy.sql")

# Raw observations are kept at most 168 hours, in day partitions dropped once their whole day is
# older (analytics/retention.py): 8 days back, and a store's local day may be a day off UTC's.
PROBE_DAYS_BACK = 9
PROBE_DAYS_AHEAD = 1


@dataclass(frozen=True)
class AnalyticsErased:
    events: int  # anonymised
    observations: int  # deleted
    visits: int  # deleted
    login_days: int  # deleted
    long_stays: int  # deleted
    fixed_devices: int  # deleted
    device_os: int  # deleted


async def probe_hashes(
    conn: asyncpg.Connection,
    secret_key: str,
    merchant_id: uuid.UUID,
    macs: Sequence[str],
    now: datetime | None = None,
) -> list[str]:
    """The probe hashes these MACs (normalised) had at each of the merchant's stores on each
    day whose raw observations may still be kept."""
    if not macs:
        return []
    today = (now or datetime.now(UTC)).date()
    days = [today + timedelta(days=n) for n in range(-PROBE_DAYS_BACK, PROBE_DAYS_AHEAD + 1)]
    stores = [s.store_id for s in await accounts.list_stores(conn, merchant_id)]
    return sorted(
        probe_hash(secret_key, str(merchant_id), str(store), day, mac)[:32]
        for store in stores
        for day in days
        for mac in macs
    )


async def _keys(
    conn: asyncpg.Connection,
    secret_key: str,
    merchant_id: uuid.UUID,
    devices: Sequence[str],
    macs: Sequence[str],
) -> list[str]:
    return sorted({*devices, *await probe_hashes(conn, secret_key, merchant_id, macs)})


async def export_shopper(
    conn: asyncpg.Connection,
    secret_key: str,
    merchant_id: uuid.UUID,
    devices: Sequence[str],
    macs: Sequence[str] = (),
) -> dict[str, Any]:
    """Everything analytics keeps of these devices (pseudonyms, and MACs for their probe
    hashes), as JSON-ready data."""
    keys = await _keys(conn, secret_key, merchant_id, devices, macs)

    async def rows(query: str) -> list[Any]:
        return [plain(dict(r)) for r in await conn.fetch(query, merchant_id, keys)]

    return {
        "events": await rows(queries.events),
        "observations": await rows(queries.observations),
        "visits": await rows(queries.visits),
        "login_days": await rows(queries.login_days),
        "long_stays": await rows(queries.long_stays),
        "fixed_devices": await rows(queries.fixed_devices),
        "device_os": await rows(queries.device_os),
    }


async def erase_shopper(
    conn: asyncpg.Connection,
    secret_key: str,
    merchant_id: uuid.UUID,
    devices: Sequence[str],
    macs: Sequence[str] = (),
) -> AnalyticsErased:
    """Erase what analytics keeps of these devices (see the module), in the caller's
    transaction (ValueError without one)."""
    if not conn.is_in_transaction():
        raise ValueError("erase_shopper runs in the caller's transaction")
    keys = await _keys(conn, secret_key, merchant_id, devices, macs)

    async def count(query: str) -> int:
        return int((await conn.execute(query, merchant_id, keys)).rsplit(" ", 1)[-1])

    return AnalyticsErased(
        events=await count(queries.erase_events),
        observations=await count(queries.erase_observations),
        visits=await count(queries.erase_visits),
        login_days=await count(queries.erase_login_days),
        long_stays=await count(queries.erase_long_stays),
        fixed_devices=await count(queries.erase_fixed_devices),
        device_os=await count(queries.erase_device_os),
    )
