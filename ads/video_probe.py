"""Advertisers' videos: checked, rewritten and given a thumbnail (ads/creative_files.py).

Accepted: MP4 (ISO-BMFF, not QuickTime) with one H.264 video track in 8-bit 4:2:0 (what every
phone's browser and in-app browser plays) and at most one AAC sound track. The file's top-level
boxes must fill it exactly (a cut file is refused, with or without its `moov` index), every
sample its index lists must be in the file, and frames must decode.

What is stored is not the upload: its H.264 and AAC samples are copied unchanged (no
re-encoding) into a new MP4 written by FFmpeg (PyAV) with its index first (`faststart`, so a
phone can start playing before the whole file has come), without the original's metadata
(location, device), other tracks, or anything appended or hidden between the boxes.

FFmpeg only ever reads the upload with its MP4 demuxer (never probes other formats, so a
playlist or other text format is never parsed) with external data references off.
"""

from __future__ import annotations

import io
import logging
import os
import struct
import tempfile
from dataclasses import dataclass

import av

from ads import creative_errors as errors
from ads.creative_media import MAX_VIDEO_BYTES, Encoded, thumbnail

log = logging.getLogger(__name__)

MAX_VIDEO_MS = 60_000
MIN_VIDEO_MS = 1_000
MAX_VIDEO_LONG_SIDE = 1920  # 1080p, either way round
MAX_VIDEO_SHORT_SIDE = 1080
MAX_FRAME_RATE = 60
THUMBNAIL_AT_SECONDS = 1.0  # the thumbnail is the frame at 1 s (or the last before it)
# A plain MP4 has a handful (ftyp, moov, mdat, free…); a fragmented one a pair a fragment.
MAX_TOP_LEVEL_BOXES = 10_000

VIDEO_CODECS = {"h264"}
PIXEL_FORMATS = {"yuv420p", "yuvj420p"}
AUDIO_CODECS = {"aac"}
_CODEC_NAMES = {
    "hevc": "H.265/HEVC",
    "mpeg4": "MPEG-4 Part 2",
    "av1": "AV1",
    "vp8": "VP8",
    "vp9": "VP9",
    "mjpeg": "Motion JPEG",
    "prores": "ProRes",
    "h263": "H.263",
    "mp3": "MP3",
    "mp3float": "MP3",
    "opus": "Opus",
    "ac3": "AC-3",
    "eac3": "E-AC-3",
    "alac": "ALAC",
    "flac": "FLAC",
}


@dataclass(frozen=True)
class CheckedVideo:
    video: Encoded
    duration_ms: int
    thumbnail: Encoded


def check_video(data: bytes) -> CheckedVideo:
    """The video checked and rewritten, with its duration and thumbnail; refused with why."""
    if len(data) > MAX_VIDEO_BYTES:
        raise errors.TooLarge("video", len(data), MAX_VIDEO_BYTES)
    boxes = top_level_boxes(data)
    if "moov" not in boxes or "mdat" not in boxes:
        raise errors.BrokenVideo(f"boxes {boxes}: no moov or no mdat")
    try:
        source = av.open(
            io.BytesIO(data),
            format="mp4",
            options={"enable_drefs": "0"},
            metadata_errors="replace",  # tags in any encoding: read, never trusted, not kept
        )
    except av.FFmpegError as exc:
        raise errors.BrokenVideo(repr(exc)) from None
    with source, tempfile.TemporaryDirectory(prefix="portico-video-") as folder:
        video, audio = _streams(source)
        width, height, duration_ms = _check_streams(source, video, audio)
        _check_index(video, audio, len(data))
        path = os.path.join(folder, "out.mp4")
        frame = _rewrite(source, data, video, audio, path, duration_ms)
        with open(path, "rb") as written:
            stored = written.read()
    picture = frame.to_image()
    rotation = int(getattr(frame, "rotation", 0) or 0) % 360
    if rotation:
        # The display matrix turns the picture (phones filming upright): so does the thumbnail.
        picture = picture.rotate(rotation, expand=True)
        if rotation in (90, 270):
            width, height = height, width
    return CheckedVideo(
        video=Encoded(stored, "video/mp4", width, height),
        duration_ms=duration_ms,
        thumbnail=thumbnail(picture),
    )


