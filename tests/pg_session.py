"""Session settings on a pooled connection, for a test's block only.

The pool does not reset a connection's session when it is released (kernel.db._keep_session:
production code sets none), so a `SET` a test leaves behind goes on to whichever test gets that
connection next: a `lock_timeout` of 200 ms once failed another test's wait for an advisory lock.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

_DURATION = re.compile(r"^[0-9]+(ms|s)$")


@asynccontextmanager
async def lock_timeout(conn: asyncpg.Connection, value: str) -> AsyncIterator[None]:
    """`SET lock_timeout` for the block, `RESET` after it, however it ends."""
    if not _DURATION.match(value):
        raise ValueError(f"not a duration: {value!r}")
    await conn.execute(f"SET lock_timeout = '{value}'")
    try:
        yield
    finally:
        await conn.execute("RESET lock_timeout")
