"""Raw MACs on the portal side are kept only while a session needs them (PRODUCT.md §5).

A session's `client_mac` lets the router re-grant it after an openNDS restart and end it at
logout; a session ended by logout, by its gateway or by the end-of-session job
(portal/session_end.py, within about 15 s of its end when the controller role runs) is
scrubbed at once; one that ran out while no controller ran is scrubbed 10 minutes after its
end by `scrub_forever` (run by the portal role), with the MAC of its WiFiDog token. Grants
queued for authmon lose their MAC 10 minutes after they expired and are deleted then (their
page says what became of them until then), or, when authmon took one without acking it, once
its session could have ended (openNDS's `deauthed` may still record it: portal/authmon.py).

The SMS login's leftovers go in the same run: outbox texts after 24 hours, codes once expired,
rate-limit windows once over (portal/sms.py, portal/rate_limits.py).
"""

from __future__ import annotations

import logging
from dataclasses import astuple, dataclass

import asyncpg

from kernel.jobs import every
from kernel.sql import load_queries
from portal import rate_limits

log = logging.getLogger("portico.portal.retention")
queries = load_queries(__file__)
sms_queries = load_queries(__file__, "sms.sql")

KEEP_SECONDS = 600
BATCH = 10_000
INTERVAL = 300.0  # seconds between runs
SMS_OUTBOX_KEEP = 24 * 3600  # seconds the development SMS outbox keeps a text (docs/logins.md)


@dataclass(frozen=True)
class Scrubbed:
    sessions: int
    tokens: int
    authmon_macs: int
    authmon_grants: int
    # SMS login (portal/sms.py): outbox texts, expired codes, rate-limit windows that are over.
    sms_outbox: int = 0
    sms_codes: int = 0
    rate_limit_windows: int = 0


async def scrub_expired(db: asyncpg.Pool, keep: float = KEEP_SECONDS) -> Scrubbed:
    """Scrub what expired more than `keep` seconds ago; how much of each."""
    sessions = 0
    tokens = _count(await db.execute(queries.scrub_expired_token_macs, float(keep)))
    while True:  # in batches: the first run after an upgrade may find many
        scrubbed = _count(await db.execute(queries.scrub_expired_session_macs, float(keep), BATCH))
        sessions += scrubbed
        if scrubbed < BATCH:
            break
    grant_macs = _count(await db.execute(queries.scrub_expired_authmon_macs, float(keep)))
    grants = _count(await db.execute(queries.purge_old_authmon_grants))
    sms = await db.fetchrow(
        sms_queries.purge_sms, float(SMS_OUTBOX_KEEP), float(rate_limits.LONGEST_WINDOW)
    )
    return Scrubbed(
        sessions, tokens, grant_macs, grants, sms["outbox"], sms["codes"], sms["windows"]
    )


def _count(status: str) -> int:
    return int(status.rsplit(" ", 1)[-1])


async def scrub_forever(db: asyncpg.Pool, interval: float = INTERVAL) -> None:
    """`scrub_expired` every `interval` seconds until cancelled (kernel.jobs.every)."""

    async def run() -> None:
        done = await scrub_expired(db)
        if any(astuple(done)):
            log.info("scrubbed expired MACs: %s", done)

    await every(interval, run, log, "scrub expired MACs")
