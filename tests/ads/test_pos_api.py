"""The POS redemption API (ads/pos_api.py) through a real aiohttp test server and PostgreSQL:
its keys, every state of a code (claimed → locked → redeemed, back to claimed when a lock
ends or a redemption is rolled back), races, idempotency, the rollback window, the 429 of a
key that refuses too many codes, and hostile requests."""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import aiohttp
import asyncpg
import jsonschema_rs
import pytest
from aiohttp.test_utils import TestClient

from accounts import audit, operators
from accounts import services as accounts
from ads import code_import, pos_guard, pos_keys, pos_openapi, pos_redemption, redemption
from ads.pos_api import PREFIX
from ads.pos_errors import CODES
from ads.services import claim_coupon, void_code
from kernel.config import Settings
from tests.ads.test_redemption import claimed_code, coupon_codes
from tests.console.test_console_app import Member, new_member, sign_in
from tests.factories import TEST_ACTOR


async def new_key(
    db: asyncpg.Pool, settings: Settings, member: Member, store_id: uuid.UUID | None = None
) -> str:
    made = await pos_keys.create_key(
        db,
        settings.secret_key,
        member.merchant_id,
        name="Till 1",
        store_id=store_id,
        created_by=member.user_id,
    )
    return made.token


@pytest.fixture
async def key(db: asyncpg.Pool, settings: Settings, member: Member) -> str:
    return await new_key(db, settings, member)


class Pos:
    """A POS system talking to the API with one key."""

    def __init__(self, client: TestClient, key: str, store_id: uuid.UUID | None) -> None:
        self.client = client
        self.key = key
        self.store_id = store_id

    async def post(
        self, path: str, body: dict[str, Any] | None = None, **headers: str
    ) -> tuple[int, dict[str, Any], aiohttp.ClientResponse]:
        sent = {"Authorization": f"Bearer {self.key}", "Accept-Language": "en", **headers}
        response = await self.client.post(PREFIX + path, json=body, headers=sent)
        answer = await response.json()
        assert_documented(path, response.status, answer)
        return response.status, answer, response

    async def validate(self, code: str) -> tuple[int, dict[str, Any]]:
        status, body, _r = await self.post("/codes/validate", {"code": code})
        return status, body

    async def lock(self, code: str, **more: Any) -> tuple[int, dict[str, Any]]:
        status, body, _r = await self.post("/codes/lock", {"code": code, **more})
        return status, body

    async def redeem(
        self, idempotency_key: str | None = None, **body: Any
    ) -> tuple[int, dict[str, Any], aiohttp.ClientResponse]:
        body.setdefault("store_id", str(self.store_id))
        return await self.post(
            "/codes/redeem", body, **{"Idempotency-Key": idempotency_key or uuid.uuid4().hex}
        )

    async def rollback(self, redemption_id: str) -> tuple[int, dict[str, Any]]:
        status, body, _r = await self.post(f"/redemptions/{redemption_id}/rollback")
        return status, body

    async def release(self, lock_id: str) -> tuple[int, dict[str, Any]]:
        status, body, _r = await self.post(f"/locks/{lock_id}/release")
        return status, body


def assert_documented(path: str, status: int, body: dict[str, Any]) -> None:
    """The answer is one the OpenAPI document gives this path (ads/pos_openapi.py): its
    status, and its body's schema (an error's code among those listed for the status)."""
    template = re.sub(r"^/(locks|redemptions)/[^/]*/", r"/\1/{id}/", path)
    template = template.replace("/locks/{id}/", "/locks/{lock_id}/").replace(
        "/redemptions/{id}/", "/redemptions/{redemption_id}/"
    )
    document = pos_openapi.document()
    responses = document["paths"][template]["post"]["responses"]
    assert str(status) in responses, (path, status, body)
    schema = responses[str(status)]["content"]["application/json"]["schema"]
    if "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    jsonschema_rs.validate(schema, body)  # (jsonschema_rs comes with schemathesis)


@pytest.fixture
def pos(client: TestClient, key: str, member: Member) -> Pos:
    return Pos(client, key, member.store_id)


def error_code(body: dict[str, Any]) -> str:
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
    assert body["error"]["message"]
    return body["error"]["code"]


async def redemptions(db: asyncpg.Pool, merchant_id: uuid.UUID) -> list[asyncpg.Record]:
    return await db.fetch(
        "SELECT * FROM coupon_redemptions WHERE merchant_id = $1 ORDER BY redeemed_at",
        merchant_id,
    )


async def state_of(db: asyncpg.Pool, member: Member, code: str) -> str:
    return (await redemption.check_code(db, member.merchant_id, code, "en")).state


# -- keys -------------------------------------------------------------------------------------


