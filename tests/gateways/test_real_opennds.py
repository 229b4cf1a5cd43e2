"""Shoppers log in through a real openNDS, with the real agent on it (opt-in: make test-gateways).

Needs OPENNDS_ROOT (an openNDS install tree built by hand from openNDS/openNDS; see
docs/real-gateway-tests.md), root, iproute2, util-linux, nftables, busybox and the mosquitto
clients; skipped otherwise. opennds_harness.py builds the namespaces; phone.py is the browser.

Each phone, from a client namespace of its own: GET http://10.200.0.99/ -> openNDS's 307 to the
portal (fas=...) -> splash -> POST the login form (terms accepted) -> the portal asks the agent
over MQTT (via a relay to the broker) to `ndsctl auth` the phone -> follow every redirect. What
the issues ask (15 and 5): each of 6 phones logs in, is let go (`ndsctl deauth`) and logs in
again, and every login ends Authenticated in `ndsctl json`, and its browser ends
on the "You're online" page, never on an error page.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiohttp import web

from controller.services import CommandSender
from kernel.config import Settings
from kernel.mqtt import parse_mqtt_url
from kernel.web import Handler
from portal.app import make_portal_app
from tests.factories import Tenant, make_tenant
from tests.firmware.harness import AGENT_SCRIPT, BUSYBOX, JSON_AWK, Broker, Probe, command
from tests.gateways.opennds_harness import (
    OPENNDS_ROOT,
    ORIGIN_IP,
    PORTAL_IP,
    PORTAL_PORT,
    OpenNDS,
    Relay,
    Topology,
    client_mac,
    make_test_tls,
    skip_reason,
    socket_in_netns,
)

REASON = skip_reason()
if REASON:
    pytest.skip(REASON, allow_module_level=True)

PHONES = 6
PHONE_SCRIPT = Path(__file__).with_name("phone.py")
ACK_TIMEOUT = 5.0  # the production defaults (PORTICO_ACK_TIMEOUT, PORTICO_GRANT_TIMEOUT)
GRANT_TIMEOUT = 12.0


@dataclass
class Gateway:
    topology: Topology
    nds: OpenNDS
    tenant: Tenant
    probe: Probe | None  # None: no agent (level 3, authmon grants)
    startup: list[str]  # what ndsctl said while openNDS started
    fas_level: int
    ca_file: Path | None
    authmon_exchanges: list[dict[str, str]]


async def _agent_ready(probe: Probe, agent: Any, timeout: float = 30.0) -> None:
    """Ping the agent until it acks (its mosquitto_sub has subscribed)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert agent.poll() is None, "the agent exited"
        cmd = command("ping")
        await asyncio.to_thread(probe.publish_cmd, cmd)
        for _ in range(10):
            await asyncio.sleep(0.1)
            acks = [m for m in probe.of_kind("ack") if m.json().get("id") == cmd["id"]]
            if acks:
                probe.ignored_ids.add(cmd["id"])
                return
    raise AssertionError(f"the agent did not answer a ping within {timeout}s")


def _origin_app() -> web.Application:
    """The site behind ORIGIN_IP: what a phone reaches once it is online."""

    async def page(request: web.Request) -> web.Response:
        return web.Response(text="<title>origin</title><h1>the open internet</h1>")

    app = web.Application()
    app.router.add_get("/{tail:.*}", page)
    return app


def _recorder(
    exchanges: list[dict[str, str]],
) -> Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]:
    """Keeps what openNDS's authmon sent the portal and what it got back (for the report)."""

    @web.middleware
    async def record(request: web.Request, handler: Handler) -> web.StreamResponse:
        response = await handler(request)
        if request.method == "POST" and request.path.endswith("/") and len(exchanges) < 400:
            form = await request.post()
            body = response.text if isinstance(response, web.Response) else None
            exchanges.append(
                {
                    "t": f"{time.monotonic():.2f}",
                    "user_agent": request.headers.get("User-Agent", ""),
                    "content_type": request.headers.get("Content-Type", ""),
                    "body": (await request.read()).decode(errors="replace"),
                    "fields": json.dumps({k: str(v) for k, v in form.items()}),
                    "status": str(response.status),
                    "answer": body or "",
                }
            )
        return response

    return record


