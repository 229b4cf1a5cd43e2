"""Every role of the platform, as `portico serve` runs them, for an end-to-end test."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import asyncpg

from kernel.config import Settings
from kernel.embedded import free_port
from portico import broker
from portico.runtime import ROLES, Infrastructure, running_roles


@contextlib.asynccontextmanager
async def running_platform(
    settings: Settings, db: asyncpg.Pool, database_url: str, tmp_path: Path
) -> AsyncIterator[Settings]:
    """Every role (portal, console, controller, marketing) on the embedded broker secured from
    PostgreSQL, on free ports; the settings they run with."""
    base = replace(
        settings,
        data_dir=tmp_path / "var",
        portal_port=free_port(),
        console_port=free_port(),
        mqtt_url="",
        bind="127.0.0.1",
    )
    async with broker.embedded(base, db, database_url) as urls:
        live = replace(
            base,
            mqtt_url=urls.controller,
            portal_mqtt_url=urls.portal,
            public_mqtt_url=urls.public,
        )
        async with running_roles(Infrastructure(live, db, amqtt=False), ROLES):
            yield live
