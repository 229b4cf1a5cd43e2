"""What other domains may ask of marketing (named functions; STYLE.md): the portal's online
page, through hooks the composition root wires (portico/runtime.py), so the portal never
imports marketing; and a shopper's data requests (below, marketing/privacy.py); and the
segments merchants share with advertisers (`shared_segments`, for the advertiser console).

A portal contact is an offer waiting on the shopper's next page, the "you're online" page.
The dispatcher marks it 'sent' (waiting; marketing/channels.py, PortalChannel); the page asks
for the device's offers (`offers_for_device`) and, once it shows them, marks them 'delivered'
(`mark_offers_shown`). An offer stays on the page for OFFER_FRESH after the event that set it
off (a reload shows it again, and its coupon can still be claimed), then it is gone; one never
shown stays 'sent'.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

import asyncpg

from kernel.sql import load_queries
from marketing import segments
from marketing.privacy import Erased as Erased  # shopper data requests (the last section)
from marketing.privacy import Shopper as Shopper
from marketing.privacy import erase_shopper as erase_shopper
from marketing.privacy import export_shopper as export_shopper
from marketing.segments import SharedSegment as SharedSegment  # what shared_segments gives

queries = load_queries(__file__, "services.sql")

OFFER_FRESH = timedelta(days=1)
MAX_OFFERS = 3


@dataclass(frozen=True)
class Offer:
    """A portal offer for one shopper: its contact (the delivery id), the trigger's message in
    both languages and the coupon it offers, if any."""

    contact_id: uuid.UUID
    offer_key: str
    message_zh: str
    message_en: str
    coupon_id: uuid.UUID | None

    def message(self, lang: str) -> str:
        """The message in `lang` ('zh-CN' or 'en'), or in the other when that one is empty."""
        first, second = (
            (self.message_zh, self.message_en)
            if lang == "zh-CN"
            else (self.message_en, self.message_zh)
        )
        return first or second


async def offers_for_device(
    db: asyncpg.Pool | asyncpg.Connection, merchant_id: uuid.UUID, device_hash: str
) -> list[Offer]:
    """The portal offers of the device's shopper (the profile a login linked the device to,
    else the device's own 'd:' profile), newest first, at most MAX_OFFERS: those waiting and
    those shown within OFFER_FRESH of their event."""
    rows = await db.fetch(
        queries.offers_for_device, merchant_id, device_hash, OFFER_FRESH, MAX_OFFERS
    )
    return [
        Offer(r["contact_id"], r["offer_key"], r["message_zh"], r["message_en"], r["coupon_id"])
        for r in rows
    ]


async def mark_offers_shown(
    db: asyncpg.Pool | asyncpg.Connection,
    merchant_id: uuid.UUID,
    contact_ids: Sequence[uuid.UUID],
) -> int:
    """The online page showed these offers: 'delivered' (once; a reload changes nothing). How
    many were delivered now."""
    if not contact_ids:
        return 0
    result = await db.execute(queries.mark_offers_shown, merchant_id, list(contact_ids))
    return int(result.rsplit(" ", 1)[-1])


# -- Shopper data requests (privacy, issue 14 item 8; marketing/privacy.py) ---------------------
# A shopper's export and erasure of what marketing keeps: profiles, tags, segment memberships,
# device links, contact log and the live stream's kept events (`export_shopper`,
# `erase_shopper`, `Shopper`, `Erased`, imported above). portico/shopper_data.py (the
# `portico shopper` command) names the shopper and logs each request in the audit log.


# -- What an advertiser sees of a merchant's segments (issue 14 item 3; marketing/segments.py) --


async def shared_segments(db: asyncpg.Pool, merchant_id: uuid.UUID) -> list[SharedSegment]:
    """The merchant's segments shared with advertisers: each one's names, and its size now
    only when it is at least the merchant's k-threshold (None: fewer than `k`). Never a
    profile, a key or who matches. The advertiser console asks it for the merchants it works
    with, through the composition root (portico/console_app.py: ads never imports marketing)."""
    return await segments.advertiser_view(db, merchant_id)
