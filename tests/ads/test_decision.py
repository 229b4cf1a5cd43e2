"""The ad decision's rules, one by one, on the pure engine (ads/decision.py)."""

from __future__ import annotations

import random
import uuid
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from ads import decision as d

NOW = datetime(2026, 12, 1, 4, 0, tzinfo=UTC)  # Tuesday 12:00 in Shanghai (hour of week 36)
MERCHANT = uuid.uuid4()
STORE = uuid.uuid4()


def campaign(**kw: object) -> d.Campaign:
    base = d.Campaign(
        uuid.uuid4(),
        uuid.uuid4(),
        NOW - timedelta(days=1),
        NOW + timedelta(days=1),
        holdout_share=0.0,
        own_merchant_id=MERCHANT,
    )
    return replace(base, **kw)  # type: ignore[arg-type]


def item(tier: str = "house", c: d.Campaign | None = None, **kw: object) -> d.LineItem:
    c = c or campaign()
    base = d.LineItem(uuid.uuid4(), c, (d.Creative(uuid.uuid4()),), tier=tier)
    return replace(base, **kw)  # type: ignore[arg-type]


def request(**kw: object) -> d.Request:
    base = d.Request(MERCHANT, STORE, "shopper-1", NOW, "zh-CN", "food", "Shanghai")
    return base._replace(**kw)  # type: ignore[arg-type]


def engine(*items: d.LineItem, seed: int = 1, **index_kw: object) -> d.Engine:
    return d.Engine(d.Index(tuple(items), **index_kw), random.Random(seed))  # type: ignore[arg-type]


def shown(e: d.Engine, r: d.Request | None = None) -> d.LineItem | None:
    return e.decide(r or request()).line_item


# -- eligibility -----------------------------------------------------------------------------------


def test_an_eligible_line_item_is_shown_with_its_creative() -> None:
    li = item()
    result = engine(li).decide(request())
    assert result.line_item == li and result.creative == li.creatives[0]


def test_flight_of_line_item_and_campaign() -> None:
    assert shown(engine(item(starts_at=NOW + timedelta(minutes=1)))) is None
    assert shown(engine(item(ends_at=NOW))) is None  # the end is not in the flight
    assert shown(engine(item(c=campaign(ends_at=NOW - timedelta(seconds=1))))) is None
    li = item(starts_at=NOW - timedelta(hours=2), ends_at=NOW + timedelta(hours=2))
    assert shown(engine(li)) == li


def test_paused_line_items_campaigns_and_items_without_creatives_never_run() -> None:
    assert shown(engine(item(status="paused"))) is None
    assert shown(engine(item(c=campaign(status="paused")))) is None
    assert shown(engine(item(creatives=()))) is None


def test_dayparts_are_hours_of_the_week_in_the_venues_local_time() -> None:
    # NOW is Tuesday 04:00 UTC = Tuesday 12:00 in Shanghai = hour 24 + 12 = 36
    assert shown(engine(item(dayparts=frozenset({36})))) is not None
    assert shown(engine(item(dayparts=frozenset({28})))) is None  # 04:00 UTC, the wrong zone
    in_london = request(timezone="Europe/London")
    assert shown(engine(item(dayparts=frozenset({28}))), in_london) is not None


def test_only_approved_or_own_campaigns_run_at_a_merchant() -> None:
    other = campaign(own_merchant_id=None)
    li = item(c=other)
    assert shown(engine(li)) is None
    assert shown(engine(li, approved={MERCHANT: frozenset({other.campaign_id})})) == li
    assert shown(engine(li, approved={uuid.uuid4(): frozenset({other.campaign_id})})) is None


def test_blocked_advertisers_and_categories_never_run() -> None:
    c = campaign(own_merchant_id=None, category="beauty", advertiser_category="fashion")
    li = item(c=c)
    approved = {MERCHANT: frozenset({c.campaign_id})}
    assert shown(engine(li, approved=approved)) == li
    by_adv = {MERCHANT: frozenset({c.advertiser_id})}
    assert shown(engine(li, approved=approved, blocked_advertisers=by_adv)) is None
    for category in ("beauty", "fashion"):
        by_cat = {MERCHANT: frozenset({category})}
        assert shown(engine(li, approved=approved, blocked_categories=by_cat)) is None


