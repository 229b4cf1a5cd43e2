"""Broker security by default: a real Mosquitto with the accounts and ACLs Portico writes.

Two brokers, the same checks: an operator's Mosquitto that Portico administers
(PORTICO_MOSQUITTO_AUTH_DIR: files plus SIGHUP through its pid file, `portico.broker.administered`)
and the embedded broker of `make run` (`portico.broker.embedded`, kernel.embedded's private
Mosquitto). Routers are added through the services, as the platform adds them; the broker
learns of each change from PostgreSQL's NOTIFY, never from the test.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pwd
import signal
import subprocess
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import aiomqtt
import asyncpg
import pytest

from controller import broker_auth, provisioning
from controller.broker_auth import BrokerFiles, account_from_url
from kernel.config import load_settings
from kernel.embedded import free_port, mosquitto_binary
from kernel.mqtt import parse_mqtt_url
from portico import broker
from tests.factories import TEST_ACTOR, Tenant, make_tenant

MOSQUITTO = mosquitto_binary()
pytestmark = pytest.mark.skipif(
    MOSQUITTO is None, reason="missing the mosquitto broker (apt-get install mosquitto)"
)
WAIT = 5.0
QUIET = 0.5  # seconds in which a message the ACL drops would have arrived


@dataclass
class SecuredBroker:
    host: str
    port: int
    controller_url: str
    portal_url: str
    clients: list[aiomqtt.Client] = field(default_factory=list)


def mosquitto_passwd_available() -> bool:
    return subprocess.run(["which", "mosquitto_passwd"], capture_output=True).returncode == 0


def secret() -> str:
    return uuid.uuid4().hex


async def start_operators_mosquitto(conf_dir: Path, port: int) -> subprocess.Popen[bytes]:
    """A Mosquitto as an operator would run it, reading Portico's files, with a pid file."""
    (conf_dir / "mosquitto.conf").write_text(
        f"listener {port} 127.0.0.1\n"
        "allow_anonymous false\n"
        f"password_file {conf_dir / broker_auth.PASSWD_NAME}\n"
        f"acl_file {conf_dir / broker_auth.ACL_NAME}\n"
        f"pid_file {conf_dir / 'mosquitto.pid'}\n"
        "persistence false\n"
        f"log_dest file {conf_dir / 'mosquitto.log'}\n"
        # As root, Mosquitto would switch to the user mosquitto, who cannot read tmp_path.
        f"user {pwd.getpwuid(os.geteuid()).pw_name}\n"
    )
    assert MOSQUITTO is not None
    process = subprocess.Popen([MOSQUITTO, "-c", str(conf_dir / "mosquitto.conf")])
    async with asyncio.timeout(WAIT):
        while not (conf_dir / "mosquitto.pid").exists() or not await listening(port):
            assert process.poll() is None, (conf_dir / "mosquitto.log").read_text()
            await asyncio.sleep(0.05)
    return process


async def listening(port: int) -> bool:
    try:
        _reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return False
    writer.close()
    await writer.wait_closed()
    return True


@pytest.fixture(params=["operators-mosquitto", "embedded"])
async def secured(
    request: pytest.FixtureRequest, db: asyncpg.Pool, database_url: str, tmp_path: Path
) -> AsyncIterator[SecuredBroker]:
    settings = load_settings(
        {}, env="test", database_url=database_url, data_dir=str(tmp_path / "var")
    )
    if request.param == "embedded":
        async with broker.embedded(settings, db, database_url) as urls:
            address = parse_mqtt_url(urls.public)
            found = SecuredBroker(address.host, address.port, urls.controller, urls.portal)
            yield found
            await close_all(found)
        return
    port = free_port()
    controller_url = f"mqtt://portico.controller:{secret()}@127.0.0.1:{port}"
    portal_url = f"mqtt://portico.portal:{secret()}@127.0.0.1:{port}"
    conf_dir = tmp_path / "mosquitto"
    accounts = [
        account_from_url(controller_url, "controller"),
        account_from_url(portal_url, "portal"),
    ]
    await BrokerFiles(conf_dir, accounts).sync(db)  # Mosquitto reads them when it starts
    process = await start_operators_mosquitto(conf_dir, port)
    administered = load_settings(
        {},
        env="test",
        database_url=database_url,
        mqtt_url=controller_url,
        portal_mqtt_url=portal_url,
        mosquitto_auth_dir=str(conf_dir),
        mosquitto_pid_file=str(conf_dir / "mosquitto.pid"),
        data_dir=str(tmp_path / "var"),
    )
    try:
        async with broker.administered(administered, db):
            found = SecuredBroker("127.0.0.1", port, controller_url, portal_url)
            yield found
            await close_all(found)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(10)


