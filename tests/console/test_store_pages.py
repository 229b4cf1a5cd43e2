"""The console's Stores pages: owners add and edit their stores, every field checked with an
error in the user's language, each change in the audit log; staff get 403, and one merchant's
session gets 404 on another's ids."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from accounts import audit, stores
from accounts import services as accounts
from kernel.config import Settings
from portico.console_app import make_console_app
from tests.accounts.test_plans import set_plan
from tests.console.test_console_app import EN, PASSWORD, ZH, Member, csrf_token, new_member, sign_in

FORM = {
    "name": "Harbour Branch",
    "address": "8 Harbour Road",
    "city": "Ningbo",
    "category": "grocery",
    "timezone": "Asia/Shanghai",
    "mon_opens": "08:00",
    "mon_closes": "22:00",
    "tue_opens": "08:00",
    "tue_closes": "22:00",
}


@pytest.fixture
async def client(settings: Settings, db: asyncpg.Pool) -> AsyncIterator[TestClient]:
    async with TestClient(TestServer(make_console_app(settings, db))) as client:
        yield client


async def _token(client: TestClient, path: str = "/stores/new") -> str:
    return csrf_token(await (await client.get(path, headers=EN)).text())


async def _store_named(db: asyncpg.Pool, member: Member, name: str) -> uuid.UUID | None:
    found = await stores.list_store_details(db, member.merchant_id)
    return next((store_id for store_id, d in found if d.name == name), None)


async def test_an_owner_adds_a_store_and_finds_it_listed_and_audited(
    client: TestClient, db: asyncpg.Pool
) -> None:
    member = await new_member(db)
    await set_plan(db, member.merchant_id, "standard")  # Free has room for its one store only
    await sign_in(client, member.email)

    form = FORM | {"csrf_token": await _token(client), "merchant": str(member.merchant_id)}
    response = await client.post("/stores/new", data=form, headers=EN)

    assert response.status == 200  # after the redirect
    text = await response.text()
    assert "The store was added." in text
    assert "Harbour Branch" in text and "Mon–Tue 08:00–22:00" in text and "Grocery" in text
    assert "Standard plan</strong> · <span" in text and ">Stores 2 / 5</span>" in text
    store_id = await _store_named(db, member, "Harbour Branch")
    assert store_id is not None
    entry, _plan = await audit.entries(db, member.merchant_id)
    assert (entry.action, entry.actor_id, entry.target_id) == (
        "store.create",
        member.user_id,
        str(store_id),
    )
    zh = await (await client.get("/stores", headers=ZH)).text()
    assert "周一–周二 08:00–22:00" in zh and "超市便利" in zh


async def test_a_store_over_the_plan_comes_back_with_the_limit_and_nothing_is_stored(
    client: TestClient, db: asyncpg.Pool
) -> None:
    member = await new_member(db)  # Free: one store, which it has
    await sign_in(client, member.email)
    listing = await (await client.get("/stores", headers=EN)).text()
    assert "Free plan</strong>" in listing and "Stores 1 / 1 <strong" in listing
    assert "(limit reached)" in listing

    form = FORM | {"csrf_token": await _token(client), "merchant": str(member.merchant_id)}
    english = await client.post("/stores/new", data=form, headers=EN)
    chinese = await client.post("/stores/new", data=form, headers=ZH)

    assert english.status == chinese.status == 409
    page = await english.text()
    assert 'id="store-errors">Store limit reached: the Free plan allows 1.' in page
    assert 'value="Harbour Branch"' in page  # what was typed comes back
    assert "门店数量已达上限：免费版套餐最多 1 家。门店未添加" in await chinese.text()
    assert await _store_named(db, member, "Harbour Branch") is None
    assert await audit.entries(db, member.merchant_id) == []


async def test_an_owner_edits_a_store_and_the_log_has_before_and_after(
    client: TestClient, db: asyncpg.Pool
) -> None:
    member = await new_member(db)
    await sign_in(client, member.email)
    path = f"/stores/{member.store_id}"
    page = await (await client.get(path, headers=EN)).text()
    assert f'value="{member.store_name}"' in page

    form = FORM | {"name": member.store_name, "csrf_token": csrf_token(page)}
    saved = await client.post(path, data=form, headers=EN)
    again = await client.post(path, data=form, headers=EN)

    assert "The store was saved." in await saved.text()
    assert "Nothing was changed." in await again.text()
    [entry] = await audit.entries(db, member.merchant_id)  # the unchanged save adds none
    assert entry.action == "store.update"
    assert ("city", None, "Ningbo") in entry.changes()
    log = await (await client.get("/audit", headers=EN)).text()
    assert "Store changed" in log and "<ins>Ningbo</ins>" in log
    assert "<del>Other</del> → <ins>Grocery</ins>" in log  # coded values by their texts
    assert "<ins>Mon 08:00–22:00, Tue 08:00–22:00</ins>" in log


@pytest.mark.parametrize(
    ("changed", "english", "chinese"),
    [
        ({"name": ""}, "Enter a name of 1 to 200 characters.", "请输入 1 至 200 个字符的名称。"),
        ({"city": "x" * 81}, "This may have at most 80 characters.", "最多 80 个字符。"),
        ({"category": "casino"}, "Choose a category from the list.", "请从列表中选择类别。"),
        (
            {"timezone": "Asia/Atlantis"},
            "Choose a time zone from the list.",
            "请从列表中选择时区。",
        ),
        ({"wed_closes": "17:00"}, "Enter both the opening and the closing time", "请同时填写"),
        ({"mon_opens": "8 am"}, "Enter times as hours and minutes", "请按“时:分”格式填写时间"),
    ],
)
async def test_a_bad_field_comes_back_with_its_error_in_the_users_language(
    client: TestClient, db: asyncpg.Pool, changed: dict[str, str], english: str, chinese: str
) -> None:
    member = await new_member(db)
    await sign_in(client, member.email)
    token = await _token(client)

    for headers, expected in ((EN, english), (ZH, chinese)):
        form = FORM | changed | {"csrf_token": token, "merchant": str(member.merchant_id)}
        response = await client.post("/stores/new", data=form, headers=headers)
        assert response.status == 400
        text = await response.text()
        assert expected in text
        assert 'aria-invalid="true"' in text

    assert await _store_named(db, member, FORM["name"]) is None
    assert await audit.entries(db, member.merchant_id) == []


async def test_a_form_without_the_csrf_token_is_refused(
    client: TestClient, db: asyncpg.Pool
) -> None:
    member = await new_member(db)
    await sign_in(client, member.email)

    added = await client.post("/stores/new", data=FORM, headers=EN)
    edited = await client.post(f"/stores/{member.store_id}", data=FORM, headers=EN)

    assert (added.status, edited.status) == (403, 403)
    assert await _store_named(db, member, FORM["name"]) is None


async def test_staff_get_403_on_every_stores_page(client: TestClient, db: asyncpg.Pool) -> None:
    member = await new_member(db)
    email = f"staff-{uuid.uuid4().hex}@example.com"
    staff = await accounts.create_user(db, email, "Staff", PASSWORD)
    await accounts.add_membership(db, member.merchant_id, staff, "staff")
    await sign_in(client, email)
    token = csrf_token(await (await client.get("/dashboard", headers=EN)).text())
    form = FORM | {"csrf_token": token, "merchant": str(member.merchant_id)}

    for method, path in [
        ("GET", "/stores"),
        ("GET", "/stores/new"),
        ("POST", "/stores/new"),
        ("GET", f"/stores/{member.store_id}"),
        ("POST", f"/stores/{member.store_id}"),
    ]:
        response = await client.request(method, path, data=form, headers=EN)
        assert response.status == 403, (method, path)
        assert "Only an owner" in await response.text()
    assert await _store_named(db, member, FORM["name"]) is None


async def test_merchant_a_gets_404_on_merchant_bs_stores(
    client: TestClient, db: asyncpg.Pool
) -> None:
    a, b = await new_member(db), await new_member(db)
    await sign_in(client, a.email)
    token = await _token(client)
    b_store = f"/stores/{b.store_id}"
    form = FORM | {"csrf_token": token}

    for method, path, data in [
        ("GET", b_store, None),
        ("POST", b_store, form),
        ("GET", f"/stores?merchant={b.merchant_id}", None),
        ("GET", f"/stores/new?merchant={b.merchant_id}", None),
        ("POST", "/stores/new", form | {"merchant": str(b.merchant_id)}),
        ("GET", "/stores/not-a-uuid", None),
    ]:
        response = await client.request(method, path, data=data, headers=EN)
        assert response.status == 404, (method, path)
        assert b.store_name not in await response.text()

    assert (await stores.store_details(db, b.merchant_id, b.store_id)).name == b.store_name
    assert [d.name for _id, d in await stores.list_store_details(db, b.merchant_id)] == [
        b.store_name
    ]
    assert await audit.entries(db, b.merchant_id) == []


async def test_an_owner_of_two_merchants_switches_between_their_stores(
    client: TestClient, db: asyncpg.Pool
) -> None:
    a, b = await new_member(db), await new_member(db)
    await accounts.add_membership(db, b.merchant_id, a.user_id, "owner")
    await sign_in(client, a.email)

    first = await (await client.get(f"/stores?merchant={a.merchant_id}", headers=EN)).text()
    second = await (await client.get(f"/stores?merchant={b.merchant_id}", headers=EN)).text()

    assert f'href="/stores?merchant={b.merchant_id}"' in first and a.store_name in first
    assert b.store_name in second and a.store_name not in second
    names = {m.merchant_id: m.merchant_name for m in await accounts.memberships_of(db, a.user_id)}
    assert f"<strong>{names[b.merchant_id]}</strong>" in second
    assert f'href="/stores?merchant={a.merchant_id}">{names[a.merchant_id]}</a>' in second
