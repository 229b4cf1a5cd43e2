"""A store's portal look (issue 10, "Portal settings per store"; docs/console.md): its brand
name and colours, welcome texts, landing page, and a logo and background picture.

What the console's Portal settings page (portal/console_look.py) saves, checked here: colours
are `#rrggbb` and each pair a shopper reads must have a WCAG 2 contrast of at least 4.5:1 (the
white header text on the brand colour, the text colour on the page colour); the landing URL is
http(s) only. Pictures are judged by their content, never their name or declared type: decoded
fully and written anew from their pixels by ads/creative_media.py (the advertisers' files go
through the same code), within limits of bytes and pixels, and refused when they carry another
file (a ZIP, a web page, a script) besides the image. Every change is written to the merchant's
audit log in its own transaction (accounts.audit.record_change, action `portal.update`).

The splash reads the look through portal/stores.py's cache: a change shows within
stores.SETTINGS_TTL seconds.
"""

from __future__ import annotations

import asyncio
import re
import unicodedata
import uuid
from dataclasses import dataclass

import asyncpg
from aiohttp import web
from PIL import Image

from accounts import audit
from ads import creative_errors as errors
from ads.creative_media import MAX_IMAGE_BYTES, MAX_IMAGE_PIXELS, decoded_image, encode, sniff
from kernel.errors import PorticoError
from kernel.sql import load_queries
from portal import changes
from portal.stores import MAX_BRAND, ensure_store_portal

queries = load_queries(__file__, "look.sql")

COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
MIN_CONTRAST = 4.5  # WCAG 2 AA for body text
HEADER_TEXT = "#ffffff"  # the splash's header and buttons write white on the brand colour
MAX_WELCOME = 300
MAX_URL = 2000
DEFAULTS = {"brand_color": "#0a7d5a", "page_color": "#ffffff", "text_color": "#1f2937"}
IMAGE_KINDS = ("logo", "background")


@dataclass(frozen=True)
class ImageLimits:
    max_bytes: int  # of the upload
    max_pixels: int  # of the upload, read from its header before any pixel is decoded
    max_side: int  # of what is stored (larger ones are scaled down)


LIMITS = {
    "logo": ImageLimits(2 * 1024 * 1024, 16_000_000, 512),
    "background": ImageLimits(MAX_IMAGE_BYTES, MAX_IMAGE_PIXELS, 1600),
}

# Signatures of another file carried inside an image ("polyglots"): what a browser, an
# unzipper or a PHP interpreter would find if the file were ever served as something else.
_HIDDEN = (
    (b"PK\x03\x04", "ZIP"),
    (b"PK\x05\x06", "ZIP"),
    (b"%PDF-", "PDF"),
    (b"<script", "HTML"),
    (b"<html", "HTML"),
    (b"<!doctype", "HTML"),
    (b"<iframe", "HTML"),
    (b"<svg", "SVG"),
    (b"<?php", "PHP"),
    (b"javascript:", "HTML"),
)


def outside_pixels(data: bytes) -> bytes:
    """The file without its compressed pixel data (a JPEG's scans, a PNG's IDAT chunks, a
    WebP's VP8/VP8L/ALPH/ANMF chunks): its headers, metadata and anything after its end, where
    another file hides. Compressed pixels are noise, in which a short signature turns up by
    chance (`<svg` or a ZIP header in about 1 of 60 photos of 4 MB): they are not searched. What
    cannot be parsed is kept whole (and the decoder refuses a broken file anyway)."""
    if data.startswith(b"\xff\xd8"):
        return _jpeg_outside(data)
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return _chunks_outside(data, 8, b"IDAT", big_endian=True)
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        end = 8 + int.from_bytes(data[4:8], "little")
        kept = _chunks_outside(data[:end], 12, b"VP8 VP8LALPHANMF", big_endian=False)
        return kept + data[end:]
    return data


