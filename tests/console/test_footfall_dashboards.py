"""The footfall dashboards (analytics/dashboards.py): each page with known rollups, in both
languages; tenant scoping; bad filters; suppressed cells; CSV links; the chart assets."""

from __future__ import annotations

import html
import logging
import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer
from yarl import URL

from accounts import services as accounts
from analytics.dashboard_assets import LONG_CACHE, load_chart_library
from analytics.dashboards import PAGES
from kernel.config import Settings
from portico.console_app import make_console_app
from tests.analytics.footfall_streams import every, local, observe, settle
from tests.console.test_console_app import EN, ZH, Member, new_member, sign_in

MIN = timedelta(minutes=1)
DAY = (datetime.now(UTC) - timedelta(days=2)).date()  # store-local day the data is on
NOW = local(DAY, 23)
CSV_LINK = re.compile(r'href="(/api/footfall/[a-z]+\?[^"]*format=csv[^"]*)"')


@pytest.fixture
async def client(settings: Settings, db: asyncpg.Pool) -> AsyncIterator[TestClient]:
    async with TestClient(TestServer(make_console_app(settings, db))) as client:
        yield client


async def member_with_visits(db: asyncpg.Pool, visitors: int = 12) -> Member:
    """An owner whose store had `visitors` shoppers inside from 10:00 to 10:30 on DAY."""
    member = await new_member(db)
    store = await accounts.get_store(db, member.merchant_id, member.store_id)
    assert store is not None
    for i in range(visitors):
        await observe(db, store, f"v{i}", every(local(DAY, 10), local(DAY, 10, 30), 2 * MIN))
    await settle(db, NOW)
    return member


def day_range(member: Member, **more: str) -> str:
    return f"store={member.store_id}&from={DAY}&to={DAY}" + "".join(
        f"&{k}={v}" for k, v in more.items()
    )


def text_of(page: str) -> str:
    """The page's visible text, roughly: tags dropped, entities decoded, spaces squeezed."""
    body = re.sub(r"<script.*?</script>|<style.*?</style>", " ", page, flags=re.S)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", body)))


async def test_pages_send_a_signed_out_visitor_to_sign_in(client: TestClient) -> None:
    for _name, path in PAGES:
        response = await client.get(path, allow_redirects=False)
        assert response.status == 303, path
        assert response.headers["Location"] == str(URL("/login").with_query(next=path))


async def test_overview_shows_the_day_against_the_usual(
    client: TestClient, db: asyncpg.Pool
) -> None:
    member = await member_with_visits(db)
    await sign_in(client, member.email, headers=EN)

    response = await client.get(f"/footfall?store={member.store_id}&to={DAY}", headers=EN)

    assert response.status == 200
    assert response.headers["Cache-Control"] == "no-store"
    page = await response.text()
    text = text_of(page)
    assert "Footfall" in text and "Overview" in text
    assert re.search(r"Visitors 12 usual —", text), text
    assert re.search(r"Visits 12 usual —", text)
    assert re.search(r"Median dwell 30 min usual", text)
    assert re.search(r"Capture rate 100\.0%", text)
    assert re.search(r"10:00 12 —", text)  # the hour table: 12 visits at 10:00, no usual yet
    assert 'id="chart-hours"' in page
    assert '"canvas":"chart-hours"' in page  # the chart's data, embedded as JSON


async def test_trends_compare_with_the_previous_period(
    client: TestClient, db: asyncpg.Pool
) -> None:
    member = await member_with_visits(db)
    await sign_in(client, member.email, headers=EN)
    first = DAY - timedelta(days=2)

    response = await client.get(
        f"/footfall/trends?store={member.store_id}&from={first}&to={DAY}&measure=visitors",
        headers=EN,
    )

    assert response.status == 200
    text = text_of(await response.text())
    weekday = DAY.strftime("%a")
    assert f"{weekday} {DAY.day} {DAY.strftime('%b')} 12 " in text
    # The previous period is the three days before; nothing then.
    assert f"compared with {first - timedelta(days=3)} – {first - timedelta(days=1)}" in text
    assert re.search(rf"{first} – {DAY} 12 Previous period 0", text), text


