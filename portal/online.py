"""The "you're online" page: where every login ends, whatever the gateway does next.

After the router's ack the browser comes straight here: the agent's grant already made the
client Authenticated, and openNDS no longer checks a tok for such a client (authenticated(),
src/http_microhttpd.c, answers /opennds_auth/ with a 307 back to the FAS path with
`status=authenticated`), so a hop through the gateway would only bounce back. The page is
reached by a signed link (the captive browser keeps no cookies) that names the session.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from dataclasses import dataclass
from urllib.parse import urlencode

import asyncpg

import ads.services as ads
from kernel.errors import PorticoError
from kernel.sql import load_queries
from portal.services import StorePortal, Visit

queries = load_queries(__file__)


class BadOnlineLink(PorticoError):
    """An online-page link we did not sign, or for a session this router does not have."""

    message_id = "error_bad_online_link"
    status = 404


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
    router_id, sid = visit.router.router_id, str(session_id)
    query = {
        "s": sid,
        "next": next_url,
        "sig": link_signature(secret_key, router_id, sid, next_url),
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
