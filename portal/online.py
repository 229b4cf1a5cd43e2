"""The "you're online" page: where every login ends, whatever the gateway does next.

After the router's ack the browser comes straight here: the agent's grant already made the
client Authenticated, and openNDS no longer checks a tok for such a client (authenticated(),
src/http_microhttpd.c, answers /opennds_auth/ with a 307 back to the FAS path with
`status=authenticated`), so a hop through the gateway would only bounce back. The page is
reached by a signed link (the captive browser keeps no cookies) that names the session.

The same signed link is the shopper's capability to log out: the page's Log out form posts
it back (no cookie, so no cross-site request can ride on one), the router deauths the client,
and only then does the session end in our records, its raw MAC dropped.

The page shows the session's policy as its router holds it (portal/sessions.py): time and data
left, speed, idle timeout, and, where the store allows it, Extend (`extend`). An extension on
openNDS is a deauth and a new grant: openNDS changes nothing of a client that is already
Authenticated (ndsctl_auth, src/ndsctl_thread.c, grants only Preauthenticated ones), and
deletes a deauthenticated one, which `ndsctl auth <mac>` then adds back by preemptive
authentication with the new end and what is left of its quotas (the agent's `restore`).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import NoReturn, Protocol
from urllib.parse import urlencode

import asyncpg

import ads.services as ads
import analytics.services as analytics
from controller.services import (
    CommandFailed,
    CommandSender,
    Router,
    RouterRef,
    deauth_client,
    regrant_client,
)
from kernel.errors import PorticoError
from kernel.shopper_events import OnShopperEvents
from kernel.sql import load_queries
from portal import opt_out, sessions, stores
from portal.email_login import GivenConsent, consent_of_session
from portal.offers import claim_for_device
from portal.qr import coupon_qr, qr_data_uri
from portal.session_usage import keep
from portal.sessions import LiveSession
from portal.stores import StorePortal, Visit

log = logging.getLogger("portico.portal")
queries = load_queries(__file__)


class BadOnlineLink(PorticoError):
    """An online-page link we did not sign, or for a session this router does not have."""

    message_id = "error_bad_online_link"
    status = 404


class LogoutFailed(PorticoError):
    """The router did not confirm the deauth: the session goes on, the shopper may try again."""

    message_id = "error_logout_failed"
    status = 503
    retry_same_request = True


class LogoutRouterOffline(LogoutFailed):
    """The controller knows the router is offline: no deauth can reach it now."""

    message_id = "error_logout_offline"


class ExtendNotAllowed(PorticoError):
    """The store offers no extension, or the session's gateway cannot take one."""

    message_id = "error_extend_not_allowed"
    status = 403


class ExtendLimitReached(ExtendNotAllowed):
    message_id = "error_extend_limit"


class ExtendOverQuota(ExtendNotAllowed):
    """An extension adds time: a session with its data used up has nothing to extend."""

    message_id = "error_extend_quota"


class ExtendSessionEnded(ExtendNotAllowed):
    message_id = "error_extend_ended"
    status = 410


class ExtendFailed(PorticoError):
    """The router kept the old grant (its deauth was not confirmed): the session goes on as it
    was, and the shopper may try again."""

    message_id = "error_extend_failed"
    status = 503
    retry_same_request = True


class ExtendRouterOffline(ExtendFailed):
    message_id = "error_extend_offline"


class ExtendLost(PorticoError):
    """The router let the client go but did not take it back: the session has ended."""

    message_id = "error_extend_lost"
    status = 503


@dataclass(frozen=True)
class CouponView:
    """A coupon the shopper holds: its code, and the same as a QR code (a data: URI)."""

    title: str
    code: str
    qr: str


class OnlineOffer(Protocol):
    """An offer another domain has for the shopper (marketing's: marketing/services.py)."""

    @property
    def contact_id(self) -> uuid.UUID: ...

    @property
    def coupon_id(self) -> uuid.UUID | None: ...

    def message(self, lang: str) -> str: ...


