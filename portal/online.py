"""The "you're online" page: where every login ends, whatever the gateway does next.

After the router's ack the browser comes straight here: the agent's grant already made the
client Authenticated, and openNDS no longer checks a tok for such a client (authenticated(),
src/http_microhttpd.c, answers /opennds_auth/ with a 307 back to the FAS path with
`status=authenticated`), so a hop through the gateway would only bounce back. The page is
reached by a signed link (the captive browser keeps no cookies) that names the session.

The same signed link is the shopper's capability to log out: the page's Log out form posts
it back (no cookie, so no cross-site request can ride on one), the router deauths the client,
and only then does the session end in our records, its raw MAC dropped.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlencode

import asyncpg

import ads.services as ads
import analytics.services as analytics
from controller.services import CommandFailed, CommandSender, Router, RouterRef, deauth_client
from kernel.errors import PorticoError
from kernel.sql import load_queries
from portal.services import StorePortal, Visit

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


@dataclass(frozen=True)
class OnlineSession:
    """What the online page shows of one session."""

    active: bool
    minutes_left: int
    coupons: list[ads.HeldCoupon]


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
) -> OnlineSession | None:
    """The session's time left and the coupons its device holds; None if it is not this router's."""
    row = await db.fetchrow(queries.session_status, merchant_id, session_id)
    if row is None or row["router_id"] != router_id:
        return None
    coupons = await ads.coupons_held_by(db, merchant_id, row["device_hash"], language)
    active = row["status"] == "active" and row["minutes_left"] > 0
    return OnlineSession(active, row["minutes_left"] if active else 0, coupons)


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
    try:
        ack = await deauth_client(sender, router, mac=row["client_mac"])
    except CommandFailed as exc:
        raise LogoutFailed(f"deauth on {router.router_id}: {exc}") from exc
    if not ack.ok:
        raise LogoutFailed(f"router {router.router_id} said {ack.status}/{ack.code}")
    async with db.acquire() as conn, conn.transaction():
        ended = await conn.fetchrow(queries.end_session, router.merchant_id, session_id)
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
