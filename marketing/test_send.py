"""A trigger's message tried on the merchant's own side before any shopper gets it (the
console's "Send a test", docs/marketing.md "The console").

A test is never a contact: it is not in marketing_contacts, so it spends no shopper's budget,
takes no offer, is in no holdout and counts in no report.

- An SMS goes to the merchant's SMS outbox only (portal.services.outbox_test_text), its text
  marked as a test.
- A webhook is not sent from the console: the dispatcher sends webhooks, for contacts
  (marketing/webhooks.py), and its body carries no test mark a receiver could tell from a real
  contact. The console shows the request the dispatcher would send for this trigger, made by
  the dispatcher's own functions (`webhooks.body_of`, `webhooks.signature`) and signed with
  the webhook's secret, for an example shopper.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from marketing import webhooks
from marketing.channels import Delivery
from marketing.triggers import TriggerSpec

MARK = {"zh-CN": "【测试】", "en": "[TEST] "}
EXAMPLE_SHOPPER = "d:" + "0" * 32  # a device's pseudonym, as the body names its shopper
UNSAVED = uuid.UUID(int=0)  # the id of a trigger not yet saved


def sms_text(message: str, language: str) -> str:
    """The test's text: the message as a shopper would get it, marked as a test."""
    return MARK.get(language, MARK["en"]) + message


@dataclass(frozen=True)
class WebhookRequest:
    url: str
    headers: list[tuple[str, str]]
    body: str


def webhook_request(
    url: str,
    secret: str,
    merchant_id: uuid.UUID,
    trigger_id: uuid.UUID | None,
    spec: TriggerSpec,
) -> WebhookRequest:
    """The POST the dispatcher would make for a contact of the trigger `spec` (saved as
    `trigger_id`, None: not yet), with a delivery id of its own and an example shopper."""
    now = datetime.now(UTC)
    delivery = Delivery(
        merchant_id=merchant_id,
        contact_id=uuid.uuid4(),
        profile_key=EXAMPLE_SHOPPER,
        trigger_id=trigger_id or UNSAVED,
        offer_key=spec.offer_key,
        channel="webhook",
        store_id=spec.store_id,
        event_at=now,
        decided_at=now,
        attempt=1,
        message_zh=spec.message_zh,
        message_en=spec.message_en,
        coupon_id=spec.coupon_id,
        webhook_id=spec.webhook_id,
    )
    body = webhooks.body_of(delivery)
    headers = [
        ("Content-Type", "application/json; charset=utf-8"),
        (webhooks.DELIVERY_HEADER, str(delivery.contact_id)),
        (webhooks.SIGNATURE_HEADER, webhooks.signature(secret, body, int(time.time()))),
    ]
    return WebhookRequest(url, headers, body.decode())
