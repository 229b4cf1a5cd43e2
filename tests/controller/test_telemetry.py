"""Telemetry ingest (controller.telemetry): checked, pseudonymised, stored once per event id,
through broker and controller restarts, with two controllers sharing the load."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import aiomqtt
import asyncpg
import pytest

from controller import topics
from controller.listener import FleetListener
from controller.services import register_router
from controller.telemetry import TelemetryIngest
from kernel.config import Settings
from kernel.embedded import PrivateMosquitto, free_port, mosquitto_binary
from kernel.mqtt import Delivery, make_client
from kernel.privacy import device_hash
from tests.factories import Tenant, make_tenant, tenant_router

SECRET = "test-secret-" + "x" * 40
MAC = "da:11:22:33:44:55"  # locally administered: a phone's random address


def event(seq: int, kind: str = "heartbeat", boot: str = "b007", **fields: object) -> bytes:
    base: dict[str, object] = {"id": f"{boot}-{seq}", "type": kind, "ts": int(time.time())}
    if kind == "heartbeat":
        base.update(uptime_s=100 + seq, load=[0.1, 0.2, 0.3], agent="portico-agent/1.0")
    return topics.encode({**base, **fields})


async def forget_session(url: str, client_id: str) -> None:
    async with make_client(url, "forget", identifier=client_id, clean_session=True):
        pass


@contextlib.asynccontextmanager
async def controller(
    url: str, db: asyncpg.Pool, client_id: str, group: str | None
) -> AsyncIterator[tuple[FleetListener, TelemetryIngest]]:
    ingest = TelemetryIngest(db, SECRET)
    fleet = FleetListener(
        url, db, shared_group=group, client_id=client_id, routes={"tele": ingest.handle}
    )
    task = asyncio.create_task(fleet.run())
    try:
        await asyncio.wait_for(fleet.connected.wait(), 10)
        yield fleet, ingest
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def stored(db: asyncpg.Pool, tenant: Tenant) -> list[asyncpg.Record]:
    return await db.fetch(
        "SELECT * FROM router_telemetry WHERE merchant_id = $1 ORDER BY seq, boot_id",
        tenant.merchant_id,
    )


async def wait_for_rows(db: asyncpg.Pool, tenant: Tenant, n: int, timeout: float = 10) -> None:
    async with asyncio.timeout(timeout):
        while len(await stored(db, tenant)) < n:
            await asyncio.sleep(0.05)


async def test_events_are_stored_once_with_macs_pseudonymised(
    settings: Settings, db: asyncpg.Pool
) -> None:
    tenant = await make_tenant(db, with_ad=False)
    rid = tenant.router.router_id
    client_id = f"test-ctrl-{uuid.uuid4().hex[:8]}"
    async with (
        controller(settings.mqtt_url, db, client_id, f"t{uuid.uuid4().hex[:8]}") as (fleet, _),
        make_client(settings.mqtt_url, "router") as device,
    ):
        tele = topics.topic(rid, "tele")
        await device.publish(tele, event(1), qos=1)
        await device.publish(
            tele, event(2, "station", event="join", mac=MAC, rssi=-61, **{"if": "wlan0"}), qos=1
        )
        await device.publish(
            tele, event(3, "usage", mac=MAC, state="Authenticated", down_kb=120, up_kb=7), qos=1
        )
        await device.publish(tele, event(1), qos=1)  # again: the spool replays after a doubt
        await device.publish(tele, event(2, boot="b008"), qos=1)  # another boot, same seq
        await wait_for_rows(db, tenant, 4)
        await asyncio.sleep(0.3)
    await forget_session(settings.mqtt_url, client_id)

    rows = await stored(db, tenant)
    assert [(r["boot_id"], r["seq"], r["type"]) for r in rows] == [
        ("b007", 1, "heartbeat"),
        ("b007", 2, "station"),
        ("b008", 2, "heartbeat"),
        ("b007", 3, "usage"),
    ]
    heartbeat, station, _other, usage = rows
    assert heartbeat["data"]["uptime_s"] == 101 and heartbeat["device_hash"] is None
    expected = device_hash(SECRET, str(tenant.merchant_id), MAC)
    assert station["device_hash"] == expected == usage["device_hash"]
    assert (station["rssi"], station["randomized"]) == (-61, True)
    assert station["data"] == {"event": "join", "if": "wlan0"}
    assert usage["data"] == {"state": "Authenticated", "down_kb": 120, "up_kb": 7}
    assert MAC not in json.dumps([dict(r) for r in rows], default=str)
    assert fleet.metrics.get("handled") >= 5


async def test_each_routers_last_heartbeat_is_its_latest_in_whatever_order_they_come(
    db: asyncpg.Pool,
) -> None:
    """The Routers page reads router_heartbeats: the heartbeat with the latest time wins,
    though two routers' heartbeats come shuffled and are written in small batches at once
    (a batch may hold both routers'), and an older one replayed afterwards changes nothing."""
    tenant = await make_tenant(db, with_ad=False)
    async with db.acquire() as conn:
        second = await register_router(
            conn, tenant.merchant_id, tenant.store_id, f"ap-{uuid.uuid4().hex[:10]}", "AP 2"
        )
    routers = [tenant.router.router_id, second.router.router_id]
    ingest = TelemetryIngest(db, SECRET, max_batch=3, max_delay=0.001)
    start = int(time.time()) - 3600

    async def send(router_id: str, seq: int, ts: int) -> None:
        payload = event(seq, ts=ts, clients=seq)
        await ingest.handle(Delivery(topics.topic(router_id, "tele"), "tele", payload, False))

    heartbeats = [(router_id, seq) for router_id in routers for seq in range(1, 41)]
    random.Random(7).shuffle(heartbeats)
    await asyncio.gather(*(send(r, seq, start + 60 * seq) for r, seq in heartbeats))
    for router_id in routers:
        await send(router_id, 99, start)  # an old one, replayed from a spool

    rows = await db.fetch(
        "SELECT data, occurred_at FROM router_heartbeats WHERE merchant_id = $1",
        tenant.merchant_id,
    )
    latest = datetime.fromtimestamp(start + 60 * 40, UTC)
    assert [(r["data"]["clients"], r["occurred_at"]) for r in rows] == [
        (40, latest),
        (40, latest),
    ]
    assert ingest.stored == 82


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b'{"v":1,"id":"b007-1","type":"heartbeat"}', "bad_field"),  # no ts
        (event(1, "station", event="join", mac="DA:11:22:33:44:55"), "bad_field"),
        (event(1, "station", event="hop", mac=MAC, **{"if": "wlan0"}), "bad_field"),
        (event(1, "station", event="join", mac=MAC, rssi=20, **{"if": "wlan0"}), "bad_field"),
        (event(1, "usage", mac=MAC, down_kb=-1, up_kb=0), "bad_field"),
        (event(1, "probe"), "bad_field"),
        (event(0), "bad_field"),
        (b'{"v":1,"id":"../x-1","type":"heartbeat","ts":1764000000,"uptime_s":1}', "bad_field"),
        (b'{"v":2,"id":"b0-1"}', "bad_version"),
        (b"\x00\x01", "malformed"),
        (b"{" * 3000, "malformed"),
        (b" " * 5000, "oversized"),
    ],
)
async def test_bad_telemetry_is_refused_and_counted(
    settings: Settings, db: asyncpg.Pool, payload: bytes, reason: str
) -> None:
    tenant = await make_tenant(db, with_ad=False)
    client_id = f"test-ctrl-{uuid.uuid4().hex[:8]}"
    async with (
        controller(settings.mqtt_url, db, client_id, f"t{uuid.uuid4().hex[:8]}") as (fleet, _),
        make_client(settings.mqtt_url, "router") as device,
    ):
        tele = topics.topic(tenant.router.router_id, "tele")
        await device.publish(tele, payload, qos=1)
        await device.publish(tele, event(7), qos=1)  # and the next one goes through
        await wait_for_rows(db, tenant, 1)
        # Handlers run concurrently: the good event may be stored before the bad one is counted.
        async with asyncio.timeout(10):
            while fleet.metrics.get(f"refused.{reason}") < 1:
                await asyncio.sleep(0.05)
    await forget_session(settings.mqtt_url, client_id)
    assert [r["seq"] for r in await stored(db, tenant)] == [7]


