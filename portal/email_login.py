"""Email login with marketing consent (issue 8; docs/logins.md, "Email and consent").

The shopper types an email address and accepts the store's terms; a separate box, never ticked
for them, asks for consent to marketing email. The address becomes a shopper identity (sealed,
found by its keyed hash: portal/identities.py; not verified: nobody proved they read that
mailbox) linked to the device, and the session carries the identity. A ticked box records a
consent: its purpose, the version of the words shown (messages_email.CONSENT_WORDINGS), the
store and when. It is withdrawn by a signed link that needs no login (shown on the "you're
online" page, and to go in every marketing email), or by staff in the console; withdrawing
ends every consent in force of that shopper for that purpose, and doing it twice is harmless.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import uuid
from dataclasses import dataclass, replace
from datetime import datetime
from urllib.parse import urlencode

import asyncpg

from kernel.errors import PorticoError
from kernel.shopper_events import OnShopperEvents
from kernel.sql import load_queries
from portal import identities
from portal.grants import Admission, store_admission
from portal.logins import TermsRequired, require_method
from portal.messages_email import CONSENT_WORDING, CONSENT_WORDINGS
from portal.shopper_events import tell_consent_withdrawn
from portal.stores import Visit

log = logging.getLogger("portico.portal.email")
queries = load_queries(__file__, "email_login.sql")

PURPOSE = "marketing_email"
WITHDRAW_VIAS = ("link", "console", "portal")  # shopper_consents.withdrawn_via


class BadConsentWording(PorticoError):
    """The form names a consent wording we never showed (an old page, or a tampered one)."""

    message_id = "error_bad_consent_wording"
    status = 400


class BadWithdrawalLink(PorticoError):
    """A withdrawal link we did not sign, or for a consent that does not exist."""

    message_id = "error_bad_withdrawal_link"
    status = 404


@dataclass(frozen=True)
class EmailLogin:
    admission: Admission
    identity: identities.Identity
    consent_id: uuid.UUID | None  # the marketing consent this login gave, if the box was ticked


async def log_in(
    db: asyncpg.Pool, secret_key: str, visit: Visit, form: dict[str, str]
) -> EmailLogin:
    """Decide an email login from the splash form: the address, the terms box (required) and
    the marketing box (`marketing=1` only when ticked). BadEmailAddress, TermsRequired,
    BadConsentWording or MethodDisabled refuse it; nothing is stored then."""
    require_method(visit, "email")
    address = identities.normalize_email(form.get("email", ""))
    if form.get("accept") != "1":
        raise TermsRequired("terms not accepted")
    consent = form.get("marketing") == "1"
    wording = form.get("consent_wording") or CONSENT_WORDING
    if consent and wording not in CONSENT_WORDINGS:
        raise BadConsentWording(f"consent wording {wording[:40]!r} is not one we show")
    merchant_id = visit.merchant_id
    async with db.acquire() as conn, conn.transaction():
        identity = await identities.remember(
            conn, secret_key, merchant_id, "email", address, verified=False, device=visit.device
        )
        consent_id = None
        if consent:
            consent_id = await give_consent(
                conn, merchant_id, identity.hash, visit.router.store_id, wording
            )
    admission = replace(store_admission(visit, "email"), identity_hash=identity.hash)
    return EmailLogin(admission, identity, consent_id)


async def give_consent(
    conn: asyncpg.Connection | asyncpg.Pool,
    merchant_id: uuid.UUID,
    identity_hash: str,
    store_id: uuid.UUID,
    wording_version: str,
    purpose: str = PURPOSE,
) -> uuid.UUID:
    """Record a consent (a retry of the same login within minutes reuses its row)."""
    consent_id: uuid.UUID = await conn.fetchval(
        queries.give_consent,
        merchant_id,
        identity_hash,
        purpose,
        wording_version,
        store_id,
        uuid.uuid4(),
    )
    return consent_id


# Withdrawal --------------------------------------------------------------------------------


def withdrawal_signature(secret_key: str, merchant_id: uuid.UUID, consent_id: uuid.UUID) -> str:
    message = f"consent-withdraw|{merchant_id}|{consent_id}".encode()
    return hmac.new(secret_key.encode(), message, hashlib.sha256).hexdigest()[:32]


def withdrawal_path(
    secret_key: str, merchant_id: uuid.UUID, consent_id: uuid.UUID, lang: str
) -> str:
    """The portal path that withdraws this consent: the signature is the shopper's capability
    (no login, no cookie); it never expires, as a consent may be withdrawn years later."""
    sig = withdrawal_signature(secret_key, merchant_id, consent_id)
    return f"/consent/{merchant_id}/{consent_id}?{urlencode({'sig': sig, 'lang': lang})}"


def check_withdrawal_link(
    secret_key: str, merchant_text: str, consent_text: str, sig: str
) -> tuple[uuid.UUID, uuid.UUID]:
    """The merchant and consent a withdrawal link names, if we signed it."""
    try:
        merchant_id, consent_id = uuid.UUID(merchant_text), uuid.UUID(consent_text)
    except ValueError:
        raise BadWithdrawalLink("withdrawal link names no consent") from None
    expected = withdrawal_signature(secret_key, merchant_id, consent_id)
    if not hmac.compare_digest(sig.encode(), expected.encode()):
        raise BadWithdrawalLink("withdrawal link signature does not match")
    return merchant_id, consent_id


@dataclass(frozen=True)
class Consent:
    consent_id: uuid.UUID
    identity_hash: str
    purpose: str
    wording_version: str
    store_id: uuid.UUID
    given_at: datetime
    withdrawn_at: datetime | None
    withdrawn_via: str | None
    masked: str  # the address as staff may see it: a***@example.com
    brand_name: str


async def find_consent(
    db: asyncpg.Pool | asyncpg.Connection, merchant_id: uuid.UUID, consent_id: uuid.UUID
) -> Consent | None:
    row = await db.fetchrow(queries.consent, merchant_id, consent_id)
    if row is None:
        return None
    return Consent(**{**dict(row), "brand_name": row["brand_name"] or ""})


async def withdraw(
    db: asyncpg.Pool,
    merchant_id: uuid.UUID,
    consent_id: uuid.UUID,
    via: str,
    on_events: OnShopperEvents | None = None,
) -> tuple[Consent, bool]:
    """Withdraw a consent (and the shopper's others for its purpose), `via` 'link' or
    'console'. Returns the consent as it now stands and whether this call withdrew anything
    (False: it had been withdrawn already; a replayed link changes nothing). What it
    withdrew is told to `on_events` in the same transaction."""
    if via not in WITHDRAW_VIAS:
        raise ValueError(f"unknown withdrawal channel {via!r}")
    async with db.acquire() as conn, conn.transaction():
        withdrawn = await conn.fetch(queries.withdraw_consent, merchant_id, consent_id, via)
        consent = await find_consent(conn, merchant_id, consent_id)
        if consent is not None:
            await tell_consent_withdrawn(
                conn,
                on_events,
                merchant_id,
                consent.identity_hash,
                consent.purpose,
                [r["consent_id"] for r in withdrawn],
            )
    if consent is None:
        raise BadWithdrawalLink(f"no consent {consent_id} at merchant {merchant_id}")
    if withdrawn:
        log.info("consent %s withdrawn via %s (%d in force ended)", consent_id, via, len(withdrawn))
    return consent, bool(withdrawn)


async def withdraw_address(
    db: asyncpg.Pool,
    secret_key: str,
    merchant_id: uuid.UUID,
    address: str,
    via: str = "console",
    on_events: OnShopperEvents | None = None,
) -> int:
    """Withdraw every marketing-email consent in force of this address (staff, on the
    shopper's request); how many there were. BadEmailAddress when it is not an address."""
    if via not in WITHDRAW_VIAS:
        raise ValueError(f"unknown withdrawal channel {via!r}")
    identity = identities.identify(
        secret_key, merchant_id, "email", identities.normalize_email(address)
    )
    async with db.acquire() as conn, conn.transaction():
        rows = await conn.fetch(
            queries.withdraw_identity_consents, merchant_id, identity.hash, PURPOSE, via
        )
        await tell_consent_withdrawn(
            conn, on_events, merchant_id, identity.hash, PURPOSE, [r["consent_id"] for r in rows]
        )
    log.info("%d consent(s) of an identity withdrawn via %s", len(rows), via)
    return len(rows)


@dataclass(frozen=True)
class GivenConsent:
    """A consent given in the login of a session: what the online page mentions."""

    merchant_id: uuid.UUID
    consent_id: uuid.UUID
    given_at: datetime
    purpose: str = PURPOSE  # marketing_email, or marketing_sms (an SMS login's: sms_consent.py)


async def consent_of_session(
    db: asyncpg.Pool, merchant_id: uuid.UUID, session_id: uuid.UUID
) -> GivenConsent | None:
    """The marketing consent (email or SMS) given, and still in force, in the login that began
    the session."""
    row = await db.fetchrow(
        queries.consent_of_session, merchant_id, session_id, [PURPOSE, "marketing_sms"]
    )
    if row is None:
        return None
    return GivenConsent(merchant_id, row["consent_id"], row["given_at"], row["purpose"])


async def consent_counts(db: asyncpg.Pool, merchant_id: uuid.UUID) -> tuple[int, int]:
    """(shoppers with a marketing-email consent in force, shoppers who withdrew theirs)."""
    row = await db.fetchrow(queries.consent_counts, merchant_id, PURPOSE)
    return row["active"], row["withdrawn"]
