"""The Routers page's fleet columns and actions (controller/console.py): firmware, clients and
configuration (desired against applied), reboot and apply-config through the real broker to
the agent's model; offline routers fail at once; owners only, with CSRF."""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from accounts import services as accounts
from controller import fleet_config, topics
from controller.commands import CommandSender
from controller.services import (
    AccessPolicy,
    NewRouter,
    authorize_client,
    record_router_status,
    register_router,
)
from controller.telemetry import TelemetryIngest
from kernel.config import Settings
from kernel.mqtt import Delivery
from portico.console_app import make_console_app
from simulators.router import SimulatedRouter
from tests.console.test_console_app import EN, PASSWORD, ZH, Member, new_member
from tests.console.test_routers_page import signed_in
from tests.controller.test_listener import device_client


@pytest.fixture
async def client(
    settings: Settings, db: asyncpg.Pool, sender: CommandSender
) -> AsyncIterator[TestClient]:
    async with TestClient(TestServer(make_console_app(settings, db, sender))) as client:
        yield client


async def new_router(db: asyncpg.Pool, member: Member, name: str) -> NewRouter:
    async with db.acquire() as conn:
        return await register_router(
            conn, member.merchant_id, member.store_id, f"ap-{uuid.uuid4().hex[:10]}", name
        )


@pytest.fixture
async def online(
    settings: Settings, db: asyncpg.Pool
) -> AsyncIterator[tuple[Member, NewRouter, SimulatedRouter]]:
    """An owner's router, online: the agent's model on the real broker, its status stored."""
    member = await new_member(db)
    new = await new_router(db, member, "Front desk")
    sim = SimulatedRouter(
        new.router.router_id,
        mqtt_url=settings.mqtt_url,
        password=new.mqtt_password,
        faskey=new.router.faskey,
        portal_url="http://portal.test",
        gateway_mac="02:00:00:00:00:01",
    )
    await sim.start(http=False)
    status = {"v": 1, "online": True, "boot_id": sim.agent.boot_id, "fw": "OpenWrt 23.05.3"}
    await record_router_status(db, new.router, online=True, status=status)
    yield member, new, sim
    await sim.stop()
    async with device_client(settings, new.router.router_id) as device:  # no retained leftovers
        for leaf in ("status", "state", "desired"):
            await device.publish(topics.topic(new.router.router_id, leaf), b"", qos=1, retain=True)


def row_of(page: str, router_id: str) -> str:
    start = page.index(f"<code>{router_id}</code>")
    return page[start : page.index("</tr>", start)]


async def test_the_page_shows_firmware_clients_and_configuration(
    client: TestClient, db: asyncpg.Pool
) -> None:
    member = await new_member(db)
    synced, pending, failed, silent = [
        await new_router(db, member, name) for name in ("A synced", "B pending", "C failed", "D")
    ]
    status = {"v": 1, "online": True, "fw": "OpenWrt 23.05.3", "agent": "portico-agent/1.0"}
    for new in (synced, pending, failed):
        await record_router_status(db, new.router, online=True, status=status)
    ingest = TelemetryIngest(db, "test-secret-" + "x" * 40)
    now = int(time.time())
    # the latest heartbeat, then one of two hours ago that the agent's spool sent again
    for seq, ts, clients in ((2, now, 7), (1, now - 7200, 3)):
        payload = topics.encode(
            {"id": f"b007-{seq}", "type": "heartbeat", "ts": ts, "uptime_s": 1, "clients": clients}
        )
        tele = topics.topic(synced.router.router_id, "tele")
        await ingest.handle(Delivery(tele, "tele", payload, False))
    for new, desired, applied, result, error in (
        (synced, 3, 3, "ok", None),
        (pending, 2, 1, "ok", None),
        (failed, 4, 3, "failed", "broker unreachable after apply"),
    ):
        await db.execute(
            "INSERT INTO router_configs (merchant_id, router_id, desired_version, desired_body,"
            " desired_sha256, applied_version, state_version, state_result, state_error)"
            " VALUES ($1, $2, $3, '{}', $4, $5, $3, $6, $7)",
            member.merchant_id,
            new.router.router_id,
            desired,
            "0" * 64,
            applied,
            result,
            error,
        )
    await signed_in(client, member)

    page = await (await client.get("/routers", headers=EN)).text()

    row = row_of(page, synced.router.router_id)
    assert "OpenWrt 23.05.3" in row and ">7<" in row and "v3 applied" in row
    assert "/reboot" in row and "/reapply" in row
    assert "v2 not applied yet (v1 in effect)" in row_of(page, pending.router.router_id)
    row = row_of(page, failed.router.router_id)
    assert "v4 failed, rolled back to v3: broker unreachable after apply" in row
    row = row_of(page, silent.router.router_id)  # never heard from
    assert "/reboot" not in row and "/reapply" not in row and "—" in row
    zh = await (await client.get("/routers", headers=ZH)).text()
    assert "v2 尚未生效（当前 v1）" in zh


async def test_a_level_3_router_without_its_agent_is_online_through_openndss_authmon(
    client: TestClient, db: asyncpg.Pool
) -> None:
    member = await new_member(db)
    polled, stale = [await new_router(db, member, name) for name in ("Polled", "Stale")]
    for new, ago in ((polled, 10), (stale, 600)):
        await db.execute(
            "UPDATE routers SET authmon_seen_at = now() - make_interval(secs => $3)"
            " WHERE merchant_id = $1 AND router_id = $2",
            member.merchant_id,
            new.router.router_id,
            ago,
        )
    await signed_in(client, member)

    page = await (await client.get("/routers", headers=EN)).text()

    row = row_of(page, polled.router.router_id)
    assert "Online (openNDS only)" in row and "/reboot" not in row
    assert "Offline" in row_of(page, stale.router.router_id)