def batch(*events: bytes) -> bytes:
    return b"[" + b",".join(events) + b"]"


async def test_a_batch_stores_its_good_events_and_counts_each_bad_one(
    settings: Settings, db: asyncpg.Pool
) -> None:
    tenant = await make_tenant(db, with_ad=False)
    client_id = f"test-ctrl-{uuid.uuid4().hex[:8]}"
    async with (
        controller(settings.mqtt_url, db, client_id, f"t{uuid.uuid4().hex[:8]}") as (
            fleet,
            ingest,
        ),
        make_client(settings.mqtt_url, "router") as device,
    ):
        tele = topics.topic(tenant.router.router_id, "tele")
        mixed = batch(
            event(1),
            event(2, "station", event="hop", mac=MAC, **{"if": "wlan0"}),  # bad_field
            b'{"v":2,"id":"b007-3","type":"heartbeat"}',  # bad_version
            b"[1]",  # malformed: not an object
            event(4, "usage", mac=MAC, down_kb=5, up_kb=1),
        )
        await device.publish(tele, mixed, qos=1)
        await device.publish(
            tele, batch(event(4, "usage", mac=MAC, down_kb=5, up_kb=1), event(5)), qos=1
        )
        await device.publish(tele, event(5), qos=1)  # a single event still goes (older agents)
        await wait_for_rows(db, tenant, 3)
        for refused in (
            b"[]",  # no events
            batch(*[event(100 + n) for n in range(501)]),  # too many
            b"[" + b" " * 70_000 + b"]",  # too big
            b'{"v":1,"id":"b007-9"',  # broken
            batch(event(9, "probe")),  # nothing storable
        ):
            await device.publish(tele, refused, qos=1)
        await device.publish(tele, event(6), qos=1)
        await wait_for_rows(db, tenant, 4)
        async with asyncio.timeout(15):  # both waits bounded (the second was not)
            while sum(fleet.metrics.get(f"refused.{r}") for r in ("malformed", "oversized")) < 4:
                await asyncio.sleep(0.05)
            while fleet.metrics.get("refused.bad_field") < 1:
                await asyncio.sleep(0.05)
    await forget_session(settings.mqtt_url, client_id)
    assert [r["seq"] for r in await stored(db, tenant)] == [1, 4, 5, 6]
    assert ingest.refused_events == {"bad_field": 2, "bad_version": 1, "malformed": 1}
    assert ingest.stored == 4  # the events sent twice were stored once
    assert fleet.metrics.get("refused.oversized") == 1


