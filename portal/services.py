"""The shopper's journey behind a router: who the gateway is, what to show, how to let them in."""

from __future__ import annotations

import hashlib
import hmac
import logging
import uuid
from dataclasses import astuple, dataclass

import asyncpg

import analytics.services as analytics
from controller.services import (
    AccessPolicy,
    Ack,
    CommandSender,
    Restore,
    RestoreReport,
    Router,
    RouterRef,
    StillWanted,
    authorize_client,
    find_router,
    record_ack,
    record_acks,
    restore_clients,
)
from kernel.batch import GroupCommit
from kernel.cache import TtlCache
from kernel.errors import PorticoError
from kernel.privacy import device_hash
from kernel.sql import load_queries
from portal import authmon
from portal.fas import BadRedirect, FasClient, parse_fas, parse_fas_text, split_carried
from portal.fas_aes import decrypt_fas

log = logging.getLogger("portico.portal")
queries = load_queries(__file__)

LOGIN_METHODS = frozenset({"click", "sms", "voucher", "email"})


class UnknownGateway(PorticoError):
    message_id = "error_unknown_gateway"
    status = 404


class DeviceNotVerified(PorticoError):
    """The router refused the grant: the MAC/hid pair is not a client it knows."""

    message_id = "error_device_not_verified"
    status = 403


class GrantFailed(PorticoError):
    """The router tried to let the device through and openNDS kept refusing.

    openNDS refuses good grants by accident (its binauth race, see the agent), and the agent
    retries inside the portal's wait; a shopper's own retry sends a new grant.
    """

    message_id = "error_grant_failed"
    status = 503
    retry_same_request = True


class RouterOffline(PorticoError):
    """The controller knows the router is offline (its Last Will): no command can reach it."""

    message_id = "error_router_offline"
    status = 503
    retry_same_request = True  # it may be back in a moment (a reboot, a broker reconnect)


class TermsRequired(PorticoError):
    message_id = "error_terms_required"
    status = 400


class MethodDisabled(PorticoError):
    message_id = "error_method_disabled"
    status = 403


@dataclass(frozen=True)
class StorePortal:
    brand_name: str
    brand_color: str
    welcome_en: str
    welcome_zh: str
    login_methods: list[str]
    terms_version: str
    session_minutes: int
    up_kbps: int
    down_kbps: int
    up_quota_kb: int
    down_quota_kb: int
    landing_url: str

    @property
    def policy(self) -> AccessPolicy:
        return AccessPolicy(
            self.session_minutes, self.up_kbps, self.down_kbps, self.up_quota_kb, self.down_quota_kb
        )


@dataclass(frozen=True)
class Visit:
    """A verified-as-far-as-we-can shopper arrival: router, store settings and the client."""

    router: Router
    portal: StorePortal
    client: FasClient
    device: str  # pseudonymous device id

    @property
    def merchant_id(self) -> uuid.UUID:
        return self.router.merchant_id


# A router and its store's portal settings change rarely and are read on every splash view;
# changes show within this many seconds.
SETTINGS_TTL = 5.0
_gateways: TtlCache[str, tuple[Router, StorePortal]] = TtlCache(SETTINGS_TTL)


async def store_gateway(db: asyncpg.Pool, router_id: str) -> tuple[Router, StorePortal]:
    """The router named in the portal URL and its store's portal settings (cached, and read
    again in the background shortly before they expire: see TtlCache)."""

    async def read() -> tuple[Router, StorePortal]:
        router = await find_router(db, router_id)
        if router is None:
            raise UnknownGateway(f"no router {router_id!r}")
        row = await db.fetchrow(queries.store_portal, router.merchant_id, router.store_id)
        if row is None:
            raise UnknownGateway(f"store of router {router_id} has no portal settings")
        return router, StorePortal(**dict(row))

    return await _gateways.get_or_load(router_id, read, refresh_ahead=1.0)


def _decrypted(fas_part: str | None, iv_part: str | None, keys: tuple[str, ...]) -> FasClient:
    failure = BadRedirect("no faskey")
    for key in keys:
        try:
            return parse_fas_text(decrypt_fas(fas_part, iv_part, key))
        except BadRedirect as exc:  # garbage under the other key fails to parse, too
            failure = exc
    raise failure


