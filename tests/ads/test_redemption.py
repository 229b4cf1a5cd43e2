"""Coupons redeemed at the till (ads/redemption.py) and the console's till page
(ads/redemption_page.py): check, redeem once (two tills at once too), undo within the window,
every refusal with its reason, and only the signed-in user's merchant."""

from __future__ import annotations

import asyncio
import html
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from accounts import audit
from accounts import services as accounts
from ads import redemption
from ads.services import VoidRefused, claim_coupon, create_campaign
from tests.console.test_console_app import Member, csrf_token, new_member, sign_in

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010802000000907753de"
    "0000000c49444154789c633811a00100032401411d199fc40000000049454e44ae426082"
)


async def coupon_codes(
    db: asyncpg.Pool,
    merchant_id: uuid.UUID,
    *,
    count: int = 4,
    valid_days: float = 7,
    **options: Any,
) -> tuple[uuid.UUID, list[str]]:
    """A campaign with a coupon of `count` codes; the codes, none claimed yet. `options`: the
    coupon's pool, limits… (create_campaign's keyword arguments)."""
    now = datetime.now(UTC)
    async with db.acquire() as conn:
        made = await create_campaign(
            conn,
            merchant_id,
            advertiser="Tea Co",
            name="Spring",
            starts_at=now - timedelta(days=1),
            ends_at=now + timedelta(days=30),
            headline_en="Tea",
            headline_zh="茶",
            body_en="Half price",
            body_zh="半价",
            image=PNG,
            coupon=("Half-price tea", "半价茶饮", now + timedelta(days=valid_days), count),
            **options,
        )
    assert made.coupon_id is not None
    rows = await db.fetch(
        "SELECT code FROM coupon_codes WHERE merchant_id = $1 AND coupon_id = $2 ORDER BY code",
        merchant_id,
        made.coupon_id,
    )
    return made.coupon_id, [r["code"] for r in rows]


async def claimed_code(
    db: asyncpg.Pool, member: Member, *, valid_days: float = 7, count: int = 4
) -> str:
    """A code claimed by a new shopper; valid_days < 0: claimed, then its coupon ended."""
    coupon_id, _codes = await coupon_codes(
        db, member.merchant_id, count=count, valid_days=abs(valid_days)
    )
    async with db.acquire() as conn:
        claim = await claim_coupon(conn, member.merchant_id, coupon_id, f"dev-{uuid.uuid4().hex}")
    if valid_days < 0:  # a coupon cannot be claimed once it ended: it ends after the claim
        ended = datetime.now(UTC) + timedelta(days=valid_days)
        await db.execute(
            "UPDATE coupons SET valid_until = $3 WHERE merchant_id = $1 AND coupon_id = $2",
            member.merchant_id,
            coupon_id,
            ended,
        )
        await db.execute(
            "UPDATE coupon_codes SET expires_at = $3 WHERE merchant_id = $1 AND code = $2",
            member.merchant_id,
            claim.code,
            ended,
        )
    return claim.code


async def test_a_claimed_code_is_redeemed_once_and_may_be_undone(
    db: asyncpg.Pool, member: Member
) -> None:
    code = await claimed_code(db, member)
    typed = code.lower().replace("-", " ")  # as a cashier may type it

    status = await redemption.check_code(db, member.merchant_id, typed, "zh-CN")
    assert (status.code, status.title, status.redeemable) == (code, "半价茶饮", True)
    done = await redemption.redeem(
        db, member.merchant_id, typed, store_id=member.store_id, user_id=member.user_id
    )
    assert done.code == code
    with pytest.raises(redemption.CodeAlreadyRedeemed):
        await redemption.redeem(
            db, member.merchant_id, code, store_id=member.store_id, user_id=member.user_id
        )
    row = await db.fetchrow(
        "SELECT * FROM coupon_redemptions WHERE merchant_id = $1", member.merchant_id
    )
    assert (row["code"], row["store_id"], row["redeemed_by"]) == (
        code,
        member.store_id,
        member.user_id,
    )
    assert row["device_hash"].startswith("dev-")

    assert (
        await redemption.undo(db, member.merchant_id, done.redemption_id, user_id=member.user_id)
        == code
    )
    with pytest.raises(redemption.UndoTooLate):  # once
        await redemption.undo(db, member.merchant_id, done.redemption_id, user_id=member.user_id)
    again = await redemption.redeem(
        db, member.merchant_id, code, store_id=member.store_id, user_id=member.user_id
    )
    assert again.redemption_id != done.redemption_id
    lines = await redemption.recent_at_store(db, member.merchant_id, member.store_id, "en")
    assert [(line.code, line.undone, line.undoable) for line in lines] == [
        (code, False, True),
        (code, True, False),
    ]


