"""`portico serve portal --workers N`: N processes share the portal's port (SO_REUSEPORT)."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from kernel.config import Settings


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def listening_pids(port: int) -> set[int]:
    """The processes with a listening socket on 127.0.0.1:port, as `ss` reports them."""
    out = subprocess.run(
        ["ss", "-ltnpH", f"sport = :{port}"], capture_output=True, text=True, check=True
    ).stdout
    return {int(pid) for pid in re.findall(r"pid=(\d+)", out)}


@pytest.mark.skipif(shutil.which("ss") is None, reason="needs ss (iproute2)")
async def test_two_workers_share_the_portal_port_and_stop_together(
    settings: Settings, tmp_path: Path
) -> None:
    port = free_port()
    env = os.environ | {
        "DATABASE_URL": settings.database_url,
        "MQTT_URL": settings.mqtt_url,
        "PORTICO_SECRET_KEY": settings.secret_key,
        "PORTICO_DATA_DIR": str(tmp_path),
        "PORTICO_PORTAL_PORT": str(port),
    }
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        parent = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "portico.cli", "serve", "portal", "--workers", "2",
            env=env, stdout=out, stderr=out,
        )  # fmt: skip
    try:
        async with aiohttp.ClientSession() as http, asyncio.timeout(60):
            while len(listening_pids(port)) < 2:
                assert parent.returncode is None, log.read_text()
                await asyncio.sleep(0.2)
            workers = listening_pids(port)
            assert parent.pid not in workers  # the parent serves nothing itself
            for _ in range(40):
                async with http.get(f"http://127.0.0.1:{port}/healthz") as response:
                    assert response.status == 200
        parent.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(parent.wait(), 30) == 0, log.read_text()
        assert listening_pids(port) == set()
        for pid in workers:
            assert not Path(f"/proc/{pid}").exists()
    finally:
        if parent.returncode is None:
            parent.kill()
            await parent.wait()


@pytest.mark.parametrize("value", ["0", "many", "65"])
def test_a_bad_worker_count_is_a_clear_error(value: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "portico.cli", "serve", "portal", "--workers", value],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "--workers" in result.stderr
