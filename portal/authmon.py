"""openNDS FAS level 3: the authmon daemon's side of a login (no inbound connection needed).

openNDS at fas_secure_enabled 3 starts forward_authentication_service/libs/authmon.sh with its
fas_url (`https://<fas>:<port><faspath>`, so `/fas/<router id>/`) and `gatewayhash`
(sha256hex of the url-encoded gateway name, main.c via `libopennds.sh hash_str`). authmon runs
`php -f post-request.php <url> <action> <gatewayhash> <user agent> <payload>`: a POST of
`auth_get=<action>&gatewayhash=<hash>&payload=<base64(payload)>` (http_build_query, so the
base64 is percent-encoded), user agent `openNDS(authmon;NDS:<version>;)`. Without PHP it would
use `libopennds.sh wget_request`: a GET of the same three parameters (payload base64 by ndsctl).
authmon.sh's loop, which the portal answers here:

1. once, 5 s after start: `clear` (payload "none"): forget this gateway's stale entries;
2. every nat_traversal_poll_interval (1-59 s, default 5): `view` with payload "none"; the FAS
   answers `*` and then, space-separated, one rawurlencoded entry per client:
   `rhid minutes uprate downrate upquota downquota custom`. authmon reads at most 1024
   characters after "* " and runs `ndsctl auth <entry>` for at most 4 of them (authcount=4);
   ndsctl finds the client by rhid (client_list_find_by_token: sha256hex(hid + faskey));
3. then `view` again with payload `* rhid1 rhid2 ...`: the rhids ndsctl authenticated (just "*"
   when none). The FAS forgets those entries (fas-aes-https.php answers "ack").
A client ndsctl refused (its binauth race, or gone) is not acked and is tried again next poll.
`deauthed` (binauth_log.sh -> libopennds.sh send_to_fas_deauthed, through the same
post-request.php) reports a session's end, naming the client by its token.

Here an entry is written when a shopper logs in at a level-3 router whose agent is not
connected, and becomes a portal session when authmon acks it. When openNDS did the grant but
authmon's ack was lost, its `deauthed` at the session's end still records the session (from its
real start to its end); for a session already recorded it ends it.
"""

from __future__ import annotations

import base64
import binascii
import logging
import re
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg

import analytics.services as analytics
from controller.services import Router
from kernel.errors import PorticoError
from kernel.shopper_events import OnShopperEvents
from kernel.sql import load_queries
from portal.fas import rhid as make_rhid
from portal.fas import sha256_hex
from portal.shopper_events import LoginDone, tell_logins

log = logging.getLogger("portico.portal.authmon")
queries = load_queries(__file__)

ACTIONS = frozenset({"clear", "view", "deauthed", "custom"})
BATCH = 4  # authmon.sh authenticates at most 4 clients per poll ("authcount=4")
GRANT_SECONDS = 120  # a queued grant not fetched by then is dropped (the shopper is told)
MAX_PAYLOAD = 8192
# authmon's start-up `clear` comes 5-20 s after openNDS starts, while openNDS already redirects
# phones: a grant queued in the last CLEAR_GRACE seconds may be for the new openNDS and is kept
# (seen on the real gateway: the first login was wiped). A stale one fails ndsctl harmlessly
# (its rhid matches no client) and expires.
CLEAR_GRACE = 30
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
# binauth_log.sh's deauth log, `name=value` pairs joined by ", " (the values' double quotes are
# lost on the way: send_post_data passes the payload through `eval`, which strips them).
_DEAUTH_FIELD = re.compile(r'(?:^|,\s*)([a-z_]+)="?([^",]*)"?')
_TOKEN = re.compile(r"^[0-9a-f]{8}$")  # client_list_add_client: "%04hx%04hx"
_REASON = re.compile(r"^[a-z_]{1,32}_deauth$")
CLOCK_SLACK = 120  # seconds the router's clock may differ from ours
# Why a session ended (portal_sessions.end_reason) by openNDS's binauth method: its own timer,
# its authidletimeout, a quota (fw_refresh_client_list, src/auth.c), the client's logout on
# openNDS's own page (client_deauth); anything else (ndsctl_deauth, shutdown_deauth) 'gateway'.
END_REASONS = {
    "timeout_deauth": "expired",
    "idle_deauth": "idle",
    "download_quota_deauth": "quota",
    "upload_quota_deauth": "quota",
    "client_deauth": "logout",
}