@pytest.fixture(params=[1, 2, 3], ids=["level1", "level2", "level3-authmon"])
async def gateway(
    request: pytest.FixtureRequest, settings: Settings, db: asyncpg.Pool, tmp_path: Path
) -> AsyncIterator[Gateway]:
    """openNDS at FAS level 1, 2 or 3. Levels 1 and 2 grant through our agent over MQTT; the
    level-3 router has no agent, so openNDS's authmon fetches the grants (docs/login-flow.md)."""
    async with running_gateway(settings, db, tmp_path, request.param) as running:
        yield running


@pytest.fixture
async def refusing_gateway(
    settings: Settings, db: asyncpg.Pool, tmp_path: Path
) -> AsyncIterator[Gateway]:
    """openNDS at level 1 with the agent, refusing grants on demand (nds.set_refusals)."""
    async with running_gateway(settings, db, tmp_path, 1, refusals=True) as running:
        yield running


@contextlib.asynccontextmanager
async def running_gateway(
    settings: Settings, db: asyncpg.Pool, tmp_path: Path, fas_level: int, *, refusals: bool = False
) -> AsyncIterator[Gateway]:
    with_agent = fas_level < 3
    tenant = await make_tenant(db, session_minutes=120, online=with_agent)
    router = tenant.router
    await db.execute(
        "UPDATE routers SET fas_level = $1 WHERE merchant_id = $2 AND router_id = $3",
        fas_level,
        router.merchant_id,
        router.router_id,
    )
    scheme = "https" if fas_level == 3 else "http"
    portal_settings = replace(
        settings,
        public_portal_url=f"{scheme}://{PORTAL_IP}:{PORTAL_PORT}",
        ack_timeout=ACK_TIMEOUT,
        grant_timeout=GRANT_TIMEOUT,
    )
    topology = Topology(clients=PHONES)
    work = tmp_path / "gw"
    work.mkdir()
    tls, ca_file = make_test_tls(work, PORTAL_IP) if fas_level == 3 else (None, None)
    nds = OpenNDS(
        topology,
        Path(OPENNDS_ROOT),
        work,
        router.faskey,
        f"/fas/{router.router_id}/",
        fas_level=fas_level,
        ca_file=ca_file,
        refusals=refusals,
    )
    exchanges: list[dict[str, str]] = []
    broker = Broker.from_url(settings.mqtt_url)
    address = parse_mqtt_url(settings.mqtt_url)
    sender = CommandSender(
        settings.mqtt_url, db, ack_timeout=ACK_TIMEOUT, grant_timeout=GRANT_TIMEOUT
    )
    runners: list[web.AppRunner] = []
    relay: Relay | None = None
    probe: Probe | None = None
    try:
        topology.create()
        nds.prepare(PHONES)
        nds.enter()
        nds.start()
        await sender.start()
        portal_app = make_portal_app(portal_settings, db, sender)
        portal_app.middlewares.append(_recorder(exchanges))
        for app, host, port, context in [
            (portal_app, PORTAL_IP, PORTAL_PORT, tls),
            (_origin_app(), ORIGIN_IP, 80, None),
        ]:
            runner = web.AppRunner(app)
            await runner.setup()
            runners.append(runner)
            sock = socket_in_netns(topology.wan, host, port)
            await web.SockSite(runner, sock, ssl_context=context).start()
        relay = Relay(
            socket_in_netns(topology.gateway, "127.0.0.1", 1883), address.host, address.port
        )
        await relay.start()
        startup = await nds.wait_ready()
        if not with_agent:
            yield Gateway(topology, nds, tenant, None, startup, fas_level, ca_file, exchanges)
            return
        (work / "bb").mkdir()
        subprocess.run([BUSYBOX, "--install", "-s", str(work / "bb")], check=True, timeout=20)
        # The agent runs in the gateway's mount namespace, whose /tmp is its own: a checkout
        # under /tmp would not be there, the work directory is (NS_SETUP binds it back).
        agent_script = Path(shutil.copy(AGENT_SCRIPT, work / "portico-agent"))
        json_awk = Path(shutil.copy(JSON_AWK, work / "json.awk"))
        probe = broker.probe(router.router_id)
        agent = nds.spawn(
            [BUSYBOX, "sh", str(agent_script)],
            work / "agent.out",
            env={
                "PATH": f"{work / 'bb'}:/usr/sbin:/usr/bin:/sbin:/bin",
                "HOME": str(work),
                "LC_ALL": "C",
                "PORTICO_DEVICE_ID": router.router_id,
                "PORTICO_PASSWORD": tenant.mqtt_password,
                "PORTICO_BROKER_HOST": "127.0.0.1",
                "PORTICO_BROKER_PORT": "1883",
                "PORTICO_TLS": "0",
                "PORTICO_HEARTBEAT": "60",
                "PORTICO_STATE_DIR": str(work / "agent-state"),
                "PORTICO_JSON_AWK": str(json_awk),
            },
        )
        await _agent_ready(probe, agent)
        yield Gateway(topology, nds, tenant, probe, startup, fas_level, ca_file, exchanges)
    finally:
        errors = await asyncio.to_thread(nds.stop)
        if probe is not None:
            probe.close()
            await asyncio.to_thread(broker.forget, router.router_id)
        if relay is not None:
            await relay.stop()
        for runner in runners:
            await runner.cleanup()
        await sender.stop()
        errors += topology.destroy()
        for name in ("agent.out", "opennds.out", "ns-setup.out"):
            path = work / name
            if path.exists():
                print(f"--- {name}\n{path.read_text(errors='replace')[-6000:]}")
        assert not errors, errors


