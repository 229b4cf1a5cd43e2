"""The console's segment pages (docs/marketing.md, "Segments" and "The console"):

- `/marketing/segments`: the merchant's segments, each with its names, its rule in words, its
  live size (marketing.segments.live_sizes: every profile counted now, kept a minute) and
  whether advertisers see it (and then its count, or "fewer than k"); the same table is on
  the `/marketing` overview (`segment_rows`);
- `/marketing/segments/new`, `/marketing/segments/<id>`: a segment's names in both languages,
  its rule (the rule builder, marketing/rule_form.py, as the tag pages), "shared with
  advertisers"; Preview counts its audience now without saving, Save stores it
  (marketing.segments.save_segment) with its audit entry in the same transaction
  (`marketing_segment.create`/`.update`; a save that changes nothing writes nothing);
- `/marketing/segments/<id>/delete`: the segment deleted, with its audit entry
  (`marketing_segment.delete`, what it was).

A form with bad fields comes back (400) with every error beside its field, nothing stored.
Every member may look (staff read-only); only an owner may add, change, preview or delete
(staff: 403). Another merchant's segment, or an id that is none, is a 404.
"""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from accounts import audit
from accounts import services as accounts
from accounts.web import NotYours, login_required, redirect, render_page, request_language
from kernel.sql import load_queries
from kernel.web import DB
from marketing import rule_form, rules, segments, tags
from marketing.console_common import (
    PATH,
    Place,
    Preview,
    asked,
    find_place,
    form_action,
    need_place,
    preview,
    rule_context,
    rule_text,
    tag_names,
    text,
)
from marketing.rule_form import Error, RuleForm

queries = load_queries(__file__, "console_segments.sql")

SEGMENTS_PATH = PATH + "/segments"
MAX_SEGMENTS = 50  # a merchant's: each page counts every one over every profile
NOTICES = {
    "segment_added": "mks_notice_added",
    "segment_saved": "mks_notice_saved",
    "segment_deleted": "mks_notice_deleted",
    "unchanged": "mkc_notice_unchanged",
}
# A sound spec: segments.check on it with one of the form's names finds that name's error.
_SOUND = segments.SegmentSpec("x", "x", {"all": []})


def add_routes(router: web.UrlDispatcher) -> None:
    """The segment pages (marketing/console_pages.py's add_routes calls this)."""
    router.add_get(SEGMENTS_PATH, login_required(segments_page), name="marketing_segments")
    for path, name in (
        (SEGMENTS_PATH + "/new", "marketing_segment_new"),  # before {segment_id}
        (SEGMENTS_PATH + "/{segment_id}", "marketing_segment"),
    ):
        resource = router.add_resource(path, name=name)
        resource.add_route("GET", login_required(segment_page))
        resource.add_route("POST", login_required(save_segment))
    router.add_post(
        SEGMENTS_PATH + "/{segment_id}/delete",
        login_required(delete_segment),
        name="marketing_segment_delete",
    )


# The list --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SegmentRow:
    segment: segments.Segment
    name: str
    words: str
    size: int
    shown: int | None  # what an advertiser sees of the size: None below k (or not shared)


async def segment_rows(
    db: Any, merchant_id: uuid.UUID, language: str, names: dict[str, str]
) -> list[SegmentRow]:
    """The merchant's segments as the list and the overview show them; `names`: its tags'
    names in `language`."""
    found = await segments.list_segments(db, merchant_id)
    sizes = await segments.live_sizes(db, merchant_id, found)
    k = await segments.k_threshold(db, merchant_id)
    return [
        SegmentRow(
            s,
            s.name_zh if language == "zh-CN" else s.name_en,
            rules.describe(s.rule, language, names),
            sizes[s.segment_id],
            sizes[s.segment_id] if s.shared_with_advertisers and sizes[s.segment_id] >= k else None,
        )
        for s in found
    ]


async def segments_page(request: web.Request, session: accounts.ConsoleSession) -> web.Response:
    place = await find_place(request, session, request.query.get("merchant"), owner=False)
    context: dict[str, Any] = {"place": place}
    if place is not None:
        db = request.app[DB]
        language = request_language(request)
        await tags.ensure_defaults(db, place.merchant_id)
        names = tag_names(await tags.list_tags(db, place.merchant_id), language)
        context |= {
            "segments": await segment_rows(db, place.merchant_id, language, names),
            "k": await segments.k_threshold(db, place.merchant_id),
            "notice": NOTICES.get(request.query.get("notice", "")),
            "max_segments": MAX_SEGMENTS,
        }
    return render_page(
        request,
        "marketing/segments.html",
        memberships=place.memberships if place else [],
        merchant=place.membership if place else None,
        path=SEGMENTS_PATH,
        **context,
    )


