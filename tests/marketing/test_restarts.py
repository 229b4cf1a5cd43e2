"""Issue 14's "Restarts", with real processes: the trigger process and the broker killed
mid-stream, every action dispatched exactly once as counted at the receivers.

Routers (the real shell agent under busybox) report phones joining their WiFi over a private
Mosquitto to a controller process (`portico serve controller`): the footfall ingest turns each
join into a sighting in marketing's inbox, and a marketing process (`portico serve marketing`)
decides contacts (an arrival trigger on the webhook channel and one on SMS) and sends them to a
webhook receiver on loopback and to the SMS outbox. While phones keep joining, the marketing
process is killed (SIGKILL) twice, each time while a webhook post is held open by the receiver,
and started again; the broker is killed (SIGKILL) and started again on its port while the
routers keep publishing, the controller stalled (SIGSTOP) across it, so that what the routers
send the new broker finds nobody subscribed and the controller notices the loss 13 s late.

What each hop promises, and so what is asserted (docs/marketing-dispatch.md, "Restarts, with
real processes"):

- router → broker, QoS 1: the agent drops an event from its spool only once the broker PUBACKed
  it, so what it spools while the broker is down goes out when it is back;
- broker → controller, QoS 1 to a persistent session, acked after the PostgreSQL commit. A
  broker killed with SIGKILL loses what it held in memory (messages PUBACKed to routers, not yet
  acked by the controller; shared subscriptions): QoS 1 alone lets those go. The controller
  asks the agents to publish again what they sent since the broker's last word (`tele_resend`),
  and stores an event once per id: so every join must reach `router_telemetry` once, and its
  sighting the inbox (the thinning keeps one sighting a device and minute; these phones join
  once);
- inbox → engine → contacts: one transaction, contact ids derived from the event: a kill before
  the commit leaves the events waiting, so every event in the inbox is decided once;
- contact → receiver: at least once under the delivery id (a post cut by the kill is sent again
  when its lease ends), deduplicated by the receivers: the webhook receiver counts distinct
  `X-Portico-Delivery` ids, the outbox keeps one row per message id.
"""

from __future__ import annotations

import asyncio
import ctypes
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import asyncpg
import pytest
from aiohttp import web

from accounts import services as accounts
from controller.services import register_router
from controller.telemetry import RESEND_MARGIN
from kernel.config import Settings, load_settings
from kernel.embedded import PrivateMosquitto, free_port, mosquitto_binary
from kernel.privacy import device_hash
from marketing import budget, webhooks
from marketing.dispatch import Policy
from portal import email_login, identities
from portal.shopper_events import LoginDone, tell_logins
from portico import shopper_stream
from tests.factories import make_tenant
from tests.firmware.conftest import busybox_bin  # noqa: F401 (a fixture)
from tests.firmware.harness import AgentProcess, Broker, BusyboxEnv, needs_tools, start_agent
from tests.inbox import INBOX_EVENTS
from tests.marketing.receivers import Receiver, a_trigger, a_webhook

pytestmark = [
    needs_tools,
    pytest.mark.skipif(mosquitto_binary() is None, reason="needs the mosquitto broker binary"),
]

T = TypeVar("T")

ROUTERS = 2
PHONES = 36  # joining in turn at the routers, JOIN_EVERY seconds apart
SMS_EVERY = 3  # every third phone's owner logged in by SMS code earlier and agreed to texts
JOIN_EVERY = 0.5  # seconds
HOLDOUT = 0.2  # each trigger's holdout share: some shoppers must get nothing
# As these phones join: the marketing process is killed (twice); the controller stalls and
# the broker is killed; the broker is back; the controller runs again, 12 s after it stalled
# (longer than the resend's margin: see the test).
MARKETING_DIES = (4, 33)
BROKER_DIES, BROKER_BACK, CONTROLLER_BACK = 8, 12, 32
HELD = 0.3  # seconds the webhook receiver holds each post: a kill lands mid-send
# The marketing process's dispatch settings: a post cut by the kill is claimed again when its
# lease ends (the lease must be at least four send timeouts), a failed try retried soon.
DISPATCH = {
    "PORTICO_MARKETING_SEND_TIMEOUT": "1",
    "PORTICO_MARKETING_LEASE": "4",
    "PORTICO_MARKETING_BACKOFF_BASE": "0.5",
}
SMS_WORDING = "sms-offers-1"  # the words the shopper agreed to (no SMS form shows any yet)
WAIT = 30.0  # seconds: the bound of every wait for the processes (CI may be twice as slow)


