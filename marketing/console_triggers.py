"""The console's trigger pages, /marketing/triggers/new and /marketing/triggers/<id>
(docs/marketing.md, "The console"): a trigger's names, event, store, rule (the rule builder,
marketing/rule_form.py), channel and webhook, offer key and texts, holdout and conversion
window; Preview (its audience size), Save (marketing.triggers.save_trigger, a new version, with
its audit entry) and "Send a test" to the merchant itself (marketing/test_send.py).

A form's fields are checked by `triggers.check` itself, a group of fields at a time, so every
bad field is answered at once, beside it, in the page's language, and the page and the save
never disagree. Every member may look (read-only for staff); only an owner may save, preview
or test; another merchant's trigger is a 404.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import asyncpg
from aiohttp import web
from cryptography.exceptions import InvalidTag

from accounts import audit
from accounts import services as accounts
from accounts.web import CATALOG, NotYours, redirect, render_page, request_language
from kernel.i18n import LANGUAGES, translator
from kernel.privacy import unseal
from kernel.sql import load_queries
from kernel.web import DB, SETTINGS
from marketing import rule_form, rules, tags, test_send, triggers
from marketing.console_common import (
    ACTIONS,
    PATH,
    Place,
    Preview,
    asked,
    form_action,
    need_place,
    preview,
    rule_context,
    rule_text,
    stored_rule,
    tag_names,
    text,
    whole,
)
from marketing.rule_form import Error, RuleForm
from portal import services as portal

queries = load_queries(__file__, "console_triggers.sql")

TRIGGERS_PATH = PATH + "/triggers"
TRIGGER_ACTIONS = (*ACTIONS, "test")


@dataclass
class TriggerForm:
    """A trigger's fields as typed (numbers as text)."""

    name_zh: str = ""
    name_en: str = ""
    event: str = "arrival"
    dwell_minutes: str = ""
    store: str = ""
    channel: str = "portal"
    webhook: str = ""
    offer_key: str = ""
    message_zh: str = ""
    message_en: str = ""
    holdout_percent: str = "10"
    window_days: str = "14"
    enabled: bool = True
    shape: RuleForm = dataclasses.field(default_factory=RuleForm)
    replace_rule: bool = False
    test_phone: str = ""


# The form's field of each TriggerError field, where they differ.
_TRIGGER_FIELDS = {"holdout_share": "holdout_percent", "webhook_id": "webhook", "store_id": "store"}
# triggers.check on a sound spec with one group of the form's fields: every bad field found at
# once, each by the check the save itself makes.
_SOUND = triggers.TriggerSpec(
    name_zh="x", name_en="x", event="arrival", rule={"all": []}, channel="portal", offer_key="x"
)
_CHECKED_TOGETHER = (
    ("name_zh",),
    ("name_en",),
    ("event", "dwell_minutes"),
    ("channel", "webhook_id"),
    ("offer_key",),
    ("message_zh",),
    ("message_en",),
    ("holdout_share",),
    ("window_days",),
)


def _trigger_values(row: asyncpg.Record) -> TriggerForm:
    rule = stored_rule(row["rule"])
    return TriggerForm(
        name_zh=row["name_zh"],
        name_en=row["name_en"],
        event=row["event"],
        dwell_minutes=str(row["dwell_minutes"] or ""),
        store=str(row["store_id"] or ""),
        channel=row["channel"],
        webhook=str(row["webhook_id"] or ""),
        offer_key=row["offer_key"],
        message_zh=row["message_zh"],
        message_en=row["message_en"],
        holdout_percent=f"{round(row['holdout_share'] * 100)}",
        window_days=str(row["window_days"]),
        enabled=row["enabled"],
        shape=rule_form.from_rule(rule) or RuleForm(),
    )


