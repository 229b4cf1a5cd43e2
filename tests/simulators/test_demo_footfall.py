"""The demo's footfall history: the shopper model fed through analytics' ingest into the real
database, logins recorded as the portal records them."""

from __future__ import annotations

import time

import asyncpg

from kernel.config import Settings
from portico import demo_footfall
from simulators import shoppers
from tests.factories import make_tenant


async def test_history_goes_through_the_ingest_and_is_not_fed_twice(
    settings: Settings, db: asyncpg.Pool
) -> None:
    tenant = await make_tenant(db, with_ad=False)
    store_name = "History Test"
    zone = tenant.router.router_id
    profile = demo_footfall.demo_profile(1, store_name, [zone])
    store = demo_footfall.DemoStore(1, store_name, profile, ())
    now = time.time()
    days = 6 / 24
    await demo_footfall.backfill(
        settings, db, tenant.merchant_id, {store_name: tenant.store_id}, [store],
        days=days, now=now,
    )  # fmt: skip
    _, truth = shoppers.simulate(
        profile, now - days * 86400, now, demo_footfall.store_seed(store_name)
    )
    stored = await db.fetch(
        "SELECT device_hash, source, rssi, zone FROM footfall_observations"
        " WHERE merchant_id = $1 AND store_id = $2",
        tenant.merchant_id,
        tenant.store_id,
    )
    heard = [v for v in truth.visits if v.kind != "passer_by"]
    if heard:  # the food court is closed at night: six hours may hold nobody
        assert {r["zone"] for r in stored} == {zone}
        assert all(r["rssi"] >= -85 and len(r["device_hash"]) == 32 for r in stored)
    assert (len(stored) > 0) == bool(heard)
    logins = await db.fetchval(
        "SELECT count(*) FROM events WHERE merchant_id = $1 AND store_id = $2 AND kind = 'login'",
        tenant.merchant_id,
        tenant.store_id,
    )
    assert logins == len(truth.logins)
    # a second start adds only what came after the last login
    await demo_footfall.backfill(
        settings, db, tenant.merchant_id, {store_name: tenant.store_id}, [store],
        days=days, now=now,
    )  # fmt: skip
    again = await db.fetchval(
        "SELECT count(*) FROM events WHERE merchant_id = $1 AND store_id = $2 AND kind = 'login'",
        tenant.merchant_id,
        tenant.store_id,
    )
    assert again == logins