async def test_trends_by_week_and_month(client: TestClient, db: asyncpg.Pool) -> None:
    member = await member_with_visits(db)
    await sign_in(client, member.email, headers=EN)
    for granularity, label in (("week", "wk of"), ("month", DAY.strftime("%b %Y"))):
        response = await client.get(
            f"/footfall/trends?store={member.store_id}&granularity={granularity}", headers=EN
        )
        assert response.status == 200, granularity
        text = text_of(await response.text())
        assert label in text
        assert " 12 " in text  # the period holding DAY


async def test_dwell_and_loyalty(client: TestClient, db: asyncpg.Pool) -> None:
    member = await member_with_visits(db)
    await sign_in(client, member.email, headers=EN)

    response = await client.get(f"/footfall/dwell?{day_range(member)}", headers=EN)

    assert response.status == 200
    text = text_of(await response.text())
    assert "20–60 min 12" in text  # every visit lasted 30 minutes
    assert "5–20 min 0" in text
    assert "Median dwell 30 min" in text
    assert "Bounce rate 0.0%" in text
    assert "Engaged 100.0%" in text
    assert "First time 0" in text  # nobody logged in


async def test_heatmap_cells(client: TestClient, db: asyncpg.Pool) -> None:
    member = await member_with_visits(db)
    await sign_in(client, member.email, headers=EN)

    response = await client.get(f"/footfall/heatmap?{day_range(member)}", headers=EN)

    assert response.status == 200
    page = await response.text()
    weekday = DAY.strftime("%a")
    cell = re.search(rf'<td class="heat-(\d)" title="{weekday} 10:00 · 12">12</td>', page)
    assert cell and cell.group(1) == "5", page  # the busiest cell is the darkest
    assert 'title="Mon 09:00 · 0">0</td>' in page
    assert "Peak hour: 10:00–11:00" in text_of(page)


async def test_store_comparison(client: TestClient, db: asyncpg.Pool) -> None:
    member = await member_with_visits(db)
    quiet = await accounts.create_store(db, member.merchant_id, "Quiet Corner", "Asia/Shanghai")
    await sign_in(client, member.email, headers=EN)

    response = await client.get(f"/footfall/stores?from={DAY}&to={DAY}", headers=EN)

    assert response.status == 200
    text = text_of(await response.text())
    assert re.search(rf"{member.store_name} 12 0 100\.0% 12 30 min", text), text
    assert "Quiet Corner 0 0 — 0 —" in text
    assert str(quiet) in await response.text()  # each row links to that store's overview


async def test_pages_in_chinese(client: TestClient, db: asyncpg.Pool) -> None:
    member = await member_with_visits(db)
    await sign_in(client, member.email, headers=ZH)

    overview = text_of(await (await client.get(f"/footfall?{day_range(member)}")).text())
    dwell = text_of(await (await client.get(f"/footfall/dwell?{day_range(member)}")).text())
    heat = text_of(await (await client.get(f"/footfall/heatmap?{day_range(member)}")).text())

    assert "客流分析" in overview
    assert re.search(r"到店顾客 12 平常", overview)
    assert "停留时长中位数 30 分钟" in overview
    assert "20–60 分钟 12" in dwell
    assert "周一" in heat and "高峰时段： 10:00–11:00" in heat


async def test_language_switch_keeps_the_filters(client: TestClient, db: asyncpg.Pool) -> None:
    member = await member_with_visits(db)
    await sign_in(client, member.email, headers=EN)

    page = await (await client.get(f"/footfall/dwell?{day_range(member)}", headers=EN)).text()
    switch = re.search(r'href="(/footfall/dwell\?[^"]*lang=zh-CN)"', page)
    assert switch, "no link to this page in Chinese"
    chinese = await client.get(html.unescape(switch.group(1)))

    text = text_of(await chinese.text())
    assert "20–60 分钟 12" in text


async def test_another_merchants_store_is_not_found(client: TestClient, db: asyncpg.Pool) -> None:
    member = await member_with_visits(db)
    stranger = await new_member(db)
    await sign_in(client, stranger.email, headers=EN)

    for _name, path in PAGES:
        response = await client.get(f"{path}?store={member.store_id}", headers=EN)
        assert response.status == 404, path
        # The other store's 12 visits, as a number of its own (the signed-in user's name,
        # "Owner <8 hex>", may hold the digits: it did once in CI).
        assert not re.search(r"\b12\b", text_of(await response.text()))
    other_merchant = await client.get(f"/footfall?merchant={member.merchant_id}", headers=EN)
    assert other_merchant.status == 404


