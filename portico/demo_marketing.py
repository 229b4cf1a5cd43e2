"""The demo's precision marketing (issue 14; docs/marketing.md, "The live stream").

At the first start, before the roles run (`prepare`):

1. the default tags and two segments (marketing/demo.py);
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
   conversions and the uplift from the first start.

Live, nothing here: the simulated routers' station telemetry goes over MQTT to the
controller, whose footfall ingest hands the stable devices to marketing (portico/runtime.py),
and logins on the portal are told by the portal; the marketing role's engine decides.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

import asyncpg

import accounts.services as accounts
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
        events += await asyncio.to_thread(
            history_events,
            settings.secret_key,
            merchant_id,
            store_ids[name],
            profile,
            store_seed(name),
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
