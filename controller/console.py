"""The console's Routers page: each merchant's routers with their status, firmware, clients
and configuration (desired against applied); adding one (its install command and a QR code of
it), a new install code, rebooting one, applying its configuration again, revoking one.

Every merchant shown is one of the signed-in user's memberships; adding and revoking routers
needs the owner role, and adding one room under the merchant's plan (accounts/plans.py: the
page shows the routers it allows; one over them is refused, 409, with the plan and its limit
named). The install code exists in clear only in the page that follows the form
(PostgreSQL keeps its hash), so that page is the answer to the POST itself.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import asyncpg
import segno
from aiohttp import web
from markupsafe import Markup

from accounts import audit, plans
from accounts import services as accounts
from accounts.web import login_required, page_translator, redirect, render_page
from controller import fleet_config, fleet_ops, provisioning
from controller.commands import CommandFailed, CommandSender
from controller.services import Router, command_log, find_router, fleet_routers, router_count
from kernel.errors import PorticoError
from kernel.web import DB, SETTINGS

OWNER = "owner"
SENDER = web.AppKey("console_commands", CommandSender)  # set by the composition root
HISTORY_LENGTH = 50  # commands on a router's history page
HEARTBEAT_FRESH = 15 * 60  # seconds: an older heartbeat's client count is not shown
AUTHMON_FRESH = 120  # seconds: openNDS's authmon polls every 5 s by default (1-59)


class NotAllowed(PorticoError):
    message_id = "error_routers_owner_only"
    status = 403


@dataclass(frozen=True)
class ConfigState:
    """The router's configuration as the console says it: `key` names the message
    (config_none, config_in_sync, config_pending, config_failed, config_rejected)."""

    key: str
    desired: int | None = None
    applied: int | None = None
    error: str = ""


@dataclass(frozen=True)
class RouterRow:
    name: str
    router_id: str
    store: str | None
    state: str  # online, authmon (openNDS polls, no agent), offline, waiting (no install yet)
    last_seen: str  # store-local, or ""
    agent: bool  # openNDS with our agent: it can be installed with a code
    firmware: str = ""
    clients: int | None = None  # openNDS's clients at the last heartbeat, when recent
    config: ConfigState = ConfigState("config_none")


Notice = tuple[str, str, dict[str, object]]  # (ok or error, message id, its fields)


@dataclass(frozen=True)
class MerchantRouters:
    membership: accounts.Membership
    stores: list[accounts.Store]
    routers: list[RouterRow]
    usage: plans.Usage | None = None  # for owners: the routers the plan allows

    @property
    def owner(self) -> bool:
        return self.membership.role == OWNER


async def routers_page(request: web.Request, session: accounts.ConsoleSession) -> web.Response:
    return await _render_routers(request, session, _notice(request))


async def _render_routers(
    request: web.Request,
    session: accounts.ConsoleSession,
    notice: Notice | None,
    status: int = 200,
) -> web.Response:
    db = request.app[DB]
    now = datetime.now(UTC)
    merchants = [
        await _merchant_routers(db, membership, session.user.user_id, now)
        for membership in await accounts.memberships_of(db, session.user.user_id)
    ]
    return render_page(
        request, "controller/routers.html", status=status, merchants=merchants, notice=notice
    )


async def reboot_router(request: web.Request, session: accounts.ConsoleSession) -> web.Response:
    """Reboot: the answer is the Routers page saying what the router said."""
    router = await _owned_router(request, session)
    try:
        ack = await fleet_ops.reboot(
            _sender(request, router), request.app[DB], router.ref, sent_by=_by(session)
        )
    except CommandFailed as exc:
        notice: Notice = ("error", "routers_action_failed", _failure(router, exc))
    else:
        # "already rebooted": the boot its last status named is over; nothing was done twice.
        done = "routers_reboot_already" if ack.msg == "already rebooted" else "routers_reboot_done"
        notice = _ack_notice(router, ack.ok, done, ack.msg or ack.code)
    await _record_command(request, session, router, "router.reboot", notice)
    return await _render_routers(request, session, notice)


async def reapply_config(request: web.Request, session: accounts.ConsoleSession) -> web.Response:
    """Apply the router's desired configuration again (a transaction on the router)."""
    router = await _owned_router(request, session)
    try:
        ack = await fleet_config.reapply(_sender(request, router), router.ref, sent_by=_by(session))
    except CommandFailed as exc:
        notice: Notice = ("error", "routers_action_failed", _failure(router, exc))
    else:
        notice = _ack_notice(router, ack.ok, "routers_reapply_done", ack.msg or ack.code)
    await _record_command(request, session, router, "router.reapply", notice)
    return await _render_routers(request, session, notice)


