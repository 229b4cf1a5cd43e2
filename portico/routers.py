"""`portico router …`: add a router to a store and print its install command, give a router a
new install code, revoke one. For operators: it works across merchants."""

from __future__ import annotations

import io
import uuid
from datetime import UTC
from typing import TextIO

import asyncpg
import segno

import accounts.services as accounts
from accounts import audit
from controller import provisioning
from controller.services import find_router
from kernel.config import Settings


class CommandError(Exception):
    """What the person typed cannot be done; the message says why and what to type instead."""


async def add(
    db: asyncpg.Pool,
    settings: Settings,
    out: TextIO,
    *,
    store: str,
    merchant: str | None = None,
    name: str = "",
    router_id: str | None = None,
    fas_level: int = 1,
) -> provisioning.Claim:
    """Add a router to a store; print its one-line install command and a QR code of it."""
    found = await accounts.find_stores(db, store, merchant)
    if not found:
        where = f" of merchant {merchant!r}" if merchant else ""
        raise CommandError(f"no store with the id or name {store!r}{where}")
    if len(found) > 1:
        listing = "\n".join(f"  {s.store_id}  {s.name}  ({m})" for s, m in found)
        raise CommandError(
            f"{len(found)} stores are called {store!r}; give the store's id (or --merchant):\n"
            + listing
        )
    target, merchant_name = found[0]
    async with db.acquire() as conn:
        try:
            router, claim = await provisioning.add_router(
                conn,
                target.merchant_id,
                target.store_id,
                name=name,
                router_id=router_id,
                fas_level=fas_level,
                actor=audit.Actor.system("portico router add"),
            )
        except provisioning.ProvisioningError as exc:
            raise CommandError(str(exc)) from None
    out.write(
        f"Router {router.router_id} added to {target.name} ({merchant_name}), "
        f"openNDS FAS level {router.fas_level}.\n"
    )
    _print_command(out, settings, claim)
    return claim


async def new_code(
    db: asyncpg.Pool, settings: Settings, out: TextIO, router_id: str
) -> provisioning.Claim:
    """A new install code for a router already added (to install it again, or a lost code)."""
    merchant_id = await _merchant_of(db, router_id)
    async with db.acquire() as conn:
        claim = await provisioning.issue_claim(
            conn, merchant_id, router_id, actor=audit.Actor.system("portico router code")
        )
    out.write(f"New install code for router {router_id}; earlier codes no longer work.\n")
    _print_command(out, settings, claim)
    return claim


async def revoke(db: asyncpg.Pool, out: TextIO, router_id: str) -> None:
    merchant_id = await _merchant_of(db, router_id)
    async with db.acquire() as conn:
        await provisioning.revoke_router(
            conn, merchant_id, router_id, actor=audit.Actor.system("portico router revoke")
        )
    out.write(
        f"Router {router_id} is revoked: the broker refuses its password and drops its "
        "connection as soon as Portico's broker sync runs (at once while Portico runs).\n"
    )


async def _merchant_of(db: asyncpg.Pool, router_id: str) -> uuid.UUID:
    router = await find_router(db, router_id)
    if router is None:
        raise CommandError(f"no router {router_id!r} in service (unknown, or revoked)")
    return router.merchant_id


def _print_command(out: TextIO, settings: Settings, claim: provisioning.Claim) -> None:
    command = provisioning.install_command(settings.portal_url, claim.code)
    until = claim.expires_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    out.write(
        f"\nOn the router (OpenWrt, as root), run this line once, before {until}:\n\n"
        f"  {command}\n\n"
    )
    out.write(terminal_qr(command))
    out.write(
        "\nThe installer sets up the agent and openNDS and brings the router online with its "
        "own broker account.\n"
    )
    if not settings.portal_url.startswith("https://") and "127.0.0.1" not in settings.portal_url:
        out.write(
            "Note: the portal URL is plain HTTP; the installer refuses it off loopback unless "
            "PORTICO_ALLOW_HTTP=1 is set on the router. Set PORTICO_PUBLIC_PORTAL_URL to the "
            "portal's https:// address.\n"
        )


def terminal_qr(text: str) -> str:
    """A QR code of `text` drawn with block characters (two rows per line)."""
    buffer = io.StringIO()
    segno.make(text, error="m").terminal(out=buffer, compact=True, border=2)
    return buffer.getvalue()
