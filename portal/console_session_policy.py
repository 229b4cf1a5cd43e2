"""A store's session policy, set on the console's Logins page (portal/console_logins.py) in a
section and form of its own (portal/templates/portal/console_session_policy.html): session
length, idle timeout, download and upload rates, data quotas, and extensions (docs/logins.md,
"Session policy").

Each field is checked against what every part downstream accepts: portal_settings' CHECKs
(migrations 0001, 0020) and the router agent's bounds on a grant (docs/mqtt-contract.md, op
`auth`: 0…10,000,000 for rates in kbit/s and quotas in kB). Quotas are typed in MB and kept
in kB (1 MB = 1,024 kB). Extensions need both a length and a count (one without the other
would offer nothing). A bad field comes back beside its input; nothing is stored.
"""

from __future__ import annotations

import dataclasses
import re
import uuid
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from aiohttp import web
from multidict import MultiDictProxy

from accounts import audit
from accounts import services as accounts
from accounts.web import SESSION
from kernel.sql import load_queries
from kernel.web import DB
from portal import changes

queries = load_queries(__file__, "console_session_policy.sql")

FORM = "session"  # the hidden `form` field of the section's form
AGENT_MAX = 10_000_000  # the agent's bound on a grant's rates (kbit/s) and quotas (kB)
# field -> (lowest, highest, message of its unit); quotas in MB
LIMITS: dict[str, tuple[int, int]] = {
    "session_minutes": (1, 10080),  # portal_settings CHECK: a week at most
    "idle_minutes": (0, 1440),
    "down_kbps": (0, AGENT_MAX),
    "up_kbps": (0, AGENT_MAX),
    "down_quota_mb": (0, AGENT_MAX // 1024),
    "up_quota_mb": (0, AGENT_MAX // 1024),
    "extend_minutes": (0, 10080),
    "max_extensions": (0, 10),
}
_WHOLE = re.compile(r"^\d{1,8}$")
_SHOWN = 20  # characters of a typed value shown back in its field

Error = tuple[str, dict[str, object]]


@dataclass(frozen=True)
class SessionPolicy:
    session_minutes: int = 60
    idle_minutes: int = 0
    up_kbps: int = 0
    down_kbps: int = 0
    up_quota_kb: int = 0
    down_quota_kb: int = 0
    extend_minutes: int = 0
    max_extensions: int = 0

    def shown(self) -> dict[str, str]:
        """The form's values (quotas in MB, rounded up)."""
        return {
            "session_minutes": str(self.session_minutes),
            "idle_minutes": str(self.idle_minutes),
            "down_kbps": str(self.down_kbps),
            "up_kbps": str(self.up_kbps),
            "down_quota_mb": str(-(-self.down_quota_kb // 1024)),
            "up_quota_mb": str(-(-self.up_quota_kb // 1024)),
            "extend_minutes": str(self.extend_minutes),
            "max_extensions": str(self.max_extensions),
        }


@dataclass
class PolicyForm:
    """The section's form sent back (the page's Submitted: form, values, errors)."""

    form: str = FORM
    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, Error] = field(default_factory=dict)


async def current(
    db: asyncpg.Pool | asyncpg.Connection, merchant_id: uuid.UUID, store_id: uuid.UUID
) -> SessionPolicy:
    """The store's policy (the platform's defaults for a store without portal settings)."""
    row = await db.fetchrow(queries.session_policy, merchant_id, store_id)
    return SessionPolicy(**dict(row)) if row else SessionPolicy()


def parse(form: MultiDictProxy[Any]) -> tuple[SessionPolicy | None, PolicyForm]:
    """The policy a form asks for, or None and the errors beside each bad field."""
    submitted = PolicyForm()
    numbers: dict[str, int] = {}
    for name, (low, high) in LIMITS.items():
        value = form.get(name)
        text = value.strip() if isinstance(value, str) else ""
        submitted.values[name] = text[:_SHOWN]
        if not _WHOLE.match(text) or not low <= int(text) <= high:
            submitted.errors[name] = ("ps_error_range", {"low": low, "high": high})
        else:
            numbers[name] = int(text)
    extend, count = numbers.get("extend_minutes"), numbers.get("max_extensions")
    if extend is not None and count is not None and bool(extend) != bool(count):
        submitted.errors["max_extensions"] = ("ps_error_extend_pair", {})
    if submitted.errors:
        return None, submitted
    policy = SessionPolicy(
        session_minutes=numbers["session_minutes"],
        idle_minutes=numbers["idle_minutes"],
        up_kbps=numbers["up_kbps"],
        down_kbps=numbers["down_kbps"],
        up_quota_kb=numbers["up_quota_mb"] * 1024,
        down_quota_kb=numbers["down_quota_mb"] * 1024,
        extend_minutes=numbers["extend_minutes"],
        max_extensions=numbers["max_extensions"],
    )
    return policy, submitted


async def save(
    db: asyncpg.Pool | asyncpg.Connection,
    merchant_id: uuid.UUID,
    store_id: uuid.UUID,
    store_name: str,
    policy: SessionPolicy,
) -> None:
    """Store the policy; new logins get it within seconds (portal.stores' cache), running
    sessions keep the one they were granted."""
    await db.execute(
        queries.save_session_policy,
        merchant_id,
        store_id,
        policy.session_minutes,
        policy.idle_minutes,
        policy.up_kbps,
        policy.down_kbps,
        policy.up_quota_kb,
        policy.down_quota_kb,
        policy.extend_minutes,
        policy.max_extensions,
        store_name,
    )


async def save_form(
    request: web.Request, store: accounts.Store, form: MultiDictProxy[Any]
) -> PolicyForm:
    """The Logins page's handler of this section's form: saved when it is good."""
    policy, submitted = parse(form)
    if policy is not None:
        async with request.app[DB].acquire() as conn, conn.transaction():
            before = await current(conn, store.merchant_id, store.store_id)
            await save(conn, store.merchant_id, store.store_id, store.name, policy)
            await changes.record_store_change(
                conn,
                store.merchant_id,
                store.store_id,
                store.name,
                audit.Actor.user(request[SESSION].user.user_id),
                "session_policy.update",
                dataclasses.asdict(before),
                dataclasses.asdict(policy),
            )
    return submitted
