"""Fixtures of the marketing tests: each test's dispatcher takes only its own contacts; a
webhook receiver and an HTTP client session on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import asyncpg
import pytest

from tests.marketing.receivers import Receiver, postpone_waiting


@pytest.fixture(autouse=True)
async def own_contacts_only(db: asyncpg.Pool) -> None:
    await postpone_waiting(db)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    hook = Receiver()
    await hook.start()
    yield hook
    await hook.close()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session
