"""firmware-scripts/install.sh and uninstall.sh into a PORTICO_ROOT temp dir, with stub opkg,
apk and uci, without an install code (--device-id/--password/--broker, or the saved settings).
With an install code and the real portal: test_install_claim.py."""

from __future__ import annotations

import stat
import subprocess
from pathlib import Path

import pytest

from tests.firmware.harness import (
    BUSYBOX,
    FILES,
    FIRMWARE,
    INSTALL_SH,
    Broker,
    BusyboxEnv,
    needs_tools,
)

pytestmark = needs_tools

UNINSTALL_SH = FIRMWARE / "uninstall.sh"
# A broker nobody can reach: the self-check must say so.
ARGS = ["--device-id", "ap-1", "--password", "s3cret-Pw", "--broker", "mqtt.example.com:8883"]
KEPT = [
    "/etc/config/portico",
    "/etc/portico/",
    "/usr/sbin/portico-agent",
    "/usr/lib/portico/",
    "/etc/init.d/portico-agent",
    "/etc/hotplug.d/dhcp/90-portico",
]


def run(
    script: Path, env: BusyboxEnv, root: Path, *args: str, **extra_env: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [BUSYBOX, "sh", str(script), *args],
        env=env.env(PORTICO_ROOT=str(root), TMPDIR=str(env.root), **extra_env),
        capture_output=True,
        text=True,
        timeout=60,
    )


def install(
    env: BusyboxEnv, root: Path, *args: str, **extra_env: str
) -> subprocess.CompletedProcess[str]:
    return run(INSTALL_SH, env, root, *args, **extra_env)


def reachable(broker: Broker, *args: str) -> list[str]:
    """Manual-mode arguments for the test run's broker (plain MQTT), so the self-check passes."""
    return ["--device-id", "ap-2", "--broker", f"{broker.host}:{broker.port}", "--no-tls", *args]


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_installs_packages_files_and_settings(busybox_env: BusyboxEnv, tmp_path: Path) -> None:
    root = tmp_path / "root"
    (busybox_env.stubs / "opkg.installed").write_text("busybox\nopennds\n")

    result = install(busybox_env, root, *ARGS, "--heartbeat", "30")

    # Installed, but the self-check cannot reach the broker, and says so.
    assert result.returncode == 3, result.stderr
    assert "cannot reach the broker at mqtt.example.com:8883" in result.stdout
    assert busybox_env.opkg_calls() == [
        ["-o", str(root), "list-installed"],
        ["-o", str(root), "update"],
        ["-o", str(root), "install", "mosquitto-client-ssl", "ca-bundle"],
    ]
    for rel, expected_mode in [
        ("usr/sbin/portico-agent", 0o755),
        ("usr/lib/portico/json.awk", 0o644),
        ("etc/init.d/portico-agent", 0o755),
        ("etc/hotplug.d/dhcp/90-portico", 0o644),  # sourced by procd, not run
        ("etc/config/portico", 0o600),
    ]:
        installed = root / rel
        assert installed.read_bytes() == (FILES / rel).read_bytes(), rel
        assert mode(installed) == expected_mode, rel
    confdir = str(root / "etc/config")
    sets = [call[3] for call in busybox_env.uci_calls() if call[:3] == ["-c", confdir, "set"]]
    assert sets == [
        "portico.agent=agent",
        "portico.agent.device_id=ap-1",
        "portico.agent.password=s3cret-Pw",
        "portico.agent.broker_host=mqtt.example.com",
        "portico.agent.broker_port=8883",
        "portico.agent.tls=1",
        "portico.agent.cafile=",
        "portico.agent.heartbeat=30",
        "portico.agent.enabled=1",
    ]
    assert ["-c", confdir, "commit", "portico"] in busybox_env.uci_calls()
    # Without an install code, openNDS is left as it is.
    assert not [call for call in busybox_env.uci_calls() if "opennds." in " ".join(call)]
    assert (root / "etc/sysupgrade.conf").read_text().splitlines() == KEPT
    installer = root / "etc/portico/installer"
    assert (installer / "install.sh").read_bytes() == INSTALL_SH.read_bytes()
    assert (installer / "uninstall.sh").read_bytes() == UNINSTALL_SH.read_bytes()
    assert (installer / "files/usr/sbin/portico-agent").exists()
    assert (root / "etc/portico/backup/packages-added").read_text().split() == [
        "mosquitto-client-ssl",
        "ca-bundle",
    ]
    assert "not enabling or starting the services" in result.stdout


