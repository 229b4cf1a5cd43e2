"""The check that no raw MAC reached a table: every table of every schema, every column, in
every written form of the MAC (colons, dashes, none, any case; bytea as hex)."""

from __future__ import annotations

import asyncpg


def forms(mac: str) -> list[str]:
    bare = mac.replace(":", "").lower()
    return [mac.lower(), mac.replace(":", "-").lower(), bare]


async def tables_holding(db: asyncpg.Pool, macs: list[str]) -> dict[str, int]:
    """{table: rows} of every table where a row's text holds one of `macs` in any form."""
    patterns = [f"%{form}%" for mac in macs for form in forms(mac)]
    tables = await db.fetch(
        """SELECT format('%I.%I', n.nspname, c.relname) AS name FROM pg_class c
           JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
               AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')"""
    )
    assert len(tables) > 20  # the whole schema is searched, not an empty list
    found = {}
    for table in tables:
        # Each row as text (all of its columns; jsonb as text, bytea as \x hex), case-blind.
        rows = await db.fetchval(
            f"SELECT count(*) FROM {table['name']} t WHERE t::text ILIKE ANY($1)",  # noqa: S608
            patterns,
        )
        if rows:
            found[table["name"]] = rows
    return found
