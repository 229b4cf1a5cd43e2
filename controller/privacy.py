"""A shopper's export and erasure requests, for what the controller keeps of them (PRODUCT.md
§5; docs/privacy.md says what each table keeps and why): the routers' station and usage
telemetry that names the device by its pseudonym (kept 30 days), and a command to a router
that still carries the device's raw MAC (its first 10 minutes).

- `export_shopper`: that telemetry summed per router, type and day; those commands.
- `erase_shopper`, in the caller's transaction: the telemetry is deleted; the commands lose
  the MAC and the hid as the retention job's scrub would 10 minutes on (the command itself
  stays: what was done, to which router, when and by whom).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from kernel.jsonable import plain
from kernel.sql import load_queries

queries = load_queries(__file__, "privacy.sql")


@dataclass(frozen=True)
class ControllerErased:
    telemetry: int  # events deleted
    commands: int  # MACs scrubbed


async def export_shopper(
    conn: asyncpg.Connection,
    merchant_id: uuid.UUID,
    devices: Sequence[str],
    macs: Sequence[str] = (),
) -> dict[str, Any]:
    """What the controller keeps of these devices (pseudonyms) and MACs, as JSON-ready data."""
    telemetry = await conn.fetch(queries.telemetry, merchant_id, sorted(set(devices)))
    commands = await conn.fetch(queries.commands, merchant_id, sorted(set(macs)))
    return {
        "telemetry": [plain(dict(r)) for r in telemetry],
        "commands": [plain(dict(r)) for r in commands],
    }


async def erase_shopper(
    conn: asyncpg.Connection,
    merchant_id: uuid.UUID,
    devices: Sequence[str],
    macs: Sequence[str] = (),
) -> ControllerErased:
    """Erase what the controller keeps of these devices and MACs (see the module), in the
    caller's transaction (ValueError without one)."""
    if not conn.is_in_transaction():
        raise ValueError("erase_shopper runs in the caller's transaction")
    telemetry = await conn.execute(queries.erase_telemetry, merchant_id, sorted(set(devices)))
    commands = await conn.execute(queries.erase_command_macs, merchant_id, sorted(set(macs)))
    return ControllerErased(_count(telemetry), _count(commands))


def _count(status: str) -> int:
    return int(status.rsplit(" ", 1)[-1])