def test_skips_installed_packages_and_keeps_existing_config(
    busybox_env: BusyboxEnv, broker: Broker, tmp_path: Path
) -> None:
    root = tmp_path / "root"
    (busybox_env.stubs / "opkg.installed").write_text("mosquitto-client-ssl\nopennds\n")
    config = root / "etc/config/portico"
    config.parent.mkdir(parents=True)
    config.write_text("config agent 'agent'\n\toption custom_note 'by hand'\n")
    cafile = root / "etc/portico-ca.pem"
    cafile.write_text("---CERT---\n")

    result = install(
        busybox_env,
        root,
        *reachable(broker, "--cafile", "/etc/portico-ca.pem"),
        PORTICO_PASSWORD="from-env",
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "self-check passed" in result.stdout
    assert [call[2] for call in busybox_env.opkg_calls()] == ["list-installed"]
    assert "by hand" in config.read_text()
    db = busybox_env.uci_db()
    assert db["portico.agent.password"] == "from-env"
    assert db["portico.agent.broker_port"] == str(broker.port)
    assert db["portico.agent.tls"] == "0"
    assert db["portico.agent.cafile"] == "/etc/portico-ca.pem"
    assert "clear text" in result.stdout


def test_apk_on_newer_openwrt(busybox_env: BusyboxEnv, broker: Broker, tmp_path: Path) -> None:
    root = tmp_path / "root"
    busybox_env.use_apk()
    (busybox_env.stubs / "apk.installed").write_text("busybox\nopennds\n")

    result = install(busybox_env, root, *reachable(broker), PORTICO_PASSWORD="pw")

    assert result.returncode == 0, result.stdout + result.stderr
    calls = busybox_env.apk_calls()
    assert ["--root", str(root), "update"] in calls
    assert calls[-1] == ["--root", str(root), "add", "mosquitto-client-ssl"]
    assert "mosquitto-client-ssl" in (busybox_env.stubs / "apk.installed").read_text()


@pytest.mark.parametrize("manager", ["opkg", "apk"])
def test_a_nossl_mosquitto_client_is_replaced(
    busybox_env: BusyboxEnv, tmp_path: Path, manager: str
) -> None:
    root = tmp_path / "root"
    if manager == "apk":
        busybox_env.use_apk()
    installed = busybox_env.stubs / f"{manager}.installed"
    installed.write_text("opennds\nmosquitto-client-nossl\nlibmosquitto-nossl\nca-bundle\n")

    result = install(busybox_env, root, *ARGS)

    assert result.returncode == 3, result.stderr  # only the self-check's unreachable broker
    calls = busybox_env.opkg_calls() if manager == "opkg" else busybox_env.apk_calls()
    verbs = [call[2] for call in calls if call[2] in ("remove", "del", "install", "add")]
    assert verbs == (["remove", "install"] if manager == "opkg" else ["del", "add"])
    removing = next(call for call in calls if call[2] in ("remove", "del"))
    assert removing[3:] == ["mosquitto-client-nossl", "libmosquitto-nossl"]
    assert installed.read_text().split() == ["opennds", "ca-bundle", "mosquitto-client-ssl"]
    assert (root / "etc/portico/backup/packages-removed").read_text().split() == [
        "mosquitto-client-nossl",
        "libmosquitto-nossl",
    ]
    assert "removing mosquitto-client-nossl libmosquitto-nossl" in result.stdout


def test_plain_mqtt_keeps_a_nossl_client(
    busybox_env: BusyboxEnv, broker: Broker, tmp_path: Path
) -> None:
    (busybox_env.stubs / "opkg.installed").write_text("opennds\nmosquitto-client-nossl\n")

    result = install(busybox_env, tmp_path / "root", *reachable(broker), PORTICO_PASSWORD="pw")

    assert result.returncode == 0, result.stdout + result.stderr
    assert [call[2] for call in busybox_env.opkg_calls()] == ["list-installed"]


def test_running_again_without_arguments_uses_the_saved_settings(
    busybox_env: BusyboxEnv, broker: Broker, tmp_path: Path
) -> None:
    root = tmp_path / "root"
    (busybox_env.stubs / "opkg.installed").write_text("opennds\n")
    first = install(busybox_env, root, *reachable(broker), PORTICO_PASSWORD="saved-pw")
    assert first.returncode == 0, first.stdout + first.stderr
    # A sysupgrade: the packages are gone, the settings and the installer's copy are kept.
    (busybox_env.stubs / "opkg.installed").write_text("")
    installer = root / "etc/portico/installer/install.sh"

    again = run(installer, busybox_env, root)

    assert again.returncode == 0, again.stdout + again.stderr
    assert "installing again with the settings saved for router ap-2" in again.stdout
    assert "mosquitto-client-ssl" in (busybox_env.stubs / "opkg.installed").read_text()
    assert busybox_env.uci_db()["portico.agent.password"] == "saved-pw"
    assert (root / "etc/sysupgrade.conf").read_text().splitlines() == KEPT  # not twice


def test_nothing_saved_and_no_arguments_says_what_to_give(
    busybox_env: BusyboxEnv, tmp_path: Path
) -> None:
    result = install(busybox_env, tmp_path / "root")

    assert result.returncode == 2
    assert "nothing saved from an earlier install: give --claim CODE --portal URL" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (ARGS[2:], "--device-id is required"),
        (["--device-id", "ap-1", "--broker", "h"], "--password (or PORTICO_PASSWORD) is required"),
        (ARGS[:4], "--broker is required"),
        ([*ARGS[:4], "--broker"], "--broker needs a value"),
        (["--device-id", "ap 1", *ARGS[2:]], "--device-id must match"),
        (["--device-id", "a" * 65, *ARGS[2:]], "--device-id must match"),
        (["--device-id", "$(reboot)", *ARGS[2:]], "--device-id must match"),
        ([*ARGS[:4], "--broker", "host:99999"], "--broker port must be 1..65535"),
        ([*ARGS[:4], "--broker", "host:abc"], "--broker port must be 1..65535"),
        ([*ARGS[:4], "--broker", "bad;host"], "--broker host must be"),
        ([*ARGS[:2], "--password", "has space", *ARGS[4:]], "--password must be printable"),
        ([*ARGS, "--heartbeat", "0"], "--heartbeat must be 1..86400"),
        ([*ARGS, "--cafile", "/nonexistent.pem"], "--cafile /nonexistent.pem is not a readable"),
        ([*ARGS, "--colour", "blue"], "unknown option: --colour"),
        ([*ARGS, "extra"], "unexpected argument: extra"),
        (["--claim", "a" * 20], "--claim needs --portal URL"),
        (["--portal", "https://wifi.example.com"], "--portal needs --claim CODE"),
        (["--claim", "A" * 20, "--portal", "https://w.example"], "--claim must be the 20"),
        (["--claim", "a" * 19, "--portal", "https://w.example"], "--claim must be the 20"),
        (["--claim", "a" * 20, "--portal", "http://w.example"], "--portal must be https://"),
        (["--claim", "a" * 20, "--portal", "ftp://w.example"], "--portal must be an https:// URL"),
        (["--claim", "a" * 20, "--portal", "https://w.example/$(x)"], "--portal must be a plain"),
        (
            ["--claim", "a" * 20, "--portal", "https://w.example", "--device-id", "ap-1"],
            "--claim gets the device id and broker from the portal",
        ),
    ],
)
def test_bad_arguments_fail_clearly(
    busybox_env: BusyboxEnv, tmp_path: Path, args: list[str], message: str
) -> None:
    root = tmp_path / "root"

    result = install(busybox_env, root, *args)

    assert result.returncode == 2
    assert f"portico install: error: {message}" in result.stderr
    assert "usage: sh install.sh --claim CODE --portal URL" in result.stderr
    assert busybox_env.opkg_calls() == []
    assert not root.exists()