@dataclass(frozen=True)
class OnlineShopper:
    """Whom an online page is for, as the portal knows them: the device's pseudonym, and the
    identity (a phone number's or email address's hash) or voucher the session logged in with."""

    device_hash: str
    identity_hash: str | None
    voucher_code: str | None


@dataclass(frozen=True)
class OfferHooks:
    """Where the online page's offers come from, wired by the composition root
    (portico/runtime.py: marketing.services), so the portal never imports marketing:
    `waiting(db, merchant_id, device_hash)` lists a device's offers, `shown(db, merchant_id,
    offer ids)` says which the page showed (each counts as delivered once), and `wechat(db,
    merchant_id, shopper)`, if given, what the shopper's "Follow us on WeChat" QR code holds
    (None: no code for them; marketing/wechat_follow.py)."""

    waiting: Callable[[asyncpg.Pool, uuid.UUID, str], Awaitable[Sequence[OnlineOffer]]]
    shown: Callable[[asyncpg.Pool, uuid.UUID, Sequence[uuid.UUID]], Awaitable[int]]
    wechat: Callable[[asyncpg.Pool, uuid.UUID, OnlineShopper], Awaitable[str | None]] | None = None


@dataclass(frozen=True)
class OfferView:
    """An offer as the online page shows it: its words in the page's language, and the
    coupon it gives, claimed with one button."""

    offer_id: uuid.UUID
    message: str
    coupon_id: uuid.UUID | None


@dataclass(frozen=True)
class OnlineSession:
    """What the online page shows of one session."""

    active: bool
    minutes_left: int
    coupons: list[CouponView]
    consent: GivenConsent | None = None  # marketing consent given in this login (email)
    live: LiveSession | None = None  # its policy and what is left of it (portal/sessions.py)
    offers: list[OfferView] = field(default_factory=list)  # marketing's, for this shopper
    opted_out_at: datetime | None = None  # "No more offers" asked on this page (opt_out.py)
    wechat_qr: str | None = None  # "Follow us on WeChat": the QR code (a data: URI), if any

    def data_text(self, _: Callable[..., str]) -> str:
        """What is left of the data quota per direction, or the quota, or "no limit"."""
        live = self.live
        if live is None or not (live.down_limit_kb or live.policy.up_quota_kb):
            return _("data_unlimited")
        down = _amount(_, live.down_limit_kb, live.down_left_kb)
        up = _amount(_, live.policy.up_quota_kb, live.up_left_kb)
        return _("data_both", down=down, up=up)

    def speed_text(self, _: Callable[..., str]) -> str:
        live = self.live
        if live is None or not (live.policy.down_kbps or live.policy.up_kbps):
            return _("speed_unlimited")
        return _(
            "speed_both",
            down=_rate(_, live.policy.down_kbps),
            up=_rate(_, live.policy.up_kbps),
        )


