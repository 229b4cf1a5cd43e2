"""The console's Marketing pages against the real PostgreSQL: tags, triggers and the contact
budget built with forms (saved with versions and audit entries, every bad field answered beside
it in both languages), the audience size counted over a hand-made set of profiles, "Send a
test" (the SMS outbox, the phone preview, the signed webhook request), staff read-only, and
another merchant's ids answered as if they did not exist."""

from __future__ import annotations

import html
import json
import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, time, timedelta

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from accounts import audit
from accounts import services as accounts
from kernel.config import Settings
from kernel.privacy import seal
from marketing import audience, tags, triggers, webhooks
from portico.console_app import make_console_app
from tests.console.test_console_app import EN, PASSWORD, ZH, Member, csrf_token, new_member, sign_in

NOW = datetime.now(UTC)


@pytest.fixture
async def client(settings: Settings, db: asyncpg.Pool) -> AsyncIterator[TestClient]:
    async with TestClient(TestServer(make_console_app(settings, db))) as client:
        yield client


@pytest.fixture
async def owner(client: TestClient, db: asyncpg.Pool) -> Member:
    member = await new_member(db)
    assert (await sign_in(client, member.email)).status == 303
    return member


async def page(client: TestClient, path: str, headers: dict[str, str] = EN) -> str:
    response = await client.get(path, headers=headers)
    assert response.status == 200, await response.text()
    return await response.text()


async def post(
    client: TestClient,
    path: str,
    form: dict[str, str] | list[tuple[str, str]],
    headers: dict[str, str] = EN,
    follow: bool = False,
) -> tuple[int, str]:
    token = csrf_token(await page(client, "/marketing", headers))
    items = list(form.items()) if isinstance(form, dict) else list(form)
    response = await client.post(
        path, data=[("csrf_token", token), *items], headers=headers, allow_redirects=follow
    )
    return response.status, await response.text()


def text_of(body: str) -> str:
    """The page's text, tags dropped and entities read (what a reader sees)."""
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body)))


def error_beside(body: str, field: str) -> str:
    found = re.search(rf'<p class="field-error" id="error-{field}">([^<]*)</p>', body)
    assert found, f"no error beside {field}"
    return html.unescape(found.group(1))


def rows(*conditions: tuple[str, str, str]) -> list[tuple[str, str]]:
    fields = [("rows", str(len(conditions)))]
    for i, (fact, op, value) in enumerate(conditions):
        fields += [(f"fact_{i}", fact), (f"op_{i}", op), (f"value_{i}", value)]
    return fields


async def entries(db: asyncpg.Pool, merchant_id: uuid.UUID) -> list[audit.AuditEntry]:
    return await audit.entries(db, merchant_id)


# A hand-made set of profiles ---------------------------------------------------------------


async def add_profile(
    db: asyncpg.Pool,
    merchant_id: uuid.UUID,
    key: str,
    *,
    visits_ago: list[int],
    total: int,
    redemptions: int = 0,
    claims: int = 0,
    consent_sms: bool = False,
    now: datetime = NOW,
) -> None:
    """A profile whose visits started `visits_ago` days before `now` (its latest the last)."""
    starts = [now - timedelta(days=d) for d in sorted(visits_ago, reverse=True)]
    await db.execute(
        "INSERT INTO marketing_profiles (merchant_id, profile_key, created_at, visit_started_at,"
        " last_seen_at, visits_total, recent_visits, redemptions, claims, consent_sms, tags,"
        " updated_at) VALUES ($1, $2, $3, $4, $4, $5, $6, $7, $8, $9, '{}', $4)",
        merchant_id,
        key,
        starts[0],
        starts[-1],
        total,
        [s for s in starts if now - s < timedelta(days=60)],
        redemptions,
        claims,
        consent_sms,
    )


async def add_webhook(
    db: asyncpg.Pool, secret_key: str, merchant_id: uuid.UUID, url: str, secret: str
) -> uuid.UUID:
    """A webhook of the merchant's (the console chooses webhooks, it does not make them)."""
    webhook_id = uuid.uuid4()
    await db.execute(
        "INSERT INTO marketing_webhooks (merchant_id, webhook_id, url, sealed_secret)"
        " VALUES ($1, $2, $3, $4)",
        merchant_id,
        webhook_id,
        url,
        seal(secret_key, str(merchant_id), secret),
    )
    return webhook_id


def key(prefix: str) -> str:
    return prefix + ":" + uuid.uuid4().hex


