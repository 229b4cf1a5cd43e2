"""openNDS FAS levels 2/3: decrypting the real thing, and hostile input (portal/fas_aes.py)."""

from __future__ import annotations

import base64
import random

import pytest

from portal import fas, fas_aes

# Recorded 2026-11-30 04:06 UTC from a real openNDS 11.0.0beta (commit b9fbb8d) at
# fas_secure_enabled 2, in tests/gateways' namespaces (`make test-gateways`, level2): the query
# of its first 307 Location, verbatim. Its faskey (64 hex characters: longer than AES-256's 32
# bytes, so PHP cut it) was in the same run's openNDS log (phpcmd: $key="...").
REAL_QUERY = (
    "fas=TVNvU0tEVnRXNTdrb0lLaUNLMTNEZTFuT2t2cThuc2VKQ1FUY24ybWR5QkpQdWdxSFR3YWxOM1F5MUoxbXRU"
    "RXBoV2dWeDlyQ01kVGtINXRhbXJnclBCOXpCUit3Y3ZDWTFXaUxCMDFxeUxkb0NmcWNnR252UFYwNnJTYjJoK1dN"
    "S1h0YnpLL05rN2hpZUYzanQ4ZlUzcWRHdXJXT2tNVkFXdGU0MHVadXZCbThMUjZtMkVMYkgvV2luY0IydXdtbmFQ"
    "RVNXQW8zczhQUi9MMmEyWHhOYndzQlB4SUR3Zm9MVkRJdDFVOE9HazZGUE53ejVxbXh4Z2lRdFo5RjVKQ1JaRS8x"
    "Q3pmeUcwSlBmTVNXaFZ2UEtiV0JybE9WdGZaQjFWUWJwbjN5TC9VV2pJSjJTL3NzT0RpV3JFZ2lHVUYwalF2YmhE"
    "ZnlvUEFTUGJ3MGJjWXB4Z0dyallyQjFmUG1lZ05KMzE2MFI0T05oUFliU0ZSa3ZjRFR4ZGlCMVJhZlorQ3dmYTFi"
    "OVQ4TS83OG9MMmhDMk5FMXBPNEdNU0ZQM0ttTzJWQzdYVElPVWVGRlRtVjU0Wkl5bkpWdFFGejdPVCtEcWdPcjdS"
    "RUtXUVViSU5qcGhQaDRtdzh6cWFBU0NzN1dCbkFXakw4cnd3d1U4TDlJMEtDdWVlVU1iR1FGK0hGVkhGbDl0aWZD"
    "Y2NSSHNGdU83NmtkMWwzTmtRQXJwOHVHUVJGbGViUVhVRjNrVjNXaXE3L1RBWFdGVTdDOTJMeEhKU3h1T3k5OWNB"
    "cmZCTHBSSXF1R051RjBEemNEVCtSdTIzc2p1ST0=&iv=abce2054b28e94cc"
)
REAL_FASKEY = "e93accba2290b8871a134650e8c7f38cd6fa6987b516f6cbca3c7b07221f4ccf"
REAL_TEXT = (
    "hid=2db897ab7ce35ff03136d82e16f0bbdda5f6a1747016e5b95b53ce80b203ec94, clientip=192.168.77.11, "
    "clientmac=02:50:00:00:00:01, client_type=cpd_can, cpi_query=(null), "
    "gatewayname=Portico%20Real%20Gateway%20Node%3a16c88c137b16%20, "
    "gatewayurl=http%3a%2f%2f192.168.77.1, version=11.0.0beta, gatewayaddress=192.168.77.1:2050, "
    "gatewaymac=16c88c137b16, authdir=opennds_auth, originurl=http%3a%2f%2f10.200.0.99%2f, "
    "clientif=br-lan, themespec=, (null)(null)(null)(null)"
)


def real_parts() -> tuple[str, str]:
    raw_fas = fas.raw_query_param(REAL_QUERY, "fas")
    raw_iv = fas.raw_query_param(REAL_QUERY, "iv")
    assert raw_fas and raw_iv
    return raw_fas, raw_iv


def test_decrypts_a_real_level_2_redirect() -> None:
    raw_fas, raw_iv = real_parts()
    assert fas_aes.decrypt_fas(raw_fas, raw_iv, REAL_FASKEY) == REAL_TEXT
    client = fas.parse_fas_text(REAL_TEXT)
    assert client.client_mac == "02:50:00:00:00:01"
    assert client.gateway_name == "Portico Real Gateway"
    assert client.extra["authdir"] == "opennds_auth"
    # what authmon sends as gatewayhash: sha256hex of the url-encoded name, as sent
    assert client.gateway_hash == fas.sha256_hex(
        "Portico%20Real%20Gateway%20Node%3a16c88c137b16%20"
    )


