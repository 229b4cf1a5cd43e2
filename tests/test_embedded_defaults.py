"""With no DATABASE_URL and no MQTT_URL, `portico serve` runs on its embedded defaults.

It starts, serves the splash, stops, starts again, and the data from before is still there.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from pathlib import Path

import aiohttp
import asyncpg

from portal.fas import encode_fas
from tests.factories import make_tenant


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
        self.log = data_dir / "portico.log"

    async def start(self) -> None:
        with self.log.open("a") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "portico.cli", "serve", env=self.env, stdout=log, stderr=log
            )
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


async def splash_status(platform: Platform, path: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"http://127.0.0.1:{platform.portal_port}{path}") as response:
            return response.status, await response.text()


async def test_embedded_platform_keeps_its_data_across_restarts(tmp_path: Path) -> None:
    platform = Platform(tmp_path)
    await platform.start()
    log = platform.log.read_text()
    assert "using embedded PostgreSQL" in log
    assert "embedded MQTT broker" in log
    database_url = f"postgresql://postgres@/postgres?host={(tmp_path / 'postgres').resolve()}"
    db = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
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