def test_the_lease_is_the_settings(tmp_path: Path) -> None:
    """The dispatcher's lease comes from PORTICO_MARKETING_LEASE (what this test shortens)."""
    settings = load_settings({"PORTICO_DATA_DIR": str(tmp_path), **DISPATCH})
    assert Policy.from_settings(settings).lease == 4.0


@dataclass(frozen=True)
class Phone:
    mac: str
    device: str  # its merchant-keyed pseudonym (kernel.privacy.device_hash)
    router: int
    identity: str | None = None  # the owner's phone number's identity hash, for an SMS shopper
    masked: str | None = None  # that number masked, as the outbox shows it

    @property
    def shopper(self) -> str:
        """The profile the engine decides for: the identity's, else the device's."""
        return f"i:{self.identity}" if self.identity else f"d:{self.device}"


@dataclass
class HeldReceiver(Receiver):
    """The merchant's webhook endpoint (signatures checked, every post counted), holding each
    post `delay` seconds before answering; `holding`: the deliveries it holds now."""

    holding: set[str] = field(default_factory=set)

    async def _handle(self, request: web.Request) -> web.Response:
        delivery = request.headers.get(webhooks.DELIVERY_HEADER, "")
        self.holding.add(delivery)
        try:
            return await super()._handle(request)
        finally:
            self.holding.discard(delivery)


def _die_with_parent() -> None:
    # Linux: SIGKILL the role when the test process dies (even by SIGKILL), between fork and exec.
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


