"""The advertiser console (ads/advertiser_pages.py) and the merchant's approval queue
(ads/approvals_page.py): an advertiser's member runs campaigns and sees nothing of any other
tenant; a targeted merchant approves, rejects or blocks; the splash shows only what is approved
and not blocked (ads.services.choose_ad)."""

from __future__ import annotations

import html
import io
import random
import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import aiohttp
import asyncpg
from aiohttp.test_utils import TestClient
from multidict import MultiDict
from PIL import Image

from accounts import audit
from accounts import services as accounts
from ads import advertisers
from ads import services as ads
from tests.console.test_console_app import PASSWORD, Member, csrf_token, new_member, sign_in

EN = {"Accept-Language": "en"}
ZH = {"Accept-Language": "zh-CN"}
CAMPAIGN_URL = re.compile(r"/advertiser/campaigns/([0-9a-f-]{36})")


def png(width: int = 64, height: int = 32) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (10, 120, 90)).save(out, "PNG")
    return out.getvalue()


async def new_advertiser(
    db: asyncpg.Pool, role: str = "admin", merchant_id: uuid.UUID | None = None
) -> tuple[uuid.UUID, str]:
    email = f"adv-{uuid.uuid4().hex}@example.com"
    user_id = await accounts.create_user(db, email, "Ad Person", PASSWORD)
    async with db.acquire() as conn:
        advertiser_id = await advertisers.create_advertiser(
            conn, f"Tea Co {uuid.uuid4().hex[:6]}", category="food", merchant_id=merchant_id
        )
        await advertisers.add_member(conn, advertiser_id, user_id, role)
    return advertiser_id, email


CAMPAIGN = {
    "name": "Spring tea",
    "category": "food",
    "status": "active",
    "starts_at": "2026-01-01T00:00",
    "ends_at": "2036-01-01T00:00",
    "holdout_percent": "10",
}


def line_item(merchant_id: uuid.UUID | str = "", **more: str) -> dict[str, str]:
    return {
        "name": "Lunch",
        "tier": "performance",
        "pricing": "cpm",
        "bid": "12.50",
        "budget": "1000",
        "goal_impressions": "",
        "pacing": "even",
        "starts_at": "2026-01-01T00:00",
        "ends_at": "2036-01-01T00:00",
        "dayparts": "",
        "weight": "1",
        "status": "active",
        "target_merchants": str(merchant_id),
        "target_stores": "",
        "target_cities": "",
        "target_segments": "",
        "target_audience": "all",
        **more,
    }


async def form_base(client: TestClient, advertiser_id: uuid.UUID) -> dict[str, str]:
    page = await client.get(f"/advertiser?advertiser={advertiser_id}", headers=EN)
    return {"csrf_token": csrf_token(await page.text()), "advertiser": str(advertiser_id)}


async def make_campaign(client: TestClient, base: dict[str, str]) -> uuid.UUID:
    made = await client.post(
        "/advertiser/campaigns", data={**base, **CAMPAIGN}, allow_redirects=False
    )
    assert made.status == 303, await made.text()
    found = CAMPAIGN_URL.search(made.headers["Location"])
    assert found is not None
    return uuid.UUID(found.group(1))


def upload(base: dict[str, str], data: bytes, filename: str, **fields: str) -> aiohttp.FormData:
    form = aiohttp.FormData()
    values = {
        **base,
        "headline_zh": "春茶上新",
        "headline_en": "Spring tea is here",
        "body_zh": "",
        "body_en": "",
        "landing_url": "https://tea.example/spring",
        "countdown_seconds": "",
        **fields,
    }
    for key, value in values.items():
        form.add_field(key, value)
    form.add_field("file", data, filename=filename, content_type="application/octet-stream")
    return form


