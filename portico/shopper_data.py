"""`portico shopper export|erase`: a shopper's request for their data (PRODUCT.md §5), covering
every domain that keeps records of shoppers (docs/privacy.md), for the platform's operators
acting on a merchant's behalf.

The shopper is named as they are known at the merchant: a phone number or an email address
they logged in with, a voucher code, or their phones' MAC addresses. Each is turned here into
the keyed pseudonym every table keeps (kernel.privacy; nothing typed is stored). Each request
is one entry in the merchant's audit log (`shopper.export`, `shopper.erase`, by "portico
shopper", naming the shopper masked), written in the request's own transaction.

The export is JSON with one section per domain: `marketing` (profiles, tags, segments, devices,
contact log, the live stream's kept events), `portal` (identities, consents, sessions and the
terms they accepted, opt-outs, SMS codes and outbox texts, voucher devices, rate limits, logins
under way), `ads` (coupon claims and redemptions, ad events), `analytics` (events, sightings,
visits, footfall records) and `controller` (routers' telemetry, commands still holding a MAC).
An erasure deletes or anonymises each domain's records in one transaction with the audit entry,
which counts what each domain exported or erased. Each domain answers through its `services`
module's `export_shopper` / `erase_shopper`; the devices a named phone number, email address or
voucher logged in on (the portal's `devices_of`) are the shopper's in every domain.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import asyncpg

import accounts.services as accounts
import ads.services as ads
import analytics.services as analytics
import controller.services as controller
import portal.services as portal
from accounts import audit
from kernel.errors import PorticoError
from kernel.privacy import device_hash, normalize_mac
from marketing import services as marketing
from portal import identities, vouchers
from portico.routers import CommandError
from portico.shopper_stream import voucher_holder

ACTOR = audit.Actor.system("portico shopper")


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    shopper = sub.add_parser(
        "shopper", help="a shopper's request: export or erase what Portico keeps of them"
    )
    actions = shopper.add_subparsers(dest="action", required=True)
    export = actions.add_parser(
        "export", help="print (or write) the shopper's data as JSON", description=__doc__
    )
    erase = actions.add_parser(
        "erase",
        help="erase or anonymise the shopper's records in every domain",
        description=__doc__,
    )
    for action in (export, erase):
        action.add_argument("--merchant", required=True, help="the merchant's id or exact name")
        action.add_argument("--phone", help="a phone number the shopper logged in with")
        action.add_argument("--email", help="an email address the shopper logged in with")
        action.add_argument("--voucher", help="a voucher code the shopper logged in with")
        action.add_argument(
            "--mac", action="append", default=[], help="a MAC address of the shopper's (repeat)"
        )
    export.add_argument("--out", type=Path, help="write the JSON here instead of printing it")
    erase.add_argument("--yes", action="store_true", help="erase without asking")


@dataclass(frozen=True)
class Named:
    merchant_id: uuid.UUID
    shopper: marketing.Shopper  # as marketing knows them (a voucher by its holder's pseudonym)
    shown: str  # how the audit log names the shopper (masked)
    identity: str | None = None  # a phone number's or email address's keyed hash
    voucher: str | None = None  # the voucher code, normalised
    macs: tuple[str, ...] = ()  # normalised; only in memory, to find rows that hold one

    @property
    def at_portal(self) -> portal.PortalShopper:
        return portal.PortalShopper(
            (self.identity,) if self.identity else (),
            self.shopper.device_hashes,
            self.macs,
            self.voucher,
        )


READ_AS = {  # what a typed value was read as, for the error
    "error_bad_phone": "phone number",
    "error_bad_email": "email address",
}


async def name_shopper(
    db: asyncpg.Pool | asyncpg.Connection, secret_key: str, args: argparse.Namespace
) -> Named:
    """The merchant and the shopper a request names (CommandError when it cannot be read)."""
    merchant_id = await merchant_of(db, args.merchant)
    given = [x for x in (args.phone, args.email, args.voucher) if x]
    if len(given) > 1:
        raise CommandError("name the shopper by one of --phone, --email or --voucher (and --mac)")
    identity, code, shown = None, None, []
    try:
        if args.phone:
            found = identities.identify(
                secret_key, merchant_id, "phone", identities.normalize_phone(args.phone)
            )
            identity, shown = found.hash, [found.masked]
        elif args.email:
            found = identities.identify(
                secret_key, merchant_id, "email", identities.normalize_email(args.email)
            )
            identity, shown = found.hash, [found.masked]
        elif args.voucher:
            code = vouchers.normalize_code(args.voucher)
            shown = [f"voucher …{code[-3:]}"]
    except PorticoError as exc:
        what = READ_AS.get(exc.message_id, "voucher code")
        raise CommandError(f"cannot read the shopper's {what}: {exc}") from None
    devices, macs = [], []
    for typed in args.mac:
        mac = normalize_mac(typed)
        if mac is None:
            raise CommandError(f"{typed!r} is not a MAC address")
        macs.append(mac)
        devices.append(device_hash(secret_key, str(merchant_id), mac))
        shown.append(f"device …{mac[-5:]}")
    if identity is None and code is None and not devices:
        raise CommandError("name the shopper: --phone, --email, --voucher or --mac")
    holder = voucher_holder(secret_key, merchant_id, code) if code else identity
    return Named(
        merchant_id,
        marketing.Shopper(holder, tuple(devices)),
        ", ".join(shown),
        identity,
        code,
        tuple(macs),
    )


async def merchant_of(db: asyncpg.Pool | asyncpg.Connection, text: str) -> uuid.UUID:
    """The merchant a --merchant names: its id, or its exact name (CommandError if none)."""
    try:
        merchant_id = uuid.UUID(text)
    except ValueError:
        found = await accounts.merchant_named(db, text)
        if found is None:
            raise CommandError(f"no merchant is called {text!r}") from None
        return found
    if not await accounts.merchant_names(db, [merchant_id]):
        raise CommandError(f"no merchant {merchant_id}")
    return merchant_id


async def _logged(
    conn: asyncpg.Connection, named: Named, action: str, counts: dict[str, dict[str, int]]
) -> None:
    """The request's entry in the merchant's audit log, in the request's transaction: per
    domain, how many of each record (those with none left out)."""
    after = {domain: {k: n for k, n in c.items() if n} for domain, c in counts.items()}
    await audit.record_change(
        conn, named.merchant_id, ACTOR, action, target_name=named.shown, after=after
    )


async def _devices(conn: asyncpg.Connection, named: Named) -> list[str]:
    """The devices named, and those the named identity or voucher logged in on."""
    identities = [named.identity] if named.identity else []
    linked = await portal.devices_of(conn, named.merchant_id, identities, named.voucher)
    return sorted({*named.shopper.device_hashes, *linked})


def _ads_keys(named: Named, devices: list[str]) -> list[str]:
    """Ads counts a shopper by their identity when the portal knew it, else by the device."""
    return sorted({*devices, *([named.identity] if named.identity else [])})


KEYS = ("devices", "identity_hashes")  # whom a section is about, not records


async def export(
    db: asyncpg.Pool, secret_key: str, args: argparse.Namespace, out: TextIO = sys.stdout
) -> dict[str, Any]:
    """The shopper's data as JSON (to `args.out` or `out`), and its audit entry."""
    named = await name_shopper(db, secret_key, args)
    merchant = named.merchant_id
    async with db.acquire() as conn, conn.transaction():
        devices = await _devices(conn, named)
        macs = list(named.macs)
        sections = {
            "marketing": await marketing.export_shopper(conn, merchant, named.shopper),
            "portal": await portal.export_shopper(conn, secret_key, merchant, named.at_portal),
            "ads": await ads.export_shopper(conn, merchant, _ads_keys(named, devices)),
            "analytics": await analytics.export_shopper(conn, secret_key, merchant, devices, macs),
            "controller": await controller.export_shopper(conn, merchant, devices, macs),
        }
        counts = {
            domain: {
                name: len(value)
                for name, value in data.items()
                if isinstance(value, list) and name not in KEYS
            }
            for domain, data in sections.items()
        }
        await _logged(conn, named, "shopper.export", counts)
    document = {
        "merchant_id": str(merchant),
        "requested_at": datetime.now(UTC).isoformat(),
        "shopper": named.shown,
        **sections,
    }
    text = json.dumps(document, ensure_ascii=False, indent=2) + "\n"
    if args.out:
        args.out.write_text(text, encoding="utf-8")
        out.write(f"Exported {named.shown} to {args.out}.\n")
    else:
        out.write(text)
    return document