async def five_shoppers(db: asyncpg.Pool, merchant_id: uuid.UUID, now: datetime = NOW) -> None:
    """Visits in 30 days: 5, 3, 0, 2, 4; known by phone: the first and the fourth; redeemed:
    the first and the fourth; claimed 2 coupons: the fifth."""
    await add_profile(
        db,
        merchant_id,
        key("i"),
        visits_ago=[1, 3, 5, 8, 13, 40],
        total=8,
        redemptions=1,
        consent_sms=True,
        now=now,
    )
    await add_profile(db, merchant_id, key("d"), visits_ago=[2, 9, 20], total=3, now=now)
    await add_profile(db, merchant_id, key("d"), visits_ago=[45], total=1, now=now)
    await add_profile(db, merchant_id, key("i"), visits_ago=[6, 7], total=2, redemptions=2, now=now)
    await add_profile(
        db, merchant_id, key("d"), visits_ago=[1, 2, 4, 6], total=10, claims=2, now=now
    )


async def test_the_audience_is_counted_over_the_merchants_own_profiles(db: asyncpg.Pool) -> None:
    merchant = await new_member(db)
    other = await new_member(db)
    now = datetime(2026, 5, 6, 8, 0, tzinfo=UTC)  # 16:00 in Shanghai: not lunchtime
    await five_shoppers(db, merchant.merchant_id, now)
    await add_profile(db, other.merchant_id, key("i"), visits_ago=[1, 2, 3, 4, 5], total=9, now=now)
    await tags.ensure_defaults(db, merchant.merchant_id)

    async def count(rule: object) -> int:
        return await audience.count_matching(db, merchant.merchant_id, rule, now)

    assert await count({"all": []}) == 5
    assert await count({"fact": "visits_30d", "op": ">=", "value": 3}) == 3
    assert await count({"fact": "known_identity", "op": "=", "value": True}) == 2
    assert await count({"fact": "consent_sms", "op": "=", "value": True}) == 1
    either = {
        "any": [
            {"fact": "redemptions", "op": ">=", "value": 1},
            {"fact": "claims", "op": ">=", "value": 2},
        ]
    }
    assert await count(either) == 3
    assert await count({"fact": "days_since_last_visit", "op": ">", "value": 30}) == 1
    # "frequent" (4 visits in 30 days), as the tags read at `now`: the first and the fifth.
    assert await count({"tag": "frequent"}) == 2
    regular = {"all": [{"fact": "visits_30d", "op": ">=", "value": 3}, {"tag": "frequent"}]}
    assert await count(regular) == 2
    assert await count({"fact": "lunchtime_now", "op": "=", "value": True}) == 0


# Tags ----------------------------------------------------------------------------------------


async def test_the_overview_lists_the_default_tags_the_triggers_and_the_budget(
    client: TestClient, db: asyncpg.Pool, owner: Member
) -> None:
    await five_shoppers(db, owner.merchant_id)
    await db.execute(
        "UPDATE marketing_profiles SET tags = '{\"frequent\": 1}' WHERE merchant_id = $1"
        " AND visits_total >= 8",
        owner.merchant_id,
    )
    trigger_id = await triggers.save_trigger(
        db,
        owner.merchant_id,
        triggers.TriggerSpec(
            name_zh="午餐",
            name_en="Lunch",
            event="dwell",
            dwell_minutes=20,
            rule={"all": []},
            channel="sms",
            offer_key="lunch-1",
        ),
    )
    for status, reason in (
        ("sent", None),
        ("sent", None),
        ("holdout", None),
        ("suppressed", "budget_day"),
    ):
        await db.execute(
            "INSERT INTO marketing_contacts (merchant_id, contact_id, profile_key, trigger_id,"
            " trigger_version, offer_key, channel, event_id, event_at, decided_at, arm, status,"
            " reason) VALUES ($1, $2, $3, $4, 1, 'lunch-1', 'sms', $2, now(), now(), $5, $6, $7)",
            owner.merchant_id,
            uuid.uuid4(),
            key("i"),
            trigger_id,
            "holdout" if status == "holdout" else "treatment",
            status,
            reason,
        )

    english = text_of(await page(client, "/marketing"))
    chinese = text_of(await page(client, "/marketing", ZH))

    assert "Frequent frequent visits in the last 30 days >= 4 v1 2" in english
    assert "常客 frequent 近 30 天到店次数 >= 4 v1 2 人" in chinese
    assert "Lunch Stays · 20 min Every store SMS sent 2 held out 1 suppressed 1" in english
    assert "午餐 停留 · 20 分钟 所有门店 短信 已发送 2 对照组 1 已抑制 1" in chinese
    assert "Contacts per shopper per day 1 Contacts per shopper per 7 days 3" in english
    assert "Quiet hours 21:00–09:00 Smallest audience shown (k) 50" in english


