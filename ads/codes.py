"""Coupon codes: Crockford base32, 50 random bits plus a check character, `XXXX-XXXX-XXX`."""

from __future__ import annotations

import secrets

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_CHECK_ALPHABET = ALPHABET + "*~$=U"  # Crockford's extra symbols for the mod-37 check
_ALIASES = str.maketrans({"O": "0", "I": "1", "L": "1"})
RANDOM_CHARS = 10  # 10 × 5 bits = 50 bits


def new_code() -> str:
    body = "".join(secrets.choice(ALPHABET) for _ in range(RANDOM_CHARS))
    return _format(body + _check_char(body))


def normalize(text: str) -> str | None:
    """Canonical form of a typed code (case, dashes, O/I/L look-alikes), or None if invalid."""
    raw = text.strip().upper().replace("-", "").replace(" ", "").translate(_ALIASES)
    if len(raw) != RANDOM_CHARS + 1:
        return None
    body, check = raw[:-1], raw[-1]
    if any(ch not in ALPHABET for ch in body) or _check_char(body) != check:
        return None
    return _format(raw)


def _check_char(body: str) -> str:
    value = 0
    for ch in body:
        value = value * 32 + ALPHABET.index(ch)
    return _CHECK_ALPHABET[value % 37]


def _format(raw: str) -> str:
    return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"