async def test_requests_without_a_good_key_are_refused(
    client: TestClient, db: asyncpg.Pool, settings: Settings, member: Member, key: str
) -> None:
    code = await claimed_code(db, member)
    body = {"code": code}
    for headers, expected in (
        ({}, "key_missing"),
        ({"Authorization": f"Basic {key}"}, "key_missing"),
        ({"Authorization": "Bearer"}, "key_invalid"),
        ({"Authorization": "Bearer pos_short"}, "key_invalid"),
        ({"Authorization": "Bearer " + key[:-1] + ("A" if key[-1] != "A" else "B")}, "key_invalid"),
        ({"Authorization": "Bearer " + key + "\u00e9"}, "key_invalid"),
    ):
        answer = await client.post(PREFIX + "/codes/validate", json=body, headers=headers)
        assert answer.status == 401, headers
        assert error_code(await answer.json()) == expected
        assert answer.headers["WWW-Authenticate"].startswith("Bearer")
        assert answer.headers["Content-Type"].startswith("application/json")

    answer = await client.post(
        PREFIX + "/codes/validate", json=body, headers={"Authorization": f"bearer  {key} "}
    )
    assert answer.status == 200  # the scheme's case and spaces round the key do not matter

    key_id = (await pos_keys.list_keys(db, member.merchant_id))[0].key_id
    await pos_keys.revoke_key(
        db, member.merchant_id, key_id, actor=audit.Actor.user(member.user_id)
    )
    answer = await client.post(
        PREFIX + "/codes/validate", json=body, headers={"Authorization": f"Bearer {key}"}
    )
    assert answer.status == 401 and error_code(await answer.json()) == "key_revoked"
    with pytest.raises(pos_keys.KeyUnknown):
        await pos_keys.revoke_key(
            db, member.merchant_id, key_id, actor=audit.Actor.user(member.user_id)
        )


async def test_a_suspended_merchants_keys_are_refused_until_it_is_unsuspended(
    client: TestClient, db: asyncpg.Pool, member: Member, pos: Pos
) -> None:
    """Every endpoint answers 403 merchant_suspended, in the caller's language, and changes
    nothing (a claimed code, a lock, a redemption stay as they were); the suspension reaches
    the API with the key's cache (2 s, cleared here as time passing would); unsuspended, the
    same key works again."""
    operator = await accounts.create_user(
        db, f"op-{uuid.uuid4().hex}@example.com", "Op", "operator password"
    )
    await operators.grant(db, operator)
    code, locked_code, redeemed_code = [await claimed_code(db, member) for _ in range(3)]
    status, lock = await pos.lock(locked_code)
    assert status == 200
    status, done, _r = await pos.redeem(code=redeemed_code)
    assert status == 200

    await operators.set_suspended(db, member.merchant_id, True, operator)
    pos_keys._found.clear()  # as KEY_CACHE_SECONDS passing would
    last_used = await db.fetchval(
        "UPDATE pos_api_keys SET last_used_at = now() - interval '1 hour' "
        "WHERE merchant_id = $1 RETURNING last_used_at",
        member.merchant_id,
    )  # long enough ago to be noted again, were the key used
    for status, body in (
        await pos.validate(code),
        await pos.validate("ABCD-EFGH-JK"),  # a typo is not even looked at
        await pos.lock(code),
        (await pos.redeem(code=code))[:2],
        (await pos.redeem(lock_id=lock["lock_id"]))[:2],
        await pos.release(lock["lock_id"]),
        await pos.rollback(done["redemption_id"]),
    ):
        assert (status, error_code(body)) == (403, "merchant_suspended"), body
        assert body["error"]["message"].startswith("This merchant is suspended by Portico")
    answer = await client.post(
        PREFIX + "/codes/validate",
        json={"code": code},
        headers={"Authorization": f"Bearer {pos.key}", "Accept-Language": "zh-CN"},
    )
    assert answer.status == 403
    assert (await answer.json())["error"]["message"].startswith("该商户已被 Portico 暂停服务")
    assert "WWW-Authenticate" not in answer.headers  # the key is good: no other key helps

    assert await state_of(db, member, code) == "claimed"
    assert await state_of(db, member, locked_code) == "locked"
    assert await state_of(db, member, redeemed_code) == "redeemed"
    assert [r["code"] for r in await redemptions(db, member.merchant_id)] == [redeemed_code]
    counted = await db.fetchval(
        "SELECT count(*) FROM portal_rate_limits WHERE merchant_id = $1", member.merchant_id
    )
    assert counted == 0  # refused for the suspension, not counted as guesses
    assert (await pos_keys.list_keys(db, member.merchant_id))[0].last_used_at == last_used

    await operators.set_suspended(db, member.merchant_id, False, operator)
    pos_keys._found.clear()
    status, body, _r = await pos.redeem(lock_id=lock["lock_id"])
    assert (status, body["code"]) == (200, locked_code)
    status, body = await pos.rollback(done["redemption_id"])
    assert status == 200
    status, body, _r = await pos.redeem(code=code)
    assert status == 200
    assert await state_of(db, member, code) == "redeemed"