async def test_an_owner_adds_a_tag_previews_its_audience_and_edits_it_as_a_new_version(
    client: TestClient, db: asyncpg.Pool, owner: Member
) -> None:
    await five_shoppers(db, owner.merchant_id)
    form = [
        ("merchant", str(owner.merchant_id)),
        ("tag_id", "regulars"),
        ("name_zh", "老顾客"),
        ("name_en", "Regulars"),
        ("enabled", "1"),
        ("combine", "all"),
        *rows(("visits_30d", ">=", "3"), ("", ">=", "")),
    ]

    status, previewed = await post(client, "/marketing/tags/new", [*form, ("action", "preview")])
    assert status == 200
    assert "visits in the last 30 days >= 3" in text_of(previewed)
    assert "Shoppers matching now: 3" in text_of(previewed)
    saved = {t.tag_id for t in await tags.list_tags(db, owner.merchant_id)}
    assert "regulars" not in saved  # a preview saves nothing
    status, chinese = await post(
        client, "/marketing/tags/new", [*form, ("action", "preview")], headers=ZH
    )
    assert "当前符合的顾客：3 人" in text_of(chinese)

    status, _ = await post(client, "/marketing/tags/new", [*form, ("action", "save")])
    assert status == 303
    (made,) = [t for t in await tags.list_tags(db, owner.merchant_id) if t.tag_id == "regulars"]
    assert (made.name_en, made.version, made.rule) == (
        "Regulars",
        1,
        {"fact": "visits_30d", "op": ">=", "value": 3},
    )
    (entry,) = await entries(db, owner.merchant_id)
    assert (entry.action, entry.actor_id, entry.target_id, entry.before) == (
        "marketing_tag.create",
        owner.user_id,
        "regulars",
        None,
    )
    assert entry.after is not None and entry.after["mkc_version"] == 1

    # Its edit page reads the rule back into rows; "any" of two rows and a tag held.
    edit = await page(client, f"/marketing/tags/regulars?merchant={owner.merchant_id}")
    assert 'name="fact_0"' in edit and '<option value="visits_30d" selected>' in edit
    changed = [
        ("merchant", str(owner.merchant_id)),
        ("name_zh", "老顾客"),
        ("name_en", "Regulars"),
        ("enabled", "1"),
        ("combine", "any"),
        *rows(("visits_30d", ">=", "4"), ("known_identity", "yes", "")),
        ("tag", "coupon_redeemer"),
        ("action", "save"),
    ]
    status, _ = await post(client, "/marketing/tags/regulars", changed)
    assert status == 303
    (edited,) = [t for t in await tags.list_tags(db, owner.merchant_id) if t.tag_id == "regulars"]
    assert edited.version == 2
    assert edited.rule == {
        "all": [
            {
                "any": [
                    {"fact": "visits_30d", "op": ">=", "value": 4},
                    {"fact": "known_identity", "op": "=", "value": True},
                ]
            },
            {"tag": "coupon_redeemer"},
        ]
    }
    versions = await db.fetchval(
        "SELECT count(*) FROM marketing_tag_versions WHERE merchant_id = $1 AND tag_id = $2",
        owner.merchant_id,
        "regulars",
    )
    assert versions == 2
    update, _create = await entries(db, owner.merchant_id)
    assert update.action == "marketing_tag.update"
    assert update.before is not None and update.after is not None
    assert (update.before["mkc_version"], update.after["mkc_version"]) == (1, 2)
    assert '"any"' in update.after["mkc_rule"] and '"any"' not in update.before["mkc_rule"]

    # The same again: nothing changes, nothing is logged.
    status, again = await post(client, "/marketing/tags/regulars", changed, follow=True)
    assert "Nothing was changed." in again
    assert len(await entries(db, owner.merchant_id)) == 2
    log = text_of(await page(client, f"/audit?merchant={owner.merchant_id}"))
    assert "Tag changed" in log and "Tag added" in log and "version: 1 → 2" in log


async def test_add_a_row_draws_the_form_again_with_what_was_typed_and_one_more_row(
    client: TestClient, owner: Member
) -> None:
    form = [
        ("merchant", str(owner.merchant_id)),
        ("tag_id", "typed"),
        ("name_en", "Typed"),
        *rows(("claims", ">", "2"), ("", ">=", "")),
        ("action", "add_row"),
    ]
    status, body = await post(client, "/marketing/tags/new", form)
    assert status == 200
    assert 'name="fact_2"' in body and 'name="fact_3"' not in body
    assert 'name="value_0" value="2"' in body and 'value="typed"' in body
    assert 'class="field-error"' not in body