def _read_trigger(form: Mapping[str, Any]) -> TriggerForm:
    return TriggerForm(
        name_zh=text(form, "name_zh", 100),
        name_en=text(form, "name_en", 100),
        event=text(form, "event", 20),
        dwell_minutes=text(form, "dwell_minutes", 20),
        store=text(form, "store", 60),
        channel=text(form, "channel", 20),
        webhook=text(form, "webhook", 60),
        offer_key=text(form, "offer_key", 100),
        message_zh=text(form, "message_zh", 400),
        message_en=text(form, "message_en", 400),
        holdout_percent=text(form, "holdout_percent", 20),
        window_days=text(form, "window_days", 20),
        enabled=text(form, "enabled") == "1",
        shape=rule_form.read(form),
        replace_rule=text(form, "replace_rule") == "1",
        test_phone=text(form, "test_phone", 40),
    )


@dataclass(frozen=True)
class TriggerContext:
    """What the trigger's form reads besides its own fields."""

    found: list[tags.Tag]
    stores: list[accounts.Store]
    webhooks: list[asyncpg.Record]
    row: asyncpg.Record | None  # the stored trigger (None: a new one)

    @property
    def trigger_id(self) -> uuid.UUID | None:
        return self.row["trigger_id"] if self.row else None


async def _trigger_context(
    request: web.Request, place: Place, db: asyncpg.Pool | asyncpg.Connection
) -> TriggerContext:
    trigger_id = _trigger_id(request)
    row = None
    if trigger_id is not None:
        row = await db.fetchrow(queries.trigger, place.merchant_id, trigger_id)
        if row is None:
            raise NotYours(f"the merchant has no trigger {trigger_id}")
    await tags.ensure_defaults(db, place.merchant_id)
    return TriggerContext(
        found=await tags.list_tags(db, place.merchant_id),
        stores=await accounts.visible_stores(db, place.merchant_id, place.user_id),
        webhooks=await db.fetch(queries.webhooks_of, place.merchant_id),
        row=row,
    )


def _trigger_id(request: web.Request) -> uuid.UUID | None:
    text = request.match_info.get("trigger_id")
    if text is None:
        return None
    try:
        return uuid.UUID(text)
    except ValueError:
        raise NotYours(f"trigger {text[:40]!r} is not a uuid") from None


async def trigger_page(request: web.Request, session: accounts.ConsoleSession) -> web.Response:
    new = request.match_info.get("trigger_id") is None
    place = await need_place(request, session, asked(request), owner=new)
    context = await _trigger_context(request, place, request.app[DB])
    values = _trigger_values(context.row) if context.row else TriggerForm()
    return _trigger_render(request, place, context, values, {})


@dataclass(frozen=True)
class Checked:
    """A trigger form that passed every check: what save_trigger takes."""

    spec: triggers.TriggerSpec
    rule: rules.Rule


def _trigger_rule(
    values: TriggerForm, context: TriggerContext
) -> tuple[rules.Rule | None, dict[str, Error]]:
    """The rule the form makes; the stored one when the rows cannot show it and the owner did
    not ask to replace it."""
    stored = stored_rule(context.row["rule"]) if context.row is not None else None
    kept = rule_form.kept_rule(stored, values.replace_rule)
    if kept is not None:
        return kept, {}
    return rule_form.build(values.shape, [t.tag_id for t in context.found])


