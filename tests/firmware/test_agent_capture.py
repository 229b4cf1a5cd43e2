"""The agent's optional capture (docs/mqtt-contract.md, capture): the real agent under busybox
with a stub tcpdump that writes a crafted pcap per rotation; its chunks reach the real broker
on ap/v1/<id>/capture and are deleted only once published; off unless monitor_if is set and
tcpdump is installed."""

from __future__ import annotations

import io
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from scapy.layers.dot11 import Dot11, Dot11Elt, Dot11ProbeReq, RadioTap

from analytics.capture import SUBTYPE_PROBE_REQ, read_frames
from simulators.pcap_writer import write_header, write_records
from tests.firmware.harness import (
    AgentProcess,
    Broker,
    BusyboxEnv,
    close_client,
    needs_tools,
    new_device_id,
    read_calls,
    wait_until,
)

pytestmark = needs_tools

Factory = Callable[..., AgentProcess]
ROTATE = 2  # seconds per chunk in these tests (the agent's default is 60)

# A model of `tcpdump -w PATTERN -G SECONDS` (tcpdump.c: with -G, a new file named by
# strftime(PATTERN) is opened when SECONDS have passed, and the old one closed; -U flushes each
# packet). Each rotation writes the test's crafted capture (tcpdump.pcap): its 24-byte header
# at once and its packets a second later, so a file sent while still written would arrive cut.
# Records its argv; exits 1 at once while tcpdump.fail exists (no such interface).
TCPDUMP_STUB = r"""#!{sh}
dir='{dir}'
printf '%s\t' "$@" >>"$dir/tcpdump.calls"
printf '\n' >>"$dir/tcpdump.calls"
if [ -f "$dir/tcpdump.fail" ]; then
	echo "tcpdump: mon0: No such device exists" >&2
	exit 1
fi
pattern='' seconds=''
while [ $# -gt 0 ]; do
	case $1 in
	-w) pattern=$2; shift 2 ;;
	-G) seconds=$2; shift 2 ;;
	-i | -s) shift 2 ;;
	*) shift ;;
	esac
done
while :; do
	name=$(printf '%s' "$pattern" | sed "s/%s/$(date +%s)/")
	head -c 24 "$dir/tcpdump.pcap" >"$name"
	sleep 1
	tail -c +25 "$dir/tcpdump.pcap" >>"$name"
	sleep $((seconds - 1))
done
"""

# mosquitto_pub that fails for capture chunks while pub.fail exists (the broker away for a big
# message, a timeout), else the real client.
MOSQUITTO_PUB_WRAPPER = r"""#!{sh}
if [ -f '{dir}/pub.fail' ]; then
	case " $* " in *"/capture "*) echo "Error: Connection refused" >&2; exit 1 ;; esac
fi
exec {real} "$@"
"""


def probe(mac: str, seq: int, rssi: int) -> bytes:
    return bytes(
        RadioTap(present="dBm_AntSignal", dBm_AntSignal=rssi)
        / Dot11(
            type=0,
            subtype=4,
            addr1="ff:ff:ff:ff:ff:ff",
            addr2=mac,
            addr3="ff:ff:ff:ff:ff:ff",
            SC=seq << 4,
        )
        / Dot11ProbeReq()
        / Dot11Elt(ID=0, info=b"")
        / Dot11Elt(ID=1, info=b"\x02\x04\x0b\x16")
    )


def crafted_pcap() -> bytes:
    now = time.time()
    out = io.BytesIO()
    write_header(out)
    write_records(
        out,
        [
            (now - 1.5, probe("da:00:00:00:00:07", 1042, -63)),
            (now - 0.5, probe("00:1a:2b:3c:4d:5e", 88, -71)),
        ],
    )
    return out.getvalue()


PCAP = crafted_pcap()


