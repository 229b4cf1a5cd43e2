"""Pseudonymous identifiers: a device MAC never leaves ingest in the clear.

A plain SHA-256 of a MAC can be reversed by table, so devices are hashed with a keyed HMAC
whose key is derived per merchant from the platform secret. Devices seen only by their probe
requests get a key that also rotates daily per store (`probe_hash`).
"""

from __future__ import annotations

import functools
import hmac
import re
import secrets
from datetime import date

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from kernel.macs import sha256_mac

_MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")


def normalize_mac(value: str) -> str | None:
    """Lower-case colon form of a MAC (given with `:`, `-` or no separators), or None."""
    mac = value.strip().lower().replace("-", ":")
    if len(mac) == 12 and ":" not in mac:
        mac = ":".join(mac[i : i + 2] for i in range(0, 12, 2))
    return mac if _MAC.match(mac) else None


def is_randomized_mac(mac: str) -> bool:
    """True when the locally-administered bit is set (phones' per-network random MACs)."""
    return bool(int(mac[:2], 16) & 0x02)


# Derived keys are cached: every splash hashes its shopper's MAC with its merchant's key.
@functools.lru_cache(maxsize=4096)
def merchant_key(secret_key: str, merchant_id: str) -> bytes:
    return hmac.digest(secret_key.encode(), f"device-key:{merchant_id}".encode(), "sha256")


def device_hash(secret_key: str, merchant_id: str, mac: str) -> str:
    mac_of_merchant = sha256_mac(merchant_key(secret_key, merchant_id))  # hmac.digest's, faster
    return mac_of_merchant.digest(mac.encode()).hex()[:32]


def probe_key(secret_key: str, merchant_id: str, store_id: str, day: date) -> bytes:
    """The key of one store's probe-only devices on one store-local day: derived from the
    merchant's key, so it rotates daily and per store (PRODUCT.md §5) and yesterday's hashes
    cannot be linked to today's."""
    key = merchant_key(secret_key, merchant_id)
    label = f"probe-key:{store_id}:{day.isoformat()}".encode()
    return hmac.digest(key, label, "sha256")


def probe_hash(secret_key: str, merchant_id: str, store_id: str, day: date, mac: str) -> str:
    """A probe-only device's pseudonym at one store on one day; the shape of `device_hash`."""
    key = probe_key(secret_key, merchant_id, store_id, day)
    return hmac.digest(key, mac.encode(), "sha256").hex()[:32]


# Shopper identities (a phone number, an email address) ------------------------------------
# Stored sealed (AES-GCM under a key derived per merchant from the platform secret) beside a
# keyed hash to find them by (PRODUCT.md §5): the table alone gives away neither.


def identity_hash(secret_key: str, merchant_id: str, kind: str, value: str) -> str:
    """The pseudonym of a normalised phone number (E.164) or email address at one merchant."""
    key = merchant_key(secret_key, merchant_id)
    return hmac.digest(key, f"{kind}:{value}".encode(), "sha256").hex()[:32]


@functools.lru_cache(maxsize=4096)
def _sealing_key(secret_key: str, merchant_id: str) -> AESGCM:
    return AESGCM(hmac.digest(secret_key.encode(), f"seal-key:{merchant_id}".encode(), "sha256"))


def seal(secret_key: str, merchant_id: str, value: str) -> bytes:
    """`value` encrypted for this merchant: a random 12-byte nonce, then the ciphertext. The
    merchant id is bound in, so a sealed value copied to another merchant does not open."""
    nonce = secrets.token_bytes(12)
    aead = _sealing_key(secret_key, merchant_id)
    return nonce + aead.encrypt(nonce, value.encode(), merchant_id.encode())


def unseal(secret_key: str, merchant_id: str, sealed: bytes) -> str:
    """The value `seal` sealed; cryptography's InvalidTag when it was altered or not ours."""
    aead = _sealing_key(secret_key, merchant_id)
    return aead.decrypt(sealed[:12], sealed[12:], merchant_id.encode()).decode()


def mask_phone(e164: str) -> str:
    """+8613812345678 -> 138****5678: enough for staff to recognise, not to call."""
    digits = e164.removeprefix("+86") if e164.startswith("+86") else e164.lstrip("+")
    return digits[:3] + "****" + digits[-4:] if len(digits) > 7 else "****"


def mask_email(address: str) -> str:
    """alice@example.com -> a***@example.com."""
    local, _, domain = address.partition("@")
    return f"{local[:1]}***@{domain}"