def _check_trigger(
    values: TriggerForm, context: TriggerContext
) -> tuple[Checked | None, dict[str, Error]]:
    """The form's spec, or each bad field's error (all at once)."""
    errors: dict[str, Error] = {}
    dwell = None
    if values.event == "dwell":
        dwell = whole(values.dwell_minutes)
        if dwell is None:
            errors["dwell_minutes"] = ("mkc_err_dwell_minutes", {})
    store_id = None
    if values.store:
        store_id = next(
            (s.store_id for s in context.stores if str(s.store_id) == values.store), None
        )
        if store_id is None:
            errors["store"] = ("mkc_err_store", {})
    webhook_id = None
    if values.channel == "webhook":
        webhook_id = next(
            (w["webhook_id"] for w in context.webhooks if str(w["webhook_id"]) == values.webhook),
            None,
        )
        if webhook_id is None:
            errors["webhook"] = ("mkc_err_webhook_id", {})
    percent, window = whole(values.holdout_percent), whole(values.window_days)
    if percent is None:
        errors["holdout_percent"] = ("mkc_err_holdout_share", {})
    if window is None:
        errors["window_days"] = ("mkc_err_window_days", {})
    rule, rule_errors = _trigger_rule(values, context)
    errors |= rule_errors
    spec = triggers.TriggerSpec(
        name_zh=values.name_zh,
        name_en=values.name_en,
        event=values.event,
        rule=rule if rule is not None else {"all": []},
        channel=values.channel,
        offer_key=values.offer_key,
        message_zh=values.message_zh,
        message_en=values.message_en,
        dwell_minutes=dwell if values.event == "dwell" else None,
        store_id=store_id,
        coupon_id=context.row["coupon_id"] if context.row else None,
        webhook_id=webhook_id,
        holdout_share=(percent if percent is not None else 10) / 100,
        window_days=window if window is not None else 14,
        enabled=values.enabled,
    )
    for group in _CHECKED_TOGETHER:
        field_names = [f for f in group if _TRIGGER_FIELDS.get(f, f) not in errors]
        try:
            triggers.check(
                dataclasses.replace(_SOUND, **{f: getattr(spec, f) for f in field_names})
            )
        except triggers.TriggerError as exc:
            errors.setdefault(
                _TRIGGER_FIELDS.get(exc.field, exc.field), (f"mkc_err_{exc.field}", {})
            )
    if errors or rule is None:
        return None, errors
    try:
        parsed = triggers.check(spec)
    except triggers.TriggerError as exc:  # not expected after the checks above: said as it is
        return None, {"rule": ("mk_trigger_invalid", {"reason": exc.detail})}
    return Checked(spec, parsed), {}


async def save_trigger(request: web.Request, session: accounts.ConsoleSession) -> web.Response:
    form = await request.post()
    place = await need_place(request, session, asked(request, form), owner=True)
    db = request.app[DB]
    context = await _trigger_context(request, place, db)
    action = form_action(form, TRIGGER_ACTIONS)
    values = _read_trigger(form)
    if action == "add_row":
        return _trigger_render(request, place, context, values, {}, extra=1)
    if action == "preview":  # the rule alone: the rest can come later
        rule, errors = _trigger_rule(values, context)
        if rule is None:
            return _trigger_render(request, place, context, values, errors, status=400)
        names = tag_names(context.found, request_language(request))
        shown = await preview(request, place, rule, names)
        return _trigger_render(request, place, context, values, {}, preview=shown)
    checked, errors = _check_trigger(values, context)
    if checked is None:
        return _trigger_render(request, place, context, values, errors, status=400)
    if action == "test":
        return await _test(request, session, place, context, values, checked)
    changed = await _store_trigger(request, session, place, context, checked)
    if context.row is None:
        notice = "trigger_added"
    else:
        notice = "trigger_saved" if changed else "unchanged"
    return redirect(place.url(notice=notice) + "#triggers")


def _trigger_audited(
    spec: triggers.TriggerSpec, rule: rules.Rule, context: TriggerContext
) -> dict[str, Any]:
    stores = {s.store_id: s.name for s in context.stores}
    webhooks = {w["webhook_id"]: w["url"] for w in context.webhooks}
    return {
        "mkc_name_zh": spec.name_zh,
        "mkc_name_en": spec.name_en,
        "mkc_event": spec.event,
        "mkc_dwell_minutes": spec.dwell_minutes,
        "mkc_store": stores.get(spec.store_id, str(spec.store_id)) if spec.store_id else None,
        "mkc_rule": rule_text(rule),
        "mkc_channel": spec.channel,
        "mkc_webhook": webhooks.get(spec.webhook_id, str(spec.webhook_id))
        if spec.webhook_id
        else None,
        "mkc_offer_key": spec.offer_key,
        "mkc_message_zh": spec.message_zh,
        "mkc_message_en": spec.message_en,
        "mkc_holdout_percent": round(spec.holdout_share * 100),
        "mkc_window_days": spec.window_days,
        "mkc_enabled": spec.enabled,
    }