@dataclass(frozen=True)
class Erased:
    """What each domain erased or anonymised."""

    marketing: marketing.Erased
    portal: portal.PortalErased
    ads: ads.AdsErased
    analytics: analytics.AnalyticsErased
    controller: controller.ControllerErased


async def erase(
    db: asyncpg.Pool,
    secret_key: str,
    args: argparse.Namespace,
    out: TextIO = sys.stdout,
    confirm: Any = input,
) -> Erased | None:
    """Erase the shopper's records in every domain after a confirmation (`--yes`: none), with
    its audit entry in the same transaction; None when not confirmed."""
    named = await name_shopper(db, secret_key, args)
    if not args.yes:
        answer = confirm(f"Erase what Portico keeps of {named.shown}? Type 'erase': ")
        if answer.strip() != "erase":
            out.write("Nothing erased.\n")
            return None
    merchant = named.merchant_id
    async with db.acquire() as conn, conn.transaction():
        devices = await _devices(conn, named)  # before the portal forgets its links
        macs = list(named.macs)
        # Marketing first: it takes the engine's lock in the engine's order (its module).
        erased = Erased(
            marketing=await marketing.erase_shopper(conn, merchant, named.shopper),
            portal=await portal.erase_shopper(conn, secret_key, merchant, named.at_portal),
            ads=await ads.erase_shopper(conn, merchant, _ads_keys(named, devices)),
            analytics=await analytics.erase_shopper(conn, secret_key, merchant, devices, macs),
            controller=await controller.erase_shopper(conn, merchant, devices, macs),
        )
        counts = {
            domain: dataclasses.asdict(getattr(erased, domain))
            for domain in ("marketing", "portal", "ads", "analytics", "controller")
        }
        await _logged(conn, named, "shopper.erase", counts)
    m, p = erased.marketing, erased.portal
    out.write(
        f"Erased {named.shown}.\n"
        f"  marketing: {m.profiles} profile(s), {m.devices} device link(s), {m.events} event(s)"
        f" deleted; {m.contacts} contact(s) anonymised; {m.opt_outs_kept} opt-out(s) kept\n"
        f"  portal: {p.identities} identity(ies), {p.consents} consent(s), {p.device_links}"
        f" device link(s), {p.sms_codes} SMS code(s), {p.sms_outbox} outbox text(s) deleted;"
        f" {p.sessions} session(s) anonymised; {p.opt_outs_kept} opt-out(s) kept\n"
        f"  ads: {_described(erased.ads)}\n"
        f"  analytics: {_described(erased.analytics)}\n"
        f"  controller: {_described(erased.controller)}\n"
    )
    return erased


def _described(erased: object) -> str:
    counts = dataclasses.asdict(erased)  # type: ignore[call-overload]
    return ", ".join(f"{n} {name.replace('_', ' ')}" for name, n in counts.items())
