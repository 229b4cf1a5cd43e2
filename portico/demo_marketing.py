"""The demo's precision marketing (issue 14; docs/marketing.md, "The live stream").

At the first start, before the roles run (`prepare`):

1. the default tags and three segments (marketing/demo.py);
2. the demo stores' shoppers who joined the WiFi in the last HISTORY_DAYS, folded into
   profiles by the trigger engine: the same shopper model and seeds the live presence plays
   (portico/demo_footfall.py, simulators/shoppers.py), their station joins and leaves made
   sightings as the controller makes them (analytics.ingest.FootfallIngest.station_event),
   one per device, store and minute as the live producer sends them
   (marketing.intake.Sightings), and their portal logins; staff and fixed devices left out,
   as the footfall ingest leaves them out once it knows them. The history makes regulars,
   lunchtime regulars and lapsed shoppers. The three triggers are made first, so the history
   sets them off as it would have live, and the shoppers react to the offers they were shown
   (portico/demo_closed_loop.py): each trigger's closed-loop report has both arms, their
   conversions and the uplift from the first start. The regulars of a store with SMS login
   log in by SMS, most of them agreeing to marketing texts at their latest login, recorded as
   the portal's SMS login records them (`with_sms_logins`), so the live stream's "20 minutes
   in the store → SMS" reaches them.

Live, nothing here: the simulated routers' station telemetry goes over MQTT to the
controller, whose footfall ingest hands the stable devices to marketing (portico/runtime.py),
and logins on the portal are told by the portal; the marketing role's engine decides.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import logging
import time
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

import asyncpg

import accounts.services as accounts
import portal.services as portal
from analytics.ingest import FootfallIngest
from kernel.config import Settings
from kernel.privacy import device_hash
from marketing import demo as marketing_demo
from marketing import intake
from marketing.intake import InboxEvent
from portico import demo_closed_loop
from portico.demo_footfall import demo_profile, store_seed
from simulators import shoppers

log = logging.getLogger("portico.demo.marketing")

HISTORY_DAYS = 45  # more than a month: a monthly regular's next visit may be a lapsed return
NOT_SHOPPERS = ("staff-", "fixed-")  # the shopper model's people who are no shoppers
LOGINS = uuid.UUID("2b8e6c0f-54a1-4e7b-a0c3-9d1e2f3a4b5c")


async def prepare(
    settings: Settings,
    db: asyncpg.Pool,
    merchant_id: uuid.UUID,
    zones: Mapping[str, Sequence[str]],
    *,
    days: float = HISTORY_DAYS,
    now: float | None = None,
) -> None:
    """Tags and segments where missing; at the first start, the history, then the triggers.
    `zones`: each demo store's agent routers, by store name (their order: the live feed's)."""
    await marketing_demo.seed_tags_and_segments(db, merchant_id)
    if await marketing_demo.has_triggers(db, merchant_id):
        await demo_closed_loop.settle_cut_short(db, merchant_id)
        return
    now = time.time() if now is None else now
    began = time.monotonic()
    # The triggers before the history: it sets them off as it would have live.
    made = await marketing_demo.seed_triggers(db, merchant_id)
    store_ids = {s.name: s.store_id for s in await accounts.list_stores(db, merchant_id)}
    events: list[InboxEvent] = []
    for index, (name, store_zones) in enumerate(zones.items()):
        profile = demo_profile(index, name, store_zones)
        store_events = await asyncio.to_thread(
            history_events,
            settings.secret_key,
            merchant_id,
            store_ids[name],
            profile,
            store_seed(name),
            now - days * 86400,
            now,
        )
        events += await with_sms_logins(
            settings,
            db,
            merchant_id,
            store_ids[name],
            name,
            profile,
            store_events,
            now - days * 86400,
            now,
        )
    end = datetime.fromtimestamp(now, UTC)
    recorded = await demo_closed_loop.fold_history(db, merchant_id, events, end)
    log.info(
        "demo marketing: %.0f days of shoppers' visits, logins and redemptions (%d events) "
        "folded into profiles and %d triggers' contacts in %.0f s",
        days,
        recorded,
        len(made),
        time.monotonic() - began,
    )


def history_events(
    secret_key: str,
    merchant_id: uuid.UUID,
    store_id: uuid.UUID,
    profile: shoppers.StoreProfile,
    seed: int,
    start: float,
    end: float,
) -> list[InboxEvent]:
    """The store's WiFi shoppers of [start, end) as the live stream would have carried them,
    in time order (plain CPU work: run it in a thread)."""
    _frames, truth = shoppers.simulate(profile, start, end, seed)
    at = [start]
    stations = FootfallIngest(secret_key, clock=lambda: at[0])  # joins remembered in model time
    seen: set[tuple[str, int]] = set()
    events = []
    for e in truth.stations:
        if e.person.startswith(NOT_SHOPPERS):
            continue
        at[0] = e.ts
        for s in stations.station_event(e.zone, e.mac, e.ts, e.event, e.rssi):
            device = device_hash(secret_key, str(merchant_id), s.mac)
            minute = int(s.ts // intake.SIGHTING_SECONDS)
            if (device, minute) in seen:
                continue
            seen.add((device, minute))
            events.append(
                InboxEvent(
                    merchant_id,
                    "sighting",
                    device,
                    store_id,
                    datetime.fromtimestamp(s.ts, UTC),
                    event_id=intake.sighting_id(merchant_id, store_id, device, minute),
                )
            )
    for login in truth.logins:
        if login.person.startswith(NOT_SHOPPERS):
            continue
        device = device_hash(secret_key, str(merchant_id), login.mac)
        events.append(
            InboxEvent(
                merchant_id,
                "login",
                device,
                store_id,
                datetime.fromtimestamp(login.ts, UTC),
                {"method": "click"},
                event_id=uuid.uuid5(LOGINS, f"{merchant_id}|{device}|{login.ts}"),
            )
        )
    events.sort(key=lambda e: e.occurred_at)
    return events


# -- the regulars who log in by SMS ------------------------------------------------------------

# Where the demo offers SMS login (portico/demo.py, seed_logins: the ground floor only).
SMS_STORES = ("Demo Mall · Ground Floor",)
SMS_CONSENT_SHARE = 0.75  # of them, who tick the marketing-SMS box


def _draw(seed: int, person: str, what: str) -> int:
    return int.from_bytes(hashlib.sha256(f"{seed}:{person}:{what}".encode()).digest()[:8], "big")


def sms_shopper(seed: int, person: str) -> tuple[str, bool] | None:
    """(the mobile number, agreed to marketing texts) of a regular who logs in by SMS at the
    store of `seed` (the same number at every visit), or None. The numbers are made up: the
    demo records them only with the outbox provider (`with_sms_logins`)."""
    if not person.startswith("regular-"):
        return None
    number = f"+86139{_draw(seed, person, 'phone') % 10**8:08d}"
    return number, _draw(seed, person, "consent") % 1000 < SMS_CONSENT_SHARE * 1000


async def with_sms_logins(
    settings: Settings,
    db: asyncpg.Pool,
    merchant_id: uuid.UUID,
    store_id: uuid.UUID,
    store_name: str,
    profile: shoppers.StoreProfile,
    events: list[InboxEvent],
    start: float,
    end: float,
) -> list[InboxEvent]:
    """At a store with SMS login, its regulars' logins in `events` made SMS logins: each
    regular's number, device and consent recorded through the portal's services as its SMS
    login records them (portal.services.remember_sms_login), and their login events carrying
    the identity and the consent as the portal tells them (portal/shopper_events.py), the
    consent from their latest login on. Nothing with a real SMS provider: the numbers are made
    up, and a real one would text them."""
    if store_name not in SMS_STORES:
        return events
    if settings.sms_provider != "outbox":
        log.warning("demo marketing: no SMS shoppers (their made-up numbers are never texted)")
        return events
    seed = store_seed(store_name)
    _frames, truth = await asyncio.to_thread(shoppers.simulate, profile, start, end, seed)
    latest: dict[str, float] = {}  # device -> its latest login
    for login in truth.logins:
        if sms_shopper(seed, login.person) is not None:
            device = device_hash(settings.secret_key, str(merchant_id), login.mac)
            latest[device] = max(latest.get(device, 0.0), login.ts)
    known: dict[str, tuple[str, bool, datetime]] = {}  # device -> identity, agreed, since
    async with db.acquire() as conn, conn.transaction():
        for login in truth.logins:
            shopper = sms_shopper(seed, login.person)
            device = device_hash(settings.secret_key, str(merchant_id), login.mac)
            if shopper is None or device in known:
                continue
            phone, agreed = shopper
            identity = await portal.remember_sms_login(
                conn,
                settings.secret_key,
                merchant_id,
                store_id,
                device,
                phone,
                marketing_consent=agreed,
            )
            known[device] = (identity, agreed, datetime.fromtimestamp(latest[device], UTC))
    log.info(
        "demo marketing: %d regulars of %s log in by SMS, %d agreed to marketing texts",
        len(known),
        store_name,
        sum(1 for _i, agreed, _s in known.values() if agreed),
    )

    def told(event: InboxEvent) -> InboxEvent:
        """A login as the portal tells an SMS login: the box ticked at the latest one (the
        history's earlier visits were before the shopper agreed: their texts, `no_consent`,
        do not use up the offer the live stream makes)."""
        if event.kind != "login" or event.device_hash not in known:
            return event
        identity, agreed, since = known[event.device_hash]
        payload = {
            "method": "sms",
            "identity_hash": identity,
            "consent_sms": agreed and event.occurred_at >= since,
            "consent_email": False,
        }
        return dataclasses.replace(event, payload=payload)

    return [told(e) for e in events]
