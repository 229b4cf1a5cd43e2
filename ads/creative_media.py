"""What an advertiser's file is, by its content, and its images made safe (ads/creative_files.py
stores them; ads/video_probe.py does the videos).

Everything here is plain CPU work on bytes, run in a worker thread. An image is decoded fully
by Pillow (only its JPEG, PNG and WebP decoders are ever tried) and written anew from its
pixels: metadata, EXIF, comments, text chunks, embedded colour profiles and anything appended
or hidden in the file are gone; orientation is applied and colours are converted to sRGB.
"""

from __future__ import annotations

import io
import logging
import warnings
from dataclasses import dataclass

from PIL import Image, ImageCms, ImageOps

from ads import creative_errors as errors

log = logging.getLogger(__name__)

# The limits (docs/creatives.md). Sizes are of the uploaded file, before any re-encoding.
MAX_IMAGE_BYTES = 5 * 1024 * 1024
MAX_VIDEO_BYTES = 30 * 1024 * 1024
MAX_UPLOAD_BYTES = max(MAX_IMAGE_BYTES, MAX_VIDEO_BYTES)  # what an upload form must let through
# A 24-megapixel photo (6000 x 4000) decodes to 96 MB of RGBA: more is refused unread.
MAX_IMAGE_PIXELS = 24_000_000
# Stored images are at most this many pixels on their long side (a phone's screen is ~1080
# wide: more only costs shoppers' data). Smaller images keep their size.
MAX_STORED_SIDE = 2048
THUMBNAIL_SIDE = 320
JPEG_QUALITY = 85
WEBP_QUALITY = 85

# Pillow's own guard, at our budget: above it Image.open warns, above twice it refuses; the
# warning is an error here as well (we refuse at the budget ourselves before decoding).
Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS
warnings.filterwarnings("error", category=Image.DecompressionBombWarning)

IMAGE_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}

# ISO-BMFF major brands: still images (HEIF/AVIF, iPhone photos) and QuickTime are not MP4.
_IMAGE_BRANDS = {b"heic", b"heix", b"hevc", b"heim", b"heis", b"mif1", b"msf1", b"avif", b"avis"}
_QUICKTIME_BRANDS = {b"qt  "}


@dataclass(frozen=True)
class Encoded:
    """A file as it is stored: its bytes, content type and size."""

    data: bytes
    content_type: str
    width: int
    height: int


@dataclass(frozen=True)
class CheckedImage:
    image: Encoded
    thumbnail: Encoded


def sniff(data: bytes) -> str:
    """'image' or 'video' by the first bytes; refused with what the file is, where we can tell."""
    if not data:
        raise errors.EmptyFile("zero bytes")
    head = data[:64]
    if head.startswith(b"\xff\xd8\xff") or head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in _IMAGE_BRANDS:
            raise errors.UnsupportedType("HEIF/AVIF")
        if brand in _QUICKTIME_BRANDS:
            raise errors.UnsupportedType("QuickTime MOV")
        return "video"
    raise _what_else(data)


def _what_else(data: bytes) -> errors.UploadRefused:
    head = data[:64]
    known = [
        (b"GIF87a", "GIF"),
        (b"GIF89a", "GIF"),
        (b"BM", "BMP"),
        (b"II*\x00", "TIFF"),
        (b"MM\x00*", "TIFF"),
        (b"%PDF", "PDF"),
        (b"PK\x03\x04", "ZIP"),
        (b"\x1a\x45\xdf\xa3", "WebM/Matroska"),
        (b"\x00\x00\x01\x00", "ICO"),
        (b"8BPS", "Photoshop PSD"),
    ]
    for magic, kind in known:
        if head.startswith(magic):
            return errors.UnsupportedType(kind)
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return errors.UnsupportedType("AVI")
    text = data[:4096].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith(b"<"):
        return errors.UnsupportedType("SVG" if b"<svg" in text else "HTML/XML")
    return errors.UnknownType("no known signature")


def check_image(data: bytes) -> CheckedImage:
    """Decode the image fully and write it anew (and its thumbnail); refused with why if not."""
    pixels, image_format = decoded_image(data)
    pixels.thumbnail((MAX_STORED_SIDE, MAX_STORED_SIDE), Image.Resampling.LANCZOS)
    stored = encode(pixels, image_format)
    return CheckedImage(image=stored, thumbnail=thumbnail(pixels))


