"""The ad's counters and tracking against the real database: placement at login, impressions by
the signed file fetch (videos after their countdown), clicks through the signed redirect,
idempotent event ids, refusals counted, goals never overshot, ghosts of the holdout."""

from __future__ import annotations

import asyncio
import base64
import time
import uuid
from datetime import UTC, datetime

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

import ads.services as ads
from ads import delivery, tracking
from kernel.config import Settings
from tests.ads.ad_rows import AdRows

BROWSER = {"User-Agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Safari/604.1"}


@pytest.fixture(autouse=True)
def fresh_index() -> None:
    delivery.decider.clear()  # each test's rows, not the last test's index


async def place(
    db: asyncpg.Pool, settings: Settings, merchant_id: uuid.UUID, store_id: uuid.UUID, who: str
) -> ads.PlacedAd | None:
    return await ads.place_ad(db, settings.secret_key, merchant_id, store_id, who, "en")


def older(settings: Settings, token: str, seconds: float) -> str:
    """The same placement, issued `seconds` earlier (the page has been open that long)."""
    p = tracking.decode(settings.secret_key, token)
    assert p is not None
    return tracking.encode(settings.secret_key, p._replace(issued_at=p.issued_at - seconds))


async def impressions(db: asyncpg.Pool, merchant_id: uuid.UUID, kind: str = "impression") -> int:
    return await db.fetchval(
        "SELECT count(*) FROM ad_events WHERE merchant_id = $1 AND kind = $2", merchant_id, kind
    )


def test_tokens_check_their_signature() -> None:
    p = tracking.Placement(*(uuid.uuid4() for _ in range(7)), issued_at=time.time(), identity="d")
    token = tracking.encode("k" * 40, p)
    assert tracking.decode("k" * 40, token) == p
    assert tracking.decode("j" * 40, token) is None
    assert tracking.decode("k" * 40, token[:-2] + ("AA" if token[-2:] != "AA" else "BB")) is None
    assert tracking.decode("k" * 40, token[:40]) is None
    assert tracking.decode("k" * 40, "") is None
    assert tracking.decode("k" * 40, "%%%") is None
    assert tracking.decode("k" * 40, "A" * 5000) is None


def test_refusals() -> None:
    now = time.time()
    p = tracking.Placement(*(uuid.uuid4() for _ in range(7)), issued_at=now, identity="d")
    ua = BROWSER["User-Agent"]
    assert tracking.refusal(None, ua, now, kind="impression") == "unsigned"
    assert tracking.refusal(p, "", now, kind="impression") == "bot"
    assert tracking.refusal(p, "Googlebot/2.1", now, kind="impression") == "bot"
    assert tracking.refusal(p, "curl/8.0", now, kind="click") == "bot"
    assert tracking.refusal(p, ua, now, kind="impression") is None
    assert tracking.refusal(p, ua, now + 0.1, kind="click") == "too_fast"
    assert tracking.refusal(p, ua, now + 3, kind="click") is None
    assert tracking.refusal(p, ua, now + 1, kind="impression", countdown_seconds=15) == "too_fast"
    assert tracking.refusal(p, ua, now + 15, kind="impression", countdown_seconds=15) is None
    assert tracking.refusal(p, ua, now - 60, kind="impression") == "too_fast"  # before issue
    assert tracking.refusal(p, ua, now + 7 * 3600, kind="impression") == "expired"


async def test_a_view_under_a_phone_identity_links_its_device(
    db: asyncpg.Pool, settings: Settings
) -> None:
    """The reports count a phone identity's results on the devices it was seen on."""
    rows = AdRows(db)
    merchant_id, store_id = await rows.merchant()
    await rows.line_item(merchant_id, tier="sponsorship")
    key = settings.secret_key
    for identity, device in (("phone-1", "device-1"), ("phone-1", "device-1"), ("d-2", "d-2")):
        placed = await ads.place_ad(db, key, merchant_id, store_id, identity, "en", device=device)
        assert placed is not None
    links = await db.fetch(
        "SELECT identity, device FROM ad_identity_devices WHERE merchant_id = $1", merchant_id
    )
    assert [tuple(r) for r in links] == [("phone-1", "device-1")]  # a device's own: no link


