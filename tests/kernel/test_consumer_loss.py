"""When a consumer lost its broker, as its resubscribed hook is told: the last time it heard from
the broker, not the moment it noticed the loss.

A connection that dies without a word (the broker's host crashed, a partition, this process
stalled) is noticed late, at the keepalive or when the process runs again. The controller asks
the routers for their telemetry since the loss (controller.telemetry.request_resend): counted
from the late notice, it left out what routers had meanwhile flushed into a restarted broker
that nobody consumed from (tests/marketing/test_restarts.py lost four phones' joins that way
with the controller stalled 13 s). A real Mosquitto, killed and started again; the consumer's
clock is the test's, so "noticed 30 s later" needs no wait.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import aiomqtt
import pytest

from kernel.embedded import PrivateMosquitto, free_port, mosquitto_binary
from kernel.mqtt import Consumer, Delivery, parse_mqtt_url

pytestmark = pytest.mark.skipif(mosquitto_binary() is None, reason="needs the mosquitto binary")


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def kill9(broker: PrivateMosquitto) -> None:
    """SIGKILL: every connection to it ends at once, nothing saved."""
    assert broker.process is not None
    broker.process.kill()
    broker.process.wait(10)
    broker.process = None


async def eventually(check: object, timeout: float = 15) -> None:
    async with asyncio.timeout(timeout):
        while not check():  # type: ignore[operator]
            await asyncio.sleep(0.05)


async def test_the_loss_is_dated_at_the_brokers_last_word(tmp_path: Path) -> None:
    binary = mosquitto_binary()
    assert binary is not None
    broker = PrivateMosquitto(binary, tmp_path, port=free_port())
    clock = Clock(1_000.0)
    handled: list[bytes] = []
    told: list[float] = []

    async def handle(message: Delivery) -> None:
        handled.append(message.payload)

    async def resubscribed(lost_at: float) -> None:
        told.append(lost_at)

    consumer = Consumer(
        broker.url,
        client_id="loss-dating",
        subscriptions=["loss/+/t"],
        routes={"t": handle},
        max_payload=1024,
        on_resubscribed=resubscribed,
        clock=clock,
    )
    broker.start()
    await broker.ready()
    running = asyncio.create_task(consumer.run())
    try:
        await asyncio.wait_for(consumer.connected.wait(), 15)
        address = parse_mqtt_url(broker.url)
        async with aiomqtt.Client(address.host, address.port) as client:
            clock.now = 1_010.0  # the broker's last word: a message
            await client.publish("loss/a/t", b"hello", qos=1)
            await eventually(lambda: handled == [b"hello"])
        clock.now = 1_040.0  # the loss is noticed 30 s later
        kill9(broker)
        await eventually(lambda: not consumer.connected.is_set())
        broker.start()
        await broker.ready()
        await eventually(lambda: told)
        assert told == [1_010.0]  # not 1_040: what was sent in between is asked for too

        # Nothing heard since it subscribed again: the loss dates from the subscription.
        subscribed_at = clock.now
        clock.now += 60
        kill9(broker)
        await eventually(lambda: not consumer.connected.is_set())
        broker.start()
        await broker.ready()
        await eventually(lambda: len(told) == 2)
        assert told[1] == subscribed_at
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
        broker.stop()
