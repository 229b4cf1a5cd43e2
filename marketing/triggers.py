"""Triggers (scene marketing): on an event whose shopper matches a rule, an action.

`save_trigger` checks everything a form can get wrong (TriggerError names the field) and
stores the trigger; an edit is a new version, and contacts say which version made them.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

import asyncpg

from kernel.errors import PorticoError
from kernel.sql import load_queries
from marketing import rules

queries = load_queries(__file__, "triggers.sql")

EVENTS = ("arrival", "dwell", "login", "redemption")
CHANNELS = ("portal", "sms", "webhook", "wechat")
OFFER_KEY = re.compile(r"^[A-Za-z0-9._:-]{1,80}$")


class TriggerError(PorticoError):
    message_id = "mk_trigger_invalid"

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(detail, field=field, reason=detail)
        self.field = field


@dataclass(frozen=True)
class TriggerSpec:
    """What a merchant sets for a trigger."""

    name_zh: str
    name_en: str
    event: str
    rule: object
    channel: str
    offer_key: str
    message_zh: str = ""
    message_en: str = ""
    dwell_minutes: int | None = None
    store_id: uuid.UUID | None = None
    coupon_id: uuid.UUID | None = None
    webhook_id: uuid.UUID | None = None
    holdout_share: float = 0.1
    window_days: int = 14
    enabled: bool = True


def check(spec: TriggerSpec) -> rules.Rule:
    """The parsed rule when the spec is sound; TriggerError naming the field otherwise."""
    for name in ("name_zh", "name_en"):
        value = getattr(spec, name)
        if not isinstance(value, str) or not value.strip() or len(value) > 60:
            raise TriggerError(name, "a name of 1 to 60 characters")
    if spec.event not in EVENTS:
        raise TriggerError("event", f"the event is one of {', '.join(EVENTS)}")
    if (spec.event == "dwell") != (spec.dwell_minutes is not None):
        raise TriggerError("dwell_minutes", "minutes in the store go with the dwell event only")
    if spec.dwell_minutes is not None and not 1 <= spec.dwell_minutes <= 720:
        raise TriggerError("dwell_minutes", "1 to 720 minutes")
    if spec.channel not in CHANNELS:
        raise TriggerError("channel", f"the channel is one of {', '.join(CHANNELS)}")
    if (spec.channel == "webhook") != (spec.webhook_id is not None):
        raise TriggerError("webhook_id", "a webhook channel needs its webhook, and only it")
    if not OFFER_KEY.match(spec.offer_key):
        raise TriggerError("offer_key", "letters, digits and . _ : - (at most 80)")
    for name in ("message_zh", "message_en"):
        if len(getattr(spec, name)) > 300:
            raise TriggerError(name, "at most 300 characters")
    if not 0 <= spec.holdout_share < 1:
        raise TriggerError("holdout_share", "a share from 0 up to (not including) 1")
    if not 1 <= spec.window_days <= 90:
        raise TriggerError("window_days", "1 to 90 days")
    try:
        return rules.parse(spec.rule)
    except rules.RuleError as exc:
        raise TriggerError("rule", exc.detail) from None


async def save_trigger(
    db: asyncpg.Pool | asyncpg.Connection,
    merchant_id: uuid.UUID,
    spec: TriggerSpec,
    trigger_id: uuid.UUID | None = None,
) -> uuid.UUID:
    """Create the trigger (trigger_id None) or make `spec` its next version."""
    parsed = check(spec)
    args = (
        spec.name_zh.strip(),
        spec.name_en.strip(),
        spec.event,
        spec.dwell_minutes,
        spec.store_id,
        parsed,
        spec.channel,
        spec.offer_key,
        spec.message_zh,
        spec.message_en,
        spec.coupon_id,
        spec.webhook_id,
        spec.holdout_share,
        spec.window_days,
        spec.enabled,
    )
    if trigger_id is None:
        trigger_id = uuid.uuid4()
        await db.execute(queries.insert_trigger, merchant_id, trigger_id, *args)
        return trigger_id
    updated = await db.fetchval(queries.update_trigger, merchant_id, trigger_id, *args)
    if updated is None:
        raise TriggerError("trigger", f"the merchant has no trigger {trigger_id}")
    return trigger_id


async def trigger_named(
    db: asyncpg.Pool | asyncpg.Connection, merchant_id: uuid.UUID, name_en: str
) -> uuid.UUID | None:
    """The merchant's first trigger of that English name, if any."""
    return await db.fetchval(queries.trigger_named, merchant_id, name_en)
