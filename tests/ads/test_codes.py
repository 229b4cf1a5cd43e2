"""Coupon codes: format, entropy, check character, forgiving input."""

from __future__ import annotations

import random
import re

from ads import codes

CODE = re.compile(r"[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{3}")


def test_new_codes_are_read_aloud_with_digits_and_letters_only() -> None:
    made = {codes.new_code() for _ in range(2000)}
    assert len(made) == 2000
    for code in made:
        assert CODE.fullmatch(code), code  # Crockford's alphabet: no I, L, O, U, no symbols
        assert codes.normalize(code) == code


def test_typed_codes_are_normalised() -> None:
    code = codes.new_code()
    typed = code.lower().replace("-", " ").replace("0", "o").replace("1", "l")
    assert codes.normalize(typed) == code


def _raw(code: str) -> str:
    return code.replace("-", "")


def _accepted_by_the_new_check(raw: str) -> bool:
    return codes.check_char(raw[:-1]) == raw[-1]


def test_every_single_symbol_error_and_adjacent_transposition_is_caught() -> None:
    rng = random.Random(20261130)
    for _ in range(300):
        body = "".join(rng.choice(codes.ALPHABET) for _ in range(codes.RANDOM_CHARS))
        raw = body + codes.check_char(body)
        assert _accepted_by_the_new_check(raw)
        for position in range(len(raw)):
            for symbol in codes.ALPHABET:
                if symbol != raw[position]:
                    typo = raw[:position] + symbol + raw[position + 1 :]
                    assert not _accepted_by_the_new_check(typo), (raw, typo)
        for position in range(len(raw) - 1):
            a, b = raw[position], raw[position + 1]
            if a != b:
                swapped = raw[:position] + b + a + raw[position + 2 :]
                assert not _accepted_by_the_new_check(swapped), (raw, swapped)


def test_a_typo_is_refused_and_so_is_garbage() -> None:
    code = codes.new_code()
    first = code[0]
    wrong = ("1" if first != "1" else "2") + code[1:]
    # The new check refuses it; the legacy one may accept 1 typo in 37, and then the code is
    # simply not found: either way nobody gets a coupon that is not theirs.
    assert not _accepted_by_the_new_check(_raw(wrong))
    assert codes.normalize(code[:-2]) is None
    assert codes.normalize("UUUU-UUUU-UUU") is None
    assert codes.normalize("ABCD-EFGH-JK!") is None


def test_codes_given_out_with_the_old_check_still_work() -> None:
    """Before the check came from the code's own alphabet it was mod 37 over `0-9A-Z*~$=U`."""
    for legacy in ("0000-0000-000", "ZZZZ-ZZZZ-ZZ=", "7K3M-Q9PX-2A*"):
        body = _raw(legacy)[:-1]
        value = 0
        for ch in body:
            value = value * 32 + codes.ALPHABET.index(ch)
        made = body + codes.LEGACY_CHECK_ALPHABET[value % 37]
        formatted = f"{made[:4]}-{made[4:8]}-{made[8:]}"
        assert codes.normalize(formatted) == formatted
        assert codes.normalize(formatted.lower()) == formatted