class AuthmonRefused(PorticoError):
    """A poll the portal does not serve: answered `ERROR: ...`, which authmon logs."""

    message_id = "error_bad_redirect"
    status = 400


class NotServed(AuthmonRefused):
    """A well-formed poll from a router the portal does not serve this way."""

    status = 403


@dataclass(frozen=True)
class Poll:
    action: str
    gateway_hash: str
    payload: str  # decoded


def parse_poll(params: Mapping[str, str]) -> Poll:
    """The three parameters of post-request.php (POST) or wget_request (GET), checked."""
    action = params.get("auth_get", "")
    if action not in ACTIONS:
        raise AuthmonRefused(f"auth_get {action[:20]!r} is not one of {sorted(ACTIONS)}")
    gateway_hash = params.get("gatewayhash", "")
    if not _HEX64.match(gateway_hash):
        raise AuthmonRefused("gatewayhash is not a sha256 hex digest")
    raw = params.get("payload", "")
    if len(raw) > MAX_PAYLOAD:
        raise AuthmonRefused("payload too long")
    try:
        payload = base64.b64decode(raw, validate=True).decode("utf-8")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise AuthmonRefused("payload is not base64 text") from None
    return Poll(action, gateway_hash, payload)


def ack_rhids(payload: str) -> list[str] | None:
    """The rhids of an ack payload `* rhid1 rhid2`; None for the "none" of a plain view."""
    if payload == "none":
        return None
    words = payload.split()
    if not words or words[0] != "*":
        raise AuthmonRefused("view payload is neither 'none' nor an ack list")
    rhids = words[1:]
    if len(rhids) > 64 or not all(_HEX64.match(r) for r in rhids):
        raise AuthmonRefused("ack list holds something that is not an rhid")
    return rhids


def entry(row: Mapping[str, object]) -> str:
    """One authlist entry, rawurlencoded as fas-aes-https.php does (spaces become %20)."""
    fields = ("rhid", "minutes", "up_kbps", "down_kbps", "up_quota_kb", "down_quota_kb", "custom")
    return "%20".join(str(row[f]) for f in fields)


async def enqueue(
    db: asyncpg.Pool | asyncpg.Connection,
    router: Router,
    *,
    hid: str,
    gateway_hash: str,
    session_id: uuid.UUID,
    device_hash: str,
    client_mac: str,
    client_ip: str,
    method: str,
    terms_version: str,
    policy: tuple[int, int, int, int, int],
    identity_hash: str | None = None,
    voucher_code: str | None = None,
    idle_minutes: int = 0,
) -> uuid.UUID:
    """Queue a grant for the router's authmon; returns the session id it will get (the one
    already queued for this client, if it logged in twice)."""
    minutes, up, down, up_quota, down_quota = policy
    rhid = make_rhid(hid, router.faskey)
    await db.execute(
        queries.authmon_learn_gateway, router.merchant_id, router.router_id, gateway_hash
    )
    await db.execute(queries.authmon_purge_expired, router.merchant_id, router.router_id)
    queued: uuid.UUID = await db.fetchval(
        queries.authmon_enqueue,
        router.merchant_id,
        router.router_id,
        rhid,
        gateway_hash,
        session_id,
        router.store_id,
        device_hash,
        client_mac,
        client_ip,
        method,
        terms_version,
        minutes,
        up,
        down,
        up_quota,
        down_quota,
        session_id.hex[:16],
        float(GRANT_SECONDS),
        identity_hash,
        voucher_code,
        idle_minutes,
    )
    log.info("authmon grant %s queued at router %s", queued, router.router_id)
    return queued


OFFERS_BEFORE_HINT = 2  # offers without an ack after which the shopper may be online already


@dataclass(frozen=True)
class GrantState:
    """What became of a queued grant not (yet) recorded as a session."""

    waiting: bool  # still queued for authmon
    offered: int  # times authmon was handed it

    @property
    def maybe_online(self) -> bool:
        """Handed over twice and never acked: refused twice by openNDS, or done with authmon's
        ack lost (then openNDS refuses every later try of the authenticated client)."""
        return self.offered >= OFFERS_BEFORE_HINT


async def grant_state(db: asyncpg.Pool, router: Router, session_id: uuid.UUID) -> GrantState | None:
    """The queued grant of `session_id` (kept 10 minutes after it expired), or None."""
    row = await db.fetchrow(
        queries.authmon_grant_state, router.merchant_id, router.router_id, session_id
    )
    return GrantState(row["waiting"], row["offered"]) if row else None


