"""The console's segment pages against the real PostgreSQL (marketing/console_segments.py): the
list and the overview with each segment's rule in words, live size and what advertisers see, in
both languages; a segment previewed, added, edited, saved unchanged and deleted, each change
audited; every bad field beside it (400, nothing stored); staff read-only; another merchant's
segment a 404. And the advertiser's Segments page (ads/advertiser_segments.py): only the
segments shared by the merchants the advertiser works with, a count only at or above each
merchant's k-threshold, never a profile."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from accounts import audit
from accounts import services as accounts
from accounts.messages import MESSAGES as ACCOUNT_MESSAGES
from ads import advertisers
from ads.advertiser_segments import related_merchants
from ads.messages import ADVERTISERS as ADS_ADVERTISERS
from ads.messages_segments import SEGMENTS as ADVERTISER_SEGMENTS
from kernel.config import Settings
from kernel.i18n import LANGUAGES
from marketing import audience, demo, segments, tags
from marketing import services as marketing
from marketing.messages_console import CONSOLE
from marketing.messages_segments import SEGMENTS
from marketing.segments import SegmentSpec
from portico.console_app import make_console_app
from tests.ads.test_advertiser_pages import CAMPAIGN, line_item
from tests.console.test_console_app import EN, PASSWORD, ZH, Member, new_member, sign_in
from tests.marketing.test_marketing_console import (
    add_profile,
    error_beside,
    five_shoppers,
    key,
    page,
    post,
    rows,
    text_of,
)

NOW = datetime.now(UTC)
REGULARS = {"fact": "visits_30d", "op": ">=", "value": 3}


@pytest.fixture
async def client(settings: Settings, db: asyncpg.Pool) -> AsyncIterator[TestClient]:
    async with TestClient(TestServer(make_console_app(settings, db))) as client:
        yield client


@pytest.fixture
async def owner(client: TestClient, db: asyncpg.Pool) -> Member:
    member = await new_member(db)
    assert (await sign_in(client, member.email)).status == 303
    return member


async def crowd(db: asyncpg.Pool, merchant_id: uuid.UUID, regulars: int, once: int) -> None:
    """`regulars` shoppers with 3 visits in 30 days, `once` with one visit 2 days ago."""
    for _ in range(regulars):
        await add_profile(db, merchant_id, key("d"), visits_ago=[1, 5, 9], total=3)
    for _ in range(once):
        await add_profile(db, merchant_id, key("d"), visits_ago=[2], total=1)


async def set_k(db: asyncpg.Pool, merchant_id: uuid.UUID, k: int) -> None:
    await db.execute(
        "INSERT INTO marketing_settings (merchant_id, k_threshold) VALUES ($1, $2)"
        " ON CONFLICT (merchant_id) DO UPDATE SET k_threshold = $2",
        merchant_id,
        k,
    )


def cell(body: str, row_id: str, index: int) -> str:
    """The text of a table row's `index`-th cell."""
    found = re.search(rf'<tr id="{row_id}">(.*?)</tr>', body, re.S)
    assert found, f"no row {row_id}"
    cells = re.findall(r"<td[^>]*>(.*?)</td>", found.group(1), re.S)
    return text_of(cells[index]).strip()


def segment_form(member: Member, **changes: str) -> list[tuple[str, str]]:
    fields = {
        "merchant": str(member.merchant_id),
        "name_zh": "常客",
        "name_en": "Regulars",
        "shared": "1",
        "combine": "all",
        "action": "save",
    } | changes
    return [*((k, v) for k, v in fields.items() if v is not None), *rows(("visits_30d", ">=", "3"))]


# The list and the overview -------------------------------------------------------------------


