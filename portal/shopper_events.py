"""What the portal tells of shoppers' events (kernel.shopper_events): logins, consents
withdrawn, opt-outs of every offer and coupons claimed, handed to the `OnShopperEvents` hook
the composition root gave the portal (precision marketing's live stream), in the transaction
that records them.

Each is named by its own record, so that a retried request or a replayed poll that records
nothing new tells nothing new: a login by its session, a withdrawal by the consents it ended,
an opt-out by the session it was asked on (portal/opt_out.py), a claim by its code.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg

from kernel.shopper_events import OnShopperEvents, ShopperEvent, event_id
from kernel.sql import load_queries

queries = load_queries(__file__, "shopper_events.sql")

# shopper_consents.purpose -> the channel it agrees to
CHANNELS = {"marketing_sms": "sms", "marketing_email": "email"}


@dataclass(frozen=True)
class LoginDone:
    """A login recorded (its session stored): who, where, how."""

    merchant_id: uuid.UUID
    session_id: uuid.UUID
    store_id: uuid.UUID
    device_hash: str
    method: str
    identity_hash: str | None  # a phone number's or email address's (portal/identities.py)
    voucher_code: str | None  # the voucher it was let in with
    occurred_at: datetime | None = None  # None: now


async def tell_logins(
    conn: asyncpg.Connection, on_events: OnShopperEvents | None, logins: Sequence[LoginDone]
) -> None:
    """'login' events of these logins, with the shopper's identity and the marketing consents
    in force for it (a login without an identity says nothing of consent)."""
    if on_events is None or not logins:
        return
    known = [login for login in logins if login.identity_hash]
    consents: set[tuple[uuid.UUID, str, str]] = set()
    if known:
        rows = await conn.fetch(
            queries.consents_in_force,
            [login.merchant_id for login in known],
            [login.identity_hash for login in known],
        )
        consents = {(r["merchant_id"], r["identity_hash"], r["purpose"]) for r in rows}
    now = datetime.now(UTC)
    events = []
    for login in logins:
        data: dict[str, object] = {"method": login.method}
        if login.identity_hash:
            data["identity_hash"] = login.identity_hash
            for purpose, channel in CHANNELS.items():
                agreed = (login.merchant_id, login.identity_hash, purpose) in consents
                data[f"consent_{channel}"] = agreed
        if login.voucher_code:
            # The composition root turns it into the holder's keyed pseudonym before it is kept.
            data["voucher_code"] = login.voucher_code
        events.append(
            ShopperEvent(
                login.merchant_id,
                "login",
                event_id("login", login.merchant_id, login.session_id),
                login.device_hash,
                login.store_id,
                login.occurred_at or now,
                data,
            )
        )
    await on_events(conn, events)


async def tell_consent_withdrawn(
    conn: asyncpg.Connection,
    on_events: OnShopperEvents | None,
    merchant_id: uuid.UUID,
    identity_hash: str,
    purpose: str,
    consent_ids: Sequence[uuid.UUID],
) -> None:
    """A 'consent' event (given false) for the identity's channel of `purpose`, when this
    withdrawal ended consents in force (`consent_ids`; none: a replayed link, nothing told)."""
    if on_events is None or not consent_ids:
        return
    await on_events(
        conn,
        [
            ShopperEvent(
                merchant_id,
                "consent",
                event_id("consent-withdrawn", merchant_id, min(consent_ids)),
                None,
                None,
                datetime.now(UTC),
                {"channel": CHANNELS[purpose], "given": False, "identity_hash": identity_hash},
            )
        ],
    )


async def tell_claim(
    conn: asyncpg.Connection,
    on_events: OnShopperEvents | None,
    merchant_id: uuid.UUID,
    store_id: uuid.UUID,
    device_hash: str,
    coupon_id: uuid.UUID,
    code: str,
) -> None:
    """A 'claim' event of a new claim (a code is claimed once: it names the claim)."""
    if on_events is None:
        return
    await on_events(
        conn,
        [
            ShopperEvent(
                merchant_id,
                "claim",
                event_id("claim", merchant_id, coupon_id, code),
                device_hash,
                store_id,
                datetime.now(UTC),
                {"coupon_id": str(coupon_id)},
            )
        ],
    )


async def tell_opt_out(
    conn: asyncpg.Connection,
    on_events: OnShopperEvents | None,
    merchant_id: uuid.UUID,
    session_id: uuid.UUID,
    store_id: uuid.UUID,
    device_hash: str,
    identity_hash: str | None,
    at: datetime,
) -> None:
    """A 'consent' event `channel: all, given: false` (the opt-out of every channel) of the
    session's device and, if it logged in with one, identity; named by the session, whose
    opt-out is recorded once (portal/opt_out.py)."""
    if on_events is None:
        return
    data: dict[str, object] = {"channel": "all", "given": False}
    if identity_hash:
        data["identity_hash"] = identity_hash
    await on_events(
        conn,
        [
            ShopperEvent(
                merchant_id,
                "consent",
                event_id("opt-out", merchant_id, session_id),
                device_hash,
                store_id,
                at,
                data,
            )
        ],
    )
