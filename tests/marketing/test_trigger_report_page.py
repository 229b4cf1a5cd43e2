"""The console's page of a trigger's closed-loop report (marketing/console_reports.py) against
the real PostgreSQL: shoppers chosen for each arm by the engine's own holdout draw, their
visits and redemptions decided by the real engine, then the page in both languages (the
experiment, the uplift with its interval, the contacts, the days and the charts' series), its
CSV, the default range, hostile ranges answered 400 in the page's language, another
merchant's trigger a 404, and staff reading it."""

from __future__ import annotations

import html
import json
import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from accounts import services as accounts
from kernel.config import Settings
from kernel.stats import newcombe
from marketing import console_reports, intake, reports, triggers
from marketing.engine import Engine
from marketing.intake import InboxEvent
from portico.console_app import make_console_app
from tests.clock import away_from_midnight
from tests.console.test_console_app import EN, PASSWORD, ZH, Member, new_member, sign_in
from tests.marketing.test_engine import run_all, sighting, spec
from tests.marketing.test_reports import arms_of

T0 = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai, on 2026-11-02
D0 = date(2026, 11, 2)
LATE = datetime(2026, 11, 1, 14, 30, tzinfo=UTC)  # 22:30 the evening before: quiet hours
RANGE = f"from={D0 - timedelta(days=1)}&to={D0 + timedelta(days=2)}"


@pytest.fixture
async def client(settings: Settings, db: asyncpg.Pool) -> AsyncIterator[TestClient]:
    async with TestClient(TestServer(make_console_app(settings, db))) as client:
        yield client


async def a_report(db: asyncpg.Pool, member: Member) -> uuid.UUID:
    """A trigger with a half holdout and what its shoppers did, through the real engine:

    - treated t0–t3: t3 arrives in quiet hours the evening before (its first contact, held
      back) and again the next morning (a return visit: that contact converted; a new one goes
      out); t0, t1, t2 arrive at 10:00; t0 redeems ten minutes later; t2 is back two days on;
    - held out h0–h2: arrive at 10:00; h0 redeems, h1 is back two days on (its offer and t2's
      are made already: two contacts in no arm).

    Treatment: 4 shoppers, 3 converted (1 by a redemption, 2 by a return visit); holdout: 3
    shoppers, 2 converted (1 and 1)."""
    merchant, store = member.merchant_id, member.store_id
    trigger = await triggers.save_trigger(
        db, merchant, spec(name_en="Welcome in", name_zh="欢迎光临", holdout_share=0.5)
    )
    (t0, t1, t2, t3, *_), (h0, h1, h2, *_) = arms_of(merchant, trigger)

    def redeem(device: str, at: datetime) -> InboxEvent:
        return InboxEvent(merchant, "redemption", device, store, at, {})

    steps = [
        [sighting(merchant, store, t3, LATE)],
        [
            sighting(merchant, store, d, T0 + timedelta(seconds=i))
            for i, d in enumerate((t0, t1, t2, t3, h0, h1, h2))
        ],
        [redeem(d, T0 + timedelta(minutes=10)) for d in (t0, h0)],
        [sighting(merchant, store, d, T0 + timedelta(days=2)) for d in (t2, h1)],
    ]
    for events in steps:
        await intake.record_events(db, events)
        await run_all(Engine(db))
    return trigger


def text_of(body: str) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body))).strip()


