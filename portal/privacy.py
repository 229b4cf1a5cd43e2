"""A shopper's export and erasure requests, for what the portal keeps (PRODUCT.md §5;
docs/privacy.md says what each table keeps and why).

A request names the shopper as the portal knows them (`PortalShopper`): the keyed hashes of the
phone numbers and email addresses they logged in with, their devices' pseudonyms, the raw MACs
the request typed (only to find the few rows that still hold one: a running session, a login
under way) and a voucher code. `shopper_devices` adds the devices each identity logged in on,
`voucher_devices` those that logged in with the voucher (`devices_of`): the composition root
hands those to the other domains too.

- `export_shopper`: the identities (masked, as staff see them), which device logged in as
  which, the marketing consents (purpose, wording version, store, given, withdrawn and how),
  the sessions (store, router, method, the terms version accepted, times, use, how it ended),
  "No more offers" opt-outs, SMS codes asked for (never the code), the texts in the SMS outbox
  to their numbers, the voucher's devices, rate-limit counters, WiFiDog tokens and grants
  waiting for authmon.
- `erase_shopper`, in the caller's transaction: identities, their device links and consents
  are deleted, SMS codes and outbox texts and rate-limit counters too; sessions, authmon grants
  and a voucher's device slots are kept under keys that name nobody ('x:<session id>'); WiFiDog
  tokens of ended sessions are deleted, others lose the identity. An opt-out stays as it is:
  the shopper's "no more offers" outlives the erasure (as marketing's bare profile does).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
from cryptography.exceptions import InvalidTag

from kernel.jsonable import plain
from kernel.privacy import identity_hash, unseal
from kernel.sql import load_queries

queries = load_queries(__file__, "privacy.sql")


@dataclass(frozen=True)
class PortalShopper:
    """Whom a request is about, as the portal's tables name them."""

    identity_hashes: tuple[str, ...] = ()  # phone numbers' and email addresses' keyed hashes
    device_hashes: tuple[str, ...] = ()
    macs: tuple[str, ...] = ()  # normalised (kernel.privacy.normalize_mac); never stored
    voucher_code: str | None = None

    def __post_init__(self) -> None:
        if not (self.identity_hashes or self.device_hashes or self.macs or self.voucher_code):
            raise ValueError("a shopper is named by an identity, a device or a voucher")


@dataclass(frozen=True)
class PortalErased:
    identities: int  # deleted
    device_links: int  # deleted
    consents: int  # deleted
    sessions: int  # anonymised
    sms_codes: int  # deleted
    sms_outbox: int  # texts deleted
    voucher_devices: int  # anonymised
    rate_limits: int  # counters deleted
    wifidog_tokens: int  # deleted or anonymised
    authmon_grants: int  # anonymised
    opt_outs_kept: int


async def devices_of(
    conn: asyncpg.Connection | asyncpg.Pool,
    merchant_id: uuid.UUID,
    identity_hashes: Sequence[str],
    voucher_code: str | None = None,
) -> list[str]:
    """The devices these identities logged in on, and those that logged in with the voucher."""
    rows = await conn.fetch(queries.devices_of, merchant_id, list(identity_hashes), voucher_code)
    return sorted(r["device_hash"] for r in rows)


async def _with_devices(
    conn: asyncpg.Connection, merchant_id: uuid.UUID, shopper: PortalShopper
) -> PortalShopper:
    linked = await devices_of(conn, merchant_id, shopper.identity_hashes, shopper.voucher_code)
    devices = tuple(sorted({*shopper.device_hashes, *linked}))
    return PortalShopper(shopper.identity_hashes, devices, shopper.macs, shopper.voucher_code)


def _args(merchant_id: uuid.UUID, shopper: PortalShopper) -> tuple[Any, ...]:
    return (
        merchant_id,
        list(shopper.identity_hashes),
        list(shopper.device_hashes),
        list(shopper.macs),
        shopper.voucher_code,
    )


async def _outbox_texts(
    conn: asyncpg.Connection, secret_key: str, merchant_id: uuid.UUID, identities: Sequence[str]
) -> list[asyncpg.Record]:
    """The outbox texts to the shopper's phone numbers: each sealed number is opened and hashed
    as an identity (the outbox keeps a day of texts, so this reads little)."""
    if not identities:
        return []
    wanted, found = set(identities), []
    for row in await conn.fetch(queries.outbox, merchant_id):
        try:
            phone = unseal(secret_key, str(merchant_id), bytes(row["sealed_phone"]))
        except InvalidTag:  # not sealed under this merchant's key: not a text of ours to read
            continue
        if identity_hash(secret_key, str(merchant_id), "phone", phone) in wanted:
            found.append(row)
    return found


