"""A running portal (real PostgreSQL, real broker) with a command sender."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from controller.services import CommandSender
from kernel.config import Settings
from portal.app import make_portal_app


@pytest.fixture(scope="session")
async def sender(settings: Settings, db: asyncpg.Pool) -> AsyncIterator[CommandSender]:
    sender = CommandSender(settings.mqtt_url, db, ack_timeout=settings.ack_timeout)
    await sender.start()
    yield sender
    await sender.stop()


@pytest.fixture
async def portal_client(
    settings: Settings, db: asyncpg.Pool, sender: CommandSender
) -> AsyncIterator[TestClient]:
    app = make_portal_app(settings, db, sender)
    async with TestClient(TestServer(app)) as client:
        yield client
