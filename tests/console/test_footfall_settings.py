"""The footfall settings page (analytics/settings_page.py) on real PostgreSQL: who may look and
who may change; metric settings and retention saved, or refused field by field in both
languages with nothing stored; staff and fixed devices added by MAC (kept and shown only as
the keyed hash ingest uses) and removed; the occupancy calibration fitted from head counts."""

from __future__ import annotations

import html as html_module
import re
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import aiohttp
import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer
from yarl import URL

from accounts import services as accounts
from analytics.dashboards import PAGES
from analytics.ingest import FootfallIngest, Sighting
from analytics.occupancy import WINDOW, window_of
from analytics.retention import Retention, retention_of, set_retention
from analytics.settings import FootfallSettings, occupancy_calibration, settings_of
from analytics.settings_page import RETENTION_LIMITS
from kernel.config import Settings
from kernel.privacy import device_hash
from portico.console_app import make_console_app
from tests.analytics.footfall_streams import every, observe
from tests.analytics.raw_macs import forms, tables_holding
from tests.console.test_console_app import EN, PASSWORD, ZH, Member, csrf_token, new_member, sign_in
from tests.console.test_footfall_dashboards import text_of

PATH = "/footfall/settings"
MIN = timedelta(minutes=1)
GOOD_METRICS = {
    "inside_rssi": "-65",
    "detected_rssi": "-80",
    "visitor_min_dwell": "240",
    "visit_gap": "600",
    "visit_cap": "7200",
    "bounce": "120",
    "engaged": "1200",
}


@pytest.fixture
async def client(settings: Settings, db: asyncpg.Pool) -> AsyncIterator[TestClient]:
    async with TestClient(TestServer(make_console_app(settings, db))) as client:
        yield client


def url(member: Member) -> str:
    return f"{PATH}?merchant={member.merchant_id}&store={member.store_id}"


async def page_of(
    client: TestClient, member: Member, headers: dict[str, str] = EN
) -> tuple[str, str]:
    """The page's HTML and its CSRF token."""
    response = await client.get(url(member), headers=headers)
    assert response.status == 200
    html = await response.text()
    return html, csrf_token(html)


async def post(
    client: TestClient,
    member: Member,
    form: str,
    fields: dict[str, str],
    headers: dict[str, str] = EN,
    target: str | None = None,
) -> aiohttp.ClientResponse:
    _html, token = await page_of(client, member, headers)
    data = {"csrf_token": token, "form": form, **fields}
    return await client.post(
        target or url(member), data=data, headers=headers, allow_redirects=False
    )


def field_error(html: str, name: str) -> str:
    """The error shown beside field `name` (inside the field's own box), or ''."""
    match = re.search(
        rf'<input[^>]+name="{name}"[^>]*>.*?(?:<p class="ffs-error" id="error-{name}">([^<]*)</p>'
        r'|<p class="ffs-hint">|</div>\s*</div>)',
        html,
        flags=re.S,
    )
    assert match, f"no field {name}"
    return html_module.unescape(match.group(1) or "")


async def stored_settings_rows(db: asyncpg.Pool, member: Member) -> int:
    return await db.fetchval(
        "SELECT count(*) FROM footfall_settings WHERE merchant_id = $1", member.merchant_id
    )


async def new_staff(db: asyncpg.Pool, member: Member) -> str:
    email = f"staff-{uuid.uuid4().hex}@example.com"
    user_id = await accounts.create_user(db, email, "Staff Member", PASSWORD)
    await accounts.add_membership(db, member.merchant_id, user_id, "staff")
    return email


# Who may look, who may change ----------------------------------------------------------------


async def test_signed_out_visitors_are_sent_to_sign_in(client: TestClient) -> None:
    response = await client.get(PATH, allow_redirects=False)
    assert response.status == 303
    assert response.headers["Location"] == str(URL("/login").with_query(next=PATH))


