"""Importing a merchant's own POS codes (ads/code_import.py): every problem with its line
number, all or nothing, size limits."""

from __future__ import annotations

import uuid

import asyncpg
import pytest

from ads import code_import
from ads.code_import import ImportRefused, ImportUnreadable, Problem
from ads.services import UnknownCoupon
from tests.ads.test_redemption import coupon_codes
from tests.console.test_console_app import Member


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
        return await code_import.import_codes(conn, member.merchant_id, coupon_id, data)


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


async def test_only_an_imported_pool_of_the_merchant_takes_a_file(
    db: asyncpg.Pool, member: Member
) -> None:
    unique, _ = await coupon_codes(db, member.merchant_id, count=1)
    with pytest.raises(code_import.NotImportedPool):
        await upload(db, member, unique, b"SALE-0009\n")
    with pytest.raises(UnknownCoupon):
        await upload(db, member, uuid.uuid4(), b"SALE-0009\n")
