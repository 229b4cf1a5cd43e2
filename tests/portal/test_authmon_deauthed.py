"""openNDS's `deauthed` report at level 3 (portal/authmon.py record_deauth): a grant whose
authmon ack was lost is recorded at the session's end; a recorded session is ended."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import aiohttp
import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from portal import authmon, retention
from simulators.authmon import AuthmonModel
from simulators.opennds import SimClient, deauth_log
from tests.factories import Tenant
from tests.portal.test_authmon import gateway_of, level_3_tenant, poll_form


@pytest.fixture
async def tenant(db: asyncpg.Pool) -> Tenant:
    return await level_3_tenant(db)


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def log_in(
    portal_client: TestClient, tenant: Tenant, mac: str
) -> tuple[AuthmonModel, SimClient]:
    """A shopper logs in at a level-3 router without its agent: a grant waits for authmon."""
    portal = str(portal_client.make_url("")).rstrip("/")
    gw = gateway_of(tenant, portal)
    phone = gw.nds.add_client(mac, "10.0.0.41")
    carried = gw.splash_redirect(phone, "http://example.com/").split("?fas=", 1)[1]
    login = await portal_client.post(
        f"/fas/{tenant.router.router_id}/login",
        data={"fas": carried, "accept": "1", "lang": "en"},
        allow_redirects=False,
    )
    assert login.status == 303
    return AuthmonModel(gw.nds, url=gw.fas_url, gateway_hash=gw.gateway_hash), phone


async def events(db: asyncpg.Pool, tenant: Tenant) -> list[tuple[str, float]]:
    rows = await db.fetch(
        "SELECT kind, extract(epoch FROM occurred_at) AS at FROM events"
        " WHERE merchant_id = $1 ORDER BY occurred_at, kind",
        tenant.merchant_id,
    )
    return [(r["kind"], float(r["at"])) for r in rows]


async def test_a_grant_whose_ack_was_lost_is_recorded_when_openNDS_reports_its_end(
    portal_client: TestClient, http: aiohttp.ClientSession, tenant: Tenant, db: asyncpg.Pool
) -> None:
    model, phone = await log_in(portal_client, tenant, "aa:bb:cc:00:04:01")
    # authmon takes the grant and ndsctl grants it, but the ack never reaches the portal.
    entries = await model.request(http, "view", "none")
    rhid = entries.split()[1].split("%20")[0]
    assert model.nds.ndsctl_auth(rhid, 30, 0, 0, 0, 0, "x").exit_code == 0
    assert phone.state == "Authenticated"
    await db.execute(
        "UPDATE authmon_grants SET expires_at = now() - interval '20 minutes',"
        " created_at = now() - interval '22 minutes' WHERE merchant_id = $1",
        tenant.merchant_id,
    )
    phone.session_start = int(time.time()) - 21 * 60  # granted while the grant was offered
    assert not await db.fetchval(
        "SELECT count(*) FROM portal_sessions WHERE merchant_id = $1", tenant.merchant_id
    )
    # The retention job keeps the grant (its 30-minute session may still run, its deauthed
    # come) but drops its MAC.
    await retention.scrub_expired(db)
    kept = await db.fetchrow(
        "SELECT client_mac FROM authmon_grants WHERE merchant_id = $1", tenant.merchant_id
    )
    assert kept is not None and kept["client_mac"] is None

    assert model.nds.ndsctl_deauth(phone.mac).exit_code == 0  # the session ends on the router
    assert await model.send_deauthed(http) == 1
    assert model.log[-1][2] == "ack"

    session = await db.fetchrow(
        "SELECT status, client_mac, command_id, extract(epoch FROM started_at) AS started,"
        " extract(epoch FROM expires_at) AS ended FROM portal_sessions WHERE merchant_id = $1",
        tenant.merchant_id,
    )
    assert session["status"] == "ended" and session["client_mac"] is None
    assert session["command_id"] == f"authmon-{rhid[:16]}"
    assert int(session["started"]) == phone.session_start
    assert session["ended"] >= session["started"]
    assert [kind for kind, _ in await events(db, tenant)] == ["login", "logout"]
    login_at = (await events(db, tenant))[0][1]
    assert int(login_at) == phone.session_start  # counted at its real time
    assert not await db.fetchval(
        "SELECT count(*) FROM authmon_grants WHERE merchant_id = $1", tenant.merchant_id
    )

    # The same report again (a resend) records nothing twice.
    model.nds.deauthed.append(model.log[-1][1])
    await model.send_deauthed(http)
    assert [kind for kind, _ in await events(db, tenant)] == ["login", "logout"]


async def test_an_acked_session_ends_when_openNDS_reports_its_deauth(
    portal_client: TestClient, http: aiohttp.ClientSession, tenant: Tenant, db: asyncpg.Pool
) -> None:
    model, phone = await log_in(portal_client, tenant, "aa:bb:cc:00:04:02")
    assert len(await model.poll_once(http)) == 1  # granted and acked: the session is recorded
    status = "SELECT status, client_mac FROM portal_sessions WHERE merchant_id = $1"
    assert (await db.fetchrow(status, tenant.merchant_id))["status"] == "active"

    assert model.nds.ndsctl_deauth(phone.mac).exit_code == 0
    await model.send_deauthed(http)

    row = await db.fetchrow(status, tenant.merchant_id)
    assert row["status"] == "ended" and row["client_mac"] is None
    assert [kind for kind, _ in await events(db, tenant)] == ["login", "logout"]


async def test_a_deauth_of_a_client_that_is_not_ours_changes_nothing(
    portal_client: TestClient, http: aiohttp.ClientSession, tenant: Tenant, db: asyncpg.Pool
) -> None:
    model, _phone = await log_in(portal_client, tenant, "aa:bb:cc:00:04:03")
    await model.request(http, "view", "none")  # offered, not acked
    stranger = SimClient(mac="aa:bb:cc:00:04:99", ip="10.0.0.99", token="0badc0de")
    stranger.session_start = int(time.time()) - 60
    answer = await model.request(
        http, "deauthed", deauth_log(stranger, "idle_deauth", int(time.time()))
    )
    assert answer == "ack"
    assert (
        await db.fetchval(
            "SELECT count(*) FROM authmon_grants WHERE merchant_id = $1", tenant.merchant_id
        )
        == 1
    )
    assert not await db.fetchval(
        "SELECT count(*) FROM portal_sessions WHERE merchant_id = $1", tenant.merchant_id
    )


async def test_a_deauth_whose_start_is_outside_the_grants_offer_is_refused(
    portal_client: TestClient, http: aiohttp.ClientSession, tenant: Tenant, db: asyncpg.Pool
) -> None:
    model, phone = await log_in(portal_client, tenant, "aa:bb:cc:00:04:04")
    await model.request(http, "view", "none")
    phone.session_start = int(time.time()) - 86_400  # a day before the shopper logged in
    form = poll_form(
        "deauthed", model.gateway_hash, deauth_log(phone, "timeout_deauth", int(time.time()))
    )
    answer = await portal_client.post(f"/fas/{tenant.router.router_id}/", data=form)
    assert answer.status == 400 and (await answer.text()).startswith("ERROR")
    # nothing was taken: the grant is still there, no session was made up
    assert (
        await db.fetchval(
            "SELECT count(*) FROM authmon_grants WHERE merchant_id = $1", tenant.merchant_id
        )
        == 1
    )
    assert not await db.fetchval(
        "SELECT count(*) FROM portal_sessions WHERE merchant_id = $1", tenant.merchant_id
    )


@pytest.mark.parametrize(
    "payload",
    [
        "none",
        "method=ndsctl_deauth, clientmac=aa:bb:cc:dd:ee:ff, session_start=1, session_end=2",
        "method=ndsctl_deauth, token=XYZ12345, session_start=1, session_end=2",
        "method=rm -rf, token=0badc0de, session_start=1, session_end=2",
        "method=ndsctl_deauth, token=0badc0de, session_start=-1, session_end=2",
        "method=ndsctl_deauth, token=0badc0de, session_start=9, session_end=2",
        "method=ndsctl_deauth, token=0badc0de, session_start=99999999999, session_end=99999999999",
    ],
)
def test_hostile_deauthed_payloads_are_refused(payload: str) -> None:
    with pytest.raises(authmon.AuthmonRefused):
        authmon.parse_deauthed(payload)


def test_the_deauth_log_is_read_with_or_without_its_double_quotes() -> None:
    """binauth_log.sh writes `method="…"`; send_post_data's eval drops the quotes (the real
    openNDS 11 sent the second form, docs/real-gateway-tests.md)."""
    quoted = (
        'method="timeout_deauth", clientmac="aa:bb:cc:dd:ee:ff", timestamp=1764000100, '
        "bytes_incoming=10, bytes_outgoing=20, session_start=1764000000, "
        'session_end=1764000100, token=1a2b3c4d, custom="bm9uZQ%3d%3d"'
    )
    for payload in (quoted, quoted.replace('"', "")):
        assert authmon.parse_deauthed(payload) == authmon.Deauth(
            "timeout_deauth", "1a2b3c4d", 1_764_000_000, 1_764_000_100
        )


async def test_grants_authmon_took_are_purged_once_their_session_must_have_ended(
    portal_client: TestClient, http: aiohttp.ClientSession, tenant: Tenant, db: asyncpg.Pool
) -> None:
    model, _phone = await log_in(portal_client, tenant, "aa:bb:cc:00:04:05")
    await log_in(portal_client, tenant, "aa:bb:cc:00:04:06")
    await model.request(http, "view", "none")  # both offered
    await log_in(portal_client, tenant, "aa:bb:cc:00:04:07")  # never offered
    # all three expired 45 minutes ago; their sessions (30 minutes) must have ended by now
    await db.execute(
        "UPDATE authmon_grants SET expires_at = now() - interval '45 minutes'"
        " WHERE merchant_id = $1",
        tenant.merchant_id,
    )
    done = await retention.scrub_expired(db)
    assert done.authmon_grants >= 3
    assert not await db.fetchval(
        "SELECT count(*) FROM authmon_grants WHERE merchant_id = $1", tenant.merchant_id
    )


def test_a_deauthed_payload_recorded_from_a_real_openNDS_is_read() -> None:
    recorded = (  # make test-gateways, level 3, after `ndsctl deauth` (base64-decoded)
        "method=ndsctl_deauth, clientmac=02:50:00:00:00:01, timestamp=1796044070, "
        "bytes_incoming=11988, bytes_outgoing=4076, session_start=1796044008, "
        "session_end=1796044069, token=547d172c, custom=2ef9c2c41cf3470d"
    )
    assert authmon.parse_deauthed(recorded) == authmon.Deauth(
        "ndsctl_deauth", "547d172c", 1_796_044_008, 1_796_044_069
    )
    phone = SimClient(mac="02:50:00:00:00:01", ip="192.168.77.11", token="547d172c")
    phone.session_start, phone.custom = 1_796_044_008, "2ef9c2c41cf3470d"
    modelled = deauth_log(phone, "ndsctl_deauth", 1_796_044_069)
    # the model's line has the real one's fields in the real order (counters aside)
    assert [f.split("=")[0] for f in modelled.split(", ")] == [
        f.split("=")[0] for f in recorded.split(", ")
    ]
    assert authmon.parse_deauthed(modelled) == authmon.Deauth(
        "ndsctl_deauth", "547d172c", 1_796_044_008, 1_796_044_069
    )
