"""What the splash offers beside the login: the coupon a shopper claims — on screen, as a QR
code, and by SMS when their phone is known. (The ad itself: ads.services.place_ad, and its
tracking portal/ad_views.py.)"""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import datetime

import asyncpg

import ads.services as ads
import analytics.services as analytics
from kernel.errors import PorticoError
from kernel.i18n import translator
from kernel.shopper_events import OnShopperEvents
from portal import identities
from portal.messages import CATALOG
from portal.shopper_events import tell_claim
from portal.sms import SmsProviders
from portal.stores import Visit

log = logging.getLogger("portico.portal.offers")


async def claim_coupon(
    db: asyncpg.Pool,
    visit: Visit,
    coupon_id: uuid.UUID,
    on_events: OnShopperEvents | None = None,
) -> ads.Claim:
    """The shopper's code for this coupon (the one they hold, or a new one, counted)."""
    return await claim_for_device(
        db, visit.merchant_id, visit.router.store_id, visit.device, coupon_id, on_events
    )


async def claim_for_device(
    db: asyncpg.Pool,
    merchant_id: uuid.UUID,
    store_id: uuid.UUID,
    device: str,
    coupon_id: uuid.UUID,
    on_events: OnShopperEvents | None = None,
    **more: str,
) -> ads.Claim:
    """A device's code for this coupon, claimed at this store; a new claim is counted
    (analytics' coupon_claim, with `more` in its data) and told to `on_events`, all in one
    transaction."""
    async with db.acquire() as conn, conn.transaction():
        claim = await ads.claim_coupon(conn, merchant_id, coupon_id, device)
        if claim.new:
            await analytics.record_event(
                conn,
                merchant_id,
                "coupon_claim",
                store_id=store_id,
                device_hash=device,
                data={"coupon": str(coupon_id), **more},
            )
            await tell_claim(conn, on_events, merchant_id, store_id, device, coupon_id, claim.code)
    return claim


async def text_coupons(
    db: asyncpg.Pool,
    providers: SmsProviders,
    secret_key: str,
    visit: Visit,
    lang: str,
    *,
    codes: frozenset[str] | None = None,
    claimed_since: datetime | None = None,
    phone: str | None = None,
) -> int:
    """Text the coupons this device holds (those of `codes`, or claimed since
    `claimed_since`) to the phone an SMS code proved on it, if any: a captive mini-browser
    keeps no cookies and opens no app, a text stays (PRODUCT.md §1). `phone`: the number
    just proved, when the caller knows it. How many were sent."""
    provider = providers.for_coupons(visit.merchant_id)
    if provider is None:
        return 0
    # The coupons first: most logins hold none, and then the number is never unsealed.
    held = await ads.coupons_held_by(db, visit.merchant_id, visit.device, lang)
    chosen = [
        c
        for c in held
        if (codes is None or c.code in codes)
        and (claimed_since is None or (c.claimed_at is not None and c.claimed_at >= claimed_since))
    ]
    if not chosen:
        return 0
    if phone is None:
        phone = await identities.verified_phone(db, secret_key, visit.merchant_id, visit.device)
    if phone is None:
        return 0
    _ = translator(CATALOG, lang)
    for coupon in chosen:
        text = _("coupon_sms", brand=visit.portal.brand_name, title=coupon.title, code=coupon.code)
        await provider.send(phone, text, {"title": coupon.title, "code": coupon.code})
    return len(chosen)


_sending: set[asyncio.Task[int]] = set()


def text_coupons_soon(
    db: asyncpg.Pool,
    providers: SmsProviders,
    secret_key: str,
    visit: Visit,
    lang: str,
    *,
    codes: frozenset[str] | None = None,
    claimed_since: datetime | None = None,
    phone: str | None = None,
) -> None:
    """`text_coupons` in the background: the shopper's page does not wait for the SMS
    gateway. A failure is logged (without the number), never shown to the shopper."""
    which = {"codes": codes, "claimed_since": claimed_since, "phone": phone}
    task = asyncio.create_task(text_coupons(db, providers, secret_key, visit, lang, **which))
    _sending.add(task)
    task.add_done_callback(_sent)


def _sent(task: asyncio.Task[int]) -> None:
    _sending.discard(task)
    if task.cancelled():
        return
    error = task.exception()
    if isinstance(error, PorticoError):
        log.warning("coupon SMS not sent: %s (%s)", error.message_id, error.detail)
    elif error is not None:
        log.error("coupon SMS failed", exc_info=error)