async def test_a_bad_tag_comes_back_with_each_error_beside_its_field_in_both_languages(
    client: TestClient, db: asyncpg.Pool, owner: Member
) -> None:
    await tags.ensure_defaults(db, owner.merchant_id)
    form = [
        ("merchant", str(owner.merchant_id)),
        ("tag_id", "Bad Id"),
        ("name_zh", ""),
        ("name_en", "x" * 41),
        *rows(
            ("visits_30d", ">=", "many"),
            ("first_visit", ">=", "1"),
            ("claims", "yes", ""),
            ("no_such_fact", ">=", "1"),
            ("visits_total", ">", "100001"),
        ),
        ("tag", "frequent"),
        ("tag", "someone_elses"),
        ("action", "save"),
    ]
    status, english = await post(client, "/marketing/tags/new", form)
    _status, chinese = await post(client, "/marketing/tags/new", form, headers=ZH)

    assert status == 400
    assert "Nothing was saved" in english
    assert error_beside(english, "tag_id").startswith("Lower-case letters, digits and _")
    assert error_beside(english, "name_zh") == "Enter a name of 1 to 40 characters."
    assert error_beside(english, "name_en") == "Enter a name of 1 to 40 characters."
    assert error_beside(english, "row_0") == "Enter a whole number from 0 to 100000."
    assert error_beside(english, "row_1") == "A yes-or-no fact takes “is yes” or “is no”."
    assert error_beside(english, "row_2").startswith("This fact is a number")
    assert error_beside(english, "row_3") == "Choose a fact."
    assert error_beside(english, "row_4") == "Enter a whole number from 0 to 100000."
    assert error_beside(english, "tags") == "This merchant has no tag someone_elses."
    assert error_beside(chinese, "row_0") == "请输入 0 至 100000 之间的整数。"
    assert error_beside(chinese, "tags") == "该商户没有标签 someone_elses。"
    assert 'value="many"' in english  # what was typed comes back
    assert {t.tag_id for t in await tags.list_tags(db, owner.merchant_id)} == {
        t.tag_id for t in tags.DEFAULTS
    }
    assert await entries(db, owner.merchant_id) == []


async def test_tags_reading_each_other_in_a_circle_are_refused(
    client: TestClient, db: asyncpg.Pool, owner: Member
) -> None:
    await tags.save_tag(
        db, owner.merchant_id, "alpha", "甲", "Alpha", {"fact": "claims", "op": ">", "value": 0}
    )
    await tags.save_tag(db, owner.merchant_id, "beta", "乙", "Beta", {"tag": "alpha"})
    form = [
        ("merchant", str(owner.merchant_id)),
        ("name_zh", "甲"),
        ("name_en", "Alpha"),
        ("enabled", "1"),
        *rows(("claims", ">", "0")),
        ("tag", "beta"),
        ("action", "save"),
    ]
    status, body = await post(client, "/marketing/tags/alpha", form)
    assert status == 400
    assert error_beside(body, "tags").startswith("These tags read this one")
    assert "beta" in error_beside(body, "tags")
    (alpha,) = [t for t in await tags.list_tags(db, owner.merchant_id) if t.tag_id == "alpha"]
    assert alpha.version == 1


async def test_a_rule_the_rows_cannot_show_is_kept_unless_the_owner_replaces_it(
    client: TestClient, db: asyncpg.Pool, owner: Member
) -> None:
    odd = {"not": {"fact": "logged_in", "op": "=", "value": True}}
    await tags.save_tag(db, owner.merchant_id, "anonymous", "匿名", "Anonymous", odd)
    edit = text_of(await page(client, f"/marketing/tags/anonymous?merchant={owner.merchant_id}"))
    assert "Saved rule: not has logged in to the WiFi" in edit
    assert "cannot be shown as rows" in edit
    base = [
        ("merchant", str(owner.merchant_id)),
        ("name_zh", "匿名"),
        ("name_en", "Anonymous visitors"),
        ("enabled", "1"),
        *rows(("claims", ">", "5")),
        ("action", "save"),
    ]
    assert (await post(client, "/marketing/tags/anonymous", base))[0] == 303
    (kept,) = [t for t in await tags.list_tags(db, owner.merchant_id) if t.tag_id == "anonymous"]
    assert (kept.name_en, kept.rule, kept.version) == ("Anonymous visitors", odd, 1)
    assert (await post(client, "/marketing/tags/anonymous", [*base, ("replace_rule", "1")]))[
        0
    ] == 303
    (replaced,) = [
        t for t in await tags.list_tags(db, owner.merchant_id) if t.tag_id == "anonymous"
    ]
    assert (replaced.rule, replaced.version) == ({"fact": "claims", "op": ">", "value": 5}, 2)


