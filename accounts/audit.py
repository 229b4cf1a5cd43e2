"""The merchant's audit log: who changed what, when, and the record before and after.

Every domain records its console changes with `record_change`, on the connection (and so in the
transaction) of the change itself: a change that rolls back leaves no entry, and no entry is
missing for a change that stayed. The merchant's owners read the log on the console's Audit log
page (accounts/audit_page.py), newest first. `before` and `after` are JSON objects of the
record's fields as the console shows them (no secrets: no password hashes, tokens or raw MAC
addresses); None for a record that did not exist before or does not exist after.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import asyncpg

from kernel.sql import load_queries

__all__ = ["Actor", "AuditEntry", "entries", "record_change", "record_change_at_each"]

queries = load_queries(__file__, "audit.sql")

_ACTION = re.compile(r"^[a-z_]+\.[a-z_]+$")  # "store.create": what kind of record, what was done
MAX_PAGE = 200

Executor = asyncpg.Connection | asyncpg.Pool


@dataclass(frozen=True)
class Actor:
    """Who made a change: a console user, or the platform itself under a label (the command
    line, the demo seed)."""

    user_id: uuid.UUID | None
    label: str = ""

    @classmethod
    def user(cls, user_id: uuid.UUID) -> Actor:
        return cls(user_id)

    @classmethod
    def system(cls, label: str) -> Actor:
        return cls(None, label)


@dataclass(frozen=True)
class AuditEntry:
    entry_id: int
    at: datetime
    actor_id: uuid.UUID | None
    actor_label: str
    actor_name: str | None
    actor_email: str | None
    action: str
    target_id: str
    target_name: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None

    def changes(self) -> list[tuple[str, Any, Any]]:
        """(field, before, after) of each field whose value differs, in a stable order."""
        before, after = self.before or {}, self.after or {}
        names = list(after) + [k for k in before if k not in after]
        return [(k, before.get(k), after.get(k)) for k in names if before.get(k) != after.get(k)]


async def record_change(
    conn: Executor,
    merchant_id: uuid.UUID,
    actor: Actor,
    action: str,
    *,
    target_id: object = "",
    target_name: str = "",
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
) -> int:
    """Record one change at the merchant and return its entry's id. `action` is
    "<record>.<verb>" (store.create, store.update, merchant.create); `target_id` and
    `target_name` name the record changed. Call it in the change's own transaction."""
    values = _entry(actor, action, target_id, target_name, before, after)
    return await conn.fetchval(queries.insert_entry, merchant_id, *values)


async def record_change_at_each(
    conn: Executor,
    merchant_ids: Sequence[uuid.UUID],
    actor: Actor,
    action: str,
    *,
    target_id: object = "",
    target_name: str = "",
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
) -> int:
    """Record one change of a record that many merchants share (a plan's limits) in the log of
    each of `merchant_ids`, in one statement; how many entries were made. As record_change
    otherwise."""
    values = _entry(actor, action, target_id, target_name, before, after)
    await conn.execute(queries.insert_entries, list(merchant_ids), *values)
    return len(merchant_ids)


def _entry(
    actor: Actor,
    action: str,
    target_id: object,
    target_name: str,
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any] | None,
) -> tuple[object, ...]:
    """An entry's values but its merchant, checked and cut to the table's lengths."""
    if not _ACTION.match(action):
        raise ValueError(f"audit action {action!r} is not '<record>.<verb>'")
    if actor.user_id is None and not actor.label:
        raise ValueError("a change made by no user needs a label saying who made it")
    return (
        actor.user_id,
        actor.label[:80],
        action,
        str(target_id)[:200],
        target_name[:200],
        _jsonable(before),
        _jsonable(after),
    )


async def entries(
    db: Executor, merchant_id: uuid.UUID, older_than: int | None = None, limit: int = 50
) -> list[AuditEntry]:
    """A page of the merchant's log, newest first: the `limit` entries before `older_than`
    (None: the newest). The caller has checked the user may read this merchant's log."""
    if not 1 <= limit <= MAX_PAGE:
        raise ValueError(f"a page has 1 to {MAX_PAGE} entries, not {limit}")
    rows = await db.fetch(queries.entries, merchant_id, older_than, limit)
    return [AuditEntry(**dict(r)) for r in rows]


def _jsonable(value: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A JSON object of the record: ids, dates and times as text, nested values kept."""
    if value is None:
        return None
    return {str(k): _plain(v) for k, v in value.items()}


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, uuid.UUID | datetime | date):
        return str(value) if isinstance(value, uuid.UUID) else value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    raise TypeError(f"an audit value of type {type(value).__name__} has no JSON form")
