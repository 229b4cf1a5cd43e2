"""The HTTP endpoints routers use to install themselves, served by the portal app.

The install command is `wget -qO- https://<portal>/i/<code> | sh`:

- `GET /i/<code>` answers a short shell script that downloads the installer
  (`GET /i/firmware.tar.gz`: firmware-scripts/ as a tarball) and runs
  `install.sh --claim <code> --portal <url>`. It redeems nothing, so a link preview or a
  repeated download never uses the code up. A code that cannot be used gets a script that
  says why in plain words and exits 1 (with `| sh`, a 404 would print nothing at all).
- `POST /i/<code>` redeems the code, once: `key=value` lines (text/plain) with the router's
  identity, its new MQTT password, the broker's address, its faskey and openNDS's FAS settings.
  Failures answer 404 (unknown), 409 (used), 410 (expired, replaced, revoked) or 429 (too many
  failed codes from this address), with `error=<reason>` and a `message=` line.
- `GET /i/ping` answers `portico <unix time>`: the installer's self-check (is the portal
  reachable, is the router's clock right).

The composition root mounts `routes` on the portal app (portico/runtime.py).
"""

from __future__ import annotations

import functools
import gzip
import io
import ipaddress
import logging
import tarfile
import time
from pathlib import Path
from urllib.parse import urlsplit

from aiohttp import web

from accounts import services as accounts
from controller import provisioning
from kernel.config import Settings
from kernel.mqtt import parse_mqtt_url
from kernel.web import DB, SETTINGS, client_ip

log = logging.getLogger("portico.controller.install")

routes = web.RouteTableDef()

FIRMWARE_DIR = Path(__file__).resolve().parents[1] / "firmware-scripts"
FIRMWARE_FILES = ("install.sh", "uninstall.sh", "files")
SCRIPT_TYPE = "text/plain"  # what a browser shows as text; `sh` does not care
HEARTBEAT = 60  # seconds between the agent's status messages

# What the installer shows for each reason a code cannot be used.
REASONS = {
    "unknown": "this install code is unknown: check that the command was copied whole",
    "expired": "this install code has expired: make a new one in the console (Routers)",
    "replaced": "this install code was replaced by a newer one: use the newest command",
    "used": "this install code was used already by another installation: make a new one in "
    "the console (Routers, New install code)",
    "revoked": "this router was revoked in the console: add a new router there",
    "rate_limited": "too many wrong install codes from this address: wait 15 minutes",
}


@routes.get("/i/ping", name="install_ping")
async def ping(request: web.Request) -> web.Response:
    return web.Response(text=f"portico {int(time.time())}\n", headers=_no_store())


@routes.get("/i/firmware.tar.gz", name="install_firmware")
async def firmware(request: web.Request) -> web.Response:
    try:
        body = firmware_tarball()
    except FileNotFoundError:
        log.error("firmware-scripts/ is missing beside the code (%s)", FIRMWARE_DIR)
        raise web.HTTPServiceUnavailable(text="the installer is not available here\n") from None
    return web.Response(body=body, content_type="application/gzip", headers=_no_store())


