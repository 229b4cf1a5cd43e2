"""The shape every dispatch channel shares (docs/marketing-dispatch.md): a `Delivery` in, an
`Outcome` out; and the two channels that need no network of their own, the portal's online
page and SMS (through the portal's SMS backend, portal/services.py).

A channel never raises for what a receiver says: it answers with an Outcome, and the
dispatcher (marketing/dispatch.py) records it, retries it with back-off, or gives up. The
delivery id every channel carries is the contact's id, so a contact sent again after a crash
is recognised by its receiver.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import asyncpg

from portal import services as portal


@dataclass(frozen=True)
class Delivery:
    """One pending contact as a channel sends it."""

    merchant_id: uuid.UUID
    contact_id: uuid.UUID  # the delivery id every channel carries
    profile_key: str
    trigger_id: uuid.UUID
    offer_key: str
    channel: str
    store_id: uuid.UUID | None
    event_at: datetime
    decided_at: datetime
    attempt: int  # 1 at the first try
    message_zh: str
    message_en: str
    coupon_id: uuid.UUID | None
    webhook_id: uuid.UUID | None

    @property
    def texts(self) -> dict[str, str]:
        return {"zh-CN": self.message_zh, "en": self.message_en}


SENT, DELIVERED, RETRY, FAILED, SUPPRESSED = "sent", "delivered", "retry", "failed", "suppressed"


@dataclass(frozen=True)
class Outcome:
    """What became of one try: 'sent' (left us), 'delivered' (the receiver confirmed),
    'retry' (try again; `retry_after`: at least so many seconds), 'failed' (never will),
    'suppressed' (not to be sent any more: `reason`, as the engine's)."""

    status: str
    error: str | None = None
    reason: str | None = None
    retry_after: float = 0.0


def sent(note: str | None = None) -> Outcome:
    return Outcome(SENT, note)


def delivered() -> Outcome:
    return Outcome(DELIVERED)


def retry(error: str, after: float = 0.0) -> Outcome:
    return Outcome(RETRY, error[:500], retry_after=after)


def failed(error: str) -> Outcome:
    return Outcome(FAILED, error[:500])


def suppressed(reason: str) -> Outcome:
    return Outcome(SUPPRESSED, reason=reason)


class Channel(Protocol):
    async def send(self, delivery: Delivery) -> Outcome:
        """One try of one contact; never raises for what the receiver answered."""
        ...


class PortalChannel:
    """An offer on the portal's online page. Nothing leaves here: the dispatcher marks the
    contact 'sent' (waiting for the shopper's next page), and the portal marks it 'delivered'
    when the page shows it (marketing/services.py, mark_offers_shown)."""

    async def send(self, delivery: Delivery) -> Outcome:
        if not (delivery.message_zh or delivery.message_en or delivery.coupon_id):
            return failed("the trigger has neither a message nor a coupon to show")
        return sent()


class SmsChannel:
    """A text to the verified phone number of a known shopper ('i:' profile that agreed to
    SMS), through the portal's SMS backend under the delivery id: the outbox keeps one text per
    id. Alibaba Cloud's SendSms is not idempotent: a try whose answer did not come in time is
    recorded as sent, never tried again (its reference advises checking the receipt first)."""

    THROTTLED_WAIT = 60.0  # seconds: Alibaba Cloud's flow control counts per minute

    def __init__(self, db: asyncpg.Pool, providers: portal.SmsProviders, secret_key: str) -> None:
        self._db = db
        self._providers = providers
        self._secret_key = secret_key

    async def send(self, delivery: Delivery) -> Outcome:
        if not delivery.profile_key.startswith("i:"):
            return failed("SMS goes only to a shopper known by a login identity")
        if not (delivery.message_zh or delivery.message_en):
            return failed("the trigger has no message to text")
        try:
            await portal.text_identity(
                self._db,
                self._providers,
                self._secret_key,
                delivery.merchant_id,
                delivery.profile_key[2:],
                delivery.contact_id,
                delivery.texts,
            )
        except (portal.NoPhone, portal.NoSmsRoute, portal.SmsNumberRefused) as exc:
            return failed(f"sms: {exc.detail}")
        except portal.SmsThrottled as exc:
            return retry(f"sms: {exc.detail}", self.THROTTLED_WAIT)
        except portal.SmsSendUnsure as exc:
            return sent(f"sms: unconfirmed, not retried: {exc.detail}")
        except portal.SmsSendFailed as exc:
            return retry(f"sms: {exc.detail}")
        return sent()
