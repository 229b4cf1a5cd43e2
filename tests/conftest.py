"""Shared test fixtures: a database of its own for each test run, and the MQTT broker.

`DATABASE_URL` and `MQTT_URL` name real servers (CI: the machine's PostgreSQL and Mosquitto).
Without them the tests start the same embedded defaults the platform uses. Each run creates
its own database `portico_test_<random>` and drops it at the end, so runs never interfere.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from bench.harness import forget_routers
from controller.services import CommandSender
from kernel.config import Settings, load_settings
from kernel.db import create_pool, migrate
from kernel.embedded import free_port, mosquitto_binary, private_mosquitto
from portal.app import make_portal_app


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


@pytest.fixture(scope="session")
def servers_dir() -> Iterator[Path]:
    """Where this run's embedded servers keep their data: a folder of its own, not under
    pytest's basetemp, which a later pytest run on the same machine deletes (it keeps the last
    three) while this one may still be using it."""
    with tempfile.TemporaryDirectory(prefix="portico-test-servers-") as path:
        yield Path(path)


@pytest.fixture(scope="session")
def server_url(servers_dir: Path) -> Iterator[str]:
    """The PostgreSQL server to create test databases on."""
    url = os.environ.get("DATABASE_URL")
    if url:
        yield url
        return
    from kernel.embedded import start_embedded_postgres

    url, server = start_embedded_postgres(servers_dir / "pg")
    yield url
    server.cleanup()


@pytest.fixture(scope="session")
async def database_url(server_url: str) -> AsyncIterator[str]:
    """A fresh, migrated database for this test run."""
    name = f"portico_test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(server_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = _with_database(server_url, name)
    try:
        await migrate(url)
        yield url
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture(scope="session", autouse=True)
async def forget_retained_statuses(database_url: str) -> AsyncIterator[None]:
    """At the end, on a shared broker, clear the retained statuses this run's routers left
    (bench.harness.forget_routers): only this run's, which its own database names."""
    yield
    await forget_routers(database_url)


@pytest.fixture(scope="session")
async def db(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(database_url, size=10)
    yield pool
    await pool.close()


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


RUN_AMQTT_BROKER = """
import asyncio, sys
from kernel.embedded import amqtt_broker

async def main() -> None:
    async with amqtt_broker(int(sys.argv[1])):
        await asyncio.Event().wait()

asyncio.run(main())
"""


@pytest.fixture(scope="session")
def mqtt_url(servers_dir: Path) -> Iterator[str]:
    """MQTT_URL, or the embedded broker the platform would choose: a private Mosquitto when
    installed, else amqtt in a process of its own (tests block on sockets)."""
    url = os.environ.get("MQTT_URL")
    if url:
        yield url
        return
    binary = mosquitto_binary()
    if binary is not None:
        with private_mosquitto(binary, servers_dir / "var") as url:
            yield url
        return
    port = free_port()
    broker = subprocess.Popen([sys.executable, "-c", RUN_AMQTT_BROKER, str(port)])
    try:
        deadline = time.monotonic() + 20
        while not _listening(port):
            assert broker.poll() is None, "the embedded broker did not start"
            assert time.monotonic() < deadline, "the embedded broker did not listen in 20 s"
            time.sleep(0.1)
        yield f"mqtt://127.0.0.1:{port}"
    finally:
        broker.terminate()
        broker.wait(timeout=10)


@pytest.fixture(scope="session")
def settings(
    database_url: str, mqtt_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Settings:
    data_dir: Path = tmp_path_factory.mktemp("var")
    return load_settings(
        {},
        env="test",
        database_url=database_url,
        mqtt_url=mqtt_url,
        data_dir=str(data_dir),
        secret_key="test-secret-" + "x" * 40,
        ack_timeout="2",
    )


@pytest.fixture(scope="session")
async def sender(settings: Settings, db: asyncpg.Pool) -> AsyncIterator[CommandSender]:
    sender = CommandSender(settings.mqtt_url, db, ack_timeout=settings.ack_timeout)
    await sender.start()
    yield sender
    await sender.stop()


@pytest.fixture
async def portal_client(
    settings: Settings, db: asyncpg.Pool, sender: CommandSender
) -> AsyncIterator[TestClient]:
    """The portal app on a test server, with the real database and broker."""
    app = make_portal_app(settings, db, sender)
    async with TestClient(TestServer(app)) as client:
        yield client