ROUTERS = 4
EVENTS = 300  # per router


async def publish_all(url: str, router_id: str, sent: list[int]) -> None:
    """A router's spool in miniature: events go out in order, each until the broker acks it."""
    seq = 1
    while seq <= EVENTS:
        try:
            async with make_client(url, f"router-{router_id}") as device:
                while seq <= EVENTS:
                    await device.publish(topics.topic(router_id, "tele"), event(seq), qos=1)
                    sent.append(seq)
                    seq += 1
                    await asyncio.sleep(0.004)
        except aiomqtt.MqttError:
            await asyncio.sleep(0.2)  # the broker is restarting


@pytest.mark.skipif(mosquitto_binary() is None, reason="needs the mosquitto broker binary")
async def test_two_controllers_store_every_event_once_through_a_controller_restart(
    db: asyncpg.Pool, tmp_path: Path
) -> None:
    """Two controllers share the load (`$share/ctrl`) and one restarts in the middle: its
    persistent session keeps what came meanwhile and what it had not acked. (A broker restart,
    with the real agent's resend: tests/e2e/test_telemetry_restarts.py.)"""
    binary = mosquitto_binary()
    assert binary is not None
    broker = PrivateMosquitto(binary, tmp_path / "broker", port=free_port())
    broker.start()
    await broker.ready()
    url = broker.url
    tenants = [await make_tenant(db, with_ad=False) for _ in range(ROUTERS)]
    sent: dict[str, list[int]] = {t.router.router_id: [] for t in tenants}
    try:
        async with controller(url, db, "ctrl-b", "ctrl") as (_fleet_b, ingest_b):
            first = controller(url, db, "ctrl-a", "ctrl")
            _fleet_a, ingest_a = await first.__aenter__()
            publishers = [
                asyncio.create_task(publish_all(url, rid, seqs)) for rid, seqs in sent.items()
            ]
            await until(lambda: sum(map(len, sent.values())) >= ROUTERS * EVENTS // 3)
            await first.__aexit__(None, None, None)  # controller A goes away …
            await asyncio.sleep(0.5)
            async with controller(url, db, "ctrl-a", "ctrl") as (_again, ingest_a2):  # … back
                await asyncio.wait_for(asyncio.gather(*publishers), 60)
                merchants = [t.merchant_id for t in tenants]
                async with asyncio.timeout(30):
                    while await count_rows(db, merchants) < ROUTERS * EVENTS:
                        await asyncio.sleep(0.1)
                await asyncio.sleep(0.5)  # anything still in flight would show now
    finally:
        broker.stop()

    rows = await db.fetch(
        "SELECT router_id, seq, count(*) OVER (PARTITION BY router_id, seq) AS n"
        " FROM router_telemetry WHERE merchant_id = ANY($1::uuid[])",
        [t.merchant_id for t in tenants],
    )
    assert len(rows) == ROUTERS * EVENTS and {r["n"] for r in rows} == {1}
    for tenant in tenants:
        seqs = sorted(r["seq"] for r in rows if r["router_id"] == tenant.router.router_id)
        assert seqs == list(range(1, EVENTS + 1))
    # Stored once: the controllers' own counts of rows written add up, and both took a share.
    # (A batch of the first A may be committed after it went away, unacked: redelivered, it
    # is skipped as a duplicate and counted by nobody a second time.)
    assert ingest_a.stored + ingest_a2.stored + ingest_b.stored == ROUTERS * EVENTS
    assert ingest_b.stored > 0 and ingest_a.stored + ingest_a2.stored > 0


async def until(check, timeout: float = 30) -> None:  # type: ignore[no-untyped-def]
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.02)