async def test_an_advertiser_runs_a_campaign_and_the_merchant_approves_it(
    client: TestClient, db: asyncpg.Pool, member: Member
) -> None:
    advertiser_id, email = await new_advertiser(db)
    signed = await sign_in(client, email, headers=EN)
    assert signed.status == 303
    home = await client.get("/dashboard", allow_redirects=False)
    assert home.status == 303 and home.headers["Location"] == "/advertiser"
    base = await form_base(client, advertiser_id)

    # A wrong field answers with the page, the field named, and nothing saved.
    bad = await client.post(
        "/advertiser/campaigns",
        data={**base, **CAMPAIGN, "holdout_percent": "60"},
        headers=EN,
    )
    text = html.unescape(await bad.text())
    assert bad.status == 400 and "Please check “Holdout, % of shoppers”" in text
    backwards = await client.post(
        "/advertiser/campaigns",
        data={**base, **CAMPAIGN, "ends_at": "2025-01-01T00:00"},
        headers=ZH,
    )
    assert backwards.status == 400 and "请检查“结束（北京时间）”" in await backwards.text()
    assert await advertisers.list_campaigns(db, advertiser_id) == []

    campaign_id = await make_campaign(client, base)
    page = await client.get(f"/advertiser/campaigns/{campaign_id}?advertiser={advertiser_id}")
    assert page.status == 200 and "Spring tea" in html.unescape(await page.text())

    url = f"/advertiser/campaigns/{campaign_id}"
    outside = await client.post(
        url + "/line-items",
        data={**base, **line_item(member.merchant_id, ends_at="2040-01-01T00:00")},
        headers=EN,
    )
    assert outside.status == 400
    assert "inside its campaign's flight" in html.unescape(await outside.text())
    bad_dayparts = await client.post(
        url + "/line-items",
        data={**base, **line_item(member.merchant_id, dayparts="Someday 9-5")},
        headers=EN,
    )
    assert bad_dayparts.status == 400
    no_such_venue = await client.post(
        url + "/line-items", data={**base, **line_item(uuid.uuid4())}, headers=EN
    )
    assert no_such_venue.status == 400
    assert "“Merchants (venues)”" in html.unescape(await no_such_venue.text())
    segments = await client.post(
        url + "/line-items",
        data={**base, **line_item(member.merchant_id), "target_segments": "students"},
        headers=EN,
    )
    assert segments.status == 400  # nothing puts shoppers in segments yet: it would never show
    assert "Segments cannot be targeted yet" in html.unescape(await segments.text())
    assert await advertisers.list_line_items(db, advertiser_id, campaign_id) == []

    saved = await client.post(
        url + "/line-items",
        data={**base, **line_item(member.merchant_id, dayparts="Mon-Sun 0-24")},
        allow_redirects=False,
    )
    assert saved.status == 303
    (item,) = await advertisers.list_line_items(db, advertiser_id, campaign_id)
    assert (item["bid_fen"], item["budget_fen"], len(item["dayparts"])) == (1250, 100_000, 168)

    # Uploads: a script-carrying SVG and a javascript: landing page are refused, nothing kept.
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    refused = await client.post(url + "/creatives", data=upload(base, svg, "a.svg"), headers=EN)
    assert refused.status == 415  # ads/creative_files.py: an unsupported type, by its content
    assert "This is a SVG file, which is not accepted" in html.unescape(await refused.text())
    script_url = await client.post(
        url + "/creatives",
        data=upload(base, png(), "a.png", landing_url="javascript:alert(1)"),
        headers=EN,
    )
    assert script_url.status == 400 and "Landing page" in html.unescape(await script_url.text())
    assert await advertisers.list_creatives(db, advertiser_id, campaign_id) == []
    assert (
        await db.fetchval(
            "SELECT count(*) FROM creative_files WHERE advertiser_id = $1", advertiser_id
        )
        == 0
    )
    uploaded = await client.post(
        url + "/creatives", data=upload(base, png(), "tea.png"), allow_redirects=False
    )
    assert uploaded.status == 303
    (creative,) = await advertisers.list_creatives(db, advertiser_id, campaign_id)
    preview = await client.get(f"/advertiser/files/{creative['file_id']}")
    assert preview.status == 200 and preview.headers["X-Content-Type-Options"] == "nosniff"

    capped = await client.post(
        url + "/caps",
        data={
            **base,
            "scope": "campaign",
            "scope_id": "",
            "max_count": "3",
            "period": "day",
            "window_hours": "",
        },
        allow_redirects=False,
    )
    assert capped.status == 303
    (cap,) = await advertisers.list_caps(db, advertiser_id)
    assert (cap["scope_id"], cap["max_count"], cap["period"]) == (campaign_id, 3, "day")

    # Pending at the merchant: not shown until approved.
    ads.delivery.decider.clear()
    assert await ads.choose_ad(db, member.merchant_id, "en", store_id=member.store_id) is None
    client.session.cookie_jar.clear()
    assert (await sign_in(client, member.email, headers=EN)).status == 303
    queue = await client.get(f"/approvals?merchant={member.merchant_id}", headers=EN)
    text = html.unescape(await queue.text())
    assert queue.status == 200 and "Spring tea" in text and "Pending" in text
    decide = {"csrf_token": csrf_token(text), "merchant": str(member.merchant_id)}
    no_reason = await client.post(
        f"/approvals/{campaign_id}",
        data={**decide, "decision": "rejected", "reason": " "},
        headers=EN,
    )
    assert no_reason.status == 400 and "“Reason”" in html.unescape(await no_reason.text())
    approved = await client.post(
        f"/approvals/{campaign_id}",
        data={**decide, "decision": "approved", "reason": ""},
        allow_redirects=False,
    )
    assert approved.status == 303
    ad = await ads.choose_ad(db, member.merchant_id, "zh-CN", store_id=member.store_id)
    assert ad is not None and ad.headline == "春茶上新" and ad.campaign_id == campaign_id
    image = await ads.creative_image(db, member.merchant_id, ad.creative_id)
    assert image is not None and image[0] == "image/png"

    # A category block hides it again and shows in the list; unblocking brings it back.
    blocked = await client.post(
        "/approvals/blocks",
        data={**decide, "advertiser": "", "category": "food"},
        allow_redirects=False,
    )
    assert blocked.status == 303
    assert await ads.choose_ad(db, member.merchant_id, "en", store_id=member.store_id) is None
    (block,) = await advertisers.list_blocks(db, member.merchant_id)
    unblocked = await client.post(
        f"/approvals/blocks/{block['block_id']}/delete", data=decide, allow_redirects=False
    )
    assert unblocked.status == 303
    assert await ads.choose_ad(db, member.merchant_id, "en", store_id=member.store_id)


