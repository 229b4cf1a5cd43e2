"""The console's Portal settings page (portal/console_look.py, portal/look.py): owners set a
store's look with a contrast check and a checked landing URL, upload a logo and background
checked by content (hostile files refused with a clear message in their language), see it in
the preview, find each change in the audit log, and the splash served by the portal shows it
within the settings cache's bound; staff get 403, another merchant's ids 404."""

from __future__ import annotations

import asyncio
import hashlib
import html
import io
import time
import uuid
import zipfile
from collections.abc import AsyncIterator

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer
from PIL import Image

from accounts import audit
from accounts import services as accounts
from controller.services import record_router_status, register_router
from kernel.config import Settings
from portal import look, stores
from portal.fas import encode_fas
from portico import checklist
from portico.console_app import make_console_app
from tests.console.test_console_app import EN, ZH, Member, csrf_token, new_member, sign_in

LOOK = {
    "brand_name": "Harbour Tea",
    "brand_color": "#1d4ed8",
    "page_color": "#fffbeb",
    "text_color": "#3b0764",
    "welcome_en": "Welcome to Harbour Tea",
    "welcome_zh": "欢迎光临港湾茶馆",
    "landing_url": "https://harbour.example/menu",
}


@pytest.fixture
async def client(settings: Settings, db: asyncpg.Pool) -> AsyncIterator[TestClient]:
    async with TestClient(TestServer(make_console_app(settings, db))) as client:
        yield client


async def signed_in(client: TestClient, member: Member, headers: dict[str, str] = EN) -> str:
    assert (await sign_in(client, member.email, headers=headers)).status == 303
    page = await client.get(_page(member), headers=headers)
    assert page.status == 200
    return csrf_token(await page.text())


def _page(member: Member) -> str:
    return f"/portal?merchant={member.merchant_id}&store={member.store_id}"


def _ids(member: Member, token: str) -> dict[str, str]:
    return {"csrf_token": token, "merchant": str(member.merchant_id), "store": str(member.store_id)}


def png(width: int = 64, height: int = 32, color: tuple[int, ...] = (200, 30, 30, 255)) -> bytes:
    out = io.BytesIO()
    Image.new("RGBA", (width, height), color).save(out, "PNG")
    return out.getvalue()


def jpeg(width: int = 64, height: int = 32) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (30, 90, 200)).save(out, "JPEG", quality=90)
    return out.getvalue()


async def upload(
    client: TestClient,
    member: Member,
    token: str,
    kind: str,
    data: bytes,
    filename: str = "logo.png",
    content_type: str = "image/png",
    headers: dict[str, str] = EN,
):
    from aiohttp import FormData

    form = FormData()
    for name, value in (_ids(member, token) | {"kind": kind}).items():
        form.add_field(name, value)
    form.add_field("file", io.BytesIO(data), filename=filename, content_type=content_type)
    return await client.post("/portal/pictures", data=form, headers=headers)


def splash_fields(client_mac: str) -> dict[str, str]:
    """An openNDS level-1 redirect's fields for a phone at `client_mac` (portal/fas.py)."""
    return {
        "hid": hashlib.sha256(client_mac.encode()).hexdigest(),
        "clientip": "10.0.0.9",
        "clientmac": client_mac,
        "gatewayname": "AP",
        "gatewayaddress": "10.0.0.1:2050",
        "gatewaymac": "",
        "originurl": "",
    }


async def settings_row(db: asyncpg.Pool, member: Member) -> asyncpg.Record:
    return await db.fetchrow(
        "SELECT * FROM portal_settings WHERE merchant_id = $1 AND store_id = $2",
        member.merchant_id,
        member.store_id,
    )


# --- the look: saved, audited, previewed, on the splash within the cache's bound ----------


