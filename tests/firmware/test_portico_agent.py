"""The router agent against the real broker, with busybox applets and a fake ndsctl."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from kernel.embedded import mosquitto_binary
from tests.firmware.harness import (
    AGENT_SCRIPT,
    BUSYBOX,
    AgentProcess,
    Broker,
    BusyboxEnv,
    command,
    needs_tools,
    new_device_id,
    sha256_hex,
    wait_until,
)
from tests.firmware.payloads import MAC, TOKEN, auth_args, bad_payloads, materialize

pytestmark = needs_tools

# Without MQTT_URL and without Mosquitto installed, the broker is the amqtt fallback. It keeps no
# session of an anonymous client (our config lets every client in anonymously), so a restarted
# mosquitto_sub loses its subscription and the commands sent meanwhile (docs/embedded-defaults.md).
on_amqtt_fallback = pytest.mark.skipif(
    not os.environ.get("MQTT_URL") and mosquitto_binary() is None,
    reason="amqtt, the fallback embedded broker, drops the persistent session of mosquitto_sub",
)

ACK_KEYS = ["v", "id", "status", "code", "msg", "attempts", "ts"]
SHORT_WAIT = 800  # ms: how long tests of a persistent failure let the agent retry

Factory = Callable[..., AgentProcess]


def auth_calls(agent: AgentProcess) -> list[list[str]]:
    return [call for call in agent.ndsctl_calls() if call[0] == "auth"]


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_status_online_retained_and_agent_started(agent_factory: Factory, broker: Broker) -> None:
    agent = agent_factory()

    started = agent.probe.wait_for("evt").json()
    assert started["v"] == 1 and started["type"] == "agent_started"
    assert isinstance(started["ts"], int)
    retained = broker.retained(f"ap/v1/{agent.device_id}/status")
    assert retained is not None, "no retained status"
    status = json.loads(retained)
    assert status["v"] == 1 and status["online"] is True
    assert status["caps"] == [
        "auth",
        "restore",
        "deauth",
        "ping",
        "tele_resend",
        "diagnostics",
        "reboot",
        "apply-config",
        "desired",
    ]
    assert status["agent"] == "portico-agent/1.0"
    assert isinstance(status["ts"], int) and abs(status["ts"] - time.time()) < 60
    assert status["boot_id"] and status["fw"]


def test_heartbeat_republishes_status(agent: AgentProcess) -> None:
    before = len(agent.probe.of_kind("status"))

    agent.probe.wait_for("status", lambda m: m.json()["online"] is True, skip=before, timeout=4)


def test_last_will_marks_offline_when_killed(agent: AgentProcess, broker: Broker) -> None:
    before = len(agent.probe.of_kind("status"))

    agent.kill9()

    offline = agent.probe.wait_for("status", skip=before)
    assert offline.json() == {"v": 1, "online": False}
    assert json.loads(broker.retained(f"ap/v1/{agent.device_id}/status") or b"{}") == {
        "v": 1,
        "online": False,
    }


def test_sigterm_publishes_offline_and_stops_children(agent: AgentProcess, broker: Broker) -> None:
    sub_pid = agent.subscriber_pid()
    reader = int((agent.env.state_dir / "reader.pid").read_text())
    assert sub_pid is not None and pid_alive(sub_pid) and pid_alive(reader)
    before = len(agent.probe.of_kind("status"))

    assert agent.terminate() == 0

    assert agent.probe.wait_for("status", skip=before).json() == {"v": 1, "online": False}
    assert json.loads(broker.retained(f"ap/v1/{agent.device_id}/status") or b"{}") == {
        "v": 1,
        "online": False,
    }
    wait_until(lambda: not pid_alive(sub_pid) and not pid_alive(reader))


def test_auth_with_matching_hid_grants(agent_factory: Factory) -> None:
    agent = agent_factory(clients={MAC: TOKEN, "11:22:33:44:55:66": "ffffffff"})

    cmd = command("auth", auth_args())
    agent.probe.publish_cmd(cmd)
    raw = agent.probe.wait_for("ack", lambda m: m.json()["id"] == cmd["id"]).payload

    assert b"\n" not in raw
    ack = json.loads(raw)
    assert list(ack) == ACK_KEYS
    assert (ack["v"], ack["status"], ack["code"], ack["msg"]) == (1, "done", "ok", "")
    assert isinstance(ack["ts"], int)
    assert agent.ndsctl_calls() == [
        ["json", MAC],
        ["auth", MAC, "60", "0", "0", "0", "0", "s-12345"],
    ]


def test_auth_passes_limits_and_empty_custom(agent_factory: Factory) -> None:
    agent = agent_factory(clients={MAC: TOKEN})
    args = auth_args(minutes=0, up_kbps=512, down_kbps=10000000, up_quota_kb=7, down_quota_kb=9)
    del args["custom"]

    assert agent.request("auth", args)["status"] == "done"
    assert auth_calls(agent) == [["auth", MAC, "0", "512", "10000000", "7", "9", ""]]


def test_auth_with_wrong_hid_is_rejected(agent_factory: Factory) -> None:
    agent = agent_factory(clients={MAC: TOKEN})

    ack = agent.request("auth", auth_args(hid=sha256_hex("00000000")))

    assert (ack["status"], ack["code"]) == ("rejected", "hid_mismatch")
    assert agent.ndsctl_calls() == [["json", MAC]]


def test_auth_for_unknown_client_is_rejected(agent_factory: Factory) -> None:
    agent = agent_factory(clients={"11:22:33:44:55:66": TOKEN, "22:22:33:44:55:66": "none"})

    unknown = agent.request("auth", auth_args())
    no_token = agent.request("auth", auth_args(mac="22:22:33:44:55:66", token="none"))

    assert (unknown["status"], unknown["code"]) == ("rejected", "no_client")
    assert (no_token["status"], no_token["code"]) == ("rejected", "no_client")
    assert auth_calls(agent) == []


def test_auth_of_an_authenticated_client_is_done_without_a_second_grant(
    agent_factory: Factory,
) -> None:
    agent = agent_factory(clients={MAC: (TOKEN, "Authenticated")})

    ack = agent.request("auth", auth_args())

    assert (ack["status"], ack["code"], ack["msg"]) == ("done", "ok", "already authenticated")
    assert auth_calls(agent) == []


def test_restore_grants_without_a_hid(agent_factory: Factory) -> None:
    # After an openNDS restart the client has a new token: restore carries no hid.
    agent = agent_factory(clients={MAC: "0badcafe"})
    args = auth_args(minutes=17)
    del args["hid"]

    ack = agent.request("restore", args)

    assert (ack["status"], ack["code"]) == ("done", "ok")
    assert auth_calls(agent) == [["auth", MAC, "17", "0", "0", "0", "0", "s-12345"]]


def test_restore_validates_its_arguments_and_reports_refusals(agent_factory: Factory) -> None:
    agent = agent_factory(clients={})
    args = auth_args()
    del args["hid"]

    bad = agent.request("restore", {**args, "mac": "$(reboot)"})
    unknown = agent.request("restore", args)  # openNDS does not know the client

    assert (bad["status"], bad["code"]) == ("rejected", "bad_args")
    # One try (openNDS may add a connected client by itself), then no retries.
    assert (unknown["status"], unknown["code"], unknown["attempts"]) == (
        "rejected",
        "no_client",
        1,
    )
    assert auth_calls(agent) == [["auth", MAC, "60", "0", "0", "0", "0", "s-12345"]]


def test_ndsctl_lock_busy_is_tried_again(agent_factory: Factory) -> None:
    # ndsctl exits 4 while another ndsctl holds openNDS's lock: the agent tries again.
    agent = agent_factory(clients={MAC: TOKEN})
    stub = agent.env.stubs / "ndsctl"
    real = stub.read_text()
    busy_once = agent.env.stubs / "busy-once"
    busy_once.write_text("")
    stub.write_text(
        real.replace(
            "line=$(grep",
            f'[ "$cmd" = auth ] && [ -f {busy_once} ] && rm {busy_once} && '
            "echo 'ndsctl thread is busy, please try later.' && exit 4\nline=$(grep",
            1,
        )
    )

    ack = agent.request("auth", auth_args())

    assert (ack["status"], ack["code"]) == ("done", "ok")
    assert len(auth_calls(agent)) == 2


def later(seconds: float, action: Callable[[], object]) -> threading.Timer:
    timer = threading.Timer(seconds, action)
    timer.start()
    return timer


def test_accidental_refusal_is_tried_again_until_openNDS_grants(agent_factory: Factory) -> None:
    # openNDS's binauth race refuses every call for a while, then grants: one ack, done.
    agent = agent_factory(clients={MAC: TOKEN})
    agent.env.refuse_auth(100)
    timer = later(0.5, lambda: agent.env.refuse_auth(0))

    ack = agent.request("auth", auth_args(), wait_ms=4000)
    timer.join()

    assert (ack["status"], ack["code"], ack["msg"]) == ("done", "ok", "")
    assert ack["attempts"] == len(auth_calls(agent)) >= 2
    assert agent.env.client_states() == {MAC: "Authenticated"}
    # The state is read after every refusal, before the next try.
    calls = [call[0] for call in agent.ndsctl_calls()]
    assert calls == ["json", "auth"] * ack["attempts"]


def test_the_heartbeats_ndsctl_polls_wait_while_a_grant_is_retried(
    agent_factory: Factory,
) -> None:
    """openNDS serves one ndsctl request at a time: the telemetry's `ndsctl json` of every
    client beside a grant's retries slowed each try on a real openNDS. The heartbeat waits."""
    agent = agent_factory(clients={MAC: TOKEN}, heartbeat=1)
    wait_until(lambda: ["json"] in agent.ndsctl_calls(), timeout=8)  # polls run meanwhile
    agent.env.refuse_auth(100)
    timer = later(2.5, lambda: agent.env.refuse_auth(0))

    ack = agent.request("auth", auth_args(), wait_ms=6000)
    timer.join()

    assert (ack["status"], ack["code"]) == ("done", "ok") and ack["attempts"] >= 5
    calls = agent.ndsctl_calls()
    tries = [n for n, call in enumerate(calls) if call[0] == "auth"]
    during = calls[tries[1] : tries[-1]]  # from the second try on: the grant is marked
    assert ["json"] not in during, during
    wait_until(lambda: ["json"] in agent.ndsctl_calls()[tries[-1] :], timeout=8)  # then again


