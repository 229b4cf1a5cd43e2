"""The controller role stores router status and events from the real broker."""

from __future__ import annotations

import asyncio
import contextlib
import logging
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
from kernel.mqtt import make_client, parse_mqtt_url
from tests.factories import Tenant, make_tenant


@pytest.fixture
async def restarted() -> list[Router]:
    return []


def group_for_test() -> str | None:
    # A group of our own, so another controller on the same broker never takes our messages.
    return f"test{uuid.uuid4().hex[:8]}" if os.environ.get("MQTT_URL") else None


async def forget_session(settings: Settings, client_id: str) -> None:
    """A clean-session connect with a persistent client's id deletes its session."""
    async with make_client(settings.mqtt_url, "forget", identifier=client_id, clean_session=True):
        pass


@contextlib.asynccontextmanager
async def running(fleet: FleetListener) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(fleet.run())
    try:
        await asyncio.wait_for(fleet.connected.wait(), 10)
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@pytest.fixture
async def listener(
    settings: Settings, db: asyncpg.Pool, restarted: list[Router]
) -> AsyncIterator[FleetListener]:
    async def on_restart(router: Router) -> None:
        restarted.append(router)

    client_id = f"test-ctrl-{uuid.uuid4().hex[:8]}"
    fleet = FleetListener(
        settings.mqtt_url,
        db,
        shared_group=group_for_test(),
        on_nds_restarted=on_restart,
        client_id=client_id,
    )
    async with running(fleet):
        yield fleet
    await forget_session(settings, client_id)


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


async def wait_until(check, timeout: float = 15.0) -> None:  # type: ignore[no-untyped-def]
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
        # (another router's restart reaching this listener must not satisfy the wait)
        await wait_until(lambda: _true(any(r.router_id == rid for r in restarted)))
    assert [r.router_id for r in restarted if r.router_id == rid] == [rid]
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


