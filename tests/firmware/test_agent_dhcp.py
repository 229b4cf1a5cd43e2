"""The `dhcp` telemetry event (docs/mqtt-contract.md, tele): dnsmasq's lease hook
(firmware-scripts/files/etc/hotplug.d/dhcp/90-portico) run under busybox as OpenWrt runs it,
the agent turning what it leaves into events of its tele batches, and the controller keeping
only the device's OS family."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shlex
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import asyncpg
import pytest

from controller.listener import FleetListener
from controller.telemetry import TelemetryIngest
from kernel.mqtt import make_client
from kernel.privacy import device_hash
from simulators.agent import AgentModel
from simulators.opennds import OpenNds
from tests.analytics.raw_macs import tables_holding
from tests.factories import make_tenant
from tests.firmware.harness import (
    BUSYBOX,
    FILES,
    AgentProcess,
    BusyboxEnv,
    busybox_now_floor,
    needs_tools,
    wait_until,
)
from tests.firmware.test_agent_telemetry import EVENT_ID, tele

pytestmark = needs_tools

Factory = Callable[..., AgentProcess]
HOOK = FILES / "etc/hotplug.d/dhcp/90-portico"
PHONE, LAPTOP = "da:a1:19:00:00:01", "3c:22:fb:00:00:02"
LAN_IP = "192.168.1.23"
IOS = "1,121,3,6,15,108,114,119,252"  # Apple configd, iOS 14+
ANDROID = "1,3,6,15,26,28,51,58,59,43,114"  # Android 11+ DhcpClient
ALL_64 = ",".join(str(n) for n in range(1, 65))
SECRET = "test-secret-" + "x" * 40

# dhcp-script.sh (OpenWrt's /usr/lib/dnsmasq/dhcp-script.sh): dnsmasq's first argument as the
# ACTION it hands the dhcp hotplug scripts.
HOTPLUG_ACTION = {"add": "add", "old": "update", "del": "remove"}

# (dnsmasq action, MAC, IP, DNSMASQ_REQUESTED_OPTIONS or None when unset): kept or skipped.
KEPT = [
    ("add", PHONE, LAN_IP, IOS),
    ("old", LAPTOP, "10.0.0.7", ANDROID),
    ("add", PHONE, LAN_IP, ALL_64),
    ("add", PHONE, LAN_IP, "254"),
]
SKIPPED = [
    ("del", PHONE, LAN_IP, IOS),  # a lease that ends
    ("add", "DA:A1:19:00:00:01", LAN_IP, IOS),  # dnsmasq prints lower case: not its MAC
    ("add", "06-01:23:45:67:89:ab", LAN_IP, IOS),  # not Ethernet: hardware type first
    ("add", "00:03:00:01:da:a1:19:00:00:01", "fd00::23", IOS),  # a DHCPv6 lease's DUID
    ("add", PHONE, "fd00::23", IOS),  # an IPv6 address
    ("add", PHONE + "\n", LAN_IP, IOS),
    ("add", PHONE, LAN_IP, None),  # no option 55, or an "old" lease read back at start
    ("add", PHONE, LAN_IP, ""),
    ("add", PHONE, LAN_IP, "0,1,3"),  # pad
    ("add", PHONE, LAN_IP, "1,3,255"),  # end
    ("add", PHONE, LAN_IP, "1,3,1000"),
    ("add", PHONE, LAN_IP, "01,3"),
    ("add", PHONE, LAN_IP, "1,,3"),
    ("add", PHONE, LAN_IP, ",1,3"),
    ("add", PHONE, LAN_IP, "1,3,"),
    ("add", PHONE, LAN_IP, ALL_64 + ",65"),
    ("add", PHONE, LAN_IP, "1 3 6"),
    ("add", PHONE, LAN_IP, "1,3\n6"),
    ("add", PHONE, LAN_IP, '1,3","x":"y'),
    ("add", PHONE, LAN_IP, "1,3;reboot"),
]


def lease(
    env: BusyboxEnv, action: str, mac: str, ip: str, opt55: str | None
) -> subprocess.CompletedProcess[str]:
    """What a lease change of dnsmasq (`dhcp-script add|old|del MAC IP`) runs on OpenWrt:
    dhcp-script.sh hands ACTION, MACADDR, IPADDR, HOSTNAME and the DNSMASQ_* variables to
    procd (`ubus call hotplug.dhcp call`); procd's hotplug_call leaves out variables with an
    empty value and hotplug_exec runs `sh -c '. /lib/functions.sh; . <hook>'` (here without
    functions.sh), under busybox with the agent's PORTICO_STATE_DIR."""
    variables = {
        "ACTION": HOTPLUG_ACTION[action],
        "MACADDR": mac,
        "IPADDR": ip,
        "HOSTNAME": "phone",
        "DNSMASQ_INTERFACE": "br-lan",
        "DNSMASQ_TIME_REMAINING": "43200",
        "DNSMASQ_TAGS": "lan",
        "DNSMASQ_REQUESTED_OPTIONS": opt55 or "",
    }
    hotplug_env = {name: value for name, value in variables.items() if value}
    return subprocess.run(
        [BUSYBOX, "sh", "-c", f". {shlex.quote(str(HOOK))}\n"],
        env=env.env(PORTICO_STATE_DIR=str(env.state_dir), **hotplug_env),
        capture_output=True,
        text=True,
        timeout=10,
    )