async def phone_login(
    gateway: Gateway, index: int, *, retry_after: float | None = None
) -> dict[str, Any]:
    """One phone's browser (phone.py); with `retry_after`, it presses Try again on an error
    page after that many seconds."""
    env = {**os.environ, "PHONE_CA_FILE": str(gateway.ca_file or "")}
    proc = await asyncio.create_subprocess_exec(
        "ip",
        "netns",
        "exec",
        gateway.topology.client(index),
        sys.executable,
        str(PHONE_SCRIPT),
        f"http://{ORIGIN_IP}/",
        *([] if retry_after is None else [str(retry_after)]),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), 120)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        return {"hops": [], "error": "the phone took more than 120 s"}
    if proc.returncode != 0:
        return {"hops": [], "error": f"phone.py exited {proc.returncode}: {err.decode()[-500:]}"}
    return json.loads(out)


async def client_state(gateway: Gateway, mac: str) -> str:
    for _ in range(20):  # exit 4: another ndsctl (the agent's telemetry) holds the lock
        rc, out, err = await gateway.nds.ndsctl("json", mac)
        if rc != 4:
            break
        await asyncio.sleep(0.25)
    if rc != 0:
        return f"ndsctl json exit {rc}: {(err or out).strip()}"
    try:
        return json.loads(out).get("state", "not on the client list")
    except json.JSONDecodeError:
        return f"not JSON: {out[:100]!r}"


def auth_requests(syslog: str, mac: str | None) -> int:
    """How many `ndsctl auth` openNDS received for mac (its debuglevel 3 log); with no mac,
    how many authmon sent (they name the client by its rhid)."""
    who = re.escape(mac) if mac else "[0-9a-f]{64}"
    return len(re.findall(rf"ndsctl request received: \[auth {who},", syslog))


def describe(hop: dict[str, Any]) -> str:
    path = re.sub(r"([?&](fas|tok)=)[^&]{12}[^&]*", r"\1…", hop["url"])
    where = f" -> {hop['location'][:90]}" if hop["location"] else ""
    return f"{hop['method']} {path[:110]} {hop['status']}{where} [{hop['summary'][:80]}]"