def test_repeated_refusal_ends_in_an_error_inside_the_senders_wait(agent_factory: Factory) -> None:
    agent = agent_factory(clients={MAC: TOKEN})
    agent.env.refuse_auth(100)

    started = time.monotonic()
    ack = agent.request("auth", auth_args(), wait_ms=1500)
    took = time.monotonic() - started

    assert (ack["status"], ack["code"]) == ("error", "ndsctl_failed")
    assert ack["attempts"] == len(auth_calls(agent)) >= 3
    assert f"openNDS refused {ack['attempts']} times" in ack["msg"]
    assert f"Failed to authenticate client {MAC},60,0,0,0,0,s-12345." in ack["msg"]
    assert took < 1.5, f"acked after {took:.2f}s, past the sender's wait"
    assert agent.env.client_states() == {MAC: "Preauthenticated"}


def test_slow_tries_end_inside_the_senders_wait(agent_factory: Factory) -> None:
    # Each try (ndsctl json, ndsctl auth) takes 0.8 s here: the agent does not start one that
    # would end after the sender stopped waiting (it used to, and acked 0.5 s too late).
    agent = agent_factory(clients={MAC: TOKEN})
    agent.env.refuse_auth(100)
    agent.env.set_ndsctl_delay(0.4)

    started = time.monotonic()
    ack = agent.request("auth", auth_args(), wait_ms=2500)
    took = time.monotonic() - started

    assert (ack["status"], ack["code"]) == ("error", "ndsctl_failed")
    assert ack["attempts"] >= 2
    assert took < 2.5, f"acked after {took:.2f}s, past the sender's wait"


