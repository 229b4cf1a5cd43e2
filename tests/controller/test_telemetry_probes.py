"""Footfall from telemetry (controller.telemetry → analytics.ingest): the `probes` and `dhcp`
types, station and usage events as presence; every field checked, hostile payloads refused;
no raw MAC stored anywhere."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from zoneinfo import ZoneInfo

import asyncpg
import pytest

from analytics.ingest import FootfallIngest
from controller import topics
from controller.listener import FleetListener
from controller.telemetry import TelemetryIngest, parse_event
from kernel.config import Settings
from kernel.mqtt import Refused, make_client
from kernel.privacy import device_hash, probe_hash
from tests.analytics.raw_macs import tables_holding
from tests.clock import clear_of_midnight
from tests.factories import Tenant

SECRET = "test-secret-" + "x" * 40


def fresh_mac(first: str) -> str:
    return ":".join([first, *(f"{b:02x}" for b in uuid.uuid4().bytes[:5])])


def event(seq: int, kind: str, ts: int | None = None, **fields: object) -> bytes:
    base = {"id": f"f00d-{seq}", "type": kind, "ts": ts or int(time.time()) - 60}
    return topics.encode({**base, **fields})


@contextlib.asynccontextmanager
async def controller(
    url: str, db: asyncpg.Pool, footfall: FootfallIngest | None = None
) -> AsyncIterator[tuple[FleetListener, TelemetryIngest]]:
    ingest = TelemetryIngest(db, SECRET, footfall=footfall)
    client_id = f"test-ctrl-{uuid.uuid4().hex[:8]}"
    fleet = FleetListener(
        url,
        db,
        shared_group=f"t{uuid.uuid4().hex[:8]}",
        client_id=client_id,
        routes={"tele": ingest.handle},
    )
    task = asyncio.create_task(fleet.run())
    try:
        await asyncio.wait_for(fleet.connected.wait(), 10)
        yield fleet, ingest
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        async with make_client(url, "forget", identifier=client_id, clean_session=True):
            pass


async def until(check, timeout: float = 10) -> None:  # type: ignore[no-untyped-def]
    async with asyncio.timeout(timeout):
        while not await check():
            await asyncio.sleep(0.05)


async def observations(db: asyncpg.Pool, tenant: Tenant) -> list[asyncpg.Record]:
    return await db.fetch(
        "SELECT * FROM footfall_observations WHERE merchant_id = $1 ORDER BY seen_at, source",
        tenant.merchant_id,
    )


async def test_probes_stations_and_dhcp_become_footfall_without_a_raw_mac(
    settings: Settings, db: asyncpg.Pool, tenant: Tenant
) -> None:
    rid = tenant.router.router_id
    # the probes at ts and ts + 3 on one store-local day (their hashes are salted per day)
    ts = int(clear_of_midnight(time.time() - 3600 + 3, 3, "Asia/Shanghai")) - 3
    prober, laptop, phone, pc = (fresh_mac(x) for x in ("da", "00", "d2", "3c"))
    probes = event(
        1,
        "probes",
        ts,
        obs=[
            [prober, 0, -62, 1000, "0badcafe"],
            [laptop, 3, -70, 17, "12345678"],
            ["01:00:5e:00:00:fb", 4, -40, 1, "00000001"],  # multicast: dropped
            [fresh_mac("d6"), 5, -90, 2, "00000002"],  # too weak: dropped
        ],
    )
    join = event(2, "station", ts + 10, event="join", mac=phone, rssi=-58, **{"if": "wlan0"})
    leave = event(3, "station", ts + 910, event="leave", mac=phone, rssi=-66, **{"if": "wlan0"})
    usage = event(4, "usage", ts + 20, mac=pc, state="Authenticated", down_kb=1, up_kb=1)
    dhcp = event(5, "dhcp", ts + 30, mac=phone, opt55="1,121,3,6,15,108,114,119,252")
    async with (
        controller(settings.mqtt_url, db) as (_fleet, ingest),
        make_client(settings.mqtt_url, "router") as device,
    ):
        tele = topics.topic(rid, "tele")
        await device.publish(tele, b"[" + b",".join([probes, join]) + b"]", qos=1)
        await until(lambda: _count(db, tenant, 3))  # the join is in before its leave
        await device.publish(tele, leave, qos=1)
        await device.publish(tele, b"[" + b",".join([usage, dhcp, leave]) + b"]", qos=1)
        await until(lambda: _count(db, tenant, 7 + 1))
        await asyncio.sleep(0.2)
    assert ingest.footfall_failed == 0
    m = str(tenant.merchant_id)
    day = datetime.fromtimestamp(ts, tenant_tz()).date()
    got = [
        (r["seen_at"].timestamp() - ts, r["device_hash"], r["source"], r["rssi"])
        for r in await observations(db, tenant)
    ]
    p = probe_hash
    assert sorted(got) == sorted(
        [
            (0, p(SECRET, m, str(tenant.store_id), day, prober), "probe", -62),
            (3, p(SECRET, m, str(tenant.store_id), day, laptop), "probe", -70),
            (20, device_hash(SECRET, m, pc), "assoc", None),
            *[(10 + 300 * n, device_hash(SECRET, m, phone), "assoc", -58) for n in range(3)],
            (910, device_hash(SECRET, m, phone), "assoc", -66),
        ]
    )
    os_rows = await db.fetch(
        "SELECT device_hash, os_family FROM footfall_device_os WHERE merchant_id = $1",
        tenant.merchant_id,
    )
    assert [tuple(r) for r in os_rows] == [(device_hash(SECRET, m, phone), "ios")]
    kinds = await db.fetch(
        "SELECT type FROM router_telemetry WHERE merchant_id = $1 ORDER BY seq", tenant.merchant_id
    )
    assert [k["type"] for k in kinds] == ["station", "station", "usage"]  # probes, dhcp: not
    assert await tables_holding(db, [prober, laptop, phone, pc]) == {}


def tenant_tz() -> ZoneInfo:
    """make_tenant's stores are on the default time zone."""
    return ZoneInfo("Asia/Shanghai")