async def test_an_owner_saves_the_look_and_the_splash_shows_it_within_seconds(
    client: TestClient,
    portal_client: TestClient,
    db: asyncpg.Pool,
) -> None:
    member = await new_member(db)
    router_id = f"ap-look-{uuid.uuid4().hex[:8]}"
    async with db.acquire() as conn:
        await stores.upsert_store_portal(
            conn, member.merchant_id, member.store_id, brand_name=member.store_name
        )
        new = await register_router(conn, member.merchant_id, member.store_id, router_id, "AP")
        await record_router_status(conn, new.router, online=True, status={"v": 1, "online": True})
    fields = splash_fields("aa:bb:cc:dd:ee:09")
    splash = f"/fas/{router_id}/?fas={encode_fas(fields)}"
    first = await portal_client.get(splash, headers=EN)
    assert first.status == 200
    assert (
        "Harbour Tea" not in await first.text()
    )  # and now the settings are cached for SETTINGS_TTL

    token = await signed_in(client, member)
    response = await client.post("/portal", data=_ids(member, token) | LOOK, headers=EN)
    assert response.status == 200  # after the redirect
    page = html.unescape(await response.text())
    assert "Saved. Shoppers see it within seconds." in page
    row = await settings_row(db, member)
    assert {name: row[name] for name in LOOK} == LOOK

    [entry] = await audit.entries(db, member.merchant_id)
    assert (entry.action, entry.actor_id, entry.target_id) == (
        "portal.update",
        member.user_id,
        str(member.store_id),
    )
    assert entry.before["brand_color"] == "#0a7d5a" and entry.after["brand_color"] == "#1d4ed8"
    assert entry.after["welcome_zh"] == LOOK["welcome_zh"] and "terms_version" not in entry.after

    saved_at = time.monotonic()
    while True:
        text = await (await portal_client.get(splash, headers=ZH)).text()
        if "欢迎光临港湾茶馆" in text:
            break
        assert time.monotonic() - saved_at < stores.SETTINGS_TTL + 1.5, "look not on the splash"
        await asyncio.sleep(0.25)
    assert "Harbour Tea" in text and "#1d4ed8" in text and "#fffbeb" in text
    assert "#3b0764" in text

    again = await client.post("/portal", data=_ids(member, token) | LOOK, headers=EN)
    assert "Nothing changed." in await again.text()
    assert len(await audit.entries(db, member.merchant_id)) == 1


@pytest.mark.parametrize(
    ("field", "value", "headers", "message"),
    [
        ("brand_color", "#fde68a", EN, "White text on this colour has a contrast of 1.2:1"),
        ("text_color", "#f3f4f6", ZH, "此文字颜色在此背景上的对比度为 1.0:1，至少需要 4.5:1"),
        ("text_color", "#777777", EN, "contrast of 4.3:1; at least 4.5:1 is needed"),
        ("landing_url", "javascript:alert(1)", EN, "starting with http:// or https://"),
        ("landing_url", "ftp://files.example/", ZH, "以 http:// 或 https:// 开头"),
        ("page_color", "red", EN, "such as #0a7d5a"),
        ("brand_name", "", ZH, "请填写 1 到 80 个字符的名称"),
        ("welcome_en", "x" * 301, EN, "At most 300 characters"),
    ],
)
async def test_a_bad_field_is_refused_with_its_message_and_nothing_is_stored(
    client: TestClient,
    db: asyncpg.Pool,
    field: str,
    value: str,
    headers: dict[str, str],
    message: str,
) -> None:
    member = await new_member(db)
    token = await signed_in(client, member, headers)
    form = _ids(member, token) | LOOK | {field: value}
    response = await client.post("/portal", data=form, headers=headers)
    assert response.status == 400
    page = html.unescape(await response.text())
    assert message in page
    assert f'aria-describedby="error-{field}"' in page
    assert await settings_row(db, member) is None  # nothing, not even the defaults
    assert await audit.entries(db, member.merchant_id) == []


def test_contrast_is_wcag_2() -> None:
    assert round(look.contrast("#000000", "#ffffff"), 1) == 21.0
    assert round(look.contrast("#777777", "#ffffff"), 2) == 4.48  # the classic near miss
    assert look.contrast("#0a7d5a", "#ffffff") >= look.MIN_CONTRAST  # the default brand