async def answer(
    db: asyncpg.Pool, router: Router, poll: Poll, on_events: OnShopperEvents | None = None
) -> str:
    """The body authmon gets for one request from `router` (already found by the URL); the
    logins its acks carry out are told to `on_events` in the transaction that records them."""
    if router.gateway != "opennds" or router.fas_level != 3:
        raise NotServed(f"router {router.router_id} is not an openNDS at FAS level 3")
    known = await db.fetchval(queries.authmon_gateway_hash, router.merchant_id, router.router_id)
    if known is not None and known != poll.gateway_hash:
        raise NotServed(f"gatewayhash is not router {router.router_id}'s")
    if poll.action == "clear":
        await db.execute(
            queries.authmon_clear,
            router.merchant_id,
            router.router_id,
            poll.gateway_hash,
            float(CLEAR_GRACE),
        )
        return ""
    if poll.action == "deauthed":
        await record_deauth(db, router, parse_deauthed(poll.payload), on_events)
        return "ack"
    if poll.action == "custom":
        log.info("authmon custom from %s: %s", router.router_id, poll.payload[:300])
        return "ack"
    rhids = ack_rhids(poll.payload)
    if rhids is None:
        rows = await db.fetch(
            queries.authmon_view, router.merchant_id, router.router_id, poll.gateway_hash, BATCH
        )
        rows.sort(key=lambda row: (row["created_at"], row["rhid"]))  # UPDATE … RETURNING
        return " ".join(["*", *(entry(row) for row in rows)])
    if rhids:
        await _record_acked(db, router, poll.gateway_hash, rhids, on_events)
    return "ack"


async def _record_acked(
    db: asyncpg.Pool,
    router: Router,
    gateway_hash: str,
    rhids: list[str],
    on_events: OnShopperEvents | None,
) -> None:
    """authmon authenticated these clients: each queued grant becomes a session, exactly once
    (the DELETE ... RETURNING takes each row once, however many acks race)."""
    async with db.acquire() as conn, conn.transaction():
        rows = await conn.fetch(
            queries.authmon_ack, router.merchant_id, router.router_id, gateway_hash, rhids
        )
        for row in rows:
            await conn.execute(
                queries.insert_session,
                router.merchant_id,
                row["session_id"],
                row["store_id"],
                router.router_id,
                row["device_hash"],
                row["client_mac"],
                row["client_ip"],
                row["method"],
                row["terms_version"],
                session_command_id(row["rhid"]),
                row["minutes"],
                row["identity_hash"],
                row["voucher_code"],
                row["idle_minutes"],
            )
            if row["voucher_code"] is not None:  # revoked while authmon carried it out?
                await conn.execute(
                    queries.cut_session_of_revoked_voucher, router.merchant_id, row["session_id"]
                )
            await _record_login(conn, router, row, on_events)
    for row in rows:
        log.info("login %s at router %s (authmon)", row["session_id"], router.router_id)


def session_command_id(rhid: str) -> str:
    """What an authmon session records as its command: no MQTT command made it."""
    return f"authmon-{rhid[:16]}"


async def _record_login(
    conn: asyncpg.Connection,
    router: Router,
    grant: asyncpg.Record,
    on_events: OnShopperEvents | None,
    *,
    confirmed_by: str = "ack",
    at: datetime | None = None,
) -> None:
    """The login event of a grant authmon carried out (at its ack, or learnt at its end)."""
    data = {
        "method": grant["method"],
        "router": router.router_id,
        "session": str(grant["session_id"]),
        "via": "authmon",
    }
    if confirmed_by != "ack":
        data["confirmed_by"] = confirmed_by
    await analytics.record_event(
        conn,
        router.merchant_id,
        "login",
        store_id=grant["store_id"],
        device_hash=grant["device_hash"],
        data=data,
        occurred_at=at,
    )
    done = LoginDone(
        router.merchant_id,
        grant["session_id"],
        grant["store_id"],
        grant["device_hash"],
        grant["method"],
        grant["identity_hash"],
        grant["voucher_code"],
        at,
    )
    await tell_logins(conn, on_events, [done])


