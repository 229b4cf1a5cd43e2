"""MQTT connection settings from an `mqtt://user:pass@host:port` URL, and a client factory."""

from __future__ import annotations

import socket
import ssl
import uuid
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import aiomqtt


@dataclass(frozen=True)
class BrokerAddress:
    host: str
    port: int
    username: str | None = None
    password: str | None = None
    tls: bool = False


def parse_mqtt_url(url: str) -> BrokerAddress:
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts", "tcp", "ssl"):
        raise ValueError(f"MQTT URL must start with mqtt:// or mqtts://, got {url!r}")
    if not parts.hostname:
        raise ValueError(f"MQTT URL has no host: {url!r}")
    tls = parts.scheme in ("mqtts", "ssl")
    return BrokerAddress(
        host=parts.hostname,
        port=parts.port or (8883 if tls else 1883),
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        tls=tls,
    )


# Commands and acks are small packets: without TCP_NODELAY each waits for a delayed TCP ack.
NO_DELAY = ((socket.IPPROTO_TCP, socket.TCP_NODELAY, 1),)


def make_client(url: str, client_name: str, **kwargs: object) -> aiomqtt.Client:
    """An MQTT 3.1.1 client (the contract's baseline) with a unique, readable client id."""
    address = parse_mqtt_url(url)
    client = aiomqtt.Client(
        hostname=address.host,
        port=address.port,
        username=address.username,
        password=address.password,
        identifier=f"portico-{client_name}-{uuid.uuid4().hex[:12]}",
        protocol=aiomqtt.ProtocolVersion.V311,
        tls_context=ssl.create_default_context() if address.tls else None,
        keepalive=30,
        socket_options=NO_DELAY,
        **kwargs,  # type: ignore[arg-type]
    )
    # Hundreds of logins a second keep many publishes in flight; that is normal, not a warning.
    client.pending_calls_threshold = 10_000
    return client