def inbox(env: BusyboxEnv) -> Path:
    """The agent's inbox for the hook, made as init_tele makes it (when no agent runs)."""
    path = env.state_dir / "dhcp"
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def notes(env: BusyboxEnv) -> list[list[str]]:
    """The finished lines in the inbox, oldest first: [ts, mac, opt55]."""
    files = sorted(p for p in (env.state_dir / "dhcp").iterdir() if not p.name.startswith("."))
    return [p.read_text().split(" ") for p in files]


def test_a_lease_becomes_one_line_in_the_agents_inbox(busybox_env: BusyboxEnv) -> None:
    inbox(busybox_env)
    before = busybox_now_floor()

    started = time.monotonic()
    result = lease(busybox_env, "add", PHONE, LAN_IP, IOS)
    took = time.monotonic() - started

    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    [[ts, mac, opt55]] = notes(busybox_env)
    assert before <= int(ts) <= int(time.time())
    assert (mac, opt55) == (PHONE, IOS + "\n")
    assert took < 2.0  # it only writes a file: dnsmasq's helper waits for it
    assert [p.name for p in (busybox_env.state_dir / "dhcp").iterdir() if p.name[0] == "."] == []


@pytest.mark.parametrize("case", SKIPPED, ids=lambda c: f"{c[0]} {c[1]!r} {c[2]} {c[3]!r}"[:60])
def test_the_hook_skips_what_is_not_a_dhcpv4_lease_with_a_good_list(
    busybox_env: BusyboxEnv, case: tuple[str, str, str, str | None]
) -> None:
    inbox(busybox_env)

    result = lease(busybox_env, *case)

    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    assert notes(busybox_env) == []
    bad_list = case[3] not in (None, "", IOS)  # the other cases skip before the list
    assert ("option 55" in busybox_env.log_text()) == bad_list


def test_without_the_agents_inbox_the_hook_writes_nothing(busybox_env: BusyboxEnv) -> None:
    result = lease(busybox_env, "add", PHONE, LAN_IP, IOS)

    assert (result.returncode, result.stderr) == (0, "")
    assert not busybox_env.state_dir.exists()  # the agent makes it, with its own mode


def test_a_full_inbox_skips_the_lease_and_says_so(busybox_env: BusyboxEnv) -> None:
    box = inbox(busybox_env)
    for n in range(256):
        (box / f"1764000000-{n}").write_text(f"1764000000 {PHONE} 1,3\n")

    result = lease(busybox_env, "add", LAPTOP, LAN_IP, IOS)

    assert (result.returncode, result.stderr) == (0, "")
    assert len(list(box.iterdir())) == 256
    assert "inbox holds 256 leases already" in busybox_env.log_text()


def test_the_agent_model_keeps_and_skips_what_the_hook_does(busybox_env: BusyboxEnv) -> None:
    model = AgentModel(OpenNds())
    for case in KEPT + SKIPPED:
        box = inbox(busybox_env)
        for path in box.iterdir():
            path.unlink()
        lease(busybox_env, *case)
        hook = [(mac, opt55.rstrip("\n")) for _ts, mac, opt55 in notes(busybox_env)]

        event = model.dhcp_lease(*case)

        modelled = []
        if event is not None:
            data = json.loads(event)
            modelled = [(data["mac"], data["opt55"])]
        assert modelled == hook, case
        assert (case in KEPT) == bool(hook), case


