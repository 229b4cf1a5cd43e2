"""Pseudonymous identifiers: a device MAC never leaves ingest in the clear.

A plain SHA-256 of a MAC can be reversed by table, so devices are hashed with a keyed HMAC
whose key is derived per merchant from the platform secret. Devices seen only by their probe
requests get a key that also rotates daily per store (`probe_hash`).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import date

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


def merchant_key(secret_key: str, merchant_id: str) -> bytes:
    return hmac.new(secret_key.encode(), f"device-key:{merchant_id}".encode(), "sha256").digest()


def device_hash(secret_key: str, merchant_id: str, mac: str) -> str:
    key = merchant_key(secret_key, merchant_id)
    return hmac.new(key, mac.encode(), hashlib.sha256).hexdigest()[:32]


def probe_key(secret_key: str, merchant_id: str, store_id: str, day: date) -> bytes:
    """The key of one store's probe-only devices on one store-local day: derived from the
    merchant's key, so it rotates daily and per store (PRODUCT.md §5) and yesterday's hashes
    cannot be linked to today's."""
    key = merchant_key(secret_key, merchant_id)
    label = f"probe-key:{store_id}:{day.isoformat()}".encode()
    return hmac.new(key, label, "sha256").digest()


def probe_hash(secret_key: str, merchant_id: str, store_id: str, day: date, mac: str) -> str:
    """A probe-only device's pseudonym at one store on one day; the shape of `device_hash`."""
    key = probe_key(secret_key, merchant_id, store_id, day)
    return hmac.new(key, mac.encode(), hashlib.sha256).hexdigest()[:32]
