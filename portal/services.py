"""What other domains may ask of the portal: named functions, so that none reads the portal's
tables or calls its modules (STYLE.md). The composition root wires the portal's own hooks
(the online page's offers, portal/online.py) the other way round.

Today marketing's dispatcher (marketing/dispatch.py) texts a shopper it knows by their login
identity, through the same SMS backend as the login codes and coupon texts (portal/sms.py);
marketing's console puts a trigger's test text into the merchant's SMS outbox
(`outbox_test_text`); the demo's history records its shoppers' SMS logins as the SMS login
does (`remember_sms_login`); a shopper's export and erasure request (portico/shopper_data.py)
reads and erases what the portal keeps of them (`export_shopper`, `erase_shopper`,
`devices_of`: portal/privacy.py).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping

import asyncpg

from kernel.errors import PorticoError
from kernel.privacy import mask_phone
from portal import identities, sms_consent
from portal.messages_optout import OPT_OUT_SMS
from portal.privacy import PortalErased, PortalShopper, devices_of, erase_shopper, export_shopper
from portal.sms import (
    OutboxProvider,
    SmsNumberRefused,
    SmsProviders,
    SmsSendFailed,
    SmsSendUnsure,
    SmsThrottled,
)

__all__ = [
    "NoPhone",
    "NoSmsRoute",
    "PortalErased",
    "PortalShopper",
    "SmsNumberRefused",
    "SmsProviders",
    "SmsSendFailed",
    "SmsSendUnsure",
    "SmsThrottled",
    "devices_of",
    "erase_shopper",
    "export_shopper",
    "outbox_test_text",
    "remember_sms_login",
    "text_identity",
]


class NoPhone(PorticoError):
    """The identity is not a phone number an SMS code proved (an email address, or gone)."""

    message_id = "error_bad_phone"
    status = 404


class NoSmsRoute(PorticoError):
    """The SMS backend cannot send this kind of text (Alibaba Cloud without an approved
    marketing template: PORTICO_ALIYUN_SMS_MARKETING_TEMPLATE_CODE)."""

    message_id = "error_sms_unavailable"
    status = 503


def text_for_number(phone_e164: str, texts: Mapping[str, str]) -> str:
    """The text in the number's language: Chinese for a Chinese number, else English (either
    one when the other is empty), ending with how to opt out in that language ("回T退订":
    a "T" reply ends the number's marketing-SMS consent, portal/sms_inbound.py)."""
    first, second = ("zh-CN", "en") if phone_e164.startswith("+86") else ("en", "zh-CN")
    text = texts.get(first) or texts.get(second) or ""
    return f"{text} {OPT_OUT_SMS[first]}" if text else ""


async def text_identity(
    db: asyncpg.Pool,
    providers: SmsProviders,
    secret_key: str,
    merchant_id: uuid.UUID,
    identity_hash: str,
    message_id: uuid.UUID,
    texts: Mapping[str, str],
) -> None:
    """Text the identity's verified phone number under `message_id` (the caller's delivery
    id): the outbox keeps one text per id, so the same message sent again after a crash is one
    text there; Alibaba Cloud gets it as OutId (it is not idempotent). `texts`: the message by
    language ('zh-CN', 'en'). NoPhone, NoSmsRoute, or the provider's SmsSendFailed (its
    SmsSendUnsure: no answer in time), SmsNumberRefused, SmsThrottled."""
    provider = providers.for_marketing(merchant_id)
    if provider is None:
        raise NoSmsRoute("no approved marketing SMS template")
    phone = await identities.verified_phone_of(db, secret_key, merchant_id, identity_hash)
    if phone is None:
        raise NoPhone(f"identity {identity_hash[:8]}… has no verified phone number")
    text = text_for_number(phone, texts)
    await provider.send(phone, text, {"message": text}, message_id=message_id)


async def outbox_test_text(
    db: asyncpg.Pool,
    secret_key: str,
    merchant_id: uuid.UUID,
    phone: str,
    texts: Mapping[str, str],
) -> tuple[str, str] | None:
    """A console user's test of a text to shoppers (marketing's "Send a test"): the text as
    `text_identity` would choose it for this number (`texts` by language), put into the
    merchant's SMS outbox whatever the provider, never sent to the phone, so a console form
    cannot text any number typed into it. The number as the outbox shows it (masked) and the
    text; None when `phone` is no mobile number."""
    try:
        e164 = identities.normalize_phone(phone)
    except identities.BadPhoneNumber:
        return None
    text = text_for_number(e164, texts)
    await OutboxProvider(db, secret_key, merchant_id).send(e164, text, {})
    return mask_phone(e164), text


async def remember_sms_login(
    db: asyncpg.Pool | asyncpg.Connection,
    secret_key: str,
    merchant_id: uuid.UUID,
    store_id: uuid.UUID,
    device_hash: str,
    phone: str,
    *,
    marketing_consent: bool,
) -> str:
    """A shopper whose number an SMS code proved on a device, recorded as the SMS login records
    one (portal/sms_views.py): the number verified, sealed and linked to the device, and, when
    they ticked the marketing box, their marketing-SMS consent in the wording shown now
    (portal/sms_consent.py). For the demo's history (portico/demo_marketing.py). The identity's
    keyed hash; identities.BadPhoneNumber when `phone` is no mobile number."""
    number = identities.normalize_phone(phone)
    identity = await identities.remember(
        db, secret_key, merchant_id, "phone", number, verified=True, device=device_hash
    )
    if marketing_consent:
        await sms_consent.give(
            db, merchant_id, identity.hash, store_id, sms_consent.SMS_CONSENT_WORDING
        )
    return identity.hash