async def _record_command(
    request: web.Request,
    session: accounts.ConsoleSession,
    router: Router,
    action: str,
    notice: Notice,
) -> None:
    """The audit log's entry of a command sent from the console, with how it ended (the
    router's own word is in its command history)."""
    outcome = "failed" if notice[0] == "error" else "done"
    await audit.record_change(
        request.app[DB],
        router.merchant_id,
        audit.Actor.user(session.user.user_id),
        action,
        target_id=router.router_id,
        target_name=router.name,
        after={"outcome": outcome},
    )


def _by(session: accounts.ConsoleSession) -> str:
    """How the audit log names the signed-in user (command_log's sent_by)."""
    return f"user:{session.user.user_id}"


@dataclass(frozen=True)
class LogEntry:
    when: str  # store-local
    op: str
    by: str  # a message id (by_portal, by_controller, …) or a member's name
    by_name: bool
    status: str
    code: str
    attempts: int | None


async def history_page(request: web.Request, session: accounts.ConsoleSession) -> web.Response:
    """The router's audit log: who sent which command, and what the router answered. Open to
    every member of the router's merchant; a shopper's MAC is never shown."""
    router = await _member_router(request, session)
    db = request.app[DB]
    rows = await command_log(db, router.ref, HISTORY_LENGTH)
    user_ids = [uuid.UUID(r["sent_by"][5:]) for r in rows if r["sent_by"].startswith("user:")]
    names = await accounts.member_names(db, router.merchant_id, user_ids) if user_ids else {}
    store = await accounts.get_store(db, router.merchant_id, router.store_id)
    zone = ZoneInfo(store.timezone) if store else UTC
    entries = [_entry(r, names, zone) for r in rows]
    return render_page(
        request,
        "controller/history.html",
        router=router,
        store=store.name if store else None,
        entries=entries,
        length=HISTORY_LENGTH,
    )


def _entry(row: asyncpg.Record, names: dict[uuid.UUID, str], zone: ZoneInfo) -> LogEntry:
    sent_by: str = row["sent_by"]
    if sent_by.startswith("user:"):
        name = names.get(uuid.UUID(sent_by[5:]))
        by, by_name = (name, True) if name else ("by_former_member", False)
    else:
        by, by_name = f"by_{sent_by}", False
    return LogEntry(
        when=row["created_at"].astimezone(zone).strftime("%Y-%m-%d %H:%M:%S"),
        op=row["op"],
        by=by,
        by_name=by_name,
        status=row["status"],
        code=row["code"] or "",
        attempts=row["attempts"],
    )


def _sender(request: web.Request, router: Router) -> CommandSender:
    if not router.online:  # fail fast: a command to an offline router only times out
        raise CommandFailed("the router is offline")
    sender = request.app.get(SENDER)
    if sender is None:
        raise CommandFailed("this console process sends no commands (no MQTT connection)")
    return sender


def _failure(router: Router, exc: CommandFailed) -> dict[str, object]:
    return {"name": router.name, "reason": str(exc)[:200]}


def _ack_notice(router: Router, ok: bool, done_id: str, said: str) -> Notice:
    if ok:
        return ("ok", done_id, {"name": router.name, "said": said[:200]})
    return ("error", "routers_action_refused", {"name": router.name, "said": said[:200]})


