"""The footfall JSON API (analytics/api.py): sign-in, tenant scoping, parameters, CSV."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from accounts import services as accounts
from kernel.config import Settings
from portico.console_app import make_console_app
from tests.analytics.footfall_streams import every, local, observe, settle
from tests.console.test_console_app import PASSWORD, Member, new_member, sign_in

MIN = timedelta(minutes=1)
DAY_ = (datetime.now(UTC) - timedelta(days=2)).date()
NOW = local(DAY_, 23)


@pytest.fixture
async def client(settings: Settings, db: asyncpg.Pool) -> AsyncIterator[TestClient]:
    async with TestClient(TestServer(make_console_app(settings, db))) as client:
        yield client


async def busy_member(db: asyncpg.Pool) -> Member:
    """A signed-up owner whose store had 12 visitors from 10:00 to 10:30 on DAY_."""
    member = await new_member(db)
    store = await accounts.get_store(db, member.merchant_id, member.store_id)
    assert store is not None
    for i in range(12):
        await observe(db, store, f"v{i}", every(local(DAY_, 10), local(DAY_, 10, 30), 2 * MIN))
    await settle(db, NOW)
    return member


def url(metric: str, **params: str) -> str:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return f"/api/footfall/{metric}?{query}"


async def test_signed_out_gets_401_json(client: TestClient) -> None:
    response = await client.get(url("summary"))

    assert response.status == 401
    assert (await response.json())["error"] == "not_signed_in"


async def test_summary_of_my_store(client: TestClient, db: asyncpg.Pool) -> None:
    member = await busy_member(db)
    await sign_in(client, member.email)

    response = await client.get(
        url("summary", store=str(member.store_id), **{"from": str(DAY_), "to": str(DAY_)})
    )

    assert response.status == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = await response.json()
    assert body["metric"] == "summary"
    assert body["store"] == str(member.store_id)
    assert (body["from"], body["to"], body["granularity"]) == (str(DAY_), str(DAY_), "day")
    assert body["timezone"] == "Asia/Shanghai"
    assert body["zone"] is None
    assert body["values"]["visits"] == 12
    assert body["values"]["median_dwell"] == 1800
    assert body["values"]["passers_by"] == 0
    assert body["suppressed"] == []


async def test_every_metric_answers(client: TestClient, db: asyncpg.Pool) -> None:
    member = await busy_member(db)
    await sign_in(client, member.email)
    day = {"from": str(DAY_), "to": str(DAY_)}

    for metric in ("summary", "trend", "dwell", "loyalty", "occupancy", "heatmap", "stores"):
        response = await client.get(url(metric, store="all", **day))
        assert response.status == 200, metric
        body = await response.json()
        assert body["metric"] == metric and body["store"] == "all"
        assert ("values" in body) != ("series" in body), metric
    heat = await (await client.get(url("heatmap", store="all", **day))).json()
    assert heat["values"]["visits"][DAY_.weekday()][10] == 12
    trend = await (
        await client.get(url("trend", store=str(member.store_id), measure="visitors", **day))
    ).json()
    assert trend["series"][0]["value"] == 12 and trend["measure"] == "visitors"


async def test_another_merchants_store_is_404(client: TestClient, db: asyncpg.Pool) -> None:
    me = await new_member(db)
    rival = await busy_member(db)
    await sign_in(client, me.email)

    for query in (
        url("summary", store=str(rival.store_id)),
        url("summary", store=str(uuid.uuid4())),
        url("summary", store="all", merchant=str(rival.merchant_id)),
        url("summary", store=str(rival.store_id), merchant=str(me.merchant_id)),
    ):
        response = await client.get(query)
        assert response.status == 404, query
        assert (await response.json())["error"] == "not_found"


async def test_a_member_of_two_merchants_names_one_for_all_stores(
    client: TestClient, db: asyncpg.Pool
) -> None:
    me = await busy_member(db)
    other = await new_member(db)
    await accounts.add_membership(db, other.merchant_id, me.user_id, "staff")
    await sign_in(client, me.email)
    day = {"from": str(DAY_), "to": str(DAY_)}

    ambiguous = await client.get(url("summary", store="all", **day))
    mine = await client.get(url("summary", store="all", merchant=str(me.merchant_id), **day))
    theirs = await client.get(url("summary", store=str(other.store_id), **day))

    assert ambiguous.status == 400
    assert "merchant" in (await ambiguous.json())["detail"]
    assert (await mine.json())["values"]["visits"] == 12
    assert theirs.status == 200 and (await theirs.json())["values"]["visits"] == 0


@pytest.mark.parametrize(
    ("query", "detail"),
    [
        ("store=nope", "store must be"),
        ("from=2026-13-01", "not a calendar date"),
        ("from=yesterday", "YYYY-MM-DD"),
        ("from=1999-12-31&to=2000-01-02", "before 2000-01-01"),
        ("from=2026-03-02&to=2026-03-01", "after to"),
        ("granularity=hour&from=2026-01-01&to=2026-03-01", "at most 31 days"),
        ("granularity=day&from=2024-01-01&to=2026-03-01", "at most 400 days"),
        ("granularity=year", "granularity must be one of"),
        ("format=xml", "format must be one of"),
        ("measure=secrets", "measure must be one of"),
        ("zone=ap-1", "zone needs a single store"),
        ("store=all&store=all", "more than once"),
        ("debug=1", "unknown parameter"),
        ("merchant=42", "merchant must be a merchant id"),
    ],
)
async def test_bad_parameters_are_400_with_a_reason(
    client: TestClient, db: asyncpg.Pool, query: str, detail: str
) -> None:
    member = await new_member(db)
    await sign_in(client, member.email)

    response = await client.get(f"/api/footfall/summary?{query}")

    assert response.status == 400
    body = await response.json()
    assert body["error"] == "bad_parameter"
    assert detail in body["detail"]


async def test_a_bad_zone_and_an_unknown_metric(client: TestClient, db: asyncpg.Pool) -> None:
    member = await new_member(db)
    await sign_in(client, member.email)

    bad_zone = await client.get(url("summary", store=str(member.store_id), zone="<script>"))
    unknown = await client.get(url("visitors_list", store=str(member.store_id)))

    assert bad_zone.status == 400 and "zone" in (await bad_zone.json())["detail"]
    assert unknown.status == 404 and (await unknown.json())["error"] == "unknown_metric"


async def test_csv_download(client: TestClient, db: asyncpg.Pool) -> None:
    member = await busy_member(db)
    await sign_in(client, member.email)
    day = {"from": str(DAY_), "to": str(DAY_)}

    response = await client.get(url("summary", store=str(member.store_id), format="csv", **day))

    assert response.status == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="footfall-summary-{member.store_id}-{DAY_}-{DAY_}.csv"'
    )
    rows = list(csv.reader(io.StringIO(await response.text())))
    assert rows[0] == ["name", "value"]
    values = dict(rows[1:])
    assert values["visits"] == "12" and values["median_dwell"] == "1800"
    assert values["randomized_share"] == "0.0"


async def test_csv_of_a_series_a_heatmap_and_hostile_store_names(
    client: TestClient, db: asyncpg.Pool
) -> None:
    member = await busy_member(db)
    await accounts.create_store(db, member.merchant_id, '=HYPERLINK("http://x")', "UTC")
    await sign_in(client, member.email)
    day = {"from": str(DAY_), "to": str(DAY_)}

    stores = await (await client.get(url("stores", format="csv", **day))).text()
    heat = await (await client.get(url("heatmap", format="csv", **day))).text()
    trend = await (await client.get(url("trend", format="csv", granularity="hour", **day))).text()

    store_rows = list(csv.reader(io.StringIO(stores)))
    assert store_rows[0][:3] == ["store", "name", "timezone"]
    names = {row[1] for row in store_rows[1:]}
    assert '\'=HYPERLINK("http://x")' in names  # not a formula in a spreadsheet
    heat_rows = list(csv.reader(io.StringIO(heat)))
    assert heat_rows[0] == ["weekday", *map(str, range(24))]
    assert heat_rows[1 + DAY_.weekday()][1 + 10] == "12"
    trend_rows = list(csv.reader(io.StringIO(trend)))
    assert trend_rows[0] == ["period", "value", "previous_period", "previous"]
    assert len(trend_rows) == 25
    assert trend_rows[11][:2] == [f"{DAY_}T10:00", "12"]


async def test_no_device_hash_ever_leaves_the_api(client: TestClient, db: asyncpg.Pool) -> None:
    member = await busy_member(db)
    await sign_in(client, member.email)
    hashes = [
        r["device_hash"]
        for r in await db.fetch(
            "SELECT device_hash FROM footfall_visits WHERE merchant_id = $1", member.merchant_id
        )
    ]
    assert hashes
    day = {"from": str(DAY_), "to": str(DAY_)}
    for metric in ("summary", "trend", "dwell", "loyalty", "occupancy", "heatmap", "stores"):
        for fmt in ("json", "csv"):
            text = await (await client.get(url(metric, format=fmt, **day))).text()
            assert not any(h in text for h in hashes), (metric, fmt)


async def test_wrong_password_reaches_no_api(client: TestClient, db: asyncpg.Pool) -> None:
    member = await busy_member(db)
    await sign_in(client, member.email, PASSWORD + "x")

    assert (await client.get(url("summary"))).status == 401
