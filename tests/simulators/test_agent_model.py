"""The simulated agent (simulators/agent.py) against the expectations the shell agent meets."""

from __future__ import annotations

import asyncio
import json
import random
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

import simulators.agent as agent_module
from controller.fleet_config import DesiredConfig, desired_payload
from simulators.agent import AgentModel
from simulators.opennds import OpenNds
from tests.firmware.harness import command, sha256_hex
from tests.firmware.payloads import MAC, TOKEN, auth_args, bad_payloads, materialize

FAST = (0.01, 0.02)  # back_off's pauses, shortened: the model's logic, not its timing, is tested


class VirtualClock:
    """simulators.agent's `time` and `asyncio.sleep` on a clock that moves only when the agent
    pauses: its retry budget is measured in its own time, which a busy machine's stalls do not
    eat into (the model's logic is tested, not the machine's speed)."""

    def __init__(self) -> None:
        self._wall, self._mono, self.moved = time.time(), time.monotonic(), 0.0

    def time(self) -> float:
        return self._wall + self.moved

    def monotonic(self) -> float:
        return self._mono + self.moved

    async def sleep(self, seconds: float) -> None:
        self.moved += seconds
        await asyncio.sleep(0)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> VirtualClock:
    virtual = VirtualClock()
    monkeypatch.setattr(agent_module, "time", virtual)
    monkeypatch.setattr(agent_module, "asyncio", SimpleNamespace(sleep=virtual.sleep))
    return virtual