async def _store_trigger(
    request: web.Request,
    session: accounts.ConsoleSession,
    place: Place,
    context: TriggerContext,
    checked: Checked,
) -> bool:
    """Save the trigger with its audit entry; whether anything changed."""
    after = _trigger_audited(checked.spec, checked.rule, context)
    async with request.app[DB].acquire() as conn, conn.transaction():
        before = None
        trigger_id = context.trigger_id
        if trigger_id is not None:
            row = await conn.fetchrow(queries.trigger_for_update, place.merchant_id, trigger_id)
            if row is None:  # deleted meanwhile
                raise NotYours(f"the merchant has no trigger {trigger_id}")
            before = _trigger_audited(_spec_of(row), stored_rule(row["rule"]), context)
            if before == after:
                return False
        trigger_id = await triggers.save_trigger(conn, place.merchant_id, checked.spec, trigger_id)
        version = await conn.fetchval(queries.trigger_version, place.merchant_id, trigger_id)
        await audit.record_change(
            conn,
            place.merchant_id,
            audit.Actor.user(session.user.user_id),
            "marketing_trigger.update" if before else "marketing_trigger.create",
            target_id=trigger_id,
            target_name=checked.spec.name_en,
            before=before,
            after=after | {"mkc_version": version},
        )
    return True


def _spec_of(row: asyncpg.Record) -> triggers.TriggerSpec:
    return triggers.TriggerSpec(
        name_zh=row["name_zh"],
        name_en=row["name_en"],
        event=row["event"],
        rule=stored_rule(row["rule"]),
        channel=row["channel"],
        offer_key=row["offer_key"],
        message_zh=row["message_zh"],
        message_en=row["message_en"],
        dwell_minutes=row["dwell_minutes"],
        store_id=row["store_id"],
        coupon_id=row["coupon_id"],
        webhook_id=row["webhook_id"],
        holdout_share=row["holdout_share"],
        window_days=row["window_days"],
        enabled=row["enabled"],
    )


@dataclass(frozen=True)
class TestResult:
    """What "Send a test" did, for the page: the channel and what to show."""

    channel: str
    sent_to: str = ""  # an SMS: the masked number the outbox shows
    outbox_url: str = ""
    webhook: test_send.WebhookRequest | None = None
    webhook_error: str = ""  # a message id: the secret could not be opened
    phones: list[dict[str, str]] = dataclasses.field(default_factory=list)


