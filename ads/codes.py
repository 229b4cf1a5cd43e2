"""Coupon codes: Crockford base32, 50 random bits plus a check character, `XXXX-XXXX-XXX`.

The check character is one of the code's own 32 symbols, so a code is read aloud at a till
with nothing but digits and letters. Each symbol is an element of GF(32) (its index in
ALPHABET) and the check makes sum(α^i · c_i) zero over all eleven, α a generator of GF(32)'s
multiplicative group: a wrong symbol anywhere changes the sum by α^i · e ≠ 0, and two
different neighbours swapped change it by α^i · (1 + α) · (a + b) ≠ 0, so every single-symbol
error and every adjacent transposition is caught (tests/ads/test_codes.py tries them all).

Codes made before this had a mod-37 check that could be one of `*~$=U`; they are still read
(LEGACY_CHECK_ALPHABET) so that no coupon already given out stops working.
"""

from __future__ import annotations

import secrets
from array import array

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
LEGACY_CHECK_ALPHABET = ALPHABET + "*~$=U"  # Crockford's extra symbols, mod-37 check
_ALIASES = str.maketrans({"O": "0", "I": "1", "L": "1"})
RANDOM_CHARS = 10  # 10 × 5 bits = 50 bits
_INDEX = {ch: n for n, ch in enumerate(ALPHABET)}


def _gf32_tables() -> tuple[list[int], list[int]]:
    """Powers and logarithms of α = 2 in GF(32), built on the primitive x^5 + x^2 + 1."""
    exp, log = [0] * 62, [0] * 32
    value = 1
    for power in range(31):
        exp[power] = exp[power + 31] = value
        log[value] = power
        value <<= 1
        if value & 0b100000:
            value ^= 0b100101
    return exp, log


_EXP, _LOG = _gf32_tables()


BITS = 5 * RANDOM_CHARS
_MASK = (1 << BITS) - 1
_BUCKET_SHIFT = BITS - 10  # 1,024 buckets by the top ten bits: duplicates are found bucketwise


def new_code() -> str:
    body = "".join(secrets.choice(ALPHABET) for _ in range(RANDOM_CHARS))
    return _format(body + check_char(body))


def new_codes(count: int) -> list[str]:
    """`count` different new codes (a pool's worth in one go)."""
    return [from_value(value) for value in random_values(count)]


def random_values(count: int) -> array:
    """`count` different 50-bit numbers from `secrets`, in bulk: 8 random bytes each, masked.

    50 bits is not enough for a large batch to be free of repeats by luck: 10 M draws repeat
    one about one time in 23 (n²/2 ÷ 2⁵⁰). So repeats are found (in 1,024 buckets by the top
    ten bits, a small set at a time) and drawn again until there are none; the database's
    unique index still has the last word against codes made earlier."""
    values = array("Q")
    while len(values) < count:
        missing = count - len(values)
        drawn = array("Q", secrets.token_bytes(8 * missing))
        values.extend(v & _MASK for v in drawn)
        values = _without_repeats(values)
    return values


def _without_repeats(values: array) -> array:
    """`values` with each repeat dropped (its first place kept, the order kept)."""
    buckets: list[array] = [array("Q") for _ in range(1 << (BITS - _BUCKET_SHIFT))]
    for value in values:
        buckets[value >> _BUCKET_SHIFT].append(value)
    repeated: set[int] = set()
    for bucket in buckets:
        seen: set[int] = set()
        for value in bucket:
            if value in seen:
                repeated.add(value)
            seen.add(value)
    if not repeated:
        return values
    kept, first = array("Q"), set()
    for value in values:
        if value in repeated:
            if value in first:
                continue
            first.add(value)
        kept.append(value)
    return kept


def from_value(value: int) -> str:
    """The code of a 50-bit number: ten symbols, most significant first, and the check."""
    body = "".join(
        ALPHABET[(value >> (5 * (RANDOM_CHARS - 1 - i))) & 31] for i in range(RANDOM_CHARS)
    )
    return _format(body + check_char(body))


def normalize(text: str) -> str | None:
    """Canonical form of a typed code (case, dashes, O/I/L look-alikes), or None if invalid."""
    raw = text.strip().upper().replace("-", "").replace(" ", "").translate(_ALIASES)
    if len(raw) != RANDOM_CHARS + 1:
        return None
    body, check = raw[:-1], raw[-1]
    if any(ch not in _INDEX for ch in body):
        return None
    if check != check_char(body) and check != _legacy_check_char(body):
        return None
    return _format(raw)


def check_char(body: str) -> str:
    """The symbol that makes the weighted GF(32) sum of body + check zero."""
    total = 0
    for position, ch in enumerate(body):
        total ^= _times_alpha_to(_INDEX[ch], position)
    # c · α^n = total (adding is XOR: its own inverse), so c = total · α^(31 - n).
    return ALPHABET[_times_alpha_to(total, 31 - len(body))]


def _times_alpha_to(value: int, power: int) -> int:
    return 0 if value == 0 else _EXP[_LOG[value] + power % 31]


def _legacy_check_char(body: str) -> str:
    value = 0
    for ch in body:
        value = value * 32 + _INDEX[ch]
    return LEGACY_CHECK_ALPHABET[value % 37]


def _format(raw: str) -> str:
    return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"


# The merchant's own POS codes (an imported pool): letters and digits, dashes and spaces
# ignored, case-insensitive. Never 11 symbols long: that is the length of Portico's codes,
# whose typos the till must be able to call typos.
IMPORTED_MIN, IMPORTED_MAX = 4, 32
_IMPORTED_SYMBOLS = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")


def imported_form(text: str) -> str | None:
    """The canonical form of a merchant's own code (upper case, no dashes or spaces), or None
    if it cannot be one."""
    raw = text.strip().upper().replace("-", "").replace(" ", "")
    if not IMPORTED_MIN <= len(raw) <= IMPORTED_MAX or len(raw) == RANDOM_CHARS + 1:
        return None
    if any(ch not in _IMPORTED_SYMBOLS for ch in raw):
        return None
    return raw
