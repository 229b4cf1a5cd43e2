"""The console's Audit log page, /audit: every change recorded at the merchant
(accounts/audit.py), newest first, a page at a time, for the merchant's owners only (staff get
403; another merchant's id is a 404). Times are in the merchant's stores' time zone when they
share one, else UTC. A page ends with a link to the entries older than its last.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from accounts import audit
from accounts import services as accounts
from accounts.web import (
    CATALOG,
    NotYours,
    login_required,
    owned_membership,
    render_page,
    request_language,
)
from kernel.i18n import translator
from kernel.web import DB

PATH = "/audit"
PAGE_SIZE = 50
_ENTRY_ID = re.compile(r"[0-9]{1,18}")
_SHOWN = 300  # characters of one value shown in a change
# Fields whose values are codes with texts of their own: field -> the texts' message id prefix.
CODED = {
    "category": "cat_",
    "role": "role_",
    "status": "au_status_",
    "outcome": "au_outcome_",
    "plan": "plan_",
    "max_stores": "au_limit_",  # a plan's limit: a number, or "unlimited"
    "max_routers": "au_limit_",
    "max_seats": "au_limit_",
}
# Records whose id is a code with texts of its own (a plan): record -> the texts' prefix.
CODED_TARGETS = {"plan": "plan_"}


@dataclass(frozen=True)
class Change:
    field: str
    before: str
    after: str


@dataclass(frozen=True)
class Row:
    entry_id: int
    when: str
    who: str
    who_detail: str
    action: str
    target: str
    changes: list[Change]


async def audit_page(request: web.Request, session: accounts.ConsoleSession) -> web.Response:
    db = request.app[DB]
    memberships = await accounts.memberships_of(db, session.user.user_id)
    merchant = owned_membership(memberships, request.query.get("merchant"))
    older_than = _entry_param(request.query.get("before"))
    rows: list[Row] = []
    zone, has_older = "UTC", False
    if merchant is not None:
        zone = await accounts.merchant_zone(db, merchant.merchant_id)
        found = await audit.entries(db, merchant.merchant_id, older_than, PAGE_SIZE + 1)
        has_older = len(found) > PAGE_SIZE
        _ = translator(request.app[CATALOG], request_language(request))
        rows = [_row(entry, zone, _) for entry in found[:PAGE_SIZE]]
    return render_page(
        request,
        "accounts/audit.html",
        memberships=[m for m in memberships if m.role == "owner"],
        merchant=merchant,
        rows=rows,
        zone=zone,
        first_page=older_than is None,
        has_older=has_older,
        path=PATH,
    )


def _entry_param(text: str | None) -> int | None:
    if not text:
        return None
    if not _ENTRY_ID.fullmatch(text):
        raise NotYours(f"audit entry {text[:20]!r}")
    return int(text)


def _row(entry: audit.AuditEntry, zone: str, _: Any) -> Row:
    if entry.actor_id is not None:
        who = entry.actor_name or _("au_former_user")
        detail = entry.actor_email or ""
    else:
        who, detail = _("au_by_platform"), entry.actor_label
    return Row(
        entry_id=entry.entry_id,
        when=entry.at.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M:%S"),
        who=who,
        who_detail=detail,
        action=_label(_, f"au_action_{entry.action.replace('.', '_')}", entry.action),
        target=_target(entry, _),
        changes=[
            Change(_label(_, f"au_field_{name}", name), _shown(name, old, _), _shown(name, new, _))
            for name, old, new in entry.changes()
        ],
    )


def _target(entry: audit.AuditEntry, _: Any) -> str:
    """The record's name; a coded one's (a plan's) in the page's language."""
    named = entry.target_name or entry.target_id
    prefix = CODED_TARGETS.get(entry.action.split(".")[0])
    return _label(_, f"{prefix}{entry.target_id}", named) if prefix else named


def _label(_: Any, message_id: str, fallback: str) -> str:
    text = _(message_id)
    return fallback if text == message_id else text


def _shown(name: str, value: Any, _: Any) -> str:
    """A field's value as the page says it: a coded value by its label (a category, a role),
    an object as "key value" pairs (weekdays by their names), nothing as a dash."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return _("au_yes") if value else _("au_no")
    if isinstance(value, dict):  # a key by its weekday's name, or as the field names it
        pairs = (
            f"{_label(_, f'wd_{k}', _label(_, f'au_field_{name}_{k}', k))} {_shown(k, v, _)}"
            for k, v in value.items()
        )
        text = ", ".join(pairs) or "—"
    elif isinstance(value, list):  # a member's stores: their names
        text = ", ".join(_shown(name, v, _) for v in value) or "—"
    elif isinstance(value, str):
        prefix = CODED.get(name)
        text = _label(_, f"{prefix}{value}", value) if prefix else value
    else:
        text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= _SHOWN else text[: _SHOWN - 1] + "…"


def add_routes(router: web.UrlDispatcher) -> None:
    """The Audit log page on the console (the composition root calls this)."""
    router.add_get(PATH, login_required(audit_page), name="audit_log")