async def test_every_phone_gets_online_through_a_real_opennds(
    gateway: Gateway, db: asyncpg.Pool, capsys: pytest.CaptureFixture[str]
) -> None:
    results = []
    _, status, _ = await gateway.nds.ndsctl("status")
    upstream = next((ln for ln in status.splitlines() if "pstream" in ln), "?")
    report = [
        f"FAS level {gateway.fas_level}, "
        + ("grants by our agent over MQTT" if gateway.probe else "no agent: grants by authmon"),
        f"openNDS at {OPENNDS_ROOT}; while it started, ndsctl said: {gateway.startup}",
        f"at the first login openNDS reported: {upstream.strip()}",
        f"binauth race possible at the first login: {gateway.nds.race_possible()}",
    ]
    for round_, index in [(r, i) for r in (1, 2) for i in range(1, PHONES + 1)]:
        mac = client_mac(index)
        if round_ == 2:  # the same phone again, after openNDS let it go (a new token)
            rc, out, err = await gateway.nds.ndsctl("deauth", mac)
            report.append(f"ndsctl deauth {mac}: exit {rc}: {(out or err).strip()}")
        probe = gateway.probe
        acks_before = len(probe.of_kind("ack")) if probe else 0
        auth_who = mac if probe else None
        auths_before = auth_requests(gateway.nds.syslog(), auth_who)
        started = time.monotonic()
        browsed = await phone_login(gateway, index)
        seconds = time.monotonic() - started
        state = await client_state(gateway, mac)
        for _ in range(20):  # bounded: a grant may still be finishing
            if state == "Authenticated":
                break
            await asyncio.sleep(0.25)
            state = await client_state(gateway, mac)
        acks = [m.json() for m in probe.of_kind("ack")[acks_before:]] if probe else []
        grant = next((a for a in acks if a.get("status") != "duplicate"), {})
        hops = browsed["hops"]
        final = hops[-1] if hops else {}
        result = {
            "mac": mac,
            "state": state,
            "final_status": final.get("status"),
            "online_page": bool(final.get("online_page")) and not final.get("error_page"),
            "error": browsed["error"],
            "ack": {k: grant.get(k) for k in ("status", "code", "msg", "attempts")},
            "ndsctl_auth_calls": auth_requests(gateway.nds.syslog(), auth_who) - auths_before,
            "seconds": round(seconds, 1),
        }
        if hops and hops[0]["location"]:
            result["redirect"] = hops[0]["location"]
        results.append(result)
        shown = {k: v for k, v in result.items() if k != "redirect"}
        shown["race_possible"] = gateway.nds.race_possible()[:3]
        report.append(f"login {len(results)}, phone {index} {mac}: {json.dumps(shown)}")
        report += [f"    {describe(hop)}" for hop in hops]
    syslog = gateway.nds.syslog()
    report.append(
        f"openNDS log: {syslog.count('binauth return code -1')} x 'binauth return code -1', "
        f"{syslog.count('binauth return code 0')} x 'binauth return code 0'"
    )
    # Every binauth run in order (grants and deauths): "." for 0, "X" for -1 (lost the race).
    codes = re.findall(r"binauth return code (-?\d+)", syslog)
    report.append("binauth runs in order: " + "".join("X" if c == "-1" else "." for c in codes))
    report.append(f"binauth race possible at the end: {gateway.nds.race_possible()}")
    first = results and results[0].get("redirect")
    if gateway.fas_level >= 2 and first:
        report.append(f"first redirect, verbatim: {first}")
    report += [f"authmon: {json.dumps(x)}" for x in gateway.authmon_exchanges[:12]]
    report.append(f"authmon requests seen: {len(gateway.authmon_exchanges)}")
    deauthed = [x for x in gateway.authmon_exchanges if '"auth_get": "deauthed"' in x["fields"]]
    report += [f"deauthed: {json.dumps(x)}" for x in deauthed[:2]]
    sessions = await db.fetch(
        "SELECT status, count(*) AS n FROM portal_sessions WHERE merchant_id = $1 GROUP BY 1",
        gateway.tenant.merchant_id,
    )
    report.append(f"portal sessions by status: { ({r['status']: r['n'] for r in sessions}) }")
    (gateway.nds.work.parent / "report.txt").write_text("\n".join(report) + "\n")
    with capsys.disabled():
        print("\n" + "\n".join(report))

    logins = len(results)
    assert [r["state"] for r in results] == ["Authenticated"] * logins, report
    assert [r["online_page"] for r in results] == [True] * logins, report
    assert [r["error"] for r in results] == [None] * logins, report
    if gateway.fas_level == 3:
        # round 2's `ndsctl deauth` of each phone: binauth_log.sh reports it (send_to_fas_
        # deauthed), and the portal ends the round-1 session it names by the client's token.
        assert len(deauthed) >= PHONES, report
        assert {r["status"]: r["n"] for r in sessions}.get("ended", 0) >= PHONES, report


