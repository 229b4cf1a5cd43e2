"""The command sender on the real broker: what a command carries, and what its ack records."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiomqtt
import asyncpg
import pytest

from controller import topics
from controller.commands import TRANSIT_MS, CommandSender, wait_ms
from kernel.config import Settings
from kernel.mqtt import parse_mqtt_url
from tests.factories import Tenant

Answer = Callable[[dict[str, Any]], dict[str, Any]]


@pytest.fixture
async def router(settings: Settings, tenant: Tenant) -> AsyncIterator[tuple[list, list[Answer]]]:
    """A router that records each command and acks it with the next answer given."""
    address = parse_mqtt_url(settings.mqtt_url)
    received: list[dict[str, Any]] = []
    answers: list[Answer] = []
    ready = asyncio.Event()

    async def run() -> None:
        async with aiomqtt.Client(
            address.host, address.port, username=tenant.router.router_id
        ) as client:
            await client.subscribe(topics.topic(tenant.router.router_id, "cmd"), qos=1)
            ready.set()
            async for message in client.messages:
                command = json.loads(message.payload)  # type: ignore[arg-type]
                received.append(command)
                ack = {"v": 1, "id": command["id"], **answers.pop(0)(command)}
                await client.publish(
                    topics.topic(tenant.router.router_id, "ack"), json.dumps(ack), qos=1
                )

    task = asyncio.create_task(run())
    await asyncio.wait_for(ready.wait(), 10)
    yield received, answers
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


def test_wait_ms_leaves_the_trip_and_stays_in_the_contracts_range() -> None:
    assert wait_ms(5.0) == 5000 - TRANSIT_MS
    assert wait_ms(0.2) == 0
    assert wait_ms(3600) == topics.MAX_WAIT_MS


@pytest.mark.parametrize(
    ("attempts", "stored"),
    [(3, 3), (0, 0), (None, None), ("3", None), (-1, None), (True, None), (10**9, None)],
)
async def test_the_ack_attempts_are_stored_when_they_are_a_count(
    settings: Settings,
    db: asyncpg.Pool,
    tenant: Tenant,
    router: tuple[list, list[Answer]],
    attempts: object,
    stored: int | None,
) -> None:
    received, answers = router
    extra = {} if attempts is None else {"attempts": attempts}
    answers.append(lambda _cmd: {"status": "done", "code": "ok", "msg": "", **extra})
    sender = CommandSender(settings.mqtt_url, db, ack_timeout=3.0)
    await sender.start()
    try:
        ack = await sender.send(tenant.router.ref, "deauth", {"mac": "aa:bb:cc:dd:ee:ff"})
    finally:
        await sender.stop()

    assert ack.ok and ack.attempts == stored
    [command] = received
    assert command["wait_ms"] == 3000 - TRANSIT_MS
    row = await db.fetchrow(
        "SELECT status, attempts FROM router_commands WHERE merchant_id = $1 AND command_id = $2",
        tenant.merchant_id,
        command["id"],
    )
    assert tuple(row) == ("done", stored)


async def test_grants_carry_and_get_the_longer_grant_wait(
    settings: Settings, db: asyncpg.Pool, tenant: Tenant, router: tuple[list, list[Answer]]
) -> None:
    received, answers = router
    answers += [lambda _cmd: {"status": "done", "code": "ok", "msg": ""}] * 3
    sender = CommandSender(settings.mqtt_url, db, ack_timeout=2.0, grant_timeout=9.0)
    await sender.start()
    try:
        for op in ("auth", "restore", "deauth"):
            await sender.send(tenant.router.ref, op, {"mac": "aa:bb:cc:dd:ee:ff"})
    finally:
        await sender.stop()

    assert [(c["op"], c["wait_ms"]) for c in received] == [
        ("auth", 9000 - TRANSIT_MS),
        ("restore", 9000 - TRANSIT_MS),
        ("deauth", 2000 - TRANSIT_MS),
    ]
    assert (sender.wait_for("auth"), sender.wait_for("ping")) == (9.0, 2.0)
