"""A change to a store's portal settings, in the merchant's audit log (accounts.audit): the
fields that changed, before and after, on the change's own connection and transaction. Used by
the console's Portal settings and Logins pages."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

import asyncpg

from accounts import audit


def changed(
    before: Mapping[str, Any], after: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Only the fields of `after` whose value differs from `before`: (before, after)."""
    names = [name for name in after if before.get(name) != after[name]]
    return {n: before.get(n) for n in names}, {n: after[n] for n in names}


async def record_store_change(
    conn: asyncpg.Connection,
    merchant_id: uuid.UUID,
    store_id: uuid.UUID,
    store_name: str,
    actor: audit.Actor,
    action: str,
    before: Mapping[str, Any],
    after: Mapping[str, Any],
) -> bool:
    """Record the fields that changed (False, and nothing recorded, when none did)."""
    old, new = changed(before, after)
    if not new:
        return False
    await audit.record_change(
        conn,
        merchant_id,
        actor,
        action,
        target_id=store_id,
        target_name=store_name,
        before=old,
        after=new,
    )
    return True
