"""HMAC-SHA256 under a key used over and over (the splash signs and hashes on every view).

hmac.digest(key, msg, "sha256") sets up a new MAC in OpenSSL 3 on every call (~2 µs). RFC 2104's
HMAC is H((K ^ opad) || H((K ^ ipad) || msg)): the two padded keys are hashed once here, and
each message then costs two copies of those states and two short updates (~0.7 µs). The digest
is the same bytes as hmac.digest's.
"""

from __future__ import annotations

import functools
import hashlib

_BLOCK = 64  # SHA-256's block size in bytes
_IPAD = bytes(x ^ 0x36 for x in range(256))
_OPAD = bytes(x ^ 0x5C for x in range(256))


class Sha256Mac:
    """HMAC-SHA256 under one key; `prefix` is absorbed into every message's front once."""

    def __init__(self, key: bytes, prefix: bytes = b"") -> None:
        if len(key) > _BLOCK:
            key = hashlib.sha256(key).digest()
        key = key.ljust(_BLOCK, b"\0")
        self._inner = hashlib.sha256(key.translate(_IPAD) + prefix)
        self._outer = hashlib.sha256(key.translate(_OPAD))

    def digest(self, message: bytes) -> bytes:
        """hmac.digest(key, prefix + message, "sha256")."""
        inner = self._inner.copy()
        inner.update(message)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.digest()


@functools.lru_cache(maxsize=4096)
def sha256_mac(key: bytes, prefix: bytes = b"") -> Sha256Mac:
    """The MAC of a key (and message prefix), made once per process."""
    return Sha256Mac(key, prefix)
