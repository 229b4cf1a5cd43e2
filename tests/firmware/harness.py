"""Helpers to run the router agent (firmware-scripts/) in tests: busybox environment with
stubs, the broker and an MQTT probe, and the agent process. The fixtures that wrap them are in
tests/firmware/conftest.py, which describes them.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import paho.mqtt.client as mqtt
import pytest

from simulators.opennds import RefusalModel

REPO = Path(__file__).resolve().parents[2]
FIRMWARE = REPO / "firmware-scripts"
FILES = FIRMWARE / "files"
AGENT_SCRIPT = FILES / "usr/sbin/portico-agent"
JSON_AWK = FILES / "usr/lib/portico/json.awk"
INSTALL_SH = FIRMWARE / "install.sh"
BUSYBOX = shutil.which("busybox") or "/usr/bin/busybox"

MISSING_TOOLS = [
    tool for tool in ("busybox", "mosquitto_sub", "mosquitto_pub") if shutil.which(tool) is None
]
needs_tools = pytest.mark.skipif(
    bool(MISSING_TOOLS),
    reason=f"missing {', '.join(MISSING_TOOLS)} (apt-get install busybox mosquitto-clients)",
)

WAIT = 15.0  # seconds, the default bound of every wait on the agent (CI may be twice as slow)


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def new_device_id() -> str:
    return f"t-{uuid.uuid4().hex[:20]}"


def new_cmd_id() -> str:
    return uuid.uuid4().hex


def command(
    op: str,
    args: dict[str, Any] | None = None,
    *,
    cmd_id: str | None = None,
    exp: int | None = None,
    v: int = 1,
    wait_ms: int | None = None,
) -> dict[str, Any]:
    """A contract cmd payload; exp defaults to now + 30 s, wait_ms to the agent's default."""
    payload: dict[str, Any] = {
        "v": v,
        "id": cmd_id or new_cmd_id(),
        "op": op,
        "args": {} if args is None else args,
        "exp": int(time.time()) + 30 if exp is None else exp,
    }
    if wait_ms is not None:
        payload["wait_ms"] = wait_ms
    return payload


def busybox_now_floor() -> int:
    """A unix second no later than what busybox `date +%s` prints from now on. date reads
    time(), the kernel's clock as of its last tick, which can still be in the previous second
    a few milliseconds after time.time() has passed into the next one (a CI run saw it)."""
    return int(time.time()) - 1


def wait_until(check: Callable[[], Any], timeout: float = WAIT, step: float = 0.05) -> Any:
    """Poll check() until it returns something truthy; fail after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() >= deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(step)


# ---------------------------------------------------------------------------- stubs

NDSCTL_STUB = r"""#!{sh}
# Fake ndsctl: a model of openNDS 11's ndsctl and the openNDS behind it. Records its argv
# (tab-separated) and keeps openNDS's client table in "clients", one "mac token state" a line.
#   ndsctl main():         joins the arguments with "," into the request's parameter.
#   ndsctl_do():           "Yes" prints ifyes and exits 0, "No" prints ifno and exits 1 (stdout).
#   connect_to_server():   no openNDS (file ndsctl.down): "probably not yet started", exit 3.
#   ndsctl_json_one():     the client as a JSON object, or {{}} for a client it does not hold.
#   ndsctl_auth():         grants only a Preauthenticated client (auth_change_state, src/auth.c);
#                          binauth_action()'s system() returns -1 when sigchld_handler()
#                          (src/main.c) reaps the child first, and the client stays
#                          Preauthenticated: refused here as ndsctl.refuse says, in runs.
#   ndsctl_deauth():       deletes an Authenticated client from the list (auth_change_state).
#   thread_ndsctl():       one thread serves the requests one after another
#                          (src/ndsctl_thread.c), auth waits for the binauth script: on a busy
#                          router each call takes a while, ndsctl.delay's seconds here.
dir='{dir}'
printf '%s\t' "$@" >>"$dir/ndsctl.calls"
printf '\n' >>"$dir/ndsctl.calls"
[ ! -f "$dir/ndsctl.delay" ] || sleep "$(cat "$dir/ndsctl.delay")"
if [ -f "$dir/ndsctl.fail.$1" ]; then # a test's own failure
	cat "$dir/ndsctl.fail.$1" >&2
	exit 1
fi
if [ -f "$dir/ndsctl.down" ]; then
	echo "ndsctl: opennds probably not yet started (Error: Connection refused)" >&2
	exit 3
