"""The demo's seed offers every login method on one store and a batch of vouchers, once."""

from __future__ import annotations

import uuid
from datetime import timedelta

import asyncpg

from accounts import audit, operators, plans
from accounts import services as accounts
from ads import advertisers, demo_history, reports
from ads import services as ads
from controller.services import router_count
from kernel.config import Settings
from marketing import tags as marketing_tags
from portal import stores, vouchers
from portico import demo, demo_marketing
from tests.factories import TEST_ACTOR


async def test_the_demo_offers_every_login_method_and_vouchers_once(db: asyncpg.Pool) -> None:
    async with db.acquire() as conn:
        merchant_id = await demo.seed(conn)
    await demo.seed_logins(db, merchant_id)
    await demo.seed_logins(db, merchant_id)  # a second start changes nothing

    router_id = next(r.router_id for r in demo.DEMO_ROUTERS if r.store == 0)
    _, portal = await stores.store_gateway(db, router_id)
    assert set(portal.login_methods) == {"click", "sms", "voucher", "email"}
    assert portal.returning_days == 7 and portal.extend_minutes == 30
    batches = await vouchers.list_batches(db, merchant_id)
    assert len(batches) == 1
    assert len(await vouchers.codes_of_batch(db, merchant_id, batches[0].batch_id)) == 12


async def test_the_demo_advertiser_waits_for_the_malls_approval(db: asyncpg.Pool) -> None:
    async with db.acquire() as conn:
        merchant_id = await demo.seed(conn)
    await demo.seed_advertiser(db, merchant_id)  # made here, or by a test before
    assert await demo.seed_advertiser(db, merchant_id) is None  # once
    advertiser_id = await db.fetchval(
        "SELECT advertiser_id FROM advertisers WHERE name = $1", demo.DEMO_ADVERTISER
    )
    assert advertiser_id is not None
    queue = await advertisers.approval_queue(db, merchant_id)
    (request,) = [
        r
        for r in queue
        if r["advertiser_id"] == advertiser_id and r["campaign_name"] != demo_history.NAME
    ]
    assert request["status"] == "pending"
    (past,) = [r for r in queue if r["campaign_name"] == demo_history.NAME]
    assert past["status"] == "approved"  # the ended campaign with a history (docs/ad-reports.md)
    assert {r["status"] for r in queue if r["advertiser_id"] != advertiser_id} == {"approved"}
    ads.delivery.decider.clear()
    ad = await ads.choose_ad(db, merchant_id, "en")
    assert ad is None or ad.advertiser_id != advertiser_id  # not shown before approval


async def test_the_demo_advertisers_requests_are_in_the_malls_audit_log(db: asyncpg.Pool) -> None:
    async with db.acquire() as conn:
        merchant_id = await demo.seed(conn)
    await demo.seed_advertiser(db, merchant_id)  # made here, or by a test before
    log = await audit.entries(db, merchant_id, limit=audit.MAX_PAGE)
    requests = [e for e in log if e.action == "ad_approval.request"]
    assert {e.actor_label for e in requests} == {"demo seed"}
    # The live campaign's and the past one's (approved afterwards, by the mall's owner).
    assert len(requests) == 2 and all(e.after == {"status": "pending"} for e in requests)


async def test_the_malls_old_creatives_get_their_image_again(db: asyncpg.Pool) -> None:
    async with db.acquire() as conn:
        merchant_id = await demo.seed(conn)
    own = await advertisers.own_advertiser_of(db, merchant_id)
    assert own is not None
    await db.execute(  # as migration 0029 leaves a data folder of an older version
        "UPDATE ad_creatives SET status = 'paused', file_id = NULL WHERE advertiser_id = $1", own
    )
    assert await advertisers.creatives_without_file(db, own)
    await demo.seed_ad_images(db, merchant_id)
    assert await advertisers.creatives_without_file(db, own) == []


async def test_the_demo_advertisers_past_campaign_has_a_report_with_numbers(
    db: asyncpg.Pool,
) -> None:
    async with db.acquire() as conn:
        merchant_id = await demo.seed(conn)
    await demo.seed_advertiser(db, merchant_id)  # made here, or by the test before
    advertiser_id, campaign_id, starts_at = await db.fetchrow(
        "SELECT advertiser_id, campaign_id, starts_at FROM ad_campaigns WHERE name = $1",
        demo_history.NAME,
    )
    first = starts_at.astimezone(reports.ZoneInfo("Asia/Shanghai")).date()
    got = await reports.campaign_report(
        db, advertiser_id, campaign_id, first, first + timedelta(days=30)
    )
    # every figure shown, with the seed's rates give or take chance
    assert isinstance(got.total.reach, int) and got.total.reach > 500
    assert isinstance(got.holdout.shoppers, int) and got.holdout.shoppers > 100
    assert isinstance(got.total.clicks, int) and got.exposed.redemptions not in (
        reports.FEWER_THAN_CONVERTERS,
        0,
    )
    assert all(lift.shown for lift in got.lift.values())
    assert got.lift["claims"].low > 0  # 24 % against none
    assert got.lift["returns"].difference > 0


