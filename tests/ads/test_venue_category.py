"""Ad targeting and category blocks at a venue use the STORE's category (accounts.services
.venue_facts, read by ads.delivery.venue_facts for the store the portal names): a merchant
with a café and a fashion store shows each the campaigns that target its own kind of store, a
store without a category ("other") takes its merchant's, and the merchant's category block
hides what it blocks at every store while the other store's campaign runs on."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import asyncpg
from multidict import MultiDict

from accounts import audit, operators, stores
from accounts import services as accounts
from ads import advertisers
from ads import services as ads
from tests.ads.test_advertiser_pages import line_item, png
from tests.console.test_console_app import PASSWORD

ACTOR = audit.Actor.system("venue category test")


async def _owner(db: asyncpg.Pool, merchant_category: str) -> tuple[uuid.UUID, uuid.UUID]:
    """(merchant, its owner) of a merchant of this category, without stores."""
    merchant_id = await accounts.create_merchant(db, f"Mall tenant {uuid.uuid4().hex[:6]}")
    await accounts.set_merchant_category(db, merchant_id, merchant_category)
    async with db.acquire() as conn:  # the premium plan: room for the test's stores
        await operators.change_plan(conn, merchant_id, "premium", ACTOR)
    owner = await accounts.create_user(
        db, f"owner-{uuid.uuid4().hex}@example.com", "Owner", PASSWORD
    )
    await accounts.add_membership(db, merchant_id, owner, "owner")
    return merchant_id, owner


async def _store(db: asyncpg.Pool, merchant_id: uuid.UUID, category: str) -> uuid.UUID:
    details = stores.StoreDetails(name=f"{category} {uuid.uuid4().hex[:6]}", category=category)
    return await stores.add_store(db, merchant_id, details, ACTOR)


async def _campaign(
    db: asyncpg.Pool, category: str, target: str, merchants: list[tuple[uuid.UUID, uuid.UUID]]
) -> uuid.UUID:
    """An advertiser of `category` with a campaign whose line item targets venues of category
    `target` at these merchants, each of which approves it (merchant, owner)."""
    async with db.acquire() as conn:
        advertiser_id = await advertisers.create_advertiser(
            conn, f"{category} brand {uuid.uuid4().hex[:6]}", category=category
        )
    now = datetime.now(UTC)
    fields = advertisers.CampaignFields(
        f"{category} days",
        category,
        now - timedelta(days=1),
        now + timedelta(days=1),
        "active",
        Decimal(0),
    )
    campaign_id = await advertisers.create_campaign(db, advertiser_id, fields)
    form = MultiDict(
        line_item(starts_at=fields.starts_at.isoformat(), ends_at=fields.ends_at.isoformat())
    )
    form.popall("target_merchants")
    for merchant_id, _owner_id in merchants:
        form.add("target_merchants", str(merchant_id))
    form.add("target_categories", target)
    membership = advertisers.AdvertiserMembership(advertiser_id, "Brand", None, "admin")
    item = advertisers.line_item_fields(form, ZoneInfo("Asia/Shanghai"), fields)
    await advertisers.save_line_item(db, membership, campaign_id, item, actor=ACTOR)
    texts = {"headline_zh": category, "headline_en": category, "body_zh": "", "body_en": ""}
    creative = advertisers.creative_fields({**texts, "landing_url": "", "countdown_seconds": ""})
    await advertisers.add_creative(db, advertiser_id, campaign_id, creative, png(), "ad.png")
    for merchant_id, owner in merchants:
        await advertisers.decide(db, merchant_id, campaign_id, "approved", "", owner)
    return campaign_id


async def _shown(db: asyncpg.Pool, merchant_id: uuid.UUID, store_id: uuid.UUID) -> uuid.UUID | None:
    ad = await ads.choose_ad(db, merchant_id, "en", store_id=store_id)
    return ad.campaign_id if ad else None


async def test_targeting_and_blocks_use_the_stores_category(db: asyncpg.Pool) -> None:
    fashion_house = await _owner(db, "fashion")  # its merchant category: fashion
    merchant_id, owner = fashion_house
    cafe = await _store(db, merchant_id, "food")  # its café
    boutique = await _store(db, merchant_id, "fashion")
    unset = await _store(db, merchant_id, "other")  # no category chosen: the merchant's
    coffee = await _campaign(db, "food", "food", [fashion_house])
    dresses = await _campaign(db, "fashion", "fashion", [fashion_house])
    ads.delivery.decider.clear()

    assert await _shown(db, merchant_id, cafe) == coffee
    assert await _shown(db, merchant_id, boutique) == dresses
    assert await _shown(db, merchant_id, unset) == dresses

    # The merchant blocks food: gone from its café, and the boutique's campaign runs on.
    await advertisers.add_block(
        db, merchant_id, advertiser_id=None, category="food", created_by=owner
    )
    assert await _shown(db, merchant_id, cafe) is None
    assert await _shown(db, merchant_id, boutique) == dresses


async def test_a_store_without_a_category_takes_its_merchants(db: asyncpg.Pool) -> None:
    tea_house = await _owner(db, "food")
    merchant_id, _owner_id = tea_house
    unset = await _store(db, merchant_id, "other")
    boutique = await _store(db, merchant_id, "fashion")
    coffee = await _campaign(db, "food", "food", [tea_house])
    ads.delivery.decider.clear()

    assert await _shown(db, merchant_id, unset) == coffee
    assert await _shown(db, merchant_id, boutique) is None
    # A store the merchant does not have is the merchant's venue (as choose_ad without one).
    assert await _shown(db, merchant_id, uuid.uuid4()) == coffee