fi
cmd=$1
shift
if [ "$cmd" = status ]; then # ndsctl_status: a test's text (set_ndsctl_status) or a default
	if [ -f "$dir/ndsctl.status" ]; then
		cat "$dir/ndsctl.status"
		exit "$(cat "$dir/ndsctl.status.rc")"
	fi
	printf '==================\nopenNDS Status\n====\nVersion: 11.0.0\nUptime: 1h 2m 3s\n'
	printf 'Gateway Name: Portico Test\nManaged interface: br-lan\n'
	printf 'Current clients: %s\n' "$(grep -c . "$dir/clients")"
	exit 0
fi
if [ "$cmd" = json ] && [ $# -eq 0 ]; then # ndsctl_json_all: every client, counters in KiB
	n=$(grep -c . "$dir/clients")
	printf '{{\n  "client_list_length":"%s",\n  "clients":{{\n' "$n"
	i=0
	while read -r mac token state down up; do
		i=$((i + 1))
		printf '    "%s":{{\n      "version":"11.0.0",\n' "$mac"
		printf '      "mac":"%s",\n      "ip":"192.168.1.23",\n' "$mac"
		printf '      "session_start":"1764000000",\n      "last_active":"1764000100",\n'
		printf '      "token":"%s",\n      "state":"%s",\n' "$token" "$state"
		printf '      "download_this_session":"%s",\n' "${{down:-0}}"
		printf '      "upload_this_session":"%s"\n    }}' "${{up:-0}}"
		[ "$i" -lt "$n" ] && printf ','
		printf '\n'
	done <"$dir/clients"
	printf '  }}\n}}\n'
	exit 0
fi
param=$(printf '%s,' "$@")
param=${{param%,}}
line=$(grep "^$1 " "$dir/clients")
set -- $line
case $cmd in
json)
	if [ -z "$line" ]; then
		echo '{{}}'
		exit 0
	fi
	printf '{{\n  "gatewayname":"Portico%%20Test",\n  "gatewayaddress":"192.168.1.1:2050",\n'
	printf '  "mac":"%s",\n  "ip":"192.168.1.23",\n  "clientif":"br-lan",\n' "$1"
	printf '  "session_start":"0",\n  "session_end":"null",\n  "last_active":"1764000000",\n'
	printf '  "token":"%s",\n  "state":"%s",\n  "download_rate_limit":"0"\n}}\n' "$2" "$3"
	;;
auth)
	# ndsctl.refuse: "<after a grant> <after a refusal>", chances in 1/65536 of a refusal
	# (simulators.opennds.RefusalModel); ndsctl.refused: whether the last binauth run lost.
	read -r after_grant after_refusal <"$dir/ndsctl.refuse" 2>/dev/null
	chance=${{after_grant:-0}}
	[ -f "$dir/ndsctl.refused" ] && chance=${{after_refusal:-0}}
	roll=$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')
	if [ "$3" = Preauthenticated ] && [ "$roll" -lt "$chance" ]; then
		: >"$dir/ndsctl.refused"
	elif [ "$3" = Preauthenticated ]; then
		rm -f "$dir/ndsctl.refused"
		sed -i "s/^$1 $2 Preauthenticated/$1 $2 Authenticated/" "$dir/clients"
		echo "Client $param authenticated."
		exit 0
	fi
	echo "Failed to authenticate client $param."
	exit 1
	;;
deauth)
	if [ "$3" = Authenticated ]; then
		sed -i "/^$1 /d" "$dir/clients"
		echo "Client $param deauthenticated."
		exit 0
	fi
	echo "Client $param not found."
	exit 1
	;;
esac
"""

UCI_STUB = r"""#!{sh}
# Fake uci: records its argv; get/set/commit on a KEY=VALUE file (the last line of a key
# wins), lists in another. `delete` drops an option; `export CONFIG` prints the config's lines
# (exit 1 when it has none, like uci for a missing config) and `import CONFIG` replaces them
# with what export printed; `add CONFIG TYPE` makes a section; `get` of a section that has
# options prints its type.
dir='{dir}'
printf '%s\t' "$@" >>"$dir/uci.calls"
printf '\n' >>"$dir/uci.calls"
while [ $# -gt 0 ]; do
	case $1 in
	-q) shift ;;
	-c) shift 2 ;;
	*) break ;;
	esac