def decoded_image(
    data: bytes, *, max_bytes: int = MAX_IMAGE_BYTES, max_pixels: int = MAX_IMAGE_PIXELS
) -> tuple[Image.Image, str]:
    """The image decoded fully, only its pixels kept (upright, sRGB; mode L, RGB or RGBA), and
    its format (JPEG, PNG or WEBP); refused with why if not. The limits are an advertiser's by
    default; a store's pictures have their own (portal/look.py), and `max_pixels` above
    MAX_IMAGE_PIXELS is refused by Pillow's guard all the same."""
    if len(data) > max_bytes:
        raise errors.TooLarge("image", len(data), max_bytes)
    try:
        source = Image.open(io.BytesIO(data), formats=list(IMAGE_TYPES))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        # Pillow's guard, before any pixel is decoded (its warning is an error here).
        raise errors.TooManyPixels("refused by Pillow's guard", MAX_IMAGE_PIXELS) from None
    except Exception as exc:  # any decoder failure on hostile bytes is "cannot be read"
        log.info("image refused at open: %r", exc)
        raise errors.BrokenImage(repr(exc)) from None
    with source:
        width, height = source.size
        if width * height > max_pixels:
            raise errors.TooManyPixels(f"{width}x{height}", max_pixels)
        if getattr(source, "n_frames", 1) > 1:
            raise errors.Animated(f"{source.n_frames} frames")
        image_format = source.format or ""
        try:
            source.load()
            pixels = _clean(source)
        except errors.UploadRefused:
            raise
        except Exception as exc:
            log.info("image refused at decoding: %r", exc)
            raise errors.BrokenImage(repr(exc)) from None
    return pixels, image_format


def _clean(source: Image.Image) -> Image.Image:
    """Only the pixels, upright, in sRGB, in a mode the image's own format can write back."""
    profile = source.info.get("icc_profile")
    has_alpha = source.mode in ("RGBA", "LA", "PA", "RGBa", "La") or ("transparency" in source.info)
    upright = ImageOps.exif_transpose(source)
    if upright.mode.startswith("I") or upright.mode == "F":
        # 16-bit (or wider) grey: scaled to 8 bits, not clipped to white.
        upright = upright.convert("I").point(lambda value: value * (1 / 256)).convert("L")
    mode = "L" if upright.mode in ("L", "1") and not has_alpha else "RGB"
    if has_alpha and source.format != "JPEG":
        mode = "RGBA"
    pixels = upright.convert(mode)
    if profile and mode in ("RGB", "RGBA"):
        pixels = _to_srgb(pixels, profile)
    pixels.info = {}  # nothing of the original's metadata is written back
    return pixels


def _to_srgb(pixels: Image.Image, profile: bytes) -> Image.Image:
    try:
        converted = ImageCms.profileToProfile(
            pixels,
            ImageCms.ImageCmsProfile(io.BytesIO(profile)),
            ImageCms.createProfile("sRGB"),
            outputMode=pixels.mode,
        )
    except (ImageCms.PyCMSError, OSError, ValueError) as exc:
        # A profile that is not for RGB pixels or cannot be read: keep the colours as they are.
        log.info("colour profile not applied: %r", exc)
        return pixels
    return converted if converted is not None else pixels


def encode(pixels: Image.Image, image_format: str) -> Encoded:
    """The pixels written as `image_format` (JPEG, PNG or WEBP), without any metadata."""
    out = io.BytesIO()
    if image_format == "JPEG":
        pixels.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True, progressive=True)
    elif image_format == "WEBP":
        pixels.save(out, "WEBP", quality=WEBP_QUALITY, method=4)
    elif image_format == "PNG":
        pixels.save(out, "PNG", compress_level=6)
    else:
        raise ValueError(f"not an image format we store: {image_format!r}")
    return Encoded(out.getvalue(), IMAGE_TYPES[image_format], pixels.width, pixels.height)


def thumbnail(pixels: Image.Image) -> Encoded:
    """A small copy (THUMBNAIL_SIDE on its long side at most): PNG if it has transparency,
    JPEG otherwise (both play in every phone's browser)."""
    small = pixels.copy()
    small.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE), Image.Resampling.LANCZOS)
    if small.mode == "RGBA":
        return encode(small, "PNG")
    return encode(small.convert("RGB") if small.mode != "L" else small, "JPEG")
