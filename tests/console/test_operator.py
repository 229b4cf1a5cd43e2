"""Platform operators: made by `portico operator add` only; /operator lists every merchant,
sets plans and suspends, each change in the merchant's audit log; a suspended merchant's
members lose its console pages with a clear message; anyone else gets 404 on the operator's
pages, and their posts need the CSRF token."""

from __future__ import annotations

import contextlib
import html
import io
import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from accounts import audit, operators, plans
from accounts import services as accounts
from controller import provisioning
from controller import services as controller_services
from kernel.config import Settings
from portal import vouchers
from portico import operators as operator_cli
from portico.cli import _parser
from portico.console_app import make_console_app
from tests.console.test_console_app import EN, ZH, Member, csrf_token, new_member, sign_in
from tests.console.test_guards import snapshot
from tests.console.test_store_pages import FORM as STORE_FORM
from tests.factories import TEST_ACTOR

OPERATOR_PASSWORD = "operator passphrase"


@pytest.fixture
async def client(settings: Settings, db: asyncpg.Pool) -> AsyncIterator[TestClient]:
    async with TestClient(TestServer(make_console_app(settings, db))) as client:
        yield client


@pytest.fixture
async def member_client(settings: Settings, db: asyncpg.Pool) -> AsyncIterator[TestClient]:
    async with TestClient(TestServer(make_console_app(settings, db))) as client:
        yield client


async def _operator(db: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch) -> str:
    email = f"operator-{uuid.uuid4().hex[:8]}@example.com"
    monkeypatch.setenv("PORTICO_NEW_PASSWORD", OPERATOR_PASSWORD)
    out = io.StringIO()
    await operator_cli.add(db, out, email=email, display_name="Platform Op")
    assert f"Operator {email} added." in out.getvalue()
    assert "shown once" not in out.getvalue()  # the password came from the environment
    return email


def test_the_command_line_parses_operator_add() -> None:
    args = _parser().parse_args(["operator", "add", "--email", "op@example.com"])
    assert (args.command, args.action, args.email) == ("operator", "add", "op@example.com")


async def test_an_existing_user_is_made_an_operator_and_a_new_one_gets_a_password(
    db: asyncpg.Pool,
) -> None:
    member = await new_member(db)
    out = io.StringIO()
    user_id = await operator_cli.add(db, out, email=member.email.upper())
    assert user_id == member.user_id and "shown once" not in out.getvalue()
    assert await operators.is_operator(db, member.user_id)
    fresh = io.StringIO()
    new_id = await operator_cli.add(db, fresh, email=f"new-op-{uuid.uuid4().hex}@example.com")
    assert "Password (shown once):" in fresh.getvalue()
    assert await operators.is_operator(db, new_id)


