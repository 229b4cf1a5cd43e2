"""Fixtures of the ads tests: a merchant with a store and an owner, and the console app (the
till, the POS API keys page and the POS API) on a test server."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from kernel.config import Settings
from portico.console_app import make_console_app
from tests.console.test_console_app import Member, new_member


@pytest.fixture
async def member(db: asyncpg.Pool) -> Member:
    return await new_member(db)


@pytest.fixture
async def client(settings: Settings, db: asyncpg.Pool) -> AsyncIterator[TestClient]:
    async with TestClient(TestServer(make_console_app(settings, db))) as client:
        yield client
