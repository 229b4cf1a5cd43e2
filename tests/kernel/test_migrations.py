"""Applying every migration to an empty database gives exactly the expected schema.

After a new migration, regenerate the reference with `PORTICO_UPDATE_SCHEMA=1 pytest
tests/kernel/test_migrations.py` and review the diff of expected_schema.txt.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from kernel.db import list_migrations, migrate

EXPECTED = Path(__file__).with_name("expected_schema.txt")
# Global look-up tables (Citus reference tables); every other table is keyed by merchant.
GLOBAL_TABLES = {
    "claim_attempts",
    "console_sessions",
    "email_outbox",  # the development email outbox: sign-up mail comes before any merchant
    "login_attempts",
    "merchants",
    "password_reset_attempts",  # per address and client, for the reset's limits
    "password_resets",  # a user's password is no merchant's
    "platform_operators",  # operators run the platform, above every merchant
    "plans",  # every merchant's plan is one of them (0042)
    "pos_key_directory",  # looked up by API key hash, before the merchant is known
    "router_claims",  # looked up by install code, before the merchant is known
    "router_directory",
    "schema_migrations",
    "signup_attempts",  # per client address, before any merchant exists
    "signup_requests",  # a merchant is created only when its sign-up's link is opened
    "user_accounts",
}
# The advertisers' side of ads (docs/ads-model.md): the other tenant kind, keyed by advertiser.
ADVERTISER_TABLES = {
    "ad_campaigns",
    "ad_creatives",
    "ad_delivery",
    "ad_frequency_caps",
    "ad_line_item_totals",
    "ad_line_items",
    "advertiser_members",
    "advertisers",
    "creative_files",
}

SCHEMA_QUERY = """
SELECT 'column ' || c.table_name || '.' || c.column_name || ' ' || c.data_type
       || CASE WHEN c.is_nullable = 'NO' THEN ' not null' ELSE '' END
       || coalesce(' default ' || c.column_default, '') AS line
FROM information_schema.columns c WHERE c.table_schema = 'public'
UNION ALL
SELECT 'constraint ' || conrelid::regclass || ' ' || pg_get_constraintdef(oid)
FROM pg_constraint WHERE connamespace = 'public'::regnamespace
    AND contype <> 'n'  -- PostgreSQL 18 lists NOT NULL here too; the column lines show it