class CountingNds(OpenNds):
    """openNDS that counts the ndsctl calls made of it."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.calls: list[str] = []

    def ndsctl_json(self, mac: str) -> dict[str, str] | None:
        self.calls.append("json")
        return super().ndsctl_json(mac)

    def ndsctl_auth(self, *args: Any) -> Any:
        self.calls.append("auth")
        return super().ndsctl_auth(*args)

    def ndsctl_deauth(self, mac: str) -> Any:
        self.calls.append("deauth")
        return super().ndsctl_deauth(mac)


def nds_with_client(**kwargs: Any) -> CountingNds:
    nds = CountingNds(**kwargs)
    nds.add_client(MAC, "192.168.1.23").token = TOKEN
    return nds


async def send(agent: AgentModel, payload: dict[str, Any] | bytes) -> dict[str, Any]:
    data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return await agent.handle_command(data)


async def test_the_hostile_payload_table_is_answered_as_the_shell_agent_does(
    tmp_path: Path,
) -> None:
    nds = nds_with_client()
    agent = AgentModel(nds, pauses=FAST)
    failures = []

    for name, payload, status, code, has_id in bad_payloads():
        data = materialize(payload, tmp_path / "pwned")
        ack = await send(agent, data)
        cmd_id = json.loads(data)["id"] if has_id else ""
        if (ack["id"], ack["status"], ack["code"]) != (cmd_id, status, code):
            failures.append((name, ack))

    assert failures == []
    assert nds.calls == []


async def test_a_grant_matches_the_shell_agents_ack() -> None:
    nds = nds_with_client()
    ack = await send(AgentModel(nds, pauses=FAST), command("auth", auth_args()))

    assert list(ack) == ["v", "id", "status", "code", "msg", "attempts", "ts"]
    assert (ack["status"], ack["code"], ack["msg"], ack["attempts"]) == ("done", "ok", "", 1)
    assert nds.calls == ["json", "auth"]
    assert nds.clients[MAC].grant["minutes"] == 60


async def test_refusals_are_retried_inside_the_wait_and_then_reported(clock: VirtualClock) -> None:
    nds = nds_with_client(refusal_rate=1.0)
    started = clock.monotonic()

    async with asyncio.timeout(10):  # an agent that ignored the wait would retry forever
        ack = await send(AgentModel(nds, pauses=FAST), command("auth", auth_args(), wait_ms=800))

    assert (ack["status"], ack["code"]) == ("error", "ndsctl_failed")
    assert ack["attempts"] == nds.calls.count("auth") >= 3
    assert f"Failed to authenticate client {MAC},60,0,0,0,0,s-12345." in ack["msg"]
    assert clock.monotonic() - started < 0.8 - 0.3  # inside the wait, less the ack's margin
    assert not nds.clients[MAC].authenticated


async def test_the_agent_is_marked_granting_only_while_it_tries() -> None:
    """grant(): $STATE_DIR/granting while it tries; the heartbeat waits for it (granting)."""
    nds = nds_with_client(refusal_rate=1.0)
    agent = AgentModel(nds, pauses=FAST)
    assert not agent.granting()
    # Tries for 2.7 s (the wait less ACK_MARGIN): looked at once it has begun to try, not at a
    # fixed 0.2 s into a 0.3 s budget, which a busy machine's pause could have outlasted.
    task = asyncio.create_task(send(agent, command("auth", auth_args(), wait_ms=3000)))
    async with asyncio.timeout(2):
        while "auth" not in nds.calls:
            await asyncio.sleep(0.01)
    assert agent.granting() and not task.done()
    await task
    assert not agent.granting()


async def test_at_half_refusals_every_grant_ends_done() -> None:
    nds = CountingNds(refusal_rate=0.5, rng=random.Random(15))
    agent = AgentModel(nds, pauses=FAST)
    clients = [nds.add_client(f"aa:bb:cc:00:01:{n:02x}", f"10.0.1.{n}") for n in range(100)]

    acks = [
        await send(agent, command("auth", auth_args(c.mac, c.token), wait_ms=4500)) for c in clients
    ]

    assert {(a["status"], a["code"]) for a in acks} == {("done", "ok")}
    assert sum(a["attempts"] for a in acks) == nds.calls.count("auth") > len(clients)


async def test_unknown_clients_and_wrong_hids_are_rejected_without_retries() -> None:
    nds = nds_with_client(refusal_rate=1.0)
    agent = AgentModel(nds, pauses=FAST)

    unknown = await send(agent, command("auth", auth_args(mac="11:22:33:44:55:66")))
    wrong = await send(agent, command("auth", auth_args(hid=sha256_hex("00000000"))))
    restore_args = {k: v for k, v in auth_args(mac="11:22:33:44:55:66").items() if k != "hid"}
    restore = await send(agent, command("restore", restore_args))

    assert (unknown["status"], unknown["code"], unknown["attempts"]) == (
        "rejected",
        "no_client",
        0,
    )
    assert (wrong["status"], wrong["code"]) == ("rejected", "hid_mismatch")
    assert (restore["status"], restore["code"], restore["attempts"]) == (
        "rejected",
        "no_client",
        1,
    )
    assert nds.calls == ["json", "json", "json", "auth", "json"]


async def test_an_authenticated_client_is_done_without_a_grant() -> None:
    nds = nds_with_client()
    nds.clients[MAC].authenticated = True

    ack = await send(AgentModel(nds), command("auth", auth_args()))

    assert (ack["status"], ack["msg"], ack["attempts"]) == ("done", "already authenticated", 0)
    assert nds.calls == ["json"]


async def test_deauth_deletes_the_client_and_an_unknown_one_is_done() -> None:
    nds = nds_with_client()
    nds.clients[MAC].authenticated = True
    agent = AgentModel(nds)

    known = await send(agent, command("deauth", {"mac": MAC}))
    unknown = await send(agent, command("deauth", {"mac": MAC}))

    assert (known["status"], known["msg"]) == ("done", "")
    assert (unknown["status"], unknown["msg"]) == ("done", "client was not authenticated")
    assert nds.clients == {}


async def test_duplicates_and_expired_commands() -> None:
    nds = nds_with_client()
    agent = AgentModel(nds)
    cmd = command("ping")

    assert (await send(agent, cmd))["status"] == "done"
    again = await send(agent, cmd)
    late = await send(agent, command("auth", auth_args(), exp=int(time.time()) - 5))

    assert (again["status"], again["code"]) == ("duplicate", "done")
    assert (late["status"], late["code"]) == ("expired", "expired")
    assert "attempts" not in again and nds.calls == []


@pytest.mark.parametrize("wait_ms", [-1, 60001, 1.5, "100", 10**12, True])
async def test_a_bad_wait_ms_is_rejected(wait_ms: object) -> None:
    nds = nds_with_client()
    ack = await send(AgentModel(nds), command("auth", auth_args(), wait_ms=wait_ms))  # type: ignore[arg-type]
    assert (ack["status"], ack["code"]) == ("rejected", "malformed")
    assert nds.calls == []


async def test_a_queued_command_keeps_only_the_rest_of_its_wait(clock: VirtualClock) -> None:
    # As the shell agent (queued_since): the clock starts when the command arrived.
    nds = nds_with_client(refusal_rate=1.0)
    agent = AgentModel(nds, pauses=FAST)
    payload = json.dumps(command("auth", auth_args(), wait_ms=1500)).encode()
    started = clock.monotonic()

    async with asyncio.timeout(10):
        ack = await agent.handle_command(payload, queued=1.0)

    assert (ack["status"], ack["code"]) == ("error", "ndsctl_failed")
    assert nds.calls.count("auth") >= 3  # it did try, within what was left
    assert clock.monotonic() - started <= 0.2  # 1.5 s wait - 1.0 s queued - 0.3 s margin


async def test_a_command_queued_past_its_wait_is_not_carried_out() -> None:
    nds = nds_with_client()
    agent = AgentModel(nds, pauses=FAST)
    payload = json.dumps(command("auth", auth_args(), wait_ms=1500)).encode()

    ack = await agent.handle_command(payload, queued=1.6)

    assert (ack["status"], ack["code"]) == ("expired", "wait_over")
    assert nds.calls == [] and not nds.clients[MAC].authenticated


async def test_diagnostics_answers_the_shell_agents_fixed_facts() -> None:
    nds = nds_with_client()
    agent = AgentModel(nds, pauses=FAST)

    ack = await send(agent, command("diagnostics", {"cmd": "reboot"}))

    assert (ack["status"], ack["code"]) == ("done", "ok")
    assert set(ack["diag"]) == {
        "agent",
        "fw",
        "clock",
        "uptime_s",
        "mem_total_kb",
        "mem_free_kb",
        "load",
        "boot_id",
        "nds_rc",
        "nds_status",
    }
    assert ack["diag"]["boot_id"] == agent.boot_id and ack["diag"]["nds_rc"] == 0
    assert agent.reboots == 0
    nds.restart(ready_after=60)
    assert (await send(agent, command("diagnostics")))["diag"]["nds_rc"] == 3


async def test_reboot_acks_then_reboots_once_per_boot() -> None:
    nds = nds_with_client()
    agent = AgentModel(nds, pauses=FAST)
    boot_id = agent.boot_id
    cmd = command("reboot", {"boot_id": boot_id})

    first = await send(agent, cmd)
    # The ids handled are gone with the reboot; the boot id is what stops a second one.
    again = await send(agent, cmd)

    assert (first["status"], first["msg"]) == ("done", "rebooting")
    assert (again["status"], again["msg"]) == ("done", "already rebooted")
    assert agent.reboots == 1 and agent.boot_id != boot_id
    assert nds.clients == {}


@pytest.mark.parametrize(
    "args", [{}, {"boot_id": 5}, {"boot_id": "$(reboot)"}, {"boot_id": "a" * 65}]
)
async def test_reboot_needs_a_boot_id(args: dict[str, Any]) -> None:
    agent = AgentModel(nds_with_client(), pauses=FAST)

    ack = await send(agent, command("reboot", args))

    assert (ack["status"], ack["code"]) == ("rejected", "bad_args")
    assert agent.reboots == 0


def desired_doc(version: int, **overrides: Any) -> bytes:
    config = DesiredConfig(walled_garden=(("cdn.example.com", 443),), minutes=90, **overrides)
    return desired_payload(version, config.body())


async def test_desired_is_applied_once_and_a_breaking_one_rolled_back() -> None:
    nds = nds_with_client()
    agent = AgentModel(nds, pauses=FAST)
    agent.broker_ok = lambda config: "192.0.2.66:443" not in config["walled_garden"]

    agent.handle_desired(desired_doc(1, faskey="ab" * 32))
    agent.handle_desired(desired_doc(1, faskey="ab" * 32))  # redelivered: not applied again
    assert [(s["version"], s["result"], s["applied_version"]) for s in agent.states] == [
        (1, "ok", 1)
    ]
    assert agent.config["sessiontimeout"] == 90 and nds.faskey == "ab" * 32
    assert agent.nds_restarts == 1

    breaking = DesiredConfig(walled_garden=(("192.0.2.66", 443),), minutes=5)
    agent.handle_desired(desired_payload(2, breaking.body()))

    last = agent.states[-1]
    assert (last["version"], last["result"], last["applied_version"]) == (2, "failed", 1)
    assert "rolled back" in last["error"]
    assert agent.config["sessiontimeout"] == 90 and nds.faskey == "ab" * 32
    assert agent.nds_restarts == 3


async def test_hostile_desired_documents_are_rejected_as_the_shell_agent_does() -> None:
    agent = AgentModel(nds_with_client(), pauses=FAST)
    good = desired_doc(3)
    cases = [
        (b"not json", "malformed"),
        (good.replace(b'"v":1', b'"v":2'), "v must be 1"),
        (good.replace(b'"version":3', b'"version":0'), "version must be"),
        (good.replace(b'"minutes":90', b'"minutes":91'), "sha256"),
        (b"x" * 5000, "longer than"),
    ]
    for payload, error in cases:
        agent.handle_desired(payload)
        state = agent.states.pop()
        assert state["result"] == "rejected" and error in state["error"], (payload, state)
    assert agent.config == {} and agent.nds_restarts == 0


async def test_apply_config_reapplies_the_last_document() -> None:
    agent = AgentModel(nds_with_client(), pauses=FAST)
    none = await send(agent, command("apply-config"))
    assert (none["status"], none["code"]) == ("rejected", "no_config")

    agent.handle_desired(desired_doc(1))
    agent.config["sessiontimeout"] = 5  # changed by hand
    ack = await send(agent, command("apply-config"))

    assert (ack["status"], ack["msg"]) == ("done", "version 1 applied")
    assert agent.config["sessiontimeout"] == 90
    assert [s["result"] for s in agent.states] == ["ok", "ok"]
