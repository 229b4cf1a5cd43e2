"""Importing a merchant's own POS codes (ads/code_import.py): every problem with its line
number, all or nothing, size limits."""

from __future__ import annotations

import html
import io
import re
import uuid

import asyncpg
import pytest
from aiohttp import FormData
from aiohttp.test_utils import TestClient

from accounts import audit
from accounts import services as accounts
from ads import code_import
from ads.code_import import ImportRefused, ImportUnreadable, Problem
from ads.services import UnknownCoupon
from tests.ads.test_redemption import coupon_codes
from tests.console.test_console_app import Member, csrf_token, sign_in
from tests.factories import TEST_ACTOR


async def imported_pool(db: asyncpg.Pool, member: Member) -> uuid.UUID:
    coupon_id, _ = await coupon_codes(db, member.merchant_id, count=0, pool="imported")
    return coupon_id


async def pool_codes(db: asyncpg.Pool, member: Member, coupon_id: uuid.UUID) -> list[str]:
    rows = await db.fetch(
        "SELECT code FROM coupon_codes WHERE merchant_id = $1 AND coupon_id = $2 ORDER BY code",
        member.merchant_id,
        coupon_id,
    )
    return [r["code"] for r in rows]


async def upload(db: asyncpg.Pool, member: Member, coupon_id: uuid.UUID, data: bytes) -> int:
    async with db.acquire() as conn:
        return await code_import.import_codes(
            conn, member.merchant_id, coupon_id, data, actor=TEST_ACTOR
        )


def test_a_csv_or_text_file_is_read_line_by_line() -> None:
    data = (
        "\ufeffCode,Note\r\n"  # a BOM and a header, as spreadsheets write them
        'SUMMER-0001,first\r\n"summer 0002","with, comma"\r\n\r\n  summer0003  \r\n'
    ).encode()
    assert code_import.read_codes(data) == [
        (2, "SUMMER0001"),
        (3, "SUMMER0002"),
        (5, "SUMMER0003"),
    ]


def test_every_problem_is_reported_with_its_line() -> None:
    data = "\n".join(
        [
            "AB12-CD34",  # 1 fine
            "AB12CD34",  # 2 the same as line 1
            "ÄPFEL-1234",  # 3 a symbol that is not a letter or digit of A-Z, 0-9
            "XY",  # 4 too short
            "A" * 33,  # 5 too long
            "ABCDEFGHJKM",  # 6 eleven: the length of Portico's own codes
            "ok-9999",  # 7 fine
            "AB12-cd34",  # 8 line 1 again
        ]
    ).encode()
    with pytest.raises(ImportRefused) as refused:
        code_import.read_codes(data)
    assert refused.value.problems == [
        Problem(2, "repeated", "AB12CD34", 1),
        Problem(3, "symbols", "ÄPFEL-1234"),
        Problem(4, "length", "XY"),
        Problem(5, "length", "A" * 33),
        Problem(6, "length", "ABCDEFGHJKM"),
        Problem(8, "repeated", "AB12-cd34", 1),
    ]
    assert refused.value.more == 0


def test_many_problems_are_listed_up_to_a_limit() -> None:
    data = b"\n".join(b"bad!%d" % n for n in range(200))
    with pytest.raises(ImportRefused) as refused:
        code_import.read_codes(data)
    assert len(refused.value.problems) == code_import.REPORTED
    assert refused.value.more == 200 - code_import.REPORTED


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty"),
        (b"code\n\n\n", "empty"),
        (b"\xff\xfeC\x00O\x00", "encoding"),  # UTF-16
        (b"ABCD-1234\x00\n", "encoding"),
        (b"A" * (code_import.MAX_BYTES + 1), "size"),
    ],
)
def test_what_is_no_file_of_codes_is_refused(data: bytes, reason: str) -> None:
    with pytest.raises(ImportUnreadable) as refused:
        code_import.read_codes(data)
    assert refused.value.values["reason"] == reason


def test_too_many_codes_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(code_import, "MAX_CODES", 3)
    assert len(code_import.read_codes(b"AAAA1\nAAAA2\nAAAA3\n")) == 3
    with pytest.raises(ImportUnreadable) as refused:
        code_import.read_codes(b"AAAA1\nAAAA2\nAAAA3\nAAAA4\n")
    assert refused.value.values == {"reason": "count", "limit": 3}