async def test_another_merchants_code_is_unknown_to_a_key(
    client: TestClient, db: asyncpg.Pool, settings: Settings, member: Member, pos: Pos
) -> None:
    other = await new_member(db)
    theirs = await claimed_code(db, other)
    status, body = await pos.validate(theirs)
    assert (status, error_code(body)) == (404, "code_unknown")
    status, body = await pos.lock(theirs)
    assert (status, error_code(body)) == (404, "code_unknown")
    status, body, _r = await pos.redeem(code=theirs)
    assert (status, error_code(body)) == (404, "code_unknown")
    status, body, _r = await pos.redeem(code=theirs, store_id=str(other.store_id))
    assert (status, error_code(body)) == (422, "store_unknown")  # nor is their store ours

    their_pos = Pos(client, await new_key(db, settings, other), other.store_id)
    status, body, _r = await their_pos.redeem(code=theirs)
    assert status == 200
    status, body = await pos.rollback(body["redemption_id"])
    assert (status, error_code(body)) == (404, "redemption_unknown")
    assert await state_of(db, other, theirs) == "redeemed"


async def test_a_key_notes_when_it_was_last_used(
    db: asyncpg.Pool, member: Member, pos: Pos
) -> None:
    assert (await pos_keys.list_keys(db, member.merchant_id))[0].last_used_at is None
    await pos.validate(await claimed_code(db, member))
    used = (await pos_keys.list_keys(db, member.merchant_id))[0].last_used_at
    assert used is not None
    await pos.validate(await claimed_code(db, member))
    again = (await pos_keys.list_keys(db, member.merchant_id))[0].last_used_at
    assert again == used  # not more than once a minute


async def test_the_key_itself_is_never_stored(
    db: asyncpg.Pool, settings: Settings, member: Member, key: str
) -> None:
    for table in ("pos_api_keys", "pos_key_directory"):
        rows = await db.fetch(f"SELECT * FROM {table} WHERE merchant_id = $1", member.merchant_id)  # noqa: S608
        assert len(rows) == 1
        assert not any(key in str(value) for value in dict(rows[0]).values())
    stored = await db.fetchval(
        "SELECT key_hash FROM pos_key_directory WHERE merchant_id = $1", member.merchant_id
    )
    assert stored == pos_keys.key_hash(settings.secret_key, key)
    assert pos_keys.key_hash("another-secret-" + "y" * 40, key) != stored


# -- a code's states ----------------------------------------------------------------------------


async def test_validate_says_what_the_code_is_and_why_it_cannot_be_redeemed(
    db: asyncpg.Pool, member: Member, pos: Pos
) -> None:
    code = await claimed_code(db, member)
    status, body = await pos.validate(code.lower().replace("-", " "))
    assert status == 200
    assert body["code"] == code and body["title"] == "Half-price tea"
    assert (body["state"], body["redeemable"], body["reason"]) == ("claimed", True, None)

    answer = await pos.client.post(
        PREFIX + "/codes/validate",
        json={"code": code},
        headers={"Authorization": f"Bearer {pos.key}", "Accept-Language": "zh-CN"},
    )
    assert (await answer.json())["title"] == "半价茶饮"

    status, _body, _r = await pos.redeem(code=code)
    status, body = await pos.validate(code)
    assert (status, body["state"], body["redeemable"]) == (200, "redeemed", False)
    assert body["reason"]["code"] == "code_redeemed" and body["redemption_id"]

    expired = await claimed_code(db, member, valid_days=-1)
    status, body = await pos.validate(expired)
    assert (status, body["redeemable"], body["reason"]["code"]) == (200, False, "code_expired")

    _coupon, unclaimed = await coupon_codes(db, member.merchant_id, count=1)
    status, body = await pos.validate(unclaimed[0])
    assert (status, error_code(body)) == (409, "code_not_claimed")
    status, body = await pos.validate("ABCD-EFGH-JK")
    assert (status, error_code(body)) == (422, "code_mistyped")