async def test_owner_sees_the_store_settings_in_english(
    client: TestClient, db: asyncpg.Pool
) -> None:
    member = await new_member(db)
    await sign_in(client, member.email, headers=EN)

    response = await client.get(PATH, headers=EN)  # the first store by default

    assert response.status == 200
    assert response.headers["Cache-Control"] == "no-store"
    html = await response.text()
    text = text_of(html)
    for heading in (
        "Footfall definitions",
        "How long data is kept",
        "Staff and fixed devices",
        "People in the store",
    ):
        assert heading in text
    assert member.store_name in text
    assert re.search(r'name="visit_gap" value="900"', html)
    assert re.search(r'name="inside_rssi" value="-70"', html)
    assert re.search(r'name="raw_hours" value="24"', html)
    assert re.search(r'name="visits_days" value="30"', html)
    assert "seconds · 15 min" in text  # the visit gap in minutes beside it
    assert "No staff or fixed devices yet." in text
    assert "Not calibrated: the overview shows devices, not people." in text
    assert 'aria-current="page">Settings</a>' in html
    assert " disabled" not in html  # an owner may change everything


async def test_the_page_in_chinese(client: TestClient, db: asyncpg.Pool) -> None:
    member = await new_member(db)
    await sign_in(client, member.email, headers=ZH)

    html, _token = await page_of(client, member, ZH)

    text = text_of(html)
    assert "客流统计规则" in text and "数据保留时长" in text
    assert "员工及固定设备" in text and "在店人数估算" in text
    assert "秒 · 15 分钟" in text
    assert "尚未校准" in text


async def test_staff_may_look_but_not_change(client: TestClient, db: asyncpg.Pool) -> None:
    member = await new_member(db)
    email = await new_staff(db, member)
    await sign_in(client, email, headers=EN)

    html, _token = await page_of(client, member)

    text = text_of(html)
    assert (
        f"Only an owner of {(await accounts.memberships_of(db, member.user_id))[0].merchant_name}"
        in text
    )
    assert re.search(r'name="visit_gap" value="900"[^>]* disabled', html)
    assert ">Save</button>" not in html and 'name="mac"' not in html
    response = await post(client, member, "metrics", GOOD_METRICS)
    assert response.status == 403
    assert "Only an owner of the merchant can change footfall settings." in text_of(
        await response.text()
    )
    response = await post(client, member, "retention", {"raw_hours": "48", "visits_days": "60"})
    assert response.status == 403
    assert await stored_settings_rows(db, member) == 0
    assert await retention_of(db, member.merchant_id) == Retention()


async def test_staff_do_not_see_a_store_they_are_not_given(
    client: TestClient, db: asyncpg.Pool
) -> None:
    member = await new_member(db)
    other_store = await accounts.create_store(db, member.merchant_id, "Second floor")
    email = await new_staff(db, member)
    staff = await db.fetchval("SELECT user_id FROM user_accounts WHERE email = $1", email)
    async with db.acquire() as conn:
        await accounts.set_member_stores(conn, member.merchant_id, staff, [other_store])
    await sign_in(client, email, headers=EN)

    assert (await client.get(url(member))).status == 404  # the merchant's, not theirs
    given = await client.get(f"{PATH}?merchant={member.merchant_id}&store={other_store}")
    assert given.status == 200


async def test_another_merchants_store_is_not_found(client: TestClient, db: asyncpg.Pool) -> None:
    member = await new_member(db)
    stranger = await new_member(db)
    await sign_in(client, stranger.email, headers=EN)

    assert (await client.get(f"{PATH}?store={member.store_id}")).status == 404
    assert (await client.get(f"{PATH}?merchant={member.merchant_id}")).status == 404
    assert (await client.get(url(member))).status == 404
    response = await post(client, stranger, "metrics", GOOD_METRICS, target=url(member))
    assert response.status == 404
    mixed = f"{PATH}?merchant={stranger.merchant_id}&store={member.store_id}"
    assert (await post(client, stranger, "metrics", GOOD_METRICS, target=mixed)).status == 404
    assert await stored_settings_rows(db, member) == 0


async def test_a_user_without_merchants_sees_why(client: TestClient, db: asyncpg.Pool) -> None:
    email = f"nobody-{uuid.uuid4().hex}@example.com"
    await accounts.create_user(db, email, "Nobody", PASSWORD)
    await sign_in(client, email, headers=EN)

    response = await client.get(PATH, headers=EN)

    assert response.status == 200
    assert "not linked to any merchant" in text_of(await response.text())


