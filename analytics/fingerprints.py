"""A device's OS family from its DHCP option 55 (the parameter request list).

Each DHCP client asks for its own list of options in its own order, so the list tells the
client software, hence the OS family: ios (iOS, iPadOS, macOS), android, windows, linux,
other. Only the family is kept, per device hash (footfall_device_os): never the list.

The table is derived from public fingerprint knowledge: the Fingerbank DHCP fingerprint
database (fingerbank.org, the `dhcp_fingerprints` of PacketFence) and Satori's dhcp.xml
(github.com/xnih/satori), for the lists of current clients: Apple's configd, Android's
dhcpcd / DhcpClient, Windows' DHCP client, ISC dhclient, NetworkManager, systemd-networkd and
busybox udhcpc. Lists not in the table fall back to the traits of each family (below).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from kernel.sql import load_queries

queries = load_queries(__file__, "observations.sql")

FAMILIES = ("ios", "android", "windows", "linux", "other")
OPTION_PAD, OPTION_END, OPTION_PRL = 0, 255, 55
MAGIC_COOKIE = b"\x63\x82\x53\x63"
BOOTP_FIXED = 236  # bytes of the BOOTP header before the magic cookie
MAX_OPTIONS = 64
_LIST = re.compile(r"^[0-9]{1,3}(,[0-9]{1,3}){0,63}$")

KNOWN: dict[tuple[int, ...], str] = {
    # Apple configd: iOS 7-15, macOS 10.x-12 ...
    (1, 121, 3, 6, 15, 119, 252): "ios",
    (1, 121, 3, 6, 15, 119, 252, 95, 44, 46): "ios",
    # ... with option 114 (captive portal, RFC 8910) and 108 (IPv6-only preferred): iOS 14+
    (1, 121, 3, 6, 15, 114, 119, 252): "ios",
    (1, 121, 3, 6, 15, 108, 114, 119, 252): "ios",
    (1, 121, 3, 6, 15, 108, 114, 119, 252, 95, 44, 46): "ios",
    (1, 3, 6, 15, 119, 252): "ios",  # iOS 5-6
    # Android: dhcpcd (Android 5-9), DhcpClient (10+; 114 from 11, 108 from 13)
    (1, 3, 6, 15, 26, 28, 51, 58, 59, 43): "android",
    (1, 3, 6, 15, 26, 28, 51, 58, 59, 43, 114): "android",
    (1, 3, 6, 15, 26, 28, 51, 58, 59, 43, 114, 108): "android",
    (1, 33, 3, 6, 15, 28, 51, 58, 59): "android",  # Android 2.x-4.x dhcpcd
    (1, 121, 33, 3, 6, 15, 28, 51, 58, 59, 119): "android",  # Android 4.4 dhcpcd 6
    # Windows DHCP client
    (1, 3, 6, 15, 31, 33, 43, 44, 46, 47, 119, 121, 249, 252): "windows",  # 8, 10, 11
    (1, 15, 3, 6, 44, 46, 47, 31, 33, 121, 249, 43): "windows",  # Vista, 7
    (1, 15, 3, 6, 44, 46, 47, 31, 33, 121, 249, 43, 252): "windows",  # 7 with WPAD
    (1, 15, 3, 6, 44, 46, 47, 31, 33, 249, 43): "windows",  # XP
    # Linux
    (1, 28, 2, 3, 15, 6, 119, 12, 44, 47, 26, 121, 42): "linux",  # ISC dhclient (Debian)
    (1, 28, 2, 3, 15, 6, 12, 40, 41, 42): "linux",  # older dhclient
    (1, 2, 6, 12, 15, 26, 28, 121, 3, 33, 40, 41, 42, 119, 249, 252, 17): "linux",  # NM
    (1, 3, 6, 12, 15, 28, 42): "linux",  # busybox udhcpc (OpenWrt, embedded)
    (1, 3, 6, 12, 15, 28, 42, 51, 54, 58, 59, 119, 121): "linux",  # systemd-networkd
}


def parse_list(value: str | Sequence[int]) -> tuple[int, ...]:
    """Option 55 as numbers, from "1,121,3" or a sequence; ValueError when it is not one."""
    if isinstance(value, str):
        if not _LIST.match(value):
            raise ValueError("must be 1 … 64 option numbers separated by commas")
        options = tuple(int(part) for part in value.split(","))
    elif isinstance(value, Sequence) and all(type(x) is int for x in value):
        options = tuple(value)
    else:
        raise ValueError("must be a list of option numbers")
    if not 1 <= len(options) <= MAX_OPTIONS or not all(0 < x < 255 for x in options):
        raise ValueError("must be 1 … 64 option numbers, each 1 … 254")
    return options


def os_family(value: str | Sequence[int]) -> str:
    """The OS family of a client asking for these options (one of FAMILIES)."""
    options = parse_list(value)
    known = KNOWN.get(options)
    if known is not None:
        return known
    asked = set(options)
    if {43, 44, 46, 47, 249} <= asked:  # vendor info, NetBIOS, classless routes (Microsoft)
        return "windows"
    if {119, 252} <= asked and 249 not in asked and options[:2] in ((1, 121), (1, 3)):
        return "ios"  # configd: domain search and WPAD, subnet mask first
    if {51, 58, 59} <= asked and 12 not in asked:
        return "android"  # lease, renewal and rebinding times, no host name
    if 12 in asked and (28 in asked or 42 in asked):
        return "linux"  # host name with broadcast address or NTP servers
    return "other"


def option55(message: bytes) -> tuple[int, ...] | None:
    """Option 55 of a DHCP message (a BOOTP packet, the UDP payload), or None when it has
    none; ValueError when the message is malformed."""
    if len(message) < BOOTP_FIXED + 4 or message[BOOTP_FIXED : BOOTP_FIXED + 4] != MAGIC_COOKIE:
        raise ValueError("not a DHCP message (no magic cookie)")
    at = BOOTP_FIXED + 4
    while at < len(message):
        code = message[at]
        if code == OPTION_END:
            return None
        if code == OPTION_PAD:
            at += 1
            continue
        if at + 1 >= len(message) or at + 2 + message[at + 1] > len(message):
            raise ValueError(f"option {code} runs past the end of the message")
        length = message[at + 1]
        if code == OPTION_PRL:
            return tuple(message[at + 2 : at + 2 + length])
        at += 2 + length
    raise ValueError("options end without an end option")


@dataclass(frozen=True, slots=True)
class DeviceOs:
    merchant_id: uuid.UUID
    device_hash: str  # kernel.privacy.device_hash (merchant key)
    os_family: str
    seen_at: datetime


async def record_device_os(
    conn: asyncpg.Connection | asyncpg.Pool, devices: list[DeviceOs]
) -> None:
    """Remember devices' OS families (the latest per device wins)."""
    latest: dict[tuple[uuid.UUID, str], DeviceOs] = {}
    for device in devices:
        if device.os_family not in FAMILIES:
            raise ValueError(f"unknown OS family {device.os_family!r}")
        key = (device.merchant_id, device.device_hash)
        if key not in latest or latest[key].seen_at <= device.seen_at:
            latest[key] = device
    rows = list(latest.values())
    await conn.execute(
        queries.record_device_os,
        [d.merchant_id for d in rows],
        [d.device_hash for d in rows],
        [d.os_family for d in rows],
        [d.seen_at for d in rows],
    )