async def test_segments_are_listed_with_their_rule_live_size_and_what_advertisers_see(
    client: TestClient, db: asyncpg.Pool, owner: Member
) -> None:
    await crowd(db, owner.merchant_id, regulars=12, once=3)
    await set_k(db, owner.merchant_id, 10)
    big = await segments.save_segment(
        db, owner.merchant_id, SegmentSpec("常客", "Regulars", REGULARS, True)
    )
    few = await segments.save_segment(
        db,
        owner.merchant_id,
        SegmentSpec("新客", "Newcomers", {"fact": "visits_total", "op": "<=", "value": 1}, True),
    )
    mine = await segments.save_segment(
        db, owner.merchant_id, SegmentSpec("全部", "Everyone", {"all": []}, False)
    )
    query = f"?merchant={owner.merchant_id}"
    for path in ("/marketing/segments" + query, "/marketing" + query):
        english, chinese = await page(client, path), await page(client, path, ZH)
        big_row, few_row, mine_row = (f"segment-row-{s.segment_id}" for s in (big, few, mine))
        assert [cell(english, big_row, i) for i in range(4)] == [
            "Regulars",
            "visits in the last 30 days >= 3",
            "12",
            "Shared They see its name and 12 shoppers.",
        ]
        assert [cell(chinese, big_row, i) for i in range(4)] == [
            "常客",
            "近 30 天到店次数 >= 3",
            "12 人",
            "已共享 广告主可见名称及人数 12 人。",
        ]
        assert cell(english, few_row, 2) == "3"
        assert cell(english, few_row, 3) == "Shared They see its name and “fewer than 10”."
        assert cell(chinese, few_row, 3) == "已共享 广告主可见名称及“少于 10 人”。"
        assert (cell(english, mine_row, 2), cell(english, mine_row, 3)) == ("15", "Not shared")
        assert cell(chinese, mine_row, 3) == "未共享"
        assert 'id="new-segment"' in english
    listing = text_of(await page(client, "/marketing/segments" + query))
    assert "with a count only when it is at least 10 shoppers" in listing


async def test_the_demo_segments_appear_with_live_sizes_two_shared(
    client: TestClient, db: asyncpg.Pool, owner: Member
) -> None:
    await five_shoppers(db, owner.merchant_id)
    await demo.seed_tags_and_segments(db, owner.merchant_id)
    await demo.seed_tags_and_segments(db, owner.merchant_id)  # made once
    found = await segments.list_segments(db, owner.merchant_id)
    assert sorted((s.name_en, s.shared_with_advertisers) for s in found) == [
        ("Came twice in 30 days", True),
        ("Frequent lunchtime regulars", True),
        ("Lapsed, back", False),
    ]
    body = await page(client, f"/marketing?merchant={owner.merchant_id}")
    for segment in found:
        counted = await audience.count_matching(db, owner.merchant_id, segment.rule, NOW)
        assert cell(body, f"segment-row-{segment.segment_id}", 2) == str(counted)


async def test_a_page_of_segments_is_counted_in_one_pass_as_each_alone(
    db: asyncpg.Pool,
) -> None:
    member = await new_member(db)
    await five_shoppers(db, member.merchant_id)
    await tags.ensure_defaults(db, member.merchant_id)
    specs = [
        SegmentSpec("a", "a", {"all": []}),
        SegmentSpec("b", "b", {"tag": "frequent"}),
        SegmentSpec("c", "c", {"fact": "known_identity", "op": "=", "value": True}),
        SegmentSpec("d", "d", {"fact": "days_since_last_visit", "op": ">", "value": 30}),
    ]
    made = [await segments.save_segment(db, member.merchant_id, s) for s in specs]
    sizes = await segments.live_sizes(db, member.merchant_id, made)
    alone = [await audience.count_matching(db, member.merchant_id, s.rule, NOW) for s in made]
    assert [sizes[s.segment_id] for s in made] == alone == [5, 2, 2, 1]


# One segment ---------------------------------------------------------------------------------


