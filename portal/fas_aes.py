"""openNDS FAS levels 2 and 3: the `fas=` redirect encrypted with the router's faskey.

What openNDS does (construct_querystring, src/http_microhttpd.c, fas_secure_enabled 2 or 3): it
builds the same `key=value, ...` text as at level 1 (plus `authdir=`), and pipes a PHP snippet
through the router's php-cli:

    $secret_iv = base64_encode(openssl_random_pseudo_bytes("8"));
    $iv = substr(openssl_digest($secret_iv, "sha256"), 0, 16);
    $string = base64_encode(openssl_encrypt($string, "aes-256-cbc", $key, 0, $iv));
    echo "?fas=".$string."&iv=".$iv;

So, checked against a real openNDS 11 (tests/portal/test_fas_aes.py):
- the IV is 16 lowercase hex characters used as the 16 IV bytes themselves (ASCII);
- the key is the faskey's bytes, cut to 32 and padded with NUL bytes to 32
  (php_openssl_cipher_init in PHP's ext/openssl pads a short key with zeros);
- PKCS#7 padding (OpenSSL's default);
- `openssl_encrypt` with options 0 returns base64 already, and openNDS base64-encodes it again:
  the ciphertext is base64 twice, standard alphabet, not percent-encoded.
The reference FAS (forward_authentication_service/fas-aes/fas-aes.php) decrypts with
`openssl_decrypt(base64_decode($fas), $cipher, $key, 0, $iv)`.
"""

from __future__ import annotations

import base64
import binascii
import functools
import re
import secrets
from collections.abc import Callable
from hashlib import sha256

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from portal.fas import MAX_FAS_LENGTH, BadRedirect

KEY_BYTES = 32
_IV = re.compile(r"^[0-9a-f]{16}$")


def aes_key(faskey: str) -> bytes:
    """PHP's openssl_encrypt key from a passphrase: its bytes, NUL-padded (or cut) to 32."""
    raw = faskey.encode()
    return raw[:KEY_BYTES].ljust(KEY_BYTES, b"\0")


# CBC decryption is, block by block, P[i] = AES_decrypt(C[i]) XOR C[i-1] (C[-1] = the IV). A
# splash decrypts with one router's key again and again, so each key keeps one ECB decryptor,
# made once, whose update() is that AES_decrypt on whole blocks (it holds no state between
# calls: ECB chains nothing), and the XOR is one big-integer operation. Making a CBC decryptor
# for every redirect cost a level-3 splash more than the AES itself. The portal's event loop is
# its only user (one thread).
@functools.lru_cache(maxsize=1024)
def _ecb_decrypt(faskey: str) -> Callable[[bytes], bytes]:
    ecb = modes.ECB()  # noqa: S305 (the blocks of CBC, chained in _cbc_decrypt)
    return Cipher(algorithms.AES(aes_key(faskey)), ecb).decryptor().update


def _cbc_decrypt(faskey: str, iv: bytes, ciphertext: bytes) -> bytes:
    """AES-256-CBC decryption of whole blocks, padding left on."""
    blocks = _ecb_decrypt(faskey)(ciphertext)
    chained = iv + ciphertext[:-16]
    clear = int.from_bytes(blocks, "big") ^ int.from_bytes(chained, "big")
    return clear.to_bytes(len(blocks), "big")


def _unpad(padded: bytes) -> bytes:
    """PKCS#7 padding off (OpenSSL's default), or ValueError."""
    n = padded[-1]
    if not 1 <= n <= 16 or padded[-n:] != bytes([n]) * n:
        raise ValueError("bad padding")
    return padded[:-n]


def _b64(text: str | bytes) -> bytes:
    """Strict standard base64 (base64.b64decode(validate=True), without its Python wrapper)."""
    return binascii.a2b_base64(text, strict_mode=True)


def decrypt_fas(raw_fas: str | None, raw_iv: str | None, faskey: str) -> str:
    """The clear `key=value, ...` text of a level-2/3 redirect, or BadRedirect."""
    if not raw_fas:
        raise BadRedirect("no fas parameter")
    if raw_iv is None or not _IV.match(raw_iv):
        raise BadRedirect("iv is missing or not 16 hex characters")
    if len(raw_fas) > MAX_FAS_LENGTH:
        raise BadRedirect(f"fas parameter of {len(raw_fas)} characters is too long")
    try:
        ciphertext = _b64(_b64(raw_fas))
    except (binascii.Error, ValueError) as exc:
        raise BadRedirect("fas parameter is not base64 of base64") from exc
    if not ciphertext or len(ciphertext) % 16:
        raise BadRedirect("fas ciphertext is not a whole number of AES blocks")
    padded = _cbc_decrypt(faskey, raw_iv.encode(), ciphertext)
    try:
        return _unpad(padded).decode("utf-8")
    except (ValueError, UnicodeDecodeError) as exc:
        # A wrong key or IV almost always ends in bad padding; if not, in bytes that are no text.
        raise BadRedirect("fas does not decrypt with this router's faskey") from exc


def encrypt_fas(text: str, faskey: str, iv: str | None = None) -> tuple[str, str]:
    """(fas, iv) as openNDS sends them; used by the simulated gateway and tests."""
    if iv is None:
        # $iv = substr(openssl_digest(base64_encode(random 8 bytes), "sha256"), 0, 16)
        secret_iv = base64.b64encode(secrets.token_bytes(8))
        iv = sha256(secret_iv).hexdigest()[:16]
    padder = padding.PKCS7(128).padder()
    padded = padder.update(text.encode()) + padder.finalize()
    encryptor = Cipher(algorithms.AES(aes_key(faskey)), modes.CBC(iv.encode())).encryptor()
    ciphertext = encryptor.update(padded) + encryptor.finalize()
    return base64.b64encode(base64.b64encode(ciphertext)).decode(), iv
