"""openNDS Forward Authentication Service (FAS), level 1.

openNDS answers a captive client with a redirect to `<faspath>?fas=<base64>`. The base64 is the
standard alphabet and is not percent-encoded, so it is read from the raw query string (a `+`
must not become a space). Decoded, it is `key=value` pairs separated by ", ".
Level 1 is not signed: every field is a claim until the router confirms it (the agent checks
`hid` against the token openNDS holds for the MAC; openNDS checks `rhid` on /opennds_auth/).
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import ipaddress
import re
from typing import NamedTuple
from urllib.parse import quote, unquote, urlsplit

from kernel.errors import PorticoError
from kernel.privacy import normalize_mac

MAX_FAS_LENGTH = 4096  # openNDS's own redirect is well under 2 KiB
MAX_FIELD_LENGTH = 1024
_HID = re.compile(r"^[0-9a-f]{64}$")
_GATEWAY_ADDRESS = re.compile(r"^([0-9.]{7,15}|\[[0-9a-fA-F:]+\]):(\d{1,5})$")
# An IPv4 address exactly as ipaddress writes it (four decimal octets 0-255, no leading zeros):
# valid and already canonical, so it needs no trip through the ipaddress module (a splash view
# checks two addresses). Anything else still goes through ipaddress.
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_CANONICAL_IPV4 = re.compile(rf"{_OCTET}\.{_OCTET}\.{_OCTET}\.{_OCTET}")
# A MAC already in normalize_mac's form (openNDS sends clientmac so) is returned as it is.
_NORMAL_MAC = re.compile(r"[0-9a-f]{2}(?::[0-9a-f]{2}){5}")
_KNOWN_FIELDS = frozenset(
    {"hid", "clientmac", "clientip", "gatewayaddress", "gatewaymac", "gatewayname"}
)
_UNSAFE_IN_URL = re.compile("[\r\n\t <>\"']")


class BadRedirect(PorticoError):
    """The gateway redirect is missing, malformed or inconsistent."""

    message_id = "error_bad_redirect"
    status = 400


class FasClient(NamedTuple):
    """The client a gateway redirect names (a NamedTuple: made on every splash view, and a
    frozen dataclass costs three times as much to make)."""

    hid: str
    client_ip: str
    client_mac: str
    gateway_address: str  # ip:port of the router's openNDS
    gateway_mac: str | None
    gateway_name: str
    origin_url: str
    client_type: str
    fields: dict[str, str]  # every field of the redirect, "(null)" read as ""
    # sha256hex of the gatewayname field as sent: what authmon sends as `gatewayhash`
    # (main.c runs `libopennds.sh hash_str <url_encoded_gw_name>`; fas-aes-https.php hashes
    # the decrypted gatewayname the same way).
    gateway_hash: str = ""

    @property
    def extra(self) -> dict[str, str]:
        """The fields besides the ones read into attributes."""
        return {k: v for k, v in self.fields.items() if k not in _KNOWN_FIELDS}


def raw_query_param(query_string: str, name: str) -> str | None:
    """A query parameter as sent, without form decoding ('+' stays '+')."""
    for pair in query_string.split("&"):
        key, sep, value = pair.partition("=")
        if sep and key == name:
            return value
    return None


def parse_fas(raw: str | None) -> FasClient:
    if not raw:
        raise BadRedirect("no fas parameter")
    if len(raw) > MAX_FAS_LENGTH:
        raise BadRedirect(f"fas parameter of {len(raw)} characters is too long")
    # Some clients percent-encode it anyway; base64 never contains '%'.
    return parse_fas_text(_b64decode(unquote(raw) if "%" in raw else raw))


def parse_fas_text(text: str) -> FasClient:
    """The decoded (level 1) or decrypted (levels 2/3) `key=value, ...` text."""
    return _client_from_fields(_split_fields(text))


IV_MARK = "&iv="


def carried_redirect(query_string: str) -> str | None:
    """The redirect as the splash carries it in its forms: `fas`, plus `&iv=<iv>` at levels
    2/3 (openNDS sends `?fas=<...>&iv=<...>`; both raw, neither percent-encoded)."""
    raw_fas = raw_query_param(query_string, "fas")
    raw_iv = raw_query_param(query_string, "iv")
    if raw_fas is None or raw_iv is None:
        return raw_fas
    return f"{raw_fas}{IV_MARK}{raw_iv}"


def split_carried(carried: str | None) -> tuple[str | None, str | None]:
    """(fas, iv) from a carried redirect; a percent-encoded one (a retry link) is decoded."""
    if not carried:
        return None, None
    if "%" in carried:
        carried = unquote(carried)
    raw_fas, sep, raw_iv = carried.partition(IV_MARK)
    return raw_fas, (raw_iv if sep else None)


def _b64decode(raw: str) -> str:
    try:
        data = base64.b64decode(raw + "=" * (-len(raw) % 4), validate=True)
        return data.decode("utf-8")
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise BadRedirect("fas parameter is not valid base64 text") from exc


def _split_fields(text: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    may_be_too_long = len(text) > MAX_FIELD_LENGTH  # no field is longer than the whole text
    for item in text.split(", "):
        key, sep, value = item.partition("=")
        if not sep:
            continue
        key = key.strip()
        if not key:
            continue
        if may_be_too_long and len(value) > MAX_FIELD_LENGTH:
            raise BadRedirect(f"field {key!r} is too long")
        if key not in fields:  # the first one counts
            fields[key] = "" if value == "(null)" else value.strip()
    return fields


def _client_from_fields(fields: dict[str, str]) -> FasClient:
    hid = fields.get("hid", "").lower()
    if not _HID.match(hid):
        raise BadRedirect("hid is missing or not a sha256 hex digest")
    mac = _mac(fields.get("clientmac", ""))
    if mac is None:
        raise BadRedirect("clientmac is missing or not a MAC address")
    client_ip = _ip(fields.get("clientip", ""), "clientip")
    gateway_address = _gateway_address(fields.get("gatewayaddress", ""))
    gateway_mac_text = fields.get("gatewaymac", "")
    gateway_mac = _gateway_mac(gateway_mac_text) if gateway_mac_text else None
    if gateway_mac_text and gateway_mac is None:
        raise BadRedirect("gatewaymac is not a MAC address")
    gateway_name, gateway_hash = _gateway(fields.get("gatewayname", ""))
    return FasClient(
        hid=hid,
        client_ip=client_ip,
        client_mac=mac,
        gateway_address=gateway_address,
        gateway_mac=gateway_mac,
        gateway_name=gateway_name,
        origin_url=_origin_url(fields.get("originurl", "")),
        client_type=fields.get("client_type", "cpd_can")[:16],
        fields=fields,
        gateway_hash=gateway_hash,
    )


def _ip(value: str, name: str) -> str:
    if _CANONICAL_IPV4.fullmatch(value):
        return value
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise BadRedirect(f"{name} is missing or not an IP address") from None


def _mac(value: str) -> str | None:
    """normalize_mac(value)."""
    return value if _NORMAL_MAC.fullmatch(value) else normalize_mac(value)


# The gateway's own fields (gatewayaddress, gatewaymac, gatewayname) are the same in every
# redirect a router sends: pure functions of them are worked out once per router, not on every
# splash view. A field that fails its check raises every time (exceptions are not cached).


@functools.lru_cache(maxsize=1024)
def _gateway_address(gateway_address: str) -> str:
    match = _GATEWAY_ADDRESS.match(gateway_address)
    if not match or not 0 < int(match.group(2)) < 65536:
        raise BadRedirect("gatewayaddress is missing or not ip:port")
    _ip(match.group(1).strip("[]"), "gatewayaddress")
    return gateway_address


@functools.lru_cache(maxsize=1024)
def _gateway_mac(gateway_mac: str) -> str | None:
    return normalize_mac(gateway_mac)


@functools.lru_cache(maxsize=1024)
def _gateway(encoded: str) -> tuple[str, str]:
    """(_gateway_name, sha256_hex) of a gatewayname as sent."""
    return _gateway_name(encoded), sha256_hex(encoded)


# What a shopper first asked for is, nearly always, their phone's captive-portal probe
# (captive.apple.com/hotspot-detect.html, connectivitycheck.gstatic.com/generate_204, …): a
# handful of URLs across all shoppers, so the few most recent are remembered (a pure function).
@functools.lru_cache(maxsize=256)
def _origin_url(encoded: str) -> str:
    return safe_origin_url(unquote(encoded))


def _gateway_name(encoded: str) -> str:
    """openNDS url-encodes the name and appends " Node:<mac> "; keep the merchant's part."""
    name = unquote(encoded)
    return name.split(" Node:")[0].strip()[:100]


def safe_origin_url(url: str) -> str:
    """The URL the shopper first asked for, if it is a plain http(s) URL; else ''."""
    if not url or len(url) > 2048:
        return ""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return ""
    if _UNSAFE_IN_URL.search(url):
        return ""
    return url


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def rhid(hid: str, faskey: str) -> str:
    """What openNDS expects back on /opennds_auth/: sha256hex(hid + faskey)."""
    return sha256_hex(hid + faskey)


def auth_url(client: FasClient, faskey: str, landing_url: str) -> str:
    """The gateway URL that makes openNDS itself check the grant and then send the shopper on."""
    return (
        f"http://{client.gateway_address}/opennds_auth/"
        f"?tok={rhid(client.hid, faskey)}&redir={quote(landing_url, safe='')}"
    )


def encode_fas(fields: dict[str, str]) -> str:
    """Build a `fas=` value as openNDS does (used by the simulated gateway and tests)."""
    text = ", ".join(f"{k}={v}" for k, v in fields.items())
    return base64.b64encode(text.encode()).decode()
