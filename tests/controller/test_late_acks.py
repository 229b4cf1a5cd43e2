"""Grants acked after the sender gave up: a router on the real broker that acks late.

The portal showed its failure page and stored no session, but the router let the client
through: the sender must undo that with a `deauth`, unless the client is wanted after all.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiomqtt
import asyncpg
import pytest

from controller import topics
from controller.commands import CommandSender, RouterRef, RouterUnreachable
from kernel.config import Settings
from kernel.mqtt import parse_mqtt_url
from tests.factories import Tenant

MAC = "aa:bb:cc:dd:ee:01"
GAVE_UP_AFTER = 0.5  # the sender's ack timeout in these tests
LATE = 1.2  # the router's ack comes this many seconds after the command


@dataclass
class LateRouter:
    """Acks each command after the delay set for its op (or its `n`th command), with a status."""

    received: list[dict[str, Any]] = field(default_factory=list)
    delays: list[float] = field(default_factory=list)  # per grant, in order; then 0
    statuses: list[str] = field(default_factory=list)  # per grant, in order; then done

    def ops(self) -> list[str]:
        return [command["op"] for command in self.received]


@pytest.fixture
async def late_router(settings: Settings, tenant: Tenant) -> AsyncIterator[LateRouter]:
    address = parse_mqtt_url(settings.mqtt_url)
    router = LateRouter()
    ready = asyncio.Event()
    router_id = tenant.router.router_id

    async def ack_later(client: aiomqtt.Client, command: dict[str, Any], delay: float) -> None:
        await asyncio.sleep(delay)
        grant = command["op"] in ("auth", "restore")
        status = router.statuses.pop(0) if grant and router.statuses else "done"
        ack = {"v": 1, "id": command["id"], "status": status, "code": "ok", "attempts": 1}
        await client.publish(topics.topic(router_id, "ack"), json.dumps(ack), qos=1)

    async def run() -> None:
        acks: set[asyncio.Task[None]] = set()
        async with aiomqtt.Client(address.host, address.port, username=router_id) as client:
            await client.subscribe(topics.topic(router_id, "cmd"), qos=1)
            ready.set()
            async for message in client.messages:
                command = json.loads(message.payload)  # type: ignore[arg-type]
                router.received.append(command)
                grant = command["op"] in ("auth", "restore")
                delay = router.delays.pop(0) if grant and router.delays else 0.0
                task = asyncio.create_task(ack_later(client, command, delay))
                acks.add(task)
                task.add_done_callback(acks.discard)

    task = asyncio.create_task(run())
    await asyncio.wait_for(ready.wait(), 10)
    yield router
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


@pytest.fixture
async def sender(settings: Settings, db: asyncpg.Pool) -> AsyncIterator[CommandSender]:
    sender = CommandSender(settings.mqtt_url, db, ack_timeout=GAVE_UP_AFTER, ttl=30)
    await sender.start()
    yield sender
    await sender.stop()


def grant_args(mac: str = MAC) -> dict[str, Any]:
    return {"mac": mac, "hid": "a" * 64, "minutes": 30, "custom": "s-1"}


async def late_grant_event(db: asyncpg.Pool, tenant: Tenant, command_id: str) -> dict[str, Any]:
    """The sender's record of how it handled a late ack (waits for it, 10 s at most)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        payload = await db.fetchval(
            "SELECT payload FROM router_events WHERE merchant_id = $1 AND type = 'late_grant'"
            " AND payload ->> 'command' = $2",
            tenant.merchant_id,
            command_id,
        )
        if payload is not None:
            return dict(payload)
        await asyncio.sleep(0.05)
    raise AssertionError(f"no late_grant event for {command_id}")


async def timed_out_command(db: asyncpg.Pool, tenant: Tenant, op: str) -> str:
    return await db.fetchval(
        "SELECT command_id FROM router_commands WHERE merchant_id = $1 AND op = $2"
        " ORDER BY created_at LIMIT 1",
        tenant.merchant_id,
        op,
    )


async def command_row(db: asyncpg.Pool, tenant: Tenant, command_id: str) -> asyncpg.Record:
    return await db.fetchrow(
        "SELECT op, status, args FROM router_commands WHERE merchant_id = $1 AND command_id = $2",
        tenant.merchant_id,
        command_id,
    )


async def test_a_grant_acked_after_the_sender_gave_up_is_undone_with_a_deauth(
    db: asyncpg.Pool, tenant: Tenant, late_router: LateRouter, sender: CommandSender
) -> None:
    late_router.delays.append(LATE)
    with pytest.raises(RouterUnreachable):
        await sender.send(tenant.router.ref, "auth", grant_args())
    late = await timed_out_command(db, tenant, "auth")
    assert (await command_row(db, tenant, late))["status"] == "timeout"

    event = await late_grant_event(db, tenant, late)

    assert event["outcome"] == "deauthed"
    assert late_router.ops() == ["auth", "deauth"]
    assert late_router.received[1]["args"] == {"mac": MAC}
    assert (await command_row(db, tenant, late))["status"] == "done"  # the late ack, recorded
    deauth = await command_row(db, tenant, event["deauth_command"])
    assert (deauth["op"], deauth["status"]) == ("deauth", "done")
    assert MAC not in json.dumps(event)  # the event keeps no raw MAC


