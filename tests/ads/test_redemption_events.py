"""Redemptions told to precision marketing (ads/redemption.py redeem_row), through the console
app the composition root builds (portico.runtime.console_app: the hook wired) and the real
PostgreSQL: at the till and through the POS API, each redemption once in the inbox under its
own id and the device that claimed the code, a POS request replayed under its idempotency key
included."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from ads.services import claim_coupon
from kernel.config import Settings
from kernel.shopper_events import event_id
from portico import runtime
from tests.ads.test_pos_api import Pos, new_key
from tests.ads.test_redemption import coupon_codes
from tests.console.test_console_app import Member, csrf_token, sign_in

EN = {"Accept-Language": "en"}


@pytest.fixture
async def console(settings: Settings, db: asyncpg.Pool) -> AsyncIterator[TestClient]:
    async with TestClient(TestServer(runtime.console_app(settings, db, None))) as client:
        yield client


async def claimed_by_a_device(db: asyncpg.Pool, member: Member) -> tuple[str, str, uuid.UUID]:
    """(code, the device that claimed it, its coupon)."""
    coupon_id, _codes = await coupon_codes(db, member.merchant_id)
    device = uuid.uuid4().hex  # a device pseudonym's shape: 32 hex
    async with db.acquire() as conn:
        claim = await claim_coupon(conn, member.merchant_id, coupon_id, device)
    return claim.code, device, coupon_id


async def redemptions_told(db: asyncpg.Pool, member: Member) -> list[asyncpg.Record]:
    return await db.fetch(
        "SELECT * FROM marketing_inbox WHERE merchant_id = $1 AND kind = 'redemption'",
        member.merchant_id,
    )


async def test_a_redemption_at_the_till_is_told_once(
    console: TestClient, db: asyncpg.Pool, member: Member
) -> None:
    code, device, coupon_id = await claimed_by_a_device(db, member)
    assert (await sign_in(console, member.email, headers=EN)).status == 303
    token = csrf_token(await (await console.get("/till", headers=EN)).text())
    form = {"csrf_token": token, "merchant": str(member.merchant_id), "code": code}
    for _ in range(2):  # the second: already redeemed, refused
        await console.post("/till/redeem", data=form, headers=EN)
    [redemption] = await db.fetch(
        "SELECT * FROM coupon_redemptions WHERE merchant_id = $1", member.merchant_id
    )
    [told] = await redemptions_told(db, member)
    assert told["event_id"] == event_id(
        "redemption", member.merchant_id, redemption["redemption_id"]
    )
    assert (told["device_hash"], told["store_id"]) == (device, member.store_id)
    assert told["payload"] == {"coupon_id": str(coupon_id)}
    assert told["occurred_at"] == redemption["redeemed_at"]


async def test_a_pos_redemption_replayed_under_its_key_is_told_once(
    console: TestClient, db: asyncpg.Pool, settings: Settings, member: Member
) -> None:
    code, device, _coupon = await claimed_by_a_device(db, member)
    pos = Pos(console, await new_key(db, settings, member), member.store_id)
    key = uuid.uuid4().hex
    first_status, first, _ = await pos.redeem(key, code=code)
    again_status, again, _ = await pos.redeem(key, code=code)  # the POS retried: replayed
    assert (first_status, again_status) == (200, 200)
    assert first["redemption_id"] == again["redemption_id"]
    [told] = await redemptions_told(db, member)
    assert told["event_id"] == event_id(
        "redemption", member.merchant_id, uuid.UUID(first["redemption_id"])
    )
    assert told["device_hash"] == device