async def close_all(found: SecuredBroker) -> None:
    for client in found.clients:
        with contextlib.suppress(aiomqtt.MqttError, RuntimeError):
            await client.__aexit__(None, None, None)


async def connect(
    found: SecuredBroker, username: str | None, password: str | None
) -> aiomqtt.Client:
    """A connected client (closed by the fixture); MqttError when the broker refuses it."""
    client = aiomqtt.Client(
        found.host,
        found.port,
        username=username,
        password=password,
        identifier=f"test-{uuid.uuid4().hex[:10]}",
        protocol=aiomqtt.ProtocolVersion.V311,
        timeout=WAIT,
    )
    await client.__aenter__()
    found.clients.append(client)
    return client


async def connect_url(found: SecuredBroker, url: str) -> aiomqtt.Client:
    address = parse_mqtt_url(url)
    return await connect(found, address.username, address.password)


async def connect_router(found: SecuredBroker, tenant: Tenant) -> aiomqtt.Client:
    """The router's client, once the broker knows its account (the sync follows a NOTIFY)."""
    async with asyncio.timeout(WAIT):
        while True:
            try:
                return await connect(found, tenant.router.router_id, tenant.mqtt_password)
            except aiomqtt.MqttError:
                await asyncio.sleep(0.05)


class Inbox:
    """Everything a client receives, by topic."""

    def __init__(self, client: aiomqtt.Client) -> None:
        self.messages: list[tuple[str, bytes]] = []
        self.gone: BaseException | None = None
        self._task = asyncio.create_task(self._read(client))

    async def _read(self, client: aiomqtt.Client) -> None:
        try:
            async for message in client.messages:
                self.messages.append((str(message.topic), bytes(message.payload)))  # type: ignore[arg-type]
        except aiomqtt.MqttError as exc:
            self.gone = exc

    async def wait_for(self, topic: str, payload: bytes) -> None:
        async with asyncio.timeout(WAIT):
            while (topic, payload) not in self.messages:
                await asyncio.sleep(0.02)

    async def wait_gone(self) -> None:
        async with asyncio.timeout(WAIT):
            while self.gone is None:
                await asyncio.sleep(0.02)

    def stop(self) -> None:
        self._task.cancel()


async def test_a_router_publishes_and_reads_only_its_own_topics(
    secured: SecuredBroker, db: asyncpg.Pool
) -> None:
    a, b = await make_tenant(db, with_ad=False), await make_tenant(db, with_ad=False)
    a_id, b_id = a.router.router_id, b.router.router_id
    router_a, router_b = await connect_router(secured, a), await connect_router(secured, b)
    controller = await connect_url(secured, secured.controller_url)
    portal = await connect_url(secured, secured.portal_url)
    await controller.subscribe([("ap/v1/+/status", 1), ("ap/v1/+/ack", 1), ("ap/v1/+/evt", 1)])
    await router_a.subscribe([(f"ap/v1/{b_id}/cmd", 1), ("ap/v1/+/cmd", 1), ("#", 1)])
    await router_b.subscribe(f"ap/v1/{b_id}/cmd", qos=1)
    seen_by = {"controller": Inbox(controller), "a": Inbox(router_a), "b": Inbox(router_b)}

    await router_a.publish(f"ap/v1/{b_id}/status", b"forged", qos=1)
    await router_a.publish(f"ap/v1/{b_id}/ack", b"forged", qos=1)
    await router_a.publish(f"ap/v1/{b_id}/cmd", b"forged", qos=1)
    await router_a.publish(f"ap/v1/{a_id}/status", b"mine", qos=1)
    await portal.publish(f"ap/v1/{b_id}/cmd", b"for-b", qos=1)
    await portal.publish(f"ap/v1/{a_id}/cmd", b"for-a", qos=1)

    await seen_by["controller"].wait_for(f"ap/v1/{a_id}/status", b"mine")
    await seen_by["b"].wait_for(f"ap/v1/{b_id}/cmd", b"for-b")
    await seen_by["a"].wait_for(f"ap/v1/{a_id}/cmd", b"for-a")
    await asyncio.sleep(QUIET)
    for inbox in seen_by.values():
        inbox.stop()
        assert not [m for m in inbox.messages if m[1] == b"forged"], inbox.messages
    # A reads its own commands only, through every filter it tried.
    assert {topic for topic, _ in seen_by["a"].messages} == {f"ap/v1/{a_id}/cmd"}
    assert seen_by["b"].messages == [(f"ap/v1/{b_id}/cmd", b"for-b")]