def test_opennds_root_is_outside_the_repository() -> None:
    """The repository holds no openNDS code or binaries (issue 15)."""
    repo = Path(__file__).resolve().parents[2]
    assert not Path(OPENNDS_ROOT).resolve().is_relative_to(repo)
    assert os.access(Path(OPENNDS_ROOT) / "usr/bin/opennds", os.X_OK)


async def test_refused_grants_are_retried_until_openNDS_lets_the_phone_through(
    refusing_gateway: Gateway, capsys: pytest.CaptureFixture[str]
) -> None:
    """Runs of refusals, made on demand through openNDS's own binauth path: phone n is refused
    n - 1 times in a row (up to 5, each try a full binauth run of about a second) and still
    ends online inside the grant's wait; then a run longer than the whole wait ends on the
    Try again page, and the shopper's Try again ends online."""
    gateway = refusing_gateway
    probe = gateway.probe
    assert probe is not None
    report = [f"binauth race possible at the first login: {gateway.nds.race_possible()}"]
    for index in range(1, PHONES + 1):
        mac = client_mac(index)
        await gateway.nds.set_refusals(index - 1)
        acks_before = len(probe.of_kind("ack"))
        started = time.monotonic()
        browsed = await phone_login(gateway, index)
        seconds = round(time.monotonic() - started, 1)
        acks = [m.json() for m in probe.of_kind("ack")[acks_before:]]
        grant = next(a for a in acks if a.get("status") != "duplicate")
        final = browsed["hops"][-1] if browsed["hops"] else {}
        state = await client_state(gateway, mac)
        report.append(
            f"phone {index}, {index - 1} refusals: state {state}, ack {grant['status']}/"
            f"{grant['code']} attempts {grant.get('attempts')}, online page "
            f"{final.get('online_page')}, {seconds} s"
        )
        assert browsed["error"] is None, browsed
        assert (state, final.get("online_page")) == ("Authenticated", True), report
        assert (grant["status"], grant.get("attempts")) == ("done", index), report

    # A run longer than the grant's wait: the Try again page, then the shopper's own retry.
    mac = client_mac(1)
    rc, out, err = await gateway.nds.ndsctl("deauth", mac)
    assert rc == 0, err or out
    await gateway.nds.set_refusals(1000)
    acks_before = len(probe.of_kind("ack"))

    async def end_the_run_when_the_grant_fails() -> dict[str, Any]:
        failed = await asyncio.to_thread(
            probe.wait_for, "ack", lambda m: m.json().get("status") == "error", 40, acks_before
        )
        await gateway.nds.set_refusals(0)
        return failed.json()

    ender = asyncio.create_task(end_the_run_when_the_grant_fails())
    browsed = await phone_login(gateway, 1, retry_after=3.0)
    failed = await ender
    hops = browsed["hops"]
    state = await client_state(gateway, mac)
    report.append(
        f"phone 1, refused for the whole wait: ack {failed['status']}/{failed['code']} after "
        f"{failed.get('attempts')} attempts; hops: "
        + "; ".join(f"{h['method']} {h['status']}" for h in hops)
        + f"; state {state}"
    )
    report += [f"    {describe(hop)}" for hop in hops]
    syslog = gateway.nds.syslog()
    codes = re.findall(r"binauth return code (-?\d+)", syslog)
    report.append("binauth runs in order: " + "".join("." if c == "0" else "X" for c in codes))
    (gateway.nds.work.parent / "report.txt").write_text("\n".join(report) + "\n")
    with capsys.disabled():
        print("\n" + "\n".join(report))

    assert browsed["error"] is None, browsed
    assert failed["code"] == "ndsctl_failed" and failed["attempts"] >= 5, failed
    retry_page = [h for h in hops if h["status"] == 503 and h["error_page"]]
    assert retry_page, report  # the Try again page came first
    assert hops[-1]["online_page"] and state == "Authenticated", report