async def test_an_owner_previews_adds_edits_and_deletes_a_segment_each_change_audited(
    client: TestClient, db: asyncpg.Pool, owner: Member
) -> None:
    await five_shoppers(db, owner.merchant_id)
    form = segment_form(owner)

    preview = segment_form(owner, action="preview")
    status, previewed = await post(client, "/marketing/segments/new", preview)
    assert status == 200
    assert "visits in the last 30 days >= 3" in text_of(previewed)
    assert "Shoppers matching now: 3" in text_of(previewed)
    _status, chinese = await post(client, "/marketing/segments/new", preview, headers=ZH)
    assert "当前符合的顾客：3 人" in text_of(chinese)
    assert await segments.list_segments(db, owner.merchant_id) == []  # a preview saves nothing
    status, added = await post(client, "/marketing/segments/new", form, follow=True)
    assert "The segment was added." in added
    (made,) = await segments.list_segments(db, owner.merchant_id)
    assert (made.name_zh, made.name_en, made.shared_with_advertisers, made.rule) == (
        "常客",
        "Regulars",
        True,
        REGULARS,
    )
    (entry,) = await audit.entries(db, owner.merchant_id)
    assert (entry.action, entry.actor_id, entry.target_id, entry.before) == (
        "marketing_segment.create",
        owner.user_id,
        str(made.segment_id),
        None,
    )
    assert entry.after == {
        "mkc_name_zh": "常客",
        "mkc_name_en": "Regulars",
        "mkc_rule": '{"fact":"visits_30d","op":">=","value":3}',
        "mkc_shared": True,
    }

    # Its page reads the rule back into rows and shows its size and what advertisers see.
    path = f"/marketing/segments/{made.segment_id}"
    edit = await page(client, f"{path}?merchant={owner.merchant_id}")
    assert '<option value="visits_30d" selected>' in edit and 'name="value_0" value="3"' in edit
    assert 'name="shared" value="1" id="f-shared" checked' in edit
    assert "Shoppers in it now: 3" in text_of(edit)
    assert "They see its name and “fewer than 50”." in text_of(edit)
    zh_edit = text_of(await page(client, f"{path}?merchant={owner.merchant_id}", ZH))
    assert "当前人数：3 人" in zh_edit and "人群: 常客" in zh_edit

    changed = [
        *segment_form(owner, name_en="Regulars and redeemers", shared=None),
        ("tag", "coupon_redeemer"),
    ]
    status, saved = await post(client, path, changed, follow=True)
    assert "The segment was saved." in saved
    (edited,) = await segments.list_segments(db, owner.merchant_id)
    assert (edited.name_en, edited.shared_with_advertisers) == ("Regulars and redeemers", False)
    assert edited.rule == {"all": [REGULARS, {"tag": "coupon_redeemer"}]}
    update, _create = await audit.entries(db, owner.merchant_id)
    assert update.action == "marketing_segment.update"
    assert ("mkc_shared", True, False) in update.changes()
    assert ("mkc_name_en", "Regulars", "Regulars and redeemers") in update.changes()
    assert "Regulars and redeemers" in text_of(saved)  # back on the list, with its new name

    # The same again: nothing changes, nothing is logged.
    status, again = await post(client, path, changed, follow=True)
    assert "Nothing was changed." in again
    assert len(await audit.entries(db, owner.merchant_id)) == 2
    log = text_of(await page(client, f"/audit?merchant={owner.merchant_id}"))
    assert "Segment changed" in log and "Segment added" in log
    assert "shared with advertisers: yes → no" in log

    # Deleted: gone, and the log keeps what it was.
    status, deleted = await post(
        client, path + "/delete", {"merchant": str(owner.merchant_id)}, follow=True
    )
    assert "The segment was deleted." in deleted
    assert await segments.list_segments(db, owner.merchant_id) == []
    gone, *_ = await audit.entries(db, owner.merchant_id)
    assert (gone.action, gone.after) == ("marketing_segment.delete", None)
    assert gone.before is not None and gone.before["mkc_name_en"] == "Regulars and redeemers"
    assert (await client.get(f"{path}?merchant={owner.merchant_id}", headers=EN)).status == 404
    status, _ = await post(client, path + "/delete", {"merchant": str(owner.merchant_id)})
    assert status == 404


