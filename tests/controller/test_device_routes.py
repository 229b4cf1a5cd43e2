"""controller/device_routes.py on the portal app: the install script, the claim, the installer."""

from __future__ import annotations

import io
import shutil
import subprocess
import tarfile
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

import accounts.services as accounts
from controller import broker_auth, provisioning
from controller.device_routes import FIRMWARE_DIR, fas_settings
from controller.services import CommandSender, find_router
from kernel.config import Settings
from portico.runtime import portal_app
from tests.factories import TEST_ACTOR
from tests.firmware.harness import BUSYBOX

PORTAL = "https://wifi.example.com"


@pytest.fixture
async def client(
    settings: Settings, db: asyncpg.Pool, sender: CommandSender
) -> AsyncIterator[TestClient]:
    public = replace(
        settings, public_portal_url=PORTAL, public_mqtt_url="mqtts://mqtt.example.com:8883"
    )
    async with TestClient(TestServer(portal_app(public, db, sender))) as client:
        yield client


async def new_claim(db: asyncpg.Pool, store_name: str = "Lucky Bean's Café") -> provisioning.Claim:
    async with db.acquire() as conn:
        merchant_id = await accounts.create_merchant(conn, f"M {uuid.uuid4().hex[:8]}")
        store_id = await accounts.create_store(conn, merchant_id, store_name)
        _router, claim = await provisioning.add_router(
            conn, merchant_id, store_id, actor=TEST_ACTOR, fas_level=2
        )
    return claim


@pytest.fixture(autouse=True)
async def no_earlier_failures(db: asyncpg.Pool) -> AsyncIterator[None]:
    """The rate limit counts failed codes per address, and every test client is 127.0.0.1:
    forgotten before each test and after it, however it ended (a test stopped by a failure
    left 127.0.0.1 limited for 15 minutes: the e2e install's claim was refused next)."""
    await forget_failed_claims(db)
    yield
    await forget_failed_claims(db)


async def forget_failed_claims(db: asyncpg.Pool, ip: str = "127.0.0.1") -> None:
    await db.execute("DELETE FROM claim_attempts WHERE client_ip = $1", ip)


def fields(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines())