async def test_bad_filters_are_a_clear_400(client: TestClient, db: asyncpg.Pool) -> None:
    member = await new_member(db)
    await sign_in(client, member.email, headers=EN)

    for query, name in (
        ("store=not-a-uuid", "store"),
        ("from=2026-02-30", "from"),
        ("from=yesterday", "from"),
        ("to=9999-12-31", "to"),
        ("from=1970-01-01", "from"),
        (f"from={DAY}&to={DAY - timedelta(days=1)}", "from"),
        ("from=2020-01-01&to=2026-01-01", "to"),
        ("granularity=century", "granularity"),
        ("measure=mac_addresses", "measure"),
        ("zone=%3Cscript%3E", "zone"),
        ("store=a&store=b", "store"),
    ):
        response = await client.get(f"/footfall/trends?{query}", headers=EN)
        assert response.status == 400, query
        assert f"The filter “{name}” is not valid" in text_of(await response.text()), query


async def test_small_counts_are_shown_as_under_ten(client: TestClient, db: asyncpg.Pool) -> None:
    member = await member_with_visits(db, visitors=3)
    await sign_in(client, member.email, headers=EN)

    for path in ("/footfall", "/footfall/dwell", "/footfall/heatmap", "/footfall/trends"):
        response = await client.get(f"{path}?{day_range(member)}", headers=EN)
        text = text_of(await response.text())
        assert "< 10" in text, path
        assert "fewer than 10 devices" in text, path
        assert not re.search(r"\b3\b visits", text)
    page = await client.get(f"/footfall?{day_range(member)}", headers=EN)
    overview = text_of(await page.text())
    assert re.search(r"Visitors < 10 usual", overview)
    assert re.search(r"Median dwell < 10 usual", overview)  # a median of 3 visits is hidden too


async def test_csv_links_download_the_same_numbers(client: TestClient, db: asyncpg.Pool) -> None:
    member = await member_with_visits(db)
    await sign_in(client, member.email, headers=EN)
    seen = set()
    for _name, path in PAGES:
        page = await (await client.get(f"{path}?{day_range(member)}", headers=EN)).text()
        links = [html.unescape(link) for link in CSV_LINK.findall(page)]
        assert links, f"{path} has no CSV link"
        for link in links:
            response = await client.get(link)
            assert response.status == 200, link
            assert response.content_type == "text/csv"
            seen.add(link.split("?")[0])
    assert seen >= {f"/api/footfall/{m}" for m in ("summary", "trend", "dwell", "heatmap")}
    dwell_csv = await (
        await client.get(f"/api/footfall/dwell?{day_range(member)}&format=csv")
    ).text()
    assert "20-60m,12" in dwell_csv


async def test_a_member_of_two_merchants_picks_one(client: TestClient, db: asyncpg.Pool) -> None:
    member = await member_with_visits(db)
    second = await accounts.create_merchant(db, "Second Merchant")
    await accounts.create_store(db, second, "Second Shop", "Asia/Shanghai")
    await accounts.add_membership(db, second, member.user_id, "staff")
    await sign_in(client, member.email, headers=EN)

    page = await (await client.get("/footfall", headers=EN)).text()
    assert 'name="merchant"' in page and "Second Merchant" in page
    switched = await client.get(f"/footfall?merchant={second}&store={member.store_id}")
    assert switched.status == 200  # a store of the merchant picked before: all stores instead
    text = text_of(await switched.text())
    assert "Second Shop" in text and member.store_name not in text


async def test_zone_picker_lists_the_stores_zones(client: TestClient, db: asyncpg.Pool) -> None:
    member = await new_member(db)
    store = await accounts.get_store(db, member.merchant_id, member.store_id)
    assert store is not None
    for i in range(10):
        await observe(
            db, store, f"z{i}", every(local(DAY, 9), local(DAY, 9, 15), MIN), zone="ap-door"
        )
    await settle(db, NOW)
    await sign_in(client, member.email, headers=EN)

    page = await (await client.get(f"/footfall?{day_range(member)}", headers=EN)).text()
    assert '<option value="ap-door">ap-door</option>' in page
    zoned = await client.get(f"/footfall/dwell?{day_range(member, zone='ap-door')}", headers=EN)
    assert "5–20 min 10" in text_of(await zoned.text())
    all_stores = await client.get(f"/footfall/dwell?store=all&zone=ap-door&from={DAY}", headers=EN)
    assert all_stores.status == 200  # zones belong to one store: all stores ignore it