async def test_a_bad_segment_comes_back_with_each_error_beside_its_field_in_both_languages(
    client: TestClient, db: asyncpg.Pool, owner: Member
) -> None:
    form = [
        ("merchant", str(owner.merchant_id)),
        ("name_zh", ""),
        ("name_en", "x" * 61),
        ("shared", "1"),
        *rows(("visits_30d", ">=", "many"), ("first_visit", ">=", "1"), ("nope", ">", "1")),
        ("tag", "frequent"),
        ("tag", "someone_elses"),
        ("action", "save"),
    ]
    status, english = await post(client, "/marketing/segments/new", form)
    _status, chinese = await post(client, "/marketing/segments/new", form, headers=ZH)

    assert status == 400 and _status == 400
    assert "Nothing was saved" in english
    assert error_beside(english, "name_zh") == "Enter a name of 1 to 60 characters."
    assert error_beside(english, "name_en") == "Enter a name of 1 to 60 characters."
    assert error_beside(english, "row_0") == "Enter a whole number from 0 to 100000."
    assert error_beside(english, "row_1") == "A yes-or-no fact takes “is yes” or “is no”."
    assert error_beside(english, "row_2") == "Choose a fact."
    assert error_beside(english, "tags") == "This merchant has no tag someone_elses."
    assert error_beside(chinese, "name_zh") == "请输入 1 至 60 个字符的名称。"
    assert error_beside(chinese, "row_0") == "请输入 0 至 100000 之间的整数。"
    assert error_beside(chinese, "tags") == "该商户没有标签 someone_elses。"
    assert 'value="many"' in english and 'value="' + "x" * 61 + '"' in english  # as typed
    # Preview with a bad row: the row's error, nothing counted.
    status, previewed = await post(
        client, "/marketing/segments/new", [*form[:-1], ("action", "preview")]
    )
    assert status == 400 and 'id="audience"' not in previewed
    assert error_beside(previewed, "row_0")
    assert await segments.list_segments(db, owner.merchant_id) == []
    assert await audit.entries(db, owner.merchant_id) == []


async def test_a_merchant_has_at_most_max_segments(
    client: TestClient, db: asyncpg.Pool, owner: Member
) -> None:
    for i in range(50):
        await segments.save_segment(db, owner.merchant_id, SegmentSpec(f"{i}", f"{i}", {"all": []}))
    status, body = await post(client, "/marketing/segments/new", segment_form(owner))
    assert status == 400
    assert error_beside(body, "segment") == "A merchant has at most 50 segments: delete one first."
    assert len(await segments.list_segments(db, owner.merchant_id)) == 50
    assert await audit.entries(db, owner.merchant_id) == []
    listing = await page(client, f"/marketing/segments?merchant={owner.merchant_id}")
    assert 'id="new-segment"' not in listing


# Who may -------------------------------------------------------------------------------------


async def test_staff_see_segments_read_only_and_may_change_nothing(
    client: TestClient, db: asyncpg.Pool
) -> None:
    member = await new_member(db)
    email = f"staff-{uuid.uuid4().hex}@example.com"
    staff = await accounts.create_user(db, email, "Staff", PASSWORD)
    await accounts.add_membership(db, member.merchant_id, staff, "staff")
    made = await segments.save_segment(
        db, member.merchant_id, SegmentSpec("常客", "Regulars", REGULARS, True)
    )
    await sign_in(client, email)
    query = f"?merchant={member.merchant_id}"
    path = f"/marketing/segments/{made.segment_id}"

    listing = await page(client, "/marketing/segments" + query)
    assert "only an owner can change it" in listing and 'id="new-segment"' not in listing
    assert "Regulars" in listing
    overview = await page(client, "/marketing" + query)
    assert 'id="new-segment"' not in overview and "Regulars" in overview
    body = await page(client, path + query)
    assert "<fieldset disabled>" in body
    assert 'id="save"' not in body and 'id="delete-segment"' not in body
    assert (await client.get("/marketing/segments/new" + query, headers=EN)).status == 403
    for target, form in (
        (path, segment_form(member, name_en="Mine")),
        (path, segment_form(member, action="preview")),
        ("/marketing/segments/new", segment_form(member)),
        (path + "/delete", [("merchant", str(member.merchant_id))]),
    ):
        status, answer = await post(client, target, form)
        assert status == 403, target
        assert "Only an owner of the merchant can use this page." in answer
    assert await segments.list_segments(db, member.merchant_id) == [made]
    assert await audit.entries(db, member.merchant_id) == []


async def test_another_merchants_segment_is_404(
    client: TestClient, db: asyncpg.Pool, owner: Member
) -> None:
    other = await new_member(db)
    theirs = await segments.save_segment(
        db, other.merchant_id, SegmentSpec("他们", "Theirs", {"all": []}, True)
    )
    mine = f"?merchant={owner.merchant_id}"
    for path in (
        f"/marketing/segments/{theirs.segment_id}{mine}",
        f"/marketing/segments/{theirs.segment_id}",
        f"/marketing/segments/not-a-uuid{mine}",
        f"/marketing/segments?merchant={other.merchant_id}",
        f"/marketing/segments/new?merchant={other.merchant_id}",
    ):
        assert (await client.get(path, headers=EN)).status == 404, path
    for path, form in (
        (f"/marketing/segments/{theirs.segment_id}", segment_form(owner)),
        (f"/marketing/segments/{theirs.segment_id}/delete", [("merchant", str(owner.merchant_id))]),
        ("/marketing/segments/new", [("merchant", str(other.merchant_id))]),
        (f"/marketing/segments/{theirs.segment_id}/delete", [("merchant", str(other.merchant_id))]),
    ):
        status, _ = await post(client, path, form)
        assert status == 404, path
    assert await segments.list_segments(db, other.merchant_id) == [theirs]
    assert await segments.list_segments(db, owner.merchant_id) == []
    assert await audit.entries(db, other.merchant_id) == []


