"""Audience size: how many of a merchant's shoppers a rule matches now (the console's preview of
a tag or a trigger's condition, before it is saved).

Each stored profile (marketing_profiles) is read back as the engine reads it
(`engine.profile_from_row`), its facts taken at `now` in the time zone of its latest visit's
store (`profiles.facts`), the merchant's enabled tags evaluated on them as the engine would at
the shopper's next event, and the rule checked. The profiles are streamed through a cursor, a
batch at a time, so a large merchant is counted without holding its profiles in memory.

Facts about a moment are read at `now` and the shopper's latest visit: "it is lunchtime" holds
for everyone or no one, depending on the hour the preview is asked; "minutes in the store this
visit", "first visit" and "back after 30 days" describe each shopper's latest visit.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

import asyncpg

from accounts import services as accounts
from kernel.sql import load_queries
from marketing import engine, profiles, rules, tags

queries = load_queries(__file__, "audience.sql")

PREFETCH = 1_000  # profiles fetched from the cursor at a time


async def count_matching(
    db: asyncpg.Pool, merchant_id: uuid.UUID, rule: object, now: datetime
) -> int:
    """How many of the merchant's profiles `rule` holds for at `now`; RuleError when the rule is
    malformed."""
    (matched,) = await count_each(db, merchant_id, [rule], now)
    return matched


async def count_each(
    db: asyncpg.Pool, merchant_id: uuid.UUID, each: Sequence[object], now: datetime
) -> list[int]:
    """How many of the merchant's profiles each rule of `each` holds for at `now`, in one pass
    over the profiles (a page of segments costs one read, not one a segment); RuleError when
    a rule is malformed."""
    parsed = [rules.parse(rule) for rule in each]
    checks = [rules.compile_rule(p) for p in parsed]
    reads_tags = any(rules.tags_used(p) for p in parsed)
    matched = [0] * len(checks)
    if not checks:
        return matched
    async with db.acquire() as conn:
        compiled = tags.compile_tags(await tags.list_tags(conn, merchant_id))
        venue = await accounts.venue_facts(conn, merchant_id)
        zones = {store_id: ZoneInfo(f.timezone) for store_id, f in venue.stores.items()}
        default = next(iter(zones.values()), ZoneInfo(engine.DEFAULT_ZONE))
        async with conn.transaction():  # a cursor lives in a transaction
            cursor = conn.cursor(queries.merchant_profiles, merchant_id, prefetch=PREFETCH)
            async for row in cursor:
                profile = engine.profile_from_row(row)
                zone = zones.get(profile.visit_store, default) if profile.visit_store else default
                facts = profiles.facts(profile, now, zone)
                held = compiled.evaluate(facts) if reads_tags else {}
                for index, check in enumerate(checks):
                    if check(facts, held):
                        matched[index] += 1
    return matched