def test_grants_at_a_fifty_percent_refusal_rate_all_succeed(agent_factory: Factory) -> None:
    macs = [f"aa:bb:cc:00:00:{n:02x}" for n in range(30)]
    agent = agent_factory(clients={mac: f"tok{n}" for n, mac in enumerate(macs)})
    agent.env.refuse_auth(50)

    acks = [agent.request("auth", auth_args(mac, f"tok{n}")) for n, mac in enumerate(macs)]

    assert [(a["status"], a["code"]) for a in acks] == [("done", "ok")] * len(macs)
    assert set(agent.env.client_states().values()) == {"Authenticated"}
    # 30 grants without a single refusal would happen once in 2**30 runs.
    assert sum(a["attempts"] for a in acks) == len(auth_calls(agent)) > len(macs)


def test_a_client_authenticated_meanwhile_is_done(agent_factory: Factory) -> None:
    # ndsctl refused, but the client is through (e.g. its own /opennds_auth/ hop won).
    agent = agent_factory(clients={MAC: TOKEN})
    stub = agent.env.stubs / "ndsctl"
    stub.write_text(
        stub.read_text().replace(
            "auth)\n",
            "auth)\n\tsed -i 's/Preauthenticated/Authenticated/' \"$dir/clients\"\n"
            '\techo "Failed to authenticate client $param."\n\texit 1\n',
            1,
        )
    )

    ack = agent.request("auth", auth_args())

    assert (ack["status"], ack["code"], ack["attempts"]) == ("done", "ok", 1)
    assert [call[0] for call in agent.ndsctl_calls()] == ["json", "auth", "json"]