# The advertiser's Segments page ------------------------------------------------------------


async def an_advertiser(
    db: asyncpg.Pool, merchant_id: uuid.UUID | None = None, name: str = ""
) -> tuple[advertisers.AdvertiserMembership, str]:
    """An advertiser (of food) and a viewer member of it: the membership and the email."""
    email = f"adv-{uuid.uuid4().hex}@example.com"
    user_id = await accounts.create_user(db, email, "Ad Person", PASSWORD)
    async with db.acquire() as conn:
        advertiser_id = await advertisers.create_advertiser(
            conn,
            name or f"Tea Co {uuid.uuid4().hex[:6]}",
            category="food",
            merchant_id=merchant_id,
        )
        await advertisers.add_member(conn, advertiser_id, user_id, "viewer")
    (membership,) = await advertisers.memberships_of(db, user_id)
    return membership, email


async def ask(
    db: asyncpg.Pool, advertiser: advertisers.AdvertiserMembership, *merchants: uuid.UUID
) -> uuid.UUID:
    """A campaign of the advertiser's whose line item asks these merchants (pending there)."""
    zone = ZoneInfo("Asia/Shanghai")
    fields = advertisers.campaign_fields(CAMPAIGN, zone)
    campaign_id = await advertisers.create_campaign(db, advertiser.advertiser_id, fields)
    item = line_item(" ".join(map(str, merchants)))
    await advertisers.save_line_item(
        db,
        advertiser,
        campaign_id,
        advertisers.line_item_fields(item, zone, fields),
        actor=audit.Actor.system("test"),
    )
    return campaign_id


async def test_an_advertiser_sees_only_what_the_merchants_it_works_with_share_at_k_or_more(
    client: TestClient, db: asyncpg.Pool
) -> None:
    advertiser, email = await an_advertiser(db)
    approved, pending, blocked, stranger = [await new_member(db) for _ in range(4)]
    names: dict[str, uuid.UUID] = {}

    async def share(member: Member, label: str, rule: object, shared: bool = True) -> None:
        name = f"{label} {uuid.uuid4().hex[:6]}"
        spec = SegmentSpec(f"{name} 中", name, rule, shared)
        names[label] = (await segments.save_segment(db, member.merchant_id, spec)).segment_id

    for member in (approved, pending, blocked, stranger):
        await crowd(db, member.merchant_id, regulars=12, once=3)
        await set_k(db, member.merchant_id, 10)
    await share(approved, "Big", REGULARS)  # 12 ≥ k
    await share(approved, "Few", {"fact": "visits_total", "op": "<=", "value": 1})  # 3 < k
    await share(approved, "Unshared", {"all": []}, shared=False)
    await share(pending, "Pending", REGULARS)
    await share(blocked, "Blocked", REGULARS)
    await share(stranger, "Stranger", REGULARS)
    campaign = await ask(db, advertiser, approved.merchant_id, pending.merchant_id)
    other = await ask(db, advertiser, blocked.merchant_id)
    for member, asked in ((approved, campaign), (blocked, other)):
        await advertisers.decide(db, member.merchant_id, asked, "approved", "", member.user_id)
    await advertisers.add_block(
        db,
        blocked.merchant_id,
        advertiser_id=advertiser.advertiser_id,
        category=None,
        created_by=blocked.user_id,
    )

    assert await related_merchants(db, advertiser.advertiser_id) == [approved.merchant_id]
    assert {
        (s.segment_id, s.size, s.k)
        for s in await marketing.shared_segments(db, approved.merchant_id)
    } == {(names["Big"], 12, 10), (names["Few"], None, 10)}

    await sign_in(client, email)
    query = f"?advertiser={advertiser.advertiser_id}"
    english = await page(client, "/advertiser/segments" + query)
    chinese = await page(client, "/advertiser/segments" + query, ZH)
    shown = {label for label in names if f"{label} " in english}
    assert shown == {"Big", "Few"}
    assert cell(english, f"segment-{names['Big']}", 1) == "12"
    assert cell(english, f"segment-{names['Few']}", 1) == "fewer than 10"
    assert cell(chinese, f"segment-{names['Big']}", 1) == "12 人"
    assert cell(chinese, f"segment-{names['Few']}", 1) == "少于 10 人"
    assert cell(chinese, f"segment-{names['Big']}", 0).endswith(" 中")  # its Chinese name
    assert "Counts under 10 shoppers are not shown." in text_of(english)
    # Never a profile: no key, no rule, no count under k.
    keys = await db.fetch(
        "SELECT profile_key FROM marketing_profiles WHERE merchant_id = $1", approved.merchant_id
    )
    assert not [r["profile_key"] for r in keys if r["profile_key"] in english]
    assert "visits_30d" not in english and "visits in the last 30 days" not in english
    assert not re.search(r"<td[^>]*>\s*3\s*</td>", english)
    # The campaigns page links here; another advertiser's id is a 404.
    assert "/advertiser/segments?advertiser=" in await page(client, "/advertiser" + query)
    someone, _ = await an_advertiser(db)
    foreign = await client.get(f"/advertiser/segments?advertiser={someone.advertiser_id}")
    assert foreign.status == 404


