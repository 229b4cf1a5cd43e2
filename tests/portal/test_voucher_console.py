"""The console's Vouchers pages (portal/console_vouchers.py) and the printable sheet
(portal/voucher_sheet.py): create with validation, list with counts, revoke, print as HTML and
PDF; owners change, staff look; CSRF; another merchant's batch is a 404."""

from __future__ import annotations

import html
import logging
import re
import uuid
import zlib
from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from accounts import services as accounts
from kernel.config import Settings
from portal import console_vouchers, voucher_sheet, vouchers
from portico.console_app import make_console_app
from tests.console.test_console_app import EN, PASSWORD, ZH, Member, csrf_token, new_member, sign_in


@pytest.fixture
async def client(settings: Settings, db: asyncpg.Pool) -> AsyncIterator[TestClient]:
    async with TestClient(TestServer(make_console_app(settings, db))) as client:
        yield client


async def signed_in(client: TestClient, member: Member, headers: dict[str, str] = EN) -> str:
    """Sign in; the session's CSRF token, read from the Vouchers page."""
    assert (await sign_in(client, member.email, headers=headers)).status == 303
    page = await client.get("/vouchers", headers=headers)
    assert page.status == 200
    return csrf_token(await page.text())


# One day for the form and the checks of it (date.today() read twice could straddle midnight).
VALID_UNTIL = date.today() + timedelta(days=30)


def batch_form(token: str, member: Member, **changes: str) -> dict[str, str]:
    return {
        "csrf_token": token,
        "name": "Room cards",
        "store": str(member.store_id),
        "minutes": "1440",
        "quota_mb": "500",
        "max_devices": "2",
        "valid_until": VALID_UNTIL.isoformat(),
        "count": "12",
        **changes,
    }


async def create(client: TestClient, member: Member, token: str, **changes: str) -> str:
    """Create a batch through the form; its page's path."""
    response = await client.post(
        f"/vouchers?merchant={member.merchant_id}",
        data=batch_form(token, member, **changes),
        headers=EN,
        allow_redirects=False,
    )
    assert response.status == 303, await response.text()
    location = response.headers["Location"]
    assert location.startswith("/vouchers/") and "created=1" in location
    return location


def codes_in(page: str) -> list[str]:
    return re.findall(r"<code>([2-9A-HJ-NP-Z]{5}-[2-9A-HJ-NP-Z]{5})</code>", page)


async def test_an_owner_creates_a_batch_and_sees_its_codes_and_counts(
    client: TestClient, db: asyncpg.Pool
) -> None:
    member = await new_member(db)
    token = await signed_in(client, member)
    location = await create(client, member, token)

    page = await (await client.get(location, headers=EN)).text()
    assert "12 vouchers created" in page and "Room cards" in page
    assert "1 day" in page and "1 days" not in page
    assert "500 MB" in page and "up to 2 devices" in page
    shown = codes_in(page)
    assert len(set(shown)) == 12
    [batch] = await vouchers.list_batches(db, member.merchant_id)
    assert (batch.minutes, batch.quota_kb, batch.max_devices, batch.store_id) == (
        1440,
        500 * 1024,
        2,
        member.store_id,
    )
    # "Valid until" a day means to the end of that day in the store's time zone.
    last = VALID_UNTIL
    end = datetime.combine(last + timedelta(days=1), datetime.min.time(), ZoneInfo("Asia/Shanghai"))
    assert batch.valid_until == end
    assert last.isoformat() in page

    await vouchers.redeem(db, member.merchant_id, member.store_id, shown[0].replace("-", ""), "d1")
    listing = await (await client.get("/vouchers", headers=EN)).text()
    row = re.search(r">Room cards</a>.*?</tr>", listing, re.S).group(0)
    numbers = re.findall(r'<td class="num">(\d+)</td>', row)
    assert numbers == ["2", "12", "1", "11", "0"]  # devices, codes, used, unused, revoked
    zh = await (await client.get("/vouchers", headers=ZH)).text()
    assert "WiFi 上网券" in zh and "生成上网券" in zh and "所有门店" in zh


