"""The demo's regulars who log in by SMS (portico/demo_marketing.py, `with_sms_logins`), on the
real PostgreSQL: recorded through the portal's services as its SMS login records them, folded
into profiles with their consent, and then, as the live stream brings a consenting regular's
phone seen each minute (a logged-in client's heartbeats), the demo's "20 minutes in the store
→ SMS" texts them through the outbox; a regular who did not agree gets nothing."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime, timedelta

import aiohttp
import asyncpg

from accounts import services as accounts
from kernel.config import Settings
from marketing import demo as marketing_demo
from marketing import intake
from marketing.dispatch import Dispatcher, standard_channels
from marketing.engine import Engine
from portal.sms import SmsProviders
from portico import demo_closed_loop, demo_marketing
from portico.demo_footfall import demo_profile, store_seed
from tests.marketing.receivers import postpone_waiting

GROUND, FOOD = "Demo Mall · Ground Floor", "Demo Mall · Food Court"
DAYS = 10


async def a_mall(db: asyncpg.Pool) -> tuple[uuid.UUID, dict[str, uuid.UUID]]:
    async with db.acquire() as conn:
        merchant = await accounts.create_merchant(conn, f"Mall {uuid.uuid4().hex[:6]}")
        stores = {
            name: await accounts.create_store(conn, merchant, name) for name in (GROUND, FOOD)
        }
    await db.execute(  # no quiet hours: the test must not hang on the hour it runs at
        "INSERT INTO marketing_settings (merchant_id, quiet_from, quiet_until)"
        " VALUES ($1, '00:00', '00:00')",
        merchant,
    )
    return merchant, stores


async def history(
    settings: Settings,
    db: asyncpg.Pool,
    merchant: uuid.UUID,
    store: uuid.UUID,
    name: str,
    end: float,
) -> list[intake.InboxEvent]:
    profile = demo_profile(0 if name == GROUND else 1, name, ["ap-x", "ap-y"])
    start = end - DAYS * 86400
    events = demo_marketing.history_events(
        settings.secret_key, merchant, store, profile, store_seed(name), start, end
    )
    return await demo_marketing.with_sms_logins(
        settings, db, merchant, store, name, profile, events, start, end
    )


async def test_the_ground_floors_regulars_log_in_by_sms_and_a_consenting_one_gets_the_text(
    db: asyncpg.Pool, settings: Settings
) -> None:
    await postpone_waiting(db)
    merchant, stores = await a_mall(db)
    end = datetime(2026, 11, 27, 12, tzinfo=UTC).timestamp()
    events = await history(settings, db, merchant, stores[GROUND], GROUND, end)
    food = await history(settings, db, merchant, stores[FOOD], FOOD, end)
    # At the ground floor (SMS login on), the regulars' logins are SMS logins; elsewhere none.
    logins = [e for e in events if e.kind == "login"]
    sms = [e for e in logins if e.payload["method"] == "sms"]
    assert sms and len(sms) < len(logins)  # one-off shoppers still click through
    assert {e.payload["method"] for e in food if e.kind == "login"} == {"click"}
    agreed = {e.payload["identity_hash"] for e in sms if e.payload["consent_sms"]}
    refused = {e.payload["identity_hash"] for e in sms if not e.payload["consent_sms"]}
    assert agreed and refused
    # Recorded as the portal's SMS login records them: verified numbers linked to their
    # devices, a consent of the current wording for those who agreed.
    identities = await db.fetch(
        "SELECT identity_hash, kind, verified_at, masked FROM shopper_identities"
        " WHERE merchant_id = $1",
        merchant,
    )
    assert {r["identity_hash"] for r in identities} == agreed | refused
    assert all(r["kind"] == "phone" and r["verified_at"] for r in identities)
    assert all(r["masked"].startswith("139****") for r in identities)
    consents = await db.fetch(
        "SELECT identity_hash, purpose, wording_version, store_id FROM shopper_consents"
        " WHERE merchant_id = $1",
        merchant,
    )
    assert {r["identity_hash"] for r in consents} == agreed
    assert {(r["purpose"], r["wording_version"], r["store_id"]) for r in consents} == {
        ("marketing_sms", "sms-1", stores[GROUND])
    }
    linked = await db.fetch(
        "SELECT device_hash, identity_hash FROM shopper_devices WHERE merchant_id = $1", merchant
    )
    assert {r["device_hash"] for r in linked} == {e.device_hash for e in sms}

    # The demo's triggers, then the history folded as `prepare` folds it.
    await marketing_demo.seed_triggers(db, merchant)
    await demo_closed_loop.fold_history(
        db, merchant, events + food, datetime.fromtimestamp(end, UTC)
    )
    profiles = await db.fetch(
        "SELECT profile_key, consent_sms FROM marketing_profiles"
        " WHERE merchant_id = $1 AND profile_key LIKE 'i:%'",
        merchant,
    )
    assert {r["profile_key"][2:] for r in profiles if r["consent_sms"]} == agreed
    # The box was ticked at each one's latest login: the texts of their visits before it were
    # not sent (no_consent), and did not use up the offer.
    before = await db.fetch(
        "SELECT substr(c.profile_key, 3) AS identity, c.status, c.reason"
        " FROM marketing_contacts c JOIN marketing_triggers t USING (merchant_id, trigger_id)"
        " WHERE c.merchant_id = $1 AND t.offer_key = 'demo-stay-20'",
        merchant,
    )
    assert any(r["identity"] in agreed and r["reason"] == "no_consent" for r in before)
    offered = {r["identity"] for r in before if r["status"] != "suppressed"}
    assert offered <= agreed

    # Live, a day later: a regular who agreed (and has not had the offer) and one who did not
    # come back and stay 21 minutes, their phones seen each minute (a logged-in client's
    # heartbeats).
    devices: dict[bool, str] = {}
    for e in sms:
        consented = e.payload["identity_hash"] in agreed
        if e.payload["identity_hash"] not in offered:
            devices.setdefault(consented, e.device_hash)
    at = datetime.fromtimestamp(end, UTC) + timedelta(days=1, hours=-2)  # 18:00 in Shanghai
    live = [
        intake.InboxEvent(merchant, "sighting", device, stores[GROUND], at + timedelta(minutes=m))
        for device in devices.values()
        for m in range(22)
    ]
    await intake.record_events(db, live)
    engine = Engine(db)
    await engine.drain()
    async with aiohttp.ClientSession() as http:
        dispatcher = Dispatcher(
            db, standard_channels(db, settings, http, SmsProviders(settings, db))
        )
        while await dispatcher.step():
            pass
    after = await stay_contacts(db, merchant, since=at)
    outcome = {key in agreed: status_reason for key, status_reason in after.items()}
    assert outcome[False] == ("suppressed", "no_consent")
    assert outcome[True] in {("sent", None), ("holdout", None)}  # the 10 % holdout is stable
    texts = await db.fetch("SELECT body FROM sms_outbox WHERE merchant_id = $1", merchant)
    if outcome[True][0] == "sent":
        assert [r["body"] for r in texts] == ["感谢光临！出示本短信，甜点立减 5 元。 回T退订"]
    else:
        assert texts == []


async def stay_contacts(
    db: asyncpg.Pool, merchant: uuid.UUID, since: datetime | None = None
) -> dict[str, tuple[str, str | None]]:
    """The "20 minutes in the store" contacts by shopper (identity hash): the latest one's
    status and reason."""
    rows = await db.fetch(
        "SELECT c.profile_key, c.status, c.reason FROM marketing_contacts c"
        " JOIN marketing_triggers t USING (merchant_id, trigger_id)"
        " WHERE c.merchant_id = $1 AND t.offer_key = 'demo-stay-20'"
        " AND c.event_at >= coalesce($2::timestamptz, '-infinity') ORDER BY c.event_at",
        merchant,
        since,
    )
    return {r["profile_key"][2:]: (r["status"], r["reason"]) for r in rows}


async def test_no_sms_shoppers_with_a_real_sms_provider(
    db: asyncpg.Pool, settings: Settings
) -> None:
    merchant, stores = await a_mall(db)
    real = dataclasses.replace(settings, sms_provider="aliyun")
    profile = demo_profile(0, GROUND, ["ap-x"])
    end = datetime(2026, 11, 27, 12, tzinfo=UTC).timestamp()
    events = demo_marketing.history_events(
        settings.secret_key,
        merchant,
        stores[GROUND],
        profile,
        store_seed(GROUND),
        end - 86400 * 3,
        end,
    )
    kept = await demo_marketing.with_sms_logins(
        real, db, merchant, stores[GROUND], GROUND, profile, events, end - 86400 * 3, end
    )
    assert kept == events
    assert not await db.fetchval(
        "SELECT count(*) FROM shopper_identities WHERE merchant_id = $1", merchant
    )


def test_a_regulars_number_and_consent_are_the_same_at_every_visit() -> None:
    seed = store_seed(GROUND)
    assert demo_marketing.sms_shopper(seed, "2026-11-27-12") is None  # a one-off shopper
    number, agreed = demo_marketing.sms_shopper(seed, "regular-7") or ("", False)
    assert number.startswith("+86139") and len(number) == 14
    assert demo_marketing.sms_shopper(seed, "regular-7") == (number, agreed)
    shares = [demo_marketing.sms_shopper(seed, f"regular-{i}")[1] for i in range(200)]  # type: ignore[index]
    assert 0.6 < sum(shares) / 200 < 0.9