def test_leases_reach_the_broker_as_dhcp_events_of_tele_batches(agent_factory: Factory) -> None:
    agent = agent_factory(heartbeat=1)
    before = busybox_now_floor()

    for case in KEPT[:2]:
        assert lease(agent.env, *case).returncode == 0

    events = wait_until(lambda: len(tele(agent, "dhcp")) >= 2 and tele(agent, "dhcp"), timeout=10)
    assert [{k: v for k, v in e.items() if k not in ("id", "ts")} for e in events] == [
        {"v": 1, "type": "dhcp", "mac": PHONE, "opt55": IOS},
        {"v": 1, "type": "dhcp", "mac": LAPTOP, "opt55": ANDROID},
    ]
    assert all(EVENT_ID.match(e["id"]) for e in events)
    assert len({e["id"] for e in tele(agent)}) == len(tele(agent))  # the agent's one sequence
    assert all(before <= e["ts"] <= time.time() for e in events)  # the lease's time
    assert notes(agent.env) == []  # taken from the inbox


def test_skipped_leases_and_bad_inbox_files_send_nothing(agent_factory: Factory) -> None:
    agent = agent_factory(heartbeat=1)
    box = agent.env.state_dir / "dhcp"
    for case in SKIPPED:
        assert lease(agent.env, *case).returncode == 0
    # What only a broken write or a hand could leave there; and a file the hook still writes.
    (box / "1764000000-1").write_text("")
    (box / "1764000000-2").write_text(f"1764000000 {PHONE.upper()} {IOS}\n")
    (box / "1764000000-3").write_text(f'1764000000 {PHONE} 1,3","x":"y\n')
    (box / "1764000000-4").write_text(f"1764000000 {PHONE} {IOS} extra\n")
    (box / "17640000-5").write_text(f"17640000 {PHONE} {IOS}\n")
    (box / ".1764000000-6").write_text(f"1764000000 {PHONE} {IOS}\n")
    wait_until(lambda: agent.env.log_text().count("not a lease of dnsmasq's hook") == 5)
    assert lease(agent.env, *KEPT[0]).returncode == 0

    [event] = wait_until(lambda: tele(agent, "dhcp"), timeout=10)
    time.sleep(1.5)  # a tick more: nothing else follows

    assert [e["mac"] for e in tele(agent, "dhcp")] == [event["mac"]] == [PHONE]
    assert sorted(p.name for p in box.iterdir()) == [".1764000000-6"]  # unfinished: left
    assert agent.alive()


@contextlib.asynccontextmanager
async def controller(url: str, db: asyncpg.Pool) -> AsyncIterator[TelemetryIngest]:
    """The controller's telemetry consumer, as portico.runtime wires it."""
    ingest = TelemetryIngest(db, SECRET)
    client_id = f"test-ctrl-{uuid.uuid4().hex[:8]}"
    fleet = FleetListener(
        url,
        db,
        shared_group=f"t{uuid.uuid4().hex[:8]}",
        client_id=client_id,
        routes={"tele": ingest.handle},
    )
    task = asyncio.create_task(fleet.run())
    try:
        await asyncio.wait_for(fleet.connected.wait(), 10)
        yield ingest
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        # Its persistent session would stay on a shared broker, queueing every router's tele.
        async with make_client(url, "forget", identifier=client_id, clean_session=True):
            pass


async def test_the_controller_keeps_the_os_family_and_never_the_mac(
    db: asyncpg.Pool, mqtt_url: str, agent_factory: Factory
) -> None:
    tenant = await make_tenant(db, with_ad=False)
    phone = ":".join(["da", *(f"{b:02x}" for b in uuid.uuid4().bytes[:5])])

    async with controller(mqtt_url, db) as ingest:
        agent = agent_factory(device_id=tenant.router.router_id, heartbeat=1)
        result = await asyncio.to_thread(lease, agent.env, "add", phone, LAN_IP, IOS)
        assert result.returncode == 0
        async with asyncio.timeout(20):
            while not await db.fetchval(
                "SELECT count(*) FROM footfall_device_os WHERE merchant_id = $1",
                tenant.merchant_id,
            ):
                await asyncio.sleep(0.1)

    rows = await db.fetch(
        "SELECT device_hash, os_family FROM footfall_device_os WHERE merchant_id = $1",
        tenant.merchant_id,
    )
    assert [tuple(r) for r in rows] == [
        (device_hash(SECRET, str(tenant.merchant_id), phone), "ios")
    ]
    assert ingest.stored > 0  # the agent's heartbeats, beside the dhcp event
    assert await tables_holding(db, [phone]) == {}
