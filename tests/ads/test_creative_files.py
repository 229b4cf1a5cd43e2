"""Advertisers' uploads (ads/creative_files.py, issue 9): every accepted kind is stored,
re-written and served with a fixed type; malicious and broken files are refused with a clear
message and nothing stored. All media are made here (Pillow, PyAV's FFmpeg and x264)."""

from __future__ import annotations

import collections
import io
import os
import random
import struct
import tempfile
import uuid
import warnings
import zipfile
import zlib
from collections.abc import AsyncIterator

import asyncpg
import av
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from PIL import Image, PngImagePlugin

from accounts.web import CATALOG
from ads import creative_errors as errors
from ads.creative_files import (
    MAX_IMAGE_BYTES,
    MAX_STORED_SIDE,
    MAX_VIDEO_BYTES,
    THUMBNAIL_SIDE,
    StoredFile,
    file_response,
    store_upload,
)
from ads.creative_media import check_image, sniff
from ads.messages import CREATIVE_FILES
from ads.video_probe import check_video
from kernel.i18n import LANGUAGES, translator
from portico.console_app import make_console_app

# --- media made for the tests ------------------------------------------------------------


def image_bytes(fmt: str, size: tuple[int, int] = (120, 80), mode: str = "RGB", **save) -> bytes:
    image = Image.new(mode, size, (200, 30, 60, 128)[: len(mode)] if mode != "L" else 90)
    for x in range(0, size[0], 7):  # a pattern, so the encoders have something to encode
        image.putpixel((x, x % size[1]), (0, 0, 0, 255)[: len(mode)] if mode != "L" else 0)
    out = io.BytesIO()
    image.save(out, fmt, **save)
    return out.getvalue()


def mp4_bytes(
    codec: str = "libx264",
    frames: int = 24,
    size: tuple[int, int] = (160, 96),
    fps: int = 12,
    container: str = "mp4",
    faststart: bool = False,
    rotation: int = 0,
    painter=None,
) -> bytes:
    """A short video: `frames` frames at `fps`, H.264 by default, index at the end unless
    `faststart`."""
    # FFmpeg moves the index to the front by reading its output again: only from a file.
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "made.mp4")
        options = {"movflags": "+faststart"} if faststart else {}
        with av.open(path, "w", format=container, options=options) as muxer:
            stream = muxer.add_stream(codec, rate=fps)
            stream.width, stream.height = size
            stream.pix_fmt = "yuv420p"
            if rotation:
                stream.set_display_rotation(rotation)  # a phone filming upright
            for i in range(frames):
                picture = Image.new("RGB", size, (i * 10 % 256, 120, 200))
                if painter is not None:
                    painter(picture)
                for packet in stream.encode(av.VideoFrame.from_image(picture)):
                    muxer.mux(packet)
            for packet in stream.encode():
                muxer.mux(packet)
        with open(path, "rb") as made:
            return made.read()


def boxes(data: bytes) -> list[tuple[bytes, int, int]]:
    """Top-level MP4 boxes: (type, offset, size)."""
    found, position = [], 0
    while position < len(data):
        size, kind = struct.unpack_from(">I4s", data, position)
        found.append((kind, position, size))
        position += size
    return found


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims `width` x `height` grey pixels: a decompression bomb."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", zlib.compress(b"\x00" * 1000))
        + png_chunk(b"IEND", b"")
    )


SCRIPT = b"<script>alert(document.cookie)</script>"


# --- fixtures -----------------------------------------------------------------------------


@pytest.fixture
def advertiser_id() -> uuid.UUID:
    return uuid.uuid4()


@pytest.fixture
async def files_client(db: asyncpg.Pool) -> AsyncIterator[TestClient]:
    """A server with the one route a console or portal would have for the files."""

    async def serve(request: web.Request) -> web.Response:
        advertiser = uuid.UUID(request.match_info["advertiser"])
        return await file_response(db, advertiser, request.match_info["file"], request=request)

    app = web.Application()
    app.router.add_get("/files/{advertiser}/{file}", serve)
    async with TestClient(TestServer(app)) as client:
        yield client