async def test_own_campaigns_are_approved_and_language_targeting_filters_the_splash(
    db: asyncpg.Pool, member: Member
) -> None:
    async with db.acquire() as conn:
        own = await ads.own_advertiser(conn, member.merchant_id, "Own")
    membership = advertisers.AdvertiserMembership(own, "Own", member.merchant_id, "admin")
    now = datetime.now(UTC)
    campaign = advertisers.CampaignFields(
        "Own", "food", now - timedelta(days=1), now + timedelta(days=1), "active", Decimal("0.1")
    )
    campaign_id = await advertisers.create_campaign(db, own, campaign)
    form = MultiDict(
        line_item(
            member.merchant_id,
            starts_at=campaign.starts_at.isoformat(),
            ends_at=campaign.ends_at.isoformat(),
        )
    )
    form.add("target_languages", "zh-CN")
    fields = advertisers.line_item_fields(form, ZoneInfo("Asia/Shanghai"), campaign)
    await advertisers.save_line_item(
        db, membership, campaign_id, fields, actor=audit.Actor.system("test")
    )
    texts = {"headline_zh": "自家", "headline_en": "Own", "body_zh": "", "body_en": ""}
    await advertisers.add_creative(
        db,
        own,
        campaign_id,
        advertisers.creative_fields({**texts, "landing_url": "", "countdown_seconds": ""}),
        png(),
        "own.png",
    )
    status = await db.fetchval(
        "SELECT status FROM ad_approvals WHERE merchant_id = $1 AND campaign_id = $2",
        member.merchant_id,
        campaign_id,
    )
    assert status == "approved"  # the own merchant's: approved by construction
    ads.delivery.decider.clear()
    assert await ads.choose_ad(db, member.merchant_id, "zh-CN", store_id=member.store_id)
    assert await ads.choose_ad(db, member.merchant_id, "en", store_id=member.store_id) is None