async def test_a_router_echoes_only_to_itself(secured: SecuredBroker, db: asyncpg.Pool) -> None:
    # The agent's broker check after a configuration change: its own echo topic, both ways.
    a, b = await make_tenant(db, with_ad=False), await make_tenant(db, with_ad=False)
    a_id, b_id = a.router.router_id, b.router.router_id
    router_a, router_b = await connect_router(secured, a), await connect_router(secured, b)
    await router_a.subscribe([(f"ap/v1/{a_id}/echo", 1), (f"ap/v1/{b_id}/echo", 1)])
    await router_b.subscribe(f"ap/v1/{b_id}/echo", qos=1)
    seen_by = {"a": Inbox(router_a), "b": Inbox(router_b)}

    await router_a.publish(f"ap/v1/{b_id}/echo", b"forged", qos=1)
    await router_b.publish(f"ap/v1/{b_id}/echo", b"b-token", qos=1)
    await router_a.publish(f"ap/v1/{a_id}/echo", b"a-token", qos=1)

    await seen_by["a"].wait_for(f"ap/v1/{a_id}/echo", b"a-token")
    await seen_by["b"].wait_for(f"ap/v1/{b_id}/echo", b"b-token")
    await asyncio.sleep(QUIET)
    for inbox in seen_by.values():
        inbox.stop()
    assert seen_by["a"].messages == [(f"ap/v1/{a_id}/echo", b"a-token")]
    assert seen_by["b"].messages == [(f"ap/v1/{b_id}/echo", b"b-token")]


async def test_the_portal_account_only_sends_commands_and_reads_acks(
    secured: SecuredBroker, db: asyncpg.Pool
) -> None:
    tenant = await make_tenant(db, with_ad=False)
    router_id = tenant.router.router_id
    router = await connect_router(secured, tenant)
    portal = await connect_url(secured, secured.portal_url)
    controller = await connect_url(secured, secured.controller_url)
    await portal.subscribe([("ap/v1/+/ack", 1), ("ap/v1/+/status", 1), ("ap/v1/+/evt", 1)])
    await controller.subscribe(f"ap/v1/{router_id}/status", qos=1)
    portal_inbox, controller_inbox = Inbox(portal), Inbox(controller)

    await router.publish(f"ap/v1/{router_id}/status", b"status", qos=1)
    await router.publish(f"ap/v1/{router_id}/evt", b"event", qos=1)
    await router.publish(f"ap/v1/{router_id}/ack", b"ack", qos=1)
    await portal.publish(f"ap/v1/{router_id}/status", b"forged", qos=1)

    await portal_inbox.wait_for(f"ap/v1/{router_id}/ack", b"ack")
    await controller_inbox.wait_for(f"ap/v1/{router_id}/status", b"status")
    await asyncio.sleep(QUIET)
    portal_inbox.stop()
    controller_inbox.stop()
    assert portal_inbox.messages == [(f"ap/v1/{router_id}/ack", b"ack")]
    assert controller_inbox.messages == [(f"ap/v1/{router_id}/status", b"status")]


