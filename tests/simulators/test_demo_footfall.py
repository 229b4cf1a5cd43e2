"""The demo's footfall history: the shopper model fed through analytics' ingest into the real
database, logins recorded as the portal records them."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import asyncpg

from kernel.config import Settings
from portico import demo_footfall
from simulators import probes, shoppers
from tests.factories import make_tenant


async def test_history_goes_through_the_ingest_and_is_not_fed_twice(
    settings: Settings, db: asyncpg.Pool
) -> None:
    tenant = await make_tenant(db, with_ad=False)
    store_name = "History Test"
    zone = tenant.router.router_id
    profile = demo_footfall.demo_profile(1, store_name, [zone])
    store = demo_footfall.DemoStore(1, store_name, profile, ())
    # Six hours of the food court's lunch and afternoon (12-18 h local), not the six before
    # the hour the test runs at: at night the model may hold nobody, and the test proved less.
    now = _last_local_hour(time.time(), 18, profile.timezone)
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
    assert heard, "the model put nobody near the food court in six afternoon hours"
    assert stored and {r["zone"] for r in stored} == {zone}
    assert all(r["rssi"] >= -85 and len(r["device_hash"]) == 32 for r in stored)
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


async def test_history_older_than_the_raw_retention_lands_in_the_rollups(
    settings: Settings, db: asyncpg.Pool
) -> None:
    """Each chunk is fed as it arrived (`now` = its end) and rolled up at once: a day ago's
    shoppers are in footfall_hourly, though raw observations are kept only 24 h."""
    tenant = await make_tenant(db, with_ad=False)
    store_name = "Older History"
    profile = demo_footfall.demo_profile(0, store_name, [tenant.router.router_id])
    store = demo_footfall.DemoStore(0, store_name, profile, ())
    # the whole history is past the raw retention, and it is the store's busy afternoon (12-20 h
    # local): the model has shoppers whatever the hour the test runs at
    end = _last_local_hour(time.time() - 26 * 3600, 20, profile.timezone)
    start = end - 8 * 3600
    await demo_footfall.backfill(
        settings, db, tenant.merchant_id, {store_name: tenant.store_id}, [store],
        days=8 / 24, now=end,
    )  # fmt: skip
    _, truth = shoppers.simulate(profile, start, end, demo_footfall.store_seed(store_name))
    rolled = await db.fetchval(  # devices with random MACs: heard by radio (logins are not)
        "SELECT coalesce(sum(randomized), 0) FROM footfall_hourly"
        " WHERE merchant_id = $1 AND store_id = $2 AND zone = ''",
        tenant.merchant_id,
        tenant.store_id,
    )
    people = [
        v
        for v in truth.visits
        if v.kind != "passer_by" and probes.MODEL_BY_NAME[v.model].randomizes
    ]
    assert people, "the model put no phone that randomises near the store in eight busy hours"
    assert rolled > 0, (rolled, len(people))


def _last_local_hour(before: float, hour: int, timezone: str) -> float:
    """The latest `hour`:00 in `timezone` at or before the unix time `before`."""
    local = datetime.fromtimestamp(before, ZoneInfo(timezone))
    moment = local.replace(hour=hour, minute=0, second=0, microsecond=0)
    if moment > local:
        moment -= timedelta(days=1)
    return moment.timestamp()