async def test_a_post_without_the_csrf_token_is_refused(
    client: TestClient, db: asyncpg.Pool
) -> None:
    member = await new_member(db)
    await sign_in(client, member.email, headers=EN)

    for token in (None, "forged-token"):
        data = {"form": "metrics", **GOOD_METRICS}
        if token:
            data["csrf_token"] = token
        response = await client.post(url(member), data=data, headers=EN)
        assert response.status == 403
    add = {"form": "add_device", "mac": "3c:22:fb:00:00:01", "csrf_token": "forged"}
    assert (await client.post(url(member), data=add)).status == 403
    assert await stored_settings_rows(db, member) == 0
    assert (
        await db.fetchval(
            "SELECT count(*) FROM footfall_fixed_devices WHERE merchant_id = $1", member.merchant_id
        )
        == 0
    )


async def test_a_post_must_name_its_store_and_form(client: TestClient, db: asyncpg.Pool) -> None:
    member = await new_member(db)
    await sign_in(client, member.email, headers=EN)

    no_store = await post(client, member, "metrics", GOOD_METRICS, target=PATH)
    assert no_store.status == 400
    unknown = await post(client, member, "drop_tables", {})
    assert unknown.status == 400
    assert "The filter “form” is not valid" in text_of(await unknown.text())
    assert await stored_settings_rows(db, member) == 0


# Metric settings and retention ----------------------------------------------------------------


async def test_owner_saves_the_metric_settings(client: TestClient, db: asyncpg.Pool) -> None:
    member = await new_member(db)
    await sign_in(client, member.email, headers=EN)

    response = await post(client, member, "metrics", GOOD_METRICS)

    assert response.status == 303
    assert response.headers["Location"] == f"{url(member)}&done=metrics#metrics"
    assert await settings_of(db, member.merchant_id, member.store_id) == FootfallSettings(
        **{k: int(v) for k, v in GOOD_METRICS.items()}
    )
    html = await (await client.get(response.headers["Location"], headers=EN)).text()
    assert f"Saved the footfall definitions of {member.store_name}." in text_of(html)
    assert re.search(r'name="visit_gap" value="600"', html)


async def test_bad_metric_settings_are_refused_field_by_field(
    client: TestClient, db: asyncpg.Pool
) -> None:
    member = await new_member(db)
    await sign_in(client, member.email, headers=EN)
    bad = GOOD_METRICS | {
        "visit_gap": "10",
        "inside_rssi": "-90",
        "bounce": "three minutes",
        "engaged": "",
        "visit_cap": "1e9",
    }

    response = await post(client, member, "metrics", bad)

    assert response.status == 400
    html = await response.text()
    assert "Nothing was saved: correct the fields marked below." in text_of(html)
    assert field_error(html, "visit_gap") == "Enter a whole number from 60 to 14400."
    assert field_error(html, "inside_rssi") == (
        "Must not be weaker than the detection threshold (-80 dBm)."
    )
    assert field_error(html, "bounce") == "Enter a whole number."
    assert field_error(html, "engaged") == "Enter a value."
    assert field_error(html, "visit_cap") == "Enter a whole number."
    assert field_error(html, "detected_rssi") == ""
    assert field_error(html, "visitor_min_dwell") == ""
    assert 'name="bounce" value="three minutes"' in html  # what was typed, to correct it
    assert await stored_settings_rows(db, member) == 0

    chinese = await post(client, member, "metrics", bad, headers=ZH)
    zh_html = await chinese.text()
    assert chinese.status == 400
    assert field_error(zh_html, "visit_gap") == "请输入 60 至 14400 之间的整数。"
    assert field_error(zh_html, "inside_rssi") == "不能低于探测阈值（-80 dBm）。"
    assert "未保存：请修改下方标出的字段。" in text_of(zh_html)
    assert await stored_settings_rows(db, member) == 0


async def test_each_metric_bound_is_checked(client: TestClient, db: asyncpg.Pool) -> None:
    member = await new_member(db)
    await sign_in(client, member.email, headers=EN)
    from analytics.settings import LIMITS

    for name, (low, high) in LIMITS.items():
        for value in (low - 1, high + 1):
            response = await post(client, member, "metrics", GOOD_METRICS | {name: str(value)})
            assert response.status == 400, (name, value)
            html = await response.text()
            assert field_error(html, name) == f"Enter a whole number from {low} to {high}."
    assert await stored_settings_rows(db, member) == 0


async def test_owner_saves_the_retention(client: TestClient, db: asyncpg.Pool) -> None:
    member = await new_member(db)
    await sign_in(client, member.email, headers=EN)

    response = await post(client, member, "retention", {"raw_hours": "48", "visits_days": "90"})

    assert response.status == 303
    assert await retention_of(db, member.merchant_id) == Retention(48, 90)
    html = await (await client.get(response.headers["Location"], headers=EN)).text()
    assert "Saved how long the footfall data of" in text_of(html)
    assert re.search(r'name="raw_hours" value="48"', html)


