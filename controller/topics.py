"""Topic names and payload checks of the MQTT contract (docs/mqtt-contract.md)."""

from __future__ import annotations

import json
import re
from typing import Any

VERSION = 1
ROOT = "ap/v1"
MAX_PAYLOAD = 4096
MAX_BATCH_PAYLOAD = 65536  # a `tele` message holding several events (a JSON array)
MAX_BATCH_EVENTS = 500
# A `capture` message: one classic pcap file (radiotap or raw 802.11) of probe requests.
MAX_CAPTURE_PAYLOAD = 262144
MAX_WAIT_MS = 60_000  # the longest `wait_ms` a router accepts in a command
ROUTER_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
COMMAND_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
ACK_STATUSES = frozenset({"done", "error", "rejected", "expired", "duplicate"})
EVENT_TYPES = frozenset({"agent_started", "nds_restarted"})
TELEMETRY_TYPES = frozenset({"heartbeat", "station", "usage", "probes", "dhcp"})


class BadMessage(ValueError):
    """An MQTT message that does not follow the contract; `reason` names the rule it breaks
    (wrong_topic, oversized, malformed, bad_version, bad_field) for the counters."""

    def __init__(self, detail: str, reason: str = "malformed") -> None:
        super().__init__(detail)
        self.reason = reason


def topic(router_id: str, leaf: str) -> str:
    if not ROUTER_ID.match(router_id):
        raise ValueError(f"invalid router id {router_id!r}")
    return f"{ROOT}/{router_id}/{leaf}"


def split_topic(name: str) -> tuple[str, str]:
    """`ap/v1/<router>/<leaf>` -> (router, leaf); BadMessage for anything else."""
    parts = name.split("/")
    if len(parts) != 4 or f"{parts[0]}/{parts[1]}" != ROOT or not ROUTER_ID.match(parts[2]):
        raise BadMessage(f"topic {name!r} is not ap/v1/<router>/<leaf>", "wrong_topic")
    return parts[2], parts[3]


def decode(payload: bytes | bytearray | str) -> dict[str, Any]:
    """Parse a contract payload: a JSON object of at most 4 KiB with "v": 1."""
    if isinstance(payload, str):
        payload = payload.encode()
    data = _json(payload, MAX_PAYLOAD, "payload")
    if not isinstance(data, dict):
        raise BadMessage("payload is not a JSON object")
    if data.get("v") != VERSION:
        raise BadMessage(f"payload version {data.get('v')!r} is not {VERSION}", "bad_version")
    return data


def decode_batch(payload: bytes | bytearray) -> list[Any]:
    """Parse a `tele` batch: a JSON array of 1 … 500 elements, at most 64 KiB. The elements are
    not checked here: each is an event on its own (one bad event spoils no other)."""
    data = _json(payload, MAX_BATCH_PAYLOAD, "batch")
    if not isinstance(data, list) or not 1 <= len(data) <= MAX_BATCH_EVENTS:
        raise BadMessage(f"batch is not a JSON array of 1 … {MAX_BATCH_EVENTS} events")
    return data


def _json(payload: bytes | bytearray, limit: int, what: str) -> Any:
    if len(payload) > limit:
        raise BadMessage(f"{what} of {len(payload)} bytes is over {limit}", "oversized")
    try:
        return json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadMessage(f"{what} is not JSON: {exc}") from None


def is_batch(payload: bytes | bytearray) -> bool:
    return payload.lstrip()[:1] == b"["


def encode(data: dict[str, Any]) -> bytes:
    return json.dumps({"v": VERSION, **data}, separators=(",", ":")).encode()
