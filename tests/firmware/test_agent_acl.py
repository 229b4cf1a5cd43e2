"""The agent against a Mosquitto of its own with passwords and the contract's ACL.

Proves the agent logs in as username = device_id with its password and stays inside its own
topic subtree (a publish outside the ACL is dropped silently, so its acks would not arrive).
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from controller.fleet_config import DesiredConfig, desired_payload
from tests.firmware.harness import (
    AgentProcess,
    Broker,
    close_client,
    needs_tools,
    new_device_id,
    wait_until,
)

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
MOSQUITTO_PASSWD = shutil.which("mosquitto_passwd")

pytestmark = [
    needs_tools,
    pytest.mark.skipif(
        MOSQUITTO_PASSWD is None or not Path(MOSQUITTO).exists(),
        reason="missing the mosquitto broker (apt-get install mosquitto)",
    ),
]

ACL = """user admin
topic readwrite #

pattern write ap/v1/%u/status
pattern write ap/v1/%u/ack
pattern write ap/v1/%u/evt
pattern write ap/v1/%u/state
pattern write ap/v1/%u/tele
pattern read ap/v1/%u/cmd
pattern read ap/v1/%u/desired
pattern readwrite ap/v1/%u/echo
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture
def device_id() -> str:
    return new_device_id()


@pytest.fixture
def acl_broker(tmp_path: Path, device_id: str) -> Iterator[Broker]:
    """A broker on a free loopback port: users admin/admin-pw and <device_id>/device-pw."""
    conf_dir = tmp_path / "mosquitto"
    conf_dir.mkdir()
    passwd = conf_dir / "passwd"
    for user, password in [("admin", "admin-pw"), (device_id, "device-pw")]:
        create = ["-c"] if not passwd.exists() else []
        subprocess.run(
            [MOSQUITTO_PASSWD, *create, "-b", str(passwd), user, password], check=True, timeout=10
        )
    (conf_dir / "acl").write_text(ACL)
    port = free_port()
    (conf_dir / "mosquitto.conf").write_text(
        f"listener {port} 127.0.0.1\n"
        "allow_anonymous false\n"
        f"password_file {passwd}\n"
        f"acl_file {conf_dir / 'acl'}\n"
        "persistence false\n"
        # Running as root, mosquitto would switch to user mosquitto, who cannot read tmp_path.
        "user root\n"
    )
    log = (conf_dir / "log").open("wb")
    proc = subprocess.Popen(
        [MOSQUITTO, "-c", str(conf_dir / "mosquitto.conf")], stdout=log, stderr=subprocess.STDOUT
    )
    try:
        wait_until(lambda: port_open(port) or proc.poll() is not None)
        assert proc.poll() is None, (conf_dir / "log").read_text()
        yield Broker("127.0.0.1", port, "admin", "admin-pw")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(10)
        log.close()


def test_agent_works_under_the_contract_acl(
    acl_broker: Broker, device_id: str, agent_factory: Callable[..., AgentProcess]
) -> None:
    agent = agent_factory(device_id=device_id, password="device-pw", broker_=acl_broker)

    assert agent.request("ping")["status"] == "done"
    assert agent.probe.wait_for("evt").json()["type"] == "agent_started"
    status = acl_broker.retained(f"ap/v1/{device_id}/status")
    assert status is not None and b'"online":true' in status


def test_wrong_password_is_retried(
    acl_broker: Broker, device_id: str, agent_factory: Callable[..., AgentProcess]
) -> None:
    agent = agent_factory(
        device_id=device_id,
        password="wrong",
        broker_=acl_broker,
        heartbeat=1,
        with_probe=False,
    )

    wait_until(lambda: "mosquitto_sub exited" in agent.env.log_text(), timeout=10)
    assert agent.alive()


def test_a_desired_configuration_passes_its_broker_check_under_the_acl(
    acl_broker: Broker, device_id: str, agent_factory: Callable[..., AgentProcess]
) -> None:
    # broker_check reads back its own token on ap/v1/<id>/echo: the ACL must let it.
    agent = agent_factory(device_id=device_id, password="device-pw", broker_=acl_broker)
    (agent.env.stubs / "uci.db").write_text("opennds.@opennds[0].gatewayname=Test\n")
    client = acl_broker.client()
    payload = desired_payload(1, DesiredConfig(walled_garden=(("cdn.example.com", 443),)).body())
    client.publish(f"ap/v1/{device_id}/desired", payload, qos=1, retain=True).wait_for_publish(5)
    close_client(client)

    state = agent.probe.wait_for("state", timeout=15).json()

    assert (state["result"], state["applied_version"]) == ("ok", 1), state