def top_level_boxes(data: bytes) -> list[str]:
    """The types of the file's top-level ISO-BMFF boxes, which must fill it exactly: a file cut
    anywhere (a lost end of `mdat`, a missing `moov`) ends inside a box and is refused."""
    boxes: list[str] = []
    position, end = 0, len(data)
    while position < end:
        if end - position < 8:
            raise errors.BrokenVideo(f"{end - position} stray bytes at {position}")
        size, kind = struct.unpack_from(">I4s", data, position)
        header = 8
        if size == 1:
            if end - position < 16:
                raise errors.BrokenVideo(f"cut large box header at {position}")
            (size,) = struct.unpack_from(">Q", data, position + 8)
            header = 16
        elif size == 0:
            size = end - position  # "to the end of the file": only the last box may say so
        if size < header or position + size > end:
            raise errors.BrokenVideo(f"box {kind!r} at {position} of {size} bytes: file cut")
        boxes.append(kind.decode("latin-1"))
        if len(boxes) > MAX_TOP_LEVEL_BOXES:
            raise errors.BrokenVideo(f"more than {MAX_TOP_LEVEL_BOXES} top-level boxes")
        position += size
    if not boxes or boxes[0] != "ftyp":
        raise errors.BrokenVideo(f"first box {boxes[:1]}, not ftyp")
    return boxes


def _friendly(codec: str) -> str:
    return _CODEC_NAMES.get(codec, codec.upper())


def _codec_tag(stream: av.stream.Stream) -> str:
    """How the file names a codec FFmpeg has no decoder for (its four letters, printable)."""
    tag = str(getattr(stream, "codec_tag", "") or "")
    return "".join(c if c.isprintable() else "?" for c in tag[:8]).strip() or "?"


def _streams(source: av.container.InputContainer) -> tuple[av.VideoStream, av.AudioStream | None]:
    pictures = [
        s
        for s in source.streams.video
        if not s.disposition & av.stream.Disposition.attached_pic  # cover art is no track
    ]
    sounds = list(source.streams.audio)
    if len(pictures) != 1 or len(sounds) > 1:
        raise errors.VideoTracks(f"{len(pictures)} video and {len(sounds)} audio tracks")
    return pictures[0], (sounds[0] if sounds else None)


def _check_streams(
    source: av.container.InputContainer, video: av.VideoStream, audio: av.AudioStream | None
) -> tuple[int, int, int]:
    """The video's width, height and duration (ms), checked against the limits."""
    context = video.codec_context
    if context is None:  # a codec FFmpeg does not know
        raise errors.VideoCodec(_codec_tag(video))
    if context.name not in VIDEO_CODECS:
        raise errors.VideoCodec(_friendly(context.name))
    pixel_format = context.format.name if context.format else "?"
    if pixel_format not in PIXEL_FORMATS:
        raise errors.VideoCodec(f"H.264 ({pixel_format})")
    if audio is not None:
        if audio.codec_context is None:
            raise errors.AudioCodec(_codec_tag(audio))
        if audio.codec_context.name not in AUDIO_CODECS:
            raise errors.AudioCodec(_friendly(audio.codec_context.name))
    width, height = context.width, context.height
    if width <= 0 or height <= 0:
        raise errors.BrokenVideo(f"frame size {width}x{height}")
    if max(width, height) > MAX_VIDEO_LONG_SIDE or min(width, height) > MAX_VIDEO_SHORT_SIDE:
        raise errors.VideoFrameTooBig(width, height, MAX_VIDEO_LONG_SIDE, MAX_VIDEO_SHORT_SIDE)
    # The longest of what the header says and what the video track's samples add up to.
    seconds = [source.duration / 1_000_000 if source.duration else 0.0]
    for stream in (video, audio):
        if stream is not None and stream.duration and stream.time_base:
            seconds.append(float(stream.duration * stream.time_base))
    duration_ms = round(max(seconds) * 1000)
    if duration_ms > MAX_VIDEO_MS:
        raise errors.VideoTooLong(duration_ms, MAX_VIDEO_MS)
    if duration_ms < MIN_VIDEO_MS:
        raise errors.VideoTooShort(duration_ms, MIN_VIDEO_MS)
    if video.frames > (MAX_FRAME_RATE + 1) * duration_ms / 1000:
        raise errors.VideoFrameRate(video.frames * 1000 / duration_ms, MAX_FRAME_RATE)
    return width, height, duration_ms