def _amount(_: Callable[..., str], quota_kb: int, left_kb: int | None) -> str:
    if not quota_kb:
        return _("data_unlimited")
    quota_mb = -(-quota_kb // 1024)
    if left_kb is None:
        return _("data_mb", n=quota_mb)
    return _("data_mb_of", n=-(-left_kb // 1024), of=quota_mb)


def _rate(_: Callable[..., str], kbps: int) -> str:
    if not kbps:
        return _("speed_unlimited")
    if kbps < 1000:
        return _("speed_kbps", n=kbps)
    return _("speed_mbps", n=f"{kbps / 1000:g}")


def link_signature(secret_key: str, router_id: str, session_id: str, next_url: str) -> str:
    message = "|".join(("online", router_id, session_id, next_url)).encode()
    return hmac.new(secret_key.encode(), message, hashlib.sha256).hexdigest()[:32]


def online_link(
    secret_key: str, visit: Visit, session_id: uuid.UUID, next_url: str, lang: str
) -> str:
    """The portal path of the session's online page, signed so nobody else's can be opened."""
    return online_link_for(secret_key, visit.router.router_id, str(session_id), next_url, lang)


def online_link_for(
    secret_key: str, router_id: str, session_id: str, next_url: str, lang: str
) -> str:
    """The online page's link from its parts (what the logout form posts back)."""
    query = {
        "s": session_id,
        "next": next_url,
        "sig": link_signature(secret_key, router_id, session_id, next_url),
        "lang": lang,
    }
    return f"/fas/{router_id}/online?{urlencode(query)}"


def link_is_ours(secret_key: str, router_id: str, session_id: str, next_url: str, sig: str) -> bool:
    expected = link_signature(secret_key, router_id, session_id, next_url)
    return hmac.compare_digest(sig.encode(), expected.encode())


async def session_status(
    db: asyncpg.Pool,
    merchant_id: uuid.UUID,
    router_id: str,
    session_id: uuid.UUID,
    language: str,
    *,
    console_url: str,
    offers: OfferHooks | None = None,
) -> OnlineSession | None:
    """The session as it stands (time and data left, its policy: portal/sessions.py), the
    coupons its device holds, each with its QR code, and, while it is active, the offers
    waiting for its shopper (`offers`), counted as shown; None if it is not this router's."""
    router, portal = await stores.store_gateway(db, router_id)
    if router.merchant_id != merchant_id:
        return None
    live = await sessions.live_session(db, router, portal, session_id)
    if live is None:
        return None
    held = await ads.coupons_held_by(db, merchant_id, live.device_hash, language)
    coupons = [CouponView(c.title, c.code, coupon_qr(console_url, c.code)) for c in held]
    consent = await consent_of_session(db, merchant_id, session_id)
    minutes_left = live.minutes_left if live.active else 0
    opted_out_at = await opt_out.opted_out_at(db, merchant_id, session_id)
    shown: list[OfferView] = []
    wechat_qr = None
    if offers is not None and live.active and opted_out_at is None:
        shown = await _show_offers(db, offers, merchant_id, live.device_hash, language)
        wechat_qr = await _wechat_qr(db, offers, merchant_id, session_id, live.device_hash)
    return OnlineSession(
        live.active, minutes_left, coupons, consent, live, shown, opted_out_at, wechat_qr
    )


async def _wechat_qr(
    db: asyncpg.Pool, offers: OfferHooks, merchant_id: uuid.UUID, session_id: uuid.UUID, device: str
) -> str | None:
    """The shopper's "Follow us on WeChat" code, drawn here (nothing from WeChat's hosts), or
    None: no hook, no code for this shopper, or it could not be had (the page goes on)."""
    if offers.wechat is None:
        return None
    row = await db.fetchrow(queries.session_identity, merchant_id, session_id)
    shopper = OnlineShopper(device, row["identity_hash"], row["voucher_code"])
    try:
        content = await offers.wechat(db, merchant_id, shopper)
    except (OSError, asyncpg.PostgresError) as exc:
        log.warning("no WeChat follow code for session %s: %s", session_id, exc)
        return None
    return qr_data_uri(content) if content else None


async def _show_offers(
    db: asyncpg.Pool, offers: OfferHooks, merchant_id: uuid.UUID, device: str, language: str
) -> list[OfferView]:
    views = [
        OfferView(o.contact_id, o.message(language), o.coupon_id)
        for o in await offers.waiting(db, merchant_id, device)
    ]
    views = [v for v in views if v.message or v.coupon_id]
    try:
        await offers.shown(db, merchant_id, [v.offer_id for v in views])
    except (OSError, asyncpg.PostgresError) as exc:  # the shopper's page goes on without it
        log.warning("offers %s shown but not recorded: %s", [str(v.offer_id) for v in views], exc)
    return views


async def claim_offered_coupon(
    db: asyncpg.Pool,
    offers: OfferHooks,
    router: Router,
    portal: StorePortal,
    session_id: uuid.UUID,
    coupon_id: uuid.UUID,
    on_events: OnShopperEvents | None = None,
) -> ads.Claim:
    """The coupon an offer on the session's online page gives, claimed for its device (the
    one it holds, or a new claim, counted and told as the splash's are). Only a coupon one of
    the shopper's offers gives: ads.UnknownCoupon for any other."""
    live = await sessions.live_session(db, router, portal, session_id)
    if live is None or not live.active:
        raise BadOnlineLink(f"no active session {session_id} at router {router.router_id}")
    offered = {o.coupon_id for o in await offers.waiting(db, router.merchant_id, live.device_hash)}
    if coupon_id not in offered:
        raise ads.UnknownCoupon(f"coupon {coupon_id} is not offered to this shopper")
    return await claim_for_device(
        db,
        router.merchant_id,
        router.store_id,
        live.device_hash,
        coupon_id,
        on_events,
        source="offer",
    )


def data_allowance_mb(portal: StorePortal) -> tuple[int, int]:
    """The store's data quota per session in MB (down, up); 0 means no limit."""
    return (-(-portal.down_quota_kb // 1024), -(-portal.up_quota_kb // 1024))


async def log_out(
    db: asyncpg.Pool, sender: CommandSender, router: Router, session_id: uuid.UUID
) -> bool:
    """End a session at the shopper's request: the router deauths the client first.

    True when this call ended it; False when it had ended already (a second submission, the
    session's end, another tab). LogoutFailed when the router did not confirm the deauth: the
    session then stays active in our records, as it still is on the router.
    """
    row = await db.fetchrow(queries.session_for_logout, router.merchant_id, session_id)
    if row is None or row["router_id"] != router.router_id:
        raise BadOnlineLink(f"no session {session_id} at router {router.router_id}")
    if row["status"] != "active":
        return False
    if row["client_mac"] is None:
        raise LogoutFailed(f"session {session_id} has no MAC to deauth")
    if not router.online:
        raise LogoutRouterOffline(f"router {router.router_id} is offline")
    await sessions.keep_usage(db, router, [session_id])  # its last report, before it ends
    try:
        ack = await deauth_client(sender, router, mac=row["client_mac"])
    except CommandFailed as exc:
        raise LogoutFailed(f"deauth on {router.router_id}: {exc}") from exc
    if not ack.ok:
        raise LogoutFailed(f"router {router.router_id} said {ack.status}/{ack.code}")
    async with db.acquire() as conn, conn.transaction():
        ended = await conn.fetchrow(queries.end_session, router.merchant_id, session_id, "logout")
        if ended is None:
            return False  # a concurrent submission ended it first and recorded the logout
        await analytics.record_event(
            conn,
            router.merchant_id,
            "logout",
            store_id=ended["store_id"],
            device_hash=ended["device_hash"],
            data={"router": router.router_id, "session": str(session_id)},
        )
    return True


async def extend(
    db: asyncpg.Pool,
    sender: CommandSender,
    router: Router,
    portal: StorePortal,
    session_id: uuid.UUID,
) -> LiveSession:
    """Add the store's `extend_minutes` to a running session, at most `max_extensions` times;
    the session as it stands afterwards. The router gets the new end before the shopper is
    told: on openNDS a deauth and a new grant (module doc); a WiFiDog gateway asks us at every
    counters report, so the new end in our records is all it needs."""
    live = await sessions.live_session(db, router, portal, session_id)
    if live is None:
        raise BadOnlineLink(f"no session {session_id} at router {router.router_id}")
    _check_extendable(live)
    if live.gateway == "agent" and not router.online:
        raise ExtendRouterOffline(f"router {router.router_id} is offline")
    claimed = await db.fetchrow(
        queries.extend_session,
        router.merchant_id,
        session_id,
        live.extend_minutes,
        live.max_extensions,
    )
    if claimed is None:  # another submission took the last extension, or the session ended
        again = await sessions.live_session(db, router, portal, session_id)
        _check_extendable(again or live)
        raise ExtendLimitReached(f"session {session_id} was extended meanwhile")
    if live.gateway == "agent":
        await _regrant(db, sender, router, live, claimed)
    log.info(
        "session %s at %s extended by %d min (%d of %d)",
        session_id,
        router.router_id,
        live.extend_minutes,
        claimed["extensions"],
        live.max_extensions,
    )
    extended = await sessions.live_session(db, router, portal, session_id)
    if extended is None:  # sessions are never deleted: only a broken database gets here
        raise BadOnlineLink(f"session {session_id} is gone")
    return extended


def _check_extendable(live: LiveSession) -> None:
    if not live.active:
        raise ExtendSessionEnded(f"session {live.session_id} has ended")
    if not live.extend_minutes:
        raise ExtendNotAllowed(f"no extension for session {live.session_id} ({live.gateway})")
    if live.extensions >= live.max_extensions:
        raise ExtendLimitReached(f"session {live.session_id} has had {live.extensions}")
    if live.over_quota:
        raise ExtendOverQuota(f"session {live.session_id} has used its data")


async def _regrant(
    db: asyncpg.Pool,
    sender: CommandSender,
    router: Router,
    live: LiveSession,
    claimed: asyncpg.Record,
) -> None:
    """openNDS: deauth, then grant again until the new end with what is left of the quotas."""
    mac = claimed["client_mac"]
    undo = (router.merchant_id, live.session_id, live.extend_minutes, claimed["extensions"])
    # The counters start again at the new grant: what the session used so far is kept first.
    await keep(db, router.merchant_id, [(live.session_id, live.kept, live.used)])
    try:
        ack = await deauth_client(sender, router, mac=mac)
    except CommandFailed as exc:
        await db.execute(queries.undo_extension, *undo)
        raise ExtendFailed(f"deauth on {router.router_id}: {exc}") from exc
    if not ack.ok:
        await db.execute(queries.undo_extension, *undo)
        raise ExtendFailed(f"router {router.router_id} said {ack.status}/{ack.code} to the deauth")
    seconds = (claimed["expires_at"] - datetime.now(UTC)).total_seconds()
    policy = sessions.remaining_policy(live, max(1, math.ceil(seconds / 60)))
    key = sessions.session_key(live.session_id)
    try:
        ack = await regrant_client(sender, router, mac=mac, policy=policy, custom=key)
    except CommandFailed as exc:
        await _lost(db, router, live, f"no ack: {exc}")
    if not ack.ok:
        await _lost(db, router, live, f"{ack.status}/{ack.code}")


async def _lost(db: asyncpg.Pool, router: Router, live: LiveSession, why: str) -> NoReturn:
    """The client is out and the router would not take it back: the session has ended."""
    await db.execute(queries.end_session, router.merchant_id, live.session_id, "gateway")
    log.warning(
        "session %s at %s lost in its extension: the new grant got %s",
        live.session_id,
        router.router_id,
        why,
    )
    raise ExtendLost(f"session {live.session_id}: the new grant got {why}")


def client_wanted(db: asyncpg.Pool) -> Callable[[RouterRef, str], Awaitable[bool]]:
    """The command sender's check before it undoes a late grant: does an active session on
    that router need the client? (Wired by the composition root.)"""

    async def wanted(router: RouterRef, mac: str) -> bool:
        return bool(
            await db.fetchval(
                queries.client_has_active_session, router.merchant_id, router.router_id, mac
            )
        )

    return wanted


def extend_form(
    status: OnlineSession, action: str, fields: dict[str, str]
) -> tuple[str, dict[str, str]] | None:
    """The online page's Extend form (action, hidden fields: the page's own capability, as for
    Log out), when the session can be extended now."""
    if status.live is None or not status.live.can_extend:
        return None
    return (action, fields)
