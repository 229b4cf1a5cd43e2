"""tele_resend reaches what a flush has had acked and not yet kept as sent.

A broker that restarted acks what routers send before any controller has subscribed again, and
drops it; the controller then asks for it (`tele_resend`). The agent kept what it sent in
`tele.spool.sent` only once `mosquitto_pub` had returned, so a resend that came between the
broker's ack and that append left the flush's events out, lost for good
(tests/marketing/test_restarts.py lost a phone's join that way: one run in about 15, and every
time with a router slowed by a second there). Here `mosquitto_pub` is held after the broker's
ack for the flush that carries a phone's join, the resend is asked for meanwhile, and it must
carry the join.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable

from tests.firmware.harness import AgentProcess, BusyboxEnv, needs_tools, new_device_id, wait_until

pytestmark = needs_tools

PHONE = "3c:22:fb:00:00:01"

HOLDING_PUB = r"""#!{sh}
# mosquitto_pub; the spool's flush (client id {device}-tele) that carries {mac} is held after
# the broker acked it, while pub.hold exists (a busy router: the agent has not yet kept it).
case " $* " in
*" -i {device}-tele "*) ;;
*) exec {real} "$@" ;;
esac
cat >'{dir}/pub.in'
{real} "$@" <'{dir}/pub.in'
rc=$?
if [ "$rc" -eq 0 ] && [ -f '{dir}/pub.hold' ] && grep -q '"mac":"{mac}"' '{dir}/pub.in'; then
	: >'{dir}/pub.held'
	while [ -f '{dir}/pub.hold' ]; do sleep 0.1; done
fi
exit "$rc"
"""


def copies_of(agent: AgentProcess, event_id: str) -> int:
    """How many times the event came on the router's tele topic."""
    assert agent.probe is not None
    return sum(
        1
        for m in agent.probe.of_kind("tele")
        for e in json.loads(m.payload)
        if e.get("id") == event_id
    )


def test_a_resend_carries_a_flush_the_broker_acked_before_the_agent_kept_it(
    agent_factory: Callable[..., AgentProcess], busybox_env: BusyboxEnv
) -> None:
    device_id = new_device_id()
    stub = busybox_env.stubs / "mosquitto_pub"
    real = shutil.which("mosquitto_pub")
    assert real is not None
    stub.write_text(
        HOLDING_PUB.format(
            sh=busybox_env.bin / "sh",
            real=real,
            device=device_id,
            mac=PHONE,
            dir=busybox_env.stubs,
        )
    )
    stub.chmod(0o755)
    hold, held = busybox_env.stubs / "pub.hold", busybox_env.stubs / "pub.held"
    hold.touch()
    agent = agent_factory(device_id=device_id, heartbeat=1)
    busybox_env.set_stations([(PHONE, -61, "wlan0")])
    try:
        wait_until(held.exists)  # the broker has the join; the agent has not kept it as sent
        spool = (busybox_env.state_dir / "tele.spool").read_text().splitlines()
        [join] = [json.loads(line) for line in spool if PHONE in line]
        assert copies_of(agent, join["id"]) == 1

        ack = agent.request("tele_resend", {"since": join["ts"]})

        assert (ack["status"], ack["code"]) == ("done", "ok")
        wait_until(lambda: copies_of(agent, join["id"]) == 2, timeout=5)
    finally:
        hold.unlink(missing_ok=True)
