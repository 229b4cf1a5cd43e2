"""Advertisers' files: the one place that accepts, checks, stores and serves them (issue 9;
docs/creatives.md).

`store_upload` takes the bytes of an upload and its name (for the log only: a file is judged
by its content, never by its name or the type the browser declared), refuses it with an
`UploadRefused` naming what is wrong (ads/creative_errors.py), or stores what is safe to serve:
an image decoded and written anew (ads/creative_media.py), a video's samples in a new MP4
(ads/video_probe.py), and a thumbnail of each. `file_response` serves a stored file with its
fixed content type, `nosniff`, a sandboxing CSP, a long immutable cache life (the bytes under
an id never change) and byte ranges (phones' video players ask for them).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import re
import threading
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import asyncpg
from aiohttp import web

from ads import creative_errors as errors
from ads.creative_media import (
    MAX_IMAGE_BYTES,
    MAX_IMAGE_PIXELS,
    MAX_STORED_SIDE,
    MAX_UPLOAD_BYTES,
    MAX_VIDEO_BYTES,
    THUMBNAIL_SIDE,
    Encoded,
    check_image,
    sniff,
)
from ads.video_probe import MAX_VIDEO_MS, check_video
from kernel.sql import load_queries

__all__ = [
    "MAX_IMAGE_BYTES",
    "MAX_IMAGE_PIXELS",
    "MAX_STORED_SIDE",
    "MAX_UPLOAD_BYTES",
    "MAX_VIDEO_BYTES",
    "MAX_VIDEO_MS",
    "THUMBNAIL_SIDE",
    "StoredFile",
    "file_response",
    "store_upload",
]

log = logging.getLogger(__name__)
queries = load_queries(__file__, "creative_files.sql")

# Decoding is CPU and memory work (an image may take ~100 MB while it is decoded): at most
# this many uploads are decoded at once; others wait their turn in their worker thread.
_DECODING = threading.BoundedSemaphore(2)

CACHE_CONTROL = "private, max-age=31536000, immutable"
CONTENT_SECURITY_POLICY = "default-src 'none'; sandbox"
_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


@dataclass(frozen=True)
class StoredFile:
    file_id: uuid.UUID
    kind: str  # 'image' or 'video'
    content_type: str
    width: int
    height: int
    duration_ms: int | None  # videos only
    thumbnail_file_id: uuid.UUID


@dataclass(frozen=True)
class _Checked:
    kind: str
    original: Encoded
    duration_ms: int | None
    thumbnail: Encoded


@contextlib.asynccontextmanager
async def _connection(
    db: asyncpg.Pool | asyncpg.Connection,
) -> AsyncIterator[asyncpg.Connection]:
    if isinstance(db, asyncpg.Pool):
        async with db.acquire() as conn:
            yield conn
    else:  # a connection (or a pool's proxy of one)
        yield db


async def store_upload(
    db: asyncpg.Pool | asyncpg.Connection,
    advertiser_id: uuid.UUID,
    data: bytes,
    *,
    filename: str,
) -> StoredFile:
    """Check the upload by its content and store it with its thumbnail; refused (nothing
    stored) with an errors.UploadRefused saying why. The same bytes uploaded again by the same
    advertiser give the file stored the first time. `db`: a pool, or a connection whose
    transaction the file joins (a campaign made with its creative in one)."""
    name = filename[:200]
    try:
        kind = sniff(data)
        limit = MAX_IMAGE_BYTES if kind == "image" else MAX_VIDEO_BYTES
        if len(data) > limit:
            raise errors.TooLarge(kind, len(data), limit)
        # Hashing 30 MB takes tens of milliseconds: off the event loop too.
        digest = await asyncio.to_thread(_sha256, data)
        again = await db.fetchrow(queries.same_upload, advertiser_id, digest)
        if again is not None and again["thumbnail_file_id"] is not None:
            log.info("upload %r by %s: the same as file %s", name, advertiser_id, again["file_id"])
            return StoredFile(**dict(again))
        checked = await asyncio.to_thread(_check, kind, data)
    except errors.UploadRefused as exc:
        log.info("upload %r by %s refused: %s (%s)", name, advertiser_id, exc.message_id, exc)
        raise
    file_id, thumbnail_id = uuid.uuid4(), uuid.uuid4()
    original, small = checked.original, checked.thumbnail
    async with _connection(db) as conn, conn.transaction():
        await conn.execute(
            queries.insert_file,
            advertiser_id,
            file_id,
            checked.kind,
            original.content_type,
            original.data,
            original.width,
            original.height,
            checked.duration_ms,
            digest,
            None,
        )
        await conn.execute(
            queries.insert_file,
            advertiser_id,
            thumbnail_id,
            "thumbnail",
            small.content_type,
            small.data,
            small.width,
            small.height,
            None,
            _sha256(small.data),
            file_id,
        )
    log.info(
        "upload %r by %s stored as %s %s (%d bytes from %d)",
        name,
        advertiser_id,
        checked.kind,
        file_id,
        len(original.data),
        len(data),
    )
    return StoredFile(
        file_id=file_id,
        kind=checked.kind,
        content_type=original.content_type,
        width=original.width,
        height=original.height,
        duration_ms=checked.duration_ms,
        thumbnail_file_id=thumbnail_id,
    )


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _check(kind: str, data: bytes) -> _Checked:
    """In a worker thread: the CPU-heavy decoding and writing."""
    with _DECODING:
        if kind == "image":
            image = check_image(data)
            return _Checked("image", image.image, None, image.thumbnail)
        video = check_video(data)
        return _Checked("video", video.video, video.duration_ms, video.thumbnail)


async def file_response(
    db: asyncpg.Pool,
    advertiser_id: uuid.UUID,
    file_id: uuid.UUID | str,
    *,
    request: web.Request | None = None,
) -> web.Response:
    """The stored file as a response: 404 for any id this advertiser has no file under. Give
    the `request` to honour its Range (206, or 416 when unsatisfiable) and If-None-Match
    (304) headers; without it the whole file is sent."""
    if not isinstance(file_id, uuid.UUID):
        try:
            file_id = uuid.UUID(str(file_id))
        except ValueError:
            return _not_found()
    head = await db.fetchrow(queries.file_head, advertiser_id, file_id)
    if head is None:
        return _not_found()
    size: int = head["byte_size"]
    headers = {
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": CONTENT_SECURITY_POLICY,
        "Cache-Control": CACHE_CONTROL,
        "ETag": f'"{file_id}"',
        "Accept-Ranges": "bytes",
        "Content-Disposition": "inline",
    }
    content_type: str = head["content_type"]
    if request is not None:
        if _etag_matches(request.headers.get("If-None-Match"), headers["ETag"]):
            return web.Response(status=304, headers=headers)
        wanted = _wanted_range(request, headers["ETag"], size)
        if wanted == "unsatisfiable":
            headers["Content-Range"] = f"bytes */{size}"
            return web.Response(status=416, headers=headers)
        if wanted is not None:
            start, end = wanted
            part = await db.fetchval(queries.file_slice, advertiser_id, file_id, start, end)
            if part is None:  # removed since the first look
                return _not_found()
            headers["Content-Range"] = f"bytes {start}-{end}/{size}"
            return web.Response(status=206, body=part, content_type=content_type, headers=headers)
    row = await db.fetchrow(queries.file_whole, advertiser_id, file_id)
    if row is None:
        return _not_found()
    return web.Response(body=row["data"], content_type=content_type, headers=headers)


def _not_found() -> web.Response:
    return web.Response(
        status=404,
        text="No such file.",
        headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"},
    )


def _etag_matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return "*" in tags or etag in tags


def _position(digits: str) -> int:
    """A byte position of a Range header: past any file when longer than 18 digits (int() of
    thousands of digits raises, and a header may hold 8 KB of them)."""
    return int(digits) if len(digits) <= 18 else 10**18


def _wanted_range(request: web.Request, etag: str, size: int) -> tuple[int, int] | str | None:
    """The one byte range asked for, as (first, last) inclusive; None to send the whole file
    (no Range, one we do not take, such as several ranges, or an If-Range for other bytes);
    'unsatisfiable' for a range wholly past the end."""
    header = request.headers.get("Range")
    if not header:
        return None
    if_range = request.headers.get("If-Range")
    if if_range is not None and if_range.strip() != etag:
        return None
    match = _RANGE.fullmatch(header.strip())
    if match is None:
        return None  # malformed or several ranges: ignored (RFC 9110 §14.2), whole file sent
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # the last N bytes
        count = _position(last)
        if count == 0 or size == 0:
            return "unsatisfiable"
        return max(0, size - count), size - 1
    start = _position(first)
    if start >= size:
        return "unsatisfiable"
    end = min(_position(last), size - 1) if last else size - 1
    if end < start:
        return None  # last before first: invalid, ignored
    return start, end
