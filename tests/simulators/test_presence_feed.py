"""The live presence feed on the real broker: what simulated routers send is the contract's
`probes`, `station` and `usage` telemetry, and it is what the shopper model heard (and, for
its logged-in clients, what openNDS holds at each heartbeat)."""

from __future__ import annotations

import asyncio
import itertools
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
        sent = feed.stats.probes_sent + feed.stats.stations_sent + feed.stats.usage_sent
        async with asyncio.timeout(10):
            while sum(len(e.get("obs", [1])) for _, e in events) < sent:
                await asyncio.sleep(0.05)
        collector.cancel()

    frames, truth = shoppers.simulate(profile, start, end, seed=5)
    heard = sorted((f.zone, f.src, f.seq, f.rssi) for f in frames)
    received = []
    stations = []
    usage = []
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
        elif event["type"] == "usage":
            assert event["state"] == "Authenticated" and MAC.match(event["mac"])
            assert event["session_start"] < event["ts"] and event["down_kb"] >= 0
            usage.append((zone, event["mac"], event["ts"]))
        else:
            assert event["type"] == "station" and event["if"] == presence.STATION_IF
            stations.append((zone, event["event"], event["mac"], event["ts"]))
    assert feed.stats.dropped == 0
    assert len(heard) > 200 and sorted(received) == heard
    assert sorted(stations) == sorted((e.zone, e.event, e.mac, int(e.ts)) for e in truth.stations)
    held = presence.logged_in_usage(profile, start, end, 5)
    assert len(held) > 10 and sorted(usage) == sorted((u.zone, u.mac, int(u.ts)) for u in held)
    ids = [int(e["id"].rsplit("-", 1)[1]) for z, e in events if z == zones[0]]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)


def test_a_logged_in_client_is_reported_at_every_heartbeat_from_its_login_to_its_leave() -> None:
    """openNDS holds a client from its login; the agent reports it each HEARTBEAT until the
    station leaves (and a client online when the range begins counts from the start)."""
    zones = ("ap-a", "ap-b")
    profile = shoppers.food_court("Usage Test", zones, scale=0.6)
    start = shoppers.utc(2026, 11, 27, 4).timestamp()
    end = start + 3600
    reports = presence.logged_in_usage(profile, start, end, seed=5)
    _frames, truth = shoppers.simulate(profile, start - 6 * 3600, end + 6 * 3600, seed=5)
    checked = 0
    for login in truth.logins:
        leave = (
            min(
                e.ts
                for e in truth.stations
                if (e.event, e.mac, e.zone) == ("leave", login.mac, login.zone) and e.ts > login.ts
            )
            if login.ts < end
            else None
        )
        if leave is None or leave <= start:
            continue
        ticks = [u.ts for u in reports if u.mac == login.mac and u.zone == login.zone]
        first = max(start, login.ts)
        assert ticks, login
        assert all(b - a == presence.HEARTBEAT for a, b in itertools.pairwise(ticks))
        assert first <= ticks[0] < first + presence.HEARTBEAT
        assert min(leave, end) - presence.HEARTBEAT <= ticks[-1] < min(leave, end)
        assert {u.session_start for u in reports if u.mac == login.mac} == {int(login.ts)}
        checked += 1
    assert checked > 5 and all(start <= u.ts < end for u in reports)