@pytest.mark.parametrize(
    ("changes", "field", "text"),
    [
        ({"name": ""}, "name", "Required."),
        ({"minutes": "0"}, "minutes", "Between 1 and 525600."),
        ({"minutes": "1.5"}, "minutes", "A whole number, please."),
        ({"quota_mb": "-1"}, "quota_mb", "A whole number, please."),
        ({"max_devices": "101"}, "max_devices", "Between 1 and 100."),
        ({"count": "5000"}, "count", "Between 1 and 1000."),
        ({"count": ""}, "count", "Required."),
        ({"valid_until": "2020-01-01"}, "valid_until", "This day is already over."),
        ({"valid_until": "31/12/2030"}, "valid_until", "A date, please"),
        ({"store": str(uuid.uuid4())}, "store", "Choose one of your stores."),
        ({"store": "nope"}, "store", "Choose one of your stores."),
    ],
)
async def test_a_bad_form_comes_back_with_the_error_beside_its_field_and_stores_nothing(
    client: TestClient, db: asyncpg.Pool, changes: dict[str, str], field: str, text: str
) -> None:
    member = await new_member(db)
    token = await signed_in(client, member)
    response = await client.post(
        f"/vouchers?merchant={member.merchant_id}",
        data=batch_form(token, member, **changes),
        headers=EN,
    )
    assert response.status == 400
    page = html.unescape(await response.text())
    assert "Nothing was created" in page
    assert f'aria-describedby="e-{field}"' in page or field == "store"
    assert text in page
    assert await vouchers.list_batches(db, member.merchant_id) == []


async def test_a_post_without_the_csrf_token_is_refused(
    client: TestClient, db: asyncpg.Pool
) -> None:
    member = await new_member(db)
    token = await signed_in(client, member)
    form = batch_form(token, member)
    del form["csrf_token"]
    response = await client.post(f"/vouchers?merchant={member.merchant_id}", data=form)
    assert response.status == 403
    assert await vouchers.list_batches(db, member.merchant_id) == []


async def test_revoking_a_code_and_then_the_batch(client: TestClient, db: asyncpg.Pool) -> None:
    member = await new_member(db)
    token = await signed_in(client, member)
    location = await create(client, member, token, count="3")
    path = location.split("?")[0]
    codes = codes_in(await (await client.get(location, headers=EN)).text())

    one = await client.post(
        f"{path}/revoke?merchant={member.merchant_id}",
        data={"csrf_token": token, "code": codes[0]},
        headers=EN,
    )
    assert one.status == 200 and f"Code {codes[0]} revoked." in await one.text()
    with pytest.raises(vouchers.VoucherRevoked):
        await vouchers.redeem(
            db, member.merchant_id, member.store_id, codes[0].replace("-", ""), "d1"
        )
    again = await client.post(
        f"{path}/revoke?merchant={member.merchant_id}",
        data={"csrf_token": token, "code": codes[0]},
        headers=EN,
    )
    assert "not a live code of this batch" in await again.text()
    everything = await client.post(
        f"{path}/revoke?merchant={member.merchant_id}", data={"csrf_token": token}, headers=EN
    )
    assert "2 codes revoked." in await everything.text()
    [batch] = await vouchers.list_batches(db, member.merchant_id)
    assert (batch.revoked, batch.unused) == (3, 0)


