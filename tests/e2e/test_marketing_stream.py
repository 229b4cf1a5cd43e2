"""Precision marketing's live stream through the running platform (issue 14, item 4): every
role as `portico serve` runs them (portal, console, controller, marketing) on the embedded
broker secured from PostgreSQL. A router's telemetry says a phone joined the WiFi: over MQTT to
the controller, through the footfall ingest to the inbox, to the trigger engine, a contact
within seconds; the same message delivered again is one sighting. The phone's owner then logs
in on the portal: the login reaches the engine too and sets off its own trigger, and the
dispatcher beside the engine puts both offers on the phone's "you're online" page."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path

import aiohttp
import aiomqtt
import asyncpg
import pytest

from controller import topics
from kernel.config import Settings
from kernel.embedded import mosquitto_binary
from kernel.mqtt import parse_mqtt_url
from kernel.privacy import device_hash
from marketing import triggers
from portal.fas import encode_fas
from portico.runtime import ROLES
from tests.e2e.platform import running_platform
from tests.factories import Tenant, make_tenant, tenant_router
from tests.inbox import INBOX_EVENTS

pytestmark = pytest.mark.skipif(mosquitto_binary() is None, reason="needs the mosquitto broker")

MAC = "3c:22:fb:10:20:30"  # a phone's own (global) address, as it joined the WiFi


def trigger(event: str, offer_key: str) -> triggers.TriggerSpec:
    return triggers.TriggerSpec(
        name_zh="欢迎",
        name_en=f"On {event}",
        event=event,
        rule={"all": []},
        channel="portal",
        offer_key=offer_key,
        message_zh=f"优惠 {offer_key}",
        message_en=f"An offer: {offer_key}",
        holdout_share=0.0,
    )


async def contact(
    db: asyncpg.Pool, tenant: Tenant, offer_key: str, timeout: float = 15
) -> asyncpg.Record:
    async with asyncio.timeout(timeout):
        while True:
            row = await db.fetchrow(
                "SELECT * FROM marketing_contacts WHERE merchant_id = $1 AND offer_key = $2",
                tenant.merchant_id,
                offer_key,
            )
            if row is not None:
                return row
            await asyncio.sleep(0.1)


async def test_a_joined_phone_and_its_login_set_off_triggers_within_seconds(
    settings: Settings, db: asyncpg.Pool, database_url: str, tmp_path: Path
) -> None:
    tenant = await make_tenant(db)
    merchant = tenant.merchant_id
    await db.execute(  # no quiet hours (the test runs at any hour), room for both contacts
        "INSERT INTO marketing_settings (merchant_id, max_per_day, quiet_from, quiet_until)"
        " VALUES ($1, 5, '00:00', '00:00')",
        merchant,
    )
    await triggers.save_trigger(db, merchant, trigger("arrival", "hello"))
    await triggers.save_trigger(db, merchant, trigger("login", "thanks"))
    assert "marketing" in ROLES  # running_platform runs every role
    device = device_hash(settings.secret_key, str(merchant), MAC)
    router_id = tenant.router.router_id

    async with running_platform(settings, db, database_url, tmp_path) as live:
        # 1. The router's agent reports the phone joining, and (its spool unsure) again.
        address = parse_mqtt_url(live.public_mqtt_url)
        boot, joined_at = uuid.uuid4().hex[:8], int(time.time())
        join = topics.encode(
            {
                "v": 1,
                "id": f"{boot}-1",
                "type": "station",
                "ts": joined_at,
                "event": "join",
                "mac": MAC,
                "rssi": -58,
                "if": "phy0-ap0",
            }
        )
        sent_at = time.monotonic()
        async with aiomqtt.Client(
            address.host, address.port, username=router_id, password=tenant.mqtt_password
        ) as agent:
            await agent.publish(topics.topic(router_id, "tele"), join, qos=1)
            hello = await contact(db, tenant, "hello")
            decided_in = time.monotonic() - sent_at
            await agent.publish(topics.topic(router_id, "tele"), join, qos=1)
            # A heartbeat after it: once stored, the redelivered join was handled before it.
            beat = {"v": 1, "id": f"{boot}-2", "type": "heartbeat", "ts": joined_at}
            beat |= {"uptime_s": 60, "load": [0.1, 0.1, 0.1]}
            await agent.publish(topics.topic(router_id, "tele"), topics.encode(beat), qos=1)
            async with asyncio.timeout(10):
                while not await db.fetchval(
                    "SELECT count(*) FROM router_telemetry WHERE merchant_id = $1"
                    " AND type = 'heartbeat'",
                    merchant,
                ):
                    await asyncio.sleep(0.1)
        assert decided_in < 5, f"the contact took {decided_in:.1f} s"
        # Decided (pending), or already sent by the dispatcher beside the engine.
        assert (hello["profile_key"], hello["status"]) in {
            ("d:" + device, "pending"),
            ("d:" + device, "sent"),
        }
        assert hello["store_id"] == tenant.store_id

        # 2. The same phone logs in on the portal (its router lets it through over MQTT).
        sim = tenant_router(
            tenant,
            live.public_mqtt_url,
            portal_url=live.portal_url,
            gateway_host="192.168.8.1",
            gateway_port=2050,
        )
        await sim.start(http=False)
        try:
            phone = sim.add_client(MAC, "10.0.9.9")
            async with aiohttp.ClientSession() as http:
                async with http.post(
                    f"{live.portal_url}/fas/{router_id}/login",
                    data={"fas": encode_fas(sim.fas_fields(phone)), "accept": "1", "lang": "en"},
                    allow_redirects=False,
                ) as response:
                    assert response.status == 303, await response.text()
                    online = live.portal_url + response.headers["Location"]
                thanks = await contact(db, tenant, "thanks")
                assert thanks["profile_key"] == "d:" + device
                # 3. Both offers, sent by the dispatcher, are on the phone's online page.
                async with asyncio.timeout(10):
                    while True:
                        async with http.get(online) as page:
                            text = await page.text()
                        if "An offer: hello" in text and "An offer: thanks" in text:
                            break
                        await asyncio.sleep(0.2)
        finally:
            await sim.stop()

    inbox = await db.fetch(
        f"SELECT kind, device_hash, occurred_at FROM {INBOX_EVENTS} WHERE merchant_id = $1"  # noqa: S608
        " ORDER BY received_at, occurred_at",
        merchant,
    )
    assert (inbox[0]["kind"], inbox[0]["device_hash"]) == ("sighting", device)
    # The join delivered twice is one sighting (later minutes' sightings may follow).
    joins = [r for r in inbox if r["occurred_at"].timestamp() == joined_at]
    assert [r["kind"] for r in joins] == ["sighting"]
    assert ("login", device) in [(r["kind"], r["device_hash"]) for r in inbox]
    profile = await db.fetchrow(
        "SELECT * FROM marketing_profiles WHERE merchant_id = $1 AND profile_key = $2",
        merchant,
        "d:" + device,
    )
    assert profile["visits_total"] == 1 and profile["login_methods"] == ["click"]
