"""A shopper's export and erasure requests, for what marketing keeps (issue 14, item 8;
docs/marketing.md, "Privacy: a shopper's export and erasure").

A request names the shopper as marketing knows them (`Shopper`): their identity's keyed hash
(a phone number, an email address, a voucher) and/or their devices' pseudonyms. Their
profiles are the identity's ('i:'), each device's own ('d:') and whatever profile a device
was linked to at a login.

- `export_shopper`: every profile (its facts as stored, consent_wechat with them, and as rules
  read them now), its tags with their names and definition versions, the merchant's segments
  it is in now, its linked devices, WeChat account and the WeChat follow codes made for it (when
  made, until when), its contact log (each contact's trigger, channel, offer,
  decision, outcome) and the live stream's events still kept (a day after they are decided).
- `erase_shopper`, in the caller's transaction: the events are deleted, then the merchant is
  locked as the engine locks it (events first, then the merchant's lock: the engine's order,
  so neither waits for the other in a circle), the profiles' contacts anonymised
  (each keeps its trigger, channel, times and outcome under a key of its own, 'x:<contact
  id>', so the trigger's counts stand and nobody is named; a contact not yet sent becomes
  suppressed, 'opted_out', and is never sent), the device links and profiles deleted (a
  profile's WeChat link and follow codes with it: migrations 0046 and 0050, ON DELETE
  CASCADE). A profile that had opted out stays as a bare row that says so and nothing else:
  the shopper's "no offers" outlives the erasure.

Erasure removes what marketing knows; it does not stop the live stream: a device seen again
starts a new profile. Consent is the portal's (shopper_consents) and is not changed here.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

from accounts import services as accounts
from kernel.sql import load_queries
from marketing import profiles, rules, tags
from marketing.engine import DEFAULT_ZONE, profile_from_row
from marketing.engine import queries as engine_queries

queries = load_queries(__file__, "privacy.sql")


@dataclass(frozen=True)
class Shopper:
    """Whom a request is about: an identity's keyed hash and/or device pseudonyms (32 hex)."""

    identity_hash: str | None = None
    device_hashes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.identity_hash is None and not self.device_hashes:
            raise ValueError("a shopper is named by an identity or a device")


@dataclass(frozen=True)
class Erased:
    profiles: int
    devices: int  # device links deleted
    contacts: int  # anonymised
    events: int  # of the live stream, deleted
    opt_outs_kept: int  # bare profiles left saying the shopper opted out


async def _keys(conn: asyncpg.Connection, merchant_id: uuid.UUID, shopper: Shopper) -> list[str]:
    """The shopper's profile keys: the identity's, each device's own and the ones they link to."""
    keys = {profiles.device_key(d) for d in shopper.device_hashes}
    if shopper.identity_hash:
        keys.add(profiles.identity_key(shopper.identity_hash))
    if shopper.device_hashes:
        rows = await conn.fetch(
            queries.profiles_of_devices, merchant_id, list(shopper.device_hashes)
        )
        keys |= {r["profile_key"] for r in rows}
    return sorted(keys)


async def _linked(
    conn: asyncpg.Connection, merchant_id: uuid.UUID, keys: list[str]
) -> list[asyncpg.Record]:
    """The devices linked to these profiles: (device_hash, profile_key) rows."""
    return await conn.fetch(queries.devices_of_profiles, merchant_id, keys)


def _identities(shopper: Shopper, keys: Sequence[str]) -> list[str]:
    found = {k[2:] for k in keys if k.startswith("i:")}
    if shopper.identity_hash:
        found.add(shopper.identity_hash)
    return sorted(found)