async def test_staff_see_and_print_but_cannot_create_or_revoke(
    client: TestClient, db: asyncpg.Pool
) -> None:
    owner = await new_member(db)
    batch_id = await vouchers.create_batch(
        db,
        owner.merchant_id,
        vouchers.BatchSpec("Desk", None, 60, 0, 1, None, 2),
        now=datetime.now(ZoneInfo("UTC")),
    )
    email = f"staff-{uuid.uuid4().hex}@example.com"
    user_id = await accounts.create_user(db, email, "Staff", PASSWORD)
    await accounts.add_membership(db, owner.merchant_id, user_id, "staff")
    staff = Member(email, user_id, owner.merchant_id, owner.store_id, owner.store_name)
    token = await signed_in(client, staff)

    listing = await (await client.get("/vouchers", headers=EN)).text()
    assert "Desk" in listing and "only an owner can create" in listing
    assert 'name="minutes"' not in listing
    page = await (await client.get(f"/vouchers/{batch_id}", headers=EN)).text()
    assert len(codes_in(page)) == 2 and "/revoke" not in page
    sheet = await client.get(f"/vouchers/{batch_id}/sheet", headers=EN)
    assert sheet.status == 200
    refused = await client.post(
        "/vouchers", data=batch_form(token, staff), headers=EN, allow_redirects=False
    )
    assert refused.status == 403 and "Only an owner" in await refused.text()
    revoke = await client.post(f"/vouchers/{batch_id}/revoke", data={"csrf_token": token})
    assert revoke.status == 403
    [batch] = await vouchers.list_batches(db, owner.merchant_id)
    assert (batch.total, batch.revoked) == (2, 0)


async def test_another_merchants_batch_and_merchant_are_not_found(
    client: TestClient, db: asyncpg.Pool
) -> None:
    me, other = await new_member(db), await new_member(db)
    theirs = await vouchers.create_batch(
        db,
        other.merchant_id,
        vouchers.BatchSpec("Theirs", None, 60, 0, 1, None, 1),
        now=datetime.now(ZoneInfo("UTC")),
    )
    token = await signed_in(client, me)
    for path in (
        f"/vouchers/{theirs}",
        f"/vouchers/{theirs}/sheet",
        f"/vouchers/{theirs}/sheet.pdf",
        f"/vouchers?merchant={other.merchant_id}",
        "/vouchers/not-a-batch",
    ):
        assert (await client.get(path)).status == 404, path
    revoke = await client.post(f"/vouchers/{theirs}/revoke", data={"csrf_token": token})
    assert revoke.status == 404
    assert (await vouchers.list_batches(db, other.merchant_id))[0].revoked == 0


async def test_signed_out_visitors_are_sent_to_sign_in(client: TestClient) -> None:
    response = await client.get("/vouchers", allow_redirects=False)
    assert response.status == 303 and response.headers["Location"] == "/login?next=/vouchers"


# -- the printable sheet ------------------------------------------------------------------------


async def test_the_sheet_prints_every_live_code_with_its_qr_code(
    client: TestClient, db: asyncpg.Pool
) -> None:
    member = await new_member(db, store_name="茶馆 Tea House")
    token = await signed_in(client, member, ZH)
    location = await create(client, member, token, count="12")
    path = location.split("?")[0]
    codes = codes_in(await (await client.get(location, headers=EN)).text())
    await client.post(
        f"{path}/revoke?merchant={member.merchant_id}",
        data={"csrf_token": token, "code": codes[0]},
    )

    response = await client.get(f"{path}/sheet", headers=ZH)
    assert response.status == 200
    page = await response.text()
    printed = re.findall(r'<div class="code">([^<]+)</div>', page)
    assert sorted(printed) == sorted(codes[1:])  # the revoked code is not printed
    assert page.count("<svg") == 11 and "@media print" in page and "size: A4" in page
    assert page.count('<div class="page">') == 2  # 10 cards a page
    assert "茶馆 Tea House" in page and "WiFi 上网券" in page and "1 天" in page
    assert "500 MB" in page and "最多 2 台设备" in page
    assert "http" not in re.sub(r'href="[^"]*"|xmlns="[^"]*"', "", page)  # nothing external


def pdf_texts(body: bytes) -> bytes:
    """The PDF's content streams, inflated (fpdf2 compresses them with zlib).

    Each stream is cut by its dictionary's /Length: compressed bytes may end in b"\\r", which a
    search for "endstream" would take for the line break and cut off (one run in ~100 failed).
    """
    out = []
    for match in re.finditer(rb"/Length (\d+)[^>]*>>\s*stream\r?\n", body):
        stream = body[match.end() : match.end() + int(match[1])]
        try:
            out.append(zlib.decompress(stream))
        except zlib.error:
            out.append(stream)
    return b"\n".join(out)