async def count_rows(db: asyncpg.Pool, merchants: list[object]) -> int:
    return await db.fetchval(
        "SELECT count(*) FROM router_telemetry WHERE merchant_id = ANY($1::uuid[])", merchants
    )


async def test_a_simulated_routers_telemetry_and_resend_are_stored_once(
    settings: Settings, db: asyncpg.Pool
) -> None:
    from controller.commands import CommandSender
    from controller.telemetry import request_resend

    tenant = await make_tenant(db, with_ad=False)
    sim = tenant_router(tenant, settings.mqtt_url)
    sim.add_client(MAC, "10.0.0.9")
    sender = CommandSender(settings.mqtt_url, db, ack_timeout=3)
    await sender.start()
    client_id = f"test-ctrl-{uuid.uuid4().hex[:8]}"
    await sim.start(http=False)
    try:
        async with controller(settings.mqtt_url, db, client_id, f"t{uuid.uuid4().hex[:8]}"):
            assert await sim.publish_telemetry() == 2  # a usage event and a heartbeat
            await wait_for_rows(db, tenant, 2)
            # The controller lost the broker a minute ago: the router sends it all again.
            outcomes = await request_resend(sender, db, time.time() - 60, reconnect_wait=0)
            assert outcomes.get("done", 0) >= 1
            await asyncio.sleep(0.5)
    finally:
        await sim.stop()
        await sender.stop()
        await forget_session(settings.mqtt_url, client_id)
    rows = await stored(db, tenant)
    assert sorted(r["type"] for r in rows) == ["heartbeat", "usage"]


@pytest.mark.skipif(mosquitto_binary() is None, reason="needs the mosquitto broker binary")
async def test_a_resend_waits_for_the_command_senders_own_reconnection(
    db: asyncpg.Pool, tmp_path: Path
) -> None:
    """After a broker restart the consumer may subscribe again before the command sender is
    back: the resend must wait for it, not fail at once (events were lost that way)."""
    from controller.commands import CommandSender
    from controller.services import record_router_status
    from controller.telemetry import request_resend

    binary = mosquitto_binary()
    assert binary is not None
    tenant = await make_tenant(db, with_ad=False)
    await record_router_status(db, tenant.router, online=True, status={"v": 1, "online": True})
    port = free_port()
    broker = PrivateMosquitto(binary, tmp_path / "broker", port=port)
    sender = CommandSender(broker.url, db, ack_timeout=3)
    starting = asyncio.create_task(sender.start())  # no broker yet: it keeps trying
    # Two tries: the sender may be back before the router has subscribed to its commands.
    resend = asyncio.create_task(
        request_resend(sender, db, time.time() - 60, timeout=3, tries=2, reconnect_wait=0)
    )
    await asyncio.sleep(2)
    assert not resend.done()  # waiting for the sender, not failed
    broker.start()
    await broker.ready()
    sim = tenant_router(tenant, broker.url)
    await sim.start(http=False)
    try:
        outcomes = await asyncio.wait_for(resend, 60)
        await starting
    finally:
        await sim.stop()
        await sender.stop()
        broker.stop()
    assert outcomes.get("done", 0) >= 1
    assert any(a["id"] and a["status"] == "done" for a in sim.acks)