async def test_a_user_without_merchants_sees_why(client: TestClient, db: asyncpg.Pool) -> None:
    email = f"nobody-{uuid.uuid4().hex}@example.com"
    await accounts.create_user(db, email, "Nobody", "correct horse battery")
    await sign_in(client, email, headers=EN)

    response = await client.get("/footfall", headers=EN)

    assert response.status == 200
    assert "not linked to any merchant" in text_of(await response.text())


async def test_own_scripts_are_served_with_a_long_cache(client: TestClient) -> None:
    app = client.server.app
    from analytics.dashboard_assets import ASSETS

    assets = app[ASSETS]
    for name, content_type in (("footfall.js", "text/javascript"), ("footfall.css", "text/css")):
        response = await client.get(assets.own[name].url)
        assert response.status == 200
        assert response.content_type == content_type
        assert response.headers["Cache-Control"] == LONG_CACHE
        assert await response.read() == assets.own[name].body
    missing = await client.get("/static/footfall/footfall.000000000000.js")
    assert missing.status == 404
    outside = await client.get("/static/vendor/..%2F..%2Fpyproject.toml")
    assert outside.status == 404


async def test_chart_library_when_installed(client: TestClient, db: asyncpg.Pool) -> None:
    from analytics.dashboard_assets import ASSETS

    chart = client.server.app[ASSETS].chart
    if chart is None:
        pytest.skip("chart.js is not installed (node_modules/chart.js; run make with npm)")
    response = await client.get(chart.url)
    assert response.status == 200
    assert response.content_type == "text/javascript"
    assert response.headers["Cache-Control"] == LONG_CACHE
    assert re.fullmatch(r"/static/vendor/chart-4\.\d+\.\d+\.umd\.js", chart.url)
    member = await new_member(db)
    await sign_in(client, member.email, headers=EN)
    page = await (await client.get("/footfall", headers=EN)).text()
    assert f'<script src="{chart.url}"></script>' in page
    assert "cdn" not in page.lower()


def test_chart_library_missing_or_present(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="portico.console"):
        assert load_chart_library(tmp_path / "chart.js") is None
    assert "footfall charts off" in caplog.text and "npm" in caplog.text

    package = tmp_path / "chart.js"
    (package / "dist").mkdir(parents=True)
    (package / "package.json").write_text('{"name": "chart.js", "version": "4.9.0"}')
    (package / "dist" / "chart.umd.js").write_text("window.Chart = function () {};")
    asset = load_chart_library(package)
    assert asset is not None
    assert asset.url == "/static/vendor/chart-4.9.0.umd.js"
    assert asset.content_type == "text/javascript"

    (package / "package.json").write_text('{"version": "../../etc"}')  # hostile: not a version
    odd = load_chart_library(package)
    assert odd is not None and re.fullmatch(r"/static/vendor/chart-[0-9a-f]{12}\.umd\.js", odd.url)


async def test_pages_without_the_chart_library_show_tables(
    settings: Settings, db: asyncpg.Pool, tmp_path: Path
) -> None:
    from analytics import dashboard_assets

    app = make_console_app(settings, db)
    app[dashboard_assets.ASSETS] = dashboard_assets.load_assets(tmp_path / "none")
    member = await member_with_visits(db)
    async with TestClient(TestServer(app)) as client:
        await sign_in(client, member.email, headers=EN)
        page = await (await client.get(f"/footfall/dwell?{day_range(member)}", headers=EN)).text()
    assert "<script src=" not in page
    assert "20–60 min 12" in text_of(page)


async def test_live_overview_shows_who_is_in_the_store_now(
    client: TestClient, db: asyncpg.Pool
) -> None:
    member = await new_member(db)
    store = await accounts.get_store(db, member.merchant_id, member.store_id)
    assert store is not None
    now = datetime.now(UTC).replace(microsecond=0)
    for i in range(11):
        await observe(db, store, f"now{i}", every(now - 8 * MIN, now, MIN))
    await settle(db, now)
    await sign_in(client, member.email, headers=EN)

    page = await (await client.get(f"/footfall?store={member.store_id}", headers=EN)).text()

    text = text_of(page)
    assert re.search(r"In the store now 11 devices seen in the last 10 minutes", text), text
    assert '"canvas":"chart-occupancy"' in page
    assert "/api/footfall/occupancy?" in page