@pytest.mark.parametrize(
    ("targeting", "matches"),
    [
        ({"target_merchants": frozenset({MERCHANT})}, True),
        ({"target_merchants": frozenset({uuid.uuid4()})}, False),
        ({"target_stores": frozenset({STORE})}, True),
        ({"target_stores": frozenset({uuid.uuid4()})}, False),
        ({"target_categories": frozenset({"food", "beauty"})}, True),
        ({"target_categories": frozenset({"beauty"})}, False),
        ({"target_cities": frozenset({"Shanghai"})}, True),
        ({"target_cities": frozenset({"Beijing"})}, False),
        ({"target_languages": frozenset({"zh-CN"})}, True),
        ({"target_languages": frozenset({"en"})}, False),
        ({"target_segments": frozenset({"students"})}, True),
        ({"target_segments": frozenset({"parents"})}, False),
        ({"target_audience": "returning"}, True),
        ({"target_audience": "new"}, False),
    ],
)
def test_targeting(targeting: dict[str, object], matches: bool) -> None:
    r = request(segments=frozenset({"students", "gamers"}), audience="returning")
    assert (shown(engine(item(**targeting)), r) is not None) is matches


# -- caps and budgets -----------------------------------------------------------------------------


def seen(li: d.LineItem, at: datetime, creative: d.Creative | None = None) -> d.Seen:
    creative = creative or li.creatives[0]
    return d.Seen(at, creative.creative_id, li.line_item_id, li.campaign_id, li.advertiser_id)


@pytest.mark.parametrize("scope", ["line_item", "campaign", "advertiser", "creative"])
def test_a_cap_of_each_scope(scope: str) -> None:
    li = item()
    scope_id = {
        "line_item": li.line_item_id,
        "campaign": li.campaign_id,
        "advertiser": li.advertiser_id,
        "creative": li.creatives[0].creative_id,
    }[scope]
    li = replace(li, caps=(d.Cap(scope, scope_id, 2, "lifetime"),))
    e = engine(li)
    once = request(seen=(seen(li, NOW - timedelta(days=30)),))
    twice = request(seen=(seen(li, NOW - timedelta(days=30)), seen(li, NOW - timedelta(days=9))))
    assert shown(e, once) == li
    assert shown(e, twice) is None


def test_a_full_creative_cap_shows_the_line_items_other_creative() -> None:
    a, b = d.Creative(uuid.uuid4()), d.Creative(uuid.uuid4())
    li = item(creatives=(a, b))
    li = replace(li, caps=(d.Cap("creative", a.creative_id, 1, "lifetime"),))
    e = engine(li)
    r = request(seen=(seen(li, NOW - timedelta(hours=1), a),))
    assert {e.decide(r).creative for _ in range(20)} == {b}


def test_day_caps_count_the_venues_local_day() -> None:
    li = item()
    li = replace(li, caps=(d.Cap("line_item", li.line_item_id, 1, "day"),))
    e = engine(li)
    # 12:00 in Shanghai now; 23:30 yesterday Shanghai time = 15:30 UTC the day before.
    yesterday = request(seen=(seen(li, datetime(2026, 11, 30, 15, 30, tzinfo=UTC)),))
    assert shown(e, yesterday) == li
    this_morning = request(seen=(seen(li, datetime(2026, 11, 30, 16, 30, tzinfo=UTC)),))
    assert shown(e, this_morning) is None


def test_window_caps_roll() -> None:
    li = item()
    li = replace(li, caps=(d.Cap("line_item", li.line_item_id, 1, "window", 3600),))
    e = engine(li)
    assert shown(e, request(seen=(seen(li, NOW - timedelta(minutes=61)),))) == li
    assert shown(e, request(seen=(seen(li, NOW - timedelta(minutes=59)),))) is None


def test_a_spent_goal_or_budget_stops_the_line_item() -> None:
    li = item(goal_impressions=10)
    e = engine(li)
    e.replace_index(e.index, {li.line_item_id: d.Delivery(impressions=9)})
    assert shown(e) == li
    e.count_impression(li.line_item_id)
    assert shown(e) is None
    cpc = item(pricing="cpc", bid_fen=50, budget_fen=1000)
    e = engine(cpc)
    e.replace_index(e.index, {cpc.line_item_id: d.Delivery(spend_millifen=1000 * 1000)})
    assert shown(e) is None
    cpm = item(pricing="cpm", bid_fen=2000, budget_fen=20)  # 20 fen buys 10 impressions
    assert cpm.goal() == 10