async def open_visit(
    db: asyncpg.Pool, secret_key: str, router_id: str, raw_fas: str | None
) -> Visit:
    """Check an openNDS redirect against the router it claims to come from.

    `raw_fas` is the redirect as the splash carries it (fas.carried_redirect): at FAS level 1
    the base64 `fas`; at levels 2 and 3 `<fas>&iv=<iv>`, which must decrypt with the router's
    faskey (portal/fas_aes.py), so those redirects are authenticated by the router. While a
    new faskey is rotated in, either key will do (the router switches when it applies it).
    """
    router, portal = await store_gateway(db, router_id)
    fas_part, iv_part = split_carried(raw_fas)
    if router.fas_level >= 2:
        client = _decrypted(fas_part, iv_part, router.faskeys)
    else:
        client = parse_fas(fas_part)
    if router.gateway_mac and client.gateway_mac and router.gateway_mac != client.gateway_mac:
        raise BadRedirect(f"gatewaymac {client.gateway_mac} is not router {router_id}'s")
    device = device_hash(secret_key, str(router.merchant_id), client.client_mac)
    return Visit(router, portal, client, device)


def granted_by_authmon(visit: Visit) -> bool:
    """Which path lets this shopper through (docs/login-flow.md, "FAS levels 2 and 3"):
    our agent over MQTT whenever it is connected, at every level (an acked grant in well under
    a second); openNDS's own authmon only at level 3 when the agent is not connected (the grant
    waits for authmon's next poll, 5 s by default)."""
    return visit.router.fas_level == 3 and not visit.router.online


def landing_url(visit: Visit) -> str:
    """Where the online page sends the shopper on: the merchant's page, or what they asked."""
    return visit.portal.landing_url or visit.client.origin_url


async def click_through(
    db: asyncpg.Pool, sender: CommandSender, visit: Visit, *, accepted_terms: bool
) -> uuid.UUID:
    """Let the shopper in: the router confirms the grant first, then the session is stored."""
    if "click" not in visit.portal.login_methods:
        raise MethodDisabled("click-through is not enabled for this store")
    if not accepted_terms:
        raise TermsRequired("terms not accepted")
    session_id = uuid.uuid4()
    if granted_by_authmon(visit):
        # Level 3 without our agent: openNDS's authmon fetches the grant on its next poll and
        # the session is recorded when it acks (portal/authmon.py).
        return await authmon.enqueue(
            db,
            visit.router,
            hid=visit.client.hid,
            gateway_hash=visit.client.gateway_hash,
            session_id=session_id,
            device_hash=visit.device,
            client_mac=visit.client.client_mac,
            client_ip=visit.client.client_ip,
            method="click",
            terms_version=visit.portal.terms_version,
            policy=astuple(visit.portal.policy),
        )
    if not visit.router.online:
        # Fail fast: a command to a router the controller knows is offline would only time out.
        raise RouterOffline(f"router {visit.router.router_id} is offline")
    ack = await authorize_client(
        sender,
        visit.router,
        mac=visit.client.client_mac,
        hid=visit.client.hid,
        policy=visit.portal.policy,
        custom=session_id.hex[:16],
        record_ack=False,  # stored below, in the same transaction as the session
    )
    if not ack.ok:
        await record_ack(db, visit.router, ack)
        log.warning(
            "router %s refused %s for a client: %s/%s",
            visit.router.router_id,
            ack.command_id,
            ack.status,
            ack.code,
        )
        if ack.status == "rejected":
            raise DeviceNotVerified(f"router said {ack.code}")
        raise GrantFailed(f"router said {ack.status}/{ack.code}")
    await _login_writer(db).add(_Login(visit, session_id, ack, "click"))
    log.info("login %s at router %s (click)", session_id, visit.router.router_id)
    return session_id


@dataclass(frozen=True)
class _Login:
    visit: Visit
    session_id: uuid.UUID
    ack: Ack
    method: str