async def test_an_image_fetch_with_its_token_is_one_impression(
    db: asyncpg.Pool, settings: Settings, portal_client: TestClient
) -> None:
    rows = AdRows(db)
    merchant_id, store_id = await rows.merchant()
    made = await rows.line_item(merchant_id, tier="sponsorship")
    placed = await place(db, settings, merchant_id, store_id, "device-1")
    assert placed is not None and placed.ad.creative_id == made.creative_id
    assert placed.ad.headline == "Tea for you"

    response = await portal_client.get(f"/ad/show/{placed.token}", headers=BROWSER)
    assert response.status == 200
    assert response.headers["Content-Type"] == "image/png"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert (await portal_client.get(f"/ad/show/{placed.token}", headers=BROWSER)).status == 200
    assert await impressions(db, merchant_id) == 1  # the second fetch: the same event id
    # a robot's fetch is served, not counted
    bot = {"User-Agent": "facebookexternalhit/1.1"}
    other = await place(db, settings, merchant_id, store_id, "device-2")
    assert other is not None
    assert (await portal_client.get(f"/ad/show/{other.token}", headers=bot)).status == 200
    assert await impressions(db, merchant_id) == 1
    # a token that does not check: nothing served, nothing counted
    forged = other.token[:-3] + ("abc" if not other.token.endswith("abc") else "xyz")
    assert (await portal_client.get(f"/ad/show/{forged}", headers=BROWSER)).status == 404
    assert await delivery.refusals(db, merchant_id) == {"duplicate": 1, "bot": 1}
    totals = await db.fetchrow(
        "SELECT impressions FROM ad_line_item_totals WHERE line_item_id = $1", made.line_item_id
    )
    assert totals["impressions"] == 1


async def test_a_video_counts_only_after_its_countdown(
    db: asyncpg.Pool, settings: Settings, portal_client: TestClient
) -> None:
    rows = AdRows(db)
    merchant_id, store_id = await rows.merchant()
    await rows.line_item(merchant_id, kind="video")
    placed = await place(db, settings, merchant_id, store_id, "device-1")
    assert placed is not None and placed.kind == "video" and placed.countdown_seconds == 5
    whole = await portal_client.get(f"/ad/show/{placed.token}", headers=BROWSER)
    assert whole.status == 200 and whole.headers["Accept-Ranges"] == "bytes"
    size = len(await whole.read())
    # phones' players fetch videos in byte ranges
    part = await portal_client.get(
        f"/ad/show/{placed.token}", headers={**BROWSER, "Range": "bytes=2-5"}
    )
    assert part.status == 206 and part.headers["Content-Range"] == f"bytes 2-5/{size}"
    assert len(await part.read()) == 4
    tail = await portal_client.get(
        f"/ad/show/{placed.token}", headers={**BROWSER, "Range": "bytes=-3"}
    )
    assert tail.status == 206 and len(await tail.read()) == 3
    past = await portal_client.get(
        f"/ad/show/{placed.token}", headers={**BROWSER, "Range": f"bytes={size}-"}
    )
    assert past.status == 416
    assert await impressions(db, merchant_id) == 0  # the file alone is not the impression
    seen = await portal_client.get(f"/ad/seen/{placed.token}", headers=BROWSER)
    assert seen.status == 200 and seen.headers["Content-Type"] == "image/gif"
    assert await impressions(db, merchant_id) == 0  # too soon: the countdown has not run
    later = older(settings, placed.token, 6)
    assert (await portal_client.get(f"/ad/seen/{later}", headers=BROWSER)).status == 200
    assert await impressions(db, merchant_id) == 1
    assert (await delivery.refusals(db, merchant_id)) == {"too_fast": 1}
    js = await portal_client.get("/ad/countdown.js")
    assert js.status == 200 and "data-seen" in await js.text()


async def test_clicks_redirect_to_the_landing_url_once_counted(
    db: asyncpg.Pool, settings: Settings, portal_client: TestClient
) -> None:
    rows = AdRows(db)
    merchant_id, store_id = await rows.merchant()
    made = await rows.line_item(merchant_id, tier="performance", pricing="cpc", bid_fen=30)
    placed = await place(db, settings, merchant_id, store_id, "device-1")
    assert placed is not None and placed.has_landing
    token = older(settings, placed.token, 3)
    for _ in range(2):
        response = await portal_client.get(
            f"/ad/go/{token}", headers=BROWSER, allow_redirects=False
        )
        assert response.status == 302
        assert response.headers["Location"] == "https://example.com/offer?a=1"
    assert await impressions(db, merchant_id, "click") == 1
    totals = await db.fetchrow(
        "SELECT clicks, spend_millifen FROM ad_line_item_totals WHERE line_item_id = $1",
        made.line_item_id,
    )
    assert (totals["clicks"], totals["spend_millifen"]) == (1, 30_000)
    # no redirect without a valid token, whatever the URL says
    evil = await portal_client.get(
        f"/ad/go/{token}x?url=https://evil.example", headers=BROWSER, allow_redirects=False
    )
    assert evil.status == 404 and "Location" not in evil.headers
    # a click within half a second of the page: redirected, not counted
    fresh = await place(db, settings, merchant_id, store_id, "device-2")
    assert fresh is not None
    quick = await portal_client.get(f"/ad/go/{fresh.token}", headers=BROWSER, allow_redirects=False)
    assert quick.status == 302
    assert await impressions(db, merchant_id, "click") == 1