@routes.get("/i/{code}", name="install_script")
async def install_script(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    code = request.match_info["code"]
    try:
        router_id = await provisioning.check_claim(request.app[DB], code, client_ip(request))
    except provisioning.ClaimFailed as exc:
        log.info("install script for a code that cannot be used: %s", exc)
        return _script(_error_script(exc.reason))
    return _script(bootstrap_script(settings.portal_url, code, router_id))


@routes.post("/i/{code}", name="install_claim")
async def claim(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    db = request.app[DB]
    try:
        redemption = await provisioning.redeem_claim(
            db, request.match_info["code"], client_ip(request)
        )
    except provisioning.ClaimFailed as exc:
        log.info("install code refused (%s) from %s: %s", exc.reason, client_ip(request), exc)
        text = _lines({"error": exc.reason, "message": REASONS[exc.reason]})
        headers = _no_store()
        if isinstance(exc, provisioning.TooManyClaims):
            headers["Retry-After"] = str(int(provisioning.CLAIM_WINDOW.total_seconds()))
        return web.Response(status=exc.status, text=text, headers=headers)
    store = await accounts.get_store(db, redemption.merchant_id, redemption.store_id)
    log.info("router %s redeemed its install code (%s)", redemption.router_id, client_ip(request))
    fields = claim_response(settings, redemption, store.name if store else "Portico")
    return web.Response(text=_lines(fields), headers=_no_store())


def claim_response(
    settings: Settings, redemption: provisioning.Redemption, gateway_name: str
) -> dict[str, str]:
    """What a router receives for its install code (firmware-scripts/install.sh reads it)."""
    broker = parse_mqtt_url(settings.router_broker_url)
    return {
        "router_id": redemption.router_id,
        "mqtt_username": redemption.router_id,
        "mqtt_password": redemption.mqtt_password,
        "broker_host": broker.host,
        "broker_port": str(broker.port),
        "broker_tls": "1" if broker.tls else "0",
        "faskey": redemption.faskey,
        "heartbeat": str(HEARTBEAT),
        **fas_settings(settings.portal_url, redemption.router_id, redemption.fas_level),
        "gatewayname": _gateway_name(gateway_name),
        "server_time": str(int(time.time())),
    }


def fas_settings(portal_url: str, router_id: str, fas_level: int) -> dict[str, str]:
    """openNDS's FAS options that point it at the portal (its option names, src/conf.c).

    openNDS sends phones to http://<fasremotefqdn or fasremoteip>:<fasport><faspath> at FAS
    levels 1 and 2 and to https:// at level 3, and lets not-yet-logged-in phones reach that
    address and port itself. An https portal is reached over plain HTTP on port 80 at levels 1
    and 2 (it must answer there too); `walledgarden_port` is the portal's own port, which phones
    need for the portal's https pages and its RFC 8908 API.
    """
    parts = urlsplit(portal_url)
    host = parts.hostname or ""
    https = parts.scheme == "https"
    port = parts.port or (443 if https else 80)
    if fas_level < 3 and https:
        fasport = 80 if parts.port is None else port
    else:
        fasport = port
    literal = _is_ipv4(host)
    return {
        "portal_url": portal_url.rstrip("/"),
        "fas_level": str(fas_level),
        "fasremotefqdn": "" if literal else host,
        "fasremoteip": host if literal else "",
        "fasport": str(fasport),
        "faspath": f"{parts.path.rstrip('/')}/fas/{router_id}/",
        "walledgarden_host": host,
        "walledgarden_port": str(port),
        "captive_api_url": f"{portal_url.rstrip('/')}/captive-api/{router_id}" if https else "",
    }


def _is_ipv4(host: str) -> bool:
    try:
        return isinstance(ipaddress.ip_address(host), ipaddress.IPv4Address)
    except ValueError:
        return False


def _gateway_name(name: str) -> str:
    # openNDS's gatewayname may not hold a single quote; the rest goes through uci as is.
    cleaned = "".join(c for c in name if c.isprintable()).replace("'", "’")
    return cleaned.strip()[:64] or "Portico"


def _lines(fields: dict[str, str]) -> str:
    for key, value in fields.items():
        if "\n" in value or "\r" in value:
            raise ValueError(f"{key} holds a line break")
    return "".join(f"{key}={value}\n" for key, value in fields.items())


def _no_store() -> dict[str, str]:
    return {"Cache-Control": "no-store"}


def _script(text: str) -> web.Response:
    return web.Response(text=text, content_type=SCRIPT_TYPE, headers=_no_store())


def _sh_quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def bootstrap_script(portal_url: str, code: str, router_id: str) -> str:
    """The script `wget -qO- <portal>/i/<code> | sh` runs: fetch the installer, run it."""
    portal = _sh_quote(portal_url.rstrip("/"))
    return f"""#!/bin/sh
# Portico: install router {router_id} (firmware-scripts/README.md). Downloads the installer
# from the portal and runs it; the installer redeems the install code.
portal={portal}
code={_sh_quote(code)}
dir="${{TMPDIR:-/tmp}}/portico-install.$$"
fail() {{
	echo "portico: $*" >&2
	rm -rf "$dir"
	exit 1
}}
mkdir -p "$dir" || fail "cannot create $dir"
wget -qO "$dir/firmware.tar.gz" "$portal/i/firmware.tar.gz" ||
	fail "cannot download the installer from $portal/i/firmware.tar.gz"
tar -xzf "$dir/firmware.tar.gz" -C "$dir" ||
	fail "the installer download is damaged: run the command again"
sh "$dir/install.sh" --claim "$code" --portal "$portal"
status=$?
rm -rf "$dir"
exit $status
"""


def _error_script(reason: str) -> str:
    return f"""#!/bin/sh
echo 'portico install: error: {REASONS[reason]}' >&2
exit 1
"""


@functools.cache
def firmware_tarball() -> bytes:
    """firmware-scripts/ (the installer, the uninstaller and files/) as a .tar.gz, made once."""
    buffer = io.BytesIO()
    # mtime 0 and sorted names: the same files always give the same bytes.
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name in FIRMWARE_FILES:
            root = FIRMWARE_DIR / name
            paths = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
            if not paths:
                raise FileNotFoundError(root)
            for path in paths:
                info = tar.gettarinfo(str(path), arcname=str(path.relative_to(FIRMWARE_DIR)))
                info.mtime = 0
                info.uid = info.gid = 0
                info.uname = info.gname = "root"
                with path.open("rb") as fh:
                    tar.addfile(info, fh)
    return gzip.compress(buffer.getvalue(), compresslevel=9, mtime=0)