def test_a_client_openNDS_does_not_hold_is_rejected_at_once(agent_factory: Factory) -> None:
    agent = agent_factory(clients={})
    agent.env.refuse_auth(100)

    started = time.monotonic()
    ack = agent.request("auth", auth_args(), wait_ms=4000)

    assert (ack["status"], ack["code"]) == ("rejected", "no_client")
    assert time.monotonic() - started < 2.0  # at once: far from the 4 s it could retry for
    assert agent.ndsctl_calls() == [["json", MAC]]


def test_openNDS_still_starting_is_waited_for(agent_factory: Factory) -> None:
    # Right after a restart ndsctl cannot connect for a few seconds (exit 3).
    agent = agent_factory(clients={MAC: "0badcafe"})
    agent.env.set_nds_down(True)
    timer = later(0.6, lambda: agent.env.set_nds_down(False))
    args = auth_args()
    del args["hid"]

    ack = agent.request("restore", args, wait_ms=4000)
    timer.join()

    assert (ack["status"], ack["code"], ack["attempts"]) == ("done", "ok", 1)
    assert agent.ndsctl_calls()[0] == ["json", MAC]
    assert agent.env.client_states() == {MAC: "Authenticated"}
    assert "probably not yet started" in agent.env.log_text()


def test_deauth_is_tried_again_while_openNDS_is_unreachable(agent_factory: Factory) -> None:
    agent = agent_factory(clients={MAC: (TOKEN, "Authenticated")})
    agent.env.set_nds_down(True)
    timer = later(0.5, lambda: agent.env.set_nds_down(False))

    ack = agent.request("deauth", {"mac": MAC}, wait_ms=4000)
    timer.join()

    assert (ack["status"], ack["code"]) == ("done", "ok")
    assert ack["attempts"] >= 2
    assert agent.env.client_states() == {}


@pytest.mark.parametrize("wait_ms", [-1, 60001, 1.5, "100", 10**12])
def test_a_bad_wait_ms_is_rejected(agent_factory: Factory, wait_ms: object) -> None:
    agent = agent_factory(clients={MAC: TOKEN})

    ack = agent.request("auth", auth_args(), wait_ms=wait_ms)  # type: ignore[arg-type]

    assert (ack["status"], ack["code"]) == ("rejected", "malformed")
    assert agent.ndsctl_calls() == []


def test_duplicate_id_is_not_executed_again(agent_factory: Factory) -> None:
    agent = agent_factory(clients={MAC: TOKEN})
    cmd = command("auth", auth_args())

    first = agent.probe.send_and_wait_ack(cmd)
    again = agent.probe.send_and_wait_ack(cmd)

    assert (first["status"], first["code"]) == ("done", "ok")
    assert (again["id"], again["status"], again["code"]) == (cmd["id"], "duplicate", "done")
    assert len(auth_calls(agent)) == 1


def test_duplicate_reports_first_status(agent: AgentProcess) -> None:
    cmd = command("shell", {"cmd": "reboot"})

    assert agent.probe.send_and_wait_ack(cmd)["code"] == "unknown_op"
    again = agent.probe.send_and_wait_ack(cmd)

    assert (again["status"], again["code"]) == ("duplicate", "rejected")