async def test_an_operator_sets_a_plan_and_suspends_a_merchant(
    client: TestClient,
    member_client: TestClient,
    db: asyncpg.Pool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    member = await new_member(db)
    async with db.acquire() as conn:
        await provisioning.add_router(
            conn, member.merchant_id, member.store_id, actor=TEST_ACTOR, name="Till"
        )
    email = await _operator(db, monkeypatch)
    login = await sign_in(client, email, OPERATOR_PASSWORD)
    assert login.headers["Location"] == "/dashboard"
    home = await client.get("/dashboard", headers=EN)
    assert home.url.path == "/operator"  # an operator of no merchant lands on the list

    page = await home.text()
    row = page[page.index(f'id="merchant-{member.merchant_id}"') :].split("</tr>")[0]
    cells = [c.split("</td>")[0].strip() for c in re.split(r"<td[^>]*>", row)[1:]]
    assert cells[0] == f"Merchant {member.store_name[6:]}"
    # Stores, routers and seats against the Free plan's limits (migration 0042).
    assert cells[2:5] == ["1 / 1", "1 / 2", "1 / 3"]
    plans_table = page[page.index('id="plans"') :].split("</table>")[0]
    assert '<tr id="plan-premium">' in plans_table and plans_table.count("unlimited") == 3
    token = csrf_token(page)
    base = f"/operator/merchants/{member.merchant_id}"
    planned = await client.post(
        f"{base}/plan", data={"csrf_token": token, "plan": "premium"}, headers=EN
    )
    assert "The plan was set." in await planned.text()
    bad = await client.post(f"{base}/plan", data={"csrf_token": token, "plan": "gold"}, headers=ZH)
    assert bad.status == 400 and "请从列表中选择套餐。" in await bad.text()

    await sign_in(member_client, member.email)
    suspended = await client.post(
        f"{base}/suspension", data={"csrf_token": token, "suspended": "1"}, headers=EN
    )
    assert "The merchant was suspended." in await suspended.text()

    dashboard = await (await member_client.get("/dashboard", headers=EN)).text()
    assert "is suspended by Portico" in dashboard and 'id="suspended-notice"' in dashboard
    assert member.store_name not in dashboard
    assert "not linked to any merchant" not in dashboard  # the banner says why instead
    stores_page = await member_client.get(f"/stores?merchant={member.merchant_id}", headers=ZH)
    assert stores_page.status == 403 and "已被 Portico 暂停服务" in await stores_page.text()
    assert await accounts.memberships_of(db, member.user_id) == []

    await client.post(f"{base}/suspension", data={"csrf_token": token, "suspended": "0"})
    back = await member_client.get(f"/stores?merchant={member.merchant_id}", headers=EN)
    assert back.status == 200 and "suspended" not in await back.text()
    log = await audit.entries(db, member.merchant_id)
    assert [e.action for e in log[:3]] == [
        "merchant.unsuspend",
        "merchant.suspend",
        "merchant.plan",
    ]
    assert ("plan", "free", "premium") in log[2].changes() and log[2].actor_id is not None
    audit_page = await (await member_client.get("/audit", headers=EN)).text()
    assert "Plan changed" in audit_page and "Merchant suspended" in audit_page


@contextlib.asynccontextmanager
async def limits_kept(db: asyncpg.Pool, plan: str) -> AsyncIterator[None]:
    """The plan's limits put back as they were after the test: the run's tests share them."""
    row = await db.fetchrow(
        "SELECT max_stores, max_routers, max_seats FROM plans WHERE plan = $1", plan
    )
    try:
        yield
    finally:
        await db.execute(
            "UPDATE plans SET max_stores = $2, max_routers = $3, max_seats = $4 WHERE plan = $1",
            plan,
            *row.values(),
        )


def _limits_form(page: str, plan: str) -> str:
    """The plan's card on the Plans page."""
    return page[page.index(f'id="plan-{plan}"') :].split("</section>")[0]


async def test_an_operator_changes_a_plans_limits_and_a_merchant_over_them_keeps_what_it_has(
    client: TestClient,
    member_client: TestClient,
    db: asyncpg.Pool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """/operator/plans: each plan's limits in a form; lowered below what a merchant has, the
    merchant keeps its stores and is refused one more with the new limit named; the change is
    in the merchant's audit log, by the operator, and the page counts the merchants over."""
    member = await new_member(db)
    async with db.acquire() as conn:
        await operators.change_plan(conn, member.merchant_id, "standard", TEST_ACTOR)
    await accounts.create_store(db, member.merchant_id, "Second store")
    await sign_in(client, await _operator(db, monkeypatch), OPERATOR_PASSWORD)
    await sign_in(member_client, member.email)
    async with limits_kept(db, "standard"):
        page = await (await client.get("/operator/plans", headers=EN)).text()
        card = _limits_form(page, "standard")
        assert 'name="max_stores" value="5"' in card and 'name="max_seats" value="10"' in card
        assert re.search(r'name="unlimited_seats" value="1" ?>', card)  # not ticked
        assert "Merchants on this plan:" in card and "over its limits" not in card
        assert "Lowering a limit deletes nothing" in page
        premium = _limits_form(page, "premium")
        assert premium.count('value="1" checked>') == 3  # unlimited, every one
        token = csrf_token(page)

        form = {"csrf_token": token, "plan": "standard", "max_stores": "1", "max_routers": "20"}
        saved = await client.post(
            "/operator/plans", data=form | {"unlimited_seats": "1"}, headers=EN
        )
        text = html.unescape(await saved.text())
        assert saved.status == 200 and saved.url.path == "/operator/plans"
        assert "The Standard plan's limits were saved." in text
        assert re.search(r"[1-9][0-9]* of its [1-9][0-9]* merchants are over the new limits", text)
        assert "over its limits" in _limits_form(text, "standard")
        assert await plans.plan_of(db, member.merchant_id) == plans.Plan("standard", 1, 20, None)

        assert len(await accounts.list_stores(db, member.merchant_id)) == 2  # nothing removed
        store_page = await member_client.get(f"/stores/new?merchant={member.merchant_id}")
        store_form = STORE_FORM | {"csrf_token": csrf_token(await store_page.text())}
        refused = await member_client.post(
            "/stores/new", data=store_form | {"merchant": str(member.merchant_id)}, headers=EN
        )
        assert refused.status == 409
        assert "Store limit reached: the Standard plan allows 1." in await refused.text()
        assert len(await accounts.list_stores(db, member.merchant_id)) == 2

        (entry,) = [
            e for e in await audit.entries(db, member.merchant_id) if e.action == "plan.limits"
        ]
        assert entry.actor_id is not None and entry.target_id == "standard"
        assert set(entry.changes()) == {("max_stores", 5, 1), ("max_seats", 10, "unlimited")}
        log = await (await member_client.get("/audit", headers=ZH)).text()
        assert "更改套餐上限" in log and "标准版" in log and "门店上限" in log and "不限" in log

        again = await client.post(
            "/operator/plans", data=form | {"unlimited_seats": "1"}, headers=EN
        )
        assert "Nothing was changed." in await again.text()
        assert (
            len(
                [
                    e
                    for e in await audit.entries(db, member.merchant_id)
                    if e.action == "plan.limits"
                ]
            )
            == 1
        )


async def test_bad_plan_limits_come_back_with_their_error_and_nothing_is_stored(
    client: TestClient, db: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    await sign_in(client, await _operator(db, monkeypatch), OPERATOR_PASSWORD)
    token = csrf_token(await (await client.get("/operator/plans", headers=EN)).text())
    before = await plans.all_plans(db)
    logged = await db.fetchval("SELECT count(*) FROM audit_log WHERE action = 'plan.limits'")
    form = {"csrf_token": token, "plan": "free", "max_stores": "2", "max_seats": "3"}
    for bad in ("0", "-2", "2.5", "many", ""):
        answer = await client.post("/operator/plans", data=form | {"max_routers": bad}, headers=EN)
        text = await answer.text()
        assert answer.status == 400, bad
        assert "Nothing was saved: correct the limits marked below." in text
        card = _limits_form(text, "free")
        assert "Enter a whole number from 1 to 100000, or tick Unlimited." in card, bad
        assert f'name="max_routers" value="{bad}"' in card  # shown back as typed
        assert 'aria-invalid="true" aria-describedby="error-free-max_routers"' in card
        assert 'name="max_stores" value="2"' in card  # the good fields kept too
        assert "Enter a whole number" not in _limits_form(text, "standard")
        assert 'href="/operator/plans" aria-current="page"' in text  # the operator's own nav
        assert 'href="/dashboard"' not in text  # no merchant's pages: a member of none
    zh = await client.post("/operator/plans", data=form | {"max_routers": "0"}, headers=ZH)
    assert zh.status == 400 and "请输入 1 至 100000 之间的整数，或勾选“不限”。" in await zh.text()
    unknown = await client.post("/operator/plans", data=form | {"plan": "gold", "max_routers": "2"})
    assert unknown.status == 400
    assert await plans.all_plans(db) == before
    assert (
        await db.fetchval("SELECT count(*) FROM audit_log WHERE action = 'plan.limits'") == logged
    )


async def test_anyone_but_an_operator_gets_404_and_posts_need_the_token(
    client: TestClient, db: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    member, other = await new_member(db), await new_member(db)
    await sign_in(client, member.email)
    token = csrf_token(await (await client.get("/dashboard", headers=EN)).text())
    assert (await client.get("/operator", headers=EN)).status == 404
    assert (await client.get("/operator/plans", headers=EN)).status == 404
    for merchant in (member.merchant_id, other.merchant_id):
        for path, form in (("plan", {"plan": "premium"}), ("suspension", {"suspended": "1"})):
            response = await client.post(
                f"/operator/merchants/{merchant}/{path}", data=form | {"csrf_token": token}
            )
            assert response.status == 404, path
    limits = {"plan": "free", "max_stores": "9", "max_routers": "9", "max_seats": "9"}
    response = await client.post("/operator/plans", data=limits | {"csrf_token": token})
    assert response.status == 404
    assert (await plans.plan_of(db, other.merchant_id)).max_stores == 1
    assert await audit.entries(db, other.merchant_id) == []
    assert not await accounts.merchant_suspended(db, other.merchant_id)

    await client.post("/logout", data={"csrf_token": token})
    await sign_in(client, await _operator(db, monkeypatch), OPERATOR_PASSWORD)
    for path, form in (("plan", {"plan": "premium"}), ("suspension", {"suspended": "1"})):
        response = await client.post(f"/operator/merchants/{other.merchant_id}/{path}", data=form)
        assert response.status == 403
    assert not await accounts.merchant_suspended(db, other.merchant_id)
    assert (await client.post("/operator/plans", data=limits)).status == 403  # no token
    assert (await plans.plan_of(db, other.merchant_id)).max_stores == 1
    assert (await client.post("/operator/merchants/not-a-uuid/plan", data={})).status == 403


async def test_being_made_or_unmade_an_operator_counts_from_the_next_page(
    client: TestClient, db: asyncpg.Pool
) -> None:
    """Whether the user is an operator is read with the session on every request (one query,
    services.session_for_token), never kept from the sign-in."""
    member = await new_member(db)
    await sign_in(client, member.email)
    assert (await client.get("/operator", headers=EN)).status == 404

    await operators.grant(db, member.user_id)
    page = await client.get("/operator", headers=EN)
    assert page.status == 200 and 'href="/operator"' in await page.text()

    await db.execute("DELETE FROM platform_operators WHERE user_id = $1", member.user_id)
    assert (await client.get("/operator", headers=EN)).status == 404
    assert 'href="/operator"' not in await (await client.get("/dashboard", headers=EN)).text()


async def test_memberships_and_suspended_tells_the_suspended_apart(db: asyncpg.Pool) -> None:
    member = await new_member(db)
    other = await new_member(db)
    await accounts.add_membership(db, other.merchant_id, member.user_id, "staff")
    await operators.set_suspended(db, other.merchant_id, True, member.user_id)

    live, suspended = await accounts.memberships_and_suspended(db, member.user_id)

    assert [m.merchant_id for m in live] == [member.merchant_id]
    assert live == await accounts.memberships_of(db, member.user_id)
    assert [(m.merchant_id, m.role) for m in suspended] == [(other.merchant_id, "staff")]


async def test_a_member_of_a_live_and_a_suspended_merchant_keeps_only_the_live_one(
    client: TestClient, db: asyncpg.Pool
) -> None:
    """A form naming the suspended merchant is 403 with the reason and changes nothing; the
    same form for the member's live merchant works (portico/suspension.py)."""
    member = await new_member(db)
    other = await new_member(db)
    async with db.acquire() as conn:  # room for a second store
        await operators.change_plan(conn, member.merchant_id, "standard", TEST_ACTOR)
    await accounts.add_membership(db, other.merchant_id, member.user_id, "owner")
    await operators.set_suspended(db, other.merchant_id, True, other.user_id)
    await sign_in(client, member.email)
    token = csrf_token(await (await client.get("/stores/new", headers=EN)).text())
    form = STORE_FORM | {"csrf_token": token}

    refused = await client.post("/stores/new", data=form | {"merchant": str(other.merchant_id)})
    assert refused.status == 403
    assert "已被 Portico 暂停服务" in await refused.text()  # no Accept-Language: zh-CN
    refused = await client.post(
        "/stores/new", data=form | {"merchant_id": str(other.merchant_id)}, headers=EN
    )
    assert refused.status == 403 and "is suspended by Portico" in await refused.text()
    assert len(await accounts.list_stores(db, other.merchant_id)) == 1

    own = await client.post(
        "/stores/new", data=form | {"merchant": str(member.merchant_id)}, allow_redirects=False
    )
    assert own.status == 303
    assert len(await accounts.list_stores(db, member.merchant_id)) == 2


async def _router_and_batch(db: asyncpg.Pool, member: Member) -> tuple[str, uuid.UUID]:
    """A router in service and a voucher batch of three codes at the member's merchant."""
    async with db.acquire() as conn:
        router, _claim = await provisioning.add_router(
            conn, member.merchant_id, member.store_id, actor=TEST_ACTOR, name="Desk"
        )
    spec = vouchers.BatchSpec("Desk codes", member.store_id, 60, 0, 1, None, 3)
    batch_id = await vouchers.create_batch(
        db, member.merchant_id, spec, created_by=member.user_id, now=datetime.now(UTC)
    )
    return router.router_id, batch_id


async def test_a_suspended_merchants_router_and_batch_forms_say_why_to_a_member_of_another(
    client: TestClient, member_client: TestClient, db: asyncpg.Pool
) -> None:
    """A member of a live merchant A and a suspended merchant B who posts a form of B's that
    names B only by the router's or batch's id in its path gets 403 with the suspension's
    message, not the 404 of a foreign id, and nothing of B's changes (portico/suspension.py,
    PATH_RECORDS); A's same forms work; a stranger to B still gets 404."""
    member, other = await new_member(db), await new_member(db)
    await accounts.add_membership(db, other.merchant_id, member.user_id, "owner")
    a_router, a_batch = await _router_and_batch(db, member)
    b_router, b_batch = await _router_and_batch(db, other)
    await operators.set_suspended(db, other.merchant_id, True, other.user_id)
    stranger = await new_member(db)
    await sign_in(client, member.email)
    await sign_in(member_client, stranger.email)
    token = csrf_token(await (await client.get("/routers", headers=EN)).text())
    stranger_token = csrf_token(await (await member_client.get("/routers", headers=EN)).text())
    b_forms = [f"/routers/{b_router}/{action}" for action in ("code", "reboot", "reapply")]
    b_forms += [f"/routers/{b_router}/revoke", f"/vouchers/{b_batch}/revoke"]
    reason = f"Merchant {other.store_name[6:]} is suspended by Portico"
    before = await snapshot(db, [other.merchant_id])

    for path in b_forms:
        refused = await client.post(path, data={"csrf_token": token}, headers=EN)
        assert refused.status == 403, path
        assert reason in await refused.text(), path
        unknown = await member_client.post(path, data={"csrf_token": stranger_token}, headers=EN)
        assert unknown.status == 404, path
    zh = await client.post(b_forms[-1], data={"csrf_token": token}, headers=ZH)
    assert zh.status == 403 and "已被 Portico 暂停服务" in await zh.text()
    for page in (f"/vouchers/{b_batch}", f"/routers/{b_router}/history"):  # its pages too
        assert (await client.get(page, headers=EN)).status == 403, page
        assert (await member_client.get(page, headers=EN)).status == 404, page
    assert await snapshot(db, [other.merchant_id]) == before
    assert await controller_services.find_router(db, b_router) is not None

    revoked = await client.post(
        f"/vouchers/{a_batch}/revoke", data={"csrf_token": token}, headers=EN
    )
    assert revoked.status == 200 and "3 codes revoked." in await revoked.text()
    gone = await client.post(
        f"/routers/{a_router}/revoke", data={"csrf_token": token}, allow_redirects=False
    )
    assert gone.status == 303
    assert await controller_services.find_router(db, a_router) is None


async def test_a_suspension_form_without_its_choice_changes_nothing(
    client: TestClient, db: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A missing or garbled `suspended` is a 400 with a message, never an unsuspend."""
    member = await new_member(db)
    await sign_in(client, await _operator(db, monkeypatch), OPERATOR_PASSWORD)
    token = csrf_token(await (await client.get("/operator", headers=EN)).text())
    path = f"/operator/merchants/{member.merchant_id}/suspension"
    await client.post(path, data={"csrf_token": token, "suspended": "1"})
    assert await accounts.merchant_suspended(db, member.merchant_id)

    for form in ({}, {"suspended": "yes"}, {"suspended": ""}):
        refused = await client.post(path, data={"csrf_token": token} | form, headers=EN)
        assert refused.status == 400, form
        assert "choose Suspend or Unsuspend" in await refused.text()
    assert await accounts.merchant_suspended(db, member.merchant_id)
    zh = await client.post(path, data={"csrf_token": token}, headers=ZH)
    assert "请选择“暂停服务”或“恢复服务”" in await zh.text()