# One segment -----------------------------------------------------------------------------------


@dataclass
class SegmentForm:
    """A segment's fields as typed."""

    name_zh: str = ""
    name_en: str = ""
    shared: bool = False
    shape: RuleForm = dataclasses.field(default_factory=RuleForm)
    replace_rule: bool = False  # a stored rule the rows cannot show: replaced by the rows


def _segment_id(request: web.Request) -> uuid.UUID | None:
    typed = request.match_info.get("segment_id")
    if typed is None:
        return None
    try:
        return uuid.UUID(typed)
    except ValueError:
        raise NotYours(f"segment {typed[:40]!r} is not a uuid") from None


async def _segment_of(request: web.Request, place: Place) -> segments.Segment | None:
    """The segment of the path (None on the new segment's page); another merchant's or none:
    404."""
    segment_id = _segment_id(request)
    if segment_id is None:
        return None
    found = await segments.get_segment(request.app[DB], place.merchant_id, segment_id)
    if found is None:
        raise NotYours(f"the merchant has no segment {segment_id}")
    return found


def _values_of(segment: segments.Segment) -> SegmentForm:
    return SegmentForm(
        segment.name_zh,
        segment.name_en,
        segment.shared_with_advertisers,
        rule_form.from_rule(segment.rule) or RuleForm(),
    )


async def segment_page(request: web.Request, session: accounts.ConsoleSession) -> web.Response:
    new = request.match_info.get("segment_id") is None
    place = await need_place(request, session, asked(request), owner=new)
    current = await _segment_of(request, place)
    values = _values_of(current) if current else SegmentForm()
    return await _render(request, place, current, values, {})


async def save_segment(request: web.Request, session: accounts.ConsoleSession) -> web.Response:
    form = await request.post()
    place = await need_place(request, session, asked(request, form), owner=True)
    current = await _segment_of(request, place)
    db = request.app[DB]
    await tags.ensure_defaults(db, place.merchant_id)
    found = await tags.list_tags(db, place.merchant_id)
    action = form_action(form)
    values = SegmentForm(
        name_zh=text(form, "name_zh", 100),
        name_en=text(form, "name_en", 100),
        shared=text(form, "shared") == "1",
        shape=rule_form.read(form),
        replace_rule=text(form, "replace_rule") == "1",
    )
    if action == "add_row":
        return await _render(request, place, current, values, {}, found=found, extra=1)
    rule, errors = _segment_rule(current, values, found)
    if action == "preview":  # the rule alone: names can come later
        if rule is None:
            return await _render(request, place, current, values, errors, found=found, status=400)
        names = tag_names(found, request_language(request))
        shown = await preview(request, place, rule, names)
        return await _render(request, place, current, values, {}, found=found, preview=shown)
    for field in ("name_zh", "name_en"):
        try:
            segments.check(dataclasses.replace(_SOUND, **{field: getattr(values, field)}))
        except segments.SegmentError as exc:
            errors[exc.field] = (f"mkc_err_{exc.field}", {})
    if errors or rule is None:
        return await _render(request, place, current, values, errors, found=found, status=400)
    spec = segments.SegmentSpec(values.name_zh, values.name_en, rule, values.shared)
    saved = await _store(request, session, place, current, spec)
    if isinstance(saved, dict):
        return await _render(request, place, current, values, saved, found=found, status=400)
    notice = "unchanged" if not saved else "segment_saved" if current else "segment_added"
    return redirect(place.url(SEGMENTS_PATH, notice=notice))


def _segment_rule(
    current: segments.Segment | None, values: SegmentForm, found: list[tags.Tag]
) -> tuple[rules.Rule | None, dict[str, Error]]:
    """The rule the form makes; the stored one when the rows cannot show it and the owner did
    not ask to replace it."""
    kept = rule_form.kept_rule(current.rule if current else None, values.replace_rule)
    if kept is not None:
        return kept, {}
    return rule_form.build(values.shape, [t.tag_id for t in found])