def test_opkg_failure_stops_the_install(busybox_env: BusyboxEnv, tmp_path: Path) -> None:
    root = tmp_path / "root"
    (busybox_env.stubs / "opkg.fail").write_text("")

    result = install(busybox_env, root, *ARGS)

    assert result.returncode == 1
    assert "opkg update failed" in result.stderr
    assert not (root / "usr/sbin/portico-agent").exists()
    assert not [call for call in busybox_env.uci_calls() if "set" in call]


API_URL = "https://wifi.example.com/captive-api/ap-1"


def test_captive_api_url_sets_dhcp_option_114_and_keeps_other_options(
    busybox_env: BusyboxEnv, tmp_path: Path
) -> None:
    root = tmp_path / "root"
    lists = busybox_env.stubs / "uci.lists"
    lists.write_text(
        "dhcp.lan.dhcp_option=3,192.168.1.1\n"
        "dhcp.lan.dhcp_option=114,https://old.example/captive-api/ap-1\n"
    )

    result = install(busybox_env, root, *ARGS, "--captive-api-url", API_URL)

    assert result.returncode == 3, result.stderr
    assert busybox_env.uci_list("dhcp.lan.dhcp_option") == ["3,192.168.1.1", f"114,{API_URL}"]
    confdir = str(root / "etc/config")
    assert ["-c", confdir, "commit", "dhcp"] in busybox_env.uci_calls()
    assert f"option 114 (captive portal API) set to {API_URL}" in result.stdout

    again = install(busybox_env, root, *ARGS, f"--captive-api-url={API_URL}")  # idempotent
    assert again.returncode == 3, again.stderr
    assert busybox_env.uci_list("dhcp.lan.dhcp_option") == ["3,192.168.1.1", f"114,{API_URL}"]


