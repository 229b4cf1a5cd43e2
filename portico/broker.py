"""The broker accounts the platform uses, and who keeps the broker's ACLs.

docs/broker-security.md tells the whole story.

- No MQTT_URL: the embedded private Mosquitto lets in only the accounts Portico writes from
  PostgreSQL (one per router) plus two service accounts made up at each start, the
  controller's and the portal's; the files follow every change at once (`keep_in_sync`).
- MQTT_URL and PORTICO_MOSQUITTO_AUTH_DIR: a Mosquitto Portico administers; the controller role
  writes its files and signals it (PORTICO_MOSQUITTO_PID_FILE). The service accounts are those
  of MQTT_URL (controller) and PORTICO_PORTAL_MQTT_URL (portal).
- MQTT_URL alone: a broker Portico cannot administer; its accounts and ACLs are the
  operator's job, and the log says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from controller.broker_auth import (
    BrokerAuthError,
    BrokerFiles,
    account_from_url,
    generate_account,
    keep_in_sync,
    pid_file_reloader,
)
from kernel.config import Settings
from kernel.embedded import MOSQUITTO_DIR, embedded_broker, free_port, mosquitto_binary
from kernel.mqtt import parse_mqtt_url

log = logging.getLogger("portico.broker")

DOC = "docs/broker-security.md"


@dataclass(frozen=True)
class BrokerUrls:
    controller: str  # the controller's account (MQTT_URL)
    portal: str  # the portal's account
    public: str  # how routers reach the broker (no credentials)
    # Bring the embedded broker's accounts up to date now (None: Portico does not keep them
    # in this process); a caller that just gave routers passwords awaits it before they connect.
    sync: Callable[[], Awaitable[object]] | None = None


@contextlib.asynccontextmanager
async def embedded(
    settings: Settings, db: asyncpg.Pool, database_url: str
) -> AsyncIterator[BrokerUrls]:
    """The embedded broker, secured from PostgreSQL when it is Mosquitto, for the context."""
    port = settings.embedded_mqtt_port or free_port()
    if mosquitto_binary() is None:
        async with embedded_broker(settings.data_dir, port) as broker:
            yield BrokerUrls(broker.url, broker.url, broker.url)
        return
    host = "127.0.0.1"
    controller = generate_account("controller", host, port)
    portal = generate_account("portal", host, port)
    files = BrokerFiles(
        settings.data_dir.resolve() / MOSQUITTO_DIR, [controller.account, portal.account]
    )
    await files.sync(db)  # the broker reads them when it starts
    async with embedded_broker(
        settings.data_dir, port, password_file=files.passwd_path, acl_file=files.acl_path
    ) as broker:
        files.reload = broker.reload
        task = asyncio.create_task(keep_in_sync(files, db, database_url), name="broker-accounts")
        try:
            yield BrokerUrls(controller.url, portal.url, broker.url, lambda: files.sync(db))
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def external(settings: Settings) -> BrokerUrls:
    """The broker named by MQTT_URL; says in the log who keeps its accounts and ACLs."""
    if settings.mosquitto_auth_dir:
        log.info(
            "the controller role keeps the accounts and ACLs of the Mosquitto at MQTT_URL in %s",
            settings.mosquitto_auth_dir,
        )
    else:
        log.warning(
            "Portico does not administer the MQTT broker at MQTT_URL: per-router accounts and "
            "ACLs are the operator's job there (%s); without them any client can act as any "
            "router",
            DOC,
        )
    address = parse_mqtt_url(settings.router_broker_url)
    scheme = "mqtts" if address.tls else "mqtt"
    public = f"{scheme}://{address.host}:{address.port}"
    return BrokerUrls(settings.mqtt_url, settings.portal_broker_url, public)


@contextlib.asynccontextmanager
async def administered(settings: Settings, db: asyncpg.Pool) -> AsyncIterator[None]:
    """With PORTICO_MOSQUITTO_AUTH_DIR: keep that Mosquitto's files in step with PostgreSQL
    for the context (the controller role runs this)."""
    if not settings.mosquitto_auth_dir:
        yield
        return
    accounts = [account_from_url(settings.mqtt_url, "controller")]
    if settings.portal_mqtt_url:
        portal = account_from_url(settings.portal_mqtt_url, "portal")
        if portal.username != accounts[0].username:
            accounts.append(portal)
    files = BrokerFiles(
        Path(settings.mosquitto_auth_dir),
        accounts,
        pid_file_reloader(Path(settings.mosquitto_pid_file)),
    )
    try:
        await files.sync(db)
    except (BrokerAuthError, OSError) as exc:
        raise BrokerAuthError(f"cannot administer the broker at MQTT_URL: {exc}") from exc
    task = asyncio.create_task(
        keep_in_sync(files, db, settings.database_url), name="broker-accounts"
    )
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
