"""Done when (issue 6): `portico router add` prints a command that, run in the busybox test
harness, brings a router online in the console with its own credentials.

Everything real but the router's hardware: the platform's roles (portal, console, controller,
marketing) on the embedded broker with the accounts and ACLs Portico writes from PostgreSQL,
the `portico` command line in a process of its own, the printed line run by busybox ash
(busybox wget fetches the installer from the portal, install.sh redeems the code and
configures everything through the stub uci), the real agent started with what install.sh wrote,
and the console read over HTTP by a signed-in owner. Then `portico router revoke` cuts the
router off, and uninstall.sh takes it all away.
"""

from __future__ import annotations

import asyncio
import html
import os
import re
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import aiomqtt
import asyncpg
import pytest

import accounts.services as accounts
from controller import broker_auth
from kernel.config import Settings
from kernel.embedded import MOSQUITTO_DIR, mosquitto_binary
from kernel.mqtt import parse_mqtt_url
from tests.e2e.platform import running_platform
from tests.firmware.harness import BUSYBOX, BusyboxEnv, needs_tools, wait_until

pytestmark = [
    needs_tools,
    pytest.mark.skipif(mosquitto_binary() is None, reason="needs the mosquitto broker"),
]

PASSWORD = "correct horse battery"
COMMAND = re.compile(r"^  (wget -qO- http://127\.0\.0\.1:\d+/i/[a-z2-7]{20} \| sh)$", re.M)
EN = {"Accept-Language": "en"}


@pytest.fixture
async def platform(
    settings: Settings, db: asyncpg.Pool, database_url: str, tmp_path: Path
) -> AsyncIterator[Settings]:
    """Every role on the embedded broker secured from PostgreSQL."""
    async with running_platform(settings, db, database_url, tmp_path) as live:
        yield live


async def portico(settings: Settings, database_url: str, *args: str) -> str:
    """`portico …` as a person types it, in a process of its own; its standard output."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "PORTICO_PUBLIC_PORTAL_URL": settings.portal_url,
        "PORTICO_DATA_DIR": str(settings.data_dir),
    }
    env.pop("MQTT_URL", None)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "portico.cli",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, err.decode()
    return out.decode()


async def run_on_router(env: BusyboxEnv, root: Path, command: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        BUSYBOX,
        "sh",
        "-c",
        command,
        env=env.env(PORTICO_ROOT=str(root), TMPDIR=str(env.root)),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(process.communicate(), 90)
    assert process.returncode is not None
    return process.returncode, out.decode()


class Console:
    """A signed-in owner's browser, reduced to what the test reads."""

    def __init__(self, http: aiohttp.ClientSession, url: str) -> None:
        self.http, self.url = http, url

    async def sign_in(self, email: str) -> None:
        async with self.http.get(f"{self.url}/login", headers=EN) as page:
            token = re.search(r'name="csrf_token" value="([^"]+)"', await page.text())
        assert token
        form = {"email": email, "password": PASSWORD, "csrf_token": token.group(1)}
        async with self.http.post(f"{self.url}/login", data=form, headers=EN) as response:
            assert response.status == 200, await response.text()  # the dashboard, after 303

    async def router_state(self, router_id: str) -> str | None:
        """The router's state on the Routers page; None when it is not listed."""
        async with self.http.get(f"{self.url}/routers", headers=EN) as page:
            text = html.unescape(await page.text())
        row = re.search(rf"<code>{router_id}</code>.*?</tr>", text, re.S)
        if row is None:
            return None
        state = re.search(r'<span class="status \w+">([^<]+)</span>', row.group(0))
        assert state, row.group(0)
        return state.group(1)

    async def wait_for_state(self, router_id: str, wanted: str | None, timeout: float) -> None:
        async with asyncio.timeout(timeout):
            while await self.router_state(router_id) != wanted:
                await asyncio.sleep(0.2)


async def test_portico_router_add_prints_a_command_that_brings_the_router_online(
    platform: Settings,
    db: asyncpg.Pool,
    database_url: str,
    busybox_bin: Path,
    tmp_path: Path,
) -> None:
    tag = uuid.uuid4().hex[:8]
    merchant_id = await accounts.create_merchant(db, f"Install Test {tag}")
    await accounts.create_store(db, merchant_id, f"Harbour City {tag}")
    email = f"owner-{tag}@example.com"
    user_id = await accounts.create_user(db, email, "Owner", PASSWORD)
    await accounts.add_membership(db, merchant_id, user_id, "owner")

    # 1. The operator adds the router and gets one line (and a QR code of it).
    printed = await portico(
        platform, database_url, "router", "add", "--store", f"Harbour City {tag}"
    )
    command = COMMAND.search(printed)
    assert command, printed
    router_id = re.search(r"Router (ap-[0-9a-f]{10}) added", printed).group(1)  # type: ignore[union-attr]
    assert "▀" in printed or "█" in printed  # the terminal QR code

    # unsafe: keep cookies of an IP-address host (the console on 127.0.0.1).
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        console = Console(http, platform.console_url)
        await console.sign_in(email)
        assert await console.router_state(router_id) == "Waiting for install"

        # 2. The installer runs the line on the router.
        router = BusyboxEnv.create(tmp_path / "router", busybox_bin)
        router.set_nds_pid("1234")  # openNDS runs
        root = tmp_path / "root"
        status, output = await run_on_router(router, root, command.group(1))
        assert status == 0, output
        assert "self-check passed" in output

        # 3. The agent starts with what install.sh configured (procd would start it).
        agent = subprocess.Popen(
            [BUSYBOX, "sh", str(root / "usr/sbin/portico-agent")],
            env=router.env(PORTICO_STATE_DIR=str(router.state_dir)),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            await console.wait_for_state(router_id, "Online", timeout=20)

            # Its own credentials: what install.sh stored is this router's password, which
            # only this router's account accepts.
            saved = router.uci_db()
            assert saved["portico.agent.device_id"] == router_id
            passwd = (platform.data_dir / MOSQUITTO_DIR / broker_auth.PASSWD_NAME).read_text()
            line = next(x for x in passwd.splitlines() if x.startswith(f"{router_id}:"))
            assert broker_auth.verify_password(
                saved["portico.agent.password"], line.split(":", 1)[1]
            )
            address = parse_mqtt_url(platform.public_mqtt_url)
            with pytest.raises(aiomqtt.MqttError):
                async with aiomqtt.Client(address.host, address.port, timeout=5):
                    pass  # anonymous: refused

            # 4. Revoked: the broker cuts the agent off, the console no longer lists it.
            printed = await portico(platform, database_url, "router", "revoke", router_id)
            assert f"Router {router_id} is revoked" in printed
            await asyncio.to_thread(
                wait_until, lambda: "mosquitto_sub exited" in router.log_text(), 15
            )
            await console.wait_for_state(router_id, None, timeout=10)
        finally:
            os.killpg(agent.pid, signal.SIGTERM)
            agent.wait(15)

    # 5. And off the router again.
    status, output = await run_on_router(
        router, root, f"sh {root}/etc/portico/installer/uninstall.sh"
    )
    assert status == 0, output
    assert not (root / "etc/config/portico").exists()
    assert not (root / "usr/sbin/portico-agent").exists()