async def test_the_preview_renders_the_splash_with_the_draft_and_loads_nothing_else(
    client: TestClient, db: asyncpg.Pool
) -> None:
    member = await new_member(db)
    await signed_in(client, member)
    base = f"/portal/preview?merchant={member.merchant_id}&store={member.store_id}"
    saved = await client.get(base + "&lang=en", headers=EN)
    assert saved.status == 200
    csp = saved.headers["Content-Security-Policy"]
    assert "sandbox" in csp and "frame-ancestors 'self'" in csp and "default-src 'none'" in csp
    assert saved.headers["X-Frame-Options"] == "SAMEORIGIN"
    text = await saved.text()
    assert member.store_name in text and "#0a7d5a" in text  # the defaults before any save
    draft = await client.get(
        base + "&lang=zh-CN&draft=1&brand_color=%231d4ed8&welcome_zh=%E8%8D%89%E7%A8%BF",
        headers=EN,
    )
    text = await draft.text()
    assert 'lang="zh-CN"' in text and "草稿" in text and "#1d4ed8" in text
    assert "http://" not in text and "https://" not in text  # no external resource
    unreadable = await client.get(base + "&lang=en&draft=1&brand_color=%23ffff00", headers=EN)
    assert "#ffff00" not in await unreadable.text()  # a refused colour is not previewed
    assert await settings_row(db, member) is None  # a draft is never stored
    page = await (await client.get(_page(member), headers=ZH)).text()
    assert 'id="preview-zh-CN"' in page and 'id="preview-en"' in page
    assert 'sandbox="allow-same-origin"' in page and "/static/portal/look-preview.js" in page
    script = await client.get("/static/portal/look-preview.js")
    assert script.status == 200 and "draft" in await script.text()


# --- pictures ------------------------------------------------------------------------------


async def test_a_logo_is_re_encoded_served_with_a_fixed_type_and_audited(
    client: TestClient, portal_client: TestClient, db: asyncpg.Pool
) -> None:
    member = await new_member(db)
    token = await signed_in(client, member)
    original = png(900, 300)
    response = await upload(client, member, token, "logo", original, "x.gif", "text/html")
    assert response.status == 200
    assert "Logo saved." in await response.text()
    row = await settings_row(db, member)
    assert row["logo_id"] is not None
    path = stores.image_path(member.merchant_id, member.store_id, row["logo_id"])
    served = await portal_client.get(path)
    assert served.status == 200
    assert served.headers["Content-Type"] == "image/png"
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in served.headers["Content-Security-Policy"]
    data = await served.read()
    assert hashlib.sha256(data).digest() != hashlib.sha256(original).digest()
    with Image.open(io.BytesIO(data)) as stored:
        assert stored.size == (512, 171)  # scaled to the logo's 512 px
    for unknown in (
        stores.image_path(member.merchant_id, member.store_id, uuid.uuid4()),
        f"/look/{member.merchant_id}/{member.store_id}/not-an-id",
        stores.image_path(uuid.uuid4(), member.store_id, row["logo_id"]),  # not that merchant's
    ):
        assert (await portal_client.get(unknown)).status == 404, unknown
    console = await client.get(
        f"/portal/picture/{member.store_id}/{row['logo_id']}?merchant={member.merchant_id}"
    )
    assert console.status == 200 and console.headers["Content-Type"] == "image/png"
    [entry] = await audit.entries(db, member.merchant_id)
    assert entry.before == {"logo": None}
    assert entry.after["logo"].startswith("PNG 512×171")

    # A background replaces nothing of the logo; a photo is stored as JPEG.
    response = await upload(client, member, token, "background", png(40, 40), "b.png")
    assert "Header background saved." in await response.text()
    row = await settings_row(db, member)
    background = await portal_client.get(
        stores.image_path(member.merchant_id, member.store_id, row["background_id"])
    )
    assert background.headers["Content-Type"] == "image/jpeg"

    # Removing the logo deletes its picture.
    form = _ids(member, token) | {"kind": "logo", "remove": "1"}
    from aiohttp import FormData

    multipart = FormData()
    for name, value in form.items():
        multipart.add_field(name, value)
    multipart.add_field("file", b"", filename="", content_type="application/octet-stream")
    response = await client.post("/portal/pictures", data=multipart, headers=EN)
    assert response.status == 200
    assert (await settings_row(db, member))["logo_id"] is None
    assert (
        await db.fetchval(
            "SELECT count(*) FROM portal_images WHERE merchant_id = $1", member.merchant_id
        )
        == 1
    )  # the background only
    entries = await audit.entries(db, member.merchant_id)
    assert entries[0].after == {"logo": None} and entries[0].before["logo"].startswith("PNG")