class Chunks:
    """Everything published on a device's capture topic."""

    def __init__(self, broker: Broker, device_id: str) -> None:
        self.payloads: list[bytes] = []
        self._lock = threading.Lock()
        subscribed = threading.Event()
        self.client = broker.client()
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *_: subscribed.set()
        self.client.subscribe(f"ap/v1/{device_id}/capture", qos=1)
        assert subscribed.wait(5), "no SUBACK"

    def _on_message(self, _c: Any, _u: Any, msg: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.payloads.append(bytes(msg.payload))

    def count(self) -> int:
        with self._lock:
            return len(self.payloads)


@pytest.fixture
def capture_env(busybox_env: BusyboxEnv) -> BusyboxEnv:
    """The busybox env with the stub tcpdump and a mosquitto_pub that can be made to fail."""
    stubs = busybox_env.stubs
    (stubs / "tcpdump.pcap").write_bytes(PCAP)
    real = shutil.which("mosquitto_pub")
    for name, text in [
        ("tcpdump", TCPDUMP_STUB.format(sh=busybox_env.bin / "sh", dir=stubs)),
        (
            "mosquitto_pub",
            MOSQUITTO_PUB_WRAPPER.format(sh=busybox_env.bin / "sh", dir=stubs, real=real),
        ),
    ]:
        (stubs / name).write_text(text)
        (stubs / name).chmod(0o755)
    return busybox_env


@pytest.fixture
def chunks_of(broker: Broker) -> Iterator[Callable[[str], Chunks]]:
    made: list[Chunks] = []

    def make(device_id: str) -> Chunks:
        made.append(Chunks(broker, device_id))
        return made[-1]

    yield make
    for chunks in made:
        close_client(chunks.client)


def files(env: BusyboxEnv) -> list[str]:
    return sorted(p.name for p in env.state_dir.glob("capture-*.pcap"))


def start(factory: Factory, env: BusyboxEnv, device_id: str, **extra: str) -> AgentProcess:
    settings = {"PORTICO_MONITOR_IF": "mon0", "PORTICO_CAPTURE_SECONDS": str(ROTATE), **extra}
    return factory(device_id=device_id, heartbeat=1, extra_env=settings)


def test_each_finished_chunk_is_published_and_then_deleted(
    agent_factory: Factory, capture_env: BusyboxEnv, chunks_of: Callable[[str], Chunks]
) -> None:
    device_id = new_device_id()
    chunks = chunks_of(device_id)
    agent = start(agent_factory, capture_env, device_id)
    seen: set[str] = set()

    def two_chunks() -> bool:
        seen.update(files(capture_env))
        return chunks.count() >= 2

    wait_until(two_chunks, timeout=15)

    assert chunks.payloads[:2] == [PCAP, PCAP]  # whole files, never one still being written
    frames = list(read_frames(io.BytesIO(chunks.payloads[0])))
    assert [(f.src, f.seq, f.rssi, f.subtype) for f in frames] == [
        ("da:00:00:00:00:07", 1042, -63, SUBTYPE_PROBE_REQ),
        ("00:1a:2b:3c:4d:5e", 88, -71, SUBTYPE_PROBE_REQ),
    ]
    oldest = sorted(seen)[:2]
    wait_until(lambda: not set(oldest) & set(files(capture_env)))  # deleted once published
    [call] = read_calls(capture_env.stubs / "tcpdump.calls")
    pattern = f"{capture_env.state_dir}/capture-%s.pcap"
    assert call == [
        "-i",
        "mon0",
        "-s",
        "256",
        "-U",
        "-G",
        str(ROTATE),
        "-w",
        pattern,
        "type mgt subtype probe-req",
    ]
    beat = wait_until(lambda: _heartbeat_with(agent, "capture_dropped"))
    assert beat["capture_dropped"] == 0
    assert agent.alive()


def _heartbeat_with(agent: AgentProcess, key: str) -> dict[str, Any] | None:
    assert agent.probe is not None
    for message in reversed(agent.probe.of_kind("tele")):
        for event in message.json():
            if event["type"] == "heartbeat" and key in event:
                return event
    return None


def test_a_chunk_that_could_not_be_published_is_kept_and_sent_later(
    agent_factory: Factory, capture_env: BusyboxEnv, chunks_of: Callable[[str], Chunks]
) -> None:
    device_id = new_device_id()
    chunks = chunks_of(device_id)
    (capture_env.stubs / "pub.fail").write_text("")
    agent = start(agent_factory, capture_env, device_id)
    wait_until(lambda: len(files(capture_env)) >= 3, timeout=15)  # two finished, kept
    kept = files(capture_env)[:2]
    assert "not sent (Error: Connection refused" in capture_env.log_text()
    assert chunks.count() == 0

    (capture_env.stubs / "pub.fail").unlink()
    wait_until(lambda: chunks.count() >= 2, timeout=10)

    assert chunks.payloads[:2] == [PCAP, PCAP]
    wait_until(lambda: not set(kept) & set(files(capture_env)))
    assert "capture chunks sent again" in capture_env.log_text()
    assert agent.alive()


def test_past_its_cap_the_oldest_chunks_are_dropped_and_counted(
    agent_factory: Factory, capture_env: BusyboxEnv, chunks_of: Callable[[str], Chunks]
) -> None:
    device_id = new_device_id()
    (capture_env.stubs / "pub.fail").write_text("")
    agent = start(agent_factory, capture_env, device_id, PORTICO_CAPTURE_KEEP="2")
    dropped = capture_env.state_dir / "capture.dropped"

    wait_until(lambda: dropped.exists(), timeout=15)
    seen: list[list[str]] = [files(capture_env)]

    def oldest_gone() -> bool:
        return bool(seen[0] and seen[-1] and seen[-1][0] > seen[0][0])

    # Two rotations' time at least, and on until the oldest has gone (bounded: on a busy
    # machine two rotations may take longer than 2 × ROTATE).
    watched = time.monotonic() + 2 * ROTATE
    deadline = watched + 20
    while time.monotonic() < watched or (not oldest_gone() and time.monotonic() < deadline):
        time.sleep(0.1)
        seen.append(files(capture_env))

    # The cap holds at every tick; a rotation may add one file until the next tick.
    assert max(len(names) for names in seen) <= 2 + 1
    assert oldest_gone(), f"the oldest go first: {seen[0]} … {seen[-1]}"
    assert "dropped capture chunk capture-" in capture_env.log_text()
    wait_until(lambda: (_heartbeat_with(agent, "capture_dropped") or {}).get("capture_dropped"))


def test_tcpdump_that_exits_is_started_again(
    agent_factory: Factory, capture_env: BusyboxEnv, chunks_of: Callable[[str], Chunks]
) -> None:
    device_id = new_device_id()
    chunks = chunks_of(device_id)
    (capture_env.stubs / "tcpdump.fail").write_text("")
    agent = start(agent_factory, capture_env, device_id)
    calls = capture_env.stubs / "tcpdump.calls"
    wait_until(lambda: len(read_calls(calls)) >= 2, timeout=10)
    assert "tcpdump exited (status 1: tcpdump: mon0: No such device exists" in (
        capture_env.log_text()
    )

    (capture_env.stubs / "tcpdump.fail").unlink()
    wait_until(lambda: chunks.count() >= 1, timeout=20)  # after a back-off of up to 8 s

    assert chunks.payloads[0] == PCAP
    assert agent.alive()


@pytest.mark.parametrize("setup", ["option_unset", "no_tcpdump", "bad_interface"])
def test_capture_is_off_unless_configured_and_possible(
    agent_factory: Factory, capture_env: BusyboxEnv, setup: str
) -> None:
    extra = {"PORTICO_CAPTURE_SECONDS": "1"}
    if setup == "no_tcpdump":
        capture_env.remove_stub("tcpdump")
        # The option through uci, as the installer or a user sets it.
        (capture_env.stubs / "uci.db").write_text("portico.agent.monitor_if=mon0\n")
    elif setup == "bad_interface":
        extra["PORTICO_MONITOR_IF"] = "-Vmon0"
    agent = agent_factory(heartbeat=1, extra_env=extra)

    wait_until(lambda: _heartbeat_with(agent, "spool_dropped"), timeout=8)
    time.sleep(2)

    assert not (capture_env.stubs / "tcpdump.calls").exists()
    assert files(capture_env) == []
    assert _heartbeat_with(agent, "capture_dropped") is None
    log = capture_env.log_text()
    expected = {
        "option_unset": "capture" not in log,
        "no_tcpdump": "monitor_if is mon0 but tcpdump is not installed: no capture" in log,
        "bad_interface": "no capture: monitor_if must name an interface" in log,
    }
    assert expected[setup], log
    assert agent.alive()
