"""The live presence feed on the real broker: what simulated routers send is the contract's
`probes` and `station` telemetry, and it is what the shopper model heard."""

from __future__ import annotations

import asyncio
import json
import re
import uuid

import aiomqtt

from kernel.config import Settings
from kernel.mqtt import parse_mqtt_url
from simulators import presence, shoppers
from simulators.agent import AgentModel
from simulators.opennds import OpenNds

MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")


class FakeClock:
    """Time that moves only when the feed sleeps: an hour plays in a moment."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        await asyncio.sleep(0)


async def test_the_feed_sends_what_the_routers_heard(settings: Settings) -> None:
    zones = (f"ap-{uuid.uuid4().hex[:8]}", f"ap-{uuid.uuid4().hex[:8]}")
    profile = shoppers.food_court("Presence Test", zones, scale=0.6)
    start = shoppers.utc(2026, 11, 27, 4).timestamp()  # 12:00 in Shanghai: the lunch peak
    end = start + 900
    clock = FakeClock(start)
    links = [presence.RouterLink(z, "", AgentModel(OpenNds())) for z in zones]
    feed = presence.PresenceFeed(
        profile, links, mqtt_url=settings.mqtt_url, seed=5, clock=clock, sleep=clock.sleep
    )
    address = parse_mqtt_url(settings.mqtt_url)
    events: list[tuple[str, dict]] = []
    async with aiomqtt.Client(
        address.host, address.port, identifier=f"presence-test-{uuid.uuid4().hex[:6]}"
    ) as listener:
        for zone in zones:
            await listener.subscribe(f"ap/v1/{zone}/tele", qos=1)

        async def collect() -> None:
            async for message in listener.messages:
                for event in json.loads(bytes(message.payload)):  # type: ignore[arg-type]
                    events.append((str(message.topic).split("/")[2], event))

        collector = asyncio.create_task(collect())
        async with feed.connected():
            await feed.play(start, end)
        sent = feed.stats.probes_sent + feed.stats.stations_sent
        async with asyncio.timeout(10):
            while sum(len(e.get("obs", [1])) for _, e in events) < sent:
                await asyncio.sleep(0.05)
        collector.cancel()

    frames, truth = shoppers.simulate(profile, start, end, seed=5)
    heard = sorted((f.zone, f.src, f.seq, f.rssi) for f in frames)
    received = []
    stations = []
    for zone, event in events:
        assert event["v"] == 1 and start - 1 <= event["ts"] < end
        assert re.fullmatch(r"[0-9a-f]{12}-[0-9]+", event["id"])
        if event["type"] == "probes":
            assert 1 <= len(event["obs"]) <= 64
            for mac, dt, rssi, seq, fp in event["obs"]:
                assert MAC.match(mac) and type(dt) is int and 0 <= dt <= 300
                assert -127 <= rssi <= 0
                assert 0 <= seq < 4096 and re.fullmatch(r"[0-9a-f]{8}", fp)
                received.append((zone, mac, seq, rssi))
        else:
            assert event["type"] == "station" and event["if"] == presence.STATION_IF
            stations.append((zone, event["event"], event["mac"], event["ts"]))
    assert feed.stats.dropped == 0
    assert len(heard) > 200 and sorted(received) == heard
    assert sorted(stations) == sorted((e.zone, e.event, e.mac, int(e.ts)) for e in truth.stations)
    ids = [int(e["id"].rsplit("-", 1)[1]) for z, e in events if z == zones[0]]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
