"""The one-line install command under busybox against the real portal app: the install code is
redeemed, openNDS and the agent are configured with uci, a second run changes nothing, the
self-check names what is wrong, uninstall.sh puts openNDS's configuration back.

Stub opkg and uci (tests/firmware/harness.py); busybox's own wget fetches from the portal on
loopback (plain HTTP, which install.sh allows only there). The end-to-end run with the broker's
generated accounts and the agent is tests/e2e/test_install_router.py.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path

import asyncpg
import pytest
from aiohttp import web

import accounts.services as accounts
from controller import broker_auth, provisioning
from controller.services import CommandSender, Router, find_router
from kernel.config import Settings
from kernel.embedded import free_port
from portico.runtime import portal_app
from tests.factories import TEST_ACTOR
from tests.firmware.harness import BUSYBOX, Broker, BusyboxEnv, needs_tools

pytestmark = needs_tools

SECTION = "opennds.@opennds[0]"
STORE = "Lucky Bean · 2F"


@dataclass(frozen=True)
class Portal:
    url: str
    port: int


@pytest.fixture
async def portal(
    settings: Settings, db: asyncpg.Pool, sender: CommandSender, broker: Broker
) -> AsyncIterator[Portal]:
    """The portal app on a port of its own, telling routers to use the test run's broker."""
    await db.execute("DELETE FROM claim_attempts WHERE client_ip = '127.0.0.1'")
    port = free_port()
    public = replace(
        settings,
        public_portal_url=f"http://127.0.0.1:{port}",
        public_mqtt_url=f"mqtt://{broker.host}:{broker.port}",
    )
    runner = web.AppRunner(portal_app(public, db, sender))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield Portal(public.portal_url, port)
    await runner.cleanup()


async def new_router(
    db: asyncpg.Pool, ttl: timedelta = provisioning.CLAIM_TTL
) -> tuple[Router, provisioning.Claim]:
    async with db.acquire() as conn:
        merchant_id = await accounts.create_merchant(conn, f"M {uuid.uuid4().hex[:8]}")
        store_id = await accounts.create_store(conn, merchant_id, STORE)
        router, claim = await provisioning.add_router(
            conn, merchant_id, store_id, actor=TEST_ACTOR, ttl=ttl
        )
    return router, claim


async def run_command(
    env: BusyboxEnv, root: Path, command: str, **extra: str
) -> tuple[int, str, str]:
    """The install command as an installer pastes it into the router's shell (busybox ash)."""
    process = await asyncio.create_subprocess_exec(
        BUSYBOX,
        "sh",
        "-c",
        command,
        env=env.env(PORTICO_ROOT=str(root), TMPDIR=str(env.root), **extra),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 90)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def command_for(portal: Portal, claim: provisioning.Claim) -> str:
    return provisioning.install_command(portal.url, claim.code)


async def stored_hash(db: asyncpg.Pool, router_id: str) -> str:
    return await db.fetchval(
        "SELECT mqtt_password_hash FROM routers WHERE router_id = $1", router_id
    )


async def test_the_one_line_command_installs_the_agent_and_configures_opennds(
    portal: Portal, db: asyncpg.Pool, busybox_env: BusyboxEnv, broker: Broker, tmp_path: Path
) -> None:
    root = tmp_path / "root"
    router, claim = await new_router(db)
    busybox_env.set_nds_pid("4242")
    (busybox_env.stubs / "opkg.installed").write_text("busybox\n")
    # The router's openNDS as it came: the installer saves it before changing it.
    earlier = [f"{SECTION}.gatewayname=OpenWrt", f"{SECTION}.fasremotefqdn=old.example"]
    (busybox_env.stubs / "uci.db").write_text("\n".join(earlier) + "\n")

    status, out, err = await run_command(busybox_env, root, command_for(portal, claim))

    assert status == 0, out + err
    assert f"this router is {router.router_id}" in out
    assert "self-check passed" in out
    db_ = busybox_env.uci_db()
    assert db_["portico.agent.device_id"] == router.router_id
    assert broker_auth.verify_password(
        db_["portico.agent.password"], await stored_hash(db, router.router_id)
    )
    assert (db_["portico.agent.broker_host"], db_["portico.agent.broker_port"]) == (
        broker.host,
        str(broker.port),
    )
    assert db_["portico.agent.tls"] == "0" and db_["portico.agent.enabled"] == "1"
    opennds = {k.removeprefix(f"{SECTION}."): v for k, v in db_.items() if k.startswith(SECTION)}
    assert opennds == {
        "gatewayname": STORE,
        "fasremotefqdn": "",  # deleted: an IPv4 portal is reached by fasremoteip
        "enabled": "1",
        "login_option_enabled": "0",
        "fas_secure_enabled": "1",
        "fasport": str(portal.port),
        "faspath": f"/fas/{router.router_id}/",
        "faskey": router.faskey,
        "fasremoteip": "127.0.0.1",
    }
    rule = f"allow tcp port {portal.port} to 127.0.0.1"
    assert busybox_env.uci_list(f"{SECTION}.preauthenticated_users") == [rule]
    assert [c[2] for c in busybox_env.opkg_calls()] == ["list-installed", "update", "install"]
    assert busybox_env.opkg_calls()[-1][3:] == ["mosquitto-client-ssl", "opennds"]
    assert "/etc/config/portico" in (root / "etc/sysupgrade.conf").read_text().splitlines()
    hash_before = await stored_hash(db, router.router_id)

    # The same command again: nothing is redeemed twice, nothing is added twice.
    status, out, err = await run_command(busybox_env, root, command_for(portal, claim))

    assert status == 0, out + err
    assert "redeemed this install code before" in out
    assert await stored_hash(db, router.router_id) == hash_before
    assert busybox_env.uci_list(f"{SECTION}.preauthenticated_users") == [rule]

    # And off again: openNDS as it was.
    status, out, err = await run_command(
        busybox_env, root, f"sh {root}/etc/portico/installer/uninstall.sh"
    )

    assert status == 0, out + err
    after = busybox_env.uci_db()
    assert {k: v for k, v in after.items() if k.startswith(SECTION)} == {
        f"{SECTION}.gatewayname": "OpenWrt",
        f"{SECTION}.fasremotefqdn": "old.example",
    }
    assert busybox_env.uci_list(f"{SECTION}.preauthenticated_users") == []
    assert not (root / "etc/config/portico").exists()