async def test_a_file_is_stored_whole_or_not_at_all(db: asyncpg.Pool, member: Member) -> None:
    coupon_id = await imported_pool(db, member)
    assert await upload(db, member, coupon_id, b"SALE-0001\nSALE-0002\n") == 2
    # A second file with one code the pool has: refused whole, with the line, nothing added.
    with pytest.raises(ImportRefused) as refused:
        await upload(db, member, coupon_id, b"SALE-0003\nSALE-0004\nsale 0002\n")
    assert refused.value.problems == [Problem(3, "taken", "SALE0002")]
    assert await pool_codes(db, member, coupon_id) == ["SALE0001", "SALE0002"]
    # Taken by another coupon of the merchant is taken too (codes are unique at a merchant).
    other = await imported_pool(db, member)
    with pytest.raises(ImportRefused):
        await upload(db, member, other, b"SALE-0001\n")
    assert await upload(db, member, other, b"SALE-0003\n") == 1
    assert await pool_codes(db, member, other) == ["SALE0003"]
    # The audit log: the two files stored, by coupon and count; the refused ones, nothing.
    log = await audit.entries(db, member.merchant_id)
    assert [(e.action, e.target_id, e.target_name, e.after) for e in log] == [
        ("coupon_codes.import", str(other), "Half-price tea", {"codes_added": 1}),
        ("coupon_codes.import", str(coupon_id), "Half-price tea", {"codes_added": 2}),
    ]
    assert "SALE" not in repr(log)


async def test_only_an_imported_pool_of_the_merchant_takes_a_file(
    db: asyncpg.Pool, member: Member
) -> None:
    unique, _ = await coupon_codes(db, member.merchant_id, count=1)
    with pytest.raises(code_import.NotImportedPool):
        await upload(db, member, unique, b"SALE-0009\n")
    with pytest.raises(UnknownCoupon):
        await upload(db, member, uuid.uuid4(), b"SALE-0009\n")


def upload_form(page: str, member: Member, coupon_id: uuid.UUID, data: bytes) -> FormData:
    form = FormData()
    form.add_field("csrf_token", csrf_token(page))
    form.add_field("merchant", str(member.merchant_id))
    form.add_field("coupon", str(coupon_id))
    form.add_field("file", io.BytesIO(data), filename="codes.csv", content_type="text/csv")
    return form


async def test_an_owner_imports_a_file_in_the_console(
    client: TestClient, db: asyncpg.Pool, member: Member
) -> None:
    coupon_id = await imported_pool(db, member)
    en = {"Accept-Language": "en"}
    assert (await sign_in(client, member.email, headers=en)).status == 303
    page = await (await client.get("/till/import", headers=en)).text()
    assert "Import your own coupon codes" in page and str(coupon_id) in page

    bad = b"code\nWIN-0001\nwin 0001\nWIN_0002\n"
    refused = await client.post(
        "/till/import", data=upload_form(page, member, coupon_id, bad), headers=en
    )
    text = html.unescape(await refused.text())
    assert refused.status == 422 and "Nothing was imported" in text
    assert "the same code as line 2" in text and "only letters A-Z and digits" in text
    assert re.search(r"<td class=\"num\">3</td>", text) and re.search(r">4</td>", text)
    assert await pool_codes(db, member, coupon_id) == []

    good = b"WIN-0001\nWIN-0002\n"
    done = await client.post(
        "/till/import", data=upload_form(page, member, coupon_id, good), headers=en
    )
    assert done.status == 200 and "2 codes imported." in await done.text()
    assert await pool_codes(db, member, coupon_id) == ["WIN0001", "WIN0002"]

    zh = {"Accept-Language": "zh-CN"}
    latin1 = await client.post(
        "/till/import", data=upload_form(page, member, coupon_id, b"CAF\xc9-01\n"), headers=zh
    )
    assert latin1.status == 400 and "不是 UTF-8 文本" in await latin1.text()
    too_big = b"A" * (1024 * 1024 + 10)
    big = await client.post(
        "/till/import", data=upload_form(page, member, coupon_id, too_big), headers=en
    )
    assert big.status == 413  # a console form's size (1 MiB), before anything is read
    assert "too much to send at once" in await big.text()
    assert await pool_codes(db, member, coupon_id) == ["WIN0001", "WIN0002"]


async def test_staff_cannot_import(client: TestClient, db: asyncpg.Pool, member: Member) -> None:
    coupon_id = await imported_pool(db, member)
    staff_email = f"staff-{uuid.uuid4().hex}@example.com"
    staff = await accounts.create_user(db, staff_email, "Till", "correct horse battery")
    await accounts.add_membership(db, member.merchant_id, staff, "staff")
    assert (await sign_in(client, staff_email)).status == 303
    page = await (await client.get("/till/import", headers={"Accept-Language": "en"})).text()
    assert 'id="upload"' not in page and "Only the merchant&#39;s owners" in page
    posted = await client.post(
        "/till/import", data=upload_form(page, member, coupon_id, b"WIN-0009\n")
    )
    assert posted.status == 403 and await pool_codes(db, member, coupon_id) == []
