"""The console's POS API keys page (ads/pos_keys_page.py): an owner makes a key, sees it once,
and revokes it; staff may look; another merchant's keys are not there to touch."""

from __future__ import annotations

import html
import re
import uuid

import aiohttp
import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from accounts import audit
from accounts import services as accounts
from ads import pos_keys
from ads.pos_api import PREFIX
from kernel.config import Settings
from tests.ads.test_redemption import claimed_code
from tests.console.test_console_app import Member, csrf_token, new_member, sign_in

PAGE = "/till/api-keys"
EN = {"Accept-Language": "en"}
KEY = re.compile(r'<code class="secret" id="new-key">(pos_[A-Za-z0-9_-]{43})</code>')


async def validate(client: TestClient, key: str, code: str) -> int:
    answer = await client.post(
        PREFIX + "/codes/validate", json={"code": code}, headers={"Authorization": f"Bearer {key}"}
    )
    return answer.status


async def test_an_owner_makes_a_key_sees_it_once_and_revokes_it(
    client: TestClient, db: asyncpg.Pool, member: Member
) -> None:
    assert (await sign_in(client, member.email, headers=EN)).status == 303
    till = await client.get("/till", headers=EN)
    assert f'href="{PAGE}?merchant={member.merchant_id}"' in await till.text()
    page = await client.get(PAGE, headers=EN)
    text = html.unescape(await page.text())
    assert page.status == 200 and "No keys yet." in text
    form = {"csrf_token": csrf_token(text), "merchant": str(member.merchant_id)}

    made = await client.post(
        PAGE, data={**form, "name": "  Front   till ", "store": ""}, headers=EN
    )
    text = html.unescape(await made.text())
    assert made.status == 200 and made.headers["Cache-Control"] == "no-store"
    assert "Key “Front till” made. Copy it now" in text
    found = KEY.search(text)
    assert found is not None
    key = found.group(1)
    code = await claimed_code(db, member)
    assert await validate(client, key, code) == 200

    again = html.unescape(await (await client.get(PAGE, headers=EN)).text())
    assert key not in again  # shown once
    assert key[:12] + "…" in again and "Front till" in again and "Any store" in again

    for_store = await client.post(
        PAGE, data={**form, "name": "Store till", "store": str(member.store_id)}, headers=EN
    )
    assert for_store.status == 200
    listed = await pos_keys.list_keys(db, member.merchant_id)
    assert [(k.name, k.store_id) for k in listed] == [
        ("Store till", member.store_id),
        ("Front till", None),
    ]

    front = listed[1].key_id
    revoked = await client.post(f"{PAGE}/{front}/revoke", data=form, allow_redirects=False)
    assert revoked.status == 303
    page = await client.get(revoked.headers["Location"], headers=EN)
    text = html.unescape(await page.text())
    assert "Key revoked" in text and "revoked 20" in text
    assert await validate(client, key, code) == 401
    again = await client.post(f"{PAGE}/{front}/revoke", data=form, allow_redirects=False)
    assert again.status == 404
    # The audit log: who made and revoked which key, for which store; never the key.
    log = await audit.entries(db, member.merchant_id)
    assert [(e.action, e.target_name, e.after) for e in log] == [
        ("pos_key.revoke", "Front till", {"in_use": False}),
        ("pos_key.create", "Store till", {"store": member.store_name}),
        ("pos_key.create", "Front till", {"store": ""}),
    ]
    assert {e.actor_id for e in log} == {member.user_id}


async def test_bad_forms_are_refused_and_store_nothing(
    client: TestClient, db: asyncpg.Pool, member: Member
) -> None:
    other = await new_member(db)
    assert (await sign_in(client, member.email)).status == 303
    zh = {"Accept-Language": "zh-CN"}
    text = await (await client.get(PAGE, headers=zh)).text()
    assert "收银系统 API 密钥" in text
    form = {"csrf_token": csrf_token(text), "merchant": str(member.merchant_id)}

    empty = await client.post(PAGE, data={**form, "name": "   "}, headers=zh)
    assert empty.status == 400 and "请为密钥填写" in await empty.text()
    long = await client.post(PAGE, data={**form, "name": "x" * 101}, headers=EN)
    assert long.status == 400
    control = await client.post(PAGE, data={**form, "name": "till\x00"}, headers=EN)
    assert control.status == 400
    foreign_store = await client.post(
        PAGE, data={**form, "name": "x", "store": str(other.store_id)}, headers=EN
    )
    assert foreign_store.status == 400
    theirs = await client.post(
        PAGE, data={**form, "merchant": str(other.merchant_id), "name": "x"}, headers=EN
    )
    assert theirs.status == 404
    no_token = await client.post(PAGE, data={"merchant": str(member.merchant_id), "name": "x"})
    assert no_token.status == 403
    for field in ("name", "store", "merchant"):
        files = aiohttp.FormData()
        for name, value in {**form, "name": "ok"}.items():
            if name != field:
                files.add_field(name, value)
        files.add_field(field, b"\x00\xff", filename="x.bin")
        answer = await client.post(PAGE, data=files, headers=EN)
        assert 400 <= answer.status < 500, field
    assert await pos_keys.list_keys(db, member.merchant_id) == []

    their_key = await pos_keys.create_key(
        db, "s" * 40, other.merchant_id, name="x", store_id=None, created_by=other.user_id
    )
    answer = await client.post(f"{PAGE}/{their_key.key_id}/revoke", data=form)
    assert answer.status == 404
    answer = await client.post(f"{PAGE}/not-a-key/revoke", data=form)
    assert answer.status == 404
    assert (await pos_keys.list_keys(db, other.merchant_id))[0].revoked_at is None


async def test_staff_see_the_keys_but_only_owners_make_or_revoke_them(
    client: TestClient, db: asyncpg.Pool, settings: Settings, member: Member
) -> None:
    made = await pos_keys.create_key(
        db,
        settings.secret_key,
        member.merchant_id,
        name="Owner's till",
        store_id=None,
        created_by=member.user_id,
    )
    email = f"staff-{uuid.uuid4().hex}@example.com"
    staff = await accounts.create_user(db, email, "Staff", "correct horse battery")
    await accounts.add_membership(db, member.merchant_id, staff, "staff")
    assert (await sign_in(client, email, headers=EN)).status == 303
    page = await client.get(PAGE, headers=EN)
    text = html.unescape(await page.text())
    assert page.status == 200 and "Owner's till" in text and "Only an owner" in text
    assert 'id="create-key"' not in text and "/revoke" not in text
    form = {"csrf_token": csrf_token(text), "merchant": str(member.merchant_id), "name": "x"}
    assert (await client.post(PAGE, data=form)).status == 403
    revoke = await client.post(f"{PAGE}/{made.key_id}/revoke", data=form)
    assert revoke.status == 403
    assert len(await pos_keys.list_keys(db, member.merchant_id)) == 1


async def test_a_merchant_has_at_most_so_many_keys_in_use(
    db: asyncpg.Pool, settings: Settings, member: Member
) -> None:
    async def make() -> pos_keys.NewKey:
        return await pos_keys.create_key(
            db,
            settings.secret_key,
            member.merchant_id,
            name="k",
            store_id=None,
            created_by=member.user_id,
        )

    made = [await make() for _ in range(pos_keys.MAX_LIVE_KEYS)]
    with pytest.raises(pos_keys.TooManyKeys):
        await make()
    await pos_keys.revoke_key(
        db, member.merchant_id, made[0].key_id, actor=audit.Actor.user(member.user_id)
    )
    await make()
