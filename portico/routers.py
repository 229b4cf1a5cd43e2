"""`portico router …`: add a router to a store and print its install command, give a router a
new install code, revoke one. For operators: it works across merchants, but not past a
merchant's plan: a router over its limit is refused (exit 1) with the console's message."""

from __future__ import annotations

import io
import secrets
import uuid
from datetime import UTC
from typing import TextIO

import aiohttp
import asyncpg
import segno

import accounts.services as accounts
from accounts import audit, plans
from accounts.messages_plans import PLANS
from controller import provisioning
from controller.services import find_router
from kernel.config import Settings
from kernel.i18n import translator
from simulators.router import SimulatedRouter


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
        except plans.PlanLimitReached as exc:
            raise CommandError(f"{merchant_name}: {plan_message(exc)}") from None
    out.write(
        f"Router {router.router_id} added to {target.name} ({merchant_name}), "
        f"openNDS FAS level {router.fas_level}.\n"
    )
    _print_command(out, settings, claim)
    return claim


def plan_message(exc: plans.PlanLimitReached) -> str:
    """A plan's limit as the console says it, in English and then Chinese (the command line has
    no language of its own)."""
    return "\n".join(plans.message(exc, translator(PLANS, lang)) for lang in ("en", "zh-CN"))


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


async def simulate(settings: Settings, code: str, *, port: int = 0) -> SimulatedRouter:
    """A simulated openNDS router with our agent (simulators.router), installed with an install
    code as firmware-scripts/install.sh installs a real one: it redeems the code at the portal
    (`POST /i/<code>`, controller.device_routes.claim) and runs with what it gets back, its
    broker account, faskey and FAS level. Started; the caller stops it."""
    fields = await _redeem_at_portal(settings.portal_url, code)
    if fields.get("broker_tls") == "1":
        raise CommandError("the simulated router connects to the broker without TLS")
    router = SimulatedRouter(
        fields["router_id"],
        mqtt_url=f"mqtt://{fields['broker_host']}:{fields['broker_port']}",
        password=fields["mqtt_password"],
        faskey=fields["faskey"],
        portal_url=fields["portal_url"],
        gateway_mac="02:" + ":".join(f"{b:02x}" for b in secrets.token_bytes(5)),
        gateway_name=fields.get("gatewayname") or "Portico",
        gateway_port=port,
        fas_level=int(fields["fas_level"]),
        heartbeat=60.0,
    )
    try:
        await router.start()
    except TimeoutError:
        await router.stop()
        raise CommandError(
            f"router {router.router_id} could not log in to the broker at "
            f"{fields['broker_host']}:{fields['broker_port']} within 10 s"
        ) from None
    return router


async def _redeem_at_portal(portal_url: str, code: str) -> dict[str, str]:
    """The install claim's answer (key=value lines); CommandError with the portal's reason."""
    url = f"{portal_url.rstrip('/')}/i/{code.strip()}"
    timeout = aiohttp.ClientTimeout(total=15)
    try:
        async with aiohttp.ClientSession(timeout=timeout) as session:
            async with session.post(url) as answer:
                text = await answer.text()
                status = answer.status
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise CommandError(
            f"cannot reach the portal at {portal_url} ({exc}); is `make run` running?"
        ) from None
    fields = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
    if status != 200:
        reason = fields.get("message") or f"HTTP {status}"
        raise CommandError(f"the portal refused the install code: {reason}")
    missing = {"router_id", "mqtt_password", "faskey", "fas_level", "broker_host"} - set(fields)
    if missing:
        raise CommandError(f"the portal's answer lacks {', '.join(sorted(missing))}")
    return fields
