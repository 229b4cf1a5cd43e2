"""Bringing the platform up: infrastructure (real or embedded), migrations, the roles."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import gc
import logging
import os
import signal
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any

import asyncpg
from aiohttp import web

from analytics import retention as footfall_retention
from analytics import rollups as footfall_rollups
from analytics.ingest import FootfallIngest
from controller import device_routes, telemetry
from controller import retention as controller_retention
from controller.capture import CaptureIngest
from controller.fleet_config import StateIngest
from controller.listener import FleetListener
from controller.services import CommandSender, Router
from controller.telemetry import TelemetryIngest
from kernel.config import Settings
from kernel.db import create_pool, migrate
from kernel.embedded import (
    EmbeddedError,
    data_dir_lock,
    embedded_postgres_url,
    mosquitto_binary,
    start_embedded_postgres,
)
from kernel.shopper_events import SHOPPER_EVENTS
from marketing import intake as marketing_intake
from marketing import services as marketing
from marketing import webhooks, wechat_events, wechat_follow
from marketing.dispatch import Dispatcher, Policy, standard_channels
from marketing.engine import Engine as MarketingEngine
from portal import online as portal_online
from portal import retention as portal_retention
from portal import services as portal_services
from portal import session_end as portal_session_end
from portal import sessions as portal_sessions
from portal import wifidog_store
from portal.app import make_portal_app
from portico import broker, shopper_stream

log = logging.getLogger("portico")

ROLES = ("portal", "console", "controller", "marketing")  # all of them: `serve` naming none
# The marketing role's two halves, each for a process of its own (the engine's batches keep a
# core busy at peak, and a dispatcher in the same process waits for them).
MARKETING_PARTS = ("marketing-engine", "marketing-dispatch")


class StartupError(Exception):
    """The platform cannot start as configured; the message says why and what to do."""


@dataclass(frozen=True)
class Infrastructure:
    settings: Settings  # with database_url and mqtt_url filled in
    db: asyncpg.Pool
    amqtt: bool  # the broker is the embedded amqtt fallback (no Mosquitto installed)
    # Write the embedded broker's accounts now (portico.broker); None with MQTT_URL.
    sync_broker: Callable[[], Awaitable[object]] | None = None


@contextlib.asynccontextmanager
async def infrastructure(settings: Settings) -> AsyncIterator[Infrastructure]:
    """PostgreSQL and MQTT as configured, or the embedded ones; migrated; a pool open."""
    async with contextlib.AsyncExitStack() as stack:
        if not settings.database_url or not settings.mqtt_url:
            # One Portico at a time on a data folder's embedded servers; a second one stops
            # here with a message instead of sharing (or killing) the first one's servers.
            stack.enter_context(data_dir_lock(settings.data_dir))
        database_url = settings.database_url
        if database_url:
            log.info("using PostgreSQL from DATABASE_URL")
        else:
            database_url, server = await asyncio.to_thread(
                start_embedded_postgres, settings.data_dir
            )
            stack.callback(server.cleanup)
        applied = await migrate(database_url)
        log.info("database schema up to date (%d migrations applied now)", len(applied))
        db = await create_pool(database_url, size=settings.db_pool_size)
        stack.push_async_callback(db.close)
        # The embedded broker's accounts come from the database: it starts after migrating.
        if settings.mqtt_url:
            log.info("using the MQTT broker from MQTT_URL")
            urls = broker.external(settings)
        else:
            urls = await stack.enter_async_context(broker.embedded(settings, db, database_url))
        settled = replace(
            settings,
            database_url=database_url,
            mqtt_url=urls.controller,
            portal_mqtt_url=urls.portal,
            public_mqtt_url=urls.public,
        )
        amqtt = not settings.mqtt_url and mosquitto_binary() is None
        yield Infrastructure(settled, db, amqtt=amqtt, sync_broker=urls.sync)


@contextlib.asynccontextmanager
async def database(settings: Settings) -> AsyncIterator[asyncpg.Pool]:
    """A small pool on the platform's database, for a one-off command (`portico router …`):
    DATABASE_URL; or the embedded PostgreSQL, joined while a running Portico holds the data
    folder (`make run` in another terminal), else started for the command."""
    async with contextlib.AsyncExitStack() as stack:
        url = settings.database_url
        if not url:
            try:
                stack.enter_context(data_dir_lock(settings.data_dir))
            except EmbeddedError:
                url = embedded_postgres_url(settings.data_dir)  # the running Portico's
            else:
                url, server = await asyncio.to_thread(start_embedded_postgres, settings.data_dir)
                stack.callback(server.cleanup)
        await migrate(url)
        db = await create_pool(url, size=2)
        stack.push_async_callback(db.close)
        yield db


async def _serve_app(
    stack: contextlib.AsyncExitStack,
    app: web.Application,
    host: str,
    port: int,
    reuse_port: bool = False,
) -> None:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    stack.push_async_callback(runner.cleanup)
    try:
        await web.TCPSite(runner, host, port, backlog=1024, reuse_port=reuse_port).start()
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            raise
        raise StartupError(
            f"{host}:{port} is in use: another program (another Portico?) listens there; stop "
            "it, or choose other ports with PORTICO_PORTAL_PORT / PORTICO_CONSOLE_PORT"
        ) from exc


@contextlib.asynccontextmanager
async def running_roles(
    infra: Infrastructure, roles: tuple[str, ...], reuse_port: bool = False
) -> AsyncIterator[None]:
    """Start the given roles; stop them when the context ends. `reuse_port`: the HTTP roles
    share their ports with other worker processes (SO_REUSEPORT)."""
    settings = infra.settings
    async with contextlib.AsyncExitStack() as stack:
        # One command sender serves the roles of a process (the console's: reboot, re-apply).
        if "controller" in roles or "portal" in roles or "console" in roles:
            # With the portal's account when it serves the portal (it only sends commands).
            url = settings.portal_broker_url if "portal" in roles else settings.mqtt_url
            # Who its commands are on record as sent by (the controller's own, and the
            # console's users', name themselves at each send).
            origin = "portal" if "portal" in roles else "controller"
            sender = await _command_sender(stack, infra, url, origin)
        if "controller" in roles:
            await stack.enter_async_context(broker.administered(settings, infra.db))
        if "controller" in roles:
            restoring: dict[str, asyncio.Task[object]] = {}

            async def on_nds_restarted(router: Router) -> None:
                # In the background: the listener must not wait for a whole router's acks. A
                # new restart makes the restores still retrying for the last one pointless.
                earlier = restoring.pop(router.router_id, None)
                if earlier is not None:
                    earlier.cancel()
                task: asyncio.Task[object] = asyncio.create_task(
                    portal_sessions.restore_sessions(infra.db, sender, router),
                    name=f"restore-{router.router_id}",
                )
                restoring[router.router_id] = task
                task.add_done_callback(
                    lambda done, rid=router.router_id: _restore_finished(restoring, rid, done)
                )

            stack.push_async_callback(_cancel_all, restoring)

            # Footfall from telemetry and capture chunks, one ingest so that a router's two
            # inputs share its prober tracker; the rollups learn what is new, and precision
            # marketing's live stream the stable devices seen, in the same transaction.
            footfall = FootfallIngest(
                settings.secret_key,
                on_recorded=footfall_rollups.mark_dirty,
                on_devices_seen=marketing_intake.Sightings().seen,
            )
            listener = FleetListener(
                settings.mqtt_url,
                infra.db,
                # amqtt, the fallback embedded broker, has no shared subscriptions.
                shared_group=None if infra.amqtt else "ctrl",
                on_nds_restarted=on_nds_restarted,
                client_id=settings.controller_id or None,
                routes={
                    "tele": TelemetryIngest(
                        infra.db, settings.secret_key, footfall=footfall
                    ).handle,
                    "capture": CaptureIngest(infra.db, footfall).handle,  # pcap chunks
                    "state": StateIngest(infra.db).handle,  # desired vs applied configuration
                },
                # A broker that restarted dropped what routers sent until we subscribed again.
                on_resubscribed=lambda lost_at: telemetry.request_resend(sender, infra.db, lost_at),
            )
            task = asyncio.create_task(listener.run(), name="controller")
            stack.push_async_callback(_cancel, task)
            scrub = asyncio.create_task(controller_retention.scrub_forever(infra.db))
            stack.push_async_callback(_cancel, scrub)
            # Footfall visits and rollups within a minute of ingest; old visits deleted.
            rollups = asyncio.create_task(footfall_rollups.rollup_forever(infra.db))
            stack.push_async_callback(_cancel, rollups)
            # Footfall day partitions made ahead, raw observations dropped after retention.
            kept = asyncio.create_task(footfall_retention.retention_forever(infra.db))
            stack.push_async_callback(_cancel, kept)
            # Shopper sessions end by their policy (time, idle, quota), the router told first:
            # here, beside the routers' telemetry it reads and a sender to deauth with.
            ends = asyncio.create_task(portal_session_end.end_sessions_forever(infra.db, sender))
            stack.push_async_callback(_cancel, ends)
            await asyncio.wait_for(listener.connected.wait(), timeout=15)
            log.info("controller role up")
        if "portal" in roles:
            app = portal_app(settings, infra.db, sender)
            await _serve_app(stack, app, settings.bind, settings.portal_port, reuse_port)
            purge = asyncio.create_task(wifidog_store.purge_tokens_forever(infra.db))
            stack.push_async_callback(_cancel, purge)
            scrub = asyncio.create_task(portal_retention.scrub_forever(infra.db))
            stack.push_async_callback(_cancel, scrub)
            log.info("portal role up at %s", settings.portal_url)
        if "console" in roles:
            app = console_app(settings, infra.db, sender)
            await _serve_app(stack, app, settings.bind, settings.console_port, reuse_port)
            log.info("console role up at %s", settings.console_url)
        if "marketing" in roles or set(MARKETING_PARTS) & set(roles):
            await _start_marketing(
                stack,
                settings,
                infra.db,
                engine="marketing" in roles or "marketing-engine" in roles,
                dispatch="marketing" in roles or "marketing-dispatch" in roles,
            )
        yield


def portal_app(settings: Settings, db: asyncpg.Pool, sender: CommandSender) -> web.Application:
    """The portal app with the routers' install endpoints (owned by the controller) mounted,
    marketing's offers and WeChat follow code on its online page, WeChat's event pushes
    (marketing/wechat_events.py), and its shoppers' logins, consent withdrawals and claims told
    to marketing (the portal never imports marketing)."""
    follow = wechat_follow.FollowCodes(
        db,
        settings.marketing_wechat_api_url,
        settings.secret_key,
        timeout=min(settings.marketing_send_timeout, wechat_follow.TIMEOUT),
    )
    app = make_portal_app(settings, db, sender, offers=marketing_offers(settings, follow))
    app.on_cleanup.append(lambda _app: follow.close())
    app.add_routes(device_routes.routes)
    app.add_routes(wechat_events.routes)  # /wechat/events/<merchant>: the account's pushes
    app[SHOPPER_EVENTS] = shopper_stream.shopper_events(settings.secret_key)
    return app


def marketing_offers(
    settings: Settings, follow: wechat_follow.FollowCodes | None = None
) -> portal_online.OfferHooks:
    """Marketing's portal offers, as the portal's online page asks for them; and, with
    `follow`, the shopper's WeChat follow code (a voucher login names its holder by the
    voucher's keyed pseudonym, as the live stream does)."""
    if follow is None:
        return portal_online.OfferHooks(
            waiting=marketing.offers_for_device, shown=marketing.mark_offers_shown
        )

    async def wechat(
        _db: asyncpg.Pool, merchant_id: uuid.UUID, shopper: portal_online.OnlineShopper
    ) -> str | None:
        identity = shopper.identity_hash
        if identity is None and shopper.voucher_code:
            identity = shopper_stream.voucher_holder(
                settings.secret_key, merchant_id, shopper.voucher_code
            )
        return await follow.code_for(merchant_id, identity, shopper.device_hash)

    return portal_online.OfferHooks(
        waiting=marketing.offers_for_device, shown=marketing.mark_offers_shown, wechat=wechat
    )


