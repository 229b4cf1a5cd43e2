"""The store's session policy on the console's Logins page (portal/console_session_policy.py):
an owner sets it, each bad field comes back with its error and nothing stored, staff cannot
change it, and the portal grants logins by it."""

from __future__ import annotations

import html
import re
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from accounts import audit
from accounts import services as accounts
from controller.services import AccessPolicy
from kernel.config import Settings
from portal import stores
from portal.console_session_policy import LIMITS
from portico.console_app import make_console_app
from tests.console.test_console_app import EN, PASSWORD, ZH, Member, new_member
from tests.portal.test_terms_console import form_of, signed_in

GOOD = {
    "session_minutes": "90",
    "idle_minutes": "15",
    "down_kbps": "8000",
    "up_kbps": "2000",
    "down_quota_mb": "500",
    "up_quota_mb": "0",
    "extend_minutes": "30",
    "max_extensions": "2",
}


@pytest.fixture
async def client(settings: Settings, db: asyncpg.Pool) -> AsyncIterator[TestClient]:
    async with TestClient(TestServer(make_console_app(settings, db))) as client:
        yield client


@pytest.fixture
async def member(db: asyncpg.Pool) -> Member:
    member = await new_member(db)
    await stores.upsert_store_portal(
        db, member.merchant_id, member.store_id, brand_name=member.store_name
    )
    return member


async def policy_of(db: asyncpg.Pool, member: Member) -> dict[str, int]:
    row = await db.fetchrow(
        "SELECT session_minutes, idle_minutes, up_kbps, down_kbps, up_quota_kb, down_quota_kb,"
        " extend_minutes, max_extensions FROM portal_settings"
        " WHERE merchant_id = $1 AND store_id = $2",
        member.merchant_id,
        member.store_id,
    )
    return dict(row)


async def test_an_owner_sets_the_session_policy(
    client: TestClient, member: Member, db: asyncpg.Pool
) -> None:
    token = await signed_in(client, member)
    page = html.unescape(await (await client.get("/logins", headers=EN)).text())
    assert "Session policy" in page and 'id="session-policy-form"' in page
    assert re.search(r'id="ps-session_minutes" name="session_minutes" value="60"', page)

    response = await client.post(
        "/logins", data=form_of(member, token, "session", **GOOD), allow_redirects=False
    )

    assert response.status == 303 and response.headers["Location"].endswith("#session")
    assert await policy_of(db, member) == {
        "session_minutes": 90,
        "idle_minutes": 15,
        "up_kbps": 2000,
        "down_kbps": 8000,
        "up_quota_kb": 0,
        "down_quota_kb": 500 * 1024,
        "extend_minutes": 30,
        "max_extensions": 2,
    }
    [entry] = await audit.entries(db, member.merchant_id)  # only what changed, before and after
    assert (entry.action, entry.actor_id) == ("session_policy.update", member.user_id)
    assert entry.before == {
        "session_minutes": 60,
        "idle_minutes": 0,
        "up_kbps": 0,
        "down_kbps": 0,
        "down_quota_kb": 0,
        "extend_minutes": 0,
        "max_extensions": 0,
    }
    assert entry.after["down_quota_kb"] == 500 * 1024 and "up_quota_kb" not in entry.after
    shown = html.unescape(await (await client.get(response.headers["Location"], headers=ZH)).text())
    assert "上网策略已保存。" in shown
    assert re.search(r'name="down_quota_mb" value="500"', shown)
    # The portal reads the same: the next login is granted by it.
    row = await db.fetchrow(stores.queries.store_portal, member.merchant_id, member.store_id)
    portal = stores.StorePortal(**dict(row))
    assert portal.policy == AccessPolicy(90, 2000, 8000, 0, 500 * 1024)
    assert (portal.idle_minutes, portal.extend_minutes, portal.max_extensions) == (15, 30, 2)


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("session_minutes", "0", "from 1 to 10080"),
        ("session_minutes", "10081", "from 1 to 10080"),
        ("idle_minutes", "-5", "from 0 to 1440"),
        ("idle_minutes", "1441", "from 0 to 1440"),
        ("down_kbps", "10000001", "from 0 to 10000000"),
        ("up_kbps", "1.5", "from 0 to 10000000"),
        ("down_quota_mb", "9766", "from 0 to 9765"),
        ("up_quota_mb", "lots", "from 0 to 9765"),
        ("extend_minutes", "", "from 0 to 10080"),
        ("max_extensions", "11", "from 0 to 10"),
        ("max_extensions", "0", "both the extension and how many"),
    ],
)
async def test_a_bad_field_comes_back_with_its_error_and_nothing_is_stored(
    client: TestClient, member: Member, db: asyncpg.Pool, field: str, value: str, error: str
) -> None:
    token = await signed_in(client, member)
    before = await policy_of(db, member)

    response = await client.post(
        "/logins", data=form_of(member, token, "session", **{**GOOD, field: value}), headers=EN
    )

    assert response.status == 400
    page = html.unescape(await response.text())
    assert "Not saved" in page and error in page
    assert f'id="error-{field}"' in page
    assert f'name="{field}" value="{value}"' in page  # what was typed, shown again
    assert await policy_of(db, member) == before


def test_the_form_limits_are_the_databases_and_the_agents() -> None:
    """portal_settings' CHECKs (migrations 0001, 0020) and the agent's grant bounds."""
    assert LIMITS["session_minutes"] == (1, 10080)
    assert LIMITS["idle_minutes"] == (0, 1440)
    assert LIMITS["extend_minutes"] == (0, 10080)
    assert LIMITS["max_extensions"] == (0, 10)
    assert LIMITS["down_quota_mb"][1] * 1024 <= 10_000_000 < (LIMITS["down_quota_mb"][1] + 1) * 1024


async def test_staff_cannot_change_the_session_policy(
    client: TestClient, member: Member, db: asyncpg.Pool
) -> None:
    staff_email = f"staff-{uuid.uuid4().hex}@example.com"
    staff = await accounts.create_user(db, staff_email, "Staff", PASSWORD)
    await accounts.add_membership(db, member.merchant_id, staff, "staff")
    colleague = Member(staff_email, staff, member.merchant_id, member.store_id, member.store_name)
    token = await signed_in(client, colleague)
    page = await (await client.get("/logins", headers=EN)).text()
    assert 'id="save-session-policy"' not in page
    assert re.search(r'name="session_minutes" value="60" disabled', page)

    refused = await client.post("/logins", data=form_of(member, token, "session", **GOOD))

    assert refused.status == 403
    assert (await policy_of(db, member))["session_minutes"] == 60