async def test_bad_retention_is_refused(client: TestClient, db: asyncpg.Pool) -> None:
    member = await new_member(db)
    await sign_in(client, member.email, headers=EN)

    response = await post(client, member, "retention", {"raw_hours": "169", "visits_days": "0"})

    assert response.status == 400
    html = await response.text()
    assert field_error(html, "raw_hours") == "Enter a whole number from 1 to 168."
    assert field_error(html, "visits_days") == "Enter a whole number from 1 to 3650."
    assert (
        await db.fetchval(
            "SELECT count(*) FROM footfall_retention WHERE merchant_id = $1", member.merchant_id
        )
        == 0
    )


async def test_retention_bounds_are_those_of_set_retention(db: asyncpg.Pool) -> None:
    member = await new_member(db)
    (raw_low, raw_high), (visits_low, visits_high) = (
        RETENTION_LIMITS["raw_hours"],
        RETENTION_LIMITS["visits_days"],
    )
    await set_retention(db, member.merchant_id, Retention(raw_low, visits_low))
    await set_retention(db, member.merchant_id, Retention(raw_high, visits_high))
    for bad in (
        Retention(raw_low - 1, visits_low),
        Retention(raw_high + 1, visits_low),
        Retention(raw_low, visits_low - 1),
        Retention(raw_low, visits_high + 1),
    ):
        with pytest.raises(ValueError):
            await set_retention(db, member.merchant_id, bad)


# Staff and fixed devices ----------------------------------------------------------------------


async def test_a_device_added_by_mac_is_kept_only_as_the_ingest_hash(
    client: TestClient, db: asyncpg.Pool, settings: Settings
) -> None:
    member = await new_member(db)
    await sign_in(client, member.email, headers=EN)
    till = "3C:22:FB:7A:01:02"
    hashed = device_hash(settings.secret_key, str(member.merchant_id), till.lower())

    response = await post(client, member, "add_device", {"mac": till})

    assert response.status == 303
    assert response.headers["Location"].endswith("&done=add_device#devices")
    html = await (await client.get(response.headers["Location"], headers=EN)).text()
    text = text_of(html)
    assert "Added the device" in text
    assert f"{hashed[:8]}… Added by you" in text
    for form in forms(till):
        assert form not in html.lower()
    assert await tables_holding(db, [till]) == {}
    # Ingest drops it: the page hashed it with the key and function ingest uses.
    ingest = FootfallIngest(settings.secret_key)
    async with db.acquire() as conn:
        await ingest.record(
            conn,
            member.merchant_id,
            member.store_id,
            [Sighting("ap-1", till, time.time() - 60, -50, "assoc")],
        )
    assert ingest.counts["dropped_fixed"] == 1

    removed = await post(client, member, "remove_device", {"device": hashed})
    assert removed.status == 303
    html = await (await client.get(removed.headers["Location"], headers=EN)).text()
    assert "counted again" in text_of(html)
    assert "No staff or fixed devices yet." in text_of(html)
    again = await post(client, member, "remove_device", {"device": hashed})
    assert again.status == 400
    assert "That device is not on the list of devices you added." in text_of(await again.text())


async def test_a_bad_mac_is_refused(client: TestClient, db: asyncpg.Pool) -> None:
    member = await new_member(db)
    await sign_in(client, member.email, headers=EN)

    for mac, error in (
        ("not-a-mac", "Enter a MAC address such as 3c:22:fb:12:34:56."),
        ("3c:22:fb:7a:01", "Enter a MAC address such as 3c:22:fb:12:34:56."),
        ("", "Enter a MAC address such as 3c:22:fb:12:34:56."),
        ("01:00:5e:00:00:01", "That is a group (multicast) address, not a device's."),
    ):
        response = await post(client, member, "add_device", {"mac": mac})
        assert response.status == 400, mac
        html = await response.text()
        assert field_error(html, "mac") == error, mac
    chinese = await post(client, member, "add_device", {"mac": "nope"}, headers=ZH)
    assert field_error(await chinese.text(), "mac") == "请输入 MAC 地址，例如 3c:22:fb:12:34:56。"
    assert (
        await db.fetchval(
            "SELECT count(*) FROM footfall_fixed_devices WHERE merchant_id = $1", member.merchant_id
        )
        == 0
    )
    malformed = await post(client, member, "remove_device", {"device": "3c:22:fb:7a:01:02"})
    assert malformed.status == 400


