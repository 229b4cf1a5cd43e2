"""The agent's telemetry (docs/mqtt-contract.md, tele): heartbeats, usage, stations, and the
spool that keeps them, in order, while the broker is away."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest

from kernel.embedded import PrivateMosquitto, free_port, mosquitto_binary
from tests.firmware.harness import (
    AgentProcess,
    Broker,
    BusyboxEnv,
    close_client,
    needs_tools,
    new_device_id,
    wait_until,
)
from tests.firmware.payloads import MAC, TOKEN

pytestmark = needs_tools

Factory = Callable[..., AgentProcess]
EVENT_ID = re.compile(r"^([0-9a-f]{12})-([1-9][0-9]*)$")
PHONE, OTHER = "da:00:00:00:00:01", "aa:00:00:00:00:02"


def events_of(payload: bytes) -> list[dict[str, Any]]:
    """The events of one tele message: the agent sends batches (a JSON array, ≤ 16 KiB)."""
    assert len(payload) <= 16384 + 2, len(payload)
    batch = json.loads(payload)
    assert isinstance(batch, list) and batch and all(isinstance(e, dict) for e in batch)
    return batch


def tele(agent: AgentProcess, kind: str | None = None) -> list[dict[str, Any]]:
    assert agent.probe is not None
    events = [e for m in agent.probe.of_kind("tele") for e in events_of(m.payload)]
    return [e for e in events if kind is None or e["type"] == kind]


def seqs(events: list[dict[str, Any]]) -> list[int]:
    return [int(EVENT_ID.match(e["id"]).group(2)) for e in events]  # type: ignore[union-attr]


def kept_as_sent(env: BusyboxEnv) -> set[str]:
    """The ids of the events the agent keeps as sent, for tele_resend (whole lines only)."""
    path = env.state_dir / "tele.spool.sent"
    ids = set()
    for line in path.read_text().splitlines() if path.exists() else []:
        try:
            ids.add(json.loads(line)["id"])
        except ValueError:  # a line being written
            continue
    return ids


def test_heartbeat_telemetry(agent_factory: Factory) -> None:
    agent = agent_factory(clients={MAC: (TOKEN, "Authenticated")}, heartbeat=1)

    wait_until(lambda: len(tele(agent, "heartbeat")) >= 2, timeout=8)

    beat = tele(agent, "heartbeat")[-1]
    assert beat["v"] == 1 and EVENT_ID.match(beat["id"])
    assert isinstance(beat["uptime_s"], int) and beat["uptime_s"] > 0
    assert len(beat["load"]) == 3 and all(isinstance(x, int | float) for x in beat["load"])
    assert beat["mem_total_kb"] >= beat["mem_free_kb"] > 0
    assert (beat["clients"], beat["stations"], beat["spool_dropped"]) == (1, 0, 0)
    assert (beat["agent"], beat["nds"]) == ("portico-agent/1.0", "11.0.0")
    assert abs(beat["ts"] - time.time()) < 30
    ids = seqs(tele(agent))
    assert ids == list(range(ids[0], ids[0] + len(ids)))  # one sequence, in order


def test_usage_counters_per_client(agent_factory: Factory) -> None:
    agent = agent_factory(clients={MAC: (TOKEN, "Authenticated")}, heartbeat=1)
    agent.env.set_usage(MAC, down_kb=2048, up_kb=300)

    usage = wait_until(
        lambda: [e for e in tele(agent, "usage") if e["down_kb"] == 2048], timeout=8
    )[0]

    assert usage["mac"] == MAC and usage["state"] == "Authenticated"
    assert (usage["up_kb"], usage["session_start"], usage["last_active"]) == (
        300,
        1764000000,
        1764000100,
    )


@pytest.mark.parametrize("source", ["ubus", "iw"])
def test_station_join_and_leave_with_rssi(agent_factory: Factory, source: str) -> None:
    agent = agent_factory(heartbeat=1)
    if source == "iw":
        agent.env.remove_stub("ubus")  # the agent chose ubus at start: start another
        agent.stop()
        agent = agent_factory(heartbeat=1)
    agent.env.set_stations([(PHONE, -61, "phy0-ap0"), (OTHER, -80, "phy1-ap0")])
    wait_until(lambda: len(tele(agent, "station")) >= 2, timeout=8)
    agent.env.set_stations([(OTHER, -75, "phy1-ap0")])

    wait_until(lambda: len(tele(agent, "station")) >= 3, timeout=8)

    events = [(e["event"], e["mac"], e["rssi"], e["if"]) for e in tele(agent, "station")]
    assert sorted(events[:2]) == [
        ("join", OTHER, -80, "phy1-ap0"),
        ("join", PHONE, -61, "phy0-ap0"),
    ]
    assert events[2:] == [("leave", PHONE, -61, "phy0-ap0")]  # a change of signal is no event
    wait_until(lambda: tele(agent, "heartbeat") and tele(agent, "heartbeat")[-1]["stations"] == 1)


def test_bad_station_lines_are_skipped(agent_factory: Factory) -> None:
    agent = agent_factory(heartbeat=1)
    agent.env.set_stations(
        [('"x":1', -61, "wlan0"), (PHONE, 12, "wlan0"), ("AA:BB:CC:DD:EE:FF", -50, "wlan0")]
    )
    time.sleep(2.5)
    agent.env.set_stations([(PHONE, -50, "wlan0")])

    wait_until(lambda: tele(agent, "station"), timeout=8)

    assert [(e["mac"], e["rssi"]) for e in tele(agent, "station")] == [(PHONE, -50)]
    assert agent.alive()


class Collector:
    """A persistent subscriber of a device's telemetry that rides out a broker restart."""

    def __init__(self, broker: Broker, device_id: str) -> None:
        self.events: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self.client = broker.client(client_id=f"collector-{device_id}", clean=False)
        self.client.on_message = self._on_message
        self.client.subscribe(f"ap/v1/{device_id}/tele", qos=1)

    def _on_message(self, _c: Any, _u: Any, msg: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.events.extend(events_of(msg.payload))


@pytest.mark.skipif(mosquitto_binary() is None, reason="needs the mosquitto broker binary")
def test_spool_keeps_telemetry_through_a_broker_outage_and_replays_it_in_order(
    agent_factory: Factory, busybox_env: BusyboxEnv, tmp_path: Path
) -> None:
    binary = mosquitto_binary()
    assert binary is not None
    server = PrivateMosquitto(binary, tmp_path / "broker", port=free_port())
    server.start()
    server.wait_ready()
    broker = Broker("127.0.0.1", server.port)
    device_id = new_device_id()
    collector = Collector(broker, device_id)
    agent = None
    try:
        agent = agent_factory(device_id=device_id, broker_=broker, heartbeat=1)
        wait_until(lambda: len(collector.events) >= 2, timeout=8)
        server.stop()
        busybox_env.set_stations([(PHONE, -61, "wlan0")])
        spool = busybox_env.state_dir / "tele.spool"
        # heartbeats and a join, spooled (a wait on the spool, not a fixed time for them)
        wait_until(lambda: spool.exists() and len(spool.read_text().splitlines()) >= 3, timeout=20)
        spooled = spool.read_text().splitlines()
        assert "telemetry not sent" in busybox_env.log_text()
        server.start()
        server.wait_ready()

        last = seqs([json.loads(spooled[-1])])[0]
        wait_until(lambda: last in seqs(collector.events), timeout=20)
    finally:
        close_client(collector.client)
        if agent is not None:
            agent.stop()  # while its broker runs: it forgets the device's session there
        server.stop()

    got = seqs(collector.events)
    assert sorted(set(got)) == list(range(got[0], max(got) + 1)), "no event lost"
    firsts = list(dict.fromkeys(got))  # an uncertain send goes out again: duplicates
    assert firsts == sorted(firsts), "replayed in order"
    assert any(e["type"] == "station" for e in collector.events)


def test_the_spool_is_capped_and_counts_what_it_dropped(
    agent_factory: Factory, busybox_env: BusyboxEnv, broker: Broker
) -> None:
    # No broker at all: nothing leaves, the spool stays under its cap, the oldest go first.
    stations = [(f"da:00:00:00:{n // 256:02x}:{n % 256:02x}", -60, "wlan0") for n in range(40)]
    busybox_env.set_stations(stations)
    agent = agent_factory(
        heartbeat=1,
        port=free_port(),
        with_probe=False,
        extra_env={"PORTICO_SPOOL_MAX_KB": "2"},
    )
    spool = busybox_env.state_dir / "tele.spool"
    dropped = busybox_env.state_dir / "tele.dropped"
    wait_until(lambda: dropped.exists(), timeout=10)
    busybox_env.set_stations([])  # 40 leaves

    wait_until(lambda: int(dropped.read_text()) > 40, timeout=10)
    time.sleep(1)  # a tick of heartbeats only, after the burst

    assert spool.stat().st_size <= 2 * 1024 + 300
    assert "dropped the" in busybox_env.log_text()
    assert agent.alive()


def test_tele_resend_publishes_again_what_was_sent(agent_factory: Factory) -> None:
    agent = agent_factory(heartbeat=1)
    wait_until(lambda: len(tele(agent, "heartbeat")) >= 3, timeout=8)
    sent = [e["id"] for e in tele(agent)]
    # An event is kept as sent (tele.spool.sent) just after the broker has it: wait for that.
    wait_until(lambda: set(sent) <= kept_as_sent(agent.env), timeout=15)
    before = len(tele(agent))

    ack = agent.request("tele_resend", {"since": 0})
    bad = agent.request("tele_resend", {"since": "yesterday"})

    assert (ack["status"], ack["code"]) == ("done", "ok")
    assert int(ack["msg"].split()[0]) >= len(sent)
    wait_until(lambda: set(sent) <= {e["id"] for e in tele(agent)[before:]}, timeout=5)
    assert (bad["status"], bad["code"]) == ("rejected", "bad_args")