async def _count(db: asyncpg.Pool, tenant: Tenant, n: int) -> bool:
    rows = await db.fetchval(
        "SELECT (SELECT count(*) FROM footfall_observations WHERE merchant_id = $1)"
        " + (SELECT count(*) FROM footfall_device_os WHERE merchant_id = $1)",
        tenant.merchant_id,
    )
    return rows >= n


GOOD = ["da:00:00:00:00:01", 0, -60, 1, "0badcafe"]


@pytest.mark.parametrize(
    "fields",
    [
        {"type": "probes"},
        {"type": "probes", "obs": []},
        {"type": "probes", "obs": "da:00:00:00:00:01"},
        {"type": "probes", "obs": [GOOD] * 65},
        {"type": "probes", "obs": [GOOD[:4]]},
        {"type": "probes", "obs": [[*GOOD, 1]]},
        {"type": "probes", "obs": [GOOD, ["DA:00:00:00:00:01", 0, -60, 1, "0badcafe"]]},
        {"type": "probes", "obs": [["da-00-00-00-00-01", 0, -60, 1, "0badcafe"]]},
        {"type": "probes", "obs": [["da:00:00:00:00:01", 301, -60, 1, "0badcafe"]]},
        {"type": "probes", "obs": [["da:00:00:00:00:01", -1, -60, 1, "0badcafe"]]},
        {"type": "probes", "obs": [["da:00:00:00:00:01", 1.5, -60, 1, "0badcafe"]]},
        {"type": "probes", "obs": [["da:00:00:00:00:01", 0, 5, 1, "0badcafe"]]},
        {"type": "probes", "obs": [["da:00:00:00:00:01", 0, True, 1, "0badcafe"]]},
        {"type": "probes", "obs": [["da:00:00:00:00:01", 0, None, 1, "0badcafe"]]},
        {"type": "probes", "obs": [["da:00:00:00:00:01", 0, -60, 4096, "0badcafe"]]},
        {"type": "probes", "obs": [["da:00:00:00:00:01", 0, -60, 1, "0BADCAFE"]]},
        {"type": "probes", "obs": [["da:00:00:00:00:01", 0, -60, 1, 195939070]]},
        {"type": "probes", "obs": [["da:00:00:00:00:01", 0, -60, 1, "0badcafe0"]]},
        {"type": "probes", "obs": [{"mac": "da:00:00:00:00:01"}]},
        {"type": "dhcp", "mac": "da:00:00:00:00:01"},
        {"type": "dhcp", "mac": "da:00:00:00:00:01", "opt55": ""},
        {"type": "dhcp", "mac": "da:00:00:00:00:01", "opt55": "1,3,x"},
        {"type": "dhcp", "mac": "da:00:00:00:00:01", "opt55": "1,3,256"},
        {"type": "dhcp", "mac": "da:00:00:00:00:01", "opt55": [1, 3, 6]},
        {"type": "dhcp", "mac": "da:00:00:00:00:01", "opt55": ",".join(["1"] * 65)},
        {"type": "dhcp", "opt55": "1,3,6"},
    ],
)
def test_hostile_probes_and_dhcp_events_are_refused(tenant: Tenant, fields: dict) -> None:
    data = {"v": 1, "id": "f00d-1", "ts": int(time.time()), **fields}
    with pytest.raises(Refused) as refused:
        parse_event(tenant.router, data, SECRET)
    assert refused.value.reason == "bad_field"


