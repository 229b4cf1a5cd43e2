"""The controller role stores router status and events from the real broker."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections.abc import AsyncIterator

import aiomqtt
import asyncpg
import pytest

from controller import topics
from controller.listener import FleetListener
from controller.services import Router
from kernel.config import Settings
from kernel.mqtt import parse_mqtt_url
from tests.factories import Tenant, make_tenant


@pytest.fixture
async def restarted() -> list[Router]:
    return []


@pytest.fixture
async def listener(
    settings: Settings, db: asyncpg.Pool, restarted: list[Router]
) -> AsyncIterator[FleetListener]:
    async def on_restart(router: Router) -> None:
        restarted.append(router)

    # A group of our own, so another controller on the same broker never takes our messages.
    group = f"test{uuid.uuid4().hex[:8]}" if os.environ.get("MQTT_URL") else None
    fleet = FleetListener(settings.mqtt_url, db, shared_group=group, on_nds_restarted=on_restart)
    task = asyncio.create_task(fleet.run())
    await asyncio.wait_for(fleet.connected.wait(), 10)
    yield fleet
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


def device_client(settings: Settings, router_id: str, **kwargs: object) -> aiomqtt.Client:
    address = parse_mqtt_url(settings.mqtt_url)
    return aiomqtt.Client(
        address.host,
        address.port,
        username=router_id,
        identifier=f"{router_id}-{uuid.uuid4().hex[:6]}",
        protocol=aiomqtt.ProtocolVersion.V311,
        **kwargs,  # type: ignore[arg-type]
    )


async def wait_until(check, timeout: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    async with asyncio.timeout(timeout):
        while not await check():
            await asyncio.sleep(0.05)


async def router_row(db: asyncpg.Pool, tenant: Tenant) -> asyncpg.Record:
    return await db.fetchrow(
        "SELECT online, last_status FROM routers WHERE merchant_id = $1 AND router_id = $2",
        tenant.merchant_id,
        tenant.router.router_id,
    )


async def test_status_events_and_last_will(
    listener: FleetListener, settings: Settings, db: asyncpg.Pool, restarted: list[Router]
) -> None:
    tenant = await make_tenant(db, with_ad=False, online=False)  # not heard from yet
    rid = tenant.router.router_id
    async with device_client(settings, rid) as device:
        status = topics.encode({"online": True, "agent": "test", "caps": ["auth"]})
        await device.publish(topics.topic(rid, "status"), status, qos=1, retain=True)

        async def is_online() -> bool:
            row = await router_row(db, tenant)
            return row["online"] and row["last_status"]["agent"] == "test"

        await wait_until(is_online)
        await device.publish(topics.topic(rid, "evt"), topics.encode({"type": "nds_restarted"}), 1)
        await wait_until(lambda: _true(len(restarted) == 1))
    assert restarted[0].router_id == rid
    events = await db.fetch(
        "SELECT type FROM router_events WHERE merchant_id = $1", tenant.merchant_id
    )
    assert [e["type"] for e in events] == ["nds_restarted"]

    # A router that loses power: its connection dies without DISCONNECT, the Last Will fires.
    await dying_router(settings, rid)

    async def is_offline() -> bool:
        return not (await router_row(db, tenant))["online"]

    await wait_until(is_offline, timeout=15)


DYING_ROUTER = """
import os, sys, time
import paho.mqtt.client as mqtt
host, port, rid = sys.argv[1], int(sys.argv[2]), sys.argv[3]
c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=rid + "-dying")
c.username_pw_set(rid)
c.will_set(f"ap/v1/{rid}/status", b'{"v":1,"online":false}', qos=1, retain=True)
c.connect(host, port, keepalive=5)
c.loop_start()
time.sleep(0.5)
os._exit(0)  # no DISCONNECT: the broker must send the will
"""


async def dying_router(settings: Settings, router_id: str) -> None:
    address = parse_mqtt_url(settings.mqtt_url)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", DYING_ROUTER, address.host, str(address.port), router_id
    )
    assert await asyncio.wait_for(process.wait(), 10) == 0


async def _true(value: bool) -> bool:
    return value


async def test_bad_messages_are_ignored_and_the_listener_carries_on(
    listener: FleetListener, settings: Settings, db: asyncpg.Pool
) -> None:
    tenant = await make_tenant(db, with_ad=False, online=False)  # not heard from yet
    rid = tenant.router.router_id
    async with device_client(settings, rid) as device:
        for payload in (b"not json", b"[]", b'{"v":2,"online":true}', b"x" * 5000):
            await device.publish(topics.topic(rid, "status"), payload, qos=1)
        await device.publish(topics.topic(rid, "status"), b'{"v":1,"online":"yes"}', qos=1)
        await device.publish(topics.topic(rid, "evt"), b'{"v":1,"type":"rm -rf"}', qos=1)
        await device.publish(topics.topic("ap-unknown-x", "status"), b'{"v":1,"online":true}', 1)
        await device.publish(topics.topic(rid, "status"), b'{"v":1,"online":true}', qos=1)

        async def is_online() -> bool:
            return (await router_row(db, tenant))["online"]

        await wait_until(is_online)
    events = await db.fetchval(
        "SELECT count(*) FROM router_events WHERE merchant_id = $1", tenant.merchant_id
    )
    assert events == 0