def _audited(segment: segments.SegmentSpec | segments.Segment) -> dict[str, Any]:
    """A segment as its audit entries keep it (names, the rule as JSON, shared or not)."""
    return {
        "mkc_name_zh": segment.name_zh.strip(),
        "mkc_name_en": segment.name_en.strip(),
        "mkc_rule": rule_text(rules.parse(segment.rule)),
        "mkc_shared": segment.shared_with_advertisers,
    }


async def _store(
    request: web.Request,
    session: accounts.ConsoleSession,
    place: Place,
    current: segments.Segment | None,
    spec: segments.SegmentSpec,
) -> bool | dict[str, Error]:
    """Save the segment with its audit entry: whether anything changed, or the errors (too
    many segments: nothing stored)."""
    after = _audited(spec)
    async with request.app[DB].acquire() as conn, conn.transaction():
        # The merchant's segment saves one at a time: the count below stays true to the insert.
        await conn.execute(queries.lock_segments, place.merchant_id)
        before = None
        if current is None:
            if await conn.fetchval(queries.segment_count, place.merchant_id) >= MAX_SEGMENTS:
                return {"segment": ("mks_err_too_many", {"count": MAX_SEGMENTS})}
        else:
            stored = await segments.get_segment(
                conn, place.merchant_id, current.segment_id, lock=True
            )
            if stored is None:  # deleted meanwhile
                raise NotYours(f"the merchant has no segment {current.segment_id}")
            before = _audited(stored)
            if before == after:
                return False
        try:
            segment = await segments.save_segment(
                conn, place.merchant_id, spec, current.segment_id if current else None
            )
        except segments.SegmentError as exc:  # not expected after the page's checks
            return {exc.field: ("mk_segment_invalid", {"reason": exc.detail})}
        await audit.record_change(
            conn,
            place.merchant_id,
            audit.Actor.user(session.user.user_id),
            "marketing_segment.update" if before else "marketing_segment.create",
            target_id=segment.segment_id,
            target_name=segment.name_en,
            before=before,
            after=after,
        )
    return True


async def delete_segment(request: web.Request, session: accounts.ConsoleSession) -> web.Response:
    form = await request.post()
    place = await need_place(request, session, asked(request, form), owner=True)
    segment_id = _segment_id(request)
    assert segment_id is not None  # the route has one
    async with request.app[DB].acquire() as conn, conn.transaction():
        gone = await segments.delete_segment(conn, place.merchant_id, segment_id)
        if gone is None:
            raise NotYours(f"the merchant has no segment {segment_id}")
        await audit.record_change(
            conn,
            place.merchant_id,
            audit.Actor.user(session.user.user_id),
            "marketing_segment.delete",
            target_id=gone.segment_id,
            target_name=gone.name_en,
            before=_audited(gone),
        )
    return redirect(place.url(SEGMENTS_PATH, notice="segment_deleted"))


@dataclass(frozen=True)
class Standing:
    """A saved segment's size now and what an advertiser sees of it."""

    size: int
    k: int
    shown: int | None  # None: "fewer than k", or not shared


async def _render(
    request: web.Request,
    place: Place,
    current: segments.Segment | None,
    values: SegmentForm,
    errors: dict[str, Error],
    *,
    found: list[tags.Tag] | None = None,
    status: int = 200,
    extra: int = 0,
    preview: Preview | None = None,
) -> web.Response:
    db = request.app[DB]
    if found is None:
        await tags.ensure_defaults(db, place.merchant_id)
        found = await tags.list_tags(db, place.merchant_id)
    k = await segments.k_threshold(db, place.merchant_id)
    standing = None
    if current is not None:
        size = (await segments.live_sizes(db, place.merchant_id, [current]))[current.segment_id]
        shown = size if current.shared_with_advertisers and size >= k else None
        standing = Standing(size, k, shown)
    path = f"{SEGMENTS_PATH}/{current.segment_id}" if current else f"{SEGMENTS_PATH}/new"
    return render_page(
        request,
        "marketing/segment_form.html",
        status=status,
        place=place,
        merchant=place.membership,
        segment=current,
        standing=standing,
        k=k,
        values=values,
        errors=errors,
        preview=preview,
        action=place.url(path),
        delete_action=place.url(path + "/delete") if current else "",
        back=place.url() + "#segments",
        **rule_context(
            request,
            found,
            values.shape,
            current.rule if current else None,
            extra=extra,
            exclude=None,
        ),
    )