async def test_the_demo_has_an_operator_once(db: asyncpg.Pool) -> None:
    await demo.seed_operator(db)
    await demo.seed_operator(db)  # once: the second run changes nothing
    user_id = await accounts.user_id_by_email(db, demo.DEMO_OPERATOR_EMAIL)
    assert user_id is not None and await operators.is_operator(db, user_id)
    assert await accounts.memberships_of(db, user_id) == []  # no merchant's member


async def test_the_demo_merchant_fits_its_plan(db: asyncpg.Pool) -> None:
    """Two stores and six routers: more than Free allows, so the seed puts the mall on
    Standard, also when a data folder of an older version left it on Free."""
    async with db.acquire() as conn:
        merchant_id = await demo.seed(conn)
        await operators.change_plan(conn, merchant_id, "free", TEST_ACTOR)  # as before 0042
        assert (await _usage(conn, merchant_id)).over() == ["stores", "routers"]
        assert await demo.seed(conn) == merchant_id
        usage = await _usage(conn, merchant_id)
    assert usage.plan.plan == demo.DEMO_PLAN and usage.over() == []
    assert (usage.stores, usage.routers) == (len(demo.DEMO_STORES), len(demo.DEMO_ROUTERS))
    [entry, *_] = await audit.entries(db, merchant_id)
    assert (entry.action, entry.actor_label, entry.after) == (
        "merchant.plan",
        "demo seed",
        {"plan": demo.DEMO_PLAN},
    )


async def _usage(conn: asyncpg.Connection, merchant_id: uuid.UUID) -> plans.Usage:
    return await plans.usage(conn, merchant_id, await router_count(conn, merchant_id))


async def test_the_demo_merchant_has_tags_segments_triggers_and_profiles_from_its_shoppers(
    db: asyncpg.Pool, settings: Settings
) -> None:
    async with db.acquire() as conn:
        merchant_id = await demo.seed(conn)
    zones = demo.store_zones()
    assert zones == {
        "Demo Mall · Ground Floor": ["ap-demo-1", "ap-demo-2", "ap-demo-6"],
        "Demo Mall · Food Court": ["ap-demo-3"],
    }
    await demo_marketing.prepare(settings, db, merchant_id, zones, days=8)
    await demo_marketing.prepare(settings, db, merchant_id, zones, days=8)  # once
    names = await db.fetch(
        "SELECT name_en, event, channel FROM marketing_triggers WHERE merchant_id = $1"
        " ORDER BY created_at",
        merchant_id,
    )
    assert [(r["name_en"], r["event"], r["channel"]) for r in names] == [
        ("Welcome back", "arrival", "portal"),
        ("Stayed 20 minutes", "dwell", "sms"),
        ("First visit welcome", "arrival", "portal"),
    ]
    segments = await db.fetch(
        "SELECT name_en FROM marketing_segments WHERE merchant_id = $1 ORDER BY name_en",
        merchant_id,
    )
    assert [r["name_en"] for r in segments] == [
        "Came twice in 30 days",
        "Frequent lunchtime regulars",
        "Lapsed, back",
    ]
    assert len(await marketing_tags.list_tags(db, merchant_id)) == len(marketing_tags.DEFAULTS)
    # The stores' WiFi shoppers of the last days are profiles; daily regulars are frequent.
    held = await db.fetch(
        "SELECT tags, login_methods FROM marketing_profiles WHERE merchant_id = $1", merchant_id
    )
    assert len(held) > 100
    assert any("frequent" in r["tags"] for r in held)
    assert any(r["login_methods"] == ["click"] for r in held)
    # The history set the triggers off (tests/portico/test_demo_closed_loop.py); what went
    # out ended in the past: nothing is left to send.
    assert await db.fetchval(
        "SELECT count(*) FROM marketing_contacts WHERE merchant_id = $1", merchant_id
    )
    assert not await db.fetchval(
        "SELECT count(*) FROM marketing_contacts WHERE merchant_id = $1 AND status = 'pending'",
        merchant_id,
    )