def test_without_captive_api_url_dhcp_is_left_alone(
    busybox_env: BusyboxEnv, tmp_path: Path
) -> None:
    result = install(busybox_env, tmp_path / "root", *ARGS)

    assert result.returncode == 3, result.stderr
    changes = [c for c in busybox_env.uci_calls() if "dhcp" in " ".join(c) and "get" not in c]
    assert changes == []


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://wifi.example.com/captive-api/ap-1", "must be an https:// URL"),
        ("https://", "must be an https:// URL"),
        ("wifi.example.com", "must be an https:// URL"),
        ("https://wifi.example.com/a,b", "must be printable ASCII without spaces"),
        ("https://wifi.example.com/a b", "must be printable ASCII without spaces"),
        ("https://wifi.example.com/$(reboot)'", "must be printable ASCII without spaces"),
        ("https://wifi.example.com/#x", "must be printable ASCII without spaces"),
        ("https://wifi.example.com/" + "a" * 240, "must be at most 255 bytes"),
    ],
)
def test_a_bad_captive_api_url_fails_before_anything_is_installed(
    busybox_env: BusyboxEnv, tmp_path: Path, url: str, message: str
) -> None:
    root = tmp_path / "root"

    result = install(busybox_env, root, *ARGS, "--captive-api-url", url)

    assert result.returncode == 2
    assert f"--captive-api-url {message}" in result.stderr
    assert busybox_env.uci_calls() == [] and not root.exists()