async def stored_rows(db: asyncpg.Pool, advertiser_id: uuid.UUID) -> list[asyncpg.Record]:
    return await db.fetch(
        "SELECT file_id, kind, content_type, width, height, duration_ms, source_file_id,"
        " byte_size FROM creative_files WHERE advertiser_id = $1 ORDER BY kind",
        advertiser_id,
    )


async def fetch(client: TestClient, advertiser_id: uuid.UUID, file_id: object, **headers: str):
    response = await client.get(f"/files/{advertiser_id}/{file_id}", headers=headers)
    return response, await response.read()


def assert_served_safely(response, content_type: str) -> None:
    assert response.headers["Content-Type"] == content_type
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    assert "immutable" in response.headers["Cache-Control"]
    assert response.headers["Accept-Ranges"] == "bytes"


async def assert_thumbnail(
    db: asyncpg.Pool, client: TestClient, advertiser_id: uuid.UUID, stored: StoredFile
) -> Image.Image:
    row = await db.fetchrow(
        "SELECT kind, source_file_id, content_type FROM creative_files"
        " WHERE advertiser_id = $1 AND file_id = $2",
        advertiser_id,
        stored.thumbnail_file_id,
    )
    assert row["kind"] == "thumbnail" and row["source_file_id"] == stored.file_id
    response, body = await fetch(client, advertiser_id, stored.thumbnail_file_id)
    assert response.status == 200
    assert_served_safely(response, row["content_type"])
    thumb = Image.open(io.BytesIO(body))
    assert max(thumb.size) <= THUMBNAIL_SIDE
    return thumb


# --- accepted -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "content_type"),
    [("JPEG", "image/jpeg"), ("PNG", "image/png"), ("WEBP", "image/webp")],
)
async def test_each_image_kind_is_stored_rewritten_and_served(
    db, files_client, advertiser_id, fmt, content_type
):
    upload = image_bytes(fmt, (640, 400))
    stored = await store_upload(db, advertiser_id, upload, filename=f"ad.{fmt.lower()}")
    assert (stored.kind, stored.content_type) == ("image", content_type)
    assert (stored.width, stored.height, stored.duration_ms) == (640, 400, None)

    response, body = await fetch(files_client, advertiser_id, stored.file_id)
    assert response.status == 200
    assert_served_safely(response, content_type)
    served = Image.open(io.BytesIO(body))
    assert served.format == fmt and served.size == (640, 400)
    assert response.headers["ETag"] == f'"{stored.file_id}"'

    thumb = await assert_thumbnail(db, files_client, advertiser_id, stored)
    assert thumb.size == (THUMBNAIL_SIDE, 200)
    assert len(await stored_rows(db, advertiser_id)) == 2


async def test_a_jpeg_loses_its_metadata_and_is_turned_upright(db, advertiser_id, files_client):
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: the camera was turned; show it rotated 90° clockwise
    exif[0x010F] = "SecretCam"  # make
    upload = image_bytes("JPEG", (300, 100), exif=exif.tobytes(), comment=b"hidden note")
    assert b"SecretCam" in upload and b"hidden note" in upload

    stored = await store_upload(db, advertiser_id, upload, filename="photo.jpg")
    assert (stored.width, stored.height) == (100, 300)
    _response, body = await fetch(files_client, advertiser_id, stored.file_id)
    assert b"SecretCam" not in body and b"hidden note" not in body
    served = Image.open(io.BytesIO(body))
    assert served.size == (100, 300) and not served.getexif()