async def test_the_install_script_fetches_the_installer_and_passes_the_code(
    client: TestClient, db: asyncpg.Pool, tmp_path: Path
) -> None:
    claim = await new_claim(db)

    response = await client.get(f"/i/{claim.code}")

    assert response.status == 200
    assert response.headers["Cache-Control"] == "no-store"
    script = await response.text()
    assert script.startswith("#!/bin/sh\n")
    assert f"portal='{PORTAL}'" in script and f"code='{claim.code}'" in script
    assert '"$portal/i/firmware.tar.gz"' in script
    assert 'sh "$dir/install.sh" --claim "$code" --portal "$portal"' in script
    # Fetching the script does not use the code up.
    assert (await provisioning.check_claim(db, claim.code, "192.0.2.1")) == claim.router_id
    path = tmp_path / "bootstrap.sh"
    path.write_text(script)
    shellcheck = shutil.which("shellcheck")
    assert shellcheck, "shellcheck is missing: apt-get install shellcheck"
    result = subprocess.run([shellcheck, "-s", "sh", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


@pytest.mark.parametrize(("code", "words"), [("a" * 20, "is unknown"), ("x", "is unknown")])
async def test_a_bad_code_gets_a_script_that_says_so_and_fails(
    client: TestClient, code: str, words: str
) -> None:
    response = await client.get(f"/i/{code}")

    assert response.status == 200  # `wget … | sh` prints nothing of a 404's body
    result = subprocess.run(
        [BUSYBOX, "sh"], input=await response.text(), capture_output=True, text=True, timeout=10
    )
    assert result.returncode == 1
    assert f"portico install: error: this install code {words}" in result.stderr


async def test_redeeming_answers_the_routers_credentials_and_fas_settings(
    client: TestClient, db: asyncpg.Pool
) -> None:
    claim = await new_claim(db)

    response = await client.post(f"/i/{claim.code}")

    assert response.status == 200, await response.text()
    assert response.headers["Cache-Control"] == "no-store"
    got = fields(await response.text())
    router = await find_router(db, claim.router_id)
    assert router is not None
    stored = await db.fetchval(
        "SELECT mqtt_password_hash FROM routers WHERE router_id = $1", claim.router_id
    )
    assert broker_auth.verify_password(got.pop("mqtt_password"), stored)
    assert abs(int(got.pop("server_time")) - time.time()) < 5
    assert got == {
        "router_id": claim.router_id,
        "mqtt_username": claim.router_id,
        "broker_host": "mqtt.example.com",
        "broker_port": "8883",
        "broker_tls": "1",
        "faskey": router.faskey,
        "heartbeat": "60",
        "portal_url": PORTAL,
        "fas_level": "2",
        "fasremotefqdn": "wifi.example.com",
        "fasremoteip": "",
        "fasport": "80",
        "faspath": f"/fas/{claim.router_id}/",
        "walledgarden_host": "wifi.example.com",
        "walledgarden_port": "443",
        "captive_api_url": f"{PORTAL}/captive-api/{claim.router_id}",
        "gatewayname": "Lucky Bean’s Café",  # openNDS takes no single quote
    }

    again = await client.post(f"/i/{claim.code}")
    assert again.status == 409
    assert fields(await again.text())["error"] == "used"


async def test_failed_claims_are_answered_with_their_reason_then_rate_limited(
    client: TestClient, db: asyncpg.Pool
) -> None:
    statuses = []
    for _ in range(provisioning.MAX_FAILED_CLAIMS):
        response = await client.post("/i/" + "c" * 20)
        statuses.append(response.status)
        assert fields(await response.text())["error"] == "unknown"
    assert statuses == [404] * provisioning.MAX_FAILED_CLAIMS

    claim = await new_claim(db)
    limited = await client.post(f"/i/{claim.code}")

    assert limited.status == 429
    assert limited.headers["Retry-After"] == "900"
    assert fields(await limited.text())["error"] == "rate_limited"
    script = await (await client.get(f"/i/{claim.code}")).text()
    assert "too many wrong install codes" in script
    await forget_failed_claims(db)


async def test_the_installer_tarball_holds_the_scripts_and_files(client: TestClient) -> None:
    response = await client.get("/i/firmware.tar.gz")

    assert response.status == 200
    assert response.content_type == "application/gzip"
    with tarfile.open(fileobj=io.BytesIO(await response.read()), mode="r:gz") as tar:
        members = {m.name: m for m in tar.getmembers()}
        expected = {
            "install.sh",
            "uninstall.sh",
            *(
                p.relative_to(FIRMWARE_DIR).as_posix()
                for p in (FIRMWARE_DIR / "files").rglob("*")
                if p.is_file()
            ),
        }
        assert set(members) == expected
        agent = tar.extractfile(members["files/usr/sbin/portico-agent"])
        assert agent is not None
        assert agent.read() == (FIRMWARE_DIR / "files/usr/sbin/portico-agent").read_bytes()
        assert members["install.sh"].mode & 0o111


async def test_ping_tells_the_portals_time(client: TestClient) -> None:
    response = await client.get("/i/ping")

    word, seconds = (await response.text()).split()
    assert word == "portico" and abs(int(seconds) - time.time()) < 5


@pytest.mark.parametrize(
    ("portal", "level", "expected"),
    [
        (
            "https://wifi.example.com",
            1,
            {"fasremotefqdn": "wifi.example.com", "fasport": "80", "walledgarden_port": "443"},
        ),
        (
            "https://wifi.example.com",
            3,
            {"fasremotefqdn": "wifi.example.com", "fasport": "443", "walledgarden_port": "443"},
        ),
        (
            "https://wifi.example.com:8443/portico/",
            3,
            {"fasport": "8443", "faspath": "/portico/fas/ap-1/", "walledgarden_port": "8443"},
        ),
        (
            "http://10.0.0.2:8080",
            1,
            {"fasremotefqdn": "", "fasremoteip": "10.0.0.2", "fasport": "8080"},
        ),
    ],
)
def test_fas_settings_point_opennds_at_the_portal(
    portal: str, level: int, expected: dict[str, str]
) -> None:
    got = fas_settings(portal, "ap-1", level)

    assert {key: got[key] for key in expected} == expected
    assert got["captive_api_url"] == (
        f"{portal.rstrip('/')}/captive-api/ap-1" if portal.startswith("https") else ""
    )