@dataclass(frozen=True)
class Deauth:
    """openNDS ended a client's session (binauth_log.sh's log of a `*_deauth`)."""

    reason: str  # binauth's method: timeout_deauth, idle_deauth, client_deauth, ndsctl_deauth, …
    token: str
    session_start: int  # unix seconds, the router's clock
    session_end: int


def parse_deauthed(payload: str) -> Deauth:
    """The fields of a `deauthed` payload that name the session; AuthmonRefused otherwise."""
    fields = dict(_DEAUTH_FIELD.findall(payload))
    reason, token = fields.get("method", ""), fields.get("token", "")
    start, end = fields.get("session_start", ""), fields.get("session_end", "")
    if not _REASON.match(reason) or not _TOKEN.match(token):
        raise AuthmonRefused("deauthed payload has no *_deauth method or no client token")
    if not (start.isdigit() and end.isdigit() and len(start) <= 10 and len(end) <= 10):
        raise AuthmonRefused("deauthed payload has no session_start/session_end in seconds")
    if int(start) > int(end):
        raise AuthmonRefused("deauthed session ends before it starts")
    return Deauth(reason, token, int(start), int(end))


async def record_deauth(
    db: asyncpg.Pool, router: Router, deauth: Deauth, on_events: OnShopperEvents | None = None
) -> None:
    """openNDS ended the session of the client with `deauth.token`. A grant authmon took but
    never acked (its ack was lost) becomes the session it was, from its start to its end; an
    authmon session recorded already is ended. Anything else (a client the agent granted, one
    of another portal) is not ours to record."""
    hid = sha256_hex(deauth.token)
    rhids = [make_rhid(hid, key) for key in router.faskeys]
    end = datetime.fromtimestamp(min(deauth.session_end, time.time()), UTC)
    async with db.acquire() as conn, conn.transaction():
        grant = await conn.fetchrow(
            queries.authmon_take_unconfirmed, router.merchant_id, router.router_id, rhids
        )
        if grant is not None:
            await _record_unconfirmed(conn, router, grant, deauth, end, on_events)
            return
        ended = await conn.fetch(
            queries.end_authmon_sessions,
            router.merchant_id,
            router.router_id,
            [session_command_id(r) for r in rhids],
            end,
            END_REASONS.get(deauth.reason, "gateway"),
        )
        for row in ended:
            await _record_logout(conn, router, row, deauth, row["ended_at"])
    for row in ended:
        log.info("session %s ended by openNDS (%s)", row["session_id"], deauth.reason)


async def _record_unconfirmed(
    conn: asyncpg.Connection,
    router: Router,
    grant: asyncpg.Record,
    deauth: Deauth,
    end: datetime,
    on_events: OnShopperEvents | None,
) -> None:
    start = datetime.fromtimestamp(deauth.session_start, UTC)
    # ndsctl granted it while the grant was offered: a start outside that is not this grant's.
    earliest = grant["created_at"].timestamp() - CLOCK_SLACK
    latest = grant["expires_at"].timestamp() + CLOCK_SLACK
    if not earliest <= deauth.session_start <= latest:
        raise AuthmonRefused(
            f"deauthed session start {deauth.session_start} is outside grant "
            f"{grant['session_id']}'s offer"
        )
    inserted = await conn.fetchval(
        queries.insert_ended_session,
        router.merchant_id,
        grant["session_id"],
        grant["store_id"],
        router.router_id,
        grant["device_hash"],
        grant["client_ip"],
        grant["method"],
        grant["terms_version"],
        session_command_id(grant["rhid"]),
        start,
        max(start, end),
        grant["identity_hash"],
        grant["voucher_code"],
        grant["idle_minutes"],
        END_REASONS.get(deauth.reason, "gateway"),
    )
    if inserted is None:
        return
    await _record_login(conn, router, grant, on_events, confirmed_by="deauthed", at=start)
    await _record_logout(conn, router, grant, deauth, max(start, end))
    log.info(
        "login %s at router %s recorded at its end (authmon's ack was lost)",
        grant["session_id"],
        router.router_id,
    )


async def _record_logout(
    conn: asyncpg.Connection,
    router: Router,
    row: asyncpg.Record,
    deauth: Deauth,
    end: datetime,
) -> None:
    await analytics.record_event(
        conn,
        router.merchant_id,
        "logout",
        store_id=row["store_id"],
        device_hash=row["device_hash"],
        data={"router": router.router_id, "session": str(row["session_id"]), "by": deauth.reason},
        occurred_at=end,
    )