done
# without CONFIG: keep the lines of FILE that are not of config CONFIG
without() {{
	grep -v "^$1\." "$2" >"$2.new"
	mv "$2.new" "$2"
}}
case $1 in
get)
	# A list (add_list) prints its values on one line, separated by spaces, like uci.
	values=$(awk -v k="$2=" 'index($0, k) == 1 {{ print substr($0, length(k) + 1) }}' \
		"$dir/uci.lists")
	if [ -n "$values" ]; then
		printf '%s\n' "$values" | tr '\n' ' ' | sed 's/ $//'
		echo
		exit 0
	fi
	line=$(awk -v k="$2=" 'index($0, k) == 1' "$dir/uci.db" | tail -n 1)
	if [ -z "$line" ] && grep -qF "$2." "$dir/uci.db"; then
		echo "${{2%%.*}}" # a section: its type (here, the config's name)
		exit 0
	fi
	[ -n "$line" ] || exit 1
	[ -n "${{line#*=}}" ] || exit 1 # deleted
	printf '%s\n' "${{line#*=}}"
	;;
set) printf '%s\n' "$2" >>"$dir/uci.db" ;;
delete) printf '%s=\n' "$2" >>"$dir/uci.db" ;;
add)
	printf '%s.@%s[0].__section=%s\n' "$2" "$3" "$3" >>"$dir/uci.db"
	echo cfg01
	;;
add_list) printf '%s\n' "$2" >>"$dir/uci.lists" ;;
del_list)
	grep -vxF -e "$2" "$dir/uci.lists" >"$dir/uci.lists.new"
	mv "$dir/uci.lists.new" "$dir/uci.lists"
	;;
export)
	{{
		grep "^$2\." "$dir/uci.db" | sed 's/^/db /'
		grep "^$2\." "$dir/uci.lists" | sed 's/^/list /'
	}} >"$dir/uci.export"
	[ -s "$dir/uci.export" ] || exit 1
	cat "$dir/uci.export"
	;;
import)
	without "$2" "$dir/uci.db"
	without "$2" "$dir/uci.lists"
	while IFS= read -r line; do
		case $line in
		"db "*) printf '%s\n' "${{line#db }}" >>"$dir/uci.db" ;;
		"list "*) printf '%s\n' "${{line#list }}" >>"$dir/uci.lists" ;;
		esac
	done
	;;
commit) ;;
*)
	echo "uci stub: unsupported command $1" >&2
	exit 1
	;;
esac
"""

LOGGER_STUB = r"""#!{sh}
# Fake logger: appends "tag: message" lines to a file.
tag=''
while [ $# -gt 0 ]; do
	case $1 in
	-t) tag=$2; shift 2 ;;
	-p) shift 2 ;;
	*) break ;;
	esac
done
printf '%s: %s\n' "$tag" "$*" >>'{dir}/logger.log'
"""

NDS_INIT_STUB = r"""#!{sh}
# Fake /etc/init.d/opennds (PORTICO_NDS_INIT): records each call. A restart with a config that
# holds the text in nds.breaks (uci.db or uci.lists) cuts the router off the network
# (net.down: the mosquitto_pub/_sub wrappers then fail); any other restart restores it.
dir='{dir}'
echo "$1" >>"$dir/nds-init.calls"
[ "$1" = restart ] || exit 0
breaks=$(cat "$dir/nds.breaks" 2>/dev/null)
if [ -n "$breaks" ] && cat "$dir/uci.db" "$dir/uci.lists" | grep -qF "$breaks"; then
	: >"$dir/net.down"
else
	rm -f "$dir/net.down"
fi
"""

MQTT_CLIENT_WRAPPER = r"""#!{sh}
# {name} while the router may be cut off: fails as mosquitto does without a network while
# net.down exists, else runs the real client.
[ ! -f '{dir}/net.down' ] || {{ echo "Error: Network is unreachable" >&2; exit 1; }}
exec {real} "$@"
"""

REBOOT_STUB = r"""#!{sh}
# Fake reboot: records each call (reboot.calls) and logs it next to the agent's own lines, so a
# test sees whether the agent acked before it rebooted.
echo called >>'{dir}/reboot.calls'
printf 'reboot: called\n' >>'{dir}/logger.log'
"""

PIDOF_STUB = r"""#!{sh}
# Fake pidof: the pid of opennds comes from a file.
[ "$1" = opennds ] && [ -s '{dir}/opennds.pid' ] || exit 1
cat '{dir}/opennds.pid'
"""

OPKG_STUB = r"""#!{sh}
# Fake opkg: records its argv; list-installed prints the names in opkg.installed.
dir='{dir}'
printf '%s\t' "$@" >>"$dir/opkg.calls"
printf '\n' >>"$dir/opkg.calls"
while [ $# -gt 0 ]; do
	case $1 in
	-o) shift 2 ;;
	*) break ;;
	esac
