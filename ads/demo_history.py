"""A past campaign with enough shoppers for its report to show numbers (the demo: with
`make run`'s few simulated shoppers every cell would read "fewer than 50"). Written once,
when portico/demo.py makes the demo advertiser: "Winter warmers", which ran at the demo mall
from 30 to 3 days ago with a 20 % holdout, approved there, with its coupon; 600 exposed and
about 150 held-out shoppers (pseudonyms of the demo's own, `demo-history-…`), their
impressions, clicks, claims, redemptions and return visits (portal logins, recorded through
analytics.services), drawn with a fixed seed so every demo shows the same report.
"""

from __future__ import annotations

import hashlib
import random
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import asyncpg

from accounts import audit
from ads import advertisers
from ads import services as ad_services
from analytics import services as analytics
from kernel.sql import load_queries

queries = load_queries(__file__, "demo_history.sql")

NAME = "Winter warmers (ended)"
SHOPPERS = 750
HOLDOUT = Decimal("0.2")
# Chances per shopper: exposed, then held out (the coupon is offered only with the ad, so
# the holdout claims none; it comes back less often).
CLICK = 0.09
CLAIM = (0.24, 0.0)
REDEEM_OF_CLAIMS = 0.55
RETURN = (0.34, 0.22)


def _pseudonym(n: int) -> str:
    return hashlib.sha256(f"demo-history-{n}".encode()).hexdigest()[:32]


async def seed(
    db: asyncpg.Pool,
    merchant_id: uuid.UUID,
    store_id: uuid.UUID,
    advertiser_id: uuid.UUID,
    owner_user_id: uuid.UUID,
    image: bytes,
    now: datetime | None = None,
) -> uuid.UUID:
    """The campaign and its history; its id."""
    now = now or datetime.now(UTC)
    start, end = now - timedelta(days=30), now - timedelta(days=3)
    fields = advertisers.CampaignFields(NAME, "food", start, end, "ended", HOLDOUT)
    campaign_id = await advertisers.create_campaign(db, advertiser_id, fields)
    form = {
        "name": "All day, Demo Mall",
        "tier": "performance",
        "pricing": "cpm",
        "bid": "20.00",
        "budget": "",
        "goal_impressions": "",
        "pacing": "even",
        "starts_at": start.isoformat(),
        "ends_at": end.isoformat(),
        "dayparts": "",
        "weight": "1",
        "status": "active",
        "target_merchants": str(merchant_id),
        "target_stores": "",
        "target_cities": "",
        "target_segments": "",
        "target_audience": "all",
    }
    fields_li = advertisers.line_item_fields(form, ZoneInfo("Asia/Shanghai"), fields)
    adv = advertisers.AdvertiserMembership(advertiser_id, "", None, "admin")
    line_item_id = await advertisers.save_line_item(
        db, adv, campaign_id, fields_li, actor=audit.Actor.system("demo seed")
    )
    texts = {
        "headline_zh": "翠玉茶馆：冬日暖饮第二杯半价",
        "headline_en": "Jade Tea House: winter warmers, second cup half price",
        "body_zh": "美食广场二楼。",
        "body_en": "Food court, 2nd floor.",
        "landing_url": "https://example.com/jade-tea",
        "countdown_seconds": "",
    }
    creative_id = await advertisers.add_creative(
        db, advertiser_id, campaign_id, advertisers.creative_fields(texts), image, "warm.png"
    )
    await advertisers.decide(db, merchant_id, campaign_id, "approved", "", owner_user_id)

    rng = random.Random(20261201)
    held = [rng.random() < float(HOLDOUT) for _ in range(SHOPPERS)]
    events: list[tuple[uuid.UUID, str, str, datetime]] = []
    claims: list[tuple[str, datetime]] = []
    returns: list[tuple[str, datetime]] = []
    span = (end - start).total_seconds() - 86400 * 8  # first seen early enough to come back
    for n in range(SHOPPERS):
        me = _pseudonym(n)
        first = start + timedelta(seconds=rng.random() * span)
        g = 1 if held[n] else 0
        if held[n]:
            events.append((uuid.uuid4(), "ghost", me, first))
        else:
            for k in range(rng.choice((1, 1, 2, 2, 3, 4))):
                later = first + timedelta(days=k * rng.random() * 2)
                events.append((uuid.uuid4(), "impression", me, later))
            if rng.random() < CLICK:
                events.append((uuid.uuid4(), "click", me, first + timedelta(seconds=20)))
        if rng.random() < CLAIM[g]:
            claims.append((me, first + timedelta(minutes=2)))
        if rng.random() < RETURN[g]:
            returns.append((me, first + timedelta(days=1 + rng.random() * 5)))
    await db.execute(
        queries.insert_events,
        merchant_id,
        store_id,
        advertiser_id,
        campaign_id,
        line_item_id,
        creative_id,
        *([e[i] for e in events] for i in range(4)),
    )
    async with db.acquire() as conn:
        coupon_id = await ad_services.add_coupon(
            conn,
            merchant_id,
            advertiser_id,
            campaign_id,
            ad_services.CouponSpec(
                "Second cup half price", "第二杯半价", now + timedelta(days=30), len(claims)
            ),
        )
    claimed = await db.fetch(
        queries.claim_codes,
        merchant_id,
        coupon_id,
        [c[0] for c in claims],
        [c[1] for c in claims],
    )
    await db.execute(queries.count_claims, merchant_id, coupon_id, len(claimed))
    at = dict(claims)
    redeemed = [r for r in claimed if rng.random() < REDEEM_OF_CLAIMS]
    await db.execute(
        queries.redeem_codes,
        merchant_id,
        coupon_id,
        [r["code"] for r in redeemed],
        [at[r["claimed_by"]] + timedelta(days=rng.random() * 4) for r in redeemed],
        store_id,
        owner_user_id,
    )
    for me, back in returns:
        await analytics.record_event(
            db, merchant_id, "login", store_id=store_id, device_hash=me, occurred_at=back
        )
    return campaign_id
