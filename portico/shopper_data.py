"""`portico shopper export|erase`: a shopper's request for their data (PRODUCT.md §5), as far
as precision marketing keeps it (docs/marketing.md, "Privacy: a shopper's export and
erasure"), for the platform's operators acting on a merchant's behalf.

The shopper is named as they are known at the merchant: a phone number or an email address
they logged in with, a voucher code, or their phones' MAC addresses. Each is turned here into
the keyed pseudonym every table keeps (kernel.privacy; nothing typed is stored). Each request
is one entry in the merchant's audit log (`shopper.export`, `shopper.erase`, by "portico
shopper", naming the shopper masked), written in the request's own transaction.

The export is JSON with one section per domain that answered; today `marketing`
(marketing.services.export_shopper: profiles, tags, segments, devices, contact log, the live
stream's kept events). The portal's own records (identities, consents, sessions) are not in it
yet; docs/marketing.md says what is and is not covered.
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
        "shopper", help="a shopper's request: export or erase what marketing keeps of them"
    )
    actions = shopper.add_subparsers(dest="action", required=True)
    export = actions.add_parser(
        "export", help="print (or write) the shopper's data as JSON", description=__doc__
    )
    erase = actions.add_parser(
        "erase", help="erase the shopper's marketing profile and contact log", description=__doc__
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
    shopper: marketing.Shopper
    shown: str  # how the audit log names the shopper (masked)


async def name_shopper(
    db: asyncpg.Pool | asyncpg.Connection, secret_key: str, args: argparse.Namespace
) -> Named:
    """The merchant and the shopper a request names (CommandError when it cannot be read)."""
    merchant_id = await _merchant(db, args.merchant)
    given = [x for x in (args.phone, args.email, args.voucher) if x]
    if len(given) > 1:
        raise CommandError("name the shopper by one of --phone, --email or --voucher (and --mac)")
    identity, shown = None, []
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
            identity, shown = (
                voucher_holder(secret_key, merchant_id, code),
                [f"voucher …{code[-3:]}"],
            )
    except PorticoError as exc:
        raise CommandError(f"cannot read the shopper's {exc.message_id}: {exc}") from None
    devices = []
    for typed in args.mac:
        mac = normalize_mac(typed)
        if mac is None:
            raise CommandError(f"{typed!r} is not a MAC address")
        devices.append(device_hash(secret_key, str(merchant_id), mac))
        shown.append(f"device …{mac[-5:]}")
    if identity is None and not devices:
        raise CommandError("name the shopper: --phone, --email, --voucher or --mac")
    return Named(merchant_id, marketing.Shopper(identity, tuple(devices)), ", ".join(shown))


async def _merchant(db: asyncpg.Pool | asyncpg.Connection, text: str) -> uuid.UUID:
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
    conn: asyncpg.Connection, named: Named, action: str, counts: dict[str, int]
) -> None:
    """The request's entry in the merchant's audit log, in the request's transaction."""
    await audit.record_change(
        conn, named.merchant_id, ACTOR, action, target_name=named.shown, after=counts
    )


async def export(
    db: asyncpg.Pool, secret_key: str, args: argparse.Namespace, out: TextIO = sys.stdout
) -> dict[str, Any]:
    """The shopper's data as JSON (to `args.out` or `out`), and its audit entry."""
    named = await name_shopper(db, secret_key, args)
    async with db.acquire() as conn, conn.transaction():
        data = await marketing.export_shopper(conn, named.merchant_id, named.shopper)
        counts = {name: len(data[name]) for name in ("profiles", "contacts", "events")}
        await _logged(conn, named, "shopper.export", counts)
    document = {
        "merchant_id": str(named.merchant_id),
        "requested_at": datetime.now(UTC).isoformat(),
        "shopper": named.shown,
        "marketing": data,
    }
    text = json.dumps(document, ensure_ascii=False, indent=2) + "\n"
    if args.out:
        args.out.write_text(text, encoding="utf-8")
        out.write(f"Exported {named.shown} to {args.out}.\n")
    else:
        out.write(text)
    return document


async def erase(
    db: asyncpg.Pool,
    secret_key: str,
    args: argparse.Namespace,
    out: TextIO = sys.stdout,
    confirm: Any = input,
) -> marketing.Erased | None:
    """Erase the shopper's marketing data after a confirmation (`--yes`: none), with its audit
    entry in the same transaction; None when not confirmed."""
    named = await name_shopper(db, secret_key, args)
    if not args.yes:
        answer = confirm(f"Erase what marketing keeps of {named.shown}? Type 'erase': ")
        if answer.strip() != "erase":
            out.write("Nothing erased.\n")
            return None
    async with db.acquire() as conn, conn.transaction():
        erased = await marketing.erase_shopper(conn, named.merchant_id, named.shopper)
        await _logged(conn, named, "shopper.erase", dataclasses.asdict(erased))
    out.write(
        f"Erased {named.shown}: {erased.profiles} profile(s), {erased.devices} device link(s), "
        f"{erased.events} event(s); {erased.contacts} contact(s) anonymised"
        + (f"; {erased.opt_outs_kept} opt-out(s) kept" if erased.opt_outs_kept else "")
        + ".\n"
    )
    return erased