def test_only_the_last_256_ids_are_remembered(agent: AgentProcess) -> None:
    # Fill the list directly: 300 commands over MQTT would take too long for this test.
    handled = agent.env.state_dir / "handled"
    handled.write_text("".join(f"old-id-{n:04d} done\n" for n in range(300)))

    assert agent.request("ping")["status"] == "done"  # a new id: the list is cut to 256

    assert len(handled.read_text().splitlines()) == 256
    assert agent.request("ping", cmd_id="old-id-0299")["status"] == "duplicate"
    assert agent.request("ping", cmd_id="old-id-0000")["status"] == "done"


def test_expired_command_is_not_executed(agent_factory: Factory) -> None:
    agent = agent_factory(clients={MAC: TOKEN})

    ack = agent.request("auth", auth_args(), exp=int(time.time()) - 5)

    assert (ack["status"], ack["code"]) == ("expired", "expired")
    assert agent.ndsctl_calls() == []


def test_ndsctl_failure_is_an_error(agent_factory: Factory) -> None:
    agent = agent_factory(clients={MAC: TOKEN})
    agent.env.fail_ndsctl("auth", 'ndsctl: "socket" \\ not\tfound')

    ack = agent.request("auth", auth_args(), wait_ms=SHORT_WAIT)

    assert (ack["status"], ack["code"]) == ("error", "ndsctl_failed")
    assert 'ndsctl: "socket" \\ not\tfound' in ack["msg"]


def test_ndsctl_json_failure_is_an_error(agent_factory: Factory) -> None:
    agent = agent_factory(clients={MAC: TOKEN})
    agent.env.fail_ndsctl("json", "openNDS is not running")

    ack = agent.request("auth", auth_args(), wait_ms=SHORT_WAIT)

    assert (ack["status"], ack["code"]) == ("error", "ndsctl_failed")
    assert auth_calls(agent) == []


def test_deauth(agent_factory: Factory) -> None:
    agent = agent_factory(clients={MAC: (TOKEN, "Authenticated")})

    known = agent.request("deauth", {"mac": MAC})
    unknown = agent.request("deauth", {"mac": "11:22:33:44:55:66"})

    assert (known["status"], known["code"]) == ("done", "ok")
    assert (unknown["status"], unknown["code"]) == ("done", "ok")
    deauths = [call for call in agent.ndsctl_calls() if call[0] == "deauth"]
    assert deauths == [["deauth", MAC], ["deauth", "11:22:33:44:55:66"]]


def test_deauth_failure_of_authenticated_client_is_an_error(agent_factory: Factory) -> None:
    agent = agent_factory(clients={MAC: (TOKEN, "Authenticated")})
    agent.env.fail_ndsctl("deauth", "deauth failed")

    ack = agent.request("deauth", {"mac": MAC}, wait_ms=SHORT_WAIT)

    assert (ack["status"], ack["code"]) == ("error", "ndsctl_failed")


def test_multi_line_json_is_one_command(agent: AgentProcess) -> None:
    cmd = command("ping")
    text = json.dumps(cmd, indent=2)
    assert "\n" in text
    before = len(agent.probe.of_kind("ack"))

    ack = agent.probe.send_and_wait_ack(text)

    assert (ack["id"], ack["status"]) == (cmd["id"], "done")
    time.sleep(0.5)
    assert len(agent.probe.of_kind("ack")) == before + 1


def test_additive_fields_are_ignored(agent: AgentProcess) -> None:
    cmd = command("ping", {"future": [1, {"x": None}]})
    cmd["trace"] = {"span": "abc"}

    assert agent.probe.send_and_wait_ack(cmd)["status"] == "done"


def test_bad_payloads_are_rejected_and_nothing_runs(agent_factory: Factory, tmp_path: Path) -> None:
    agent = agent_factory(clients={MAC: TOKEN})
    marker = tmp_path / "pwned"
    failures = []

    for name, payload, status, code, has_id in bad_payloads():
        data = materialize(payload, marker)
        ack = agent.probe.send_and_wait_ack(data)
        cmd_id = json.loads(data)["id"] if has_id else ""
        if (ack["id"], ack["status"], ack["code"]) != (cmd_id, status, code):
            failures.append((name, ack))

    assert failures == []
    assert agent.ndsctl_calls() == []
    assert not marker.exists()
    assert agent.alive()
    assert agent.request("ping")["status"] == "done"


