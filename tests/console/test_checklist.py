"""The dashboard's first-run checklist (portico/checklist.py): what an owner's merchant still
misses, each step with its page; gone once all is done; never shown to staff."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from accounts import services as accounts
from controller import services as controller
from kernel.config import Settings
from portal import stores as portal_stores
from portico.console_app import make_console_app
from tests.console.test_console_app import EN, PASSWORD, ZH, new_member, sign_in


@pytest.fixture
async def client(settings: Settings, db: asyncpg.Pool) -> AsyncIterator[TestClient]:
    async with TestClient(TestServer(make_console_app(settings, db))) as client:
        yield client


def _step(page: str, key: str) -> str:
    start = page.index(f'id="step-{key}"')
    return page[start : page.index("</li>", start)]


async def test_a_new_merchant_sees_every_step_to_do(client: TestClient, db: asyncpg.Pool) -> None:
    merchant_id = await accounts.create_merchant(db, "Empty Shop")
    email = f"fresh-{uuid.uuid4().hex}@example.com"
    user_id = await accounts.create_user(db, email, "Fresh", PASSWORD)
    await accounts.add_membership(db, merchant_id, user_id, "owner")
    await sign_in(client, email)

    page = await (await client.get("/dashboard", headers=EN)).text()
    zh = await (await client.get("/dashboard", headers=ZH)).text()

    assert "Get Empty Shop ready" in page and "0 of 4 done" in page
    assert f'href="/stores/new?merchant={merchant_id}"' in _step(page, "store")
    assert 'href="/routers"' in _step(page, "router")
    assert "To do:" in _step(page, "branding") and "To do:" in _step(page, "staff")
    assert "完成“Empty Shop”的设置" in zh and "已完成 0/4" in zh


async def test_steps_are_ticked_as_they_are_done_and_the_list_goes(
    client: TestClient, db: asyncpg.Pool
) -> None:
    member = await new_member(db)  # one store
    await sign_in(client, member.email)
    page = await (await client.get("/dashboard", headers=EN)).text()
    assert "1 of 4 done" in page
    assert "Done:" in _step(page, "store") and "To do:" in _step(page, "router")

    async with db.acquire() as conn:
        router_id = f"ap-{uuid.uuid4().hex[:10]}"
        await controller.register_router(conn, member.merchant_id, member.store_id, router_id, "AP")
    await portal_stores.upsert_store_portal(
        db, member.merchant_id, member.store_id, brand_name="Shop", welcome_en="Welcome!"
    )
    assert "3 of 4 done" in await (await client.get("/dashboard", headers=EN)).text()
    staff_email = f"staff-{uuid.uuid4().hex}@example.com"
    staff = await accounts.create_user(db, staff_email, "Staff", PASSWORD)
    await accounts.add_membership(db, member.merchant_id, staff, "staff")

    page = await (await client.get("/dashboard", headers=EN)).text()
    assert 'id="checklist"' not in page

    client.session.cookie_jar.clear()
    other = await new_member(db)  # staff elsewhere see no checklist for that merchant
    await accounts.add_membership(db, other.merchant_id, staff, "staff")
    await sign_in(client, staff_email)
    assert 'id="checklist"' not in await (await client.get("/dashboard", headers=EN)).text()


async def test_the_dashboard_shows_an_owner_the_plans_usage_and_staff_none(
    client: TestClient, settings: Settings, db: asyncpg.Pool
) -> None:
    owner = await new_member(db)  # Free: one store of one, no router of two, one seat of three
    email = f"staff-{uuid.uuid4().hex}@example.com"
    staff_id = await accounts.create_user(db, email, "Staff", PASSWORD)
    await accounts.add_membership(db, owner.merchant_id, staff_id, "staff")
    await sign_in(client, owner.email)

    page = await (await client.get("/dashboard", headers=EN)).text()
    zh = await (await client.get("/dashboard", headers=ZH)).text()

    usage = page[page.index(f'id="plan-usage-{owner.merchant_id}"') :].split("</p>")[0]
    assert "<strong>Free plan</strong>" in usage
    assert "Stores 1 / 1 <strong" in usage and "(limit reached)" in usage
    assert ">Routers 0 / 2</span>" in usage and ">Seats 2 / 3</span>" in usage
    assert "免费版套餐" in zh and "席位 2 / 3" in zh and "已达上限" in zh
    async with TestClient(TestServer(make_console_app(settings, db))) as staff:
        await sign_in(staff, email)
        seen = await (await staff.get("/dashboard", headers=EN)).text()
    assert owner.store_name in seen and "plan-usage" not in seen.split("</style>")[1]