# Triggers ------------------------------------------------------------------------------------


def trigger_form(member: Member, **changes: str) -> list[tuple[str, str]]:
    fields = {
        "merchant": str(member.merchant_id),
        "name_zh": "久留有礼",
        "name_en": "Stay a while",
        "event": "dwell",
        "dwell_minutes": "20",
        "store": str(member.store_id),
        "combine": "all",
        "channel": "portal",
        "webhook": "",
        "offer_key": "tea-20",
        "message_zh": "送您一杯茶",
        "message_en": "A cup of tea on us",
        "holdout_percent": "15",
        "window_days": "10",
        "enabled": "1",
        "action": "save",
    } | changes
    return [*fields.items(), *rows(("visits_30d", ">=", "2"))]


async def test_an_owner_adds_and_edits_a_trigger_each_save_audited(
    client: TestClient, db: asyncpg.Pool, owner: Member
) -> None:
    status, _ = await post(client, "/marketing/triggers/new", trigger_form(owner))
    assert status == 303
    row = await db.fetchrow(
        "SELECT * FROM marketing_triggers WHERE merchant_id = $1", owner.merchant_id
    )
    assert (row["event"], row["dwell_minutes"], row["store_id"], row["channel"]) == (
        "dwell",
        20,
        owner.store_id,
        "portal",
    )
    assert (row["offer_key"], round(row["holdout_share"], 3), row["window_days"]) == (
        "tea-20",
        0.15,
        10,
    )
    assert (
        json.loads(row["rule"])
        if isinstance(row["rule"], str)
        else row["rule"]
        == {
            "fact": "visits_30d",
            "op": ">=",
            "value": 2,
        }
    )
    path = f"/marketing/triggers/{row['trigger_id']}"
    edit = await page(client, f"{path}?merchant={owner.merchant_id}")
    assert 'value="tea-20"' in edit and 'name="holdout_percent" value="15"' in edit

    changed = trigger_form(owner, event="arrival", dwell_minutes="20", offer_key="tea-21")
    assert (await post(client, path, changed))[0] == 303
    after = await db.fetchrow(
        "SELECT * FROM marketing_triggers WHERE trigger_id = $1", row["trigger_id"]
    )
    assert (after["event"], after["dwell_minutes"], after["version"]) == ("arrival", None, 2)
    update, create = await entries(db, owner.merchant_id)
    assert (create.action, update.action) == (
        "marketing_trigger.create",
        "marketing_trigger.update",
    )
    assert update.before is not None and update.after is not None
    assert ("mkc_event", "dwell", "arrival") in update.changes()
    assert ("mkc_offer_key", "tea-20", "tea-21") in update.changes()
    assert update.after["mkc_store"] == owner.store_name
    status, again = await post(client, path, changed, follow=True)
    assert "Nothing was changed." in again and len(await entries(db, owner.merchant_id)) == 2


async def test_a_bad_trigger_shows_every_error_at_once_in_both_languages(
    client: TestClient, db: asyncpg.Pool, owner: Member
) -> None:
    other = await new_member(db)
    form = trigger_form(
        owner,
        name_en="",
        dwell_minutes="",
        store=str(other.store_id),
        channel="webhook",
        offer_key="no spaces",
        message_en="x" * 301,
        holdout_percent="100",
        window_days="0",
    )
    status, english = await post(client, "/marketing/triggers/new", form)
    _status, chinese = await post(client, "/marketing/triggers/new", form, headers=ZH)
    assert status == 400
    assert error_beside(english, "name_en") == "Enter a name of 1 to 60 characters."
    assert error_beside(english, "dwell_minutes") == "For “Stays”, enter 1 to 720 minutes."
    assert error_beside(english, "store") == "Choose one of this merchant's stores."
    assert error_beside(english, "webhook").startswith("The webhook channel needs one")
    assert "This merchant has no webhook yet" in english
    assert error_beside(english, "offer_key").startswith("Letters, digits and")
    assert error_beside(english, "message_en") == "At most 300 characters."
    assert error_beside(english, "holdout_percent") == "Enter a whole percentage from 0 to 99."
    assert error_beside(english, "window_days") == "Enter a whole number of days from 1 to 90."
    assert error_beside(chinese, "dwell_minutes") == "“停留”需填写 1 至 720 分钟。"
    assert error_beside(chinese, "holdout_percent") == "请输入 0 至 99 之间的整数百分比。"
    assert (
        await db.fetchval(
            "SELECT count(*) FROM marketing_triggers WHERE merchant_id = $1", owner.merchant_id
        )
        == 0
    )
    assert await entries(db, owner.merchant_id) == []


