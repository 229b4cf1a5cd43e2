"""PLACEHOLDER until branch ads-files merges (take theirs whole): the smallest
`store_upload`/`file_response` that the ads-model tests and the demo need. It accepts JPEG, PNG
and WebP images only (checked by Pillow, re-encoded: JPEG to JPEG, others to PNG), refuses
every video, and serves with a fixed content type and `nosniff`. The real module validates,
re-encodes, probes videos and makes thumbnails."""

from __future__ import annotations

import hashlib
import io
import uuid
from dataclasses import dataclass

import asyncpg
from aiohttp import web
from PIL import Image

from kernel.errors import PorticoError

MAX_BYTES = 5 * 1024 * 1024
MAX_PIXELS = 4096 * 4096


class BadUpload(PorticoError):
    message_id = "adv_error_bad_upload"
    status = 400


@dataclass(frozen=True)
class StoredFile:
    file_id: uuid.UUID
    kind: str  # 'image' | 'video'
    content_type: str
    width: int
    height: int
    duration_ms: int | None
    thumbnail_file_id: uuid.UUID | None


def _reencode(data: bytes) -> tuple[bytes, str, int, int]:
    if len(data) > MAX_BYTES:
        raise BadUpload(f"upload of {len(data)} bytes is over {MAX_BYTES}")
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format not in ("JPEG", "PNG", "WEBP"):
                raise BadUpload(f"not a JPEG, PNG or WebP image: {image.format}")
            if image.width * image.height > MAX_PIXELS:
                raise BadUpload(f"image of {image.width}x{image.height} pixels is too large")
            image.load()
            out = io.BytesIO()
            if image.format == "JPEG":
                image.convert("RGB").save(out, "JPEG", quality=85)
                return out.getvalue(), "image/jpeg", image.width, image.height
            image.convert("RGBA").save(out, "PNG")
            return out.getvalue(), "image/png", image.width, image.height
    except BadUpload:
        raise
    except Exception as exc:  # Pillow raises many kinds on hostile bytes
        raise BadUpload(f"not a readable image: {type(exc).__name__}") from exc


async def store_upload(
    db: asyncpg.Pool | asyncpg.Connection,
    advertiser_id: uuid.UUID,
    data: bytes,
    *,
    filename: str,
) -> StoredFile:
    body, content_type, width, height = _reencode(data)
    file_id = uuid.uuid4()
    await db.execute(
        """INSERT INTO creative_files (advertiser_id, file_id, kind, content_type, data,
                                       byte_size, width, height, sha256)
           VALUES ($1, $2, 'image', $3, $4, $5, $6, $7, $8)""",
        advertiser_id,
        file_id,
        content_type,
        body,
        len(body),
        width,
        height,
        hashlib.sha256(body).digest(),
    )
    return StoredFile(file_id, "image", content_type, width, height, None, None)


async def file_response(
    db: asyncpg.Pool, advertiser_id: uuid.UUID, file_id: uuid.UUID
) -> web.Response:
    row = await db.fetchrow(
        "SELECT content_type, data FROM creative_files WHERE advertiser_id = $1 AND file_id = $2",
        advertiser_id,
        file_id,
    )
    if row is None:
        raise web.HTTPNotFound()
    response = web.Response(body=row["data"], content_type=row["content_type"])
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