def _jpeg_outside(data: bytes) -> bytes:
    kept = []
    at, size = 2, len(data)
    while at + 2 <= size and data[at] == 0xFF:
        marker = data[at + 1]
        if marker == 0xFF:  # fill byte before a marker
            at += 1
            continue
        if marker == 0xD9:  # end of image
            at += 2
            break
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:  # markers without a length
            at += 2
            continue
        if at + 4 > size:
            break
        end = at + 2 + int.from_bytes(data[at + 2 : at + 4], "big")
        kept.append(data[at:end])
        at = end
        if marker == 0xDA:  # a scan's coded data, up to the next marker (not FF00 or RSTn)
            while True:
                found = data.find(b"\xff", at)
                if found < 0 or found + 1 >= size:
                    at = size
                    break
                following = data[found + 1]
                if following == 0 or 0xD0 <= following <= 0xD7:
                    at = found + 2
                    continue
                at = found
                break
    kept.append(data[at:])
    return b"".join(kept)


def _chunks_outside(data: bytes, at: int, skipped: bytes, *, big_endian: bool) -> bytes:
    """PNG (length, type, data, CRC) or RIFF (type, length, data, pad) chunks without the data
    of the `skipped` types (4 bytes each); the rest as it is."""
    kept = [data[:at]]
    order = "big" if big_endian else "little"
    skip = {skipped[i : i + 4] for i in range(0, len(skipped), 4)}
    while at + 8 <= len(data):
        if big_endian:
            length, kind = int.from_bytes(data[at : at + 4], order), data[at + 4 : at + 8]
            end = at + 12 + length
        else:
            kind, length = data[at : at + 4], int.from_bytes(data[at + 4 : at + 8], order)
            end = at + 8 + length + (length & 1)
        if end > len(data):
            break
        kept.append(data[at : at + 8] if kind in skip else data[at:end])
        at = end
        if kind == b"IEND":
            break
    kept.append(data[at:])
    return b"".join(kept)


class HiddenContent(errors.UploadRefused):
    """An image with another file in it: a polyglot (`kind` names what was found)."""

    message_id = "lk_error_hidden"

    def __init__(self, kind: str) -> None:
        super().__init__(f"carries a {kind} file", kind=kind)


class NotAnImage(errors.UploadRefused):
    """A video (or another file the advertisers may upload) where a picture is asked for."""

    message_id = "lk_error_type_unknown"
    status = 415


class NoStore(PorticoError):
    message_id = "error_not_found"
    status = 404


Error = tuple[str, dict[str, object]]  # (message id, its values)


@dataclass(frozen=True)
class Look:
    brand_name: str
    brand_color: str
    page_color: str
    text_color: str
    welcome_en: str
    welcome_zh: str
    landing_url: str
    terms_version: str = "1"
    logo_id: uuid.UUID | None = None
    background_id: uuid.UUID | None = None
    login_methods: tuple[str, ...] = ("click",)

    def fields(self) -> dict[str, str]:
        """What the form edits, as text (the audit log's before and after)."""
        return {name: getattr(self, name) for name in FORM_FIELDS}


FORM_FIELDS = (
    "brand_name",
    "brand_color",
    "page_color",
    "text_color",
    "welcome_en",
    "welcome_zh",
    "landing_url",
)


def default_look(store_name: str) -> Look:
    """What a store's splash shows before anyone sets its look."""
    return Look(store_name[:MAX_BRAND], welcome_en="", welcome_zh="", landing_url="", **DEFAULTS)


def _look(row: asyncpg.Record) -> Look:
    values = dict(row)
    values["login_methods"] = tuple(values["login_methods"])
    return Look(**values)


async def read_look(
    db: asyncpg.Pool | asyncpg.Connection, merchant_id: uuid.UUID, store_id: uuid.UUID
) -> Look | None:
    """The store's look, or None when it has no portal settings yet."""
    row = await db.fetchrow(queries.look, merchant_id, store_id)
    return _look(row) if row is not None else None


# --- checking what the form sends ---------------------------------------------------------