@contextlib.asynccontextmanager
async def marketing_dispatch(settings: Settings, db: asyncpg.Pool) -> AsyncIterator[None]:
    """The marketing dispatcher (marketing/dispatch.py), running until the context ends: the
    engine's pending contacts sent on their channels (SMS through the portal's backend)."""
    async with contextlib.AsyncExitStack() as stack:
        http = webhooks.http_session(allow_private=not settings.production)
        stack.push_async_callback(http.close)
        sms = portal_services.SmsProviders(settings, db)
        stack.push_async_callback(sms.close)
        dispatcher = Dispatcher(
            db,
            standard_channels(db, settings, http, sms),
            policy=Policy.from_settings(settings),
        )
        stop = asyncio.Event()
        task = asyncio.create_task(dispatcher.run(stop), name="marketing-dispatch")
        try:
            yield
        finally:
            stop.set()
            try:
                await asyncio.wait_for(task, timeout=settings.marketing_send_timeout * 2)
            except TimeoutError:  # wait_for cancelled it: its sends go back after their lease
                log.warning("marketing dispatch: sends still running at stop were abandoned")


def console_app(
    settings: Settings, db: asyncpg.Pool, sender: CommandSender | None
) -> web.Application:
    """The console app, its till's and POS API's redemptions (and its consent withdrawals)
    told to marketing."""
    from portico.console_app import make_console_app

    app = make_console_app(settings, db, sender)
    app[SHOPPER_EVENTS] = shopper_stream.shopper_events(settings.secret_key)
    return app


