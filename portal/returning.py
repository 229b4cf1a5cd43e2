"""Returning shoppers and roaming (issue 8; docs/logins.md, "Returning shoppers").

A store with `returning_days` > 0 lets a shopper straight through when they were online at any
of the merchant's stores within that many days: the splash shows them "Welcome back" with one
Continue button (after the ad and coupon: the captive browser closes once the device is
online), and that button's post (portal/returning_views.py) checks again and admits them.

Who is "returning" is keyed on the device and on the shopper's identity where one is known:
a device that once logged in with a phone number or an email address (shopper_devices) is
recognised when that identity was online within the window on any device. What cannot be
known: a phone that shows a new random MAC (per network, or rotated) is a new device to us,
linked to nobody, until the shopper identifies on it once.

A returning shopper is let in only as someone the store would let in itself: with
click-through on, anyone seen; otherwise only an identity of a kind its methods accept (a
phone number only once an SMS code proved it). Voucher sessions do not count (a voucher
carries its own time and data), nor sessions staff ended.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime

import asyncpg

from kernel.errors import PorticoError
from kernel.sql import load_queries
from portal.grants import Admission, store_admission
from portal.stores import Visit

log = logging.getLogger("portico.portal.returning")
queries = load_queries(__file__, "returning.sql")

# Which identity kinds a store's login methods accept (sms proves a phone number).
IDENTITY_KINDS = {"sms": "phone", "email": "email"}


class NotReturning(PorticoError):
    """The returning post of a shopper we do not (or no longer) recognise."""

    message_id = "error_not_returning"
    status = 403


@dataclass(frozen=True)
class Returning:
    identity_hash: str | None  # who they are, when known (a phone number's or email's hash)
    last_seen: datetime  # the start of the session that makes them returning


async def recognise(db: asyncpg.Pool, visit: Visit) -> Returning | None:
    """This visit's shopper as a returning one, or None (and no query when the store has
    returning off: the splash's fast path)."""
    portal = visit.portal
    if portal.returning_days <= 0:
        return None
    methods = portal.login_methods
    kinds = [kind for method, kind in IDENTITY_KINDS.items() if method in methods]
    row = await db.fetchrow(
        queries.returning_shopper,
        visit.merchant_id,
        visit.device,
        portal.returning_days,
        "click" in methods,
        kinds,
    )
    return Returning(row["identity_hash"], row["started_at"]) if row else None


def admission(visit: Visit, found: Returning) -> Admission:
    """The store's own terms for a returning shopper, as the identity they are known by."""
    return replace(store_admission(visit, "returning"), identity_hash=found.identity_hash)
