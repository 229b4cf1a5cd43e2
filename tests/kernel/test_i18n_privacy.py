"""Language negotiation and device pseudonyms."""

from __future__ import annotations

import pytest

from kernel.i18n import negotiate, translator
from kernel.privacy import device_hash, is_randomized_mac, normalize_mac


@pytest.mark.parametrize(
    ("header", "explicit", "expected"),
    [
        (None, None, "zh-CN"),
        ("en-US,en;q=0.9", None, "en"),
        ("zh-CN,zh;q=0.9,en;q=0.8", None, "zh-CN"),
        ("fr-FR,en;q=0.5,zh;q=0.4", None, "en"),
        ("en;q=0.2,zh-TW;q=0.8", None, "zh-CN"),
        ("en;q=bogus,de", None, "zh-CN"),
        ("zh-CN", "en", "en"),
        ("en", "xx", "en"),
    ],
)
def test_negotiate(header: str | None, explicit: str | None, expected: str) -> None:
    assert negotiate(header, explicit) == expected


def test_translator_falls_back_to_english_then_the_id() -> None:
    catalog = {"hi": {"en": "Hi {name}", "zh-CN": "你好 {name}"}, "only_en": {"en": "E"}}
    assert translator(catalog, "zh-CN")("hi", name="A") == "你好 A"
    assert translator(catalog, "zh-CN")("only_en") == "E"
    assert translator(catalog, "en")("missing") == "missing"


def test_macs() -> None:
    assert normalize_mac("AA-BB-CC-DD-EE-FF") == "aa:bb:cc:dd:ee:ff"
    assert normalize_mac("aabbccddeeff") == "aa:bb:cc:dd:ee:ff"
    assert normalize_mac("aa:bb:cc:dd:ee") is None
    assert normalize_mac("$(reboot)") is None
    assert is_randomized_mac("da:00:00:00:00:01")
    assert not is_randomized_mac("00:11:22:33:44:55")


def test_device_hash_is_keyed_per_merchant_and_secret() -> None:
    mac = "aa:bb:cc:dd:ee:ff"
    one = device_hash("s" * 40, "merchant-1", mac)
    assert one == device_hash("s" * 40, "merchant-1", mac)
    assert one != device_hash("s" * 40, "merchant-2", mac)
    assert one != device_hash("t" * 40, "merchant-1", mac)
    assert mac.replace(":", "") not in one