# -- holdout ---------------------------------------------------------------------------------------


def test_holdout_is_stable_and_about_its_share() -> None:
    c = uuid.uuid4()
    held = [d.in_holdout(f"id-{i}", c, 0.1) for i in range(20_000)]
    assert held == [d.in_holdout(f"id-{i}", c, 0.1) for i in range(20_000)]
    assert 0.09 < sum(held) / len(held) < 0.11
    assert not any(d.in_holdout(f"id-{i}", c, 0.0) for i in range(1000))


def test_a_held_out_winner_gets_a_ghost_and_the_next_campaign_is_shown() -> None:
    sponsor = item("sponsorship", c=campaign(holdout_share=0.5))
    house = item("house")
    e = engine(sponsor, house)
    ids = [f"shopper-{i}" for i in range(200)]
    held = [i for i in ids if d.in_holdout(i, sponsor.campaign_id, 0.5)]
    free = [i for i in ids if not d.in_holdout(i, sponsor.campaign_id, 0.5)]
    assert held and free
    for identity in held:
        result = e.decide(request(identity=identity))
        assert result.line_item == house
        assert [g.line_item_id for g in result.ghosts] == [sponsor.line_item_id]
    for identity in free:
        result = e.decide(request(identity=identity))
        assert result.line_item == sponsor and result.ghosts == ()


# -- tiers -----------------------------------------------------------------------------------------


def test_tiers_in_strict_order() -> None:
    s, g, p, h = item("sponsorship"), item("guaranteed"), item("performance"), item("house")
    assert shown(engine(h, p, g, s)) == s
    assert shown(engine(h, p)) == p
    assert shown(engine(h)) == h


def test_sponsorships_and_house_draw_by_weight() -> None:
    heavy, light = item("sponsorship", weight=3), item("sponsorship", weight=1)
    e = engine(heavy, light)
    counts = Counter(shown(e) for _ in range(4000))
    assert 0.70 < counts[heavy] / 4000 < 0.80


def test_guaranteed_draw_falls_through_with_the_rest_of_the_probability() -> None:
    g = item("guaranteed", goal_impressions=1000)
    h = item("house")
    e = engine(g, h)
    e.pacer.roll(NOW, [g], {}, d.ZoneInfo("UTC"))  # the interval's probabilities, then ours
    e.pacer.p[g.line_item_id] = 0.25
    counts = Counter(shown(e) for _ in range(8000))
    assert 0.22 < counts[g] / 8000 < 0.28
    assert counts[g] + counts[h] == 8000


def test_guaranteed_probabilities_past_one_are_scaled() -> None:
    a, b = item("guaranteed", goal_impressions=10**6), item("guaranteed", goal_impressions=10**6)
    h = item("house")
    e = engine(a, b, h)
    e.pacer.roll(NOW, [a, b], {}, d.ZoneInfo("UTC"))
    e.pacer.p.update({a.line_item_id: 0.9, b.line_item_id: 0.9})
    counts = Counter(shown(e) for _ in range(4000))
    assert counts[h] == 0 and 0.45 < counts[a] / 4000 < 0.55


def test_pacing_spreads_the_remaining_goal_over_the_forecast() -> None:
    end = NOW + timedelta(hours=1)  # 12 intervals left
    g = item("guaranteed", goal_impressions=120, ends_at=end)
    pacer = d.Pacer()
    for slot in range(288):
        pacer.learn(slot, 100)  # 100 requests every 5 minutes (its share: all, until it runs)
    pacer.roll(NOW, [g], {g.line_item_id: 0}, d.ZoneInfo("UTC"))
    assert pacer.p[g.line_item_id] == pytest.approx(120 / 1200)
    # Delivered 0 of the 10 planned: next interval's p is doubled (the clamp's top).
    pacer.roll(NOW + d.INTERVAL, [g], {g.line_item_id: 0}, d.ZoneInfo("UTC"))
    assert pacer.p[g.line_item_id] == pytest.approx(120 / 1100 * 2)
    # Only daypart-eligible intervals count: with half the hour outside its dayparts the rate
    # is spread over fewer requests.
    half = replace(g, dayparts=frozenset({d.hour_of_week(NOW, d.ZoneInfo("UTC"))}))
    pacer2 = d.Pacer()
    for slot in range(288):
        pacer2.learn(slot, 100)
    pacer2.roll(NOW + timedelta(minutes=30), [half], {half.line_item_id: 0}, d.ZoneInfo("UTC"))
    assert pacer2.p[half.line_item_id] == pytest.approx(120 / 600)