done
case $1 in
list-installed) sed 's/$/ - 1.0-1/' "$dir/opkg.installed" ;;
update) [ ! -f "$dir/opkg.fail" ] || exit 1 ;;
install)
	shift
	for p in "$@"; do echo "$p" >>"$dir/opkg.installed"; done
	;;
remove)
	shift
	for p in "$@"; do
		grep -vx "$p" "$dir/opkg.installed" >"$dir/opkg.installed.new"
		mv "$dir/opkg.installed.new" "$dir/opkg.installed"
	done
	;;
*) exit 1 ;;
esac
"""

APK_STUB = r"""#!{sh}
# Fake apk (apk-tools, newer OpenWrt): records its argv; `info -e NAME` succeeds for the names
# in apk.installed, add/del change that list, update fails when apk.fail exists.
dir='{dir}'
printf '%s\t' "$@" >>"$dir/apk.calls"
printf '\n' >>"$dir/apk.calls"
while [ $# -gt 0 ]; do
	case $1 in
	--root | -p) shift 2 ;;
	*) break ;;
	esac
done
case $1 in
info)
	[ "$2" = -e ] || exit 1
	grep -qx "$3" "$dir/apk.installed"
	;;
update) [ ! -f "$dir/apk.fail" ] || exit 1 ;;
add)
	shift
	for p in "$@"; do echo "$p" >>"$dir/apk.installed"; done
	;;
del)
	shift
	for p in "$@"; do
		grep -vx "$p" "$dir/apk.installed" >"$dir/apk.installed.new"
		mv "$dir/apk.installed.new" "$dir/apk.installed"
	done
	;;
*) exit 1 ;;
esac
"""


UBUS_STUB = r"""#!{sh}
# Fake ubus: hostapd's objects over the stations in "stations" ("mac rssi interface" lines).
#   ubus list 'hostapd.*'              one hostapd.<interface> per interface
#   ubus call hostapd.<if> get_clients {{"freq":2412,"clients":{{"<mac>":{{"signal":-61,...}}}}}}
dir='{dir}'
case $1 in
list) awk '{{ print "hostapd." $3 }}' "$dir/stations" | sort -u ;;
call)
	[ "$3" = get_clients ] || exit 1
	ifname=${{2#hostapd.}}
	printf '{{"freq":2412,"clients":{{'
	awk -v i="$ifname" '$3 == i {{
		printf "%s\"%s\":{{\"auth\":true,\"signal\":%s}}", sep, $1, $2; sep = ","
	}}' "$dir/stations"
	printf '}}}}\n'
	;;
