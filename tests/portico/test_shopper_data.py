"""`portico shopper export|erase` (portico/shopper_data.py, marketing/privacy.py) against the real
PostgreSQL, for what marketing keeps: a shopper named by email and MAC gets their profiles,
tags, segments, devices, contact log and kept events; an erasure removes them, anonymises the
contact log (the trigger's counts stand), keeps an opt-out, and each request is in the audit
log. The other domains: tests/portico/test_shopper_data_domains.py."""

from __future__ import annotations

import io
import json
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from accounts import audit
from accounts.web import CATALOG
from kernel.config import Settings
from kernel.i18n import LANGUAGES
from kernel.privacy import device_hash
from marketing import intake, triggers
from marketing.engine import Engine
from marketing.intake import InboxEvent
from portal import identities
from portico import cli, shopper_data
from portico.console_app import make_console_app
from portico.routers import CommandError
from tests.inbox import INBOX_EVENTS
from tests.marketing.test_engine import a_merchant, run_all, spec

EMAIL, MAC, OTHER_MAC = "Shopper.One@Example.com", "3c:22:fb:00:00:01", "3c:22:fb:00:00:02"


def request(*words: str) -> object:
    return cli._parser().parse_args(["shopper", *words])


async def shop_with_history(
    db: asyncpg.Pool, settings: Settings, at: datetime
) -> tuple[uuid.UUID, uuid.UUID, uuid.UUID, str, str, str]:
    """A merchant whose shopper (email + one phone) arrived and logged in, a second phone
    that opted out, an arrival trigger and a segment; the engine has run."""
    merchant, store = await a_merchant(db)
    await db.execute(
        "INSERT INTO marketing_settings (merchant_id, max_per_day, quiet_from, quiet_until)"
        " VALUES ($1, 5, '00:00', '00:00')",
        merchant,
    )
    trigger = await triggers.save_trigger(db, merchant, spec(offer_key="welcome"))
    await db.execute(
        "INSERT INTO marketing_segments (merchant_id, segment_id, name_zh, name_en, rule)"
        " VALUES ($1, $2, '新顾客', 'Newcomers', $3)",
        merchant,
        uuid.uuid4(),
        {"tag": "new"},
    )
    identity = identities.identify(
        settings.secret_key, merchant, "email", identities.normalize_email(EMAIL)
    ).hash
    phone = device_hash(settings.secret_key, str(merchant), MAC)
    other = device_hash(settings.secret_key, str(merchant), OTHER_MAC)
    login = {"method": "email", "identity_hash": identity, "consent_email": True}
    await intake.record_events(
        db,
        [
            InboxEvent(merchant, "sighting", phone, store, at),
            InboxEvent(merchant, "login", phone, store, at + timedelta(minutes=1), login),
            InboxEvent(merchant, "sighting", other, store, at),
            InboxEvent(
                merchant, "consent", other, None, at + timedelta(minutes=2),
                {"channel": "all", "given": False},
            ),
        ],
    )  # fmt: skip
    await run_all(Engine(db))
    await db.execute(  # the shopper followed the merchant's WeChat account (migration 0046)
        "INSERT INTO marketing_wechat_followers (merchant_id, profile_key, openid)"
        " VALUES ($1, $2, 'o-shopper-one')",
        merchant,
        "i:" + identity,
    )
    return merchant, store, trigger, identity, phone, other


async def audit_entries(db: asyncpg.Pool, merchant: uuid.UUID) -> list[audit.AuditEntry]:
    return await audit.entries(db, merchant)