async def test_detected_devices_show_their_long_stays(client: TestClient, db: asyncpg.Pool) -> None:
    member = await new_member(db)
    detected = uuid.uuid4().hex
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    await db.execute(
        "INSERT INTO footfall_fixed_devices (merchant_id, store_id, device_hash, reason) "
        "VALUES ($1, $2, $3, 'detected')",
        member.merchant_id,
        member.store_id,
        detected,
    )
    for back, hours in ((1, 7.5), (2, 6.2), (4, 9.0)):
        await db.execute(
            "INSERT INTO footfall_long_stays (merchant_id, store_id, day, device_hash, seconds) "
            "VALUES ($1, $2, $3, $4, $5)",
            member.merchant_id,
            member.store_id,
            today - timedelta(days=back),
            detected,
            int(hours * 3600),
        )
    await sign_in(client, member.email, headers=EN)

    html, _token = await page_of(client, member)

    text = text_of(html)
    last = today - timedelta(days=1)
    assert re.search(rf"{detected[:8]}… Found by itself [\d-]+ [\d:]+ 3 {last} 9\.0 h", text), text
    assert detected not in html  # no remove form: it is released by the retention job
    refused = await post(client, member, "remove_device", {"device": detected})
    assert refused.status == 400
    assert (
        await db.fetchval(
            "SELECT count(*) FROM footfall_fixed_devices WHERE device_hash = $1", detected
        )
        == 1
    )


# Occupancy calibration ------------------------------------------------------------------------


async def crowd(db: asyncpg.Pool, member: Member, window: int, devices: int, tag: str) -> None:
    """`devices` randomised devices heard every minute around the 5-minute window (and the
    windows either side, which the estimator smooths with)."""
    store = await accounts.get_store(db, member.merchant_id, member.store_id)
    assert store is not None
    start = datetime.fromtimestamp(window - WINDOW, UTC)
    end = datetime.fromtimestamp(window + 2 * WINDOW, UTC) - MIN
    for i in range(devices):
        await observe(
            db, store, f"{tag}-{member.store_id}-{i}", every(start, end, MIN), randomized=True
        )


