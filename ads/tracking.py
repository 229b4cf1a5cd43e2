"""The signed token of one ad placement, and what the tracking refuses (docs/ad-decision.md).

The splash page a decision rendered carries one token per placement: it names the impression
(its event id), the venue, the shopper identity, the line item, campaign, advertiser and
creative, and when it was issued, under an HMAC of the portal's secret key. The image fetch
(or, for a video, the beacon after its countdown) reports the impression with it; the click
goes through a redirect with it. Nothing in a token is trusted unless its signature checks, and
the click's destination is never in the URL: it is the creative's landing URL, from the index.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
import struct
import uuid
from datetime import UTC, datetime
from typing import NamedTuple

from kernel.macs import sha256_mac

VERSION = b"\x01"
MAX_AGE_SECONDS = 6 * 3600  # an older token (a page left open, a replay) counts nothing
MIN_CLICK_SECONDS = 0.5  # a click sooner after the page was made is not a person's
CLOCK_SKEW_SECONDS = 2.0  # a report "before" its token's issue, beyond this, is forged
MAX_TOKEN_CHARS = 600

# User agents that announce a robot (crawlers, link previewers, scripts). Captive-portal
# probes fetch the probe URL, never the splash's images, so they need no entry here.
_BOTS = re.compile(
    r"bot\b|bot/|crawl|spider|slurp|curl/|wget/|python-requests|python-urllib|aiohttp/|"
    r"go-http-client|java/|okhttp|headlesschrome|phantomjs|facebookexternalhit|preview",
    re.IGNORECASE,
)


class Placement(NamedTuple):
    """One ad placed on one page: what its token says. (A NamedTuple: one is made on every
    splash view, and a frozen dataclass costs several times as much to make.)"""

    impression_id: uuid.UUID
    merchant_id: uuid.UUID
    store_id: uuid.UUID
    advertiser_id: uuid.UUID
    campaign_id: uuid.UUID
    line_item_id: uuid.UUID
    creative_id: uuid.UUID
    issued_at: float  # unix seconds
    identity: str

    @property
    def click_id(self) -> uuid.UUID:
        """The click's event id: one click counted per impression, however often it is hit."""
        return uuid.uuid5(self.impression_id, "click")

    @property
    def issued(self) -> datetime:
        return datetime.fromtimestamp(self.issued_at, UTC)


_HEAD = struct.Struct("!16s16s16s16s16s16s16sd")


def _sign(secret_key: str, payload: bytes) -> bytes:
    # hmac.digest(secret_key, b"ad-placement|" + payload, "sha256"), a third of its time
    return sha256_mac(secret_key.encode(), b"ad-placement|").digest(payload)[:16]


def encode(secret_key: str, p: Placement) -> str:
    # (uuid.int.to_bytes is what UUID.bytes does, without its Python frame: a token is made
    # on every splash view; binascii is what base64.urlsafe_b64encode wraps.)
    payload = VERSION + _HEAD.pack(
        p.impression_id.int.to_bytes(16),
        p.merchant_id.int.to_bytes(16),
        p.store_id.int.to_bytes(16),
        p.advertiser_id.int.to_bytes(16),
        p.campaign_id.int.to_bytes(16),
        p.line_item_id.int.to_bytes(16),
        p.creative_id.int.to_bytes(16),
        p.issued_at,
    )
    payload += p.identity.encode()
    raw = payload + _sign(secret_key, payload)
    text = binascii.b2a_base64(raw, newline=False).translate(_URLSAFE)
    return text.rstrip(b"=").decode()


_URLSAFE = bytes.maketrans(b"+/", b"-_")


def decode(secret_key: str, token: str) -> Placement | None:
    """The placement a token names, or None when it is malformed or its signature is wrong."""
    if not token or len(token) > MAX_TOKEN_CHARS:
        return None
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (ValueError, TypeError):
        return None
    if len(raw) < 1 + _HEAD.size + 1 + 16 or raw[:1] != VERSION:
        return None
    payload, sig = raw[:-16], raw[-16:]
    if not hmac.compare_digest(sig, _sign(secret_key, payload)):
        return None
    fields = _HEAD.unpack(payload[1 : 1 + _HEAD.size])
    try:
        identity = payload[1 + _HEAD.size :].decode()
    except UnicodeDecodeError:
        return None
    ids = [uuid.UUID(bytes=b) for b in fields[:7]]
    return Placement(*ids, issued_at=fields[7], identity=identity)


def refusal(
    p: Placement | None,
    user_agent: str,
    now: float,
    *,
    kind: str,
    countdown_seconds: int = 0,
) -> str | None:
    """Why a report is not counted (unsigned, expired, bot, too_fast), or None to count it. `kind`:
    impression or click; `countdown_seconds`: a video's, which must have run first."""
    if p is None:
        return "unsigned"
    if not user_agent or _BOTS.search(user_agent):
        return "bot"
    age = now - p.issued_at
    if age < -CLOCK_SKEW_SECONDS or age > MAX_AGE_SECONDS:
        return "too_fast" if age < 0 else "expired"
    if kind == "click" and age < MIN_CLICK_SECONDS:
        return "too_fast"
    if kind == "impression" and countdown_seconds and age < countdown_seconds - CLOCK_SKEW_SECONDS:
        return "too_fast"
    return None