async def test_an_undo_and_a_void_are_in_the_audit_log_by_the_codes_last_characters(
    db: asyncpg.Pool, member: Member
) -> None:
    code = await claimed_code(db, member)
    done = await redemption.redeem(
        db, member.merchant_id, code, store_id=member.store_id, user_id=member.user_id
    )
    await redemption.undo(
        db, member.merchant_id, done.redemption_id, user_id=member.user_id, store_name="Till 1"
    )
    other = await claimed_code(db, member)
    await redemption.void(db, member.merchant_id, other, user_id=member.user_id)
    with pytest.raises(VoidRefused):  # once: no second entry
        await redemption.void(db, member.merchant_id, other, user_id=member.user_id)
    log = await audit.entries(db, member.merchant_id)
    assert [(e.action, e.actor_id, e.target_name, e.after) for e in log] == [
        ("coupon.void", member.user_id, f"…{other[-4:]}", None),
        ("coupon.undo", member.user_id, f"…{code[-4:]}", {"store": "Till 1"}),
    ]
    assert code not in repr(log) and other not in repr(log)


async def test_an_old_redemption_cannot_be_undone(db: asyncpg.Pool, member: Member) -> None:
    code = await claimed_code(db, member)
    done = await redemption.redeem(
        db, member.merchant_id, code, store_id=member.store_id, user_id=member.user_id
    )
    await db.execute(
        "UPDATE coupon_redemptions SET redeemed_at = now() - $2::interval WHERE merchant_id = $1",
        member.merchant_id,
        redemption.UNDO_WINDOW + timedelta(seconds=1),
    )
    with pytest.raises(redemption.UndoTooLate):
        await redemption.undo(db, member.merchant_id, done.redemption_id, user_id=member.user_id)
    status = await redemption.check_code(db, member.merchant_id, code, "en")
    assert status.state == "redeemed" and not status.undoable


async def test_two_tills_at_once_redeem_a_code_once(db: asyncpg.Pool, member: Member) -> None:
    codes = [await claimed_code(db, member) for _ in range(5)]
    for code in codes:
        outcomes = await asyncio.gather(
            *(
                redemption.redeem(
                    db, member.merchant_id, code, store_id=member.store_id, user_id=member.user_id
                )
                for _ in range(4)
            ),
            return_exceptions=True,
        )
        won = [o for o in outcomes if isinstance(o, redemption.Redemption)]
        lost = [o for o in outcomes if isinstance(o, redemption.CodeAlreadyRedeemed)]
        assert (len(won), len(lost)) == (1, 3), outcomes
    count = await db.fetchval(
        "SELECT count(*) FROM coupon_redemptions WHERE merchant_id = $1", member.merchant_id
    )
    assert count == len(codes)


async def test_every_refusal_says_why(db: asyncpg.Pool, member: Member) -> None:
    _coupon, unclaimed = await coupon_codes(db, member.merchant_id, count=1)
    expired = await claimed_code(db, member, valid_days=-1)
    other = await new_member(db)
    foreign = await claimed_code(db, other)
    mistyped = unclaimed[0][:-1] + ("0" if unclaimed[0][-1] != "0" else "1")
    cases = [
        ("", redemption.CodeMistyped),
        ("<script>", redemption.CodeMistyped),
        ("x" * 10_000, redemption.CodeMistyped),
        (mistyped, redemption.CodeMistyped),
        (unclaimed[0], redemption.CodeNotClaimed),
        (expired, redemption.CodeExpired),
        (foreign, redemption.CodeUnknown),  # another merchant's code is not this merchant's
    ]
    for typed, error in cases:
        with pytest.raises(error):
            await redemption.redeem(
                db, member.merchant_id, typed, store_id=member.store_id, user_id=member.user_id
            )
    assert (
        await db.fetchval(
            "SELECT count(*) FROM coupon_redemptions WHERE merchant_id = $1", member.merchant_id
        )
        == 0
    )


# -- the console's till page ----------------------------------------------------------------------


EN = {"Accept-Language": "en"}


async def test_staff_check_and_redeem_at_the_till_and_undo(
    client: TestClient, db: asyncpg.Pool, member: Member
) -> None:
    code = await claimed_code(db, member)
    staff_email = f"staff-{uuid.uuid4().hex}@example.com"
    staff = await accounts.create_user(db, staff_email, "Till", "correct horse battery")
    await accounts.add_membership(db, member.merchant_id, staff, "staff")
    assert (await sign_in(client, staff_email, headers=EN)).status == 303

    page = await client.get("/till", params={"code": code.lower()}, headers=EN)
    text = html.unescape(await page.text())
    assert page.status == 200 and "Valid: ready to redeem." in text and "Half-price tea" in text
    token = csrf_token(text)
    form = {"csrf_token": token, "merchant": str(member.merchant_id), "code": code}
    form["store"] = str(member.store_id)
    redeemed = await client.post("/till/redeem", data=form, headers=EN)
    text = html.unescape(await redeemed.text())
    assert redeemed.status == 200 and f"Redeemed: Half-price tea ({code})." in text
    assert str(redeemed.url.path) == "/till"

    again = await client.post("/till/redeem", data=form, headers=EN)
    assert again.status == 409 and "already redeemed" in await again.text()

    redemption_id = re.search(r'name="redemption" value="([0-9a-f-]{36})"', text)
    assert redemption_id is not None
    undo = {**form, "redemption": redemption_id.group(1)}
    undone = await client.post("/till/undo", data=undo, headers=EN)
    assert undone.status == 200
    assert f"Redemption of {code} undone" in html.unescape(await undone.text())
    status = await redemption.check_code(db, member.merchant_id, code, "en")
    assert status.redeemable