async def test_the_same_event_id_twice_in_one_batch_counts_once(db: asyncpg.Pool) -> None:
    rows = AdRows(db)
    merchant_id, store_id = await rows.merchant()
    made = await rows.line_item(merchant_id)
    snapshot = await delivery.load_snapshot(db, datetime.now(UTC))
    e = delivery.Event(
        uuid.uuid4(),
        "impression",
        merchant_id,
        "d",
        store_id,
        made.advertiser_id,
        made.campaign_id,
        made.line_item_id,
        made.creative_id,
        datetime.now(UTC),
    )
    assert await delivery.record_events(db, [e, e], snapshot) == ["counted", "duplicate"]
    assert await delivery.record_events(db, [e], snapshot) == ["duplicate"]
    assert await impressions(db, merchant_id) == 1


async def test_a_goal_is_never_overshot_under_concurrency(db: asyncpg.Pool) -> None:
    rows = AdRows(db)
    merchant_id, store_id = await rows.merchant()
    made = await rows.line_item(merchant_id, tier="guaranteed", goal=5)
    snapshot = await delivery.load_snapshot(db, datetime.now(UTC))

    def event(i: int) -> delivery.Event:
        return delivery.Event(
            uuid.uuid4(),
            "impression",
            merchant_id,
            f"shopper-{i}",
            store_id,
            made.advertiser_id,
            made.campaign_id,
            made.line_item_id,
            made.creative_id,
            datetime.now(UTC),
        )

    outcomes = await asyncio.gather(
        *(delivery.record_events(db, [event(i), event(100 + i)], snapshot) for i in range(20))
    )
    flat = [o for pair in outcomes for o in pair]
    assert flat.count("counted") == 5 and flat.count("goal_reached") == 35
    assert await impressions(db, merchant_id) == 5


async def test_the_holdout_sees_nothing_of_the_campaign_and_gets_a_ghost(
    db: asyncpg.Pool, settings: Settings
) -> None:
    rows = AdRows(db)
    merchant_id, store_id = await rows.merchant()
    made = await rows.line_item(merchant_id, tier="sponsorship", holdout=0.5)
    shown = ghosts = 0
    for i in range(60):
        placed = await place(db, settings, merchant_id, store_id, f"shopper-{i}")
        held = delivery.d.in_holdout(f"shopper-{i}", made.campaign_id, 0.5)
        assert (placed is None) is held
        shown += placed is not None
        ghosts += held
    assert shown and ghosts
    await delivery.settled()  # ghosts are counted in the background
    assert await impressions(db, merchant_id, "ghost") == ghosts


async def test_the_decision_reads_the_identitys_caps(
    db: asyncpg.Pool, settings: Settings, portal_client: TestClient
) -> None:
    rows = AdRows(db)
    merchant_id, store_id = await rows.merchant()
    await rows.line_item(merchant_id, caps=[("line_item", 2, "window")])
    for _ in range(2):
        placed = await place(db, settings, merchant_id, store_id, "device-1")
        assert placed is not None
        shown = await portal_client.get(f"/ad/show/{placed.token}", headers=BROWSER)
        assert shown.status == 200
    assert await place(db, settings, merchant_id, store_id, "device-1") is None
    assert await place(db, settings, merchant_id, store_id, "device-2") is not None