class Role:
    """`portico serve <role>` as a process of its own, its output kept in a log file."""

    def __init__(self, role: str, env: dict[str, str], logs: Path) -> None:
        self.role = role
        self.env = env
        self.log_path = logs / f"{role}.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.kills = 0
        self.held = False

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "portico.cli", "serve", self.role],
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent,
            )

    def hold(self) -> None:
        """SIGSTOP: the process stalls (a long pause, a machine swapping)."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)
        self.held = True

    def release(self) -> None:
        if self.process is not None and self.held:
            self.process.send_signal(signal.SIGCONT)
        self.held = False

    def check(self) -> None:
        """Fail at once, with its log, if the process has exited."""
        assert self.process is not None
        code = self.process.poll()
        assert code is None, f"{self.role} exited ({code}):\n{self.log()[-4000:]}"

    def kill(self) -> None:
        """SIGKILL, as a crash or the OOM killer would: no clean-up runs."""
        assert self.process is not None
        self.process.kill()
        self.process.wait(WAIT)
        self.kills += 1

    def stop(self) -> None:
        """SIGTERM (the role's clean stop), SIGKILL if it does not stop within WAIT."""
        self.release()
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            if process is not None:
                process.wait()
            return
        process.terminate()
        try:
            process.wait(WAIT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(WAIT)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def kill9(broker: PrivateMosquitto) -> None:
    """SIGKILL the broker: it saves nothing (what it held since its last autosave is gone)."""
    process = broker.process
    assert process is not None
    process.kill()
    process.wait(WAIT)
    broker.process = None
    broker.pid_path.unlink(missing_ok=True)


def set_stations(env: BusyboxEnv, macs: list[str]) -> None:
    """The stations hostapd holds, replaced whole (the agent's poll never reads half a file,
    which would look like phones leaving and joining again)."""
    text = "".join(f"{mac} -55 phy0-ap0\n" for mac in macs)
    part = env.stubs / "stations.new"
    part.write_text(text)
    part.replace(env.stubs / "stations")


def sent(agent: AgentProcess, phone: Phone) -> bool:
    """The agent has sent the phone's join (PUBACKed: moved from its spool to what it keeps for
    a tele_resend)."""
    path = agent.env.state_dir / "tele.spool.sent"
    return path.exists() and f'"mac":"{phone.mac}"' in path.read_text(errors="replace")


def stop_agent(agent: AgentProcess) -> None:
    """SIGKILL the agent and its children (its private broker goes with the test)."""
    try:
        os.killpg(agent.proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass  # the group is gone already
    agent.proc.wait(WAIT)


async def until(
    check: Callable[[], Awaitable[T]], what: str, roles: list[Role], timeout: float = WAIT
) -> T:
    """check()'s first truthy result, looked at every 0.1 s; fails after `timeout` seconds or as
    soon as a role's process has exited."""
    deadline = time.monotonic() + timeout
    while True:
        for role in roles:
            role.check()
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:.0f} s")
        await asyncio.sleep(0.1)


async def log_in_by_sms(
    db: asyncpg.Pool,
    secret_key: str,
    merchant: uuid.UUID,
    store: uuid.UUID,
    device: str,
    number: str,
) -> identities.Identity:
    """What an SMS code login records, through the portal's own services, in one transaction:
    the number proved and linked to the device, the marketing-SMS consent (no login form asks for
    it yet: portal.email_login.give_consent records any purpose), and the login told to
    marketing's inbox through the composition root's hook (the router's grant and the session
    row are the SMS login tests' business)."""
    async with db.acquire() as conn, conn.transaction():
        identity = await identities.remember(
            conn, secret_key, merchant, "phone", number, verified=True, device=device
        )
        await email_login.give_consent(
            conn, merchant, identity.hash, store, SMS_WORDING, purpose="marketing_sms"
        )
        login = LoginDone(merchant, uuid.uuid4(), store, device, "sms", identity.hash, None)
        await tell_logins(conn, shopper_stream.shopper_events(secret_key), [login])
    return identity


@pytest.fixture
def logs(tmp_path: Path) -> Iterator[Path]:
    """Where the roles write their logs: printed at the end (pytest shows them on failure)."""
    path = tmp_path / "logs"
    path.mkdir()
    yield path
    for log in sorted(path.glob("*.log")):
        print(f"--- {log.name}\n{log.read_text(errors='replace')[-6000:]}")


@dataclass(frozen=True)
class Mall:
    merchant: uuid.UUID
    store: uuid.UUID
    router_ids: list[str]
    webhook_trigger: uuid.UUID
    sms_trigger: uuid.UUID
    phones: list[Phone]


async def a_mall(db: asyncpg.Pool, secret: str, receiver: Receiver) -> Mall:
    """A merchant: the mall's store with ROUTERS routers and its two arrival triggers (a webhook
    to `receiver`, an SMS), and another store where the SMS shoppers logged in earlier (so their
    arrival at the mall is a new visit, and their logins there set nothing off). No quiet hours
    (the test runs at any hour), room in the budget for both contacts of a shopper."""
    tenant = await make_tenant(db, with_ad=False)
    merchant, store = tenant.merchant_id, tenant.store_id
    router_ids = [tenant.router.router_id]
    async with db.acquire() as conn:
        station = await accounts.create_store(conn, merchant, "Station")
        for n in range(1, ROUTERS):
            extra = await register_router(conn, merchant, store, f"{router_ids[0]}-{n}", "AP")
            router_ids.append(extra.router.router_id)
    await db.execute(
        "INSERT INTO marketing_settings (merchant_id, max_per_day, max_per_week, quiet_from,"
        " quiet_until) VALUES ($1, 10, 20, '00:00', '00:00')",
        merchant,
    )
    hook = await a_webhook(db, merchant, receiver, secret)
    webhook_trigger = await a_trigger(
        db, merchant, "webhook", store_id=store, webhook_id=hook, holdout_share=HOLDOUT
    )
    sms_trigger = await a_trigger(db, merchant, "sms", store_id=store, holdout_share=HOLDOUT)
    phones = []
    prefix = uuid.uuid4().hex[:4]  # global addresses (phones' own), new in every run
    for n in range(PHONES):
        mac = f"3c:22:{prefix[:2]}:{prefix[2:]}:00:{n:02x}"
        phone = Phone(mac, device_hash(secret, str(merchant), mac), n % ROUTERS)
        if n % SMS_EVERY == 0:
            number = f"+86139{uuid.uuid4().int % 10**8:08d}"
            identity = await log_in_by_sms(db, secret, merchant, station, phone.device, number)
            phone = Phone(mac, phone.device, phone.router, identity.hash, identity.masked)
        phones.append(phone)
    return Mall(merchant, store, router_ids, webhook_trigger, sms_trigger, phones)


async def test_every_action_is_dispatched_once_across_kills_of_marketing_and_the_broker(
    db: asyncpg.Pool,
    settings: Settings,
    database_url: str,
    busybox_bin: Path,  # noqa: F811 (the fixture imported above)
    tmp_path: Path,
    logs: Path,
) -> None:
    binary = mosquitto_binary()
    assert binary is not None
    receiver = HeldReceiver(delay=HELD)
    await receiver.start()
    try:
        mall = await a_mall(db, settings.secret_key, receiver)
    except BaseException:
        await receiver.close()
        raise
    merchant, phones = mall.merchant, mall.phones

    broker = PrivateMosquitto(binary, tmp_path / "broker", port=free_port())
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTICO_")} | {
        "DATABASE_URL": database_url,
        "MQTT_URL": broker.url,
        "PORTICO_ENV": "test",
        "PORTICO_SECRET_KEY": settings.secret_key,
        "PORTICO_DATA_DIR": str(tmp_path / "var"),
        # A persistent session of its own on this broker (docs/testing.md, "The shared broker").
        "PORTICO_CONTROLLER_ID": f"restarts-{uuid.uuid4().hex[:12]}",
        "PORTICO_DB_POOL_SIZE": "4",
        **DISPATCH,
    }
    controller, marketing = Role("controller", env, logs), Role("marketing", env, logs)
    roles = [controller, marketing]
    agents: list[AgentProcess] = []
    cuts: list[set[str]] = []  # the deliveries the receiver held when each kill landed
    held_at = held = 0.0  # when the controller stalled, and for how long

    async def count(query: str) -> int:
        return await db.fetchval(query, merchant)

    async def heard_from_all() -> bool:
        return len(mall.router_ids) == await count(
            "SELECT count(DISTINCT router_id) FROM router_telemetry WHERE merchant_id = $1"
            " AND type = 'heartbeat'"
        )

    async def folded() -> bool:
        return 0 == await count(
            "SELECT count(*) FROM marketing_inbox WHERE merchant_id = $1 AND done_at IS NULL"
        )

    async def holding() -> set[str]:
        return set(receiver.holding)

    kills_due = 0  # the marketing process dies at the first moment the receiver holds a post

    def kill_if_holding() -> None:
        nonlocal kills_due
        if kills_due and receiver.holding:
            cuts.append(set(receiver.holding))
            marketing.kill()
            marketing.start()  # as systemd or procd would start it again
            kills_due -= 1

    async def next_phone() -> None:
        """JOIN_EVERY seconds, a due kill landing as soon as a post is held."""
        deadline = time.monotonic() + JOIN_EVERY
        while (left := deadline - time.monotonic()) > 0:
            kill_if_holding()
            await asyncio.sleep(min(left, 0.02))

    async def outage_sent() -> bool:
        return all(sent(agents[p.router], p) for p in phones[BROKER_DIES:BROKER_BACK])

    async def settled() -> bool:
        decided = await count(  # a sighting resent in another report is another row's too
            f"SELECT count(DISTINCT event_id) FROM {INBOX_EVENTS}"  # noqa: S608 (a constant)
            " WHERE merchant_id = $1 AND kind = 'sighting'"
        )
        pending = await count(
            "SELECT count(*) FROM marketing_contacts WHERE merchant_id = $1 AND status = 'pending'"
        )
        return decided == PHONES and await folded() and pending == 0

    async def resent() -> bool:
        done = await db.fetch(
            "SELECT DISTINCT router_id FROM router_commands WHERE merchant_id = $1"
            " AND op = 'tele_resend' AND status = 'done'",
            merchant,
        )
        return {r["router_id"] for r in done} == set(mall.router_ids)

    try:
        broker.start()
        await broker.ready()
        controller.start()
        for n, router_id in enumerate(mall.router_ids):
            agent_env = BusyboxEnv.create(tmp_path / f"router{n}", busybox_bin)
            set_stations(agent_env, [])
            router = Broker("127.0.0.1", broker.port)
            agents.append(
                start_agent(agent_env, router, device_id=router_id, heartbeat=1, with_probe=False)
            )
        # The SMS logins are folded first: their devices linked to the identities, the consent
        # to texts on the profiles.
        marketing.start()
        await until(heard_from_all, "each router's heartbeat stored by the controller", roles)
        await until(folded, "the SMS logins folded by the engine", roles)

        # The stream: a phone joins every JOIN_EVERY seconds, in turn at each router.
        joined: list[list[str]] = [[] for _ in mall.router_ids]
        started = time.monotonic()
        for n, phone in enumerate(phones):
            joined[phone.router].append(phone.mac)
            set_stations(agents[phone.router].env, joined[phone.router])
            if n in MARKETING_DIES:
                kills_due += 1
            if n == BROKER_DIES:  # the routers keep spooling what the phones do
                controller.hold()
                held_at = time.monotonic()
                kill9(broker)
            if n == BROKER_BACK:
                broker.start()
                await broker.ready()
                # The routers send what they spooled into a broker nobody consumes from (the
                # controller is held, its subscriptions died with the broker), and what phones
                # do next there too: PUBACKed, so gone from their spools, and dropped by the
                # broker. Only tele_resend brings them back.
                await until(outage_sent, "the outage's joins sent again", roles[1:])
            if n == CONTROLLER_BACK:
                controller.release()
                held = time.monotonic() - held_at
            await next_phone()
        if kills_due:  # no post held since: the next one
            await until(holding, "a webhook post in flight", roles, timeout=15)
            kill_if_holding()
        streamed = time.monotonic() - started
        try:
            await until(settled, "every phone's arrival decided and sent", roles, timeout=45)
        except AssertionError as exc:
            raise AssertionError(f"{exc}; {await where_lost(db, mall, agents)}") from None
        settled_in = time.monotonic() - started - streamed
        # The controller that lost the broker asked each router for its telemetry again.
        await until(resent, "each router's answer to tele_resend", roles)
        for role in roles:
            role.check()  # both still up: the controller never died, marketing came back
    finally:
        for agent in agents:
            stop_agent(agent)
        marketing.stop()
        controller.stop()
        broker.stop()
        await receiver.close()
    assert marketing.kills == len(cuts) == len(MARKETING_DIES)
    # The controller noticed the loss when it ran again, more than the resend's margin after
    # the broker's last word: what the routers had sent since must be asked for too
    # (kernel.mqtt.Consumer dates the loss at the last word).
    assert held > RESEND_MARGIN

    # 1. Routers → inbox: every join stored once, one sighting of each phone in the inbox.
    joins = await db.fetch(
        "SELECT device_hash, count(*) AS n FROM router_telemetry WHERE merchant_id = $1"
        " AND type = 'station' GROUP BY 1",
        merchant,
    )
    assert {r["device_hash"]: r["n"] for r in joins} == {p.device: 1 for p in phones}
    inbox = await db.fetch(
        f"SELECT DISTINCT kind, device_hash, event_id, done_at IS NOT NULL AS done"  # noqa: S608
        f" FROM {INBOX_EVENTS} WHERE merchant_id = $1",
        merchant,
    )
    assert Counter((r["kind"], r["device_hash"]) for r in inbox) == Counter(
        [("sighting", p.device) for p in phones]
        + [("login", p.device) for p in phones if p.identity]
    )
    assert all(r["done"] for r in inbox)

    # 2. Inbox → contacts: one decision per shopper and trigger, as the budget has it.
    contacts = await db.fetch(
        "SELECT contact_id, profile_key, channel, status, reason, attempts"
        " FROM marketing_contacts WHERE merchant_id = $1",
        merchant,
    )
    decided = Counter((c["profile_key"], c["channel"], c["status"], c["reason"]) for c in contacts)
    assert decided == expected_decisions(mall)
    treated = {
        channel: {
            c["contact_id"]: c
            for c in contacts
            if c["channel"] == channel and c["status"] in ("sent", "delivered")
        }
        for channel in ("webhook", "sms")
    }
    assert treated["webhook"] and treated["sms"]

    # 3. Contacts → receivers, each treated contact exactly once as counted there. The webhook
    # receiver: one distinct delivery per contact, for its shopper, the same signed body at
    # every post; each post cut by a kill was posted again (its contact tried again).
    deliveries = receiver.deliveries
    assert set(deliveries) == {str(c) for c in treated["webhook"]}
    bodies = receiver.bodies()
    assert all(len(b) == 1 for b in bodies.values())
    assert all(ok for _, _, ok in receiver.posts)
    shoppers = Counter(json.loads(next(iter(b)))["shopper"] for b in bodies.values())
    assert shoppers == Counter(c["profile_key"] for c in treated["webhook"].values())
    for delivery in set().union(*cuts):
        assert deliveries[delivery] >= 2, f"{delivery} was cut by a kill: posted again"
        assert treated["webhook"][uuid.UUID(delivery)]["attempts"] >= 2
    # The SMS outbox: one text per contact, to its shopper's number.
    texts = await db.fetch(
        "SELECT message_id, masked_phone FROM sms_outbox WHERE merchant_id = $1", merchant
    )
    assert Counter(t["message_id"] for t in texts) == Counter(list(treated["sms"]))
    masked = {p.shopper: p.masked for p in phones}
    assert sorted(t["masked_phone"] for t in texts) == sorted(
        masked[c["profile_key"]] for c in treated["sms"].values()
    )
    print(
        f"restarts: {PHONES} phones in {streamed:.1f} s, settled {settled_in:.1f} s later; "
        f"{len(deliveries)} webhook deliveries in {len(receiver.posts)} posts, cut by the kills "
        f"{[len(c) for c in cuts]}; {len(texts)} texts; holdout "
        f"{sum(c['status'] == 'holdout' for c in contacts)}; controller held {held:.1f} s"
    )


async def where_lost(db: asyncpg.Pool, mall: Mall, agents: list[AgentProcess]) -> str:
    """The joins that never reached the inbox, and how far each got: sent by its router (in
    what it keeps for tele_resend), stored by the controller."""
    found = await db.fetch(
        f"SELECT 'inbox' AS at, device_hash FROM {INBOX_EVENTS} WHERE merchant_id = $1"  # noqa: S608
        " UNION ALL SELECT 'stored', device_hash FROM router_telemetry WHERE merchant_id = $1"
        " AND type = 'station'",
        mall.merchant,
    )
    reached = {(r["at"], r["device_hash"]) for r in found}
    lost = [
        f"phone {n} ({p.mac}): sent by its router {sent(agents[p.router], p)}, stored by the "
        f"controller {('stored', p.device) in reached}"
        for n, p in enumerate(mall.phones)
        if ("inbox", p.device) not in reached
    ]
    return f"joins that never reached the inbox: {lost}"


def expected_decisions(mall: Mall) -> Counter[tuple[str, str, str, str | None]]:
    """Each phone's shopper, one decision per trigger: a device alone gets no SMS (no number,
    no consent), a shopper in a trigger's holdout (a keyed draw: budget.in_holdout) nothing
    on it, the others their webhook delivered and their text sent."""
    decided: Counter[tuple[str, str, str, str | None]] = Counter()
    for phone in mall.phones:
        for trigger, channel in ((mall.webhook_trigger, "webhook"), (mall.sms_trigger, "sms")):
            if channel == "sms" and phone.identity is None:
                decision = ("suppressed", "no_consent")
            elif budget.in_holdout(mall.merchant, trigger, phone.shopper, HOLDOUT):
                decision = ("holdout", None)
            else:
                decision = ("delivered" if channel == "webhook" else "sent", None)
            decided[(phone.shopper, channel, *decision)] += 1
    return decided
