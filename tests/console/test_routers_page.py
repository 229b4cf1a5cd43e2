"""The console's Routers page (controller/console.py): add a router and get its install command
and QR code, a new install code, revoke with CSRF; owners only, own merchants only."""

from __future__ import annotations

import html
import re
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from accounts import services as accounts
from controller import provisioning
from controller.services import find_router, router_count
from kernel.config import Settings
from portico.console_app import make_console_app
from tests.console.test_console_app import (
    EN,
    ZH,
    Member,
    csrf_token,
    new_member,
    sign_in,
)
from tests.factories import TEST_ACTOR


@pytest.fixture
async def client(settings: Settings, db: asyncpg.Pool) -> AsyncIterator[TestClient]:
    async with TestClient(TestServer(make_console_app(settings, db))) as client:
        yield client


COMMAND = re.compile(r"wget -qO- (http://[^ ]+)/i/([a-z2-7]{20}) \| sh")


async def signed_in(client: TestClient, member: Member, headers: dict[str, str] = EN) -> str:
    """Sign in; the session's CSRF token, read from the Routers page."""
    response = await sign_in(client, member.email, headers=headers)
    assert response.status == 303
    page = await client.get("/routers", headers=headers)
    return csrf_token(await page.text())


async def add_router(
    client: TestClient, member: Member, token: str, **form: str
) -> tuple[int, str]:
    data = {
        "csrf_token": token,
        "merchant_id": str(member.merchant_id),
        "store_id": str(member.store_id),
        "name": "Front desk",
        "fas_level": "1",
        **form,
    }
    response = await client.post("/routers/add", data=data, headers=EN)
    return response.status, await response.text()


async def test_adding_a_router_shows_its_install_command_and_qr_code(
    client: TestClient, db: asyncpg.Pool
) -> None:
    member = await new_member(db)
    token = await signed_in(client, member)

    status, page = await add_router(client, member, token)

    assert status == 200
    match = COMMAND.search(html.unescape(page))
    assert match, page
    portal, code = match.groups()
    assert portal == "http://127.0.0.1:8080"  # the settings' portal URL
    assert "<svg" in page and 'class="segno"' in page  # the QR code, inline
    assert "works once" in page
    # The code shown is the router's: redeeming it gives the router its account.
    redemption = await provisioning.redeem_claim(db, code, "192.0.2.50")
    router = await find_router(db, redemption.router_id)
    assert router is not None and router.merchant_id == member.merchant_id
    assert router.name == "Front desk" and router.store_id == member.store_id
    listing = await (await client.get("/routers", headers=EN)).text()
    assert redemption.router_id in listing and "Front desk" in listing


async def test_a_new_router_waits_for_its_install(client: TestClient, db: asyncpg.Pool) -> None:
    member = await new_member(db)
    token = await signed_in(client, member)
    await add_router(client, member, token)

    listing = await (await client.get("/routers", headers=EN)).text()

    assert "Waiting for install" in listing
    assert "New install code" in listing and "Revoke" in listing


async def test_a_new_install_code_replaces_the_old_one(
    client: TestClient, db: asyncpg.Pool
) -> None:
    member = await new_member(db)
    token = await signed_in(client, member)
    _status, page = await add_router(client, member, token)
    first = COMMAND.search(html.unescape(page))
    assert first
    router_id = await provisioning.check_claim(db, first.group(2), "192.0.2.51")

    response = await client.post(
        f"/routers/{router_id}/code", data={"csrf_token": token}, headers=EN
    )

    assert response.status == 200
    second = COMMAND.search(html.unescape(await response.text()))
    assert second and second.group(2) != first.group(2)
    try:
        await provisioning.redeem_claim(db, first.group(2), "192.0.2.52")
    except provisioning.ClaimReplaced:
        pass
    else:
        raise AssertionError("the replaced code still worked")
    assert (
        await provisioning.redeem_claim(db, second.group(2), "192.0.2.52")
    ).router_id == router_id