async def export_shopper(
    conn: asyncpg.Connection, secret_key: str, merchant_id: uuid.UUID, shopper: PortalShopper
) -> dict[str, Any]:
    """Everything the portal keeps of the shopper, as JSON-ready data (see the module)."""
    shopper = await _with_devices(conn, merchant_id, shopper)
    args = _args(merchant_id, shopper)
    ids_devices = args[:3]
    sessions = [plain(dict(r)) for r in await conn.fetch(queries.sessions, *args)]
    accepted: dict[tuple[str, str], dict[str, Any]] = {}
    for s in sessions:  # the terms each session was let in under
        terms = accepted.setdefault(
            (s["store_id"], s["terms_version"]),
            {"store_id": s["store_id"], "version": s["terms_version"], "sessions": 0},
        )
        terms.setdefault("first_accepted_at", s["started_at"])
        terms["last_accepted_at"] = s["started_at"]
        terms["sessions"] += 1
    texts = await _outbox_texts(conn, secret_key, merchant_id, shopper.identity_hashes)

    async def rows(query: str, *params: Any) -> list[Any]:
        return [plain(dict(r)) for r in await conn.fetch(query, *params)]

    return {
        "identity_hashes": list(shopper.identity_hashes),
        "devices": list(shopper.device_hashes),
        "identities": await rows(queries.identities, *args[:2]),
        "device_links": await rows(queries.device_links, *ids_devices),
        "consents": await rows(queries.consents, *args[:2]),
        "sessions": sessions,
        "terms_accepted": list(accepted.values()),
        "opt_outs": await rows(queries.opt_outs, *ids_devices),
        "sms_codes": await rows(queries.sms_codes, *ids_devices),
        "sms_outbox": [
            plain({k: r[k] for k in ("message_id", "masked_phone", "body", "created_at")})
            for r in texts
        ],
        "voucher_devices": await rows(
            queries.voucher_devices, merchant_id, args[2], shopper.voucher_code
        ),
        "rate_limits": await rows(queries.rate_limits, *ids_devices),
        "wifidog_tokens": await rows(queries.wifidog_tokens, *args),
        "authmon_grants": await rows(queries.authmon_grants, *args),
    }


async def erase_shopper(
    conn: asyncpg.Connection, secret_key: str, merchant_id: uuid.UUID, shopper: PortalShopper
) -> PortalErased:
    """Erase what the portal keeps of the shopper (see the module), in the caller's
    transaction (ValueError without one: the caller records the request in the same one)."""
    if not conn.is_in_transaction():
        raise ValueError("erase_shopper runs in the caller's transaction")
    shopper = await _with_devices(conn, merchant_id, shopper)
    args = _args(merchant_id, shopper)
    ids_devices = args[:3]
    texts = await _outbox_texts(conn, secret_key, merchant_id, shopper.identity_hashes)
    opt_outs = len(await conn.fetch(queries.opt_outs, *ids_devices))
    tokens = _count(await conn.execute(queries.delete_done_tokens, *args))
    tokens += _count(await conn.execute(queries.anonymise_live_tokens, *args))
    grants = _count(await conn.execute(queries.erase_authmon_grants, *args))
    sessions = _count(await conn.execute(queries.erase_sessions, *args))
    return PortalErased(
        sms_codes=_count(await conn.execute(queries.erase_sms_codes, *ids_devices)),
        sms_outbox=_count(
            await conn.execute(queries.erase_outbox, merchant_id, [r["message_id"] for r in texts])
        ),
        voucher_devices=_count(
            await conn.execute(
                queries.erase_voucher_devices, merchant_id, list(shopper.device_hashes)
            )
        ),
        rate_limits=_count(await conn.execute(queries.erase_rate_limits, *ids_devices)),
        device_links=_count(await conn.execute(queries.erase_device_links, *ids_devices)),
        consents=_count(await conn.execute(queries.erase_consents, *args[:2])),
        identities=_count(await conn.execute(queries.erase_identities, *args[:2])),
        sessions=sessions,
        wifidog_tokens=tokens,
        authmon_grants=grants,
        opt_outs_kept=opt_outs,
    )


def _count(status: str) -> int:
    return int(status.rsplit(" ", 1)[-1])
