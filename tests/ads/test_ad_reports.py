"""Campaign reports (ads/reports.py, docs/ad-reports.md) with known answers: seeded exposed
and holdout groups with chosen rates give those rates, the lift and its Newcombe interval;
cells about 49 shoppers (9 converters) are hidden and about 50 (10) shown; a hidden row is not
given away by the total less the rows shown; another advertiser's campaign is not found."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from ads import delivery, reports
from analytics import services as analytics
from tests.ads.ad_rows import AdRows, Made

NOW = datetime(2026, 11, 10, 4, 0, tzinfo=UTC)  # noon in Shanghai: the day is 2026-11-10
DAY = NOW.astimezone(reports.ZoneInfo("Asia/Shanghai")).date()


class Seed:
    def __init__(self, db: asyncpg.Pool, merchant_id: uuid.UUID, made: Made) -> None:
        self.db, self.merchant_id, self.made = db, merchant_id, made
        self.coupon_id = uuid.uuid4()
        self.codes = 0
        self.now = NOW  # when the shoppers first saw the ad (claims and returns follow)

    async def coupon(self, campaign_id: uuid.UUID | None = None) -> uuid.UUID:
        """The campaign's coupon (another campaign's with `campaign_id`); its id."""
        coupon_id = self.coupon_id if campaign_id is None else uuid.uuid4()
        await self.db.execute(
            "INSERT INTO coupons (merchant_id, coupon_id, campaign_id, advertiser_id, title_en,"
            " title_zh, valid_until) VALUES ($1, $2, $3, $4, 'Tea', '茶', $5)",
            self.merchant_id,
            coupon_id,
            campaign_id or self.made.campaign_id,
            self.made.advertiser_id,
            NOW + timedelta(days=60),
        )
        return coupon_id

    async def events(
        self,
        kind: str,
        identities: list[str],
        *,
        line_item: uuid.UUID | None = None,
        at: datetime = NOW,
        each: int = 1,
    ) -> None:
        rows = [
            (
                self.merchant_id,
                uuid.uuid4(),
                kind,
                ident,
                self.made.advertiser_id,
                self.made.campaign_id,
                line_item or self.made.line_item_id,
                self.made.creative_id,
                at + timedelta(minutes=k),
            )
            for ident in identities
            for k in range(each)
        ]
        await self.db.executemany(
            "INSERT INTO ad_events (merchant_id, event_id, kind, identity, advertiser_id,"
            " campaign_id, line_item_id, creative_id, occurred_at)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            rows,
        )

    async def claims(self, identities: list[str], *, redeem: bool = False) -> None:
        for ident in identities:
            await self.claim(
                ident,
                self.now + timedelta(minutes=30),
                self.now + timedelta(days=1) if redeem else None,
            )

    async def claim(
        self,
        ident: str,
        claimed_at: datetime,
        redeemed_at: datetime | None = None,
        *,
        rolled_back: bool = False,
        coupon_id: uuid.UUID | None = None,
    ) -> None:
        """One code claimed by `ident`, and redeemed at `redeemed_at` (then undone too)."""
        self.codes += 1
        code = f"T{self.codes:010d}"
        await self.db.execute(
            "INSERT INTO coupon_codes (merchant_id, code, coupon_id, state, claimed_by,"
            " claimed_at) VALUES ($1, $2, $3, $4, $5, $6)",
            self.merchant_id,
            code,
            coupon_id or self.coupon_id,
            "redeemed" if redeemed_at and not rolled_back else "claimed",
            ident,
            claimed_at,
        )
        if redeemed_at is None:
            return
        await self.db.execute(
            "INSERT INTO coupon_redemptions (merchant_id, redemption_id, code,"
            " coupon_id, store_id, device_hash, redeemed_by, redeemed_at, rolled_back_at,"
            " rolled_back_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            self.merchant_id,
            uuid.uuid4(),
            code,
            coupon_id or self.coupon_id,
            uuid.uuid4(),
            ident,
            uuid.uuid4(),
            redeemed_at,
            redeemed_at + timedelta(minutes=1) if rolled_back else None,
            uuid.uuid4() if rolled_back else None,
        )

    async def returns(self, identities: list[str], after: timedelta) -> None:
        for ident in identities:
            await analytics.record_event(
                self.db, self.merchant_id, "login", device_hash=ident, occurred_at=self.now + after
            )


async def seeded(db: asyncpg.Pool) -> Seed:
    rows = AdRows(db)
    merchant_id, _ = await rows.merchant()
    made = await rows.line_item(merchant_id, holdout=0.1)
    seed = Seed(db, merchant_id, made)
    await seed.coupon()
    return seed


def people(prefix: str, n: int) -> list[str]:
    return [f"{prefix}-{i:04d}" for i in range(n)]


async def report(seed: Seed, **more: object) -> reports.Report:
    return await reports.campaign_report(
        seed.db, seed.made.advertiser_id, seed.made.campaign_id, DAY, DAY, **more
    )


async def test_known_rates_give_the_lift_and_its_interval(db: asyncpg.Pool) -> None:
    seed = await seeded(db)
    exposed, holdout = people("e", 200), people("h", 100)
    await seed.events("impression", exposed, each=2)
    await seed.events("click", exposed[:40])
    await seed.events("ghost", holdout)
    # claims: 60 exposed (30 of them redeem), 10 holdout (none redeem)
    await seed.claims(exposed[:30], redeem=True)
    await seed.claims(exposed[30:60])
    await seed.claims(holdout[:10])
    # return visits: 50 exposed and 20 holdout two days on; 15 more exposed only 8 days on
    # (outside the 7-day window), and 15 within the hour (the same visit): not counted
    await seed.returns(exposed[100:150] + holdout[:20], timedelta(days=2))
    await seed.returns(exposed[150:165], timedelta(days=8))
    await seed.returns(exposed[165:180], timedelta(minutes=20))

    got = await report(seed)
    assert (got.total.impressions, got.total.reach, got.total.frequency) == (400, 200, 2.0)
    assert (got.total.clicks, got.total.ctr) == (40, 0.1)
    assert [(d.key, d.impressions) for d in got.days] == [(DAY, 400)]
    assert got.exposed == reports.Group(200, 60, 30, 50, 0.3, 0.15, 0.25)
    assert got.holdout == reports.Group(100, 10, 0, 20, 0.1, 0.0, 0.2)
    for name, x1, x0 in (("claims", 60, 10), ("redemptions", 30, 0), ("returns", 50, 20)):
        d, low, high = reports.newcombe(x1, 200, x0, 100)
        assert got.lift[name] == reports.Lift(True, round(d, 4), round(low, 4), round(high, 4))
    assert got.lift["claims"].difference == 0.2
    assert got.lift["returns"].difference == 0.05
    assert got.lift["returns"].low < 0 < got.lift["returns"].high  # not significant
    assert got.lift["claims"].low > 0

    # a 14-day window counts the late returners too
    wider = await report(seed, window_days=14)
    assert wider.exposed.returns == 65

    out = reports.as_json(got)
    assert out["lift"]["claims"]["difference"] == 0.2 and out["suppressed"] == {}
    assert "e-0001" not in repr(out)  # no shopper-level data


async def test_a_shopper_known_by_phone_counts_the_results_of_their_devices(
    db: asyncpg.Pool,
) -> None:
    """The decision counts a shopper by their phone identity; claims, redemptions and return
    visits are their devices'. Each identity was seen on its own device, and the holdout's on
    two (the second one claims): all of them count, each shopper once."""
    seed = await seeded(db)
    exposed, holdout = people("phone-e", 60), people("phone-h", 60)
    await seed.events("impression", exposed)
    await seed.events("ghost", holdout)
    for person in exposed + holdout:
        await delivery.note_device(db, seed.merchant_id, person, f"dev-{person}")
    for person in holdout:
        await delivery.note_device(db, seed.merchant_id, person, f"tab-{person}")
    await seed.claims([f"dev-{p}" for p in exposed[:50]], redeem=True)
    await seed.claims([f"tab-{p}" for p in holdout[:10]])
    await seed.returns([f"dev-{p}" for p in exposed[:55]], timedelta(days=2))
    await seed.returns([f"tab-{p}" for p in holdout[:30]] + [f"dev-{p}" for p in holdout[:30]],
                       timedelta(days=2))  # fmt: skip

    got = await report(seed)
    assert got.exposed == reports.Group(60, 50, 50, 55, 0.8333, 0.8333, 0.9167)
    assert got.holdout == reports.Group(60, 10, 0, 30, 0.1667, 0.0, 0.5)


async def test_only_the_campaigns_claims_and_redemptions_in_the_window_count(
    db: asyncpg.Pool,
) -> None:
    """From the shopper's moment (included) to the window's end (excluded), even past the
    range's last day; a redemption undone does not count, nor another campaign's coupon."""
    seed = await seeded(db)
    shoppers = people("w", 70)
    await seed.events("impression", shoppers)
    window = timedelta(days=reports.DEFAULT_WINDOW_DAYS)
    other = await seed.coupon(campaign_id=uuid.uuid4())
    groups = [shoppers[i : i + 10] for i in range(0, 70, 10)]
    cases = (  # (claimed, redeemed) after the moment, and how
        (timedelta(0), timedelta(minutes=1), {}),  # counts
        (window - timedelta(seconds=1), window - timedelta(seconds=1), {}),  # counts
        (timedelta(minutes=5), timedelta(hours=2), {"rolled_back": True}),  # the claim counts
        (-timedelta(minutes=1), timedelta(hours=1), {}),  # claimed before: the redemption
        (-timedelta(days=1), -timedelta(hours=1), {}),  # neither
        (window, window + timedelta(hours=1), {}),  # neither
        (timedelta(minutes=5), timedelta(hours=1), {"coupon_id": other}),  # neither
    )
    for group, (claimed, redeemed, how) in zip(groups, cases, strict=True):
        for ident in group:
            await seed.claim(ident, NOW + claimed, NOW + redeemed, **how)  # type: ignore[arg-type]

    got = await report(seed)
    assert (got.exposed.shoppers, got.exposed.claims, got.exposed.redemptions) == (70, 30, 30)


async def test_the_same_pseudonym_at_two_venues_is_two_shoppers(db: asyncpg.Pool) -> None:
    """Identities are per-merchant pseudonyms: the reach counts (merchant, identity) pairs."""
    seed = await seeded(db)
    other_merchant, _ = await AdRows(db).merchant()
    elsewhere = Seed(db, other_merchant, seed.made)
    await seed.events("impression", people("p", 50))
    await elsewhere.events("impression", people("p", 50), each=2)
    await elsewhere.events("click", people("p", 10))

    got = await report(seed)
    assert (got.total.impressions, got.total.reach, got.total.frequency) == (150, 100, 1.5)
    assert got.total.clicks == 10 and got.exposed.shoppers == 100
    mine = await report(seed, merchant_id=seed.merchant_id)
    assert (mine.total.reach, mine.total.clicks) == (50, 0)


async def test_49_shoppers_or_9_converters_are_hidden_50_and_10_shown(db: asyncpg.Pool) -> None:
    seed = await seeded(db)
    await seed.events("impression", people("e", 49))
    await seed.events("ghost", people("h", 50))
    await seed.claims(people("h", 9))
    got = await report(seed)
    assert got.total.reach == reports.FEWER_THAN_SHOPPERS
    assert got.total.impressions == reports.FEWER_THAN_SHOPPERS
    assert got.exposed.shoppers == reports.FEWER_THAN_SHOPPERS
    assert got.holdout.shoppers == 50
    assert got.holdout.claims == reports.FEWER_THAN_CONVERTERS
    assert got.holdout.claim_rate == reports.FEWER_THAN_CONVERTERS
    assert not any(lift.shown for lift in got.lift.values())

    await seed.events("impression", ["e-0049"])
    await seed.events("click", people("e", 9))
    await seed.claims(["h-0009"])
    got = await report(seed)
    assert (got.total.reach, got.total.impressions) == (50, 50)
    assert got.total.clicks == got.total.ctr == reports.FEWER_THAN_CONVERTERS
    assert got.holdout.claims == 10 and got.holdout.claim_rate == 0.2
    assert got.exposed.claims == 0  # zero is about no shopper: shown
    assert got.lift["claims"].shown and got.lift["claims"].difference == -0.2
    assert got.lift["redemptions"] == reports.Lift(
        True, 0.0, got.lift["redemptions"].low, got.lift["redemptions"].high
    )
    await seed.events("click", ["e-0009"])
    got = await report(seed)
    assert (got.total.clicks, got.total.ctr) == (10, 0.2)
    out = reports.as_json(got)
    assert out["total"]["clicks"] == 10


async def test_a_hidden_row_is_not_the_total_less_the_rows_shown(db: asyncpg.Pool) -> None:
    seed = await seeded(db)
    small, middle, large = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    await seed.events("impression", people("a", 49), line_item=small)
    await seed.events("impression", people("b", 60), line_item=middle)
    await seed.events("impression", people("c", 100), line_item=large)
    got = await report(seed)
    assert got.total.impressions == 209
    by_key = {r.key: r for r in got.line_items}
    assert by_key[small].impressions == reports.FEWER_THAN_SHOPPERS
    # the smallest shown row is hidden too: 209 − 100 is 49 + 60, not one row's figure
    assert by_key[middle].impressions == reports.FEWER_THAN_SHOPPERS
    assert by_key[middle].reach == reports.FEWER_THAN_SHOPPERS
    assert by_key[large].impressions == 100
    # the creative table (one creative) and the day table are the total: shown
    assert [r.impressions for r in got.creatives] == [209]

    # clicks on a day without impressions (seen the evening before, clicked after midnight):
    # that day's row is there, hidden, and so is the smallest other day's figure
    next_day = NOW + timedelta(days=1)
    await seed.events("click", people("c", 3), line_item=large, at=next_day)
    await seed.events("click", people("b", 12), line_item=middle)
    await seed.events("click", people("a", 40), line_item=small)
    two_days = await reports.campaign_report(
        db, seed.made.advertiser_id, seed.made.campaign_id, DAY, DAY + timedelta(days=1)
    )
    assert two_days.total.clicks == 55
    assert [(d.key, d.clicks) for d in two_days.days] == [
        (DAY, reports.FEWER_THAN_CONVERTERS),
        (DAY + timedelta(days=1), reports.FEWER_THAN_SHOPPERS),
    ]


async def test_another_advertisers_campaign_and_bad_ranges(db: asyncpg.Pool) -> None:
    seed = await seeded(db)
    other = await seeded(db)
    with pytest.raises(reports.CampaignUnknown):
        await reports.campaign_report(db, other.made.advertiser_id, seed.made.campaign_id, DAY, DAY)
    with pytest.raises(reports.ReportError):
        await report(seed, window_days=0)
    with pytest.raises(reports.ReportError):
        await reports.campaign_report(
            db, seed.made.advertiser_id, seed.made.campaign_id, DAY, DAY - timedelta(days=1)
        )
    # the merchant's view: only its venues' events
    await seed.events("impression", people("e", 60))
    mine = await report(seed, merchant_id=seed.merchant_id)
    assert mine.total.reach == 60
    elsewhere = await report(seed, merchant_id=other.merchant_id)
    assert elsewhere.total.reach == reports.FEWER_THAN_SHOPPERS
