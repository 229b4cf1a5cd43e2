"""DHCP option-55 fingerprints (analytics.fingerprints): DHCP messages crafted with scapy, as
each OS family's client sends them, give that family; malformed ones are refused."""

from __future__ import annotations

import pytest
from scapy.layers.dhcp import BOOTP, DHCP

from analytics.fingerprints import KNOWN, option55, os_family, parse_list

# (option 55 as the client sends it, the family): table entries and lists the table lacks.
CLIENTS = [
    ([1, 121, 3, 6, 15, 108, 114, 119, 252], "ios"),  # iOS 16+
    ([1, 121, 3, 6, 15, 119, 252, 95, 44, 46], "ios"),  # macOS
    ([1, 121, 3, 6, 15, 114, 119, 252, 108, 95], "ios"),  # not in the table: traits
    ([1, 3, 6, 15, 26, 28, 51, 58, 59, 43, 114], "android"),  # Android 11+
    ([1, 3, 6, 15, 26, 28, 51, 58, 59, 43, 114, 108, 33], "android"),  # traits
    ([1, 3, 6, 15, 31, 33, 43, 44, 46, 47, 119, 121, 249, 252], "windows"),  # Windows 10/11
    ([1, 15, 3, 6, 44, 46, 47, 31, 33, 121, 249, 43, 0x2B], "windows"),  # traits
    ([1, 28, 2, 3, 15, 6, 119, 12, 44, 47, 26, 121, 42], "linux"),  # dhclient
    ([1, 3, 6, 12, 15, 28, 42], "linux"),  # udhcpc
    ([1, 3, 6, 12, 15, 28, 40, 41], "linux"),  # traits
    ([1, 3, 6], "other"),  # a printer, a camera…
]


def discover(options: list[int], *, end: bool = True) -> bytes:
    """A DHCPDISCOVER's UDP payload as scapy builds it (the reference)."""
    dhcp_options: list[object] = [
        ("message-type", "discover"),
        ("hostname", b"phone"),
        ("param_req_list", options),
    ]
    if end:
        dhcp_options.append("end")
    return bytes(BOOTP(chaddr=bytes.fromhex("da0000000001"), xid=7) / DHCP(options=dhcp_options))


@pytest.mark.parametrize(("options", "family"), CLIENTS)
def test_crafted_dhcp_messages_give_the_os_family(options: list[int], family: str) -> None:
    message = discover(options)
    assert option55(message) == tuple(options)
    assert os_family(option55(message) or ()) == family
    assert os_family(",".join(map(str, options))) == family


def test_every_table_entry_is_a_known_family_and_a_valid_list() -> None:
    assert {family for family in KNOWN.values()} <= {"ios", "android", "windows", "linux"}
    for options in KNOWN:
        assert parse_list(",".join(map(str, options))) == options


def test_a_message_without_option_55_has_none() -> None:
    message = bytes(BOOTP(xid=1) / DHCP(options=[("message-type", "request"), "end"]))
    assert option55(message) is None


@pytest.mark.parametrize(
    "message",
    [
        b"",
        bytes(BOOTP(xid=1)),  # BOOTP without the DHCP magic cookie
        discover([1, 3, 6])[:-3],  # option 55 cut short
        bytes(BOOTP(xid=1) / DHCP(options=[("message-type", "discover")])),  # no end
    ],
)
def test_malformed_dhcp_messages_are_refused(message: bytes) -> None:
    with pytest.raises(ValueError):
        option55(message)


@pytest.mark.parametrize(
    "text", ["", "1,,3", "1,3,", "a,b", "1,3,256", "0,1", "1, 3", ",".join(["1"] * 65), "1" * 300]
)
def test_bad_option_lists_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        os_family(text)