async def test_a_trigger_previews_its_audience(
    client: TestClient, db: asyncpg.Pool, owner: Member
) -> None:
    await five_shoppers(db, owner.merchant_id)
    form = [
        # The rule alone is needed for a preview: no name or offer yet.
        *trigger_form(owner, action="preview", name_en="", offer_key="")[:-4],
        *rows(("known_identity", "yes", ""), ("redemptions", ">=", "1")),
    ]
    status, body = await post(client, "/marketing/triggers/new", form)
    assert status == 200
    assert "(known by phone, email or voucher and coupons redeemed >= 1)" in text_of(body)
    assert "Shoppers matching now: 2" in text_of(body)
    bad = [*trigger_form(owner, action="preview")[:-4], *rows(("claims", "yes", ""))]
    status, refused = await post(client, "/marketing/triggers/new", bad)
    assert status == 400 and error_beside(refused, "row_0").startswith("This fact is a number")
    assert 'id="audience"' not in refused


# Send a test ---------------------------------------------------------------------------------


async def test_a_test_sms_goes_to_the_outbox_marked_and_is_no_contact(
    client: TestClient, db: asyncpg.Pool, owner: Member
) -> None:
    form = trigger_form(owner, channel="sms", action="test", test_phone="138 0013 8000")
    status, body = await post(client, "/marketing/triggers/new", form, headers=ZH)
    assert status == 200
    assert "测试短信已放入短信发件箱，收件号码 138****8000" in text_of(body)
    (sent,) = await db.fetch("SELECT * FROM sms_outbox WHERE merchant_id = $1", owner.merchant_id)
    assert sent["body"] == "【测试】送您一杯茶 回T退订"
    assert sent["masked_phone"] == "138****8000"
    assert b"13800138000" not in bytes(sent["sealed_phone"])
    outbox = text_of(await page(client, f"/sms-outbox?merchant={owner.merchant_id}"))
    assert "【测试】送您一杯茶" in outbox
    # No trigger was saved, no contact made; the test is in the audit log.
    for table in ("marketing_triggers", "marketing_contacts"):
        assert (
            await db.fetchval(
                f"SELECT count(*) FROM {table} WHERE merchant_id = $1",  # noqa: S608
                owner.merchant_id,
            )
            == 0
        )
    (entry,) = await entries(db, owner.merchant_id)
    assert entry.action == "marketing_trigger.test_send"
    assert entry.after == {
        "mkc_channel": "sms",
        "mkc_to": "138****8000",
        "mkc_message": "【测试】送您一杯茶 回T退订",
    }

    # The text in the number's language, as the dispatcher chooses it: English for +44.
    abroad = trigger_form(owner, channel="sms", action="test", test_phone="+44 7911 123456")
    status, _body = await post(client, "/marketing/triggers/new", abroad, headers=ZH)
    assert status == 200
    texts = await db.fetch(
        "SELECT body FROM sms_outbox WHERE merchant_id = $1 ORDER BY created_at", owner.merchant_id
    )
    assert [r["body"] for r in texts] == [
        "【测试】送您一杯茶 回T退订",
        "[TEST] A cup of tea on us Reply T to opt out",
    ]

    english = trigger_form(owner, channel="sms", action="test", test_phone="12")
    status, refused = await post(client, "/marketing/triggers/new", english)
    assert status == 400
    assert error_beside(refused, "test_phone").startswith("Enter a mobile number")
    assert (
        len(await db.fetch("SELECT 1 FROM sms_outbox WHERE merchant_id = $1", owner.merchant_id))
        == 2
    )


async def test_a_portal_offer_is_shown_on_a_phone_in_both_languages(
    client: TestClient, owner: Member
) -> None:
    status, body = await post(client, "/marketing/triggers/new", trigger_form(owner, action="test"))
    assert status == 200
    shown = text_of(body)
    assert "You're online" in shown and "An offer for you A cup of tea on us" in shown
    assert "您已连接网络" in shown and "为您准备的优惠 送您一杯茶" in shown