def row(body: str, row_id: str) -> list[str]:
    """The cells' texts of the table row with that id."""
    found = re.search(rf'<tr id="{row_id}">(.*?)</tr>', body, re.DOTALL)
    assert found, f"no row {row_id}"
    return [text_of(c) for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", found.group(1), re.DOTALL)]


def block(body: str, block_id: str) -> str:
    found = re.search(rf'<div class="mkr-kpi[^"]*" id="{block_id}">(.*?)</div>', body, re.DOTALL)
    assert found, f"no {block_id}"
    return text_of(found.group(1))


def charts(body: str) -> dict[str, dict]:
    found = re.search(
        r'<script type="application/json" id="footfall-charts"[^>]*>(.*?)</script>', body
    )
    assert found
    return {spec["canvas"]: spec for spec in json.loads(found.group(1))}


def pts(x: float) -> str:
    return console_reports.points(x)


async def test_the_page_shows_the_report_in_both_languages(
    client: TestClient, db: asyncpg.Pool
) -> None:
    member = await new_member(db, "Harbour Tea")
    trigger = await a_report(db, member)
    expected = await reports.trigger_report(
        db, member.merchant_id, trigger, D0 - timedelta(days=1), D0 + timedelta(days=2)
    )
    # What the engine decided is what the docstring of a_report says.
    assert expected.arms == {
        "treatment": reports.Arm(shoppers=4, converted=3, redemption=1, return_visit=2),
        "holdout": reports.Arm(shoppers=3, converted=2, redemption=1, return_visit=1),
    }
    assert await sign_in(client, member.email)

    # Linked from the overview's trigger row and from the trigger's page.
    link = f"/marketing/triggers/{trigger}/report?merchant={member.merchant_id}"
    overview = await (await client.get("/marketing", headers=EN)).text()
    assert f'id="report-{trigger}" href="{html.escape(link)}"' in overview
    form = await (await client.get(link.replace("/report", ""), headers=EN)).text()
    assert f'id="trigger-report" href="{html.escape(link)}"' in form

    response = await client.get(f"{link}&{RANGE}", headers=EN)
    assert response.status == 200
    body = await response.text()
    assert "<h1>Closed-loop report: Welcome in</h1>" in body
    assert "Every store" in text_of(re.search(r'id="trigger-facts">(.*?)</p>', body)[1])
    assert "2026-11-01 to 2026-11-04, days in Asia/Shanghai" in text_of(body)
    assert row(body, "arm-treatment") == [
        "Treatment (offer made)",
        "4",
        "3 (75.0%)",
        "1 (25.0%)",
        "2 (50.0%)",
    ]
    assert row(body, "arm-holdout") == [
        "Holdout (nothing sent)",
        "3",
        "2 (66.7%)",
        "1 (33.3%)",
        "1 (33.3%)",
    ]
    for measure, x1, x0 in (("converted", 3, 2), ("redemption", 1, 1), ("return_visit", 2, 1)):
        d, low, high = newcombe(x1, 4, x0, 3)
        assert (d, low, high) == (
            expected.uplift[measure].difference,
            expected.uplift[measure].low,
            expected.uplift[measure].high,
        )
        shown = block(body, f"uplift-{measure}")
        assert f"{pts(d)} pts" in shown and f"95 %: {pts(low)} to {pts(high)}" in shown
        assert "The interval includes 0" in shown  # seven shoppers tell nothing
    d, low, high = newcombe(3, 4, 2, 3)
    assert row(body, "arm-uplift")[:3] == [
        "Uplift (95 % interval)",
        "",
        f"{pts(d)} pts 95 %: {pts(low)} to {pts(high)}",
    ]
    # The contacts: each column (treatment, holdout, in no arm, all) as the engine decided.
    contacts = dict((r[0], r[1:]) for r in _rows(body, "contact-table"))
    assert contacts["Decided"] == ["5", "3", "2", "10"]
    assert contacts["to send"] == ["4", "0", "0", "4"]
    assert contacts["held out"] == ["0", "3", "0", "3"]
    assert contacts["suppressed"] == ["1", "0", "2", "3"]
    assert contacts["suppressed: quiet hours"] == ["1", "0", "0", "1"]
    assert contacts["suppressed: had the offer already"] == ["0", "0", "2", "2"]
    assert "suppressed: no consent" not in contacts  # a reason nothing was suppressed for
    assert contacts["Converted by a redemption"] == ["1", "1", "0", "2"]
    assert contacts["Converted by a return visit"] == ["2", "1", "0", "3"]
    # The days: the table and the charts' series.
    assert row(body, "day-2026-11-01") == ["1 Nov", "1", "0", "1", "1", "0", "0", "0", "0"]
    assert row(body, "day-2026-11-02") == ["2 Nov", "4", "4", "3", "2", "3", "3", "2", "0"]
    assert row(body, "day-2026-11-04") == ["4 Nov", "0", "0", "0", "0", "0", "0", "0", "2"]
    assert 'id="day-2026-11-03"' not in body  # nothing that day
    drawn = charts(body)
    assert drawn["chart-contacts"]["labels"] == ["1 Nov", "2 Nov", "3 Nov", "4 Nov"]
    assert [d["data"] for d in drawn["chart-contacts"]["datasets"]] == [
        [1, 4, 0, 0],
        [0, 3, 0, 0],
        [0, 0, 0, 2],
    ]
    rate = drawn["chart-rate"]
    assert rate["unit"] == "percent"
    assert [d["data"] for d in rate["datasets"]] == [
        [100.0, 75.0, 75.0, 75.0],  # t3 converted; then 3 of 4
        [None, 66.7, 66.7, 66.7],  # nobody held out before the 2nd
    ]
    assert re.search(r'<script src="/static/vendor/chart-[^"]+\.umd\.js"></script>', body)

    zh = await (await client.get(f"{link}&{RANGE}", headers=ZH)).text()
    assert "<h1>闭环效果报表：欢迎光临</h1>" in zh
    assert row(zh, "arm-treatment") == [
        "实验组（推送优惠）",
        "4",
        "3（75.0%）",
        "1（25.0%）",
        "2（50.0%）",
    ]
    assert row(zh, "arm-holdout")[0] == "对照组（不推送）"
    d, low, high = newcombe(3, 4, 2, 3)
    assert f"{pts(d)} 个百分点" in block(zh, "uplift-converted")
    assert f"95% 区间：{pts(low)} 至 {pts(high)}" in block(zh, "uplift-converted")
    assert "区间包含 0" in block(zh, "uplift-converted")
    zh_contacts = dict((r[0], r[1:]) for r in _rows(zh, "contact-table"))
    assert zh_contacts["已抑制：静默时段"] == ["1", "0", "0", "1"]
    assert zh_contacts["转化：核销优惠券"] == ["1", "1", "0", "2"]
    assert row(zh, "day-2026-11-02")[0] == "11月2日"
    assert charts(zh)["chart-contacts"]["datasets"][0]["label"] == "实验组（推送优惠）"
    assert "Treatment" not in text_of(zh)


def _rows(body: str, table_id: str) -> list[list[str]]:
    found = re.search(rf'<table id="{table_id}">(.*?)</table>', body, re.DOTALL)
    assert found, f"no table {table_id}"
    tbody = found.group(1).split("<tbody>")[1]
    return [
        [text_of(c) for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", r, re.DOTALL)]
        for r in re.findall(r"<tr[^>]*>(.*?)</tr>", tbody, re.DOTALL)
    ]


async def test_the_csv_is_the_reports_own_as_a_download(
    client: TestClient, db: asyncpg.Pool
) -> None:
    member = await new_member(db)
    trigger = await a_report(db, member)
    await sign_in(client, member.email)
    page = await (
        await client.get(f"/marketing/triggers/{trigger}/report?{RANGE}", headers=EN)
    ).text()
    (href,) = re.findall(r'id="csv" href="([^"]+)"', page)
    href = html.unescape(href)
    assert "format=csv" in href and "from=2026-11-01" in href and "to=2026-11-04" in href
    response = await client.get(href, headers=EN)
    assert response.status == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="trigger-report-{trigger}-2026-11-01-2026-11-04.csv"'
    )
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    expected = await reports.trigger_report(
        db, member.merchant_id, trigger, D0 - timedelta(days=1), D0 + timedelta(days=2)
    )
    body = await response.text()
    assert body == reports.report_csv(expected)
    assert "treatment,4,3,1,2,0.750000,0.250000,0.500000" in body.splitlines()


async def test_the_range_is_the_last_30_days_by_default(
    client: TestClient, db: asyncpg.Pool
) -> None:
    member = await new_member(db)
    trigger = await triggers.save_trigger(db, member.merchant_id, spec(holdout_share=0.1))
    await sign_in(client, member.email)
    await away_from_midnight("Asia/Shanghai", past=0, ahead=30)
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    body = await (await client.get(f"/marketing/triggers/{trigger}/report", headers=EN)).text()
    assert f'name="from" value="{today - timedelta(days=29)}"' in body
    assert f'name="to" value="{today}"' in body
    # Nobody yet: no uplift, said so; the tables empty but there.
    for measure in reports.MEASURES:
        assert "Not enough data: an arm has no shopper yet." in block(body, f"uplift-{measure}")
    assert 'id="no-days"' in body
    assert row(body, "arm-treatment")[1:3] == ["0", "0 (—)"]


@pytest.mark.parametrize(
    ("query", "english", "chinese"),
    [
        ("from=2026-13-01", "Dates are written YYYY-MM-DD", "日期格式为 YYYY-MM-DD"),
        ("from=yesterday", "Dates are written YYYY-MM-DD", "日期格式为 YYYY-MM-DD"),
        ("to=2026-02-30", "Dates are written YYYY-MM-DD", "日期格式为 YYYY-MM-DD"),
        ("to=９９９９-01-01", "Dates are written YYYY-MM-DD", "日期格式为 YYYY-MM-DD"),
        ("from=1999-12-31", "Dates are written YYYY-MM-DD", "日期格式为 YYYY-MM-DD"),
        ("to=9999-12-31", "Dates are written YYYY-MM-DD", "日期格式为 YYYY-MM-DD"),
        ("from=2026-11-01&from=2026-11-02", "each given once", "每项只能给出一次"),
        ("from=2026-11-05&to=2026-11-04", "at most 366 days", "最多 366 天"),
        ("from=2024-01-01&to=2026-11-04", "at most 366 days", "最多 366 天"),
        ("format=xlsx", "as a page or as CSV", "网页或 CSV"),
        ("format=csv&format=csv", "as a page or as CSV", "网页或 CSV"),
    ],
)
async def test_bad_ranges_are_a_400_saying_why(
    client: TestClient, db: asyncpg.Pool, query: str, english: str, chinese: str
) -> None:
    member = await new_member(db)
    trigger = await triggers.save_trigger(db, member.merchant_id, spec())
    await sign_in(client, member.email)
    path = f"/marketing/triggers/{trigger}/report?{query}"
    for headers, words in ((EN, english), (ZH, chinese)):
        response = await client.get(path, headers=headers)
        assert response.status == 400, (query, await response.text())
        assert words in text_of(await response.text()), query


async def test_another_merchants_trigger_is_a_404(client: TestClient, db: asyncpg.Pool) -> None:
    member = await new_member(db)
    other = await new_member(db)
    theirs = await a_report(db, other)
    mine = await triggers.save_trigger(db, member.merchant_id, spec())
    await sign_in(client, member.email)
    for path in (
        f"/marketing/triggers/{theirs}/report",
        f"/marketing/triggers/{theirs}/report?merchant={member.merchant_id}&{RANGE}",
        f"/marketing/triggers/{theirs}/report?merchant={member.merchant_id}&format=csv",
        f"/marketing/triggers/{theirs}/report?merchant={other.merchant_id}",
        f"/marketing/triggers/{mine}/report?merchant={other.merchant_id}",
        f"/marketing/triggers/{uuid.uuid4()}/report",
        "/marketing/triggers/not-a-uuid/report",
        f"/marketing/triggers/{theirs}/report?from=nonsense",  # the trigger before the range
    ):
        response = await client.get(path, headers=EN)
        assert response.status == 404, path
        assert "Welcome" not in await response.text()


async def test_staff_read_it_with_a_store_they_are_not_given_unnamed(
    client: TestClient, db: asyncpg.Pool
) -> None:
    member = await new_member(db, "Harbour Tea")
    given = await accounts.create_store(db, member.merchant_id, "Pier Kiosk", "Asia/Shanghai")
    email = f"staff-{uuid.uuid4().hex}@example.com"
    staff = await accounts.create_user(db, email, "Staff", PASSWORD)
    await accounts.add_membership(db, member.merchant_id, staff, "staff")
    async with db.acquire() as conn:
        await accounts.set_member_stores(conn, member.merchant_id, staff, [given])
    trigger = await a_report(db, member)
    await db.execute(
        "UPDATE marketing_triggers SET store_id = $3 WHERE merchant_id = $1 AND trigger_id = $2",
        member.merchant_id,
        trigger,
        member.store_id,
    )
    await sign_in(client, email)
    path = f"/marketing/triggers/{trigger}/report?merchant={member.merchant_id}&{RANGE}"
    body = await (await client.get(path, headers=EN)).text()
    assert "A store you are not given" in body
    assert "Harbour Tea" not in body
    assert row(body, "arm-treatment")[1] == "4"
    assert "<form" in body and 'method="post"' not in body.split("</header>")[1]  # reads only
    csv = await client.get(path + "&format=csv", headers=EN)
    assert csv.status == 200 and csv.headers["Content-Type"].startswith("text/csv")
    # The store named to a staff member given it.
    async with db.acquire() as conn:
        await accounts.set_member_stores(conn, member.merchant_id, staff, [member.store_id])
    body = await (await client.get(path, headers=EN)).text()
    assert "Harbour Tea" in body and "A store you are not given" not in body