async def test_anonymous_clients_and_wrong_passwords_are_refused(
    secured: SecuredBroker, db: asyncpg.Pool
) -> None:
    tenant = await make_tenant(db, with_ad=False)
    await connect_router(secured, tenant)  # the account exists

    for username, password in [
        (None, None),
        (tenant.router.router_id, "wrong"),
        (tenant.router.router_id, None),
        (f"ap-{uuid.uuid4().hex[:8]}", "anything"),
        ("portico.controller", "guess"),
    ]:
        with pytest.raises(aiomqtt.MqttError):
            await connect(secured, username, password)


async def test_revoking_a_router_cuts_it_off_at_once(
    secured: SecuredBroker, db: asyncpg.Pool
) -> None:
    revoked, other = await make_tenant(db, with_ad=False), await make_tenant(db, with_ad=False)
    client = await connect_router(secured, revoked)
    await client.subscribe(f"ap/v1/{revoked.router.router_id}/cmd", qos=1)
    bystander = await connect_router(secured, other)
    inbox, bystander_inbox = Inbox(client), Inbox(bystander)

    async with db.acquire() as conn:
        await provisioning.revoke_router(
            conn, revoked.merchant_id, revoked.router.router_id, actor=TEST_ACTOR
        )

    await inbox.wait_gone()  # Mosquitto's reload dropped the session of the removed account
    with pytest.raises(aiomqtt.MqttError):
        await connect(secured, revoked.router.router_id, revoked.mqtt_password)
    # Every other router stays connected and keeps working.
    controller = await connect_url(secured, secured.controller_url)
    await controller.subscribe(f"ap/v1/{other.router.router_id}/status", qos=1)
    controller_inbox = Inbox(controller)
    await bystander.publish(f"ap/v1/{other.router.router_id}/status", b"still here", qos=1)
    await controller_inbox.wait_for(f"ap/v1/{other.router.router_id}/status", b"still here")
    assert bystander_inbox.gone is None
    for box in (inbox, bystander_inbox, controller_inbox):
        box.stop()


async def test_a_redeemed_install_code_replaces_the_old_password(
    secured: SecuredBroker, db: asyncpg.Pool
) -> None:
    tenant = await make_tenant(db, with_ad=False)
    old = await connect_router(secured, tenant)
    inbox = Inbox(old)
    async with db.acquire() as conn:
        claim = await provisioning.issue_claim(
            conn, tenant.merchant_id, tenant.router.router_id, actor=TEST_ACTOR
        )

    redemption = await provisioning.redeem_claim(db, claim.code, "192.0.2.7")

    await inbox.wait_gone()  # the router installed again elsewhere took over the account
    inbox.stop()
    async with asyncio.timeout(WAIT):
        while True:
            try:
                await connect(secured, tenant.router.router_id, redemption.mqtt_password)
                break
            except aiomqtt.MqttError:
                await asyncio.sleep(0.05)
    with pytest.raises(aiomqtt.MqttError):
        await connect(secured, tenant.router.router_id, tenant.mqtt_password)


@pytest.mark.skipif(not mosquitto_passwd_available(), reason="missing mosquitto_passwd")
def test_hashes_match_mosquitto_passwd(tmp_path: Path) -> None:
    path = tmp_path / "passwd"
    subprocess.run(["mosquitto_passwd", "-c", "-b", str(path), "ap-1", "s3cret"], check=True)
    written = path.read_text().strip().split(":", 1)[1]

    assert broker_auth.verify_password("s3cret", written)
    assert not broker_auth.verify_password("s3creT", written)
    mine = broker_auth.hash_password("s3cret")
    assert mine.startswith("$7$101$") and broker_auth.verify_password("s3cret", mine)


def test_service_accounts_cannot_take_a_router_name() -> None:
    with pytest.raises(broker_auth.BrokerAuthError, match="dot"):
        account_from_url(f"mqtt://ap-1:{quote('pw')}@h", "controller")
    with pytest.raises(broker_auth.BrokerAuthError, match="no username and password"):
        account_from_url("mqtt://h:1883", "portal")