async def test_the_splash_shows_the_stores_pictures_from_their_paths(
    client: TestClient, portal_client: TestClient, db: asyncpg.Pool
) -> None:
    member = await new_member(db)
    token = await signed_in(client, member)
    for kind in ("logo", "background"):
        assert (await upload(client, member, token, kind, png(60, 60))).status == 200
    row = await settings_row(db, member)
    router_id = f"ap-pic-{uuid.uuid4().hex[:8]}"
    async with db.acquire() as conn:
        new = await register_router(conn, member.merchant_id, member.store_id, router_id, "AP")
        await record_router_status(conn, new.router, online=True, status={"v": 1, "online": True})
    splash = f"/fas/{router_id}/?fas={encode_fas(splash_fields('aa:bb:cc:dd:ee:0a'))}"
    text = await (await portal_client.get(splash, headers=EN)).text()
    logo = stores.image_path(member.merchant_id, member.store_id, row["logo_id"])
    background = stores.image_path(member.merchant_id, member.store_id, row["background_id"])
    assert f'src="{logo}"' in text and f'url("{background}")' in text
    # Text is written in the colours the contrast check passed, never faded below them.
    assert "opacity" not in text
    assert "a{color:inherit}" in text  # links too (a browser's blue is unreadable on dark pages)
    for path in (logo, background):
        assert (await portal_client.get(path)).status == 200, path


def _jpeg_zip_polyglot() -> bytes:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("payload.html", "<script>alert(1)</script>")
    return jpeg() + archive.getvalue()


SVG = (
    b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
)
HUGE = png(1, 1)


def _too_many_pixels() -> bytes:
    out = io.BytesIO()
    Image.new("L", (5000, 4000)).save(out, "PNG")  # 20 MP: over the logo's 16, tiny as a file
    return out.getvalue()


@pytest.mark.parametrize(
    ("name", "kind", "data", "headers", "status", "message"),
    [
        (
            "polyglot",
            "logo",
            _jpeg_zip_polyglot(),
            EN,
            400,
            "This picture has another file hidden in it (ZIP)",
        ),
        (
            "png-html",
            "background",
            png() + b"<html><script>alert(1)</script></html>",
            ZH,
            400,
            "此图片中藏有其他文件（HTML）",
        ),
        ("svg", "logo", SVG, EN, 415, "This is a SVG file, which is not accepted"),
        ("svg-zh", "background", SVG, ZH, 415, "这是 SVG 文件，不被接受"),
        ("truncated", "logo", png(300, 300)[:-200], EN, 400, "could not be read to its end"),
        ("truncated-jpeg", "background", jpeg(400, 400)[:300], ZH, 400, "图片无法完整读取"),
        ("bytes", "logo", png() + b"\0" * (2 * 1024 * 1024), EN, 413, "at most 2 MB is accepted"),
        (
            "bytes-big",
            "logo",
            png() + b"\0" * (7 * 1024 * 1024),
            ZH,
            413,
            "图片大小为 7.1 MB，最大 2 MB",
        ),
        ("pixels", "logo", _too_many_pixels(), ZH, 413, "最多 16 百万像素"),
        ("gif", "logo", b"GIF89a" + b"\0" * 40, EN, 415, "This is a GIF file"),
        ("empty", "logo", b"", EN, 400, "No file was chosen, or it is empty"),
    ],
)
async def test_a_hostile_or_bad_upload_is_refused_with_a_clear_message(
    client: TestClient,
    db: asyncpg.Pool,
    name: str,
    kind: str,
    data: bytes,
    headers: dict[str, str],
    status: int,
    message: str,
) -> None:
    member = await new_member(db)
    token = await signed_in(client, member, headers)
    response = await upload(client, member, token, kind, data, "photo.png", "image/png", headers)
    assert response.status == status, name
    page = html.unescape(await response.text())
    assert message in page, name
    assert f'aria-describedby="error-{kind}"' in page
    assert (
        await db.fetchval(
            "SELECT count(*) FROM portal_images WHERE merchant_id = $1", member.merchant_id
        )
        == 0
    )
    assert await audit.entries(db, member.merchant_id) == []


def _noise(image_format: str, **options: object) -> bytes:
    out = io.BytesIO()
    Image.effect_noise((600, 400), 120).convert("RGB").save(out, image_format, **options)
    return out.getvalue()