async def test_an_export_covers_profile_tags_segments_devices_contacts_and_events(
    db: asyncpg.Pool, settings: Settings
) -> None:
    at = datetime.now(UTC) - timedelta(hours=1)
    merchant, _store, trigger, identity, phone, _other = await shop_with_history(db, settings, at)
    out = io.StringIO()
    document = await shopper_data.export(
        db,
        settings.secret_key,
        request("export", "--merchant", str(merchant), "--email", EMAIL),
        out,
    )
    assert json.loads(out.getvalue()) == json.loads(json.dumps(document))
    assert document["shopper"] == "s***@example.com"
    data = document["marketing"]
    [profile] = data["profiles"]  # the phone's profile was folded into the identity's
    assert (profile["profile_key"], profile["kind"]) == ("i:" + identity, "identity")
    assert profile["stored"]["visits_total"] == 1 and profile["stored"]["consent_email"] is True
    assert profile["facts_now"]["visits_total"] == 1
    assert {t["tag_id"]: (t["version"], t["name_en"]) for t in profile["tags"]} == {
        "new": (1, "New")
    }
    assert [s["name_en"] for s in profile["segments"]] == ["Newcomers"]
    assert profile["devices"] == [phone] and data["devices"] == [phone]
    assert profile["wechat"]["openid"] == "o-shopper-one"
    [contact] = data["contacts"]
    assert (contact["trigger_id"], contact["trigger_en"], contact["offer_key"]) == (
        str(trigger),
        "Welcome",
        "welcome",
    )
    assert (contact["channel"], contact["status"], contact["arm"]) == (
        "portal",
        "pending",
        "treatment",
    )
    assert sorted(e["kind"] for e in data["events"]) == ["login", "sighting"]
    assert MAC not in out.getvalue() and EMAIL.lower() not in out.getvalue()
    [entry] = await audit_entries(db, merchant)
    assert (entry.action, entry.actor_label, entry.target_name) == (
        "shopper.export",
        "portico shopper",
        "s***@example.com",
    )
    nothing: dict[str, dict[str, int]] = {
        "portal": {},
        "ads": {},
        "analytics": {},
        "controller": {},
    }
    assert entry.after == {"marketing": {"profiles": 1, "contacts": 1, "events": 2}, **nothing}


