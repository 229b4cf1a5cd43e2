"""No raw phone number reaches a table or a log line (PRODUCT.md §5): after SMS logins that
succeed and fail, every row of every table (bytea as hex) and every log record of the run is
searched for the number's digits, however they were typed."""

from __future__ import annotations

import logging
import re

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from simulators.router import SimulatedRouter
from tests.factories import Tenant
from tests.portal.test_sms_login import (
    hidden,
    new_client,
    outbox_code,
    send,
    sms_tenant,
    verify,
)

# The shopper's number; the search looks for its first ten digits (which also covers a number
# typed one digit short) in every form a table or a log could hold them.
NUMBER = "+8613987654321"
DIGITS = "1398765432"


@pytest.fixture
async def tenant(db: asyncpg.Pool) -> Tenant:
    return await sms_tenant(db)


def written_forms() -> list[str]:
    hex_ascii = DIGITS.encode().hex()  # a bytea holding the digits as text
    return [DIGITS, "139 8765 432", "139-8765-432", hex_ascii]


async def tables_holding(db: asyncpg.Pool, forms: list[str]) -> dict[str, int]:
    """{table: rows} of every table where a row, as text, holds one of `forms`."""
    patterns = [f"%{form}%" for form in forms]
    tables = await db.fetch(
        """SELECT format('%I.%I', n.nspname, c.relname) AS name FROM pg_class c
           JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
               AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')"""
    )
    assert len(tables) > 20  # the whole schema is searched, not an empty list
    found = {}
    for table in tables:
        rows = await db.fetchval(
            f"SELECT count(*) FROM {table['name']} t WHERE t::text ILIKE ANY($1)",  # noqa: S608
            patterns,
        )
        if rows:
            found[table["name"]] = rows
    return found


def log_lines_holding(records: list[logging.LogRecord]) -> list[str]:
    """Log records whose text (message, arguments, traceback) holds the digits once every
    separator is taken out."""
    leaks = []
    for record in records:
        text = " ".join([record.getMessage(), repr(record.args), record.exc_text or ""])
        if DIGITS in re.sub(r"\D", "", text) or DIGITS in text:
            leaks.append(text[:200])
    return leaks


async def test_no_raw_phone_number_reaches_a_table_or_a_log(
    portal_client: TestClient,
    router: SimulatedRouter,
    tenant: Tenant,
    db: asyncpg.Pool,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    rid = router.router_id
    client, fas = new_client(router, "aa:bb:cc:20:00:01", "10.0.2.1")
    # A number one digit short, refused.
    assert (await send(portal_client, rid, fas, "139 8765 432")).status == 400
    # The number, typed with spaces: a code; a wrong code; the right one.
    page = await send(portal_client, rid, fas, "139 8765 4321")
    assert page.status == 200
    ref = hidden(await page.text(), "ref")
    code = await outbox_code(db, tenant.merchant_id)
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    assert (await verify(portal_client, rid, fas, ref, wrong)).status == 400
    assert (await verify(portal_client, rid, fas, ref, code)).status == 303
    assert client.authenticated
    # Again at once, in E.164: the rate limit; a replay; a code of another device.
    assert (await send(portal_client, rid, fas, NUMBER)).status == 429
    assert (await verify(portal_client, rid, fas, ref, code)).status == 400
    _other, other_fas = new_client(router, "aa:bb:cc:20:00:02", "10.0.2.2")
    assert (await verify(portal_client, rid, other_fas, ref, code)).status == 403

    # What was stored is there, under its keyed hash, sealed and masked.
    assert await db.fetchval(
        "SELECT masked FROM shopper_identities WHERE merchant_id = $1", tenant.merchant_id
    ) == ("139****4321")
    assert await db.fetchval(
        "SELECT masked_phone FROM sms_outbox WHERE merchant_id = $1", tenant.merchant_id
    ) == ("139****4321")
    assert await tables_holding(db, written_forms()) == {}
    assert log_lines_holding(caplog.records) == []
    assert any(r.name == "portico.portal.sms" for r in caplog.records)  # the refusals were logged


async def test_the_search_finds_a_number_stored_in_the_clear(
    db: asyncpg.Pool, caplog: pytest.LogCaptureFixture
) -> None:
    """The check above can fail: a number written plainly, or as bytes, is found."""
    tenant = await sms_tenant(db)
    await db.execute(
        """INSERT INTO sms_outbox (merchant_id, message_id, masked_phone, sealed_phone, body)
           VALUES ($1, gen_random_uuid(), '139****4321', $2, 'hello')""",
        tenant.merchant_id,
        NUMBER.encode(),
    )
    try:
        assert await tables_holding(db, written_forms()) == {"public.sms_outbox": 1}
    finally:
        await db.execute("DELETE FROM sms_outbox WHERE merchant_id = $1", tenant.merchant_id)
    logging.getLogger("portico.test").warning("sent to %s", "+86 139-8765-4321")
    assert len(log_lines_holding(caplog.records)) == 1
