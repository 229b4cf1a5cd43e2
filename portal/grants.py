"""The end every login method shares: the router lets the device through, then the session is
stored (docs/login-flow.md). A method decides *whether* and *as whom* a shopper may enter (an
`Admission`); `grant` does the rest, the same for all: through our agent over MQTT, or at FAS
level 3 without the agent through openNDS's authmon."""

from __future__ import annotations

import logging
import uuid
from dataclasses import astuple, dataclass

import asyncpg

import analytics.services as analytics
from controller.services import (
    AccessPolicy,
    Ack,
    CommandSender,
    authorize_client,
    record_ack,
    record_acks,
)
from kernel.batch import GroupCommit
from kernel.errors import PorticoError
from kernel.shopper_events import OnShopperEvents
from kernel.sql import load_queries
from portal import authmon
from portal.shopper_events import LoginDone, tell_logins
from portal.stores import Visit

log = logging.getLogger("portico.portal")
queries = load_queries(__file__)


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


@dataclass(frozen=True)
class Admission:
    """What a login method decided: the shopper may enter, by `method`, on `policy`."""

    method: str  # click, sms, voucher, email, returning
    policy: AccessPolicy
    terms_version: str
    identity_hash: str | None = None  # the phone number's or email address's (kernel.privacy)
    voucher_code: str | None = None
    idle_minutes: int = 0  # the store's idle timeout (0: none)


def store_admission(visit: Visit, method: str) -> Admission:
    """The store's own terms for a shopper a method let in (a voucher brings its own policy)."""
    portal = visit.portal
    return Admission(method, portal.policy, portal.terms_version, idle_minutes=portal.idle_minutes)


def granted_by_authmon(visit: Visit) -> bool:
    """Which path lets this shopper through (docs/login-flow.md, "FAS levels 2 and 3"):
    our agent over MQTT whenever it is connected, at every level (an acked grant in well under
    a second); openNDS's own authmon only at level 3 when the agent is not connected (the grant
    waits for authmon's next poll, 5 s by default)."""
    return visit.router.fas_level == 3 and not visit.router.online


async def grant(
    db: asyncpg.Pool,
    sender: CommandSender,
    visit: Visit,
    admission: Admission,
    on_events: OnShopperEvents | None = None,
) -> uuid.UUID:
    """Let the shopper in: the router confirms the grant first, then the session is stored
    (its login told to `on_events` in the same transaction; through authmon, when authmon
    acks: portal/authmon.py)."""
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
            method=admission.method,
            terms_version=admission.terms_version,
            policy=astuple(admission.policy),
            identity_hash=admission.identity_hash,
            voucher_code=admission.voucher_code,
            idle_minutes=admission.idle_minutes,
        )
    if not visit.router.online:
        # Fail fast: a command to a router the controller knows is offline would only time out.
        raise RouterOffline(f"router {visit.router.router_id} is offline")
    ack = await authorize_client(
        sender,
        visit.router,
        mac=visit.client.client_mac,
        hid=visit.client.hid,
        policy=admission.policy,
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
    await _login_writer(db).add(_Login(visit, session_id, ack, admission, on_events))
    log.info("login %s at router %s (%s)", session_id, visit.router.router_id, admission.method)
    return session_id


@dataclass(frozen=True)
class _Login:
    visit: Visit
    session_id: uuid.UUID
    ack: Ack
    admission: Admission
    on_events: OnShopperEvents | None = None


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
            [login.admission.method for login in logins],
            [login.admission.terms_version for login in logins],
            [login.ack.command_id for login in logins],
            [login.admission.policy.minutes for login in logins],
            [login.admission.identity_hash for login in logins],
            [login.admission.voucher_code for login in logins],
            [login.admission.idle_minutes for login in logins],
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
                        "method": login.admission.method,
                        "router": login.visit.router.router_id,
                        "session": str(login.session_id),
                    },
                )
                for login in logins
            ],
        )
        for on_events in {login.on_events for login in logins if login.on_events is not None}:
            told = [login for login in logins if login.on_events is on_events]
            await tell_logins(conn, on_events, [_done(login) for login in told])


def _done(login: _Login) -> LoginDone:
    return LoginDone(
        login.visit.merchant_id,
        login.session_id,
        login.visit.router.store_id,
        login.visit.device,
        login.admission.method,
        login.admission.identity_hash,
        login.admission.voucher_code,
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