*) exit 1 ;;
esac
"""

IW_STUB = r"""#!{sh}
# Fake iw: `iw dev` lists the interfaces of "stations" as APs; `iw dev <if> station dump`
# prints a block per station of that interface, as iw does.
dir='{dir}'
[ "$1" = dev ] || exit 1
if [ $# -eq 1 ]; then
	echo "phy#0"
	for i in $(awk '{{ print $3 }}' "$dir/stations" | sort -u); do
		printf '\tInterface %s\n\t\tifindex 5\n\t\ttype AP\n' "$i"
	done
	printf '\tInterface phy0-sta0\n\t\tifindex 6\n\t\ttype managed\n'
	exit 0
fi
[ "$3 $4" = "station dump" ] || exit 1
awk -v i="$2" '$3 == i {{
	printf "Station %s (on %s)\n\tinactive time:\t10 ms\n", $1, i
	printf "\tsignal:  \t%s [%s, %s] dBm\n", $2, $2, $2
}}' "$dir/stations"
"""


def read_calls(path: Path) -> list[list[str]]:
    """Calls recorded by a stub: one list of arguments per call."""
    if not path.exists():
        return []
    return [line.split("\t")[:-1] for line in path.read_text().splitlines()]


@dataclass
class BusyboxEnv:
    """A temp dir with busybox applets and stubs, for running the agent or the installer."""

    root: Path
    bin: Path
    stubs: Path
    state_dir: Path

    @classmethod
    def create(cls, root: Path, busybox_bin_dir: Path) -> BusyboxEnv:
        stubs = root / "stubs"
        stubs.mkdir(parents=True)
        state_dir = root / "state"
        sh = busybox_bin_dir / "sh"
        for name, text in [
            ("ndsctl", NDSCTL_STUB),
            ("uci", UCI_STUB),
            ("logger", LOGGER_STUB),
            ("pidof", PIDOF_STUB),
            ("opkg", OPKG_STUB),
            ("ubus", UBUS_STUB),
            ("iw", IW_STUB),
            ("reboot", REBOOT_STUB),
            ("nds-init", NDS_INIT_STUB),
        ]:
            path = stubs / name
            path.write_text(text.format(sh=sh, dir=stubs))
            path.chmod(0o755)
        for name in ("clients", "uci.db", "uci.lists", "opkg.installed", "apk.installed"):
            (stubs / name).write_text("")
        return cls(root=root, bin=busybox_bin_dir, stubs=stubs, state_dir=state_dir)

    @property
    def ndsctl_calls_path(self) -> Path:
        return self.stubs / "ndsctl.calls"

    def env(self, **extra: str) -> dict[str, str]:
        env = {
            "PATH": f"{self.stubs}:{self.bin}:/usr/bin",
            "HOME": str(self.root),
            "LC_ALL": "C",
            "PORTICO_NDS_INIT": str(self.stubs / "nds-init"),
        }
        env.update(extra)
        return env

    def set_clients(self, clients: dict[str, str | tuple[str, str]]) -> None:
        """The fake openNDS client table: mac -> token, or mac -> (token, state)."""
        lines = []
        for mac, entry in clients.items():
            token, state = (entry, "Preauthenticated") if isinstance(entry, str) else entry
            lines.append(f"{mac} {token} {state}\n")
        (self.stubs / "clients").write_text("".join(lines))

    def ndsctl_calls(self) -> list[list[str]]:
        return read_calls(self.ndsctl_calls_path)

    def set_stations(self, stations: list[tuple[str, int, str]]) -> None:
        """The WiFi stations hostapd holds (what the ubus and iw stubs report):
        [(mac, rssi, interface), ...]."""
        text = "".join(f"{mac} {rssi} {ifname}\n" for mac, rssi, ifname in stations)
        (self.stubs / "stations").write_text(text)

    def set_usage(self, mac: str, down_kb: int, up_kb: int) -> None:
        """A client's session counters as `ndsctl json` reports them (KiB)."""
        path = self.stubs / "clients"
        lines = []
        for line in path.read_text().splitlines():
            fields = line.split()
            if fields and fields[0] == mac:
                line = " ".join([*fields[:3], str(down_kb), str(up_kb)])
            lines.append(line + "\n")
        path.write_text("".join(lines))

    def remove_stub(self, name: str) -> None:
        """A router without this program (e.g. no ubus: the agent falls back to iw)."""
        (self.stubs / name).unlink()

    def fail_ndsctl(self, subcommand: str, message: str = "ndsctl: failed") -> None:
        """Make `ndsctl <subcommand>` print message on stderr and exit 1."""
        (self.stubs / f"ndsctl.fail.{subcommand}").write_text(message + "\n")

    def refuse_auth(self, percent: int, run: float | None = None) -> None:
        """Make openNDS refuse this share of `ndsctl auth` calls by accident (binauth race),
        in runs of mean length `run` (simulators.opennds.RefusalModel; None: independently)."""
        model = RefusalModel(percent / 100, run, random.Random(0))
        after_grant, after_refusal = (round(p * 65536) for p in model.transitions)
        (self.stubs / "ndsctl.refuse").write_text(f"{after_grant} {after_refusal}\n")

    def set_ndsctl_delay(self, seconds: float) -> None:
        """Every ndsctl call takes this long, as on a busy router (0: no delay)."""
        path = self.stubs / "ndsctl.delay"
        if seconds:
            path.write_text(f"{seconds}\n")
        else:
            path.unlink(missing_ok=True)

    def set_nds_down(self, down: bool) -> None:
        """openNDS not running (or still starting): ndsctl cannot connect and exits 3."""
        path = self.stubs / "ndsctl.down"
        if down:
            path.write_text("")
        else:
            path.unlink(missing_ok=True)

    def client_states(self) -> dict[str, str]:
        """The fake openNDS client table now: mac -> state."""
        rows = (line.split() for line in (self.stubs / "clients").read_text().splitlines())
        return {row[0]: row[2] for row in rows if len(row) == 3}

    def set_nds_pid(self, pid: str | None) -> None:
        """What `pidof opennds` prints; None: openNDS is not running."""
        (self.stubs / "opennds.pid").write_text(pid or "")

    def uci_calls(self) -> list[list[str]]:
        return read_calls(self.stubs / "uci.calls")

    def uci_db(self) -> dict[str, str]:
        pairs = (line.split("=", 1) for line in (self.stubs / "uci.db").read_text().splitlines())
        return {key: value for key, value in pairs}

    def uci_list(self, key: str) -> list[str]:
        """The values `uci add_list` gave `key` (less those `del_list` took away)."""
        lines = (self.stubs / "uci.lists").read_text().splitlines()
        return [line.split("=", 1)[1] for line in lines if line.startswith(key + "=")]

    def break_network_with(self, text: str) -> None:
        """Model a configuration that cuts the router off: once openNDS restarts with `text`
        in its uci config, every new mosquitto_pub/mosquitto_sub fails (until a restart
        without it). The agent's running subscriber is not affected."""
        (self.stubs / "nds.breaks").write_text(text)
        for name in ("mosquitto_pub", "mosquitto_sub"):
            real = shutil.which(name)
            path = self.stubs / name
            path.write_text(
                MQTT_CLIENT_WRAPPER.format(sh=self.bin / "sh", dir=self.stubs, name=name, real=real)
            )
            path.chmod(0o755)

    def network_down(self) -> bool:
        return (self.stubs / "net.down").exists()

    def nds_restarts(self) -> int:
        path = self.stubs / "nds-init.calls"
        return path.read_text().split().count("restart") if path.exists() else 0

    def reboots(self) -> int:
        """How many times `reboot` ran."""
        path = self.stubs / "reboot.calls"
        return len(path.read_text().splitlines()) if path.exists() else 0

    def set_ndsctl_status(self, text: str, exit_code: int = 0) -> None:
        """What `ndsctl status` prints (stdout) and its exit status."""
        (self.stubs / "ndsctl.status").write_text(text)
        (self.stubs / "ndsctl.status.rc").write_text(f"{exit_code}\n")

    def opkg_calls(self) -> list[list[str]]:
        return read_calls(self.stubs / "opkg.calls")

    def use_apk(self) -> None:
        """A newer OpenWrt: apk instead of opkg (the stub apk, and no opkg on PATH)."""
        path = self.stubs / "apk"
        path.write_text(APK_STUB.format(sh=self.bin / "sh", dir=self.stubs))
        path.chmod(0o755)
        (self.stubs / "opkg").unlink()

    def apk_calls(self) -> list[list[str]]:
        return read_calls(self.stubs / "apk.calls")

    def log_text(self) -> str:
        path = self.stubs / "logger.log"
        return path.read_text() if path.exists() else ""


