"""A shopper's "No more offers" on the "you're online" page (issue 14: an opt-out is honoured
everywhere at once; docs/marketing.md, "One contact budget").

The page's small form posts its own signed link back (the captive browser keeps no cookie:
the link is the capability, as for Log out). In one transaction: the opt-out is recorded for
the session (`shopper_opt_outs`, once: a replayed request finds its row and changes nothing),
every marketing consent in force of the shopper is withdrawn (`withdrawn_via = 'portal'`: of
the identity the session logged in with, and of any identity the device logged in under), and
marketing is told through the portal's hook (portal/shopper_events.py): a `consent` event
`channel: all, given: false` for the device (and the identity), which marks the profile opted
out, so no channel (the portal's offers, SMS, webhooks, WeChat) contacts the shopper again, and
a consent event per withdrawn purpose. Nothing is told when nothing was recorded.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from datetime import datetime

import asyncpg

from kernel.shopper_events import OnShopperEvents
from kernel.sql import load_queries
from portal.shopper_events import tell_consent_withdrawn, tell_opt_out

log = logging.getLogger("portico.portal.opt_out")
queries = load_queries(__file__, "opt_out.sql")


async def opt_out(
    db: asyncpg.Pool,
    merchant_id: uuid.UUID,
    session_id: uuid.UUID,
    on_events: OnShopperEvents | None = None,
) -> bool:
    """Record the session's shopper's opt-out of every offer; True when this call recorded it
    (False: recorded before, nothing done or told again). The caller has checked the session
    is this router's (its signed link)."""
    async with db.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(queries.record_opt_out, merchant_id, session_id)
        if row is None:
            return False
        withdrawn = await conn.fetch(
            queries.withdraw_device_consents, merchant_id, row["device_hash"], row["identity_hash"]
        )
        ended: dict[tuple[str, str], list[uuid.UUID]] = defaultdict(list)
        for r in withdrawn:
            ended[(r["identity_hash"], r["purpose"])].append(r["consent_id"])
        for (identity, purpose), ids in sorted(ended.items()):
            await tell_consent_withdrawn(conn, on_events, merchant_id, identity, purpose, ids)
        await tell_opt_out(
            conn,
            on_events,
            merchant_id,
            session_id,
            row["store_id"],
            row["device_hash"],
            row["identity_hash"],
            row["opted_out_at"],
        )
    log.info("session %s opted out of offers (%d consents ended)", session_id, len(withdrawn))
    return True


async def opted_out_at(
    db: asyncpg.Pool | asyncpg.Connection, merchant_id: uuid.UUID, session_id: uuid.UUID
) -> datetime | None:
    """When the session's shopper said "No more offers" on its page, if they did."""
    return await db.fetchval(queries.opted_out_at, merchant_id, session_id)
