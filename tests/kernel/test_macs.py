"""kernel.macs gives exactly hmac.digest's HMAC-SHA256."""

from __future__ import annotations

import hmac
import os

import pytest

from kernel.macs import Sha256Mac, sha256_mac


@pytest.mark.parametrize("key_length", [0, 1, 32, 63, 64, 65, 200])
@pytest.mark.parametrize("prefix", [b"", b"ad-placement|"])
def test_the_digest_is_hmac_sha256_of_the_prefixed_message(key_length: int, prefix: bytes) -> None:
    key = os.urandom(key_length)
    mac = Sha256Mac(key, prefix)
    for message in (b"", b"aa:bb:cc:dd:ee:ff", os.urandom(1000)):
        assert mac.digest(message) == hmac.digest(key, prefix + message, "sha256")
        assert mac.digest(message) == mac.digest(message)  # the kept states are not consumed


def test_one_mac_per_key_and_prefix() -> None:
    assert sha256_mac(b"k", b"p") is sha256_mac(b"k", b"p")
    assert sha256_mac(b"k", b"p") is not sha256_mac(b"k", b"q")
    assert sha256_mac(b"k").digest(b"m") != sha256_mac(b"j").digest(b"m")