async def test_members_see_only_their_own_tenant(
    client: TestClient, db: asyncpg.Pool, member: Member
) -> None:
    mine, my_email = await new_advertiser(db)
    theirs, their_email = await new_advertiser(db)
    await sign_in(client, their_email)
    their_campaign = await make_campaign(client, await form_base(client, theirs))
    client.session.cookie_jar.clear()

    await sign_in(client, my_email, headers=EN)
    base = await form_base(client, mine)
    url = f"/advertiser/campaigns/{their_campaign}"
    assert (await client.get(url)).status == 404
    assert (await client.get(f"{url}?advertiser={theirs}")).status == 404
    assert (await client.get(f"/advertiser?advertiser={theirs}")).status == 404
    for path, data in (
        (url, {**base, **CAMPAIGN}),
        (url + "/line-items", {**base, **line_item()}),
        (url + "/caps", {**base, "scope": "campaign", "max_count": "1", "period": "day"}),
        (url, {**base, **CAMPAIGN, "advertiser": str(theirs)}),
    ):
        answer = await client.post(path, data=data, allow_redirects=False)
        assert answer.status == 404, path
    assert (await advertisers.get_campaign(db, theirs, their_campaign)).name == "Spring tea"
    # Not a merchant member: the merchant pages are not there.
    assert (await client.get(f"/approvals?merchant={member.merchant_id}")).status == 404
    assert (await client.get("/till")).status == 404

    # A merchant owner is nobody on the advertiser pages, nor on another merchant's queue.
    client.session.cookie_jar.clear()
    await sign_in(client, member.email)
    assert (await client.get("/advertiser")).status == 404
    other = await new_member(db)
    assert (await client.get(f"/approvals?merchant={other.merchant_id}")).status == 404
    page = await client.get("/approvals")
    token = csrf_token(await page.text())
    decided = await client.post(
        f"/approvals/{their_campaign}",
        data={"csrf_token": token, "decision": "approved", "reason": ""},
    )
    assert decided.status == 404  # never asked here


async def test_viewers_and_staff_may_look_but_not_change(
    client: TestClient, db: asyncpg.Pool, member: Member
) -> None:
    advertiser_id, email = await new_advertiser(db, role="viewer")
    await sign_in(client, email)
    base = await form_base(client, advertiser_id)
    made = await client.post("/advertiser/campaigns", data={**base, **CAMPAIGN})
    assert made.status == 403
    assert await advertisers.list_campaigns(db, advertiser_id) == []

    client.session.cookie_jar.clear()
    staff_email = f"staff-{uuid.uuid4().hex}@example.com"
    staff = await accounts.create_user(db, staff_email, "Staff", PASSWORD)
    await accounts.add_membership(db, member.merchant_id, staff, "staff")
    await sign_in(client, staff_email)
    page = await client.get("/approvals")
    assert page.status == 200
    token = csrf_token(await page.text())
    blocked = await client.post(
        "/approvals/blocks", data={"csrf_token": token, "category": "food", "advertiser": ""}
    )
    assert blocked.status == 403
    assert await advertisers.list_blocks(db, member.merchant_id) == []