UNION ALL
SELECT 'index ' || indexdef FROM pg_indexes WHERE schemaname = 'public'
UNION ALL
SELECT 'unlogged ' || relname FROM pg_class  -- emptied by a crash: worth a line in the diff
WHERE relnamespace = 'public'::regnamespace AND relkind = 'r' AND relpersistence = 'u'
ORDER BY 1
"""


async def schema_of(url: str) -> str:
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch(SCHEMA_QUERY)
    finally:
        await conn.close()
    return "\n".join(r["line"] for r in rows) + "\n"


@pytest.fixture
async def empty_database(server_url: str):
    name = f"portico_schema_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(server_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(urlsplit(server_url)._replace(path="/" + name))
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def test_all_migrations_give_the_expected_schema(empty_database: str) -> None:
    applied = await migrate(empty_database)
    assert applied == [m.version for m in list_migrations()]
    schema = await schema_of(empty_database)
    if os.environ.get("PORTICO_UPDATE_SCHEMA"):
        EXPECTED.write_text(schema)
    assert schema == EXPECTED.read_text()
    assert await migrate(empty_database) == []  # a second run changes nothing


async def test_concurrent_migrations_do_not_race(empty_database: str) -> None:
    results = await asyncio.gather(*(migrate(empty_database) for _ in range(3)))
    assert sorted(len(r) for r in results) == [0, 0, len(list_migrations())]


async def test_every_tenant_table_has_its_tenant_id_first_in_its_primary_key(
    database_url: str,
) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            """SELECT c.relname AS table, a.attname AS first_key
               FROM pg_constraint k
               JOIN pg_class c ON c.oid = k.conrelid
               JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = k.conkey[1]
               WHERE k.contype = 'p' AND k.connamespace = 'public'::regnamespace"""
        )
        tables = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    finally:
        await conn.close()
    keyed = {r["table"]: r["first_key"] for r in rows}
    assert {t["tablename"] for t in tables} <= set(keyed), "every table has a primary key"

    def tenant_key(table: str) -> str | None:
        if table in GLOBAL_TABLES:
            return None
        return "advertiser_id" if table in ADVERTISER_TABLES else "merchant_id"

    wrong = {t: k for t, k in keyed.items() if tenant_key(t) not in (None, k)}
    assert wrong == {}


def test_migration_files_are_numbered_without_gaps(tmp_path: Path) -> None:
    (tmp_path / "0001_a.sql").write_text("SELECT 1")
    (tmp_path / "0003_b.sql").write_text("SELECT 1")
    with pytest.raises(ValueError, match="without gaps"):
        list_migrations(tmp_path)
    (tmp_path / "0003_b.sql").rename(tmp_path / "bad-name.sql")
    with pytest.raises(ValueError, match="NNNN_name"):
        list_migrations(tmp_path)


async def test_0029_moves_old_campaigns_to_an_advertiser_of_the_merchant(
    empty_database: str, tmp_path: Path
) -> None:
    """Migration 0029 keeps the per-merchant campaigns of 0001 as the merchant's own advertiser's
    (docs/ads-model.md): ids, flights, tiers, texts and coupons survive; unchecked images do not."""
    for m in list_migrations():
        if m.version < 29:
            (tmp_path / m.path.name).write_text(m.path.read_text())
    await migrate(empty_database, tmp_path)
    merchant, store, staff = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    approved, draft, creative, coupon = uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    conn = await asyncpg.connect(empty_database)
    try:
        await conn.execute(
            "INSERT INTO merchants (merchant_id, name) VALUES ($1, 'Cafe')", merchant
        )
        await conn.execute(
            "INSERT INTO stores (merchant_id, store_id, name) VALUES ($1, $2, 'Main')",
            merchant,
            store,
        )
        await conn.execute(
            "INSERT INTO user_accounts (user_id, email, display_name, password_hash)"
            " VALUES ($1, 's@x', 'S', 'x')",
            staff,
        )
        await conn.execute("INSERT INTO memberships VALUES ($1, $2, 'staff')", merchant, staff)
        for campaign, label, ok, tier in (
            (approved, "Cafe", True, "house"),
            (draft, "Tea Co", False, "guaranteed"),
        ):
            await conn.execute(
                "INSERT INTO campaigns (merchant_id, campaign_id, advertiser, name, tier,"
                " approved, starts_at, ends_at) VALUES ($1, $2, $3, 'Spring', $4, $5,"
                " '2026-01-01', '2027-01-01')",
                merchant,
                campaign,
                label,
                tier,
                ok,
            )
        await conn.execute(
            "INSERT INTO creatives (merchant_id, creative_id, campaign_id, headline_en,"
            " headline_zh, image_type, image) VALUES ($1, $2, $3, 'Hi', '你好',"
            " 'image/svg+xml', '<svg/>')",
            merchant,
            creative,
            approved,
        )
        await conn.execute(
            "INSERT INTO coupons (merchant_id, coupon_id, campaign_id, title_en, title_zh,"
            " valid_until) VALUES ($1, $2, $3, 'Tea', '茶', '2027-01-01')",
            merchant,
            coupon,
            approved,
        )
    finally:
        await conn.close()

    assert await migrate(empty_database) == [m.version for m in list_migrations()][28:]
    conn = await asyncpg.connect(empty_database)
    try:
        advertiser = await conn.fetchrow("SELECT * FROM advertisers")
        assert (advertiser["name"], advertiser["merchant_id"]) == ("Cafe", merchant)
        campaigns = {
            r["campaign_id"]: (r["name"], r["status"])
            for r in await conn.fetch("SELECT * FROM ad_campaigns")
        }
        assert campaigns == {approved: ("Spring", "active"), draft: ("Tea Co: Spring", "draft")}
        tiers = {
            r["campaign_id"]: (r["tier"], r["target_merchants"])
            for r in await conn.fetch("SELECT * FROM ad_line_items")
        }
        assert tiers == {approved: ("house", [merchant]), draft: ("guaranteed", [merchant])}
        approvals = await conn.fetch("SELECT campaign_id, status FROM ad_approvals")
        assert {(r["campaign_id"], r["status"]) for r in approvals} == {
            (approved, "approved"),
            (draft, "approved"),
        }
        moved = await conn.fetchrow("SELECT * FROM ad_creatives")
        assert (moved["creative_id"], moved["headline_zh"], moved["status"]) == (
            creative,
            "你好",
            "paused",
        )
        assert moved["file_id"] is None
        kept = await conn.fetchrow("SELECT * FROM coupons")
        assert (kept["campaign_id"], kept["advertiser_id"]) == (
            approved,
            advertiser["advertiser_id"],
        )
        assert await conn.fetchval("SELECT count(*) FROM membership_stores") == 1
    finally:
        await conn.close()
