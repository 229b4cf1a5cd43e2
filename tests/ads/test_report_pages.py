"""The advertiser's campaign report page, its CSV and its JSON (ads/report_pages.py): viewers
may read it, another advertiser's campaign is a 404, bad dates are a clear 400, hidden cells
say why, and the CSV holds the aggregate table only."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
from aiohttp.test_utils import TestClient

from accounts import services as accounts
from ads import report_pages
from tests.ads.test_ad_reports import Seed, people
from tests.ads.test_advertiser_pages import EN, ZH, new_advertiser
from tests.console.test_console_app import PASSWORD, Member, sign_in


async def campaign_of(db: asyncpg.Pool, advertiser_id: uuid.UUID) -> Seed:
    from tests.ads.ad_rows import AdRows, Made

    rows = AdRows(db)
    merchant_id, _ = await rows.merchant()
    campaign_id = uuid.uuid4()
    now = datetime.now(UTC)
    await db.execute(
        "INSERT INTO ad_campaigns (advertiser_id, campaign_id, name, starts_at, ends_at,"
        " status, holdout_share) VALUES ($1, $2, 'Spring tea', $3, $4, 'active', 0.1)",
        advertiser_id,
        campaign_id,
        now - timedelta(days=3),
        now + timedelta(days=30),
    )
    made = Made(advertiser_id, campaign_id, uuid.uuid4(), uuid.uuid4())
    seed = Seed(db, merchant_id, made)
    await seed.coupon()
    return seed


async def test_a_viewer_reads_the_report_and_another_campaign_is_404(
    client: TestClient, db: asyncpg.Pool
) -> None:
    advertiser_id, email = await new_advertiser(db, role="viewer")
    seed = await campaign_of(db, advertiser_id)
    at = datetime.now(UTC) - timedelta(hours=1)
    seed.now = at
    await seed.events("impression", people("e", 120), at=at)
    await seed.events("click", people("e", 12), at=at)
    await seed.events("ghost", people("h", 60), at=at)
    await seed.claims(people("e", 30))
    await seed.claims(people("h", 3))
    await sign_in(client, email)
    url = f"/advertiser/campaigns/{seed.made.campaign_id}/report"

    page = await client.get(url, headers=EN)
    text = await page.text()
    assert page.status == 200, text
    assert "Spring tea" in text and "120" in text
    assert "fewer than 10" in text  # the holdout's 3 claims
    assert "not enough shoppers yet" in text  # so the claims' lift is not shown
    assert "e-0001" not in text
    zh = await (await client.get(url, headers=ZH)).text()
    assert "效果报告" in zh and "少于 10" in zh

    csv_text = await (await client.get(url + "?format=csv")).text()
    assert csv_text.splitlines()[0] == "table,key,impressions,reach,frequency,clicks,ctr"
    assert "total,,120,120,1.0,12,0.1" in csv_text
    assert "fewer_than_10" in csv_text and "e-00" not in csv_text

    api = await client.get(f"{report_pages.API}/campaigns/{seed.made.campaign_id}/report")
    body = await api.json()
    assert api.status == 200 and body["total"]["reach"] == 120
    assert body["holdout"]["claims"] is None
    assert body["suppressed"]["holdout.claims"] == "fewer_than_10"

    client.session.cookie_jar.clear()
    signed_out = await client.get(f"{report_pages.API}/campaigns/{seed.made.campaign_id}/report")
    assert signed_out.status == 401
    assert (await signed_out.json())["error"]["code"] == "not_signed_in"
    await sign_in(client, email)

    other_id, _ = await new_advertiser(db)
    other = await campaign_of(db, other_id)
    for path in (
        f"/advertiser/campaigns/{other.made.campaign_id}/report",
        f"{report_pages.API}/campaigns/{other.made.campaign_id}/report",
        "/advertiser/campaigns/not-a-uuid/report",
    ):
        assert (await client.get(path, headers=EN)).status == 404, path

    for query, words in (
        ("?first=2026-13-01", "Dates are like"),
        ("?first=2026-11-10&last=2026-11-01", "Check the dates"),
        ("?first=2020-01-01&last=2026-11-01", "Check the dates"),
        ("?window=0", "1 to 30 days"),
        ("?window=abc", "1 to 30 days"),
        ("?window=%D9%A5", "1 to 30 days"),
        ("?first=" + "9" * 500, "Dates are like"),
        ("?first=20261130", "Dates are like"),
    ):
        bad = await client.get(url + query, headers=EN)
        assert bad.status == (422 if "Check" in words else 400), query
        assert words in await bad.text(), query
        api_bad = await client.get(
            f"{report_pages.API}/campaigns/{seed.made.campaign_id}/report{query}", headers=EN
        )
        assert api_bad.status == bad.status, query
        assert words in (await api_bad.json())["error"]["message"], query


async def test_the_merchant_reads_what_ran_in_its_venues_only(
    client: TestClient, db: asyncpg.Pool, member: Member
) -> None:
    advertiser_id, _ = await new_advertiser(db)
    elsewhere = await campaign_of(db, advertiser_id)  # a campaign shown at another merchant
    here = Seed(db, member.merchant_id, elsewhere.made)  # and at the member's
    at = datetime.now(UTC) - timedelta(hours=1)
    here.now = elsewhere.now = at
    await here.events("impression", people("e", 70), at=at)
    await elsewhere.events("impression", people("x", 300), at=at)
    not_here_id, _ = await new_advertiser(db)
    not_here = await campaign_of(db, not_here_id)
    await not_here.events("impression", people("n", 60), at=at)

    await sign_in(client, member.email)
    listing = await client.get("/ad-reports", headers=EN)
    text = await listing.text()
    assert listing.status == 200 and "Spring tea" in text
    assert str(elsewhere.made.campaign_id) in text
    assert str(not_here.made.campaign_id) not in text
    assert "/ad-reports" in await (await client.get("/approvals", headers=EN)).text()

    url = f"/ad-reports/{advertiser_id}/{elsewhere.made.campaign_id}"
    page = await client.get(url, headers=ZH)
    text = await page.text()
    assert page.status == 200, text
    assert "70" in text and "300" not in text and "370" not in text  # its venues only
    csv_text = await (await client.get(url + "?format=csv")).text()
    assert "total,,70,70,1.0,0,0.0" in csv_text
    for path in (
        f"/ad-reports/{not_here_id}/{not_here.made.campaign_id}",  # ran elsewhere only
        f"/ad-reports/{not_here_id}/{elsewhere.made.campaign_id}",  # wrong advertiser
        "/ad-reports/x/y",
    ):
        assert (await client.get(path, headers=EN)).status == 404, path
    assert (await client.get(url + "?last=2026-01-01&first=2026-02-01")).status == 422

    staff_email = f"staff-{uuid.uuid4().hex}@example.com"
    staff_id = await accounts.create_user(db, staff_email, "Staff", PASSWORD)
    await accounts.add_membership(db, member.merchant_id, staff_id, "staff")
    client.session.cookie_jar.clear()
    await sign_in(client, staff_email)
    refused = await client.get(url, headers=EN)
    assert refused.status == 403
    assert "can read the ad reports" in await refused.text()