async def test_the_sheet_as_pdf_holds_every_live_code(client: TestClient, db: asyncpg.Pool) -> None:
    member = await new_member(db)
    token = await signed_in(client, member)
    location = await create(client, member, token, count="23")
    path = location.split("?")[0]
    codes = codes_in(await (await client.get(location, headers=EN)).text())

    response = await client.get(f"{path}/sheet.pdf", headers=ZH)
    assert response.status == 200
    assert response.headers["Content-Type"] == "application/pdf"
    body = await response.read()
    assert body.startswith(b"%PDF-") and body.rstrip().endswith(b"%%EOF")
    assert len(re.findall(rb"/Type\s*/Page\b(?!s)", body)) == 3  # 10 cards a page
    texts = pdf_texts(body)
    for code in codes:
        assert f"({code})".encode() in texts, code
    if voucher_sheet.cjk_font() is not None:
        assert b"NotoSansCJK" in body  # the Chinese labels' font, embedded


async def test_a_kept_pdf_is_made_again_once_a_code_of_it_is_revoked(
    client: TestClient, db: asyncpg.Pool
) -> None:
    """The PDF is kept by what it shows (portal/voucher_sheet.py): asked again, it is the
    same bytes; a code revoked meanwhile makes it another sheet, without that code."""
    member = await new_member(db)
    token = await signed_in(client, member)
    location = await create(client, member, token, count="3")
    path = location.split("?")[0]
    codes = codes_in(await (await client.get(location, headers=EN)).text())
    first = await (await client.get(f"{path}/sheet.pdf", headers=EN)).read()
    kept = voucher_sheet.pdf.cache_info().hits
    again = await (await client.get(f"{path}/sheet.pdf", headers=EN)).read()
    assert again == first and voucher_sheet.pdf.cache_info().hits == kept + 1

    await client.post(
        f"{path}/revoke?merchant={member.merchant_id}",
        data={"csrf_token": token, "code": codes[0]},
    )
    after = pdf_texts(await (await client.get(f"{path}/sheet.pdf", headers=EN)).read())
    assert f"({codes[0]})".encode() not in after
    assert all(f"({code})".encode() in after for code in codes[1:])


async def test_a_new_batchs_sheet_is_made_ahead_so_its_first_views_only_read_it(
    client: TestClient, db: asyncpg.Pool
) -> None:
    """Created, a batch's QR codes and its PDF (in the creator's language) are made in the
    background: its first HTML and PDF views make nothing (no miss in either cache)."""
    member = await new_member(db)
    token = await signed_in(client, member)
    await console_vouchers.sheet_warmed()  # other tests' sheets: not counted here
    location = await create(client, member, token, count="30")
    path = location.split("?")[0]
    await console_vouchers.sheet_warmed()
    codes, pdfs = voucher_sheet.qr_svg.cache_info(), voucher_sheet.pdf.cache_info()

    page = await client.get(f"{path}/sheet", headers=EN)
    assert page.status == 200 and (await page.text()).count("<svg") == 30
    body = await (await client.get(f"{path}/sheet.pdf", headers=EN)).read()
    assert body.startswith(b"%PDF-")

    assert voucher_sheet.qr_svg.cache_info().misses == codes.misses
    assert voucher_sheet.qr_svg.cache_info().hits == codes.hits + 30
    assert voucher_sheet.pdf.cache_info().misses == pdfs.misses
    assert voucher_sheet.pdf.cache_info().hits == pdfs.hits + 1


async def test_a_sheet_asked_for_while_it_is_made_ahead_is_not_made_twice(
    client: TestClient, db: asyncpg.Pool
) -> None:
    member = await new_member(db)
    token = await signed_in(client, member)
    await console_vouchers.sheet_warmed()
    pdfs = voucher_sheet.pdf.cache_info()
    location = await create(client, member, token, count="40")
    response = await client.get(f"{location.split('?')[0]}/sheet.pdf", headers=EN)
    assert response.status == 200
    # One PDF made (ahead), and the view read it: it waited rather than making it too.
    assert voucher_sheet.pdf.cache_info().misses == pdfs.misses + 1
    assert voucher_sheet.pdf.cache_info().hits == pdfs.hits + 1