def test_a_full_probes_event_fits_the_contracts_4_kib() -> None:
    obs = [["da:ff:ff:ff:ff:ff", 300, -127, 4095, "ffffffff"]] * 64
    payload = event(18_446_744_073, "probes", obs=obs)
    assert len(payload) <= topics.MAX_PAYLOAD
    assert topics.decode(payload)["obs"] == obs


async def test_a_bad_probes_event_in_a_batch_spoils_no_other(
    settings: Settings, db: asyncpg.Pool, tenant: Tenant
) -> None:
    rid = tenant.router.router_id
    good = fresh_mac("da")
    bad = event(1, "probes", obs=[[good, 0, -60, 1, "0badcafe"], ["x", 0, -60, 1, "0"]])
    fine = event(2, "probes", obs=[[good, 0, -60, 1, "0badcafe"]])
    async with (
        controller(settings.mqtt_url, db) as (_fleet, ingest),
        make_client(settings.mqtt_url, "router") as device,
    ):
        await device.publish(topics.topic(rid, "tele"), b"[" + bad + b"," + fine + b"]", qos=1)
        await until(lambda: _count(db, tenant, 1))
    assert ingest.refused_events == {"bad_field": 1}
    assert len(await observations(db, tenant)) == 1
    assert json.dumps(ingest.footfall.counts).count(good) == 0
    assert await tables_holding(db, [good]) == {}


async def test_a_footfall_failure_loses_footfall_only(
    settings: Settings, db: asyncpg.Pool, tenant: Tenant
) -> None:
    async def broken_rollups(conn: asyncpg.Connection, *_range: object) -> None:
        await conn.execute("SELECT 1 / 0")  # a real database error inside the savepoint

    footfall = FootfallIngest(SECRET, on_recorded=broken_rollups)
    join = event(1, "station", event="join", mac=fresh_mac("da"), rssi=-50, **{"if": "wlan0"})

    async def stored() -> bool:
        rows = await db.fetchval(
            "SELECT count(*) FROM router_telemetry WHERE merchant_id = $1", tenant.merchant_id
        )
        return rows == 1

    async with (
        controller(settings.mqtt_url, db, footfall) as (_fleet, ingest),
        make_client(settings.mqtt_url, "router") as device,
    ):
        await device.publish(topics.topic(tenant.router.router_id, "tele"), join, qos=1)
        await until(stored)
    assert ingest.footfall_failed == 1
    assert await observations(db, tenant) == []