async def test_a_batch_with_one_shoppers_impressions_stops_at_the_cap(db: asyncpg.Pool) -> None:
    rows = AdRows(db)
    merchant_id, store_id = await rows.merchant()
    made = await rows.line_item(merchant_id, caps=[("advertiser", 3, "day")])
    snapshot = await delivery.load_snapshot(db, datetime.now(UTC))
    events = [
        delivery.Event(
            uuid.uuid4(),
            kind,
            merchant_id,
            who,
            store_id,
            made.advertiser_id,
            made.campaign_id,
            made.line_item_id,
            made.creative_id,
            datetime.now(UTC),
        )
        for kind, who in [("impression", "a")] * 5 + [("ghost", "a"), ("impression", "b")]
    ]
    outcomes = await delivery.record_events(db, events, snapshot)
    assert outcomes == ["counted"] * 3 + ["capped"] * 2 + ["counted", "counted"]
    assert await delivery.refusals(db, merchant_id) == {"capped": 2}
    interval = await db.fetchrow(
        "SELECT sum(impressions) AS i, sum(ghosts) AS g FROM ad_delivery WHERE line_item_id = $1",
        made.line_item_id,
    )
    assert (interval["i"], interval["g"]) == (4, 1)


async def test_a_claim_from_the_ads_splash_is_its_line_items_action(
    db: asyncpg.Pool, settings: Settings
) -> None:
    rows = AdRows(db)
    merchant_id, store_id = await rows.merchant()
    made = await rows.line_item(merchant_id, tier="performance", pricing="cpa", bid_fen=200)
    coupon_id = uuid.uuid4()
    await db.execute(
        "INSERT INTO coupons (merchant_id, coupon_id, advertiser_id, campaign_id, title_en,"
        " title_zh, valid_until) VALUES ($1, $2, $3, $4, '5 off', '减 5 元', now() + '1 day')",
        merchant_id,
        coupon_id,
        made.advertiser_id,
        made.campaign_id,
    )
    placed = await place(db, settings, merchant_id, store_id, "device-1")
    assert placed is not None and placed.ad.coupon_id == coupon_id
    key = settings.secret_key
    # another venue's form, a forged token, another campaign's coupon: no action
    assert not await ads.count_claim_action(db, key, placed.token, uuid.uuid4(), coupon_id)
    forged = forge(placed.token)
    assert not await ads.count_claim_action(db, key, forged, merchant_id, coupon_id)
    assert not await ads.count_claim_action(db, key, placed.token, merchant_id, uuid.uuid4())
    for _ in range(2):  # one action per impression, however often it is sent
        assert await ads.count_claim_action(db, key, placed.token, merchant_id, coupon_id)
    await delivery.settled()
    assert await impressions(db, merchant_id, "action") == 1
    totals = await db.fetchrow(
        "SELECT actions, spend_millifen FROM ad_line_item_totals WHERE line_item_id = $1",
        made.line_item_id,
    )
    assert (totals["actions"], totals["spend_millifen"]) == (1, 200_000)


def test_byte_ranges() -> None:
    """The videos of /ad/show are served by ads.creative_files (its one Range reader)."""
    from aiohttp.test_utils import make_mocked_request

    from ads.creative_files import _wanted_range

    def wanted(header: str, size: int) -> tuple[int, int] | str | None:
        headers = {"Range": header} if header else {}
        return _wanted_range(make_mocked_request("GET", "/", headers=headers), '"e"', size)

    assert wanted("", 100) is None
    assert wanted("bytes=0-", 100) == (0, 99)
    assert wanted("bytes=10-19", 100) == (10, 19)
    assert wanted("bytes=90-500", 100) == (90, 99)
    assert wanted("bytes=-10", 100) == (90, 99)
    assert wanted("bytes=0-1,5-6", 100) is None  # several ranges: the whole file
    assert wanted("bytes=-", 100) is None
    assert wanted("items=0-1", 100) is None
    assert wanted("bytes=100-", 100) == "unsatisfiable"
    assert wanted("bytes=5-4", 100) is None  # invalid (RFC 9110 §14.1.1): ignored, whole file
    assert wanted("bytes=-0", 100) == "unsatisfiable"
    assert wanted("bytes=" + "9" * 40 + "-", 100) == "unsatisfiable"
    assert wanted("bytes=" + "9" * 5000 + "-", 100) == "unsatisfiable"  # no int() of it all
    assert wanted("bytes=-" + "9" * 5000, 100) == (0, 99)


def forge(token: str) -> str:
    """The token with one bit of its signature's last byte flipped (replacing its last base64
    characters could decode to the same byte: 1 run in 256 passed the forgery)."""
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    return base64.urlsafe_b64encode(raw[:-1] + bytes([raw[-1] ^ 1])).rstrip(b"=").decode()