def test_restarts_mosquitto_sub_when_it_dies(agent: AgentProcess) -> None:
    sub_pid = agent.subscriber_pid()
    before = len(agent.probe.of_kind("status"))

    os.kill(sub_pid, signal.SIGKILL)

    assert agent.probe.wait_for("status", skip=before).json()["online"] is False  # the Will
    wait_until(lambda: agent.subscriber_pid() not in (None, sub_pid), timeout=8)
    agent.wait_ready()
    assert "mosquitto_sub exited" in agent.env.log_text()


@on_amqtt_fallback
def test_restarts_when_the_command_reader_dies(agent: AgentProcess) -> None:
    reader = int((agent.env.state_dir / "reader.pid").read_text())
    sub_pid = agent.subscriber_pid()

    os.kill(reader, signal.SIGKILL)

    wait_until(lambda: "command reader exited" in agent.env.log_text())
    wait_until(lambda: agent.subscriber_pid() not in (None, sub_pid), timeout=8)
    assert agent.request("ping")["status"] == "done"


@on_amqtt_fallback
def test_commands_sent_while_disconnected_are_delivered(agent: AgentProcess) -> None:
    # The persistent session (-c) keeps QoS 1 commands while mosquitto_sub is down.
    sub_pid = agent.subscriber_pid()
    os.kill(sub_pid, signal.SIGKILL)
    wait_until(lambda: not pid_alive(sub_pid))
    cmd = command("ping")

    agent.probe.publish_cmd(cmd)

    ack = agent.probe.wait_for("ack", lambda m: m.json()["id"] == cmd["id"], timeout=10)
    assert ack.json()["status"] == "done"


def test_nds_restart_is_reported(agent_factory: Factory, busybox_env: BusyboxEnv) -> None:
    busybox_env.set_nds_pid("100")
    agent = agent_factory(heartbeat=1)
    # a few heartbeats with an unchanged pid (waited for: a slow machine makes fewer in 2.5 s)
    wait_until(lambda: len(agent.probe.of_kind("tele")) >= 3, timeout=15)
    assert [m.json()["type"] for m in agent.probe.of_kind("evt")] == ["agent_started"]

    busybox_env.set_nds_pid("200")

    evt = agent.probe.wait_for("evt", lambda m: m.json()["type"] == "nds_restarted").json()
    assert evt["v"] == 1 and isinstance(evt["ts"], int)
    assert (evt["ndsctl"], evt["waited_s"]) == ("ready", 0)
    assert "openNDS restarted (pid 100 -> 200)" in busybox_env.log_text()


def test_nds_restarted_waits_until_ndsctl_answers(
    agent_factory: Factory, busybox_env: BusyboxEnv
) -> None:
    # A real openNDS 11 refuses ndsctl for 4-18 s after a start ("probably not yet started",
    # exit 3); a restore sent at once failed (issue 6). The event waits for ndsctl.
    busybox_env.set_nds_pid("100")
    agent = agent_factory(heartbeat=1)
    busybox_env.set_nds_down(True)
    busybox_env.set_nds_pid("200")
    wait_until(lambda: "waiting for ndsctl to answer" in busybox_env.log_text(), timeout=8)
    time.sleep(2.5)  # waited_s >= 2 below

    def probes() -> list[list[str]]:
        return [call for call in agent.ndsctl_calls() if call == ["json", "00:00:00:00:00:00"]]

    wait_until(lambda: len(probes()) >= 2, timeout=15)  # it keeps asking, about once a second
    assert [m.json()["type"] for m in agent.probe.of_kind("evt")] == ["agent_started"]

    went_up = time.monotonic()
    busybox_env.set_nds_down(False)

    evt = agent.probe.wait_for("evt", lambda m: m.json()["type"] == "nds_restarted").json()
    # at one of its next asks (about a second apart), not at the end of the 90 s wait; the
    # bound leaves room for a machine twice as slow and busy
    assert time.monotonic() - went_up < 6
    assert evt["ndsctl"] == "ready" and evt["waited_s"] >= 2
    pid_file = agent.env.state_dir / "nds.pid"
    wait_until(lambda: pid_file.read_text().strip() == "200")
    time.sleep(1.5)
    assert len(agent.probe.of_kind("evt")) == 2  # reported once


