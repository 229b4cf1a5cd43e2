"""Desired configuration end to end on the real broker and PostgreSQL: the controller stores
and publishes it (controller.fleet_config), the agent's model applies it, the listener stores
its state reports, and drift is queryable."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from controller import fleet_config, topics
from controller.commands import CommandSender
from controller.fleet_config import DesiredConfig, StateIngest
from controller.listener import FleetListener
from kernel.config import Settings
from kernel.mqtt import Refused
from simulators.router import SimulatedRouter
from tests.controller.test_listener import device_client, forget_session, group_for_test, running
from tests.factories import Tenant, tenant_router

CONFIG = DesiredConfig(walled_garden=(("cdn.example.com", 443),), minutes=90, down_kbps=4000)
BREAKING = "192.0.2.66"


@pytest.fixture
async def sender(settings: Settings, db: asyncpg.Pool) -> AsyncIterator[CommandSender]:
    sender = CommandSender(settings.mqtt_url, db, ack_timeout=3.0, ttl=30)
    await sender.start()
    yield sender
    await sender.stop()


@pytest.fixture
async def listener(settings: Settings, db: asyncpg.Pool) -> AsyncIterator[FleetListener]:
    client_id = f"test-ctrl-{uuid.uuid4().hex[:8]}"
    fleet = FleetListener(
        settings.mqtt_url,
        db,
        shared_group=group_for_test(),
        client_id=client_id,
        routes={"state": StateIngest(db).handle},
    )
    async with running(fleet):
        yield fleet
    await forget_session(settings, client_id)


@pytest.fixture
async def router(settings: Settings, tenant: Tenant) -> AsyncIterator[SimulatedRouter]:
    sim = tenant_router(tenant, settings.mqtt_url)
    # A configuration with this host cuts the simulated router off the broker.
    sim.agent.broker_ok = lambda config: f"{BREAKING}:443" not in config["walled_garden"]
    await sim.start(http=False)
    yield sim
    await sim.stop()
    async with device_client(settings, tenant.router.router_id) as client:
        for leaf in ("desired", "state", "status"):  # retained: other tests' listeners get them
            await client.publish(topics.topic(tenant.router.router_id, leaf), b"", retain=True)


async def drift(db: asyncpg.Pool, tenant: Tenant, until: object = None) -> asyncpg.Record:
    async with asyncio.timeout(10):
        while True:
            rows = await fleet_config.config_drift(db, tenant.merchant_id)
            if rows and (until is None or until(rows[0])):
                return rows[0]
            await asyncio.sleep(0.05)


async def test_desired_is_published_applied_and_its_state_stored(
    router: SimulatedRouter,
    sender: CommandSender,
    listener: FleetListener,
    tenant: Tenant,
    db: asyncpg.Pool,
) -> None:
    first = await fleet_config.set_desired(db, sender, tenant.router.ref, CONFIG)
    row = await drift(db, tenant, lambda r: r["state_result"] is not None)

    assert (first.version, first.changed) == (1, True)
    assert (row["desired_version"], row["applied_version"], row["state_result"]) == (1, 1, "ok")
    assert row["in_sync"]
    assert router.agent.config["sessiontimeout"] == 90

    again = await fleet_config.set_desired(db, sender, tenant.router.ref, CONFIG)
    assert (again.version, again.changed) == (1, False)
    await asyncio.sleep(0.3)
    assert router.agent.nds_restarts == 1


async def test_a_breaking_configuration_shows_as_drift(
    router: SimulatedRouter,
    sender: CommandSender,
    listener: FleetListener,
    tenant: Tenant,
    db: asyncpg.Pool,
) -> None:
    await fleet_config.set_desired(db, sender, tenant.router.ref, CONFIG)
    await drift(db, tenant, lambda r: r["applied_version"] == 1)

    breaking = DesiredConfig(walled_garden=((BREAKING, 443),), minutes=5)
    second = await fleet_config.set_desired(db, sender, tenant.router.ref, breaking)
    row = await drift(db, tenant, lambda r: r["state_version"] == 2)

    assert second.version == 2
    assert (row["desired_version"], row["applied_version"], row["state_result"]) == (
        2,
        1,
        "failed",
    )
    assert not row["in_sync"] and "rolled back" in row["state_error"]
    assert router.agent.config["sessiontimeout"] == 90


async def test_apply_config_reapplies_the_current_document(
    router: SimulatedRouter,
    sender: CommandSender,
    listener: FleetListener,
    tenant: Tenant,
    db: asyncpg.Pool,
) -> None:
    await fleet_config.set_desired(db, sender, tenant.router.ref, CONFIG)
    await drift(db, tenant, lambda r: r["applied_version"] == 1)
    router.agent.config["sessiontimeout"] = 5  # changed by hand on the router

    ack = await fleet_config.reapply(sender, tenant.router.ref)

    assert (ack.status, ack.msg) == ("done", "version 1 applied")
    assert router.agent.config["sessiontimeout"] == 90


async def test_hostile_state_reports_are_refused_and_counted(
    settings: Settings, listener: FleetListener, tenant: Tenant, db: asyncpg.Pool
) -> None:
    router_id = tenant.router.router_id
    bad = [
        {"v": 1, "version": "1", "applied_version": 1, "result": "ok"},
        {"v": 1, "version": 1, "applied_version": -1, "result": "ok"},
        {"v": 1, "version": 1, "applied_version": 1, "result": "'; DROP TABLE routers; --"},
        {"v": 1, "version": 1, "applied_version": 1, "result": "ok", "error": {"x": 1}},
    ]
    async with device_client(settings, router_id) as client:
        for payload in bad:
            await client.publish(topics.topic(router_id, "state"), json.dumps(payload), qos=1)
        await client.publish(topics.topic(router_id, "state"), b"\xff" * 10, qos=1)
    async with asyncio.timeout(10):
        # Both counts: the last message (not JSON) is handled after the fourth bad field.
        while (
            listener.metrics.get("refused.bad_field") < 4
            or listener.metrics.get("refused.malformed") < 1
        ):
            await asyncio.sleep(0.05)
    assert listener.metrics.get("refused.malformed") >= 1


@pytest.mark.parametrize(
    "kwargs",
    [
        {"walled_garden": (("$(reboot)", 443),)},
        {"walled_garden": (("a.b", 0),)},
        {"walled_garden": (("a.b", 1),) * 33},
        {"minutes": -1},
        {"faskey": "x" * 64},
    ],
)
def test_a_desired_configuration_outside_the_contract_is_not_built(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        DesiredConfig(**kwargs)


def test_parse_state_accepts_a_contract_report() -> None:
    data = {"v": 1, "version": 2, "applied_version": 1, "result": "failed", "error": "e" * 900}
    version, applied, result, error = fleet_config.parse_state(data)
    assert (version, applied, result, len(error)) == (2, 1, "failed", 500)
    with pytest.raises(Refused):
        fleet_config.parse_state({**data, "version": True})


# -- faskey rotation ------------------------------------------------------------------------


async def carried(sim: SimulatedRouter, mac: str) -> str:
    """A level-2 redirect of a new phone at the simulated router, as the splash carries it."""
    from urllib.parse import urlsplit

    client = sim.add_client(mac, "10.0.0.77")
    return urlsplit(sim.redirect_url(client, "http://example.com/")).query.removeprefix("fas=")


@pytest.fixture
async def level_2(
    settings: Settings, tenant: Tenant, db: asyncpg.Pool
) -> AsyncIterator[SimulatedRouter]:
    await db.execute("UPDATE routers SET fas_level = 2 WHERE merchant_id = $1", tenant.merchant_id)
    # gateway_port: named in its redirects; nothing listens (http=False)
    sim = tenant_router(tenant, settings.mqtt_url, gateway_port=2050, fas_level=2)
    await sim.start(http=False)
    yield sim
    await sim.stop()
    async with device_client(settings, tenant.router.router_id) as client:
        for leaf in ("desired", "state", "status"):
            await client.publish(topics.topic(tenant.router.router_id, leaf), b"", retain=True)


async def keys_of(db: asyncpg.Pool, tenant: Tenant) -> asyncpg.Record:
    return await db.fetchrow(
        "SELECT faskey, faskey_next, faskey_next_version FROM routers WHERE merchant_id = $1",
        tenant.merchant_id,
    )


async def test_a_rotated_faskey_becomes_the_routers_once_it_is_applied(
    level_2: SimulatedRouter,
    sender: CommandSender,
    listener: FleetListener,
    tenant: Tenant,
    db: asyncpg.Pool,
    settings: Settings,
) -> None:
    from portal import stores as portal_stores
    from portal.fas import BadRedirect

    old = tenant.router.faskey
    await fleet_config.set_desired(db, sender, tenant.router.ref, CONFIG)
    await drift(db, tenant, lambda r: r["applied_version"] == 1)
    before = await carried(level_2, "0a:00:00:00:07:01")

    rotated = await fleet_config.rotate_faskey(db, sender, tenant.router.ref, settle=0)
    async with asyncio.timeout(10):
        while (await keys_of(db, tenant))["faskey_next"] is not None:
            await asyncio.sleep(0.05)

    keys = await keys_of(db, tenant)
    assert rotated.version == 2 and keys["faskey"] != old
    assert keys["faskey"] == level_2.nds.faskey  # openNDS on the router has the same key
    body = await db.fetchval(
        "SELECT desired_body FROM router_configs WHERE merchant_id = $1", tenant.merchant_id
    )
    assert body["faskey"] == keys["faskey"] and body["walled_garden"] == [
        {"host": "cdn.example.com", "port": 443}
    ]  # the rest of the configuration is unchanged
    after = await carried(level_2, "0a:00:00:00:07:02")
    portal_stores._gateways.clear()
    visit = await portal_stores.open_visit(db, settings.secret_key, tenant.router.router_id, after)
    assert visit.client.client_mac == "0a:00:00:00:07:02"
    with pytest.raises(BadRedirect):  # the old key is retired
        await portal_stores.open_visit(db, settings.secret_key, tenant.router.router_id, before)


async def test_while_a_new_key_is_on_its_way_the_portal_takes_both(
    level_2: SimulatedRouter, tenant: Tenant, db: asyncpg.Pool, settings: Settings
) -> None:
    from portal import stores as portal_stores
    from portal.fas import BadRedirect

    old_redirect = await carried(level_2, "0a:00:00:00:08:01")
    new_key, stranger = "ab" * 32, "cd" * 32
    await db.execute(
        "UPDATE routers SET faskey_next = $2, faskey_next_version = 7 WHERE merchant_id = $1",
        tenant.merchant_id,
        new_key,
    )
    level_2.nds.faskey = new_key  # the router has switched; the portal has not heard yet
    new_redirect = await carried(level_2, "0a:00:00:00:08:02")
    level_2.nds.faskey = stranger
    foreign_redirect = await carried(level_2, "0a:00:00:00:08:03")
    portal_stores._gateways.clear()

    for redirect, mac in ((old_redirect, "08:01"), (new_redirect, "08:02")):
        visit = await portal_stores.open_visit(
            db, settings.secret_key, tenant.router.router_id, redirect
        )
        assert visit.client.client_mac == f"0a:00:00:00:{mac}"
    with pytest.raises(BadRedirect):
        await portal_stores.open_visit(
            db, settings.secret_key, tenant.router.router_id, foreign_redirect
        )


async def test_a_pending_key_rides_along_and_rotations_do_not_overlap(
    sender: CommandSender, tenant: Tenant, db: asyncpg.Pool, settings: Settings
) -> None:
    with pytest.raises(fleet_config.NoDesiredConfig):
        await fleet_config.rotate_faskey(db, sender, tenant.router.ref, settle=0)
    await fleet_config.set_desired(db, sender, tenant.router.ref, CONFIG)
    await fleet_config.rotate_faskey(db, sender, tenant.router.ref, settle=0)
    pending = (await keys_of(db, tenant))["faskey_next"]
    with pytest.raises(fleet_config.RotationPending):
        await fleet_config.rotate_faskey(db, sender, tenant.router.ref, settle=0)

    later = DesiredConfig(walled_garden=(("cdn.example.com", 443),), minutes=30)
    third = await fleet_config.set_desired(db, sender, tenant.router.ref, later)

    body = await db.fetchval(
        "SELECT desired_body FROM router_configs WHERE merchant_id = $1", tenant.merchant_id
    )
    assert third.version == 3 and body["faskey"] == pending and body["session"]["minutes"] == 30
    assert (await keys_of(db, tenant))["faskey_next_version"] == 2  # the first carrying it
    async with device_client(settings, tenant.router.router_id) as client:  # no retained leftover
        await client.publish(topics.topic(tenant.router.router_id, "desired"), b"", retain=True)