async def _start_marketing(
    stack: contextlib.AsyncExitStack,
    settings: Settings,
    db: asyncpg.Pool,
    *,
    engine: bool = True,
    dispatch: bool = True,
) -> None:
    """The marketing role: the trigger engine on the live stream with the inbox's retention,
    and the dispatcher sending what it decides; both, or one (`MARKETING_PARTS`). Any number
    of processes may run either: each takes other events and contacts."""
    if dispatch:  # started first, stopped last: contacts decided at the stop still go out
        await stack.enter_async_context(marketing_dispatch(settings, db))
    if engine:
        stop = asyncio.Event()
        task = asyncio.create_task(MarketingEngine(db).run(stop), name="marketing-engine")
        stack.push_async_callback(_stop_then_wait, stop, task)
        purge = asyncio.create_task(marketing_intake.purge_forever(db), name="marketing-purge")
        stack.push_async_callback(_cancel, purge)
    parts = [name for name, on in (("engine", engine), ("dispatcher", dispatch)) if on]
    log.info("marketing role up (%s)", " and ".join(parts))


async def _stop_then_wait(stop: asyncio.Event, task: asyncio.Task[Any]) -> None:
    """Let a loop finish its batch and return; cancelled if it takes longer than 10 s."""
    stop.set()
    try:
        await asyncio.wait_for(task, timeout=10)
    except TimeoutError:
        log.error("%s did not stop within 10 s; cancelled", task.get_name())