async def test_revoking_asks_first_then_needs_the_csrf_token(
    client: TestClient, db: asyncpg.Pool
) -> None:
    member = await new_member(db)
    token = await signed_in(client, member)
    _status, page = await add_router(client, member, token, name="Back office")
    match = COMMAND.search(html.unescape(page))
    assert match
    router_id = await provisioning.check_claim(db, match.group(2), "192.0.2.53")

    confirm = await client.get(f"/routers/{router_id}/revoke", headers=EN)
    assert confirm.status == 200
    assert "cut off at once" in await confirm.text()
    assert await find_router(db, router_id) is not None  # asking changed nothing

    forged = await client.post(f"/routers/{router_id}/revoke", data={}, headers=EN)
    assert forged.status == 403
    assert await find_router(db, router_id) is not None

    done = await client.post(
        f"/routers/{router_id}/revoke",
        data={"csrf_token": token},
        headers=EN,
        allow_redirects=False,
    )
    assert done.status == 303
    assert done.headers["Location"] == f"/routers?revoked={router_id}"
    assert await find_router(db, router_id) is None
    listing = await (await client.get(done.headers["Location"], headers=EN)).text()
    assert f"Router {router_id} is revoked" in listing
    assert "Back office" not in listing


async def test_staff_see_routers_but_cannot_add_or_revoke(
    client: TestClient, db: asyncpg.Pool
) -> None:
    owner = await new_member(db)
    async with db.acquire() as conn:
        router, _claim = await provisioning.add_router(
            conn, owner.merchant_id, owner.store_id, actor=TEST_ACTOR
        )
    email = f"staff-{uuid.uuid4().hex}@example.com"
    user_id = await accounts.create_user(db, email, "Staff", "correct horse battery")
    await accounts.add_membership(db, owner.merchant_id, user_id, "staff")
    staff = Member(email, user_id, owner.merchant_id, owner.store_id, owner.store_name)
    token = await signed_in(client, staff)

    listing = html.unescape(await (await client.get("/routers", headers=EN)).text())
    assert router.router_id in listing
    assert "/routers/add" not in listing and "Only the merchant's owners" in listing

    status, page = await add_router(client, staff, token)
    assert status == 403 and "Only the merchant's owners" in html.unescape(page)
    revoke = await client.post(
        f"/routers/{router.router_id}/revoke", data={"csrf_token": token}, headers=EN
    )
    assert revoke.status == 403
    assert await find_router(db, router.router_id) is not None


async def test_another_merchants_routers_and_stores_are_out_of_reach(
    client: TestClient, db: asyncpg.Pool
) -> None:
    me, them = await new_member(db), await new_member(db)
    async with db.acquire() as conn:
        theirs, _claim = await provisioning.add_router(
            conn, them.merchant_id, them.store_id, actor=TEST_ACTOR
        )
    token = await signed_in(client, me)

    listing = await (await client.get("/routers", headers=EN)).text()
    assert theirs.router_id not in listing
    for path in (f"/routers/{theirs.router_id}/revoke", f"/routers/{theirs.router_id}/code"):
        response = await client.post(path, data={"csrf_token": token}, headers=EN)
        assert response.status == 404, path
    assert await find_router(db, theirs.router_id) is not None
    # Their store, under my merchant id or theirs: refused.
    status, _page = await add_router(client, me, token, store_id=str(them.store_id))
    assert status == 404
    status, _page = await add_router(client, me, token, merchant_id=str(them.merchant_id))
    assert status == 404


async def test_the_routers_page_speaks_chinese(client: TestClient, db: asyncpg.Pool) -> None:
    member = await new_member(db)
    token = await signed_in(client, member, headers=ZH)

    listing = await (await client.get("/routers", headers=ZH)).text()
    assert "路由器管理" in listing and "添加路由器" in listing
    response = await client.post(
        "/routers/add",
        data={
            "csrf_token": token,
            "merchant_id": str(member.merchant_id),
            "store_id": str(member.store_id),
        },
        headers=ZH,
    )
    page = await response.text()
    assert "安装码仅可使用一次" in page and COMMAND.search(html.unescape(page))


async def test_a_router_over_the_plan_is_refused_with_the_limit_named(
    client: TestClient, db: asyncpg.Pool
) -> None:
    member = await new_member(db)  # Free: two routers
    token = await signed_in(client, member)
    for _ in range(2):
        assert (await add_router(client, member, token))[0] == 200
    page = await (await client.get("/routers", headers=EN)).text()
    assert ">Routers 2 / 2 <strong" in page and "(limit reached)" in page

    form = {
        "csrf_token": token,
        "merchant_id": str(member.merchant_id),
        "store_id": str(member.store_id),
        "fas_level": "1",
    }
    english = await client.post("/routers/add", data=form, headers=EN)
    chinese = await client.post("/routers/add", data=form, headers=ZH)

    assert english.status == chinese.status == 409
    assert (
        'class="notice error" role="status" id="notice">Router limit reached: the Free plan '
        "allows 2 in service." in await english.text()
    )
    assert "路由器数量已达上限：免费版套餐最多 2 台在用。" in await chinese.text()
    assert await router_count(db, member.merchant_id) == 2