def test_performance_serves_the_best_ecpm_ninety_percent_of_the_time() -> None:
    good = item("performance", pricing="cpm", bid_fen=3000)
    poor = item("performance", pricing="cpm", bid_fen=1000)
    e = engine(good, poor)
    counts = Counter(shown(e) for _ in range(10_000))
    # 90 % arg-max, and the other 10 % weighted 3:1
    assert 0.95 < counts[good] / 10_000 < 0.99


def test_ecpm_uses_the_smoothed_click_rate() -> None:
    cpc = item("performance", pricing="cpc", bid_fen=100)  # 1 yuan a click
    e = engine(cpc)
    assert e.ecpm(cpc) == pytest.approx(100 * 0.01 * 1000)  # the prior: 1 %
    e.replace_index(e.index, {cpc.line_item_id: d.Delivery(impressions=900, clicks=45)})
    assert e.ecpm(cpc) == pytest.approx(100 * 46 / 1000 * 1000)  # (45 + 1) / (900 + 100)


# -- the index -------------------------------------------------------------------------------------


def test_a_venue_only_looks_at_its_own_line_items() -> None:
    others = [item(c=campaign(own_merchant_id=uuid.uuid4())) for _ in range(50)]
    mine = item()
    index = d.Index((*others, mine))
    assert index.venue_items(request()) == (mine,)


def test_the_seeded_random_makes_decisions_repeatable() -> None:
    items = [item("performance", bid_fen=b) for b in (100, 200, 300)]
    e1, e2 = engine(*items, seed=7), engine(*items, seed=7)
    first = [shown(e1) for _ in range(200)]
    assert first == [shown(e2) for _ in range(200)]
    assert len(set(first)) > 1  # not the arg-max every time


def test_the_share_of_traffic_scales_the_forecast() -> None:
    g = item("guaranteed", goal_impressions=100, ends_at=NOW + timedelta(hours=2))
    pacer = d.Pacer()
    for slot in range(288):
        pacer.learn(slot, 100)
    utc = d.ZoneInfo("UTC")
    pacer.roll(NOW, [g], {}, utc)
    for _ in range(100):
        pacer.count_request()
    for _ in range(25):
        pacer.count_eligible(g.line_item_id)  # eligible on a quarter of the requests
    pacer.roll(NOW + d.INTERVAL, [g], {}, utc)
    assert pacer.share(g.line_item_id) == pytest.approx(0.25)
    # 23 intervals left × 100 requests × 1/4; nothing planned was delivered: × 2
    assert pacer.p[g.line_item_id] == pytest.approx(min(100 / (23 * 100 * 0.25) * 2, 1.0))


def test_each_process_paces_its_share_of_the_remaining_goal() -> None:
    g = item("guaranteed", goal_impressions=120, ends_at=NOW + timedelta(hours=1))
    pacer = d.Pacer()
    for slot in range(288):
        pacer.learn(slot, 100)
    utc = d.ZoneInfo("UTC")
    earlier = d.interval_start(NOW) - d.INTERVAL
    pacer.roll(earlier, [g], {}, utc)
    pacer.count_delivered(g.line_item_id, 30)  # this process showed 30 of everyone's 120
    pacer.roll(NOW, [g], {}, utc)
    # the whole goal so far, halved: 30 shown for the 9 planned (the compensation's floor)
    assert pacer.p[g.line_item_id] == pytest.approx(120 / 1200 * 0.5)
    pacer.set_process_share({earlier: 120, d.interval_start(NOW): 5})  # the current: unfinished
    assert pacer.process_share == pytest.approx(0.25)
    pacer.roll(NOW + d.INTERVAL, [g], {}, utc)
    # a quarter of the goal over 11 intervals × 100 requests; nothing of the plan delivered: × 2
    assert pacer.p[g.line_item_id] == pytest.approx(120 * 0.25 / 1100 * 2)
