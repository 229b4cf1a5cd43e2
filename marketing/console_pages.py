"""The merchant console's Marketing pages (docs/marketing.md, "The console"): tags, triggers and
the contact budget, built with forms in zh-CN and English.

- `/marketing`: a merchant's tags (the rule in words, its version, how many shoppers hold it
  now), triggers (event, store, channel, contacts of the last 7 days by status) and contact
  budget (this module);
- `/marketing/tags/new`, `/marketing/tags/<id>`: a tag's names and its rule, built from rows of
  [fact] [comparison] [value] combined with "all" or "any" and tags to hold
  (marketing/rule_form.py), without code or script (this module);
- `/marketing/triggers/new`, `/marketing/triggers/<id>`: marketing/console_triggers.py;
- `/marketing/budget`: marketing/console_budget.py.
- `/marketing/segments`, `/marketing/segments/new`, `/marketing/segments/<id>`:
  marketing/console_segments.py.

A form's buttons: Preview shows the rule in words and how many shoppers it matches now
(marketing/audience.py) without saving; "Add a row" draws the form again with one more row;
Save stores it (tags: marketing.tags.save_tag, a new version when the rule changes) with its
audit entry in the same transaction, and goes back to the overview. A form with a bad field
comes back (400) with the error beside the field in the page's language, nothing stored.

Every member of a merchant may look (staff see the pages read-only, their stores only); only an
owner may change anything, preview or send a test (staff: 403). A merchant, tag or trigger that
is not the user's is a 404.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from aiohttp import web

from accounts import audit
from accounts import services as accounts
from accounts.web import NotYours, login_required, redirect, render_page, request_language
from kernel.sql import load_queries
from kernel.web import DB
from marketing import console_common as common
from marketing import console_reports, rule_form, rules, tags
from marketing.console_budget import BUDGET_PATH, budget_page, read_budget, save_budget
from marketing.console_segments import add_routes as add_segment_routes
from marketing.console_segments import segment_rows
from marketing.console_triggers import TRIGGERS_PATH, save_trigger, trigger_page
from marketing.rule_form import Error, RuleForm

queries = load_queries(__file__, "console_pages.sql")

TAGS_PATH = common.PATH + "/tags"
RECENT = timedelta(days=7)  # the overview's contacts
STATUSES = ("sent", "delivered", "pending", "failed", "holdout", "suppressed")
NOTICES = {
    "tag_added": "mkc_notice_tag_added",
    "tag_saved": "mkc_notice_tag_saved",
    "trigger_added": "mkc_notice_trigger_added",
    "trigger_saved": "mkc_notice_trigger_saved",
    "budget_saved": "mkc_notice_budget_saved",
    "unchanged": "mkc_notice_unchanged",
}
NAME_MAX = 40  # a tag's names (marketing_tags' CHECKs)


def add_routes(router: web.UrlDispatcher) -> None:
    """The Marketing pages (portico/console_app.py calls this)."""
    router.add_get(common.PATH, login_required(overview), name="marketing")
    for path, name, show, save in (
        (TAGS_PATH + "/new", "marketing_tag_new", tag_page, save_tag),
        (TAGS_PATH + "/{tag_id}", "marketing_tag", tag_page, save_tag),
        (TRIGGERS_PATH + "/new", "marketing_trigger_new", trigger_page, save_trigger),
        (TRIGGERS_PATH + "/{trigger_id}", "marketing_trigger", trigger_page, save_trigger),
        (BUDGET_PATH, "marketing_budget", budget_page, save_budget),
    ):
        resource = router.add_resource(path, name=name)
        resource.add_route("GET", login_required(show))
        resource.add_route("POST", login_required(save))
    add_segment_routes(router)  # /marketing/segments: marketing/console_segments.py
    console_reports.add_routes(router)  # /marketing/triggers/<id>/report


# The overview --------------------------------------------------------------------------------


@dataclass(frozen=True)
class TagRow:
    tag: tags.Tag
    name: str
    words: str
    holders: int


@dataclass(frozen=True)
class TriggerRow:
    trigger_id: uuid.UUID
    name: str
    event: str
    dwell_minutes: int | None
    store: str | None  # None: every store; "": a store the user is not given
    channel: str
    enabled: bool
    contacts: list[tuple[str, int]]  # (status, count) of the last 7 days


async def overview(request: web.Request, session: accounts.ConsoleSession) -> web.Response:
    place = await common.find_place(request, session, request.query.get("merchant"), owner=False)
    context: dict[str, Any] = {"place": place}
    if place is not None:
        db = request.app[DB]
        language = request_language(request)
        await tags.ensure_defaults(db, place.merchant_id)
        found = await tags.list_tags(db, place.merchant_id)
        names = common.tag_names(found, language)
        holders = {
            r["tag_id"]: r["holders"]
            for r in await db.fetch(queries.tag_holders, place.merchant_id)
        }
        since = datetime.now(UTC) - RECENT
        counts: dict[uuid.UUID, dict[str, int]] = {}
        for r in await db.fetch(queries.recent_contacts, place.merchant_id, since):
            counts.setdefault(r["trigger_id"], {})[r["status"]] = r["contacts"]
        visible = await accounts.visible_stores(db, place.merchant_id, place.user_id)
        stores = {s.store_id: s.name for s in visible}
        context |= {
            "tags": [
                TagRow(
                    t,
                    names[t.tag_id],
                    rules.describe(t.rule, language, names),
                    holders.get(t.tag_id, 0),
                )
                for t in found
            ],
            "triggers": [
                TriggerRow(
                    trigger_id=r["trigger_id"],
                    name=r["name_zh"] if language == "zh-CN" else r["name_en"],
                    event=r["event"],
                    dwell_minutes=r["dwell_minutes"],
                    store=stores.get(r["store_id"], "") if r["store_id"] else None,
                    channel=r["channel"],
                    enabled=r["enabled"],
                    contacts=_by_status(counts.get(r["trigger_id"], {})),
                )
                for r in await db.fetch(queries.triggers_of, place.merchant_id)
            ],
            "settings": await read_budget(db, place.merchant_id),
            "segments": await segment_rows(db, place.merchant_id, language, names),
            "notice": NOTICES.get(request.query.get("notice", "")),
        }
    return render_page(
        request,
        "marketing/overview.html",
        memberships=place.memberships if place else [],
        merchant=place.membership if place else None,
        path=common.PATH,
        **context,
    )


def _by_status(counts: dict[str, int]) -> list[tuple[str, int]]:
    """A trigger's contacts by status, in STATUSES' order, those it has."""
    return [(status, counts[status]) for status in STATUSES if counts.get(status)]


# Tags ----------------------------------------------------------------------------------------


def _tag_circle(found: list[tags.Tag], tag_id: str, required: list[str]) -> list[str]:
    """The tags among `required` that read `tag_id` (directly or through others): requiring
    one would make the tags read each other in a circle."""
    reads = {t.tag_id: rules.tags_used(t.rule) for t in found}

    def reaches(start: str) -> bool:
        seen, todo = set(), [start]
        while todo:
            current = todo.pop()
            if current == tag_id:
                return True
            if current not in seen:
                seen.add(current)
                todo.extend(reads.get(current, ()))
        return False

    return [t for t in required if reaches(t)]


@dataclass
class TagForm:
    tag_id: str
    name_zh: str
    name_en: str
    enabled: bool
    shape: RuleForm
    replace_rule: bool = False  # a stored rule the rows cannot show: replaced by the rows


async def tag_page(request: web.Request, session: accounts.ConsoleSession) -> web.Response:
    tag_id = request.match_info.get("tag_id")
    place = await common.need_place(request, session, common.asked(request), owner=tag_id is None)
    db = request.app[DB]
    await tags.ensure_defaults(db, place.merchant_id)
    found = await tags.list_tags(db, place.merchant_id)
    current = _tag_of(found, tag_id)
    if current is None:
        values = TagForm("", "", "", True, RuleForm())
    else:
        shape = rule_form.from_rule(current.rule)
        values = TagForm(
            current.tag_id, current.name_zh, current.name_en, current.enabled, shape or RuleForm()
        )
    return _tag_render(request, place, found, current, values, {})


def _tag_of(found: list[tags.Tag], tag_id: str | None) -> tags.Tag | None:
    """The tag of the path (None on the new tag's page); another merchant's or none: 404."""
    if tag_id is None:
        return None
    tag = next((t for t in found if t.tag_id == tag_id), None)
    if tag is None:
        raise NotYours(f"the merchant has no tag {tag_id[:40]!r}")
    return tag


async def save_tag(request: web.Request, session: accounts.ConsoleSession) -> web.Response:
    form = await request.post()
    tag_id = request.match_info.get("tag_id")
    place = await common.need_place(request, session, common.asked(request, form), owner=True)
    db = request.app[DB]
    await tags.ensure_defaults(db, place.merchant_id)
    found = await tags.list_tags(db, place.merchant_id)
    current = _tag_of(found, tag_id)
    action = common.form_action(form)
    values = TagForm(
        tag_id=current.tag_id if current else common.text(form, "tag_id", 60),
        name_zh=common.text(form, "name_zh", 100),
        name_en=common.text(form, "name_en", 100),
        enabled=common.text(form, "enabled") == "1",
        shape=rule_form.read(form),
        replace_rule=common.text(form, "replace_rule") == "1",
    )
    if action == "add_row":
        return _tag_render(request, place, found, current, values, {}, extra=1)
    rule, rule_errors = _tag_rule(current, values, found)
    if action == "preview":  # the rule alone: names can come later
        if rule is None:
            return _tag_render(request, place, found, current, values, rule_errors, status=400)
        names = common.tag_names(found, request_language(request))
        shown = await common.preview(request, place, rule, names)
        return _tag_render(request, place, found, current, values, {}, preview=shown)
    errors: dict[str, Error] = {}
    if current is None and not rules.TAG_ID.match(values.tag_id):
        errors["tag_id"] = ("mkc_err_tag_id", {})
    elif current is None and values.tag_id in tags.RESERVED_IDS:
        errors["tag_id"] = ("mkc_err_tag_reserved", {"id": values.tag_id})
    elif current is None and any(t.tag_id == values.tag_id for t in found):
        errors["tag_id"] = ("mkc_err_tag_exists", {})
    for name in ("name_zh", "name_en"):
        if not 1 <= len(getattr(values, name)) <= NAME_MAX:
            errors[name] = ("mkc_err_name", {"high": NAME_MAX})
    errors |= rule_errors
    if errors or rule is None:
        return _tag_render(request, place, found, current, values, errors, status=400)
    saved = await _store_tag(request, session, place, current, values, rule)
    if isinstance(saved, dict):
        return _tag_render(request, place, found, current, values, saved, status=400)
    notice = "unchanged" if not saved else "tag_saved" if current else "tag_added"
    return redirect(place.url(notice=notice) + "#tags")


def _tag_rule(
    current: tags.Tag | None, values: TagForm, found: list[tags.Tag]
) -> tuple[rules.Rule | None, dict[str, Error]]:
    """The rule the form makes; the stored one when the rows cannot show it and the owner did
    not ask to replace it."""
    kept = rule_form.kept_rule(current.rule if current else None, values.replace_rule)
    if kept is not None:
        return kept, {}
    others = [t.tag_id for t in found if t.tag_id != values.tag_id]
    rule, errors = rule_form.build(values.shape, others, own_tag=values.tag_id)
    if rule is not None and values.tag_id:
        circle = _tag_circle(found, values.tag_id, values.shape.tags)
        if circle:
            names = ", ".join(circle)
            return None, {"tags": ("mkc_err_tag_circle", {"tags": names})}
    return rule, errors


async def _store_tag(
    request: web.Request,
    session: accounts.ConsoleSession,
    place: common.Place,
    current: tags.Tag | None,
    values: TagForm,
    rule: rules.Rule,
) -> bool | dict[str, Error]:
    """Save the tag with its audit entry: whether anything changed, or the errors (a race
    with another edit: nothing stored)."""
    async with request.app[DB].acquire() as conn, conn.transaction():
        # The merchant's tag edits one at a time (save_tag takes the same lock again): the
        # entry's "before" is the tag this save replaces.
        await conn.execute(tags.queries.lock_tags, place.merchant_id)
        before_row = await conn.fetchrow(queries.tag, place.merchant_id, values.tag_id)
        if current is None and before_row is not None:
            return {"tag_id": ("mkc_err_tag_exists", {})}
        before = _tag_audited(before_row) if before_row else None
        wanted = {
            "mkc_name_zh": values.name_zh,
            "mkc_name_en": values.name_en,
            "mkc_enabled": values.enabled,
            "mkc_rule": common.rule_text(rule),
        }
        if before is not None and all(before[k] == v for k, v in wanted.items()):
            return False
        try:
            tag = await tags.save_tag(
                conn,
                place.merchant_id,
                values.tag_id,
                values.name_zh,
                values.name_en,
                rule,
                values.enabled,
            )
        except rules.RuleError as exc:
            return {"rule": ("mk_rule_invalid", {"reason": exc.detail})}
        await audit.record_change(
            conn,
            place.merchant_id,
            audit.Actor.user(session.user.user_id),
            "marketing_tag.update" if before else "marketing_tag.create",
            target_id=tag.tag_id,
            target_name=tag.name_en,
            before=before,
            after=wanted | {"mkc_version": tag.version},
        )
    return True


def _tag_audited(row: asyncpg.Record) -> dict[str, Any]:
    rule = row["rule"]
    return {
        "mkc_name_zh": row["name_zh"],
        "mkc_name_en": row["name_en"],
        "mkc_enabled": row["enabled"],
        "mkc_rule": common.rule_text(common.stored_rule(rule)),
        "mkc_version": row["version"],
    }


def _tag_render(
    request: web.Request,
    place: common.Place,
    found: list[tags.Tag],
    current: tags.Tag | None,
    values: TagForm,
    errors: dict[str, Error],
    *,
    status: int = 200,
    extra: int = 0,
    preview: common.Preview | None = None,
) -> web.Response:
    saved = current.rule if current else None
    return render_page(
        request,
        "marketing/tag_form.html",
        status=status,
        place=place,
        merchant=place.membership,
        tag=current,
        values=values,
        errors=errors,
        preview=preview,
        action=place.url(f"{TAGS_PATH}/{current.tag_id}" if current else f"{TAGS_PATH}/new"),
        back=place.url() + "#tags",
        **common.rule_context(
            request, found, values.shape, saved, extra=extra, exclude=values.tag_id or None
        ),
    )