async def _test(
    request: web.Request,
    session: accounts.ConsoleSession,
    place: Place,
    context: TriggerContext,
    values: TriggerForm,
    checked: Checked,
) -> web.Response:
    """Send a test of the trigger as typed (saved or not) to the merchant itself: never a
    contact, no budget spent, in no report (marketing/test_send.py)."""
    spec = checked.spec
    db = request.app[DB]
    if spec.channel == "sms":
        if not (spec.message_zh.strip() or spec.message_en.strip()):
            errors = {"message_zh": ("mkc_err_test_no_message", {})}
            return _trigger_render(request, place, context, values, errors, status=400)
        marked = {
            lang: test_send.sms_text(message, lang)
            for lang, message in (("zh-CN", spec.message_zh), ("en", spec.message_en))
            if message.strip()
        }
        secret_key = request.app[SETTINGS].secret_key
        sent = await portal.outbox_test_text(
            db, secret_key, place.merchant_id, values.test_phone, marked
        )
        if sent is None:
            errors = {"test_phone": ("mkc_err_test_phone", {})}
            return _trigger_render(request, place, context, values, errors, status=400)
        masked, text = sent
        await audit.record_change(
            db,
            place.merchant_id,
            audit.Actor.user(session.user.user_id),
            "marketing_trigger.test_send",
            target_id=context.trigger_id or "",
            target_name=spec.name_en,
            after={"mkc_channel": "sms", "mkc_to": masked, "mkc_message": text},
        )
        outbox = "/sms-outbox?" + urlencode({"merchant": str(place.merchant_id)})
        result = TestResult("sms", sent_to=masked, outbox_url=outbox)
    elif spec.channel == "webhook":
        result = _webhook_test(request, place, context, spec)
    else:  # the portal's offer, or a WeChat message: on a phone, in both languages
        result = TestResult(spec.channel, phones=_phones(request, spec))
    return _trigger_render(request, place, context, values, {}, test=result)


def _phones(request: web.Request, spec: triggers.TriggerSpec) -> list[dict[str, str]]:
    """The offer on a shopper's phone, in each language: the portal's page after the login
    ("you're online") with the offer, or a WeChat template message."""
    catalog = request.app[CATALOG]
    shown = []
    for language in LANGUAGES:
        _ = translator(catalog, language)
        shown.append(
            {
                "lang": language,
                "title": _(f"mkc_phone_title_{spec.channel}"),
                "label": _(f"mkc_phone_label_{spec.channel}"),
                "intro": _("mkc_phone_intro_portal") if spec.channel == "portal" else "",
                "message": _message_in(spec, language),
                "language": _("mkc_phone_language"),
            }
        )
    return shown


def _message_in(spec: triggers.TriggerSpec, language: str) -> str:
    """The trigger's text in `language`, else in the other language."""
    zh, en = spec.message_zh.strip(), spec.message_en.strip()
    return (zh or en) if language == "zh-CN" else (en or zh)


def _webhook_test(
    request: web.Request, place: Place, context: TriggerContext, spec: triggers.TriggerSpec
) -> TestResult:
    hook = next(w for w in context.webhooks if w["webhook_id"] == spec.webhook_id)
    secret_key = request.app[SETTINGS].secret_key
    try:
        secret = unseal(secret_key, str(place.merchant_id), bytes(hook["sealed_secret"]))
    except (InvalidTag, ValueError):
        return TestResult("webhook", webhook_error="mkc_test_webhook_secret")
    made = test_send.webhook_request(
        hook["url"], secret, place.merchant_id, context.trigger_id, spec
    )
    return TestResult("webhook", webhook=made)


def _trigger_render(
    request: web.Request,
    place: Place,
    context: TriggerContext,
    values: TriggerForm,
    errors: dict[str, Error],
    *,
    status: int = 200,
    extra: int = 0,
    preview: Preview | None = None,
    test: TestResult | None = None,
) -> web.Response:
    saved = stored_rule(context.row["rule"]) if context.row else None
    store_ids = {str(s.store_id) for s in context.stores}
    row = context.row
    path = f"{TRIGGERS_PATH}/{row['trigger_id']}" if row else f"{TRIGGERS_PATH}/new"
    return render_page(
        request,
        "marketing/trigger_form.html",
        status=status,
        place=place,
        merchant=place.membership,
        trigger=row,
        values=values,
        stores=context.stores,
        # a store the user is not given (staff) stays chosen, unnamed
        other_store=bool(values.store) and values.store not in store_ids,
        webhooks=context.webhooks,
        events=triggers.EVENTS,
        channels=triggers.CHANNELS,
        errors=errors,
        preview=preview,
        test=test,
        action=place.url(path),
        back=place.url() + "#triggers",
        **rule_context(request, context.found, values.shape, saved, extra=extra, exclude=None),
    )