def relative_luminance(color: str) -> float:
    """WCAG 2's relative luminance of a `#rrggbb` colour (sRGB)."""
    channels = []
    for start in (1, 3, 5):
        value = int(color[start : start + 2], 16) / 255
        channels.append(value / 12.92 if value <= 0.04045 else ((value + 0.055) / 1.055) ** 2.4)
    red, green, blue = channels
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def contrast(first: str, second: str) -> float:
    """WCAG 2's contrast ratio of two `#rrggbb` colours, 1 to 21."""
    lighter, darker = sorted((relative_luminance(first), relative_luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def _has_control(text: str) -> bool:
    return any(unicodedata.category(c) == "Cc" and c not in "\n" for c in text)


def check_form(values: dict[str, str]) -> tuple[Look | None, dict[str, Error]]:
    """The look the form describes, or each bad field's error (message id and values). Used
    for saving and for the preview of a draft alike."""
    errors_found: dict[str, Error] = {}
    text = {name: values.get(name, "").strip() for name in FORM_FIELDS}
    brand = text["brand_name"]
    if not brand or len(brand) > MAX_BRAND or _has_control(brand) or "\n" in brand:
        errors_found["brand_name"] = ("lk_error_brand", {"high": MAX_BRAND})
    for name in ("brand_color", "page_color", "text_color"):
        if not COLOR.match(text[name]):
            errors_found[name] = ("lk_error_color", {})
        text[name] = text[name].lower()
    for name in ("welcome_en", "welcome_zh"):
        text[name] = text[name].replace("\r\n", "\n")
        if len(text[name]) > MAX_WELCOME or _has_control(text[name]):
            errors_found[name] = ("lk_error_welcome", {"high": MAX_WELCOME})
    url = text["landing_url"]
    if url and (
        len(url) > MAX_URL
        or not re.match(r"^https?://[^\s/?#]+[^\s]*$", url, re.IGNORECASE)
        or _has_control(url)
    ):
        errors_found["landing_url"] = ("lk_error_url", {})
    if "brand_color" not in errors_found:
        ratio = contrast(text["brand_color"], HEADER_TEXT)
        if ratio < MIN_CONTRAST:
            errors_found["brand_color"] = ("lk_error_brand_contrast", _ratio(ratio))
    if "page_color" not in errors_found and "text_color" not in errors_found:
        ratio = contrast(text["text_color"], text["page_color"])
        if ratio < MIN_CONTRAST:
            errors_found["text_color"] = ("lk_error_contrast", _ratio(ratio))
    if errors_found:
        return None, errors_found
    return Look(**text), {}


def _ratio(ratio: float) -> dict[str, object]:
    # Rounded down, so that 4.47 never reads as the 4.5 it misses.
    return {"ratio": f"{int(ratio * 10) / 10:.1f}", "needed": f"{MIN_CONTRAST:g}"}


# --- saving -------------------------------------------------------------------------------


async def _current(
    conn: asyncpg.Connection, merchant_id: uuid.UUID, store_id: uuid.UUID, store_name: str
) -> Look:
    await ensure_store_portal(conn, merchant_id, store_id, store_name)
    row = await conn.fetchrow(queries.look_for_update, merchant_id, store_id)
    if row is None:  # the store is gone (its row is referenced by the settings' key)
        raise NoStore(f"no store {store_id} at merchant {merchant_id}")
    return _look(row)


async def save_look(
    db: asyncpg.Pool,
    merchant_id: uuid.UUID,
    store_id: uuid.UUID,
    store_name: str,
    look: Look,
    actor: audit.Actor,
) -> bool:
    """Save the form's fields of `look` (checked by check_form) with their audit entry, in one
    transaction; False when nothing changed (then nothing is written)."""
    async with db.acquire() as conn, conn.transaction():
        current = await _current(conn, merchant_id, store_id, store_name)
        if not changes.changed(current.fields(), look.fields())[1]:
            return False
        await conn.execute(
            queries.save_look,
            merchant_id,
            store_id,
            look.brand_name,
            look.brand_color,
            look.page_color,
            look.text_color,
            look.welcome_en,
            look.welcome_zh,
            look.landing_url,
        )
        await changes.record_store_change(
            conn,
            merchant_id,
            store_id,
            store_name,
            actor,
            "portal.update",
            current.fields(),
            look.fields(),
        )
    return True


@dataclass(frozen=True)
class StoredImage:
    image_id: uuid.UUID
    content_type: str
    width: int
    height: int
    data: bytes

    def describe(self) -> str:
        """How the audit log names it: its format, size and id."""
        kind = self.content_type.removeprefix("image/").upper()
        return f"{kind} {self.width}×{self.height} ({self.image_id})"


def check_picture(kind: str, data: bytes) -> StoredImage:
    """The upload as it would be stored, or an errors.UploadRefused saying why not (CPU work:
    run it in a thread)."""
    limits = LIMITS[kind]
    if sniff(data) != "image":  # refuses SVG, HTML, GIF, … by name; a video is not a picture
        raise NotAnImage("a video where a picture is asked for")
    if len(data) > limits.max_bytes:
        raise errors.TooLarge("image", len(data), limits.max_bytes)
    lowered = outside_pixels(data).lower()
    for signature, what in _HIDDEN:
        if signature.lower() in lowered:
            raise HiddenContent(what)
    pixels, image_format = decoded_image(
        data, max_bytes=limits.max_bytes, max_pixels=limits.max_pixels
    )
    pixels.thumbnail((limits.max_side, limits.max_side), Image.Resampling.LANCZOS)
    if kind == "background" and image_format != "JPEG":
        # A photo behind the header: JPEG keeps it small (a PNG of 1600 px can weigh megabytes).
        if pixels.mode == "RGBA":
            flat = Image.new("RGB", pixels.size, (255, 255, 255))
            flat.paste(pixels, mask=pixels.getchannel("A"))
            pixels = flat
        image_format = "JPEG"
    checked = encode(pixels, image_format)
    return StoredImage(
        uuid.uuid4(), checked.content_type, checked.width, checked.height, checked.data
    )


async def save_picture(
    db: asyncpg.Pool,
    merchant_id: uuid.UUID,
    store_id: uuid.UUID,
    store_name: str,
    kind: str,
    data: bytes | None,
    actor: audit.Actor,
) -> StoredImage | None:
    """Replace the store's logo or background with the upload (checked first: refused with an
    errors.UploadRefused, nothing stored), or remove it (`data` None); the old picture is
    deleted and the change audited in the same transaction."""
    if kind not in IMAGE_KINDS:
        raise ValueError(f"no picture kind {kind!r}")
    image = await asyncio.to_thread(check_picture, kind, data) if data is not None else None
    column = queries.set_logo if kind == "logo" else queries.set_background
    async with db.acquire() as conn, conn.transaction():
        current = await _current(conn, merchant_id, store_id, store_name)
        old_id = current.logo_id if kind == "logo" else current.background_id
        if image is None and old_id is None:
            return None
        before = None
        if old_id is not None:
            facts = await conn.fetchrow(queries.image_facts, merchant_id, store_id, old_id)
            if facts is not None:
                old = StoredImage(
                    old_id, facts["content_type"], facts["width"], facts["height"], b""
                )
                before = old.describe()
        if image is not None:
            await conn.execute(
                queries.insert_image,
                merchant_id,
                store_id,
                image.image_id,
                kind,
                image.content_type,
                image.width,
                image.height,
                image.data,
            )
        await conn.execute(column, merchant_id, store_id, image.image_id if image else None)
        if old_id is not None:
            await conn.execute(queries.delete_image, merchant_id, store_id, old_id)
        await audit.record_change(
            conn,
            merchant_id,
            actor,
            "portal.update",
            target_id=store_id,
            target_name=store_name,
            before={kind: before},
            after={kind: image.describe() if image else None},
        )
    return image


async def picture(
    db: asyncpg.Pool, merchant_id: uuid.UUID, store_id: uuid.UUID, image_id: uuid.UUID
) -> tuple[str, bytes] | None:
    """A stored picture's content type and bytes (None: no such picture at that store)."""
    row = await db.fetchrow(queries.image, merchant_id, store_id, image_id)
    return (row["content_type"], bytes(row["data"])) if row is not None else None


# A picture's bytes never change under its id (a new upload gets a new one): cached for good.
PICTURE_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "Cache-Control": "public, max-age=31536000, immutable",
    "Content-Disposition": "inline",
}


def picture_response(found: tuple[str, bytes] | None) -> web.Response:
    """A stored picture served with its fixed content type (one of the three we write), or 404."""
    if found is None:
        raise web.HTTPNotFound()
    content_type, data = found
    return web.Response(body=data, headers={"Content-Type": content_type, **PICTURE_HEADERS})