async def test_a_locked_code_is_redeemed_by_its_lock_only(
    client: TestClient, db: asyncpg.Pool, settings: Settings, member: Member, pos: Pos
) -> None:
    code = await claimed_code(db, member)
    other_till = Pos(client, await new_key(db, settings, member), member.store_id)

    status, lock = await pos.lock(code, pos_reference="R-1001")
    assert status == 200 and lock["code"] == code and lock["pos_reference"] == "R-1001"
    assert lock["store_id"] is None  # a key for any store, and no store named
    status, body = await pos.validate(code)
    assert (body["state"], body["redeemable"], body["reason"]["code"]) == (
        "locked",
        False,
        "code_locked",
    )
    assert body["locked_until"] == lock["expires_at"]

    for till in (pos, other_till):  # nobody locks it again, nor redeems it by its code
        status, body = await till.lock(code)
        assert (status, error_code(body)) == (409, "code_locked")
        status, body, _r = await till.redeem(code=code)
        assert (status, error_code(body)) == (409, "code_locked")
    with pytest.raises(redemption.CodeLocked):  # the console's till neither
        await redemption.redeem(
            db, member.merchant_id, code, store_id=member.store_id, user_id=member.user_id
        )
    assert (await sign_in(client, member.email)).status == 303
    till = await client.get("/till", params={"code": code}, headers={"Accept-Language": "en"})
    assert "being redeemed by a till system right now" in await till.text()

    status, done, response = await other_till.redeem(lock_id=lock["lock_id"])
    assert status == 200 and done["code"] == code and done["state"] == "redeemed"
    assert response.headers["Idempotent-Replayed"] == "false"
    assert await state_of(db, member, code) == "redeemed"
    status, body, _r = await pos.redeem(lock_id=lock["lock_id"])
    assert (status, error_code(body)) == (409, "code_redeemed")
    status, body = await pos.release(lock["lock_id"])
    assert (status, error_code(body)) == (409, "code_redeemed")
    row = (await redemptions(db, member.merchant_id))[0]
    assert row["redeemed_by"] is None and row["api_key_id"] is not None
    assert row["device_hash"].startswith("dev-")  # the claimer's pseudonym, as at the till


async def test_a_released_lock_gives_the_code_back(
    db: asyncpg.Pool, member: Member, pos: Pos
) -> None:
    code = await claimed_code(db, member)
    status, lock = await pos.lock(code, store_id=str(member.store_id))
    assert status == 200 and lock["store_id"] == str(member.store_id)
    status, body = await pos.release(lock["lock_id"])
    assert (status, body) == (200, {"lock_id": lock["lock_id"], "code": code, "state": "claimed"})
    assert await state_of(db, member, code) == "claimed"
    status, body = await pos.release(lock["lock_id"])
    assert (status, error_code(body)) == (409, "lock_ended")
    status, body, _r = await pos.redeem(lock_id=lock["lock_id"])
    assert (status, error_code(body)) == (409, "lock_ended")
    status, body = await pos.release(str(uuid.uuid4()))
    assert (status, error_code(body)) == (404, "lock_unknown")

    status, again = await pos.lock(code)
    assert status == 200 and again["lock_id"] != lock["lock_id"]


async def test_a_lock_that_ran_out_leaves_the_code_claimed(
    db: asyncpg.Pool, member: Member, pos: Pos
) -> None:
    code = await claimed_code(db, member)
    status, lock = await pos.lock(code)
    assert status == 200
    await db.execute(
        "UPDATE coupon_codes SET locked_until = now() - interval '1 second'"
        " WHERE merchant_id = $1 AND code = $2",
        member.merchant_id,
        code,
    )
    status, body = await pos.validate(code)
    assert (body["state"], body["redeemable"], body["locked_until"]) == ("claimed", True, None)
    status, body, _r = await pos.redeem(lock_id=lock["lock_id"])
    assert (status, error_code(body)) == (409, "lock_ended")
    status, body = await pos.release(lock["lock_id"])
    assert (status, error_code(body)) == (409, "lock_ended")

    status, newer = await pos.lock(code)  # anyone may lock it again
    assert status == 200
    status, body, _r = await pos.redeem(lock_id=lock["lock_id"])  # the old lock stays ended
    assert (status, error_code(body)) == (409, "lock_ended")
    status, _done, _r = await pos.redeem(lock_id=newer["lock_id"])
    assert status == 200
    # The till redeems a code whose lock ran out, and the shopper sees a locked code as theirs.
    other = await claimed_code(db, member)
    await pos.lock(other)
    held = await db.fetchval(
        "SELECT claimed_by FROM coupon_codes WHERE merchant_id = $1 AND code = $2",
        member.merchant_id,
        other,
    )
    from ads.services import coupons_held_by

    assert [c.code for c in await coupons_held_by(db, member.merchant_id, held, "en")] == [other]
    await db.execute(
        "UPDATE coupon_codes SET locked_until = now() WHERE merchant_id = $1 AND code = $2",
        member.merchant_id,
        other,
    )
    till = await redemption.redeem(
        db, member.merchant_id, other, store_id=member.store_id, user_id=member.user_id
    )
    assert till.code == other


