"""Fixtures for the router agent tests (firmware-scripts/); the code they use is harness.py.

The agent runs as `busybox sh portico-agent` with PATH = stubs : busybox applets : /usr/bin, so
sh, awk, sed, sha256sum, date, timeout ... are busybox applets as on OpenWrt, mosquitto_sub and
mosquitto_pub come from Debian's mosquitto-clients, and ndsctl, uci, logger, pidof and opkg are
stubs. It talks to the real broker at MQTT_URL (default mqtt://127.0.0.1:1883).

Fixtures
--------
busybox_bin (session) -> Path
    A directory of busybox applet symlinks (`busybox --install -s`).
busybox_env -> BusyboxEnv
    A fresh temp dir per test: stubs/ (fake ndsctl, uci, logger, pidof, opkg) and state/ (the
    agent's PORTICO_STATE_DIR). set_clients({mac: token or (token, state)}) sets the fake
    openNDS client table; ndsctl_calls() -> [[arg, ...], ...] and ndsctl_calls_path (one call
    per line, arguments tab-separated); fail_ndsctl(subcommand, message); set_nds_pid(pid);
    log_text() (what the agent logged); uci_calls(), uci_db(), opkg_calls();
    env(**extra) -> the environment for a subprocess.
broker (session) -> Broker
    host, port (and username/password if given) from MQTT_URL. probe(device_id) -> Probe,
    retained(topic) -> payload or None, forget(device_id) drops the retained status and the
    agent's persistent session.
agent_factory -> start(**kwargs) -> AgentProcess
    Starts `busybox sh portico-agent` in its own process group. At teardown every agent it
    started is stopped (SIGTERM to the group, then SIGKILL) and forgotten on the broker, and
    its logs are printed (pytest shows them for a failed test). Keyword arguments, all
    optional:
      device_id: str (default: a fresh "t-<uuid>"), password: str = "secret",
      host: str, port: int (default: those of broker_), clients: {mac: token} (or
      {mac: (token, state)}), heartbeat: int = 60 (s), extra_env: {name: value} (PORTICO_*
      overrides), with_probe: bool = True, env: BusyboxEnv (default: busybox_env),
      broker_: Broker (default: the broker fixture; used by the probe and the teardown).
    With with_probe, a Probe subscribed to the device's status, ack and evt exists before the
    agent starts (so agent_started is caught), and start() returns once a ping is answered.
agent -> AgentProcess
    One ready agent with a fresh device id and a 1 s heartbeat.

AgentProcess: device_id, pid, probe, env, ndsctl_calls_path, ndsctl_calls(), subscriber_pid(),
alive(), wait_ready(), request(op, args, cmd_id=, exp=) -> ack dict, terminate() (SIGTERM to the
shell, returns its exit status), kill9() (SIGKILL to the group), logs(), stop().
Probe: messages, of_kind(kind), wait_for(kind, match, timeout, skip), publish_cmd(payload),
send_and_wait_ack(payload), request(op, args).

Reuse from another directory (e.g. an end-to-end test): import the helpers with
`from tests.firmware.harness import Broker, BusyboxEnv, start_agent` and build the agent with
`start_agent(BusyboxEnv.create(tmp_path / "agent", busybox_bin_dir), broker, device_id=...,
password=..., host=..., port=..., clients={mac: token})`, then `agent.stop()`; or import these
fixtures into that test module: `from tests.firmware.conftest import agent_factory, broker,
busybox_bin, busybox_env`.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.firmware.harness import (
    BUSYBOX,
    MISSING_TOOLS,
    AgentProcess,
    Broker,
    BusyboxEnv,
    start_agent,
)

# ---------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def busybox_bin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if MISSING_TOOLS:
        pytest.skip(f"missing {', '.join(MISSING_TOOLS)}")
    path = tmp_path_factory.mktemp("busybox-bin")
    subprocess.run([BUSYBOX, "--install", "-s", str(path)], check=True)
    return path


@pytest.fixture
def busybox_env(tmp_path: Path, busybox_bin: Path) -> BusyboxEnv:
    return BusyboxEnv.create(tmp_path / "bbenv", busybox_bin)


@pytest.fixture(scope="session")
def broker(mqtt_url: str) -> Broker:
    """The broker of the whole test run (MQTT_URL, or the embedded one)."""
    return Broker.from_url(mqtt_url)


@pytest.fixture
def agent_factory(busybox_env: BusyboxEnv, broker: Broker) -> Iterator[Callable[..., AgentProcess]]:
    started: list[AgentProcess] = []

    def start(
        env: BusyboxEnv | None = None, broker_: Broker | None = None, **kwargs: Any
    ) -> AgentProcess:
        agent = start_agent(env or busybox_env, broker_ or broker, **kwargs)
        started.append(agent)
        return agent

    yield start
    for agent in started:
        agent.stop()
        print(agent.logs())  # pytest shows it when the test failed


@pytest.fixture
def agent(agent_factory: Callable[..., AgentProcess]) -> AgentProcess:
    return agent_factory(heartbeat=1)