async def test_transparency_is_kept_and_big_images_are_made_smaller(db, advertiser_id):
    clear = await store_upload(db, advertiser_id, image_bytes("PNG", mode="RGBA"), filename="a")
    rows = {row["kind"]: row for row in await stored_rows(db, advertiser_id)}
    assert rows["thumbnail"]["content_type"] == "image/png"  # a JPEG would lose the alpha
    assert clear.content_type == "image/png"

    big = await store_upload(db, advertiser_id, image_bytes("JPEG", (4000, 1000)), filename="b")
    assert (big.width, big.height) == (MAX_STORED_SIDE, MAX_STORED_SIDE // 4)


def _sixteen_bit_grey() -> Image.Image:
    grey = Image.new("I;16", (4, 4), 128 * 256)
    grey.putpixel((0, 0), 65535)
    return grey


def _palette_with_transparency() -> Image.Image:
    palette = Image.new("P", (4, 4), 1)
    palette.putpixel((0, 0), 0)
    palette.info["transparency"] = 0
    return palette


@pytest.mark.parametrize(
    ("image", "fmt", "mode", "pixels"),
    [
        (_sixteen_bit_grey(), "PNG", "L", {(0, 0): 255, (1, 1): 128}),  # scaled, not clipped
        (_palette_with_transparency(), "PNG", "RGBA", {(0, 0): (0, 0, 0, 0)}),
        (Image.new("LA", (4, 4), (50, 100)), "PNG", "RGBA", {(0, 0): (50, 50, 50, 100)}),
        (Image.new("CMYK", (4, 4), (0, 0, 0, 0)), "JPEG", "RGB", {(0, 0): (255, 255, 255)}),
        (Image.new("L", (4, 4), 77), "JPEG", "L", {(0, 0): 77}),
    ],
)
def test_each_kind_of_pixels_is_written_back_faithfully(image, fmt, mode, pixels):
    upload = io.BytesIO()
    image.save(upload, fmt, **({"transparency": 0} if image.mode == "P" else {}))
    written = Image.open(io.BytesIO(check_image(upload.getvalue()).image.data))
    assert (written.format, written.mode) == (fmt, mode)
    for position, value in pixels.items():
        assert written.getpixel(position) == value


async def test_the_same_upload_twice_is_stored_once(db, advertiser_id):
    upload = image_bytes("PNG")
    first = await store_upload(db, advertiser_id, upload, filename="a.png")
    again = await store_upload(db, advertiser_id, upload, filename="b.png")
    assert again == first
    assert len(await stored_rows(db, advertiser_id)) == 2
    other = await store_upload(db, uuid.uuid4(), upload, filename="a.png")
    assert other.file_id != first.file_id  # another advertiser's file is its own


async def test_a_video_is_stored_faststart_probed_and_served_in_ranges(
    db, files_client, advertiser_id
):
    upload = mp4_bytes(frames=30, fps=12)  # 2.5 s, index at the end
    stored = await store_upload(db, advertiser_id, upload, filename="clip.mp4")
    assert (stored.kind, stored.content_type) == ("video", "video/mp4")
    assert (stored.width, stored.height, stored.duration_ms) == (160, 96, 2500)

    response, body = await fetch(files_client, advertiser_id, stored.file_id)
    assert response.status == 200
    assert_served_safely(response, "video/mp4")
    kinds = [kind for kind, _offset, _size in boxes(body)]
    assert kinds.index(b"moov") < kinds.index(b"mdat")  # playable before it has all come
    with av.open(io.BytesIO(body)) as served:
        assert served.streams.video[0].codec_context.name == "h264"
        assert served.streams.video[0].frames == 30
    thumb = await assert_thumbnail(db, files_client, advertiser_id, stored)
    assert thumb.format == "JPEG" and thumb.size == (160, 96)

    size = len(body)
    part, part_body = await fetch(files_client, advertiser_id, stored.file_id, Range="bytes=0-99")
    assert part.status == 206 and part_body == body[:100]
    assert part.headers["Content-Range"] == f"bytes 0-99/{size}"
    assert_served_safely(part, "video/mp4")
    tail, tail_body = await fetch(files_client, advertiser_id, stored.file_id, Range="bytes=-10")
    assert tail.status == 206 and tail_body == body[-10:]
    assert tail.headers["Content-Range"] == f"bytes {size - 10}-{size - 1}/{size}"
    rest, rest_body = await fetch(files_client, advertiser_id, stored.file_id, Range="bytes=100-")
    assert rest.status == 206 and rest_body == body[100:]
    past, _ = await fetch(files_client, advertiser_id, stored.file_id, Range=f"bytes={size}-")
    assert past.status == 416 and past.headers["Content-Range"] == f"bytes */{size}"
    several, several_body = await fetch(
        files_client, advertiser_id, stored.file_id, Range="bytes=0-1,5-6"
    )
    assert several.status == 200 and several_body == body  # several ranges: the whole file
    cached, _ = await fetch(
        files_client, advertiser_id, stored.file_id, **{"If-None-Match": f'"{stored.file_id}"'}
    )
    assert cached.status == 304


async def test_a_video_filmed_upright_is_upright(db, files_client, advertiser_id):
    def red_band_on_the_left(picture: Image.Image) -> None:
        picture.paste((255, 0, 0), (0, 0, 40, picture.height))

    upload = mp4_bytes(size=(160, 96), rotation=90, painter=red_band_on_the_left)
    stored = await store_upload(db, advertiser_id, upload, filename="upright.mp4")
    assert (stored.width, stored.height) == (96, 160)
    _response, body = await fetch(files_client, advertiser_id, stored.file_id)
    with av.open(io.BytesIO(body)) as served:
        assert next(served.decode(video=0)).rotation == 90  # the display matrix is kept
    thumb = await assert_thumbnail(db, files_client, advertiser_id, stored)
    assert thumb.size == (96, 160)
    # Turned a quarter counter-clockwise, as players show it: the left band is at the bottom.
    bottom, top = thumb.getpixel((48, 155)), thumb.getpixel((48, 5))
    assert bottom[0] > 200 and bottom[2] < 60  # red
    assert top[2] > 150  # the blue-ish background


async def test_unknown_files_are_not_found(db, files_client, advertiser_id):
    stored = await store_upload(db, advertiser_id, image_bytes("PNG"), filename="a.png")
    for owner, file_id in [
        (advertiser_id, uuid.uuid4()),
        (uuid.uuid4(), stored.file_id),  # another advertiser's id for it
        (advertiser_id, "not-a-uuid"),
    ]:
        response, _body = await fetch(files_client, owner, file_id)
        assert response.status == 404
        assert response.headers["X-Content-Type-Options"] == "nosniff"


# --- polyglots: accepted only as the re-written file, the payload gone ---------------------


async def test_a_jpeg_zip_polyglot_keeps_only_the_image(db, files_client, advertiser_id):
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("payload.html", SCRIPT)
    upload = image_bytes("JPEG") + archive.getvalue()
    assert zipfile.is_zipfile(io.BytesIO(upload))  # a real polyglot: a JPEG and a ZIP

    stored = await store_upload(db, advertiser_id, upload, filename="ad.jpg")
    _response, body = await fetch(files_client, advertiser_id, stored.file_id)
    assert b"PK\x03\x04" not in body and b"payload.html" not in body and SCRIPT not in body
    assert not zipfile.is_zipfile(io.BytesIO(body))
    assert Image.open(io.BytesIO(body)).format == "JPEG"


async def test_a_png_html_polyglot_keeps_only_the_image(db, files_client, advertiser_id):
    text = PngImagePlugin.PngInfo()
    text.add_text("Comment", SCRIPT.decode())
    upload = image_bytes("PNG", pnginfo=text) + b"<html><body>" + SCRIPT + b"</body></html>"
    assert upload.count(SCRIPT) == 2  # in a text chunk, and after the image's end

    stored = await store_upload(db, advertiser_id, upload, filename="ad.png")
    response, body = await fetch(files_client, advertiser_id, stored.file_id)
    assert response.headers["Content-Type"] == "image/png"
    assert SCRIPT not in body and b"<html" not in body
    assert Image.open(io.BytesIO(body)).format == "PNG"


async def test_a_payload_hidden_in_an_mp4_box_is_dropped(db, files_client, advertiser_id):
    video = mp4_bytes()
    _ftyp, _offset, ftyp_size = boxes(video)[0]
    hidden = struct.pack(">I4s", 8 + len(SCRIPT), b"free") + SCRIPT
    upload = video[:ftyp_size] + hidden + video[ftyp_size:]
    # The index's sample offsets now point 8 + len(SCRIPT) bytes early: fix them (stco).
    upload = _shift_chunk_offsets(upload, len(hidden))

    stored = await store_upload(db, advertiser_id, upload, filename="ad.mp4")
    _response, body = await fetch(files_client, advertiser_id, stored.file_id)
    assert SCRIPT not in body


def _shift_chunk_offsets(data: bytes, by: int) -> bytes:
    position = data.find(b"stco")
    assert position > 0
    count = struct.unpack_from(">I", data, position + 8)[0]
    patched = bytearray(data)
    for i in range(count):
        at = position + 12 + 4 * i
        struct.pack_into(">I", patched, at, struct.unpack_from(">I", data, at)[0] + by)
    return bytes(patched)


# --- refused, with a clear message, nothing stored ----------------------------------------


def _cut_in_half(data: bytes) -> bytes:
    return data[: len(data) // 2]


def _without_moov(data: bytes) -> bytes:
    for kind, offset, size in boxes(data):
        if kind == b"moov":
            return data[:offset] + data[offset + size :]
    raise AssertionError("no moov")


def _cut_and_mended(data: bytes) -> bytes:
    """The last byte cut (of the last frame), and the mdat box's size made to match: only the
    index knows the frame is short."""
    kind, offset, size = boxes(data)[-1]
    assert kind == b"mdat" and offset + size == len(data)
    return data[:offset] + struct.pack(">I", size - 1) + data[offset + 4 : -1]


SVG = (
    b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
    b"<script>alert(1)</script><rect width='10' height='10'/></svg>"
)

REFUSED = {
    "gif": (lambda: image_bytes("GIF"), errors.UnsupportedType, {"kind": "GIF"}),
    "bmp": (lambda: image_bytes("BMP"), errors.UnsupportedType, {"kind": "BMP"}),
    "tiff": (lambda: image_bytes("TIFF"), errors.UnsupportedType, {"kind": "TIFF"}),
    "svg with script": (lambda: SVG, errors.UnsupportedType, {"kind": "SVG"}),
    "html named .png": (
        lambda: b"<!doctype html><html>" + SCRIPT,
        errors.UnsupportedType,
        {"kind": "HTML/XML"},
    ),
    "zero bytes": (lambda: b"", errors.EmptyFile, {}),
    "random bytes": (lambda: os.urandom(4096), errors.UnknownType, {}),
    "bomb past Pillow's hard limit": (
        lambda: png_claiming(30_000, 30_000),
        errors.TooManyPixels,
        {"limit": "24"},
    ),
    "bomb past the budget": (lambda: png_claiming(5_000, 5_000), errors.TooManyPixels, {}),
    "oversized image": (
        lambda: image_bytes("JPEG") + bytes(MAX_IMAGE_BYTES),
        errors.TooLarge,
        {"limit": "5", "size": "5.1"},
    ),
    "truncated jpeg": (lambda: image_bytes("JPEG", (400, 300))[:600], errors.BrokenImage, {}),
    "animated png": (
        lambda: image_bytes("PNG", save_all=True, append_images=[Image.new("RGB", (120, 80))]),
        errors.Animated,
        {},
    ),
    "mp4 cut in half": (lambda: _cut_in_half(mp4_bytes()), errors.BrokenVideo, {}),
    "mp4 without moov": (lambda: _without_moov(mp4_bytes()), errors.BrokenVideo, {}),
    "mp4 frames cut": (
        lambda: _cut_in_half(mp4_bytes(faststart=True)),
        errors.BrokenVideo,
        {},
    ),
    "mp4 of a million empty boxes": (
        lambda: mp4_bytes() + b"\x00\x00\x00\x08free" * 1_000_000,
        errors.BrokenVideo,
        {},
    ),
    "mp4 frames cut, its box mended": (
        lambda: _cut_and_mended(mp4_bytes(faststart=True)),
        errors.BrokenVideo,
        {},
    ),
    "mp4 in another codec": (
        lambda: mp4_bytes(codec="mpeg4"),
        errors.VideoCodec,
        {"codec": "MPEG-4 Part 2"},
    ),
    "quicktime": (
        lambda: mp4_bytes(container="mov"),
        errors.UnsupportedType,
        {"kind": "QuickTime MOV"},
    ),
    "video too long": (
        lambda: mp4_bytes(frames=61, fps=1, size=(32, 32)),
        errors.VideoTooLong,
        {"seconds": "61.0", "limit": "60"},
    ),
    "video too large a frame": (
        lambda: mp4_bytes(frames=12, size=(2048, 64)),
        errors.VideoFrameTooBig,
        {"width": 2048},
    ),
    "oversized video": (
        lambda: mp4_bytes() + bytes(MAX_VIDEO_BYTES),
        errors.TooLarge,
        {"limit": "30", "size": "30.1"},
    ),
}


@pytest.mark.parametrize("case", list(REFUSED))
async def test_refused_with_a_clear_message_and_nothing_stored(db, advertiser_id, case):
    make, error, values = REFUSED[case]
    with pytest.raises(error) as refused:
        await store_upload(db, advertiser_id, make(), filename="innocent.png")
    assert values.items() <= refused.value.values.items()
    assert await stored_rows(db, advertiser_id) == []
    for language in LANGUAGES:
        text = translator(CREATIVE_FILES, language)(
            refused.value.message_id, **refused.value.values
        )
        assert refused.value.message_id in CREATIVE_FILES and "{" not in text, text


async def test_a_bomb_is_refused_even_with_pillows_warning_ignored(db, advertiser_id):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # what a careless caller might do: our own check holds
        with pytest.raises(errors.TooManyPixels):
            await store_upload(db, advertiser_id, png_claiming(5_000, 5_000), filename="a.png")
    assert await stored_rows(db, advertiser_id) == []


def test_every_refusal_has_its_text_in_both_languages():
    ids = {"upload_error_image_too_large", "upload_error_video_too_large"}
    ids |= {
        cls.message_id
        for cls in vars(errors).values()
        if isinstance(cls, type) and issubclass(cls, errors.UploadRefused)
    }
    for message_id in ids | {errors.UploadRefused.title_id}:
        assert set(CREATIVE_FILES[message_id]) == set(LANGUAGES), message_id


async def test_the_console_knows_the_refusals(settings, db):
    catalog = make_console_app(settings, db)[CATALOG]
    assert catalog["upload_error_type"] == CREATIVE_FILES["upload_error_type"]


def test_damaged_files_are_refused_with_a_reason_never_a_crash():
    """Bytes changed or cut at random in each accepted kind: each is either accepted (what is
    stored is then a file written anew) or refused with an UploadRefused, never another error."""
    rng = random.Random(9)
    seeds = [image_bytes(fmt, (64, 48)) for fmt in ("JPEG", "PNG", "WEBP")]
    seeds += [mp4_bytes(frames=14), mp4_bytes(frames=14, faststart=True)]
    outcomes: collections.Counter[str] = collections.Counter()
    for seed in seeds:
        for _ in range(60):
            damaged = bytearray(seed)
            for _ in range(rng.randint(1, 6)):
                damaged[rng.randrange(len(damaged))] = rng.randrange(256)
            if rng.random() < 0.2:
                damaged = damaged[: rng.randrange(len(damaged))]
            try:
                data = bytes(damaged)
                (check_image if sniff(data) == "image" else check_video)(data)
                outcomes["accepted"] += 1
            except errors.UploadRefused as refused:
                outcomes[refused.message_id] += 1
    assert outcomes["accepted"] > 0 and sum(outcomes.values()) == 300