async def test_a_rollback_within_the_window_gives_the_code_back(
    db: asyncpg.Pool, member: Member, pos: Pos
) -> None:
    code = await claimed_code(db, member)
    status, done, _r = await pos.redeem(code=code, pos_reference="R-7")
    assert status == 200 and done["pos_reference"] == "R-7"
    status, body = await pos.rollback(done["redemption_id"])
    assert status == 200 and body["code"] == code and body["code_state"] == "claimed"
    assert await state_of(db, member, code) == "claimed"
    status, body = await pos.rollback(done["redemption_id"])
    assert (status, error_code(body)) == (409, "already_rolled_back")
    row = (await redemptions(db, member.merchant_id))[0]
    assert row["rolled_back_by"] is None and row["rolled_back_by_key"] == row["api_key_id"]

    status, again, _r = await pos.redeem(code=code)  # redeemed anew
    assert status == 200 and again["redemption_id"] != done["redemption_id"]
    await db.execute(
        "UPDATE coupon_redemptions SET redeemed_at = now() - $3::interval"
        " WHERE merchant_id = $1 AND redemption_id = $2",
        member.merchant_id,
        uuid.UUID(again["redemption_id"]),
        redemption.UNDO_WINDOW + timedelta(seconds=1),
    )
    status, body = await pos.rollback(again["redemption_id"])
    assert (status, error_code(body)) == (409, "rollback_too_late")
    assert await state_of(db, member, code) == "redeemed"
    status, body = await pos.rollback(str(uuid.uuid4()))
    assert (status, error_code(body)) == (404, "redemption_unknown")
    # The till and the API undo each other's redemptions (the same merchant's).
    till = await redemption.redeem(
        db,
        member.merchant_id,
        await claimed_code(db, member),
        store_id=member.store_id,
        user_id=member.user_id,
    )
    status, _body = await pos.rollback(str(till.redemption_id))
    assert status == 200


# -- races and idempotency ---------------------------------------------------------------------


async def test_two_tills_at_once_redeem_a_code_once(
    client: TestClient, db: asyncpg.Pool, settings: Settings, member: Member, pos: Pos
) -> None:
    other = Pos(client, await new_key(db, settings, member), member.store_id)
    for _ in range(3):
        code = await claimed_code(db, member)
        answers = await asyncio.gather(
            *(till.redeem(code=code) for till in (pos, other, pos, other, pos, other))
        )
        statuses = sorted(status for status, _body, _r in answers)
        assert statuses == [200, 409, 409, 409, 409, 409], answers
        assert {error_code(b) for s, b, _r in answers if s == 409} == {"code_redeemed"}
    assert len(await redemptions(db, member.merchant_id)) == 3

    code = await claimed_code(db, member)
    locks = await asyncio.gather(*(till.lock(code) for till in (pos, other, pos, other)))
    assert sorted(status for status, _body in locks) == [200, 409, 409, 409]


async def test_the_same_idempotency_key_gives_the_same_redemption(
    db: asyncpg.Pool, member: Member, pos: Pos
) -> None:
    code = await claimed_code(db, member)
    sale = "sale-" + uuid.uuid4().hex
    status, first, response = await pos.redeem(sale, code=code, pos_reference="R-9")
    assert status == 200 and response.headers["Idempotent-Replayed"] == "false"
    status, again, response = await pos.redeem(sale, code=code, pos_reference="R-9")
    assert status == 200 and again == first
    assert response.headers["Idempotent-Replayed"] == "true"

    status, body, _r = await pos.redeem(code=code)  # another key for a redeemed code
    assert (status, error_code(body)) == (409, "code_redeemed")
    other = await claimed_code(db, member)
    status, body, _r = await pos.redeem(sale, code=other)  # the used key for another code
    assert (status, error_code(body)) == (422, "idempotency_key_reused")
    status, body, _r = await pos.redeem(sale, code=code, pos_reference="R-10")
    assert (status, error_code(body)) == (422, "idempotency_key_reused")
    assert await state_of(db, member, other) == "claimed"

    # Asked again after a rollback: the same redemption, rolled back; the code is not redeemed.
    await pos.rollback(first["redemption_id"])
    status, replay, _r = await pos.redeem(sale, code=code, pos_reference="R-9")
    assert status == 200 and replay["state"] == "rolled_back"
    assert replay["redemption_id"] == first["redemption_id"]
    assert await state_of(db, member, code) == "claimed"

    # The same request sent several times at once (a POS retrying): one redemption.
    code = await claimed_code(db, member)
    sale = "sale-" + uuid.uuid4().hex
    answers = await asyncio.gather(*(pos.redeem(sale, code=code) for _ in range(5)))
    assert {status for status, _b, _r in answers} == {200}
    assert len({body["redemption_id"] for _s, body, _r in answers}) == 1
    replayed = sorted(r.headers["Idempotent-Replayed"] for _s, _b, r in answers)
    assert replayed == ["false", "true", "true", "true", "true"]
    # Under one key at once for two codes: one redeemed, the other refused and still claimed.
    codes = [await claimed_code(db, member) for _ in range(2)]
    sale = "sale-" + uuid.uuid4().hex
    answers = await asyncio.gather(*(pos.redeem(sale, code=c) for c in codes))
    assert sorted(status for status, _b, _r in answers) == [200, 422]
    assert sorted([await state_of(db, member, c) for c in codes]) == ["claimed", "redeemed"]


