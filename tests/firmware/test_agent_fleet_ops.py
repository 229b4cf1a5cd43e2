"""The agent's fleet commands (docs/mqtt-contract.md, ops diagnostics and reboot): a fixed set
of facts in the ack, and a reboot that acks first and never happens twice."""

from __future__ import annotations

import json
import time
from pathlib import Path

from tests.firmware.harness import AgentProcess, command, needs_tools, wait_until

pytestmark = needs_tools

BOOT_ID = Path("/proc/sys/kernel/random/boot_id").read_text().strip()


def test_diagnostics_answers_the_fixed_facts_in_its_ack(agent: AgentProcess) -> None:
    before = int(time.time())
    ack = agent.request("diagnostics")

    assert (ack["status"], ack["code"]) == ("done", "ok")
    diag = ack["diag"]
    assert set(diag) == {
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
    assert diag["agent"] == "portico-agent/1.0"
    assert before - 2 <= diag["clock"] <= time.time() + 2
    assert diag["uptime_s"] > 0 and diag["mem_total_kb"] >= diag["mem_free_kb"] > 0
    assert len(diag["load"]) == 3
    assert diag["boot_id"] == BOOT_ID
    assert diag["nds_rc"] == 0
    assert diag["nds_status"].splitlines()[1] == "openNDS Status"
    assert ["status"] in agent.ndsctl_calls()


def test_diagnostics_args_choose_nothing(agent: AgentProcess) -> None:
    ack = agent.request("diagnostics", {"cmd": "reboot", "lines": 10_000})

    assert ack["status"] == "done"
    assert agent.env.reboots() == 0
    assert [c for c in agent.ndsctl_calls() if c[0] == "status"] == [["status"]]


def test_hostile_ndsctl_status_is_cut_and_escaped(agent: AgentProcess) -> None:
    # 12 lines are kept, at most 512 bytes, escaped: the ack stays one valid, small message.
    hostile = "".join(f'"$(reboot)"\\\x01\x1b[31m\xff {n} ' + "x" * 80 + "\n" for n in range(50))
    agent.env.set_ndsctl_status(hostile, exit_code=1)

    ack = agent.request("diagnostics")

    assert ack["status"] == "done"
    raw = next(m.payload for m in agent.probe.of_kind("ack") if json.loads(m.payload) == ack)
    assert len(raw) < 4096
    status = ack["diag"]["nds_status"]
    assert ack["diag"]["nds_rc"] == 1
    assert status.startswith('"$(reboot)"\\\x01\x1b[31m?? 0 ')  # ÿ: two UTF-8 bytes
    assert len(status.encode()) <= 512 and len(status.splitlines()) <= 12
    assert agent.env.reboots() == 0


def test_diagnostics_reports_opennds_down(agent: AgentProcess) -> None:
    agent.env.set_nds_down(True)

    diag = agent.request("diagnostics")["diag"]

    assert diag["nds_rc"] == 3
    assert "not yet started" in diag["nds_status"]


def test_reboot_acks_done_before_it_reboots(agent: AgentProcess) -> None:
    ack = agent.request("reboot", {"boot_id": BOOT_ID})

    assert (ack["status"], ack["code"], ack["msg"]) == ("done", "ok", "rebooting")
    wait_until(lambda: agent.env.reboots() == 1)
    log = agent.env.log_text()
    assert log.index(f"ack id={ack['id']} status=done") < log.index("reboot: called")


def test_reboot_of_another_boot_is_already_done(agent: AgentProcess) -> None:
    # The router rebooted since the sender read its boot_id: a retry must not reboot again.
    ack = agent.request("reboot", {"boot_id": "00000000-1111-2222-3333-444444444444"})

    assert (ack["status"], ack["msg"]) == ("done", "already rebooted")
    time.sleep(0.3)
    assert agent.env.reboots() == 0


def test_reboot_repeated_id_is_a_duplicate_not_a_second_reboot(agent: AgentProcess) -> None:
    cmd = command("reboot", {"boot_id": BOOT_ID})
    assert agent.probe is not None
    first = agent.probe.send_and_wait_ack(cmd)
    again = agent.probe.send_and_wait_ack(cmd)

    assert first["status"] == "done"
    assert (again["status"], again["code"]) == ("duplicate", "done")
    wait_until(lambda: agent.env.reboots() == 1)
    time.sleep(0.3)
    assert agent.env.reboots() == 1


def test_reboot_needs_a_boot_id(agent: AgentProcess) -> None:
    for args in ({}, {"boot_id": 5}, {"boot_id": "$(reboot)"}, {"boot_id": "a" * 65}):
        ack = agent.request("reboot", args)
        assert (ack["status"], ack["code"]) == ("rejected", "bad_args"), args
    assert agent.env.reboots() == 0
    assert agent.request("ping")["status"] == "done"
