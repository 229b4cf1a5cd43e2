"""Coupon codes: format, entropy, check character, forgiving input."""

from __future__ import annotations

import re

from ads import codes


def test_new_codes_have_the_format_and_a_valid_check_character() -> None:
    made = {codes.new_code() for _ in range(2000)}
    assert len(made) == 2000
    for code in made:
        assert re.fullmatch(r"[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z*~$=]{3}", code)
        assert codes.normalize(code) == code


def test_typed_codes_are_normalised() -> None:
    code = codes.new_code()
    typed = code.lower().replace("-", " ").replace("0", "o").replace("1", "l")
    assert codes.normalize(typed) == code


def test_a_single_typo_is_caught() -> None:
    code = codes.new_code()
    first = code[0]
    wrong = ("1" if first != "1" else "2") + code[1:]
    assert codes.normalize(wrong) is None
    assert codes.normalize(code[:-2]) is None
    assert codes.normalize("UUUU-UUUU-UUU") is None