async def test_redeem_needs_a_good_idempotency_key(
    db: asyncpg.Pool, member: Member, pos: Pos
) -> None:
    code = await claimed_code(db, member)
    for header in (
        {},
        {"Idempotency-Key": ""},
        {"Idempotency-Key": "a b"},
        {"Idempotency-Key": "x" * 256},
        {"Idempotency-Key": "ключ"},
    ):
        sent = {"Authorization": f"Bearer {pos.key}", **header}
        answer = await pos.client.post(
            PREFIX + "/codes/redeem",
            json={"code": code, "store_id": str(member.store_id)},
            headers=sent,
        )
        assert answer.status == 400 and error_code(await answer.json()) == "bad_request"
    assert await redemptions(db, member.merchant_id) == []


# -- stores ---------------------------------------------------------------------------------------


async def test_a_key_for_one_store_acts_for_that_store_only(
    client: TestClient, db: asyncpg.Pool, settings: Settings, member: Member, pos: Pos
) -> None:
    second = await accounts.create_store(db, member.merchant_id, "Second", "Asia/Shanghai")
    store_pos = Pos(client, await new_key(db, settings, member, second), None)
    code = await claimed_code(db, member)

    status, body, _r = await pos.post("/codes/redeem", {"code": code}, **{"Idempotency-Key": "k1"})
    assert (status, error_code(body)) == (400, "bad_request")
    status, body = await store_pos.lock(code, store_id=str(member.store_id))
    assert (status, error_code(body)) == (403, "store_not_allowed")
    status, lock = await store_pos.lock(code)
    assert status == 200 and lock["store_id"] == str(second)
    status, body, _r = await store_pos.redeem(lock_id=lock["lock_id"], store_id=None)
    assert (status, error_code(body)) == (400, "bad_request")  # redeem always names the store
    status, done, _r = await store_pos.redeem(lock_id=lock["lock_id"], store_id=str(second))
    assert status == 200 and done["store_id"] == str(second)

    elsewhere = await claimed_code(db, member)
    status, theirs, _r = await pos.redeem(code=elsewhere)
    assert status == 200
    status, body = await store_pos.rollback(theirs["redemption_id"])
    assert (status, error_code(body)) == (404, "redemption_unknown")
    status, body = await store_pos.rollback(done["redemption_id"])
    assert status == 200


# -- code guessing --------------------------------------------------------------------------------


async def test_a_key_that_refuses_too_many_codes_is_held_back(
    client: TestClient,
    db: asyncpg.Pool,
    settings: Settings,
    member: Member,
    pos: Pos,
    caplog: pytest.LogCaptureFixture,
) -> None:
    good = await claimed_code(db, member)
    _coupon, unclaimed = await coupon_codes(db, member.merchant_id, count=1)
    guesses = ["ABCD-EFGH-JK", unclaimed[0]] + [f"{n:04d}-0000-00" for n in range(10)]
    with caplog.at_level(logging.WARNING, logger="portico.ads.pos"):
        for n in range(pos_guard.KEY_REFUSALS):
            status, _body = await pos.validate(guesses[n % len(guesses)])
            assert status in (404, 409, 422)
        status, body = await pos.validate(good)  # right or wrong, refused until the window ends
        assert (status, error_code(body)) == (429, "too_many_refusals")
        answer = await pos.client.post(
            PREFIX + "/codes/redeem",
            json={"code": good, "store_id": str(member.store_id)},
            headers={"Authorization": f"Bearer {pos.key}", "Idempotency-Key": "k"},
        )
        assert answer.status == 429
        assert 1 <= int(answer.headers["Retry-After"]) <= pos_guard.REFUSAL_WINDOW
        for _ in range(3):
            await pos.validate(good)
    alerts = [r for r in caplog.records if r.getMessage().startswith("alert:")]
    assert len(alerts) == 2, [r.getMessage() for r in alerts]  # the key's, the address's: once
    assert all(r.levelno == logging.WARNING for r in alerts)
    assert await state_of(db, member, good) == "claimed"

    # Another key of the merchant from the same address is held back too (the address's limit);
    # another merchant's POS from it is not.
    status, body = await Pos(client, await new_key(db, settings, member), None).validate(good)
    assert status == 429
    other = await new_member(db)
    theirs = await claimed_code(db, other)
    status, body = await Pos(client, await new_key(db, settings, other), None).validate(theirs)
    assert status == 200