async def test_a_webhook_test_shows_the_signed_request_it_would_send(
    client: TestClient, db: asyncpg.Pool, settings: Settings, owner: Member
) -> None:
    webhook_id = await add_webhook(
        db,
        settings.secret_key,
        owner.merchant_id,
        "https://hooks.example.com/portico",
        "whsec-test",
    )
    form = trigger_form(owner, channel="webhook", webhook=str(webhook_id), action="test")
    status, body = await post(client, "/marketing/triggers/new", form)
    assert status == 200
    found = re.search(r'<pre class="request" id="test-request">(.*?)</pre>', body, re.DOTALL)
    shown_body = re.search(r'<pre class="request" id="test-body">(.*?)</pre>', body, re.DOTALL)
    assert found and shown_body
    head, sent = html.unescape(found.group(1)), html.unescape(shown_body.group(1))
    assert head.startswith("POST https://hooks.example.com/portico\n")
    signature = re.search(r"X-Portico-Signature: (t=\d+,v1=[0-9a-f]{64})", head)
    delivery = re.search(r"X-Portico-Delivery: ([0-9a-f-]{36})", head)
    assert signature and delivery
    # As a receiver checks it (the dispatcher's own verifier), over the bytes shown.
    assert webhooks.verify_signature("whsec-test", signature.group(1), sent.encode())
    assert not webhooks.verify_signature("another", signature.group(1), sent.encode())
    payload = json.loads(sent)
    assert payload["delivery_id"] == delivery.group(1)
    assert payload["type"] == "marketing.contact" and payload["shopper"] == "d:" + "0" * 32
    assert payload["message"] == {"zh-CN": "送您一杯茶", "en": "A cup of tea on us"}
    assert payload["offer_key"] == "tea-20"
    assert (
        await db.fetchval(
            "SELECT count(*) FROM marketing_contacts WHERE merchant_id = $1", owner.merchant_id
        )
        == 0
    )
    # Saved with its webhook; nothing was sent anywhere (no receiver exists).
    assert (
        await post(
            client,
            "/marketing/triggers/new",
            trigger_form(owner, channel="webhook", webhook=str(webhook_id)),
        )
    )[0] == 303
    assert (
        await db.fetchval(
            "SELECT webhook_id FROM marketing_triggers WHERE merchant_id = $1", owner.merchant_id
        )
        == webhook_id
    )


# The contact budget --------------------------------------------------------------------------


async def test_the_budget_is_saved_checked_and_audited(
    client: TestClient, db: asyncpg.Pool, owner: Member
) -> None:
    form = {
        "merchant": str(owner.merchant_id),
        "max_per_day": "2",
        "max_per_week": "5",
        "quiet_from": "22:30",
        "quiet_until": "08:00",
        "k_threshold": "80",
    }
    status, body = await post(client, "/marketing/budget", form, follow=True)
    assert status == 200 and "The contact budget was saved." in body
    row = await db.fetchrow(
        "SELECT * FROM marketing_settings WHERE merchant_id = $1", owner.merchant_id
    )
    assert (
        row["max_per_day"],
        row["max_per_week"],
        row["quiet_from"],
        row["quiet_until"],
        row["k_threshold"],
    ) == (
        2,
        5,
        time(22, 30),
        time(8, 0),
        80,
    )
    (entry,) = await entries(db, owner.merchant_id)
    assert entry.action == "marketing_budget.update"
    assert ("mkc_max_per_day", 1, 2) in entry.changes()
    assert ("mkc_quiet_from", "21:00", "22:30") in entry.changes()

    bad = form | {
        "max_per_day": "51",
        "max_per_week": "x",
        "quiet_from": "25:00",
        "k_threshold": "9",
    }
    status, english = await post(client, "/marketing/budget", bad)
    _status, chinese = await post(client, "/marketing/budget", bad, headers=ZH)
    assert status == 400
    assert error_beside(english, "max_per_day") == "Enter a whole number from 0 to 50."
    assert error_beside(english, "max_per_week") == "Enter a whole number from 0 to 200."
    assert error_beside(english, "quiet_from") == "Enter a time as HH:MM."
    assert error_beside(english, "k_threshold") == "Enter a whole number from 10 to 10000."
    assert error_beside(chinese, "k_threshold") == "请输入 10 至 10000 之间的整数。"
    status, below = await post(client, "/marketing/budget", form | {"max_per_week": "1"})
    assert (
        status == 400 and error_beside(below, "max_per_week") == "At least the day's maximum (2)."
    )
    assert len(await entries(db, owner.merchant_id)) == 1