async def test_reboot_and_apply_again_reach_the_router(
    client: TestClient,
    db: asyncpg.Pool,
    sender: CommandSender,
    online: tuple[Member, NewRouter, SimulatedRouter],
) -> None:
    member, new, sim = online
    config = fleet_config.DesiredConfig(walled_garden=(("portal.example.com", 443),), minutes=60)
    await fleet_config.set_desired(db, sender, new.router.ref, config)
    async with asyncio.timeout(5):
        while sim.agent.applied[0] != 1:
            await asyncio.sleep(0.05)
    token = await signed_in(client, member)

    page = await client.post(
        f"/routers/{new.router.router_id}/reapply", data={"csrf_token": token}, headers=EN
    )
    text = await page.text()
    assert page.status == 200 and "Front desk applied its configuration again" in text

    page = await client.post(
        f"/routers/{new.router.router_id}/reboot", data={"csrf_token": token}, headers=EN
    )
    text = await page.text()
    assert page.status == 200 and "Front desk is rebooting." in text
    assert sim.agent.reboots == 1
    ops = await db.fetch(
        "SELECT op, status, sent_by FROM router_commands WHERE merchant_id = $1"
        " ORDER BY created_at",
        member.merchant_id,
    )
    me = f"user:{member.user_id}"
    assert [tuple(r) for r in ops] == [("apply-config", "done", me), ("reboot", "done", me)]

    # The audit log names who sent what; a shopper's login shows no MAC.
    await authorize_client(
        sender, new.router, mac="0a:11:22:33:44:55", hid="f" * 64, policy=AccessPolicy(60)
    )
    name = await db.fetchval(
        "SELECT display_name FROM user_accounts WHERE user_id = $1", member.user_id
    )
    history = await (
        await client.get(f"/routers/{new.router.router_id}/history", headers=EN)
    ).text()
    rows = re.findall(r"<tr>\s*<td class=\"when small\">(.*?)</tr>", history, re.S)
    assert len(rows) == 3
    assert "Let a phone through" in rows[0] and "A shopper (portal)" in rows[0]
    assert "Reboot" in rows[1] and name in rows[1] and "Done" in rows[1]
    assert "Apply the configuration" in rows[2] and name in rows[2]
    assert "0a:11:22:33:44:55" not in history and "0a11" not in history


async def test_an_offline_router_is_answered_at_once_and_no_command_goes_out(
    client: TestClient, db: asyncpg.Pool
) -> None:
    member = await new_member(db)
    new = await new_router(db, member, "Back office")
    await record_router_status(db, new.router, online=False, status={"v": 1, "online": False})
    token = await signed_in(client, member)
    started = time.monotonic()

    page = await client.post(
        f"/routers/{new.router.router_id}/reboot", data={"csrf_token": token}, headers=EN
    )

    assert time.monotonic() - started < 2
    assert "Could not reach Back office: the router is offline." in await page.text()
    assert not await db.fetchval(
        "SELECT count(*) FROM router_commands WHERE merchant_id = $1", member.merchant_id
    )


async def test_actions_need_the_csrf_token_and_an_owner(
    client: TestClient, db: asyncpg.Pool, online: tuple[Member, NewRouter, SimulatedRouter]
) -> None:
    member, new, sim = online
    token = await signed_in(client, member)
    path = f"/routers/{new.router.router_id}/reboot"
    assert (await client.post(path, data={"csrf_token": "forged"}, headers=EN)).status == 403
    staff_email = f"staff-{uuid.uuid4().hex}@example.com"
    staff = await accounts.create_user(db, staff_email, "Staff", PASSWORD)
    await accounts.add_membership(db, member.merchant_id, staff, "staff")
    client.session.cookie_jar.clear()
    staff_member = Member(staff_email, staff, member.merchant_id, member.store_id, "")
    token = await signed_in(client, staff_member)
    assert (await client.post(path, data={"csrf_token": token}, headers=EN)).status == 403
    assert sim.agent.reboots == 0 and sim.acks == []


async def test_the_history_is_for_the_routers_members_only(
    client: TestClient, db: asyncpg.Pool
) -> None:
    member, stranger = await new_member(db), await new_member(db)
    new = await new_router(db, member, "Kiosk")
    staff_email = f"staff-{uuid.uuid4().hex}@example.com"
    staff = await accounts.create_user(db, staff_email, "Staff", PASSWORD)
    await accounts.add_membership(db, member.merchant_id, staff, "staff")
    path = f"/routers/{new.router.router_id}/history"

    await signed_in(client, stranger)
    assert (await client.get(path)).status == 404
    assert (await client.get("/routers/ap-nobody/history")).status == 404
    client.session.cookie_jar.clear()
    await signed_in(client, Member(staff_email, staff, member.merchant_id, member.store_id, ""))
    page = await client.get(path, headers=EN)
    assert page.status == 200 and "No commands have been sent" in await page.text()
    client.session.cookie_jar.clear()
    signed_out = await client.get(path, allow_redirects=False)
    assert signed_out.status in (302, 303) and "/login" in signed_out.headers["Location"]