async def test_a_resend_asks_a_router_that_comes_back_after_it_started(
    settings: Settings, db: asyncpg.Pool
) -> None:
    """A broker that stops sends its clients' Last Wills: when the controllers subscribe again
    a router may still be offline, and back a moment later. It is asked too (its events were
    lost when only the routers online at that moment were asked); one that stays away is
    counted `offline`, and the resend ends."""
    from controller.commands import CommandSender
    from controller.services import record_router_status
    from controller.telemetry import request_resend

    back = await make_tenant(db, with_ad=False)
    away = await make_tenant(db, with_ad=False)
    for tenant in (back, away):  # online, then its Last Will: heard from just now
        for online in (True, False):
            status = {"v": 1, "online": online}
            await record_router_status(db, tenant.router, online=online, status=status)
    sim = tenant_router(back, settings.mqtt_url)
    sender = CommandSender(settings.mqtt_url, db, ack_timeout=3)
    await sender.start()
    await sim.start(http=False)
    try:
        resend = asyncio.create_task(
            request_resend(sender, db, time.time() - 5, timeout=3, tries=1, reconnect_wait=6)
        )
        await asyncio.sleep(1.5)
        assert not sim.acks  # not asked while offline
        await record_router_status(db, back.router, online=True, status={"v": 1, "online": True})
        outcomes = await asyncio.wait_for(resend, 30)
    finally:
        await sim.stop()
        await sender.stop()
    assert [a["status"] for a in sim.acks if a["id"]] == ["done"]
    assert outcomes.get("offline", 0) >= 1  # `away` never came back


async def test_a_heartbeating_router_is_heard_from_and_stays_online_through_the_sweep(
    settings: Settings, db: asyncpg.Pool
) -> None:
    # portico-agent's heartbeat() publishes the retained status each beat (publish_online):
    # a router whose connect was long ago is still heard from. The simulator once sent only
    # telemetry, and `make run`'s routers went offline 5 minutes after they started.
    from controller.listener import HEARTBEAT_TIMEOUT

    tenant = await make_tenant(db, with_ad=False)
    sim = tenant_router(tenant, settings.mqtt_url)
    client_id = f"test-ctrl-{uuid.uuid4().hex[:8]}"
    await sim.start(http=False)
    try:
        async with controller(settings.mqtt_url, db, client_id, None) as (fleet, _ingest):
            # Its status at connect handled first (retained: it comes at the subscription) ...
            async with asyncio.timeout(10):
                while not await db.fetchval(
                    "SELECT online FROM routers WHERE merchant_id = $1", tenant.merchant_id
                ):
                    await asyncio.sleep(0.05)
            await asyncio.sleep(0.5)  # (a second retained copy, if any, handled too)
            # ... then as if connected long ago: nothing heard since but its heartbeats.
            await db.execute(
                "UPDATE routers SET online = true, last_seen = now() - make_interval(secs => $2)"
                " WHERE merchant_id = $1",
                tenant.merchant_id,
                HEARTBEAT_TIMEOUT + 60,
            )
            await sim.publish_telemetry()
            async with asyncio.timeout(10):
                while await db.fetchval(
                    "SELECT last_seen < now() - interval '1 minute' FROM routers"
                    " WHERE merchant_id = $1",
                    tenant.merchant_id,
                ):
                    await asyncio.sleep(0.05)
            await fleet.sweep()
            assert await db.fetchval(
                "SELECT online FROM routers WHERE merchant_id = $1", tenant.merchant_id
            )
    finally:
        await sim.stop()
        await forget_session(settings.mqtt_url, client_id)


async def test_a_resend_asks_the_most_recently_heard_routers_first(db: asyncpg.Pool) -> None:
    # After a broker killed outright, routers that died with it still look connected (no Last
    # Will); each costs its tries' timeouts, so the live ones (heard from lately) go first.
    from controller.telemetry import queries as telemetry_queries

    tenants = [await make_tenant(db, with_ad=False) for _ in range(3)]
    for tenant, minutes_ago in zip(tenants, (30, 1, 10), strict=True):
        await db.execute(
            "UPDATE routers SET online = true,"
            " last_seen = now() - make_interval(mins => $2) WHERE merchant_id = $1",
            tenant.merchant_id,
            minutes_ago,
        )
    rows = await db.fetch(telemetry_queries.agent_routers_to_resend, int(time.time()) - 3600)
    mine = {t.merchant_id: i for i, t in enumerate(tenants)}
    assert [mine[r["merchant_id"]] for r in rows if r["merchant_id"] in mine] == [1, 2, 0]