def test_the_real_redirect_carried_through_the_splash_form_still_decrypts() -> None:
    carried = fas.carried_redirect(REAL_QUERY)
    assert carried is not None
    raw_fas, raw_iv = fas.split_carried(carried)
    assert fas_aes.decrypt_fas(raw_fas, raw_iv, REAL_FASKEY) == REAL_TEXT
    # the retry link percent-encodes it (views.splash_url)
    from urllib.parse import quote

    raw_fas, raw_iv = fas.split_carried(quote(carried, safe=""))
    assert fas_aes.decrypt_fas(raw_fas, raw_iv, REAL_FASKEY) == REAL_TEXT


def test_our_encryption_matches_openNDS_byte_for_byte() -> None:
    raw_fas, raw_iv = real_parts()
    assert fas_aes.encrypt_fas(REAL_TEXT, REAL_FASKEY, raw_iv) == (raw_fas, raw_iv)


def test_short_faskeys_are_nul_padded_like_php() -> None:
    assert fas_aes.aes_key("abc") == b"abc" + b"\0" * 29
    assert fas_aes.aes_key("k" * 40) == b"k" * 32
    text, iv = fas_aes.encrypt_fas("hid=x", "abc")
    assert fas_aes.decrypt_fas(text, iv, "abc") == "hid=x"


def _flip(raw: str, at: int) -> str:
    inner = bytearray(base64.b64decode(base64.b64decode(raw)))
    inner[at] ^= 0x01
    return base64.b64encode(base64.b64encode(bytes(inner))).decode()


@pytest.mark.parametrize(
    ("raw_fas", "raw_iv", "faskey"),
    [
        (None, "abce2054b28e94cc", REAL_FASKEY),
        ("", "abce2054b28e94cc", REAL_FASKEY),
        ("REAL", None, REAL_FASKEY),  # no iv: a level-1 redirect at a level-2 router
        ("REAL", "", REAL_FASKEY),
        ("REAL", "abce2054b28e94c", REAL_FASKEY),  # 15 characters
        ("REAL", "ABCE2054B28E94CC", REAL_FASKEY),  # openNDS sends lowercase hex
        ("REAL", "abce2054b28e94cz", REAL_FASKEY),
        ("REAL", "0000000000000000", REAL_FASKEY),  # wrong iv: first block garbled
        ("REAL", "abce2054b28e94cc", "another-routers-key"),  # wrong key: bad padding
        ("!!!not base64!!!", "abce2054b28e94cc", REAL_FASKEY),
        (base64.b64encode(b"not base64 inside!").decode(), "abce2054b28e94cc", REAL_FASKEY),
        (base64.b64encode(base64.b64encode(b"short")).decode(), "abce2054b28e94cc", REAL_FASKEY),
        ("LAST-BLOCK-FLIPPED", "abce2054b28e94cc", REAL_FASKEY),
        ("A" * (fas.MAX_FAS_LENGTH + 4), "abce2054b28e94cc", REAL_FASKEY),
    ],
)
def test_bad_redirects_are_refused(raw_fas: str | None, raw_iv: str | None, faskey: str) -> None:
    real_fas, _ = real_parts()
    if raw_fas == "REAL":
        raw_fas = real_fas
    elif raw_fas == "LAST-BLOCK-FLIPPED":
        raw_fas = _flip(real_fas, -17)  # the padding block decrypts to garbage
    try:
        text = fas_aes.decrypt_fas(raw_fas, raw_iv, faskey)
    except fas.BadRedirect:
        return
    # A wrong IV only garbles the first block (CBC): the text must then fail the field checks.
    with pytest.raises(fas.BadRedirect):
        fas.parse_fas_text(text)


def test_cbc_from_ecb_blocks_and_the_padding_check_agree_with_cryptography() -> None:
    """decrypt_fas chains ECB blocks itself and checks PKCS#7 by hand: on random keys, IVs and
    ciphertexts both give what cryptography's own CBC decryptor and PKCS#7 unpadder give."""
    from cryptography.hazmat.primitives import padding
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    rng = random.Random(8)
    for _ in range(500):
        faskey = rng.randbytes(rng.randint(4, 40)).hex()
        iv, ciphertext = rng.randbytes(16), rng.randbytes(16 * rng.randint(1, 12))
        reference = Cipher(algorithms.AES(fas_aes.aes_key(faskey)), modes.CBC(iv)).decryptor()
        padded = reference.update(ciphertext) + reference.finalize()
        assert fas_aes._cbc_decrypt(faskey, iv, ciphertext) == padded
        # random blocks end in valid padding now and then; force it half of the time
        if rng.random() < 0.5:
            n = rng.randint(1, 16)
            padded = padded[:-n] + bytes([n]) * n
        unpadder = padding.PKCS7(128).unpadder()
        try:
            expected: bytes | None = unpadder.update(padded) + unpadder.finalize()
        except ValueError:
            expected = None
        try:
            ours: bytes | None = fas_aes._unpad(padded)
        except ValueError:
            ours = None
        assert ours == expected