async def test_a_code_another_router_redeemed_is_refused(
    portal: Portal, db: asyncpg.Pool, busybox_bin: Path, tmp_path: Path
) -> None:
    router, claim = await new_router(db)
    first = BusyboxEnv.create(tmp_path / "first", busybox_bin)
    first.set_nds_pid("1")
    status, out, err = await run_command(first, tmp_path / "root1", command_for(portal, claim))
    assert status == 0, out + err
    second = BusyboxEnv.create(tmp_path / "second", busybox_bin)

    status, out, err = await run_command(second, tmp_path / "root2", command_for(portal, claim))

    assert status == 1
    assert "this install code was used already by another installation" in err
    assert "portico.agent.password" not in second.uci_db()
    assert (await find_router(db, router.router_id)) is not None


async def test_an_expired_code_says_so_before_anything_is_installed(
    portal: Portal, db: asyncpg.Pool, busybox_env: BusyboxEnv, tmp_path: Path
) -> None:
    _router, claim = await new_router(db, ttl=timedelta(seconds=-1))

    status, _out, err = await run_command(
        busybox_env, tmp_path / "root", command_for(portal, claim)
    )

    assert status == 1
    assert "portico install: error: this install code has expired" in err
    assert busybox_env.opkg_calls() == [] and not (tmp_path / "root").exists()


async def test_the_self_check_names_what_is_wrong_in_plain_words(
    portal: Portal, db: asyncpg.Pool, busybox_env: BusyboxEnv, tmp_path: Path
) -> None:
    _router, claim = await new_router(db)
    busybox_env.set_nds_pid(None)  # openNDS is not running
    # The router's clock is years behind (no NTP yet).
    date = busybox_env.stubs / "date"
    date.write_text(
        f'#!{busybox_env.bin}/sh\n[ "$1" = +%s ] && echo 1000000000 && exit 0\n'
        f'exec {BUSYBOX} date "$@"\n'
    )
    date.chmod(0o755)

    status, out, err = await run_command(busybox_env, tmp_path / "root", command_for(portal, claim))

    assert status == 3, out + err
    assert "self-check found problems; the router is installed, but:" in out
    assert "  - openNDS is not running: phones are not sent to the login page" in out
    assert "the router's clock is" in out and "seconds off the portal's" in out
    assert "broker" not in out.split("self-check found problems")[1]  # that part is fine


async def test_a_portal_that_is_not_there_is_named(busybox_env: BusyboxEnv, tmp_path: Path) -> None:
    port = free_port()  # nothing listens

    status, _out, err = await run_command(
        busybox_env,
        tmp_path / "root",
        f"sh {Path(__file__).parents[2] / 'firmware-scripts/install.sh'} "
        f"--claim {'a' * 20} --portal http://127.0.0.1:{port}",
    )

    assert status == 1
    assert f"cannot reach the portal at http://127.0.0.1:{port}" in err


async def test_uninstall_takes_out_its_fas_settings_when_opennds_had_none(
    portal: Portal, db: asyncpg.Pool, busybox_env: BusyboxEnv, tmp_path: Path
) -> None:
    root = tmp_path / "root"
    _router, claim = await new_router(db)
    busybox_env.set_nds_pid("77")
    status, out, err = await run_command(busybox_env, root, command_for(portal, claim))
    assert status == 0, out + err
    assert busybox_env.uci_db()[f"{SECTION}.faspath"].startswith("/fas/")

    status, out, err = await run_command(
        busybox_env, root, f"sh {root}/etc/portico/installer/uninstall.sh"
    )

    assert status == 0, out + err
    left = {
        k: v
        for k, v in busybox_env.uci_db().items()
        if k.startswith(SECTION) and v and not k.endswith("__section")  # the stub's `uci add`
    }
    assert left == {f"{SECTION}.enabled": "1"}  # openNDS's own default; the FAS settings gone
    assert busybox_env.uci_list(f"{SECTION}.preauthenticated_users") == []
    assert "openNDS defaults apply" in out