async def test_bad_messages_are_refused_counted_and_the_listener_carries_on(
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
        await device.publish(topics.topic(rid, "status"), b"\xff\xfe", qos=1)
        await device.publish(topics.topic(rid, "status"), b'{"v":1,"online":true}', qos=1)

        async def is_online() -> bool:
            return (await router_row(db, tenant))["online"]

        # Handlers run concurrently: the last status (the same topic's messages go in order)
        # may be handled before the event, on a topic of its own, is refused. Wait for both.
        refusals = {
            "refused.malformed": 3,
            "refused.bad_version": 1,
            "refused.oversized": 1,
            "refused.bad_field": 1,
            "refused.unknown_event": 1,
        }

        async def all_counted() -> bool:
            counts = listener.metrics.snapshot()
            return all(counts.get(reason, 0) >= n for reason, n in refusals.items())

        await wait_until(is_online)
        await wait_until(all_counted)
    events = await db.fetchval(
        "SELECT count(*) FROM router_events WHERE merchant_id = $1", tenant.merchant_id
    )
    assert events == 0
    counts = listener.metrics.snapshot()
    assert {reason: counts.get(reason, 0) for reason in refusals} == refusals
    # Other routers' retained statuses on a shared broker count as unknown or handled too.
    assert counts["refused.unknown_router"] >= 1
    assert counts["handled"] >= 1


async def test_transitions_are_logged_not_every_heartbeat(
    listener: FleetListener,
    settings: Settings,
    db: asyncpg.Pool,
    caplog: pytest.LogCaptureFixture,
) -> None:
    tenant = await make_tenant(db, with_ad=False, online=False)
    rid = tenant.router.router_id
    caplog.set_level(logging.INFO, logger="portico.controller.listener")

    def lines() -> list[str]:
        return [r.getMessage() for r in caplog.records if rid in r.getMessage()]

    async with device_client(settings, rid) as device:
        for online in (True, True, True, False, True):
            await device.publish(topics.topic(rid, "status"), topics.encode({"online": online}), 1)
        # This router's own lines (other routers' statuses count as handled too): its statuses
        # are handled in order, so the third line comes after the fifth status.
        await wait_until(lambda: _true(len(lines()) >= 3))
    assert lines() == [
        f"router {rid} is online (was offline)",
        f"router {rid} is offline (was online)",
        f"router {rid} is online (was offline)",
    ]


@contextlib.asynccontextmanager
async def failing_event_inserts(db: asyncpg.Pool) -> AsyncIterator[None]:
    """A real PostgreSQL error for every router event stored meanwhile."""
    await db.execute(
        "ALTER TABLE router_events ADD CONSTRAINT test_fail CHECK (type <> 'agent_started')"
        " NOT VALID"
    )
    try:
        yield
    finally:
        await db.execute("ALTER TABLE router_events DROP CONSTRAINT IF EXISTS test_fail")


async def test_a_database_error_is_redelivered_not_fatal(
    listener: FleetListener, settings: Settings, db: asyncpg.Pool
) -> None:
    # Before issue 6 one PostgreSQL error ended the listener for good.
    tenant = await make_tenant(db, with_ad=False)
    rid = tenant.router.router_id
    async with device_client(settings, rid) as device:
        async with failing_event_inserts(db):
            await device.publish(
                topics.topic(rid, "evt"), topics.encode({"type": "agent_started"}), 1
            )
            await wait_until(lambda: _true(listener.metrics.get("failed") >= 2), timeout=10)
        # The table takes events again: the broker redelivers the unacked event.

        async def stored() -> bool:
            return bool(
                await db.fetchval(
                    "SELECT count(*) FROM router_events WHERE merchant_id = $1",
                    tenant.merchant_id,
                )
            )

        await wait_until(stored, timeout=15)
        await device.publish(topics.topic(rid, "status"), topics.encode({"online": False}), 1)
        await wait_until(lambda: not_online(db, tenant), timeout=5)
    assert listener.metrics.get("redeliveries") >= 2
    assert listener.metrics.get("poison") == 0


async def not_online(db: asyncpg.Pool, tenant: Tenant) -> bool:
    return not (await router_row(db, tenant))["online"]


async def test_a_poison_message_is_dropped_after_its_tries(
    settings: Settings, db: asyncpg.Pool
) -> None:
    tenant = await make_tenant(db, with_ad=False)
    rid = tenant.router.router_id
    client_id = f"test-ctrl-{uuid.uuid4().hex[:8]}"
    fleet = FleetListener(settings.mqtt_url, db, shared_group=group_for_test(), client_id=client_id)
    fleet.consumer._max_tries = 3
    async with running(fleet), failing_event_inserts(db), device_client(settings, rid) as device:
        await device.publish(topics.topic(rid, "evt"), topics.encode({"type": "agent_started"}), 1)
        await wait_until(lambda: _true(fleet.metrics.get("poison") == 1), timeout=20)
        # Acked and dropped: the listener goes on with the next message.
        await device.publish(topics.topic(rid, "status"), topics.encode({"online": False}), 1)
        await wait_until(lambda: not_online(db, tenant), timeout=5)
    await forget_session(settings, client_id)
    assert fleet.metrics.get("failed") == 3 and fleet.metrics.get("redeliveries") == 2
    count = await db.fetchval(
        "SELECT count(*) FROM router_events WHERE merchant_id = $1", tenant.merchant_id
    )
    assert count == 0


async def test_messages_sent_while_the_controller_is_down_arrive_after(
    settings: Settings, db: asyncpg.Pool
) -> None:
    # The persistent session keeps what comes while the controller is away (a crash, a deploy).
    tenant = await make_tenant(db, with_ad=False)
    rid = tenant.router.router_id
    client_id = f"test-ctrl-{uuid.uuid4().hex[:8]}"
    group = group_for_test()
    async with running(
        FleetListener(settings.mqtt_url, db, shared_group=group, client_id=client_id)
    ):
        pass  # subscribed once; now down
    async with device_client(settings, rid) as device:
        await device.publish(topics.topic(rid, "evt"), topics.encode({"type": "agent_started"}), 1)
    fleet = FleetListener(settings.mqtt_url, db, shared_group=group, client_id=client_id)
    async with running(fleet):

        async def stored() -> bool:
            return bool(
                await db.fetchval(
                    "SELECT count(*) FROM router_events WHERE merchant_id = $1",
                    tenant.merchant_id,
                )
            )

        await wait_until(stored, timeout=10)
    await forget_session(settings, client_id)


async def test_a_silent_router_is_marked_offline(
    listener: FleetListener, db: asyncpg.Pool, caplog: pytest.LogCaptureFixture
) -> None:
    tenant = await make_tenant(db, with_ad=False)
    await db.execute(
        "UPDATE routers SET last_seen = now() - interval '6 minutes' WHERE merchant_id = $1",
        tenant.merchant_id,
    )
    caplog.set_level(logging.INFO, logger="portico.controller.listener")

    await listener.sweep()

    assert await not_online(db, tenant)
    assert f"router {tenant.router.router_id} is offline" in caplog.text
    await db.execute(
        "UPDATE routers SET last_seen = now() - interval '15 minutes 10 seconds'"
        " WHERE merchant_id = $1",
        tenant.merchant_id,
    )
    await listener.sweep()
    assert f"ALERT router {tenant.router.router_id}" in caplog.text