def test_nds_restarted_is_reported_anyway_after_the_wait(
    agent_factory: Factory, busybox_env: BusyboxEnv
) -> None:
    busybox_env.set_nds_pid("100")
    agent = agent_factory(heartbeat=1, extra_env={"PORTICO_NDS_READY_WAIT": "2"})
    busybox_env.set_nds_down(True)

    busybox_env.set_nds_pid("200")

    evt = agent.probe.wait_for(
        "evt", lambda m: m.json()["type"] == "nds_restarted", timeout=10
    ).json()
    assert evt["ndsctl"] == "not_ready" and evt["waited_s"] >= 2
    assert "does not answer ndsctl" in busybox_env.log_text()


def test_an_agent_restarted_while_waiting_waits_again(
    agent_factory: Factory, busybox_env: BusyboxEnv
) -> None:
    busybox_env.set_nds_pid("100")
    first = agent_factory(heartbeat=1)
    busybox_env.set_nds_down(True)
    busybox_env.set_nds_pid("200")
    wait_until(lambda: "waiting for ndsctl to answer" in busybox_env.log_text(), timeout=8)
    assert first.terminate() == 0
    assert (busybox_env.state_dir / "nds.pid").read_text().strip() == "100"  # not reported yet

    second = agent_factory(device_id=first.device_id, heartbeat=1)
    busybox_env.set_nds_down(False)

    second.probe.wait_for("evt", lambda m: m.json()["type"] == "nds_restarted", timeout=8)


def test_nds_coming_back_is_reported(agent_factory: Factory, busybox_env: BusyboxEnv) -> None:
    busybox_env.set_nds_pid("100")
    agent = agent_factory(heartbeat=1)
    busybox_env.set_nds_pid(None)
    wait_until(lambda: "openNDS is not running" in busybox_env.log_text())

    busybox_env.set_nds_pid("300")

    agent.probe.wait_for("evt", lambda m: m.json()["type"] == "nds_restarted")


def test_a_client_openNDS_restored_itself_is_done(agent_factory: Factory) -> None:
    # openNDS's auth_restore (libopennds.sh) re-grants the clients of its authlog by itself
    # 15-30 s after a restart; a restore that comes after that finds the client through.
    agent = agent_factory(clients={MAC: ("0badcafe", "Authenticated")})
    args = auth_args()
    del args["hid"]

    ack = agent.request("restore", args)

    assert (ack["status"], ack["code"], ack["msg"], ack["attempts"]) == (
        "done",
        "ok",
        "already authenticated",
        0,
    )
    assert auth_calls(agent) == []


def test_settings_come_from_uci(
    agent_factory: Factory, busybox_env: BusyboxEnv, broker: Broker
) -> None:
    device_id = new_device_id()
    db = {
        "device_id": device_id,
        "password": "from-uci",
        "broker_host": broker.host,
        "broker_port": str(broker.port),
        "tls": "0",
        "heartbeat": "1",
    }
    (busybox_env.stubs / "uci.db").write_text(
        "".join(f"portico.agent.{key}={value}\n" for key, value in db.items())
    )
    # Only the state dir comes from the environment; an empty variable does not override.
    agent = agent_factory(
        device_id=device_id,
        extra_env={
            "PORTICO_DEVICE_ID": "",
            "PORTICO_PASSWORD": "",
            "PORTICO_BROKER_HOST": "",
            "PORTICO_BROKER_PORT": "",
            "PORTICO_TLS": "",
            "PORTICO_HEARTBEAT": "",
        },
    )

    assert agent.request("ping")["status"] == "done"
    assert ["-q", "get", "portico.agent.device_id"] in busybox_env.uci_calls()
    options = (busybox_env.state_dir / "mqtt/mosquitto_sub").read_text().splitlines()
    assert "-u " + device_id in options and "-P from-uci" in options
    assert "heartbeat=1s" in busybox_env.log_text()