@pytest.mark.parametrize("kind", ["logo", "background"])
@pytest.mark.parametrize("signature", [b"<svG", b"PK\x03\x04", b"<html"])
def test_a_signature_inside_the_compressed_pixels_is_not_a_hidden_file(
    kind: str, signature: bytes
) -> None:
    # Compressed pixels are noise: a 4-byte signature turns up in about 1 of 60 photos of 4 MB
    # by chance. Only the file's headers, metadata and what follows its end are searched.
    data = _noise("JPEG", quality=90)
    middle = len(data) // 2
    spliced = data[:middle] + signature + data[middle + len(signature) :]
    assert look.check_picture(kind, spliced).content_type == "image/jpeg"
    for image_format in ("PNG", "WEBP", "JPEG"):
        whole = _noise(image_format)
        outside = look.outside_pixels(whole)
        assert len(outside) < 1000 < len(whole), image_format
        assert look.outside_pixels(whole + b"<svg>") == outside + b"<svg>", image_format


def test_a_file_hidden_in_a_jpeg_comment_is_found() -> None:
    data = _noise("JPEG")
    comment = b"<?php system($_GET[1]); ?>"
    hidden = data[:2] + b"\xff\xfe" + (len(comment) + 2).to_bytes(2, "big") + comment + data[2:]
    with pytest.raises(look.HiddenContent, match="PHP"):
        look.check_picture("logo", hidden)


# --- who may: staff 403, another merchant 404, CSRF ------------------------------------------


async def test_staff_get_403_and_another_merchants_ids_404(
    client: TestClient, db: asyncpg.Pool
) -> None:
    owner = await new_member(db)
    other = await new_member(db)
    staff_email = f"staff-{uuid.uuid4().hex}@example.com"
    staff_id = await accounts.create_user(db, staff_email, "Staff", "correct horse battery")
    await accounts.add_membership(db, owner.merchant_id, staff_id, "staff")

    staff = Member(staff_email, staff_id, owner.merchant_id, owner.store_id, owner.store_name)
    assert (await sign_in(client, staff_email, "correct horse battery", EN)).status == 303
    for path in (
        _page(owner),
        f"/portal/preview?merchant={owner.merchant_id}&store={owner.store_id}&lang=en",
    ):
        response = await client.get(path, headers=EN)
        assert response.status == 403, path
        assert "Only an owner of this merchant" in await response.text()
    token = csrf_token(await (await client.get("/dashboard", headers=EN)).text())
    response = await client.post("/portal", data=_ids(staff, token) | LOOK, headers=EN)
    assert response.status == 403
    response = await upload(client, staff, token, "logo", png())
    assert response.status == 403
    await client.post("/logout", data={"csrf_token": token})

    token = await signed_in(client, owner)
    mixed = [
        f"/portal?merchant={other.merchant_id}",
        f"/portal?merchant={owner.merchant_id}&store={other.store_id}",
        f"/portal?merchant={owner.merchant_id}&store=not-a-uuid",
        f"/portal/preview?merchant={other.merchant_id}&store={other.store_id}&lang=en",
        f"/portal/preview?merchant={owner.merchant_id}&store={other.store_id}&lang=en",
        f"/portal/picture/{other.store_id}/{uuid.uuid4()}?merchant={owner.merchant_id}",
    ]
    for path in mixed:
        assert (await client.get(path, headers=EN)).status == 404, path
    theirs = Member(owner.email, owner.user_id, other.merchant_id, other.store_id, "x")
    assert (await client.post("/portal", data=_ids(theirs, token) | LOOK)).status == 404
    mine_theirs = Member(owner.email, owner.user_id, owner.merchant_id, other.store_id, "x")
    assert (await client.post("/portal", data=_ids(mine_theirs, token) | LOOK)).status == 404
    assert (await upload(client, theirs, token, "logo", png())).status == 404
    assert await settings_row(db, other) is None
    assert await audit.entries(db, other.merchant_id) == []

    no_token = _ids(owner, token) | LOOK | {"csrf_token": ""}
    assert (await client.post("/portal", data=no_token)).status == 403
    assert await settings_row(db, owner) is None


async def test_the_checklist_links_branding_to_this_page(db: asyncpg.Pool) -> None:
    member = await new_member(db)
    memberships = await accounts.memberships_of(db, member.user_id)
    [found] = await checklist.checklists(db, memberships)
    step = next(step for step in found.steps if step.key == "branding")
    assert step.link == f"/portal?merchant={member.merchant_id}" and not step.done
    await look.save_picture(
        db,
        member.merchant_id,
        member.store_id,
        member.store_name,
        "logo",
        png(),
        audit.Actor.system("test"),
    )
    [found] = await checklist.checklists(db, memberships)
    assert next(step for step in found.steps if step.key == "branding").done