async def test_an_advertiser_of_no_venue_sees_none_and_its_own_merchant_counts(
    client: TestClient, db: asyncpg.Pool
) -> None:
    lonely, email = await an_advertiser(db)
    await sign_in(client, email)
    body = await page(client, "/advertiser/segments")
    assert 'id="no-venues"' in body and "No venue has approved" in text_of(body)
    assert "暂无场所批准" in text_of(await page(client, "/advertiser/segments", ZH))

    venue = await new_member(db)
    own, _ = await an_advertiser(db, merchant_id=venue.merchant_id)
    assert await related_merchants(db, own.advertiser_id) == [venue.merchant_id]
    assert await related_merchants(db, lonely.advertiser_id) == []
    # A merchant whose segments are all unshared is listed with none.
    await segments.save_segment(db, venue.merchant_id, SegmentSpec("甲", "A", {"all": []}))
    assert await marketing.shared_segments(db, venue.merchant_id) == []


async def test_a_refused_request_or_a_blocked_category_shows_nothing(db: asyncpg.Pool) -> None:
    advertiser, _ = await an_advertiser(db)
    refused, category = await new_member(db), await new_member(db)
    first = await ask(db, advertiser, refused.merchant_id, category.merchant_id)
    await advertisers.decide(db, refused.merchant_id, first, "rejected", "no", refused.user_id)
    await advertisers.decide(db, category.merchant_id, first, "approved", "", category.user_id)
    assert await related_merchants(db, advertiser.advertiser_id) == [category.merchant_id]
    await advertisers.add_block(
        db, category.merchant_id, advertiser_id=None, category="food", created_by=category.user_id
    )
    assert await related_merchants(db, advertiser.advertiser_id) == []


def test_every_text_of_the_segment_pages_is_in_both_languages() -> None:
    """Each of the pages' own texts has zh-CN and English, and each message id their templates
    name is in the console's catalog."""
    for catalog in (SEGMENTS, ADVERTISER_SEGMENTS):
        for message_id, texts in catalog.items():
            assert set(texts) == set(LANGUAGES), message_id
    known = SEGMENTS | ADVERTISER_SEGMENTS | CONSOLE | ADS_ADVERTISERS | ACCOUNT_MESSAGES
    root = Path(__file__).resolve().parents[2]
    for template in (
        "marketing/templates/marketing/segments.html",
        "marketing/templates/marketing/segment_form.html",
        "marketing/templates/marketing/segment_table.html",
        "ads/templates/ads/advertiser_segments.html",
    ):
        named = set(re.findall(r"""_\(["']([a-z0-9_]+)["']""", (root / template).read_text()))
        assert named, template
        assert not named - known.keys(), (template, named - known.keys())
