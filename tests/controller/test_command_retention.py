"""Raw MACs leave router commands ten minutes on (controller/retention.py); the audit stays."""

from __future__ import annotations

import asyncpg

from controller import retention
from tests.factories import Tenant


async def command(db: asyncpg.Pool, tenant: Tenant, cid: str, age_s: int, args: dict) -> None:
    await db.execute(
        "INSERT INTO router_commands (merchant_id, command_id, router_id, op, args, expires_at,"
        " created_at, status, sent_by) VALUES ($1, $2, $3, 'auth', $4,"
        " now() - make_interval(secs => $5) + interval '30 s',"
        " now() - make_interval(secs => $5), 'done', 'portal')",
        tenant.merchant_id,
        cid,
        tenant.router.router_id,
        args,
        age_s,
    )


async def test_old_commands_lose_their_mac_and_hid_and_keep_the_rest(
    db: asyncpg.Pool, tenant: Tenant
) -> None:
    grant = {"mac": "0a:11:22:33:44:55", "hid": "f" * 64, "minutes": 60, "custom": "s1"}
    await command(db, tenant, "old-grant-1", 3600, grant)
    await command(db, tenant, "old-deauth-1", 900, {"mac": "0a:11:22:33:44:56"})
    await command(db, tenant, "new-grant-1", 60, grant)  # may still be undone: kept

    assert await retention.scrub_command_macs(db) >= 2

    rows = dict(
        await db.fetch(
            "SELECT command_id, args FROM router_commands WHERE merchant_id = $1",
            tenant.merchant_id,
        )
    )
    assert rows["old-grant-1"] == {"minutes": 60, "custom": "s1"}
    assert rows["old-deauth-1"] == {}
    assert rows["new-grant-1"] == grant
    status = await db.fetchval(
        "SELECT status || '/' || sent_by FROM router_commands"
        " WHERE merchant_id = $1 AND command_id = 'old-grant-1'",
        tenant.merchant_id,
    )
    assert status == "done/portal"  # what was done, and by whom, stays on record
    # Nothing left to do: a scrubbed command is not matched again. (Asked of commands over
    # 50 minutes old, which only this test made: with the 10 minutes, another test's commands
    # turning ten minutes old between the two runs were counted, on a long run.)
    assert await retention.scrub_command_macs(db, keep=3000) == 0