async def test_staff_use_the_till_only_for_their_stores(
    client: TestClient, db: asyncpg.Pool, member: Member
) -> None:
    other_store = await accounts.create_store(db, member.merchant_id, "Second floor")
    staff_email = f"staff-{uuid.uuid4().hex}@example.com"
    staff = await accounts.create_user(db, staff_email, "Staff", PASSWORD)
    await accounts.add_membership(db, member.merchant_id, staff, "staff")
    async with db.acquire() as conn:
        await accounts.set_member_stores(conn, member.merchant_id, staff, [other_store])
    await sign_in(client, staff_email)
    till = await client.get("/till")
    text = await till.text()
    assert till.status == 200 and "Second floor" in text and member.store_name not in text
    assert (await client.get(f"/till?store={member.store_id}")).status == 400
    assert [s.store_id for s in await accounts.visible_stores(db, member.merchant_id, staff)] == [
        other_store
    ]
    owner_view = await accounts.visible_stores(db, member.merchant_id, member.user_id)
    assert {s.store_id for s in owner_view} == {member.store_id, other_store}


async def test_staff_see_only_their_stores_on_the_dashboards(
    client: TestClient, db: asyncpg.Pool, member: Member
) -> None:
    other_store = await accounts.create_store(db, member.merchant_id, "Second floor")
    staff_email = f"staff-{uuid.uuid4().hex}@example.com"
    staff = await accounts.create_user(db, staff_email, "Staff", PASSWORD)
    await accounts.add_membership(db, member.merchant_id, staff, "staff")
    async with db.acquire() as conn:
        await accounts.set_member_stores(conn, member.merchant_id, staff, [other_store])
    await sign_in(client, staff_email)
    home = await client.get("/dashboard")
    text = await home.text()
    assert home.status == 200 and "Second floor" in text and member.store_name not in text
    assert (await client.get(f"/footfall?store={member.store_id}")).status == 404
    footfall = await client.get("/footfall")
    assert footfall.status == 200 and member.store_name not in await footfall.text()
    api = "/api/footfall/summary"
    assert (await client.get(f"{api}?store={member.store_id}")).status == 404
    assert (await client.get(f"{api}?store=all")).status == 404
    assert (await client.get(f"{api}?store={other_store}")).status == 200


def test_dayparts_read_and_write_back() -> None:
    hours = advertisers.parse_dayparts("Mon-Fri 11-14, Sat-Sun 10-22, 一 20-21")
    assert len(hours) == 5 * 3 + 2 * 12 + 1
    assert advertisers.parse_dayparts(advertisers.format_dayparts(hours)) == hours
    assert advertisers.format_dayparts(advertisers.parse_dayparts("Mon-Sun 0-24")) == (
        "Mon-Sun 0-24"
    )
    assert advertisers.parse_dayparts("") == []
    for bad in ("Fri-Mon 9-10", "Mon 14-11", "Mon 25", "Someday 9-10", "168", "Mon"):
        try:
            advertisers.parse_dayparts(bad)
        except (ValueError, KeyError):
            continue
        raise AssertionError(f"{bad!r} was accepted")


