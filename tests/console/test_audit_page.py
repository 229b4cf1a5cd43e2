"""The console's Audit log page (/audit): owners see their merchant's log, newest first and
paged, in both languages; staff get 403, another merchant's id 404."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from accounts import audit, audit_page
from accounts import services as accounts
from kernel.config import Settings
from portico.console_app import make_console_app
from tests.console.test_console_app import EN, PASSWORD, ZH, new_member, sign_in


@pytest.fixture
async def client(settings: Settings, db: asyncpg.Pool) -> AsyncIterator[TestClient]:
    async with TestClient(TestServer(make_console_app(settings, db))) as client:
        yield client


async def test_an_owner_sees_the_log_newest_first_in_both_languages(
    client: TestClient, db: asyncpg.Pool
) -> None:
    member = await new_member(db)
    actor = audit.Actor.user(member.user_id)
    await audit.record_change(
        db, member.merchant_id, actor, "store.create", target_name="Old shop", after={"city": "X"}
    )
    await audit.record_change(
        db,
        member.merchant_id,
        actor,
        "store.update",
        target_name="New shop",
        before={"city": "Ningbo"},
        after={"city": "Hangzhou"},
    )
    await sign_in(client, member.email)

    en = await (await client.get("/audit", headers=EN)).text()
    zh = await (await client.get("/audit", headers=ZH)).text()

    assert en.index("New shop") < en.index("Old shop")
    assert "Store changed" in en and "<del>Ningbo</del> → <ins>Hangzhou</ins>" in en
    assert "修改门店" in zh and "操作日志" in zh


async def test_the_log_pages_by_older_entries(client: TestClient, db: asyncpg.Pool) -> None:
    member = await new_member(db)
    for n in range(audit_page.PAGE_SIZE + 2):
        await audit.record_change(
            db, member.merchant_id, audit.Actor.system("test"), "store.create", target_name=f"#{n}"
        )
    await sign_in(client, member.email)

    first = await (await client.get("/audit", headers=EN)).text()
    assert f"#{audit_page.PAGE_SIZE + 1}<" in first and "#1<" not in first
    older = first.split('id="audit-older" ')[0].rsplit('href="', 1)[1].split('"')[0]
    second = await (await client.get(older.replace("&amp;", "&"), headers=EN)).text()
    assert "#1<" in second and "#0<" in second
    assert f"#{audit_page.PAGE_SIZE + 1}<" not in second
    assert 'id="audit-older"' not in second


async def test_staff_get_403_and_another_merchants_log_is_404(
    client: TestClient, db: asyncpg.Pool
) -> None:
    member, other = await new_member(db), await new_member(db)
    await audit.record_change(
        db, other.merchant_id, audit.Actor.system("test"), "store.create", target_name="Secret"
    )
    email = f"staff-{uuid.uuid4().hex}@example.com"
    staff = await accounts.create_user(db, email, "Staff", PASSWORD)
    await accounts.add_membership(db, member.merchant_id, staff, "staff")

    await sign_in(client, member.email)
    foreign = await client.get(f"/audit?merchant={other.merchant_id}", headers=EN)
    assert foreign.status == 404
    assert "Secret" not in await foreign.text()
    assert (await client.get("/audit?before=1e9", headers=EN)).status == 404

    client.session.cookie_jar.clear()
    await sign_in(client, email)
    refused = await client.get("/audit", headers=EN)
    assert refused.status == 403
    assert "Only an owner" in await refused.text()
    page = await (await client.get("/dashboard", headers=EN)).text()
    assert 'href="/audit"' not in page  # staff are not offered the page