async def add_router(request: web.Request, session: accounts.ConsoleSession) -> web.Response:
    form = await request.post()
    merchant_id = _uuid(form.get("merchant_id"))
    store_id = _uuid(form.get("store_id"))
    await _owned(request, session, merchant_id, provisioning.UnknownStore)
    level = str(form.get("fas_level", "1"))
    fas_level = int(level) if level in ("1", "2", "3") else 0  # add_router refuses 0
    try:
        async with request.app[DB].acquire() as conn:
            router, claim = await provisioning.add_router(
                conn,
                merchant_id,
                store_id,
                name=str(form.get("name", "")),
                fas_level=fas_level,
                actor=audit.Actor.user(session.user.user_id),
            )
    except plans.PlanLimitReached as exc:  # the Routers page says so; nothing was added
        notice = ("error", exc.message_id, plans.localized(exc, page_translator(request)))
        return await _render_routers(request, session, notice, exc.status)
    return await _install_page(request, router.router_id, router.name, claim, new=True)


async def new_code(request: web.Request, session: accounts.ConsoleSession) -> web.Response:
    router = await _owned_router(request, session)
    async with request.app[DB].acquire() as conn:
        claim = await provisioning.issue_claim(
            conn,
            router.merchant_id,
            router.router_id,
            actor=audit.Actor.user(session.user.user_id),
        )
    return await _install_page(request, router.router_id, router.name, claim, new=False)


async def revoke_form(request: web.Request, session: accounts.ConsoleSession) -> web.Response:
    router = await _owned_router(request, session)
    return render_page(request, "controller/revoke.html", router=router)


async def revoke(request: web.Request, session: accounts.ConsoleSession) -> web.Response:
    router = await _owned_router(request, session)
    async with request.app[DB].acquire() as conn:
        await provisioning.revoke_router(
            conn,
            router.merchant_id,
            router.router_id,
            actor=audit.Actor.user(session.user.user_id),
        )
    return redirect(f"{request.app.router['routers'].url_for()}?revoked={router.router_id}")


async def _install_page(
    request: web.Request, router_id: str, name: str, claim: provisioning.Claim, *, new: bool
) -> web.Response:
    command = provisioning.install_command(request.app[SETTINGS].portal_url, claim.code)
    return render_page(
        request,
        "controller/install.html",
        router_id=router_id,
        name=name,
        new=new,
        command=command,
        qr=qr_svg(command),
        expires=claim.expires_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    )


def qr_svg(text: str) -> Markup:
    """A QR code of `text` as inline SVG (segno writes it; no text of ours goes into it)."""
    # omitsize: a viewBox and no fixed size, so the page's CSS sizes it.
    svg = segno.make(text, error="m").svg_inline(border=2, dark="#1c2430", omitsize=True)
    return Markup(svg)  # noqa: S704 - segno's own markup; `text` is escaped by segno


async def _merchant_routers(
    db: asyncpg.Pool, membership: accounts.Membership, user_id: uuid.UUID, now: datetime
) -> MerchantRouters:
    """The merchant's routers the member may see: all for an owner, those of the stores they
    are given for staff."""
    stores = await accounts.visible_stores(db, membership.merchant_id, user_id)
    by_id = {s.store_id: s for s in stores}
    rows = [
        _row(r, by_id, now)
        for r in await fleet_routers(db, membership.merchant_id)
        if r["store_id"] in by_id
    ]
    usage = None
    if membership.role == OWNER:
        in_service = await router_count(db, membership.merchant_id)
        usage = await plans.usage(db, membership.merchant_id, in_service)
    return MerchantRouters(membership, stores, rows, usage)


def _row(
    record: asyncpg.Record, stores: dict[uuid.UUID, accounts.Store], now: datetime
) -> RouterRow:
    store = stores.get(record["store_id"])
    zone = ZoneInfo(store.timezone) if store else UTC
    polled = record["authmon_seen_at"]
    seen = max((t for t in (record["last_seen"], polled) if t is not None), default=None)
    agent = record["gateway"] == "opennds"
    if record["online"]:
        state = "online"
    elif polled is not None and (now - polled).total_seconds() <= AUTHMON_FRESH:
        state = "authmon"  # level 3 without the agent: logins go through authmon
    elif not record["installed"] and agent:
        state = "waiting"
    else:
        state = "offline"
    local = seen.astimezone(zone) if seen else None
    same_day = local is not None and local.date() == now.astimezone(zone).date()
    heartbeat = record["heartbeat"] or {}
    fresh = record["heartbeat_at"] is not None and (
        (now - record["heartbeat_at"]).total_seconds() <= HEARTBEAT_FRESH
    )
    clients = heartbeat.get("clients") if fresh and record["online"] else None
    return RouterRow(
        name=record["name"],
        router_id=record["router_id"],
        store=store.name if store else None,
        state=state,
        last_seen=local.strftime("%H:%M:%S" if same_day else "%m-%d %H:%M") if local else "",
        agent=agent,
        firmware=str(record["firmware"] or heartbeat.get("fw") or "")[:64],
        clients=clients if isinstance(clients, int) else None,
        config=config_state(record),
    )