def test_uninstall_puts_the_earlier_configuration_back(
    busybox_env: BusyboxEnv, tmp_path: Path
) -> None:
    root = tmp_path / "root"
    (busybox_env.stubs / "opkg.installed").write_text("opennds\n")
    (busybox_env.stubs / "uci.lists").write_text(
        "dhcp.lan.dhcp_option=3,192.168.1.1\ndhcp.lan.dhcp_option=114,https://old.example/api\n"
    )
    (busybox_env.stubs / "uci.db").write_text("opennds.@opennds[0].gatewayname=Old Name\n")
    sysupgrade = root / "etc/sysupgrade.conf"
    sysupgrade.parent.mkdir(parents=True)
    sysupgrade.write_text("/etc/my-own-file\n")
    before_db = busybox_env.uci_db()
    installed = install(busybox_env, root, *ARGS, "--captive-api-url", API_URL)
    assert installed.returncode == 3, installed.stderr
    # What the installer did, while an opennds option is changed by hand meanwhile.
    assert busybox_env.uci_list("dhcp.lan.dhcp_option") == ["3,192.168.1.1", f"114,{API_URL}"]
    busybox_env_set(busybox_env, "opennds.@opennds[0].gatewayname=Changed")
    # A second install keeps the backup of the first.
    again = install(busybox_env, root, *ARGS)
    assert "already saved" in again.stdout

    result = run(root / "etc/portico/installer/uninstall.sh", busybox_env, root)

    assert result.returncode == 0, result.stdout + result.stderr
    assert busybox_env.uci_list("dhcp.lan.dhcp_option") == [
        "3,192.168.1.1",
        "114,https://old.example/api",
    ]
    after = busybox_env.uci_db()
    assert after["opennds.@opennds[0].gatewayname"] == "Old Name"
    assert {k: v for k, v in after.items() if k.startswith("opennds.")} == {
        k: v for k, v in before_db.items() if k.startswith("opennds.")
    }
    assert not (root / "etc/config/portico").exists()  # it held the broker password
    for rel in (
        "usr/sbin/portico-agent",
        "usr/lib/portico",
        "etc/init.d/portico-agent",
        "etc/hotplug.d/dhcp",  # made for the hook alone
    ):
        assert not (root / rel).exists(), rel
    assert not (root / "etc/portico").exists()
    assert sysupgrade.read_text() == "/etc/my-own-file\n"
    assert "stay installed: mosquitto-client-ssl ca-bundle" in result.stdout
    assert "revoke it in the Portico console" in result.stdout


def test_uninstall_can_remove_the_packages_it_added(
    busybox_env: BusyboxEnv, tmp_path: Path
) -> None:
    root = tmp_path / "root"
    (busybox_env.stubs / "opkg.installed").write_text("opennds\n")
    assert install(busybox_env, root, *ARGS).returncode == 3

    result = run(UNINSTALL_SH, busybox_env, root, "--remove-packages")

    assert result.returncode == 0, result.stdout + result.stderr
    assert (busybox_env.stubs / "opkg.installed").read_text().split() == ["opennds"]
    assert busybox_env.opkg_calls()[-1] == [
        "-o",
        str(root),
        "remove",
        "mosquitto-client-ssl",
        "ca-bundle",
    ]


def busybox_env_set(env: BusyboxEnv, setting: str) -> None:
    with (env.stubs / "uci.db").open("a") as fh:
        fh.write(setting + "\n")


def test_uninstall_leaves_the_dhcp_hooks_of_other_packages(
    busybox_env: BusyboxEnv, tmp_path: Path
) -> None:
    root = tmp_path / "root"
    hooks = root / "etc/hotplug.d/dhcp"
    hooks.mkdir(parents=True)
    (hooks / "50-other").write_text("logger other\n")
    assert install(busybox_env, root, *ARGS).returncode == 3
    assert sorted(p.name for p in hooks.iterdir()) == ["50-other", "90-portico"]

    result = run(UNINSTALL_SH, busybox_env, root)

    assert result.returncode == 0, result.stdout + result.stderr
    assert [p.name for p in hooks.iterdir()] == ["50-other"]