async def test_a_sheet_that_cannot_be_made_ahead_is_logged_and_the_batch_stands(
    client: TestClient,
    db: asyncpg.Pool,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Laying the PDF out fails (as fpdf2 does on a broken font file; put in its place here,
    since fpdf2 then leaves the file open): the creation answers as ever; the failure is logged
    with its traceback, naming the batch."""

    def broken_pdf(sheet: voucher_sheet.Sheet, font: tuple[Path, int] | None) -> bytes:
        raise RuntimeError(f"cannot lay out {len(sheet.codes)} cards in {font}")

    monkeypatch.setattr(voucher_sheet, "pdf", broken_pdf)
    member = await new_member(db)
    token = await signed_in(client, member)
    await console_vouchers.sheet_warmed()
    with caplog.at_level(logging.INFO, logger="portico.portal.vouchers"):
        location = await create(client, member, token, count="3")
        await console_vouchers.sheet_warmed()
    batch_id = location.split("?")[0].rsplit("/", 1)[1]
    failed = [
        r for r in caplog.records if r.levelno == logging.ERROR and batch_id in r.getMessage()
    ]
    assert len(failed) == 1 and failed[0].exc_info is not None
    assert (await client.get(location, headers=EN)).status == 200  # the batch is there
    batches = await vouchers.list_batches(db, member.merchant_id)
    assert [str(b.batch_id) for b in batches] == [batch_id]


async def test_sheets_are_made_ahead_a_few_at_a_time(
    client: TestClient,
    db: asyncpg.Pool,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Past WARM_AT_ONCE sheets being made, a new batch's is not (its first view makes it);
    the log says so."""
    member = await new_member(db)
    token = await signed_in(client, member)
    await console_vouchers.sheet_warmed()
    monkeypatch.setattr(console_vouchers, "WARM_AT_ONCE", 0)
    pdfs = voucher_sheet.pdf.cache_info()
    with caplog.at_level(logging.INFO, logger="portico.portal.vouchers"):
        location = await create(client, member, token, count="2")
    assert any("not made ahead" in r.getMessage() for r in caplog.records)
    assert not console_vouchers._warming
    assert (await client.get(f"{location.split('?')[0]}/sheet.pdf", headers=EN)).status == 200
    assert voucher_sheet.pdf.cache_info().misses == pdfs.misses + 1  # made by the view


def sheet(lang: str = "zh-CN") -> voucher_sheet.Sheet:
    facts = voucher_sheet.Facts(
        card="WiFi 上网券",
        how="连接 WiFi，打开任意网页，输入此券码。",
        duration=("时长", "2 小时"),
        data=("流量", "不限"),
        devices=("设备数", "1 台设备"),
        valid_until=("有效期至", "长期有效"),
    )
    return voucher_sheet.Sheet("批次", "茶馆", lang, ("ABCDE23456", "FGHJK78923"), facts)


def test_a_pdf_without_the_cjk_font_leaves_chinese_out_but_keeps_the_codes() -> None:
    body = voucher_sheet.pdf(sheet(), None)
    assert body.startswith(b"%PDF-")
    texts = pdf_texts(body)
    assert b"(ABCDE-23456)" in texts and b"(FGHJK-78923)" in texts
    assert b"(Free WiFi voucher)" in texts  # the card's heading, in English


@pytest.mark.skipif(voucher_sheet.cjk_font() is None, reason="fonts-noto-cjk is not installed")
def test_a_pdf_with_the_cjk_font_embeds_a_subset_of_it() -> None:
    body = voucher_sheet.pdf(sheet(), voucher_sheet.cjk_font())
    assert b"NotoSansCJK" in body and (b"FontFile3" in body or b"FontFile2" in body)
    assert len(body) < 200_000  # a subset, not the 19 MB collection