def group_cmdlines(pgid: int) -> list[bytes]:
    """Command lines of the processes in process group pgid."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue  # the process exited meanwhile
        if int(fields[2]) == pgid:
            found.append(cmdline)
    return found


def test_password_is_on_no_command_line(agent_factory: Factory) -> None:
    agent = agent_factory(password="pw-7f3a9c", heartbeat=1)

    cmdlines = group_cmdlines(agent.pid)

    assert any(b"mosquitto_sub" in line for line in cmdlines)
    assert not [line for line in cmdlines if b"pw-7f3a9c" in line]


def test_stale_subscriber_of_a_killed_agent_is_stopped(agent_factory: Factory) -> None:
    first = agent_factory()
    stale = first.subscriber_pid()
    os.kill(first.pid, signal.SIGKILL)  # the shell only: its mosquitto_sub lives on
    first.proc.wait(5)
    assert pid_alive(stale)

    second = agent_factory(device_id=first.device_id)

    wait_until(lambda: not pid_alive(stale))
    assert second.request("ping")["status"] == "done"


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"PORTICO_DEVICE_ID": "bad id"}, "device_id must match"),
        ({"PORTICO_BROKER_PORT": "70000"}, "broker_port must be"),
        ({"PORTICO_HEARTBEAT": "0"}, "heartbeat must be"),
        ({"PORTICO_TLS": "yes"}, "tls must be 0 or 1"),
        ({"PORTICO_NDS_READY_WAIT": "soon"}, "PORTICO_NDS_READY_WAIT must be"),
        ({"PORTICO_BROKER_HOST": "host;reboot"}, "broker_host is missing or invalid"),
    ],
)
def test_invalid_settings_stop_the_agent(
    busybox_env: BusyboxEnv, override: dict[str, str], message: str
) -> None:
    settings = {
        "PORTICO_DEVICE_ID": "ap-1",
        "PORTICO_PASSWORD": "pw",
        "PORTICO_BROKER_HOST": "127.0.0.1",
        "PORTICO_BROKER_PORT": "1883",
        "PORTICO_TLS": "0",
        "PORTICO_STATE_DIR": str(busybox_env.state_dir),
    }
    settings.update(override)

    result = subprocess.run(
        [BUSYBOX, "sh", str(AGENT_SCRIPT)],
        env=busybox_env.env(**settings),
        capture_output=True,
        timeout=10,
    )

    assert result.returncode == 1
    assert f"portico-agent: fatal: {message}" in busybox_env.log_text()


OTHER_MAC, OTHER_TOKEN = "aa:bb:cc:dd:ee:02", "tok2"


def queue_behind_refusals(
    agent_factory: Factory, first_wait_ms: int, second_wait_ms: int
) -> tuple[AgentProcess, dict, float]:
    """Two grants in a row while openNDS refuses everything: the second waits in the FIFO for
    the first's whole wait. Returns the agent, the second's ack and its seconds since sent."""
    agent = agent_factory(clients={MAC: TOKEN, OTHER_MAC: OTHER_TOKEN})
    agent.env.refuse_auth(100)
    assert agent.probe is not None
    second = command("auth", auth_args(OTHER_MAC, OTHER_TOKEN), wait_ms=second_wait_ms)
    agent.probe.publish_cmd(command("auth", auth_args(), wait_ms=first_wait_ms))
    sent = time.monotonic()
    agent.probe.publish_cmd(second)
    acked = agent.probe.wait_for("ack", lambda m: m.json()["id"] == second["id"], timeout=15)
    return agent, acked.json(), time.monotonic() - sent


def test_a_command_queued_behind_retries_keeps_only_the_rest_of_its_wait(
    agent_factory: Factory,
) -> None:
    # Its clock started when it arrived, not when the agent got to it.
    _agent, ack, took = queue_behind_refusals(agent_factory, 3000, 6000)

    assert (ack["status"], ack["code"]) == ("error", "ndsctl_failed")
    # Without the queue counted it would retry for 6 s after the first's 3 s: about 8.7 s.
    # Its last try ends before the wait is over, by as long as a try takes (more on a busy CPU).
    assert 4.5 < took < 6.0, f"acked {took:.2f}s after it was sent; the sender waits 6 s"


def test_a_command_queued_past_its_wait_is_not_carried_out(agent_factory: Factory) -> None:
    agent, ack, _took = queue_behind_refusals(agent_factory, 3500, 1500)

    assert (ack["status"], ack["code"]) == ("expired", "wait_over")
    # Not one ndsctl call for it: the portal has shown its shopper the Try again page already.
    assert [call[1] for call in auth_calls(agent)] == [MAC] * len(auth_calls(agent))
    assert len(auth_calls(agent)) > 1