# ---------------------------------------------------------------------------- MQTT


def close_client(client: mqtt.Client) -> None:
    """Disconnect and stop the network thread, which closes the client's sockets."""
    client.disconnect()
    client.loop_stop()


@dataclass
class Message:
    kind: str  # status, ack or evt
    payload: bytes
    retain: bool

    def json(self) -> dict[str, Any]:
        return json.loads(self.payload)


class Probe:
    """A paho client subscribed to ap/v1/<device_id>/{status,ack,evt}; records all it gets."""

    def __init__(self, broker: Broker, device_id: str) -> None:
        self.device_id = device_id
        self.messages: list[Message] = []
        self.ignored_ids: set[str] = set()  # acks of AgentProcess.wait_ready's pings
        self._cond = threading.Condition()
        self._subscribed = threading.Event()
        self._client = broker.client()
        self._client.on_message = self._on_message
        self._client.on_subscribe = lambda *_: self._subscribed.set()
        kinds = ("status", "ack", "evt", "tele", "state")
        topics = [(f"ap/v1/{device_id}/{kind}", 1) for kind in kinds]
        self._client.subscribe(topics)
        if not self._subscribed.wait(WAIT):
            self.close()
            raise AssertionError("probe: no SUBACK from the broker")

    def _on_message(self, _client: Any, _userdata: Any, msg: mqtt.MQTTMessage) -> None:
        with self._cond:
            kind = msg.topic.rsplit("/", 1)[-1]
            self.messages.append(Message(kind, bytes(msg.payload), bool(msg.retain)))
            self._cond.notify_all()

    def close(self) -> None:
        close_client(self._client)

    def _of_kind(self, kind: str) -> list[Message]:
        return [
            m
            for m in self.messages
            if m.kind == kind and not (kind == "ack" and m.json().get("id") in self.ignored_ids)
        ]

    def of_kind(self, kind: str) -> list[Message]:
        """Messages of kind (status, ack, evt) so far, in order."""
        with self._cond:
            return self._of_kind(kind)

    def wait_for(
        self,
        kind: str,
        match: Callable[[Message], bool] = lambda m: True,
        timeout: float = WAIT,
        skip: int = 0,
    ) -> Message:
        """The first message of kind (after the first `skip` of that kind) that matches."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = self._of_kind(kind)[skip:]
                for message in found:
                    if match(message):
                        return message
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"no matching {kind} within {timeout}s; got {[m.payload for m in found]}"
                    )
                self._cond.wait(left)

    def publish_cmd(self, payload: dict[str, Any] | str | bytes) -> None:
        data = json.dumps(payload) if isinstance(payload, dict) else payload
        info = self._client.publish(f"ap/v1/{self.device_id}/cmd", data, qos=1)
        info.wait_for_publish(WAIT)
        assert info.is_published(), "probe: command not published"

    def send_and_wait_ack(
        self, payload: dict[str, Any] | str | bytes, timeout: float = WAIT
    ) -> dict[str, Any]:
        """Publish a command and return the next ack (the agent answers in order)."""
        seen = len(self.of_kind("ack"))
        self.publish_cmd(payload)
        return self.wait_for("ack", timeout=timeout, skip=seen).json()

    def request(self, op: str, args: dict[str, Any] | None = None, **kw: Any) -> dict[str, Any]:
        """Send a command and return its ack (matched by id)."""
        cmd = command(op, args, **kw)
        self.publish_cmd(cmd)
        return self.wait_for("ack", lambda m: m.json()["id"] == cmd["id"]).json()


@dataclass(frozen=True)
class Broker:
    host: str
    port: int
    username: str | None = None
    password: str | None = None

    @classmethod
    def from_url(cls, url: str) -> Broker:
        parsed = urlparse(url)
        if parsed.scheme != "mqtt" or not parsed.hostname:
            raise ValueError(f"MQTT_URL must look like mqtt://host:port, not {url!r}")
        return cls(parsed.hostname, parsed.port or 1883, parsed.username, parsed.password)

    def client(self, client_id: str = "", clean: bool = True) -> mqtt.Client:
        """A connected client with its network loop running."""
        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=client_id,
            clean_session=clean,
            protocol=mqtt.MQTTv311,
        )
        if self.username:
            client.username_pw_set(self.username, self.password)
        connected = threading.Event()
        client.on_connect = lambda *_: connected.set()
        client.connect(self.host, self.port, keepalive=30)
        client.loop_start()
        if not connected.wait(WAIT):
            close_client(client)
            raise AssertionError(f"no CONNACK from {self.host}:{self.port}")
        return client

    def probe(self, device_id: str) -> Probe:
        return Probe(self, device_id)

    def retained(self, topic: str, timeout: float = WAIT) -> bytes | None:
        """The retained message on topic, as a new subscriber gets it (None: none)."""
        got: list[bytes] = []
        event = threading.Event()

        def on_message(_c: Any, _u: Any, msg: mqtt.MQTTMessage) -> None:
            if msg.retain:
                got.append(bytes(msg.payload))
                event.set()

        client = self.client()
        client.on_message = on_message
        client.subscribe(topic, qos=1)
        event.wait(timeout)
        close_client(client)
        return got[0] if got else None

    def forget(self, device_id: str) -> None:
        """Drop what a test device leaves on the broker: its retained status, its session."""
        client = self.client()
        for leaf in ("status", "desired", "state", "echo"):
            topic = f"ap/v1/{device_id}/{leaf}"
            client.publish(topic, b"", qos=1, retain=True).wait_for_publish(WAIT)
        client.loop_stop()
        client.disconnect()
        # A clean-session connect with the agent's client id deletes its persistent session.
        self.client(client_id=f"{device_id}-cmd", clean=True).disconnect()


# ---------------------------------------------------------------------------- agent


@dataclass
class AgentProcess:
    device_id: str
    env: BusyboxEnv
    broker: Broker
    proc: subprocess.Popen[bytes]
    output_path: Path
    probe: Probe | None = None
    _stopped: bool = field(default=False, repr=False)

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def ndsctl_calls_path(self) -> Path:
        return self.env.ndsctl_calls_path

    def ndsctl_calls(self) -> list[list[str]]:
        return self.env.ndsctl_calls()

    def alive(self) -> bool:
        return self.proc.poll() is None

    def subscriber_pid(self) -> int | None:
        path = self.env.state_dir / "sub.pid"
        text = path.read_text().strip() if path.exists() else ""
        return int(text) if text else None

    def request(self, op: str, args: dict[str, Any] | None = None, **kw: Any) -> dict[str, Any]:
        assert self.probe is not None, "started with_probe=False"
        return self.probe.request(op, args, **kw)

    def wait_ready(self, timeout: float = 2 * WAIT) -> None:
        """Ping until an ack comes back: mosquitto_sub has subscribed."""
        assert self.probe is not None, "started with_probe=False"
        deadline = time.monotonic() + timeout
        sent: list[str] = []
        while time.monotonic() < deadline:
            assert self.alive(), f"agent exited:\n{self.logs()}"
            # A ping sent before the subscription exists is lost; one after it is answered
            # within milliseconds, so 0.3 s without an ack means "try again".
            cmd = command("ping")
            sent.append(cmd["id"])
            self.probe.publish_cmd(cmd)
            try:
                self.probe.wait_for("ack", lambda m: m.json()["id"] in sent, timeout=0.3)
            except AssertionError:
                continue
            self.probe.ignored_ids.update(sent)  # later tests count acks of their own only
            return
        raise AssertionError(f"agent not answering within {timeout}s:\n{self.logs()}")

    def terminate(self, timeout: float = WAIT) -> int:
        """SIGTERM to the agent's shell only (as procd does); returns its exit status."""
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def kill9(self) -> None:
        """SIGKILL to the agent and all its children, as a crash or power loss would."""
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(WAIT)

    def logs(self) -> str:
        return f"--- logger\n{self.env.log_text()}--- output\n{self.output_path.read_text()}"

    def stop(self) -> None:
        """Stop the agent's whole process group and forget its broker state. Idempotent."""
        if self._stopped:
            return
        self._stopped = True
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass  # the group is gone already
        try:
            self.proc.wait(WAIT)
        except subprocess.TimeoutExpired:
            pass  # SIGKILL below
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)  # leftovers, e.g. a child mid-sleep
        except ProcessLookupError:
            pass
        self.proc.wait(WAIT)
        if self.probe is not None:
            self.probe.close()
        self.broker.forget(self.device_id)