async def export_shopper(
    conn: asyncpg.Connection,
    merchant_id: uuid.UUID,
    shopper: Shopper,
    *,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Everything marketing keeps of the shopper, as JSON-ready data (see the module)."""
    now = now or datetime.now(UTC)
    keys = await _keys(conn, merchant_id, shopper)
    linked = await _linked(conn, merchant_id, keys)
    devices = sorted({*shopper.device_hashes, *(r["device_hash"] for r in linked)})
    named = {t.tag_id: t for t in await tags.list_tags(conn, merchant_id)}
    segments = [
        (r, rules.compile_rule(rules.parse(_json(r["rule"]))))
        for r in await conn.fetch(queries.segments, merchant_id)
    ]
    zones = {
        s: ZoneInfo(f.timezone)
        for s, f in (await accounts.venue_facts(conn, merchant_id)).stores.items()
    }
    wechat = {
        r["profile_key"]: _plain({"openid": r["openid"], "linked_at": r["linked_at"]})
        for r in await conn.fetch(queries.wechat_followers, merchant_id, keys)
    }
    wechat_codes: dict[str, list[Any]] = {}
    for r in await conn.fetch(queries.wechat_scenes, merchant_id, keys):
        wechat_codes.setdefault(r["profile_key"], []).append(
            _plain({"created_at": r["created_at"], "expires_at": r["expires_at"]})
        )
    exported = []
    for row in await conn.fetch(queries.profiles, merchant_id, keys):
        profile = profile_from_row(row)
        zone = zones.get(profile.visit_store) or next(iter(zones.values()), ZoneInfo(DEFAULT_ZONE))
        facts = profiles.facts(profile, now, zone)
        exported.append(
            {
                "profile_key": profile.profile_key,
                "kind": "identity" if profile.profile_key.startswith("i:") else "device",
                "stored": _plain(
                    {k: v for k, v in dict(row).items() if k not in ("merchant_id", "tags")}
                ),
                "facts_now": facts,
                "tags": [
                    {
                        "tag_id": tag_id,
                        "version": version,
                        "name_en": named[tag_id].name_en if tag_id in named else tag_id,
                        "name_zh": named[tag_id].name_zh if tag_id in named else tag_id,
                    }
                    for tag_id, version in sorted(profile.tags.items())
                ],
                "segments": [
                    {
                        "segment_id": str(r["segment_id"]),
                        "name_en": r["name_en"],
                        "name_zh": r["name_zh"],
                    }
                    for r, check in segments
                    if check(facts, profile.tags)
                ],
                "devices": [
                    r["device_hash"] for r in linked if r["profile_key"] == profile.profile_key
                ],
                "wechat": wechat.get(profile.profile_key),
                "wechat_codes": wechat_codes.get(profile.profile_key, []),
            }
        )
    contacts = [_plain(dict(r)) for r in await conn.fetch(queries.contacts, merchant_id, keys)]
    events = [
        _plain(dict(r))
        for r in await conn.fetch(queries.events, merchant_id, devices, _identities(shopper, keys))
    ]
    return {
        "merchant_id": str(merchant_id),
        "exported_at": now.isoformat(),
        "identity_hash": shopper.identity_hash,
        "devices": devices,
        "profiles": exported,
        "contacts": contacts,
        "events": events,
    }


async def erase_shopper(
    conn: asyncpg.Connection, merchant_id: uuid.UUID, shopper: Shopper
) -> Erased:
    """Erase what marketing keeps of the shopper (see the module), in the caller's
    transaction (ValueError without one: the caller records the request in the same one)."""
    if not conn.is_in_transaction():
        raise ValueError("erase_shopper runs in the caller's transaction")
    keys = await _keys(conn, merchant_id, shopper)
    linked = await _linked(conn, merchant_id, keys)
    devices = sorted({*shopper.device_hashes, *(r["device_hash"] for r in linked)})
    events = await conn.fetchval(
        queries.delete_events, merchant_id, devices, _identities(shopper, keys)
    )
    # The engine decides for the merchant under this lock: no batch is between reading these
    # profiles and writing them back while they are erased. Read again under it (a batch may
    # have linked a device meanwhile); the events are not touched again under the lock (a
    # batch waiting for it holds its events: we would wait for each other).
    await conn.execute(engine_queries.lock_merchants, [merchant_id])
    # What an engine holds of the merchant is read again at its next batch, not written back.
    await conn.execute(engine_queries.bump_epochs, [merchant_id])
    keys = await _keys(conn, merchant_id, shopper)
    linked = await _linked(conn, merchant_id, keys)
    devices = sorted({*devices, *(r["device_hash"] for r in linked)})
    contacts = await conn.execute(queries.anonymise_contacts, merchant_id, keys)
    unlinked = await conn.execute(queries.delete_devices, merchant_id, devices, keys)
    deleted = await conn.fetch(queries.delete_profiles, merchant_id, keys)
    opted_out = [(r["profile_key"], r["opted_out_at"]) for r in deleted if r["opted_out_at"]]
    if opted_out:
        await conn.execute(
            queries.keep_opt_outs, merchant_id, [k for k, _ in opted_out], [o for _, o in opted_out]
        )
    return Erased(
        profiles=len(deleted),
        devices=_count(unlinked),
        contacts=_count(contacts),
        events=int(events),
        opt_outs_kept=len(opted_out),
    )


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _count(status: str) -> int:
    return int(status.rsplit(" ", 1)[-1])


def _plain(value: Any) -> Any:
    """JSON-ready: ids and times as text."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value
