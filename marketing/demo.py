"""The demo merchant's precision marketing (`portico demo`, portico/demo_marketing.py): the
default tags, three segments (two shared with advertisers: the demo advertiser's Segments page
shows one's count and "fewer than 50" for the other) and three triggers, made once.

The segments are rows of marketing_segments with a rule in the tags' language (the console's
segment forms make the same); the triggers are saved as a merchant's form would save them
(marketing.triggers.save_trigger).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from kernel.sql import load_queries
from marketing import tags, triggers

queries = load_queries(__file__, "demo.sql")

_NAMESPACE = uuid.UUID("5f0b7c1e-83c4-4d0a-9d2e-0a6f1b2c3d4e")

# (key, name zh-CN, name en, rule, shared with advertisers)
SEGMENTS: tuple[tuple[str, str, str, dict[str, object], bool], ...] = (
    (
        "frequent-lunch",
        "高频午餐常客",
        "Frequent lunchtime regulars",
        {"all": [{"tag": "frequent"}, {"tag": "lunchtime_regular"}]},
        True,
    ),
    ("lapsed-back", "流失回访", "Lapsed, back", {"tag": "lapsed"}, False),
    (
        "twice-30d",
        "近 30 天到店 2 次以上",
        "Came twice in 30 days",
        {"fact": "visits_30d", "op": ">=", "value": 2},
        True,
    ),
)


def demo_triggers() -> list[triggers.TriggerSpec]:
    """A lapsed shopper back → an offer on the portal; 20 minutes in the store → an SMS (to
    those who agreed to marketing SMS: the others are recorded as suppressed, no_consent); a
    first visit → a welcome offer on the portal."""
    return [
        triggers.TriggerSpec(
            name_zh="老顾客回来了",
            name_en="Welcome back",
            event="arrival",
            rule={"tag": "lapsed"},
            channel="portal",
            offer_key="demo-welcome-back",
            message_zh="好久不见！今天任意饮品第二杯半价。",
            message_en="Good to see you again! Half price on a second drink today.",
        ),
        triggers.TriggerSpec(
            name_zh="停留 20 分钟",
            name_en="Stayed 20 minutes",
            event="dwell",
            dwell_minutes=20,
            rule={"all": []},
            channel="sms",
            offer_key="demo-stay-20",
            message_zh="感谢光临！出示本短信，甜点立减 5 元。",
            message_en="Thanks for staying! Show this text for ¥5 off a dessert.",
        ),
        triggers.TriggerSpec(
            name_zh="首次到店欢迎",
            name_en="First visit welcome",
            event="arrival",
            rule={"fact": "first_visit", "op": "=", "value": True},
            channel="portal",
            offer_key="demo-first-visit",
            message_zh="欢迎首次光临！领取新客优惠券。",
            message_en="Welcome on your first visit! Here is a newcomer's coupon.",
        ),
    ]


async def seed_tags_and_segments(db: asyncpg.Pool, merchant_id: uuid.UUID) -> None:
    """The default tags and the demo segments, where missing."""
    await tags.ensure_defaults(db, merchant_id)
    for key, name_zh, name_en, rule, shared in SEGMENTS:
        segment_id = uuid.uuid5(_NAMESPACE, f"{merchant_id}:{key}")
        await db.execute(
            queries.insert_segment, merchant_id, segment_id, name_zh, name_en, rule, shared
        )


async def has_triggers(db: asyncpg.Pool, merchant_id: uuid.UUID) -> bool:
    return bool(await db.fetchval(queries.trigger_count, merchant_id))


async def seed_triggers(
    db: asyncpg.Pool, merchant_id: uuid.UUID, specs: Sequence[triggers.TriggerSpec] | None = None
) -> list[uuid.UUID]:
    """The demo triggers (a merchant with none yet)."""
    return [await triggers.save_trigger(db, merchant_id, s) for s in specs or demo_triggers()]


# The demo's history of contacts (portico/demo_closed_loop.py) -----------------------------------


@dataclass(frozen=True)
class HistoryContact:
    contact_id: uuid.UUID
    event_id: uuid.UUID  # the event that set it off
    arm: str  # 'treatment', 'holdout'
    status: str
    decided_at: datetime

    @property
    def goes_out(self) -> bool:
        """The offer was made (treated, not held back by the budget)."""
        return self.status in ("pending", "sent", "delivered")


async def reacted_contacts(
    db: asyncpg.Pool,
    merchant_id: uuid.UUID,
    start: datetime,
    end: datetime,
    offer_keys: Sequence[str],
) -> list[HistoryContact]:
    """The contacts in an arm decided in [start, end) of the triggers offering `offer_keys`."""
    rows = await db.fetch(queries.reacted_contacts, merchant_id, start, end, list(offer_keys))
    return [HistoryContact(**dict(r)) for r in rows]


async def settle_history(
    db: asyncpg.Pool, merchant_id: uuid.UUID, before: datetime | None = None
) -> int:
    """The history's contacts that went out (decided before `before`; by default, before the
    merchant's triggers were made) marked as they would have ended: delivered when decided,
    so no dispatcher sends them now. How many."""
    if before is None:
        before = await db.fetchval(queries.triggers_made_at, merchant_id)
        if before is None:
            return 0
    result = await db.execute(queries.settle_history, merchant_id, before)
    return int(result.rsplit(" ", 1)[-1])


async def history_waiting(db: asyncpg.Pool, merchant_id: uuid.UUID) -> bool:
    """Events from before the merchant's triggers were made still wait: a first start's history
    was cut short."""
    made_at = await db.fetchval(queries.triggers_made_at, merchant_id)
    return made_at is not None and bool(
        await db.fetchval(queries.history_waiting, merchant_id, made_at)
    )
