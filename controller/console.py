"""The console's Routers page: each merchant's routers, adding one (its install command and a
QR code of it), a new install code, revoking one.

Every merchant shown is one of the signed-in user's memberships; adding and revoking routers
needs the owner role. The install code exists in clear only in the page that follows the form
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

from accounts import services as accounts
from accounts.web import login_required, redirect, render_page
from controller import provisioning
from controller.services import Router, find_router, list_routers
from kernel.errors import PorticoError
from kernel.web import DB, SETTINGS

OWNER = "owner"


class NotAllowed(PorticoError):
    message_id = "error_routers_owner_only"
    status = 403


@dataclass(frozen=True)
class RouterRow:
    name: str
    router_id: str
    store: str | None
    state: str  # online, offline, waiting (no install code redeemed yet)
    last_seen: str  # store-local, or ""
    agent: bool  # openNDS with our agent: it can be installed with a code


@dataclass(frozen=True)
class MerchantRouters:
    membership: accounts.Membership
    stores: list[accounts.Store]
    routers: list[RouterRow]

    @property
    def owner(self) -> bool:
        return self.membership.role == OWNER


async def routers_page(request: web.Request, session: accounts.ConsoleSession) -> web.Response:
    db = request.app[DB]
    now = datetime.now(UTC)
    merchants = [
        await _merchant_routers(db, membership, now)
        for membership in await accounts.memberships_of(db, session.user.user_id)
    ]
    return render_page(
        request, "controller/routers.html", merchants=merchants, notice=_notice(request)
    )


async def add_router(request: web.Request, session: accounts.ConsoleSession) -> web.Response:
    form = await request.post()
    merchant_id = _uuid(form.get("merchant_id"))
    store_id = _uuid(form.get("store_id"))
    await _owned(request, session, merchant_id, provisioning.UnknownStore)
    level = str(form.get("fas_level", "1"))
    fas_level = int(level) if level in ("1", "2", "3") else 0  # add_router refuses 0
    async with request.app[DB].acquire() as conn:
        router, claim = await provisioning.add_router(
            conn,
            merchant_id,
            store_id,
            name=str(form.get("name", "")),
            fas_level=fas_level,
        )
    return await _install_page(request, router.router_id, router.name, claim, new=True)


async def new_code(request: web.Request, session: accounts.ConsoleSession) -> web.Response:
    router = await _owned_router(request, session)
    async with request.app[DB].acquire() as conn:
        claim = await provisioning.issue_claim(conn, router.merchant_id, router.router_id)
    return await _install_page(request, router.router_id, router.name, claim, new=False)


async def revoke_form(request: web.Request, session: accounts.ConsoleSession) -> web.Response:
    router = await _owned_router(request, session)
    return render_page(request, "controller/revoke.html", router=router)


async def revoke(request: web.Request, session: accounts.ConsoleSession) -> web.Response:
    router = await _owned_router(request, session)
    async with request.app[DB].acquire() as conn:
        await provisioning.revoke_router(conn, router.merchant_id, router.router_id)
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
    db: asyncpg.Pool, membership: accounts.Membership, now: datetime
) -> MerchantRouters:
    stores = await accounts.list_stores(db, membership.merchant_id)
    by_id = {s.store_id: s for s in stores}
    rows = [_row(r, by_id, now) for r in await list_routers(db, membership.merchant_id)]
    return MerchantRouters(membership, stores, rows)


def _row(
    record: asyncpg.Record, stores: dict[uuid.UUID, accounts.Store], now: datetime
) -> RouterRow:
    store = stores.get(record["store_id"])
    zone = ZoneInfo(store.timezone) if store else UTC
    seen = record["last_seen"]
    agent = record["gateway"] == "opennds"
    if not record["installed"] and agent:
        state = "waiting"
    else:
        state = "online" if record["online"] else "offline"
    local = seen.astimezone(zone) if seen else None
    same_day = local is not None and local.date() == now.astimezone(zone).date()
    return RouterRow(
        name=record["name"],
        router_id=record["router_id"],
        store=store.name if store else None,
        state=state,
        last_seen=local.strftime("%H:%M:%S" if same_day else "%m-%d %H:%M") if local else "",
        agent=agent,
    )


def _notice(request: web.Request) -> str:
    revoked = request.query.get("revoked", "")
    return revoked if revoked and len(revoked) <= 64 else ""


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
    revoke_resource = router.add_resource("/routers/{router_id}/revoke", name="router_revoke")
    revoke_resource.add_route("GET", login_required(revoke_form))
    revoke_resource.add_route("POST", login_required(revoke))