def store_time(window: int) -> str:
    return datetime.fromtimestamp(window, ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%dT%H:%M")


async def test_head_counts_calibrate_the_occupancy_estimate(
    client: TestClient, db: asyncpg.Pool
) -> None:
    member = await new_member(db)
    now = time.time()
    quiet, busy = window_of(now - 3 * 3600), window_of(now - 2 * 3600)
    await crowd(db, member, quiet, 4, "quiet")
    await crowd(db, member, busy, 10, "busy")
    await sign_in(client, member.email, headers=EN)

    response = await post(
        client,
        member,
        "calibrate",
        {
            "time_0": store_time(quiet),
            "people_0": "5",
            "time_1": store_time(busy),
            "people_1": "12",
        },
    )

    assert response.status == 303, text_of(await response.text())
    calibration = await occupancy_calibration(db, member.merchant_id, member.store_id)
    assert calibration is not None
    # 4 devices were 5 people, 10 devices 12: people = 7/6 · devices + 1/3.
    assert calibration.w_random == pytest.approx(7 / 6, abs=1e-5)
    assert calibration.w_static == 0
    assert calibration.intercept == pytest.approx(1 / 3, abs=1e-5)
    html = await (await client.get(response.headers["Location"], headers=EN)).text()
    text = text_of(html)
    assert "Calibrated: the overview now estimates the people" in text
    assert (
        "people ≈ 1.17 × devices with a random address + 0.00 × devices with a fixed address + 0.3"
        in text
    )

    forgotten = await post(client, member, "forget_calibration", {})
    assert forgotten.status == 303
    assert await occupancy_calibration(db, member.merchant_id, member.store_id) is None


async def test_unusable_head_counts_store_nothing(client: TestClient, db: asyncpg.Pool) -> None:
    member = await new_member(db)
    now = time.time()
    quiet, busy = window_of(now - 3 * 3600), window_of(now - 2 * 3600)
    await crowd(db, member, quiet, 4, "q")
    await crowd(db, member, busy, 10, "b")
    empty = window_of(now - 5 * 3600)
    await sign_in(client, member.email, headers=EN)
    cases = [
        (
            {"time_0": store_time(quiet), "people_0": "5"},
            "calibration",
            "Enter at least 2 head counts.",
        ),
        (
            {"time_0": store_time(window_of(now)), "people_0": "5"},
            "time_0",
            "Must be at least 10 minutes ago.",
        ),
        (
            {"time_0": store_time(window_of(now - 30 * 3600)), "people_0": "5"},
            "time_0",
            "Older than the 24 hours the raw observations are kept.",
        ),
        (
            {"time_0": "yesterday", "people_0": "5"},
            "time_0",
            "Enter a date and time such as 2026-05-04 14:00.",
        ),
        (
            {"time_0": store_time(quiet), "people_0": "-3"},
            "people_0",
            "Enter a whole number from 0 to 10000.",
        ),
        ({"people_1": "7"}, "time_1", "Enter both the time and the number of people."),
        (
            {
                "time_0": store_time(quiet),
                "people_0": "9",
                "time_1": store_time(busy),
                "people_1": "2",
            },
            "calibration",
            "These counts give fewer people for more devices: check them, or add counts from "
            "other moments.",
        ),
        (
            {
                "time_0": store_time(empty),
                "people_0": "5",
                "time_1": store_time(empty + WINDOW),
                "people_1": "9",
            },
            "calibration",
            "The store heard the same number of devices at each of these times: add a count from a "
            "busier or a quieter moment.",
        ),
    ]
    for fields, where, error in cases:
        response = await post(client, member, "calibrate", fields)
        assert response.status == 400, fields
        html = await response.text()
        if where == "calibration":
            assert f'<p class="ffs-error" id="error-calibration">{error}</p>' in html, fields
        else:
            assert field_error(html, where) == error, fields
        for name, value in fields.items():
            assert f'name="{name}" value="{value}"' in html  # kept to correct
    assert await occupancy_calibration(db, member.merchant_id, member.store_id) is None


# Navigation -----------------------------------------------------------------------------------


async def test_dashboards_and_settings_link_to_each_other(
    client: TestClient, db: asyncpg.Pool
) -> None:
    member = await new_member(db)
    await sign_in(client, member.email, headers=EN)

    overview = await (await client.get(f"/footfall?store={member.store_id}", headers=EN)).text()
    link = f'href="{PATH}?merchant={member.merchant_id}&amp;store={member.store_id}">Settings</a>'
    assert link in overview
    every_store = await (await client.get("/footfall/stores", headers=EN)).text()
    assert f'href="{PATH}?merchant={member.merchant_id}&amp;store=all">Settings</a>' in every_store
    assert (await client.get(f"{PATH}?merchant={member.merchant_id}&store=all")).status == 200
    settings_page, _token = await page_of(client, member)
    for _name, path in PAGES:
        assert f'href="{path}?merchant={member.merchant_id}&amp;store={member.store_id}"' in (
            settings_page
        )


async def test_a_member_of_two_merchants_picks_one(client: TestClient, db: asyncpg.Pool) -> None:
    member = await new_member(db)
    second = await accounts.create_merchant(db, "Second Merchant")
    second_store = await accounts.create_store(db, second, "Second Shop", "Asia/Shanghai")
    await accounts.add_membership(db, second, member.user_id, "staff")
    await sign_in(client, member.email, headers=EN)

    html, _token = await page_of(client, member)
    assert 'name="merchant"' in html and "Second Merchant" in html
    # The picker changed merchant while the first one's store stayed chosen: its first store.
    switched = await client.get(f"{PATH}?merchant={second}&store={member.store_id}", headers=EN)
    assert switched.status == 200
    text = text_of(await switched.text())
    assert "Second Shop" in text and "Only an owner of Second Merchant" in text
    # A POST must name a store of the merchant it names.
    mixed = f"{PATH}?merchant={second}&store={member.store_id}"
    assert (await post(client, member, "metrics", GOOD_METRICS, target=mixed)).status == 404
    staff_only = f"{PATH}?merchant={second}&store={second_store}"
    assert (await post(client, member, "metrics", GOOD_METRICS, target=staff_only)).status == 403
    assert (
        await db.fetchval(
            "SELECT count(*) FROM footfall_settings WHERE merchant_id = ANY($1)",
            [member.merchant_id, second],
        )
        == 0
    )
