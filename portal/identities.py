"""Shopper identities: a phone number (proved by an SMS code) or an email address, kept as
PRODUCT.md §5 asks: sealed (AES-GCM, per merchant) beside a keyed hash to find it by and a
masked form staff may see; never in the clear in a table or a log. A device that logged in as
an identity is linked to it, so a returning shopper is known by who they are, not only by a MAC
that phones randomise per network."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import asyncpg
import email_validator
import phonenumbers

from kernel.errors import PorticoError
from kernel.privacy import identity_hash, mask_email, mask_phone, seal, unseal
from kernel.sql import load_queries

queries = load_queries(__file__)

DEFAULT_REGION = "CN"  # a number typed without +<country> is a Chinese one
MAX_INPUT = 254  # RFC 5321's longest address; far above any phone number


class BadPhoneNumber(PorticoError):
    message_id = "error_bad_phone"
    status = 400


class BadEmailAddress(PorticoError):
    message_id = "error_bad_email"
    status = 400


def normalize_phone(text: str) -> str:
    """A mobile number in E.164 (+8613812345678), or BadPhoneNumber."""
    if not text or len(text) > 32:
        raise BadPhoneNumber("phone number missing or too long")
    try:
        number = phonenumbers.parse(text, DEFAULT_REGION)
    except phonenumbers.NumberParseException:
        raise BadPhoneNumber("not a phone number") from None
    kind = phonenumbers.number_type(number)
    mobile = kind in (
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    )
    if not phonenumbers.is_valid_number(number) or not mobile:
        raise BadPhoneNumber("not a valid mobile number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalize_email(text: str) -> str:
    """An email address in its normal form, lower-cased whole (the local part is case-sensitive
    by the RFC, but no mail provider treats it so, and a shopper who types `Ann@` one day and
    `ann@` the next is one person), or BadEmailAddress. The domain is not looked up: a shopper
    behind a captive portal may not reach DNS yet."""
    if not text or len(text) > MAX_INPUT:
        raise BadEmailAddress("email address missing or too long")
    try:
        checked = email_validator.validate_email(text.strip(), check_deliverability=False)
    except email_validator.EmailNotValidError:
        raise BadEmailAddress("not an email address") from None
    return checked.normalized.lower()


@dataclass(frozen=True)
class Identity:
    kind: str  # phone, email
    hash: str
    masked: str


def identify(secret_key: str, merchant_id: uuid.UUID, kind: str, normalized: str) -> Identity:
    """The identity of a normalised phone number or email address at this merchant."""
    masked = mask_phone(normalized) if kind == "phone" else mask_email(normalized)
    return Identity(kind, identity_hash(secret_key, str(merchant_id), kind, normalized), masked)


def sealed_identity(
    secret_key: str, merchant_id: uuid.UUID, kind: str, normalized: str
) -> tuple[Identity, bytes]:
    """The identity and its value sealed, as stored."""
    return identify(secret_key, merchant_id, kind, normalized), seal(
        secret_key, str(merchant_id), normalized
    )


async def remember(
    conn: asyncpg.Connection | asyncpg.Pool,
    secret_key: str,
    merchant_id: uuid.UUID,
    kind: str,
    normalized: str,
    *,
    verified: bool,
    device: str | None = None,
) -> Identity:
    """Store the identity (sealed) if it is new; mark it verified when an SMS code proved it.
    `device`: the device that logged in as it, linked in the same statement (link_device)."""
    identity, sealed = sealed_identity(secret_key, merchant_id, kind, normalized)
    fields = (merchant_id, identity.hash, kind, sealed, identity.masked, verified)
    if device is None:
        await conn.execute(queries.remember_identity, *fields)
    else:
        await conn.execute(queries.remember_identity_on_device, *fields, device)
    return identity


async def link_device(
    conn: asyncpg.Connection | asyncpg.Pool,
    merchant_id: uuid.UUID,
    device_hash: str,
    identity: str,
    at: datetime | None = None,
) -> None:
    """The device logged in as this identity (now, or `at`)."""
    await conn.execute(queries.link_device, merchant_id, device_hash, identity, at)


async def verified_phone(
    conn: asyncpg.Connection | asyncpg.Pool,
    secret_key: str,
    merchant_id: uuid.UUID,
    device_hash: str,
) -> str | None:
    """The phone number (E.164) an SMS code proved on this device, the latest; None if none."""
    sealed = await conn.fetchval(queries.verified_phone_of_device, merchant_id, device_hash)
    return unseal(secret_key, str(merchant_id), bytes(sealed)) if sealed is not None else None


async def verified_phone_of(
    conn: asyncpg.Connection | asyncpg.Pool, secret_key: str, merchant_id: uuid.UUID, identity: str
) -> str | None:
    """The phone number (E.164) of an identity, when it is one an SMS code proved; else None."""
    sealed = await conn.fetchval(queries.verified_phone_of_identity, merchant_id, identity)
    return unseal(secret_key, str(merchant_id), bytes(sealed)) if sealed is not None else None