async def test_codes_refused_for_other_reasons_are_not_counted(
    db: asyncpg.Pool, member: Member, pos: Pos
) -> None:
    code = await claimed_code(db, member)
    await pos.redeem(code=code)
    for _ in range(pos_guard.KEY_REFUSALS + 5):  # a POS asking again about a redeemed code
        status, body, _r = await pos.redeem(code=code)
        assert (status, error_code(body)) == (409, "code_redeemed")


# -- hostile requests -----------------------------------------------------------------------------

JSON = "application/json"
HOSTILE: list[tuple[bytes, str, int, str]] = [
    (b"code=ABCD", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
    (b'{"code": "x"}', "text/plain", 415, "unsupported_media_type"),
    (b"{", JSON, 400, "bad_request"),
    (b"", JSON, 400, "bad_request"),
    (b'{"code": "\xff\xfe"}', JSON, 400, "bad_request"),
    (b"\xef\xbb\xbf{}", JSON, 400, "bad_request"),
    (b"[]", JSON, 400, "bad_request"),
    (b'"code"', JSON, 400, "bad_request"),
    (b"null", JSON, 400, "bad_request"),
    (b"NaN", JSON, 400, "bad_request"),
    (b"[" * 3000 + b"]" * 3000, JSON, 413, "body_too_large"),
    (b"[" * 2000 + b"]" * 2000, JSON, 400, "bad_request"),
    (b'{"code": "' + b"A" * 5000 + b'"}', JSON, 413, "body_too_large"),
    (b'{"code": 1}', JSON, 400, "bad_request"),
    (b'{"code": true}', JSON, 400, "bad_request"),
    (b'{"code": ["ABCD"]}', JSON, 400, "bad_request"),
    (b'{"code": {"$ne": ""}}', JSON, 400, "bad_request"),
    (b'{"code": "' + b"A" * 600 + b'"}', JSON, 400, "bad_request"),
    (b'{"code": "\\u0000"}', JSON, 422, "code_mistyped"),
    (b'{"code": "\\ud800"}', JSON, 422, "code_mistyped"),
    (b'{"code": "ABCD", "admin": true}', JSON, 400, "bad_request"),
    (b'{"code": "ABCD", "store_id": 5}', JSON, 400, "bad_request"),
    (b'{"code": "ABCD", "store_id": "../etc"}', JSON, 400, "bad_request"),
    (b'{"code": "ABCD", "pos_reference": "\\u0000"}', JSON, 400, "bad_request"),
    (b'{"code": "ABCD", "pos_reference": "\\ud800"}', JSON, 400, "bad_request"),
    (b'{"code": "ABCD", "pos_reference": ""}', JSON, 400, "bad_request"),
    (
        b'{"code": "ABCD", "pos_reference": "' + b"r" * 101 + b'"}',
        JSON,
        400,
        "bad_request",
    ),
]


@pytest.mark.parametrize(("raw", "content_type", "status", "code"), HOSTILE)
async def test_a_hostile_lock_is_a_clear_refusal(
    db: asyncpg.Pool,
    member: Member,
    pos: Pos,
    raw: bytes,
    content_type: str,
    status: int,
    code: str,
) -> None:
    answer = await pos.client.post(
        PREFIX + "/codes/lock",
        data=raw,
        headers={"Authorization": f"Bearer {pos.key}", "Content-Type": content_type},
    )
    assert answer.status == status
    assert answer.headers["Content-Type"].startswith("application/json")
    assert error_code(await answer.json()) == code
    locks = await db.fetchval(
        "SELECT count(*) FROM coupon_locks WHERE merchant_id = $1", member.merchant_id
    )
    assert locks == 0


async def test_hostile_redeems_store_nothing(db: asyncpg.Pool, member: Member, pos: Pos) -> None:
    code = await claimed_code(db, member)
    store = str(member.store_id)
    for body in (
        {"store_id": store},
        {"code": code, "lock_id": str(uuid.uuid4()), "store_id": store},
        {"lock_id": "not-a-uuid", "store_id": store},
        {"lock_id": 7, "store_id": store},
        {"code": code, "store_id": store.upper().replace("-", "")},
        {"code": code, "store_id": None, "pos_reference": 5},
    ):
        status, answer, _r = await pos.post("/codes/redeem", body, **{"Idempotency-Key": "h"})
        assert (status, error_code(answer)) == (400, "bad_request"), body
    for path in ("/redemptions/not-a-uuid/rollback", "/locks/%00/release"):
        status, answer, _r = await pos.post(path)
        assert (status, error_code(answer)) == (400, "bad_request"), path
    status, answer, _r = await pos.post(f"/redemptions/{uuid.uuid4()}/rollback", {"why": "x"})
    assert (status, error_code(answer)) == (400, "bad_request")
    assert await redemptions(db, member.merchant_id) == []
    assert await state_of(db, member, code) == "claimed"


async def test_a_body_without_length_is_still_bounded(pos: Pos) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"code": "'
        for _ in range(10):
            yield b"A" * 1000
        yield b'"}'

    answer = await pos.client.post(
        PREFIX + "/codes/validate",
        data=chunks(),
        headers={"Authorization": f"Bearer {pos.key}", "Content-Type": "application/json"},
    )
    assert answer.status == 413 and error_code(await answer.json()) == "body_too_large"


async def test_unknown_paths_and_methods_answer_in_json(client: TestClient, pos: Pos) -> None:
    answer = await client.get(PREFIX + "/codes/validate")
    assert answer.status == 405 and error_code(await answer.json()) == "method_not_allowed"
    assert answer.headers["Allow"] == "POST"
    answer = await client.post(PREFIX + "/codes/steal", json={})
    assert answer.status == 404 and error_code(await answer.json()) == "not_found"
    # No console session, no CSRF token: the API never answers with the console's pages.
    answer = await client.post(
        PREFIX + "/codes/validate", data={"code": "x"}, headers={"Authorization": "Bearer x"}
    )
    assert answer.status == 401 and error_code(await answer.json()) == "key_invalid"


async def test_the_openapi_document_is_served_and_names_every_error(client: TestClient) -> None:
    answer = await client.get(PREFIX + "/openapi.json")
    assert answer.status == 200
    document = await answer.json()
    assert document["openapi"] == "3.1.0"
    assert set(document["paths"]) == {
        "/codes/validate",
        "/codes/lock",
        "/locks/{lock_id}/release",
        "/codes/redeem",
        "/redemptions/{redemption_id}/rollback",
    }
    documented = set()
    for path in document["paths"].values():
        for status, response in path["post"]["responses"].items():
            if status != "200":
                schema = response["content"]["application/json"]["schema"]
                documented |= set(schema["properties"]["error"]["properties"]["code"]["enum"])
    outside_paths = {"not_found", "method_not_allowed", "server_error"}
    assert documented == set(CODES.values()) - outside_paths


async def test_locks_that_ended_a_month_ago_are_purged_and_newer_ones_kept(
    db: asyncpg.Pool, member: Member, pos: Pos
) -> None:
    old_code, new_code = await claimed_code(db, member), await claimed_code(db, member)
    status, old = await pos.lock(old_code)
    assert status == 200
    status, new = await pos.lock(new_code)
    assert status == 200
    await db.execute(
        "UPDATE coupon_locks SET locked_at = locked_at - interval '31 days', "
        "expires_at = expires_at - interval '31 days' WHERE merchant_id = $1 AND lock_id = $2",
        member.merchant_id,
        uuid.UUID(old["lock_id"]),
    )
    await db.execute(
        "UPDATE coupon_codes SET locked_until = now() - interval '31 days' "
        "WHERE merchant_id = $1 AND code = $2",
        member.merchant_id,
        old_code,
    )

    assert await pos_redemption.purge_old_locks(db) >= 1

    kept = await db.fetch(
        "SELECT lock_id::text FROM coupon_locks WHERE merchant_id = $1", member.merchant_id
    )
    assert [r["lock_id"] for r in kept] == [new["lock_id"]]
    # The code of the purged lock reads as claimed and can be redeemed; the new lock holds.
    status, body = await pos.validate(old_code)
    assert (status, body["state"], body["redeemable"]) == (200, "claimed", True)
    status, body, _r = await pos.redeem(lock_id=new["lock_id"])
    assert status == 200 and body["code"] == new_code


async def test_the_merchants_own_imported_codes_and_void_ones_through_the_api(
    db: asyncpg.Pool, member: Member, pos: Pos
) -> None:
    """An imported pool's code is validated, locked and redeemed like one of ours, typed as
    the cashier reads it; a void code is refused with code_void."""
    coupon_id, _ = await coupon_codes(db, member.merchant_id, count=0, pool="imported")
    async with db.acquire() as conn:
        await code_import.import_codes(
            conn, member.merchant_id, coupon_id, b"GIFT-2026-0001\n", actor=TEST_ACTOR
        )
        await claim_coupon(conn, member.merchant_id, coupon_id, f"dev-{uuid.uuid4().hex}")
    status, body = await pos.validate("gift 2026 0001")
    assert (status, body["code"], body["redeemable"]) == (200, "GIFT20260001", True)
    status, body = await pos.lock("GIFT-2026-0001")
    assert status == 200
    status, body, _r = await pos.redeem(lock_id=body["lock_id"])
    assert (status, body["code"]) == (200, "GIFT20260001")

    voided = await claimed_code(db, member)
    await void_code(db, member.merchant_id, voided, member.user_id)
    status, body = await pos.validate(voided)
    assert (status, body["redeemable"], body["reason"]["code"]) == (200, False, "code_void")
    status, body = await pos.lock(voided)
    assert (status, error_code(body)) == (409, "code_void")