async def _command_sender(
    stack: contextlib.AsyncExitStack, infra: Infrastructure, mqtt_url: str, origin: str
) -> CommandSender:
    sender = CommandSender(
        mqtt_url,
        infra.db,
        ack_timeout=infra.settings.ack_timeout,
        grant_timeout=infra.settings.grant_timeout,
        ttl=infra.settings.command_ttl,
        # Before undoing a grant acked too late, ask whether a session needs that client.
        client_wanted=portal_online.client_wanted(infra.db),
        origin=origin,
    )
    await sender.start()
    stack.push_async_callback(sender.stop)
    return sender


def _restore_finished(
    restoring: dict[str, asyncio.Task[object]], router_id: str, task: asyncio.Task[object]
) -> None:
    if restoring.get(router_id) is task:
        del restoring[router_id]
    if not task.cancelled() and task.exception() is not None:
        log.error("restoring sessions on %s failed", router_id, exc_info=task.exception())


async def _cancel_all(tasks: dict[str, asyncio.Task[object]]) -> None:
    for task in list(tasks.values()):
        await _cancel(task)


async def _cancel(task: asyncio.Task[Any]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def wait_for_stop_signal() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("stopping")


async def serve(settings: Settings, roles: tuple[str, ...], reuse_port: bool = False) -> None:
    async with infrastructure(settings) as infra, running_roles(infra, roles, reuse_port):
        # What start-up made (modules, templates, routes) lives as long as the process: out of
        # the cyclic collector's full passes, which otherwise walk all of it while requests wait.
        gc.collect()
        gc.freeze()
        await wait_for_stop_signal()


async def serve_workers(settings: Settings, roles: tuple[str, ...], workers: int) -> None:
    """`portico serve --workers N`: this process brings the infrastructure up (embedded servers,
    migrations) and runs the controller role if asked; N worker processes serve the HTTP roles
    on the same ports with SO_REUSEPORT, so the kernel spreads connections over every core."""
    http_roles = tuple(role for role in roles if role in ("portal", "console"))
    if not http_roles:
        raise StartupError("--workers applies to the portal and console roles")
    async with infrastructure(settings) as infra:
        env = {
            **os.environ,
            "DATABASE_URL": infra.settings.database_url,
            "MQTT_URL": infra.settings.mqtt_url,
            "PORTICO_PORTAL_MQTT_URL": infra.settings.portal_mqtt_url,
            "PORTICO_PUBLIC_MQTT_URL": infra.settings.public_mqtt_url,
            # The workers sign with the same key (a dev key lives in the data folder).
            "PORTICO_SECRET_KEY": infra.settings.secret_key,
        }
        own_roles = tuple(role for role in roles if role not in http_roles)
        async with running_roles(infra, own_roles):
            children = [
                await _start_worker(role, env) for role in http_roles for _ in range(workers)
            ]
            log.info("%d worker processes serve %s", len(children), ", ".join(http_roles))
            try:
                await _until_stop_or_worker_exit(children)
            finally:
                await asyncio.gather(*(_stop_worker(child) for child in children))


async def _start_worker(role: str, env: dict[str, str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "portico.cli", "serve", role, "--reuse-port", env=env
    )


async def _until_stop_or_worker_exit(children: list[asyncio.subprocess.Process]) -> None:
    stop = asyncio.create_task(wait_for_stop_signal())
    exits = [asyncio.create_task(child.wait()) for child in children]
    done, _pending = await asyncio.wait([stop, *exits], return_when=asyncio.FIRST_COMPLETED)
    if stop not in done:
        stop.cancel()
        gone = next(c for c, e in zip(children, exits, strict=True) if e in done)
        raise StartupError(f"worker process {gone.pid} exited with status {gone.returncode}")
    for task in exits:
        task.cancel()


async def _stop_worker(child: asyncio.subprocess.Process) -> None:
    if child.returncode is not None:
        return
    child.terminate()
    try:
        await asyncio.wait_for(child.wait(), timeout=15)
    except TimeoutError:
        log.error("worker %d did not stop within 15 s; killing it", child.pid)
        child.kill()
        await child.wait()