async def test_a_creative_moved_without_its_image_gets_a_file_again(
    client: TestClient, db: asyncpg.Pool, member: Member
) -> None:
    """Migration 0029 leaves old creatives paused without a file; an admin attaches one."""
    now = datetime.now(UTC)
    async with db.acquire() as conn:
        made = await ads.create_campaign(
            conn,
            member.merchant_id,
            advertiser="Own",
            name="Old",
            starts_at=now - timedelta(hours=1),
            ends_at=now + timedelta(days=1),
            headline_en="Old ad",
            headline_zh="旧广告",
            body_en="",
            body_zh="",
            image=png(),
        )
    await db.execute(  # as migration 0029 leaves it
        "UPDATE ad_creatives SET status = 'paused', file_id = NULL, thumbnail_file_id = NULL"
        " WHERE creative_id = $1",
        made.creative_id,
    )
    ads.delivery.decider.clear()
    assert await ads.choose_ad(db, member.merchant_id, "en") is None
    email = f"own-{uuid.uuid4().hex}@example.com"
    user_id = await accounts.create_user(db, email, "Own admin", PASSWORD)
    await advertisers.add_member(db, made.advertiser_id, user_id, "admin")
    await sign_in(client, email, headers=EN)
    base = await form_base(client, made.advertiser_id)
    url = f"/advertiser/campaigns/{made.campaign_id}"
    shown = await client.get(f"{url}?advertiser={made.advertiser_id}", headers=EN)
    page = html.unescape(await shown.text())
    assert "needs a new file" in page
    attach = f"{url}/creatives/{made.creative_id}/file"

    def with_file(data: bytes, name: str) -> aiohttp.FormData:
        form = aiohttp.FormData(base)
        form.add_field("file", data, filename=name, content_type="image/png")
        return form

    refused = await client.post(attach, data=with_file(b"<svg/>", "x.svg"), headers=EN)
    assert refused.status == 415  # not an image we take, by its content
    other = f"{url}/creatives/{uuid.uuid4()}/file"
    assert (await client.post(other, data=with_file(png(), "x.png"))).status == 404
    done = await client.post(attach, data=with_file(png(), "new.png"), allow_redirects=False)
    assert done.status == 303
    again = await client.post(attach, data=with_file(png(), "new.png"), allow_redirects=False)
    assert again.status == 404  # it has a file now
    ads.delivery.decider.clear()
    ad = await ads.choose_ad(db, member.merchant_id, "en")
    assert ad is not None and ad.creative_id == made.creative_id


async def test_the_layout_shows_each_user_their_own_parts(
    client: TestClient, db: asyncpg.Pool, member: Member
) -> None:
    _advertiser_id, email = await new_advertiser(db)
    await sign_in(client, email, headers=EN)
    text = await (await client.get("/advertiser", headers=EN)).text()
    assert 'href="/advertiser"' in text and 'href="/till"' not in text
    assert "Advertiser console" in text
    client.session.cookie_jar.clear()
    await sign_in(client, member.email, headers=EN)
    text = await (await client.get("/dashboard", headers=EN)).text()
    assert 'href="/till"' in text and 'href="/approvals"' in text
    assert 'href="/advertiser"' not in text


async def test_only_the_upload_routes_take_bodies_over_a_forms_size(
    client: TestClient, db: asyncpg.Pool
) -> None:
    """accounts.web: a creative over 1 MiB is taken on the upload route; the same body posted to
    another form is refused unread (413), and a body without a length is refused (411)."""
    advertiser_id, email = await new_advertiser(db)
    await sign_in(client, email, headers=EN)
    base = await form_base(client, advertiser_id)
    campaign_id = await make_campaign(client, base)
    url = f"/advertiser/campaigns/{campaign_id}"
    noise = io.BytesIO()
    Image.frombytes("RGB", (700, 700), random.Random(3).randbytes(700 * 700 * 3)).save(noise, "PNG")
    big = noise.getvalue()
    assert len(big) > 1024 * 1024
    taken = await client.post(
        url + "/creatives",
        data=upload(base, io.BytesIO(big), "noise.png"),  # type: ignore[arg-type]
        allow_redirects=False,
    )
    assert taken.status == 303, await taken.text()
    refused = await client.post(
        url + "/caps",
        data=upload(base, io.BytesIO(big), "noise.png"),  # type: ignore[arg-type]
        headers=EN,
    )
    assert refused.status == 413
    assert "too much to send at once" in await refused.text()

    async def chunks() -> AsyncIterator[bytes]:
        yield b"csrf_token=" + base["csrf_token"].encode()

    unsized = await client.post(
        url + "/caps",
        data=chunks(),
        headers={**EN, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert unsized.status == 411
    assert "without its length" in await unsized.text()