def start_agent(
    env: BusyboxEnv,
    broker: Broker,
    *,
    device_id: str | None = None,
    password: str = "secret",
    host: str | None = None,
    port: int | None = None,
    clients: dict[str, str | tuple[str, str]] | None = None,
    heartbeat: int = 60,
    extra_env: dict[str, str] | None = None,
    with_probe: bool = True,
) -> AgentProcess:
    """Start `busybox sh portico-agent` in its own process group; call stop() when done."""
    device_id = device_id or new_device_id()
    if clients is not None:
        env.set_clients(clients)
    settings = {
        "PORTICO_DEVICE_ID": device_id,
        "PORTICO_PASSWORD": password,
        "PORTICO_BROKER_HOST": host or broker.host,
        "PORTICO_BROKER_PORT": str(port or broker.port),
        "PORTICO_TLS": "0",
        "PORTICO_HEARTBEAT": str(heartbeat),
        "PORTICO_STATE_DIR": str(env.state_dir),
    }
    settings.update(extra_env or {})
    probe = broker.probe(device_id) if with_probe else None
    output_path = env.root / f"agent-{device_id}.out"
    with output_path.open("ab") as output:
        proc = subprocess.Popen(
            [BUSYBOX, "sh", str(AGENT_SCRIPT)],
            env=env.env(**settings),
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    agent = AgentProcess(device_id, env, broker, proc, output_path, probe)
    if probe is not None:
        try:
            agent.wait_ready()
        except BaseException:
            agent.stop()
            raise
    return agent