# Who may ----------------------------------------------------------------------------------------


async def test_staff_see_the_pages_read_only_and_may_change_nothing(
    client: TestClient, db: asyncpg.Pool
) -> None:
    member = await new_member(db)
    email = f"staff-{uuid.uuid4().hex}@example.com"
    staff = await accounts.create_user(db, email, "Staff", PASSWORD)
    await accounts.add_membership(db, member.merchant_id, staff, "staff")
    trigger_id = await triggers.save_trigger(
        db,
        member.merchant_id,
        triggers.TriggerSpec(
            name_zh="欢迎",
            name_en="Welcome",
            event="arrival",
            rule={"all": []},
            channel="portal",
            offer_key="welcome",
            message_en="Hello",
        ),
    )
    await sign_in(client, email)
    query = f"?merchant={member.merchant_id}"

    overview = await page(client, "/marketing" + query)
    assert "only an owner can change it" in overview
    assert 'id="new-tag"' not in overview and 'id="new-trigger"' not in overview
    for path in (
        f"/marketing/tags/frequent{query}",
        f"/marketing/triggers/{trigger_id}{query}",
        f"/marketing/budget{query}",
    ):
        body = await page(client, path)
        assert "<fieldset disabled>" in body, path
        assert 'id="save"' not in body and 'id="send-test"' not in body, path
    for path in ("/marketing/tags/new", "/marketing/triggers/new"):
        assert (await client.get(path + query, headers=EN)).status == 403
    token = csrf_token(overview)
    for path, form in (
        ("/marketing/tags/frequent", {"name_zh": "x", "name_en": "x", "action": "save"}),
        ("/marketing/tags/new", {"tag_id": "mine", "action": "preview"}),
        (f"/marketing/triggers/{trigger_id}", {"action": "test", "channel": "sms"}),
        ("/marketing/budget", {"max_per_day": "5"}),
    ):
        answer = await client.post(
            path,
            data={**form, "merchant": str(member.merchant_id), "csrf_token": token},
            headers=EN,
        )
        assert answer.status == 403, path
        assert "Only an owner of the merchant can use this page." in await answer.text()
    assert (
        await db.fetchval(
            "SELECT count(*) FROM marketing_settings WHERE merchant_id = $1", member.merchant_id
        )
        == 0
    )
    assert await entries(db, member.merchant_id) == []


async def test_another_merchants_tags_triggers_and_merchant_are_404(
    client: TestClient, db: asyncpg.Pool, owner: Member
) -> None:
    other = await new_member(db)
    await tags.save_tag(db, other.merchant_id, "theirs", "他们的", "Theirs", {"all": []})
    theirs = await triggers.save_trigger(
        db,
        other.merchant_id,
        triggers.TriggerSpec(
            name_zh="他们",
            name_en="Theirs",
            event="login",
            rule={"all": []},
            channel="portal",
            offer_key="theirs",
        ),
    )
    mine = f"?merchant={owner.merchant_id}"
    for path in (
        f"/marketing/tags/theirs{mine}",
        f"/marketing/triggers/{theirs}{mine}",
        f"/marketing/triggers/{theirs}",
        f"/marketing/triggers/not-a-uuid{mine}",
        f"/marketing?merchant={other.merchant_id}",
        f"/marketing/budget?merchant={other.merchant_id}",
        f"/marketing/tags/frequent?merchant={other.merchant_id}",
    ):
        assert (await client.get(path, headers=EN)).status == 404, path
    for path, form in (
        (
            "/marketing/tags/theirs",
            {"merchant": str(owner.merchant_id), "name_zh": "x", "name_en": "x"},
        ),
        (f"/marketing/triggers/{theirs}", {"merchant": str(owner.merchant_id)}),
        ("/marketing/budget", {"merchant": str(other.merchant_id), "max_per_day": "9"}),
        ("/marketing/tags/new", {"merchant": str(other.merchant_id), "tag_id": "x"}),
    ):
        status, _ = await post(client, path, form)
        assert status == 404, path
    # A store of another merchant on one's own trigger: refused as any unknown store.
    status, body = await post(
        client, "/marketing/triggers/new", trigger_form(owner, store=str(other.store_id))
    )
    assert status == 400 and error_beside(body, "store")
    (kept,) = await tags.list_tags(db, other.merchant_id)
    assert (kept.name_en, kept.version) == ("Theirs", 1)
    assert await entries(db, other.merchant_id) == []
