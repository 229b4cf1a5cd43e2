"""Raw MACs of sessions that ran out are scrubbed ten minutes on (portal/retention.py)."""

from __future__ import annotations

import uuid

import asyncpg

from portal import retention
from tests.factories import Tenant, make_tenant

MAC = "0a:11:22:33:44:57"


async def session(db: asyncpg.Pool, tenant: Tenant, ended_s_ago: int) -> uuid.UUID:
    sid = uuid.uuid4()
    await db.execute(
        "INSERT INTO portal_sessions (merchant_id, session_id, store_id, router_id, device_hash,"
        " client_mac, client_ip, method, terms_version, command_id, expires_at)"
        " VALUES ($1, $2, $3, $4, 'd', $5, '10.0.0.5', 'click', 'v1', 'c',"
        " now() - make_interval(secs => $6))",
        tenant.merchant_id,
        sid,
        tenant.store_id,
        tenant.router.router_id,
        MAC,
        ended_s_ago,
    )
    return sid


async def test_sessions_that_ran_out_lose_their_mac_live_ones_keep_it(db: asyncpg.Pool) -> None:
    tenant = await make_tenant(db, with_ad=False)
    old = await session(db, tenant, 3600)
    recent = await session(db, tenant, 60)  # a restore may still need it
    live = await session(db, tenant, -3600)
    await db.execute(
        "INSERT INTO wifidog_tokens (merchant_id, token, router_id, client_mac, client_ip,"
        " terms_version, expires_at, used_at, session_id)"
        " VALUES ($1, $2, $3, $4, '10.0.0.5', 'v1', now(), now(), $5)",
        tenant.merchant_id,
        "t" * 32,
        tenant.router.router_id,
        MAC,
        old,
    )

    done = await retention.scrub_expired(db)

    assert done.sessions >= 1 and done.tokens >= 1
    macs = dict(
        await db.fetch(
            "SELECT session_id, client_mac FROM portal_sessions WHERE merchant_id = $1",
            tenant.merchant_id,
        )
    )
    assert macs == {old: None, recent: MAC, live: MAC}
    token_mac = await db.fetchval(
        "SELECT client_mac FROM wifidog_tokens WHERE merchant_id = $1", tenant.merchant_id
    )
    assert token_mac is None
