"""What the console's Marketing pages share (marketing/console_pages.py, console_triggers.py,
console_budget.py): whose page it is, reading a form, and the rule builder with its audience
size."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from accounts import services as accounts
from accounts.web import NotYours, OwnersOnly, choose_membership, request_language
from kernel.web import DB
from marketing import audience, rule_form, rules, tags
from marketing.rule_form import RuleForm

PATH = "/marketing"
ACTIONS = ("save", "preview", "add_row")  # a form's buttons (`action`)
_WHOLE = re.compile(r"^\d{1,6}$")
_SHOWN = 400  # characters of a typed value shown back


# Whose page ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Place:
    """The merchant a page is about, checked against the user's memberships."""

    membership: accounts.Membership
    memberships: list[accounts.Membership]
    user_id: uuid.UUID

    @property
    def merchant_id(self) -> uuid.UUID:
        return self.membership.merchant_id

    @property
    def owner(self) -> bool:
        return self.membership.role == "owner"

    def url(self, path: str = PATH, **more: str) -> str:
        return f"{path}?{urlencode({'merchant': str(self.merchant_id)} | more)}"


async def find_place(
    request: web.Request, session: accounts.ConsoleSession, asked: str | None, *, owner: bool
) -> Place | None:
    """The merchant named by `merchant` (one of the user's, else NotYours), by default the
    user's first; None when the user belongs to none. `owner`: the page changes something,
    OwnersOnly for staff."""
    db = request.app[DB]
    memberships = await accounts.memberships_of(db, session.user.user_id)
    membership = choose_membership(memberships, asked)
    if membership is None:
        return None
    if owner and membership.role != "owner":
        raise OwnersOnly(f"user is staff, not an owner, of merchant {membership.merchant_id}")
    return Place(membership, memberships, session.user.user_id)


async def need_place(
    request: web.Request, session: accounts.ConsoleSession, asked: str | None, *, owner: bool
) -> Place:
    """find_place, for a page about one merchant: NotYours for a user of none."""
    place = await find_place(request, session, asked, owner=owner)
    if place is None:
        raise NotYours("the user belongs to no merchant")
    return place


def asked(request: web.Request, form: Mapping[str, Any] | None = None) -> str | None:
    """The `merchant` of the form, else of the query."""
    value = form.get("merchant") if form is not None else None
    return value if isinstance(value, str) and value else request.query.get("merchant")


# Reading a form ------------------------------------------------------------------------------


def text(form: Mapping[str, Any], name: str, limit: int = _SHOWN) -> str:
    value = form.get(name)
    return value.strip()[:limit] if isinstance(value, str) else ""


def whole(typed: str) -> int | None:
    return int(typed) if _WHOLE.match(typed) else None


def form_action(form: Mapping[str, Any], allowed: tuple[str, ...] = ACTIONS) -> str:
    """The button pressed (`action`); Save for none, or one the form does not have."""
    action = text(form, "action")
    return action if action in allowed else "save"


# The rule builder and the audience size -------------------------------------------------------


def tag_names(found: list[tags.Tag], language: str) -> dict[str, str]:
    return {t.tag_id: t.name_zh if language == "zh-CN" else t.name_en for t in found}


def stored_rule(value: Any) -> rules.Rule:
    """A rule column's value (JSON text or already decoded)."""
    return json.loads(value) if isinstance(value, str) else value


def rule_text(rule: rules.Rule) -> str:
    """A rule as the audit log keeps it: its JSON, compact, keys sorted (as PostgreSQL's jsonb
    gives them back in an order of its own)."""
    return json.dumps(rule, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


@dataclass
class Preview:
    """What Preview shows: the rule in words and how many shoppers it matches now."""

    words: str
    count: int


async def preview(
    request: web.Request, place: Place, rule: rules.Rule, names: Mapping[str, str]
) -> Preview:
    language = request_language(request)
    count = await audience.count_matching(
        request.app[DB], place.merchant_id, rule, datetime.now(UTC)
    )
    return Preview(rules.describe(rule, language, names), count)


@dataclass(frozen=True)
class Choices:
    """What the rule builder's selects offer: facts by kind, the tags to tick."""

    number_facts: list[tuple[str, str]]
    flag_facts: list[tuple[str, str]]
    tags: list[tuple[str, str, bool]]  # (tag id, name, enabled)


@dataclass(frozen=True)
class Ops:
    """The comparisons of the rule builder's second select, with their labels' message ids."""

    numbers: tuple[tuple[str, str], ...] = tuple(
        zip(
            rule_form.NUMBER_OPS,
            ("mkc_op_ge", "mkc_op_gt", "mkc_op_le", "mkc_op_lt", "mkc_op_eq", "mkc_op_ne"),
            strict=True,
        )
    )
    flags: tuple[tuple[str, str], ...] = (("yes", "mkc_op_yes"), ("no", "mkc_op_no"))


OPS = Ops()


def rule_context(
    request: web.Request,
    found: list[tags.Tag],
    shape: RuleForm,
    saved: rules.Rule | None,
    *,
    extra: int,
    exclude: str | None,
) -> dict[str, Any]:
    """The rule builder's values for its template (marketing/rule_builder.html): the rows to
    draw (`extra` more), the saved rule in words and whether the rows can show it, the facts
    and tags to choose from (`exclude`: the tag being edited)."""
    language = request_language(request)
    zh = language == "zh-CN"
    facts = [(n, f.zh if zh else f.en, f.kind) for n, f in rules.FACTS.items()]
    names = tag_names(found, language)
    return {
        "rows": shape.shown_rows(extra),
        "unshaped": saved is not None and rule_form.from_rule(saved) is None,
        "current_words": rules.describe(saved, language, names) if saved is not None else "",
        "choices": Choices(
            number_facts=[(n, label) for n, label, kind in facts if kind == "count"],
            flag_facts=[(n, label) for n, label, kind in facts if kind == "flag"],
            tags=[(t.tag_id, names[t.tag_id], t.enabled) for t in found if t.tag_id != exclude],
        ),
        "ops": OPS,
    }