async def test_the_till_speaks_chinese_and_refuses_what_is_not_yours(
    client: TestClient, db: asyncpg.Pool, member: Member
) -> None:
    other = await new_member(db)
    foreign = await claimed_code(db, other)
    assert (await sign_in(client, member.email)).status == 303
    zh = {"Accept-Language": "zh-CN"}

    page = await client.get("/till", params={"code": foreign}, headers=zh)
    assert page.status == 404 and "本商户没有这个券码。" in await page.text()
    typo = await client.get("/till", params={"code": "ABCD-EFGH-JK"}, headers=zh)
    assert typo.status == 400 and "券码无效" in await typo.text()
    theirs = await client.get("/till", params={"merchant": str(other.merchant_id)})
    assert theirs.status == 404
    bad_store = await client.get("/till", params={"store": str(other.store_id)})
    assert bad_store.status == 400
    token = csrf_token(await (await client.get("/till")).text())
    posted = await client.post(
        "/till/redeem",
        data={"csrf_token": token, "merchant": str(other.merchant_id), "code": foreign},
    )
    assert posted.status == 404
    no_token = await client.post("/till/redeem", data={"code": foreign})
    assert no_token.status == 403
    assert (
        await db.fetchval(
            "SELECT count(*) FROM coupon_redemptions WHERE merchant_id = $1", other.merchant_id
        )
        == 0
    )


async def test_a_scanned_till_link_reads_as_its_code(db: asyncpg.Pool, member: Member) -> None:
    """A coupon's QR holds its till link: a scanner typing it into the field gives the code."""
    code = await claimed_code(db, member)
    link = redemption.till_link("https://console.example.cn/", code)
    assert link == f"https://console.example.cn/till?code={code}"
    assert redemption.read_code(link) == code
    assert redemption.read_code(f"  {link}\n") == code
    status = await redemption.check_code(db, member.merchant_id, link, "en")
    assert status.code == code and status.redeemable
    for bad in ("https://console.example.cn/till?code=", "https://x/till?code=%3Cscript%3E"):
        with pytest.raises(redemption.CodeMistyped):
            redemption.read_code(bad)


async def test_a_till_link_opened_signed_out_lands_on_the_code_after_signing_in(
    client: TestClient, db: asyncpg.Pool, member: Member
) -> None:
    """Staff scan a shopper's QR with a phone's camera: the console asks them to sign in, then
    shows the till with the code checked. Only a path on the console is a place to go next."""
    code = await claimed_code(db, member)
    opened = await client.get("/till", params={"code": code}, allow_redirects=False)
    assert opened.status == 303
    login_url = opened.headers["Location"]
    assert login_url.startswith("/login?next=")
    form_page = await client.get(login_url, headers=EN)
    text = await form_page.text()
    assert 'name="next"' in text
    form = {"email": member.email, "password": "correct horse battery"}
    form |= {"csrf_token": csrf_token(text), "next": f"/till?code={code}"}
    signed_in = await client.post("/login", data=form, allow_redirects=False)
    assert (signed_in.status, signed_in.headers["Location"]) == (303, f"/till?code={code}")
    till = await client.get(signed_in.headers["Location"], headers=EN)
    assert "Valid: ready to redeem." in await till.text()
    # Signed in already, the login page sends a safe `next` on; anything else goes home.
    for target, expected in (
        (f"/till?code={code}", f"/till?code={code}"),
        ("//evil.example/till", "/dashboard"),
        ("/\\evil.example", "/dashboard"),
        ("https://evil.example/", "/dashboard"),
        ("/till\r\nSet-Cookie: x=1", "/dashboard"),
    ):
        answer = await client.get("/login", params={"next": target}, allow_redirects=False)
        assert (answer.status, answer.headers["Location"]) == (303, expected), target


async def test_a_file_posted_for_a_field_is_a_clear_refusal(
    client: TestClient, db: asyncpg.Pool, member: Member
) -> None:
    """Hostile forms: a multipart file where the till expects text is refused, not a 500."""
    assert (await sign_in(client, member.email)).status == 303
    token = csrf_token(await (await client.get("/till")).text())
    for field in ("merchant", "store", "code", "redemption"):
        form = aiohttp.FormData()
        form.add_field("csrf_token", token)
        form.add_field(field, b"\x00\xff" * 10, filename="x.bin")
        for path in ("/till/redeem", "/till/undo"):
            answer = await client.post(path, data=form, headers=EN)
            assert 400 <= answer.status < 500, (field, path, answer.status)