def _check_index(video: av.VideoStream, audio: av.AudioStream | None, size: int) -> None:
    """Every sample the index lists lies within the file (a file cut and its `mdat` box's
    size mended to match still lacks the samples its index promises)."""
    for stream in (video, audio):
        if stream is None:
            continue
        for entry in stream.index_entries:
            if entry.pos < 0 or entry.pos + entry.size > size:
                raise errors.BrokenVideo(
                    f"track {stream.index}: sample at {entry.pos} of {entry.size} bytes is "
                    f"past the file's end ({size})"
                )


def _rewrite(
    source: av.container.InputContainer,
    data: bytes,
    video: av.VideoStream,
    audio: av.AudioStream | None,
    path: str,
    duration_ms: int,
) -> av.VideoFrame:
    """Copy the tracks' samples into a new MP4 at `path`, checking each is whole, and decode
    the video's first second: the frame for the thumbnail."""
    kept = [s for s in (video, audio) if s is not None]
    counts = dict.fromkeys((s.index for s in kept), 0)
    frame: av.VideoFrame | None = None
    try:
        with av.open(path, "w", format="mp4", options={"movflags": "+faststart"}) as out:
            targets = {s.index: out.add_stream_from_template(s) for s in kept}
            for packet in source.demux(kept):
                if packet.size == 0 or packet.dts is None:
                    continue  # the demuxer's end-of-stream marker
                if (
                    packet.pos is not None
                    and packet.pos >= 0
                    and packet.pos + packet.size > len(data)
                ):
                    raise errors.BrokenVideo(f"sample at {packet.pos} beyond the file")
                counts[packet.stream.index] += 1
                if packet.stream.index == video.index and _wants_frame(frame):
                    for decoded in video.codec_context.decode(packet):
                        if _wants_frame(frame):
                            frame = decoded
                packet.stream = targets[packet.stream.index]
                out.mux(packet)
            if frame is None:  # a short video whose frames the decoder still holds
                frames = video.codec_context.decode(None)
                frame = frames[0] if frames else None
    except errors.UploadRefused:
        raise
    except (av.FFmpegError, ValueError) as exc:
        raise errors.BrokenVideo(repr(exc)) from None
    for stream in kept:
        # Every sample the index lists was read whole (a cut `mdat` ends the reading early).
        if stream.frames and counts[stream.index] != stream.frames:
            raise errors.BrokenVideo(
                f"track {stream.index}: {counts[stream.index]} of {stream.frames} samples"
            )
    if counts[video.index] > (MAX_FRAME_RATE + 1) * duration_ms / 1000:
        raise errors.VideoFrameRate(counts[video.index] * 1000 / duration_ms, MAX_FRAME_RATE)
    if frame is None:
        raise errors.BrokenVideo("no frame decoded")
    return frame


def _wants_frame(frame: av.VideoFrame | None) -> bool:
    """Still decoding towards the thumbnail's moment?"""
    return frame is None or frame.time is None or frame.time < THUMBNAIL_AT_SECONDS