async def test_an_erasure_removes_the_shopper_anonymises_contacts_and_keeps_an_opt_out(
    db: asyncpg.Pool, settings: Settings
) -> None:
    at = datetime.now(UTC) - timedelta(hours=1)
    merchant, store, trigger, _identity, phone, other = await shop_with_history(db, settings, at)
    by_trigger = (
        "SELECT count(*) FROM marketing_contacts WHERE merchant_id = $1 AND trigger_id = $2"
    )
    contacts_before = await db.fetchval(by_trigger, merchant, trigger)
    assert (
        contacts_before == 2
    )  # the shopper's welcome, and the other phone's (before it opted out)

    # Not confirmed: nothing happens.
    asked = request("erase", "--merchant", str(merchant), "--email", EMAIL)
    out = io.StringIO()
    assert await shopper_data.erase(db, settings.secret_key, asked, out, lambda _: "no") is None
    assert "Nothing erased" in out.getvalue()

    out = io.StringIO()
    erased = await shopper_data.erase(
        db,
        settings.secret_key,
        request("erase", "--merchant", str(merchant), "--email", EMAIL, "--mac", MAC, "--yes"),
        out,
    )
    assert erased is not None
    marketing = erased.marketing
    assert (marketing.profiles, marketing.devices, marketing.contacts, marketing.events) == (
        1,
        1,
        1,
        2,
    )
    assert marketing.opt_outs_kept == 0
    keys = await db.fetch(
        "SELECT profile_key FROM marketing_profiles WHERE merchant_id = $1", merchant
    )
    assert [r["profile_key"] for r in keys] == ["d:" + other]  # the other phone's, untouched
    left = await db.fetchrow(
        "SELECT (SELECT count(*) FROM marketing_profile_devices WHERE merchant_id = $1) AS links,"
        " (SELECT count(*) FROM marketing_wechat_followers WHERE merchant_id = $1) AS wechat",
        merchant,
    )
    assert (left["links"], left["wechat"]) == (0, 0)
    # The shopper's sightings are taken out of the row they shared with the other phone's.
    left_events = await db.fetch(
        f"SELECT kind, device_hash FROM {INBOX_EVENTS} WHERE merchant_id = $1",  # noqa: S608
        merchant,
    )
    assert phone not in {r["device_hash"] for r in left_events}
    assert ("sighting", other) in {(r["kind"], r["device_hash"]) for r in left_events}
    assert await db.fetchval(
        "SELECT devices FROM marketing_inbox WHERE merchant_id = $1 AND kind = 'sightings'",
        merchant,
    ) == [other]
    anonymised = await db.fetchrow(
        "SELECT * FROM marketing_contacts WHERE merchant_id = $1 AND profile_key LIKE 'x:%'",
        merchant,
    )
    assert anonymised["profile_key"] == f"x:{anonymised['contact_id']}"
    assert anonymised["event_id"] == anonymised["contact_id"]
    # It had not been sent: it never will be.
    assert (anonymised["status"], anonymised["reason"]) == ("suppressed", "opted_out")
    assert await db.fetchval(by_trigger, merchant, trigger) == contacts_before
    again = await shopper_data.export(
        db,
        settings.secret_key,
        request("export", "--merchant", str(merchant), "--email", EMAIL),
        io.StringIO(),
    )
    assert again["marketing"]["profiles"] == again["marketing"]["contacts"] == []

    # The phone that opted out, erased by its MAC: a bare row still says it opted out.
    await shopper_data.erase(
        db,
        settings.secret_key,
        request("erase", "--merchant", str(merchant), "--mac", OTHER_MAC, "--yes"),
        io.StringIO(),
    )
    bare = await db.fetchrow("SELECT * FROM marketing_profiles WHERE merchant_id = $1", merchant)
    assert bare["profile_key"] == "d:" + other and bare["opted_out_at"] is not None
    assert (bare["visits_total"], bare["tags"], bare["recent_visits"]) == (0, {}, [])
    # Seen again, the phone is a new profile that gets nothing: the opt-out held.
    later = at + timedelta(minutes=30)
    await intake.record_events(db, [InboxEvent(merchant, "sighting", other, store, later)])
    await run_all(Engine(db))
    [offered] = await db.fetch(
        "SELECT status, reason FROM marketing_contacts WHERE merchant_id = $1 AND event_at = $2",
        merchant,
        later,
    )
    assert (offered["status"], offered["reason"]) == ("suppressed", "opted_out")
    erasures = [
        e.after["marketing"]
        for e in await audit_entries(db, merchant)
        if e.action == "shopper.erase"
    ]
    assert erasures == [  # newest first; none of a kind: not said
        {"profiles": 1, "contacts": 1, "events": 2, "opt_outs_kept": 1},
        {"profiles": 1, "devices": 1, "contacts": 1, "events": 2},
    ]


async def test_a_request_names_a_known_merchant_and_a_shopper(
    db: asyncpg.Pool, settings: Settings
) -> None:
    merchant, _store = await a_merchant(db)
    for words, message in [
        (("--merchant", str(uuid.uuid4()), "--email", EMAIL), "no merchant"),
        (("--merchant", "No Such Shop Anywhere", "--email", EMAIL), "no merchant"),
        (("--merchant", str(merchant)), "name the shopper"),
        (("--merchant", str(merchant), "--phone", "12"), "cannot read the shopper"),
        (("--merchant", str(merchant), "--mac", "nope"), "not a MAC address"),
        (("--merchant", str(merchant), "--email", EMAIL, "--phone", "13800138000"), "one of"),
    ]:
        with pytest.raises(CommandError, match=message):
            await shopper_data.export(db, settings.secret_key, request("export", *words))
    assert await audit_entries(db, merchant) == []


def test_the_audit_log_names_these_requests_in_both_languages(
    settings: Settings, db: asyncpg.Pool
) -> None:
    catalog = make_console_app(settings, db)[CATALOG]
    ids = ["au_action_shopper_export", "au_action_shopper_erase"]
    # and the flat counts of the requests recorded when they covered marketing alone
    ids += [f"au_field_{f}" for f in ("profiles", "devices", "contacts", "events", "opt_outs_kept")]
    assert [i for i in ids for lang in LANGUAGES if lang not in catalog.get(i, {})] == []