async def _write_logins(db: asyncpg.Pool, logins: list[_Login]) -> None:
    """Granted logins, each as its ack, its session and its login event, all in one
    transaction: concurrent logins share it (kernel.batch.GroupCommit)."""
    async with db.acquire() as conn, conn.transaction():
        await record_acks(conn, [(login.visit.router, login.ack) for login in logins])
        await conn.execute(
            queries.insert_sessions,
            [login.visit.merchant_id for login in logins],
            [login.session_id for login in logins],
            [login.visit.router.store_id for login in logins],
            [login.visit.router.router_id for login in logins],
            [login.visit.device for login in logins],
            [login.visit.client.client_mac for login in logins],
            [login.visit.client.client_ip for login in logins],
            [login.method for login in logins],
            [login.visit.portal.terms_version for login in logins],
            [login.ack.command_id for login in logins],
            [login.visit.portal.session_minutes for login in logins],
        )
        await analytics.record_events(
            conn,
            [
                analytics.Event(
                    login.visit.merchant_id,
                    "login",
                    store_id=login.visit.router.store_id,
                    device_hash=login.visit.device,
                    data={
                        "method": login.method,
                        "router": login.visit.router.router_id,
                        "session": str(login.session_id),
                    },
                )
                for login in logins
            ],
        )


_login_writers: dict[asyncpg.Pool, GroupCommit[_Login]] = {}


def _login_writer(db: asyncpg.Pool) -> GroupCommit[_Login]:
    """The process's group commit of granted logins for this pool."""
    writer = _login_writers.get(db)
    if writer is None:
        writer = _login_writers[db] = GroupCommit(
            lambda logins: _write_logins(db, logins), name="portal-logins"
        )
    return writer


async def restore_sessions(
    db: asyncpg.Pool,
    sender: CommandSender,
    router: Router,
    *,
    first_pause: float = 1.0,
) -> RestoreReport:
    """After openNDS on `router` restarted, re-grant its active sessions, retrying each until
    it is settled or its session ends (controller.restore); return how each ended."""
    row = await db.fetchrow(queries.store_portal, router.merchant_id, router.store_id)
    sessions = await db.fetch(
        queries.active_sessions_of_router, router.merchant_id, router.router_id
    )
    if row is None or not sessions:
        return RestoreReport()
    policy = StorePortal(**dict(row)).policy
    restores = [
        Restore(
            key=session["session_id"].hex[:16],
            mac=session["client_mac"],
            ends_at=session["expires_at"],
            up_kbps=policy.up_kbps,
            down_kbps=policy.down_kbps,
            up_quota_kb=policy.up_quota_kb,
            down_quota_kb=policy.down_quota_kb,
        )
        for session in sessions
    ]
    report = await restore_clients(
        sender,
        router.ref,
        restores,
        still_wanted=_session_needs(db),
        first_pause=first_pause,
    )
    log.info(
        "restored %d of %d sessions on %s (%s)",
        report.count("restored"),
        len(sessions),
        router.router_id,
        report.summary(),
    )
    return report


def _session_needs(db: asyncpg.Pool) -> StillWanted:
    async def needs(router: RouterRef, mac: str) -> bool:
        found = await db.fetchval(
            queries.client_has_active_session, router.merchant_id, router.router_id, mac
        )
        return bool(found)

    return needs


def impression_signature(secret_key: str, *parts: str) -> str:
    """Signs an ad-image URL so only pages we rendered can count an impression."""
    message = "|".join(("impression", *parts)).encode()
    return hmac.new(secret_key.encode(), message, hashlib.sha256).hexdigest()[:32]


async def upsert_store_portal(
    conn: asyncpg.Connection | asyncpg.Pool,
    merchant_id: uuid.UUID,
    store_id: uuid.UUID,
    *,
    brand_name: str,
    brand_color: str = "#0a7d5a",
    welcome_en: str = "",
    welcome_zh: str = "",
    login_methods: tuple[str, ...] = ("click",),
    session_minutes: int = 60,
    up_kbps: int = 0,
    down_kbps: int = 0,
    up_quota_kb: int = 0,
    down_quota_kb: int = 0,
    landing_url: str = "",
) -> None:
    unknown = set(login_methods) - LOGIN_METHODS
    if unknown:
        raise ValueError(f"unknown login methods {sorted(unknown)}")
    await conn.execute(
        queries.upsert_store_portal,
        merchant_id,
        store_id,
        brand_name,
        brand_color,
        welcome_en,
        welcome_zh,
        list(login_methods),
        session_minutes,
        up_kbps,
        down_kbps,
        up_quota_kb,
        down_quota_kb,
        landing_url,
    )