async def test_a_retry_that_succeeded_meanwhile_keeps_the_client(
    db: asyncpg.Pool, tenant: Tenant, late_router: LateRouter, sender: CommandSender
) -> None:
    late_router.delays.extend([LATE, 0.0])  # the first grant acks late, the retry at once
    with pytest.raises(RouterUnreachable):
        await sender.send(tenant.router.ref, "auth", grant_args())
    late = await timed_out_command(db, tenant, "auth")
    retry = await sender.send(tenant.router.ref, "auth", grant_args())
    assert retry.ok

    event = await late_grant_event(db, tenant, late)

    assert event["outcome"] == "kept"
    assert "later grant" in event["detail"]
    assert late_router.ops() == ["auth", "auth"]  # no deauth


async def test_a_retry_still_in_flight_is_waited_for(
    db: asyncpg.Pool, tenant: Tenant, late_router: LateRouter, sender: CommandSender
) -> None:
    # The late ack arrives while the retry waits for its own: the retry decides.
    late_router.delays.extend([0.9, 1.2])
    with pytest.raises(RouterUnreachable):
        await sender.send(tenant.router.ref, "auth", grant_args())
    late = await timed_out_command(db, tenant, "auth")
    retry = await sender.send(tenant.router.ref, "auth", grant_args(), timeout=3.0)
    assert retry.ok

    event = await late_grant_event(db, tenant, late)

    assert event["outcome"] == "kept"
    assert late_router.ops() == ["auth", "auth"]


async def test_a_grant_for_another_mac_does_not_keep_the_client(
    db: asyncpg.Pool, tenant: Tenant, late_router: LateRouter, sender: CommandSender
) -> None:
    late_router.delays.extend([LATE, 0.0])
    with pytest.raises(RouterUnreachable):
        await sender.send(tenant.router.ref, "auth", grant_args())
    late = await timed_out_command(db, tenant, "auth")
    assert (await sender.send(tenant.router.ref, "auth", grant_args("aa:bb:cc:dd:ee:99"))).ok

    event = await late_grant_event(db, tenant, late)

    assert event["outcome"] == "deauthed"
    assert late_router.ops() == ["auth", "auth", "deauth"]
    assert late_router.received[2]["args"] == {"mac": MAC}


async def test_a_late_refusal_needs_no_deauth(
    db: asyncpg.Pool, tenant: Tenant, late_router: LateRouter, sender: CommandSender
) -> None:
    late_router.delays.append(LATE)
    late_router.statuses.append("error")
    with pytest.raises(RouterUnreachable):
        await sender.send(tenant.router.ref, "auth", grant_args())
    late = await timed_out_command(db, tenant, "auth")

    deadline = time.monotonic() + 10
    while (await command_row(db, tenant, late))["status"] == "timeout":
        assert time.monotonic() < deadline, "the late ack was never recorded"
        await asyncio.sleep(0.05)

    assert (await command_row(db, tenant, late))["status"] == "error"
    await asyncio.sleep(0.3)  # a deauth would be on its way by now
    assert late_router.ops() == ["auth"]


@pytest.mark.parametrize(("session_active", "outcome"), [(True, "kept"), (False, "deauthed")])
async def test_a_late_restore_is_undone_only_when_no_session_needs_the_client(
    settings: Settings,
    db: asyncpg.Pool,
    tenant: Tenant,
    late_router: LateRouter,
    session_active: bool,
    outcome: str,
) -> None:
    asked: list[tuple[str, str]] = []

    async def client_wanted(router: RouterRef, mac: str) -> bool:
        asked.append((router.router_id, mac))
        return session_active

    sender = CommandSender(
        settings.mqtt_url, db, ack_timeout=GAVE_UP_AFTER, client_wanted=client_wanted
    )
    await sender.start()
    try:
        late_router.delays.append(LATE)
        args = {k: v for k, v in grant_args().items() if k != "hid"}
        with pytest.raises(RouterUnreachable):
            await sender.send(tenant.router.ref, "restore", args)
        late = await timed_out_command(db, tenant, "restore")
        event = await late_grant_event(db, tenant, late)
    finally:
        await sender.stop()

    assert event["outcome"] == outcome
    assert asked == [(tenant.router.router_id, MAC)]
    expected_ops = ["restore"] if session_active else ["restore", "deauth"]
    assert late_router.ops() == expected_ops


async def test_an_ack_from_another_router_for_our_command_is_ignored(
    settings: Settings,
    db: asyncpg.Pool,
    tenant: Tenant,
    late_router: LateRouter,
    sender: CommandSender,
) -> None:
    late_router.delays.append(30)  # never in this test
    with pytest.raises(RouterUnreachable):
        await sender.send(tenant.router.ref, "auth", grant_args())
    late = await timed_out_command(db, tenant, "auth")
    address = parse_mqtt_url(settings.mqtt_url)
    async with aiomqtt.Client(address.host, address.port, username="ap-intruder") as client:
        ack = {"v": 1, "id": late, "status": "done", "code": "ok"}
        await client.publish(topics.topic("ap-intruder", "ack"), json.dumps(ack), qos=1)
    await asyncio.sleep(0.5)

    assert (await command_row(db, tenant, late))["status"] == "timeout"
    assert late_router.ops() == ["auth"]
