"""Why an advertiser's upload was refused (ads/creative_files.py): one error per thing an
advertiser can put right, each with its text in zh-CN and English (ads/messages.py,
CREATIVE_FILES) and the values the text names.
"""

from __future__ import annotations

import math

from kernel.errors import PorticoError


def _megabytes(size: int) -> str:
    """Bytes as megabytes (MiB, what file managers show as MB): "5", "5.3"."""
    return f"{size / (1024 * 1024):.1f}".removesuffix(".0")


class UploadRefused(PorticoError):
    """The base of every refused upload: nothing was stored."""

    message_id = "upload_error_broken"
    title_id = "upload_error_title"
    status = 400


class EmptyFile(UploadRefused):
    message_id = "upload_error_empty"


class UnsupportedType(UploadRefused):
    """A file we recognise (GIF, SVG, HTML, QuickTime…) but do not take: `kind` names it."""

    message_id = "upload_error_type"
    status = 415

    def __init__(self, kind: str) -> None:
        super().__init__(f"unsupported type {kind}", kind=kind)


class UnknownType(UploadRefused):
    message_id = "upload_error_type_unknown"
    status = 415


class TooLarge(UploadRefused):
    """More bytes than the kind allows (`message_id` says image or video)."""

    status = 413

    def __init__(self, kind: str, size: int, limit: int) -> None:
        # Rounded up, so that a file just over the limit never reads as the limit itself.
        size_shown = math.ceil(size * 10 / (1024 * 1024)) / 10
        super().__init__(
            f"{kind} of {size} bytes, over {limit}",
            size=f"{size_shown:.1f}".removesuffix(".0"),
            limit=_megabytes(limit),
        )
        self.message_id = f"upload_error_{kind}_too_large"


class TooManyPixels(UploadRefused):
    message_id = "upload_error_pixels"
    status = 413

    def __init__(self, detail: str, limit: int) -> None:
        super().__init__(detail, limit=f"{limit / 1_000_000:g}")


class Animated(UploadRefused):
    message_id = "upload_error_animated"


class BrokenImage(UploadRefused):
    message_id = "upload_error_broken_image"


class BrokenVideo(UploadRefused):
    message_id = "upload_error_broken_video"


class VideoTracks(UploadRefused):
    message_id = "upload_error_video_tracks"


class VideoCodec(UploadRefused):
    message_id = "upload_error_video_codec"
    status = 415

    def __init__(self, codec: str) -> None:
        super().__init__(f"video codec {codec}", codec=codec)


class AudioCodec(UploadRefused):
    message_id = "upload_error_audio_codec"
    status = 415

    def __init__(self, codec: str) -> None:
        super().__init__(f"audio codec {codec}", codec=codec)


class VideoTooLong(UploadRefused):
    message_id = "upload_error_video_too_long"

    def __init__(self, duration_ms: int, limit_ms: int) -> None:
        super().__init__(
            f"video of {duration_ms} ms, over {limit_ms}",
            seconds=f"{duration_ms / 1000:.1f}",
            limit=f"{limit_ms / 1000:g}",
        )


class VideoTooShort(UploadRefused):
    message_id = "upload_error_video_too_short"

    def __init__(self, duration_ms: int, limit_ms: int) -> None:
        super().__init__(
            f"video of {duration_ms} ms, under {limit_ms}",
            seconds=f"{duration_ms / 1000:.1f}",
            limit=f"{limit_ms / 1000:g}",
        )


class VideoFrameTooBig(UploadRefused):
    message_id = "upload_error_video_frame"

    def __init__(self, width: int, height: int, long_side: int, short_side: int) -> None:
        super().__init__(
            f"video of {width}x{height}",
            width=width,
            height=height,
            long=long_side,
            short=short_side,
        )


class VideoFrameRate(UploadRefused):
    message_id = "upload_error_video_frame_rate"

    def __init__(self, rate: float, limit: int) -> None:
        super().__init__(f"video at {rate:.0f} frames/s", rate=f"{rate:.0f}", limit=limit)