def config_state(record: asyncpg.Record) -> ConfigState:
    """Desired against applied, in words: none yet, in sync, being applied (drift: the router
    runs an older version), or the desired version failed (rolled back) or was rejected."""
    desired, applied = record["desired_version"], record["applied_version"]
    if desired is None:
        return ConfigState("config_none")
    result = record["state_result"]
    if record["state_version"] == desired and result in ("failed", "rejected"):
        return ConfigState(f"config_{result}", desired, applied, record["state_error"] or "")
    if applied == desired:
        return ConfigState("config_in_sync", desired, applied)
    return ConfigState("config_pending", desired, applied or 0)


def _notice(request: web.Request) -> Notice | None:
    revoked = request.query.get("revoked", "")
    if revoked and len(revoked) <= 64:
        return ("ok", "routers_revoked_notice", {"router_id": revoked})
    return None


def _uuid(value: object) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise provisioning.UnknownStore(f"not a store or merchant id: {value!r}") from None


async def _owned(
    request: web.Request,
    session: accounts.ConsoleSession,
    merchant_id: uuid.UUID,
    missing: type[provisioning.ProvisioningError] = provisioning.UnknownRouter,
) -> None:
    """The user owns this merchant; else `missing` (not one of theirs) or NotAllowed (staff)."""
    for membership in await accounts.memberships_of(request.app[DB], session.user.user_id):
        if membership.merchant_id == merchant_id:
            if membership.role != OWNER:
                raise NotAllowed(f"{session.user.email} is not an owner of {merchant_id}")
            return
    raise missing(f"{session.user.email} has no merchant {merchant_id}")


async def _member_router(request: web.Request, session: accounts.ConsoleSession) -> Router:
    """The router named in the path, when the user is an owner of its merchant or staff given
    its store; else UnknownRouter (404), as for a router that does not exist."""
    db = request.app[DB]
    user_id = session.user.user_id
    router = await find_router(db, request.match_info["router_id"])
    if router is not None:
        for membership in await accounts.memberships_of(db, user_id):
            if membership.merchant_id != router.merchant_id:
                continue
            if membership.role == OWNER:  # every store's routers, without listing the stores
                return router
            stores = await accounts.visible_stores(db, router.merchant_id, user_id)
            if any(s.store_id == router.store_id for s in stores):
                return router
    raise provisioning.UnknownRouter(f"no router {request.match_info['router_id']}")


async def _owned_router(request: web.Request, session: accounts.ConsoleSession) -> Router:
    router = await find_router(request.app[DB], request.match_info["router_id"])
    if router is None:
        raise provisioning.UnknownRouter(f"no router {request.match_info['router_id']}")
    await _owned(request, session, router.merchant_id)
    return router


def add_routes(router: web.UrlDispatcher) -> None:
    """The Routers pages on the console (the composition root calls this)."""
    router.add_get("/routers", login_required(routers_page), name="routers")
    router.add_post("/routers/add", login_required(add_router), name="router_add")
    router.add_post("/routers/{router_id}/code", login_required(new_code), name="router_code")
    router.add_get(
        "/routers/{router_id}/history", login_required(history_page), name="router_history"
    )
    router.add_post(
        "/routers/{router_id}/reboot", login_required(reboot_router), name="router_reboot"
    )
    router.add_post(
        "/routers/{router_id}/reapply", login_required(reapply_config), name="router_reapply"
    )
    revoke_resource = router.add_resource("/routers/{router_id}/revoke", name="router_revoke")
    revoke_resource.add_route("GET", login_required(revoke_form))
    revoke_resource.add_route("POST", login_required(revoke))
