"""Coupon codes: format, entropy, check character, forgiving input."""

from __future__ import annotations

import random
import re
import secrets

import pytest

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


def test_every_transposition_and_twin_error_is_caught_too() -> None:
    """α has order 31, so swapping any two different symbols of a code (not just neighbours:
    α^i · (1 + α^d) · (a + b) ≠ 0 for d < 31) and doubling a wrong symbol (aa → bb) change
    the weighted sum: the check catches them all."""
    rng = random.Random(7)
    for _ in range(200):
        body = "".join(rng.choice(codes.ALPHABET) for _ in range(codes.RANDOM_CHARS))
        raw = body + codes.check_char(body)
        for i in range(len(raw)):
            for j in range(i + 1, len(raw)):
                if raw[i] != raw[j]:
                    swapped = list(raw)
                    swapped[i], swapped[j] = raw[j], raw[i]
                    assert not _accepted_by_the_new_check("".join(swapped)), (raw, i, j)
        for i in range(len(raw) - 1):
            if raw[i] == raw[i + 1]:
                for symbol in codes.ALPHABET:
                    if symbol != raw[i]:
                        twin = raw[:i] + symbol * 2 + raw[i + 2 :]
                        assert not _accepted_by_the_new_check(twin), (raw, twin)


def test_the_generator_never_makes_a_code_its_own_check_refuses() -> None:
    made = codes.new_codes(200_000) + [codes.new_code() for _ in range(2_000)]
    for code in made:
        assert CODE.fullmatch(code), code
        assert _accepted_by_the_new_check(_raw(code)), code
        assert codes.normalize(code) == code


def test_a_code_is_its_number_written_out() -> None:
    """Different numbers give different codes (so 10 M different numbers are 10 M different
    codes), and the code of 0 and of the largest are what base 32 says."""
    assert codes.from_value(0)[:12] == "0000-0000-00"
    assert codes.from_value((1 << codes.BITS) - 1)[:12] == "ZZZZ-ZZZZ-ZZ"
    rng = random.Random(3)
    values = {rng.getrandbits(codes.BITS) for _ in range(50_000)}
    written = {codes.from_value(v) for v in values}
    assert len(written) == len(values)
    for value in list(values)[:1000]:
        body = _raw(codes.from_value(value))[:-1]
        assert sum(codes.ALPHABET.index(c) << (5 * (9 - n)) for n, c in enumerate(body)) == value


def test_ten_million_codes_hold_no_repeat() -> None:
    """The real generator (`secrets`, 50 bits), asked for 10 M codes at once: all different
    (checked here with one plain set, independently of the generator's own bucketed check;
    different numbers are different codes: test_a_code_is_its_number_written_out)."""
    count = 10_000_000
    values = codes.random_values(count)
    assert len(values) == count
    assert len(set(values)) == count
    # Real randomness over all 50 bits: nothing beyond them, the top bit set about half the
    # time, the low ten bits about evenly spread.
    assert max(values) < 1 << codes.BITS
    sample = values[:100_000]
    high = sum(1 for value in sample if value >> (codes.BITS - 1))
    assert 48_000 < high < 52_000
    low = [0] * 1024
    for value in sample:
        low[value & 1023] += 1
    assert min(low) > 40 and max(low) < 160


def test_a_repeated_draw_is_drawn_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """50 bits repeat now and then in 10 M draws (about one time in 23): a repeat within a
    batch is dropped and drawn again, and the batch keeps its size and order."""
    real = secrets.token_bytes
    first = [5, 7, 5, 9, 7, 5]  # 5 three times, 7 twice
    calls: list[int] = []

    def scripted(n: int) -> bytes:
        calls.append(n)
        if len(calls) == 1:
            return b"".join(v.to_bytes(8, "little") for v in first)
        return real(n)

    monkeypatch.setattr(codes.secrets, "token_bytes", scripted)
    values = codes.random_values(len(first))
    assert list(values[:3]) == [5, 7, 9]
    assert len(values) == len(set(values)) == len(first)
    assert calls == [8 * 6, 8 * 3]  # three drawn again
