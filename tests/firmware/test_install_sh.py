"""firmware-scripts/install.sh into a PORTICO_ROOT temp dir, with stub opkg and uci."""

from __future__ import annotations

import stat
import subprocess
from pathlib import Path

import pytest

from tests.firmware.harness import BUSYBOX, FILES, INSTALL_SH, BusyboxEnv, needs_tools

pytestmark = needs_tools

ARGS = ["--device-id", "ap-1", "--password", "s3cret-Pw", "--broker", "mqtt.example.com:8883"]


def install(
    env: BusyboxEnv, root: Path, *args: str, **extra_env: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [BUSYBOX, "sh", str(INSTALL_SH), *args],
        env=env.env(PORTICO_ROOT=str(root), **extra_env),
        capture_output=True,
        text=True,
        timeout=30,
    )


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_installs_packages_files_and_settings(busybox_env: BusyboxEnv, tmp_path: Path) -> None:
    root = tmp_path / "root"
    (busybox_env.stubs / "opkg.installed").write_text("busybox\nopennds\n")

    result = install(busybox_env, root, *ARGS, "--heartbeat", "30")

    assert result.returncode == 0, result.stderr
    assert busybox_env.opkg_calls() == [
        ["-o", str(root), "list-installed"],
        ["-o", str(root), "update"],
        ["-o", str(root), "install", "mosquitto-client-ssl", "ca-bundle"],
    ]
    for rel, expected_mode in [
        ("usr/sbin/portico-agent", 0o755),
        ("usr/lib/portico/json.awk", 0o644),
        ("etc/init.d/portico-agent", 0o755),
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
    assert busybox_env.uci_calls()[-1] == ["-c", confdir, "commit", "portico"]
    assert "not enabling or starting the service" in result.stdout


def test_skips_installed_packages_and_keeps_existing_config(
    busybox_env: BusyboxEnv, tmp_path: Path
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
        "--device-id=ap-2",
        "--broker=10.0.0.5",
        "--no-tls",
        "--cafile",
        "/etc/portico-ca.pem",
        PORTICO_PASSWORD="from-env",
    )

    assert result.returncode == 0, result.stderr
    assert [call[2] for call in busybox_env.opkg_calls()] == ["list-installed"]
    assert "by hand" in config.read_text()
    db = busybox_env.uci_db()
    assert db["portico.agent.password"] == "from-env"
    assert db["portico.agent.broker_port"] == "1883"
    assert db["portico.agent.tls"] == "0"
    assert db["portico.agent.cafile"] == "/etc/portico-ca.pem"
    assert "clear text" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "--device-id is required"),
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
    ],
)
def test_bad_arguments_fail_clearly(
    busybox_env: BusyboxEnv, tmp_path: Path, args: list[str], message: str
) -> None:
    root = tmp_path / "root"

    result = install(busybox_env, root, *args)

    assert result.returncode == 2
    assert f"portico install: error: {message}" in result.stderr
    assert "usage: sh install.sh --device-id ID" in result.stderr
    assert busybox_env.opkg_calls() == []
    assert not root.exists()


def test_opkg_failure_stops_the_install(busybox_env: BusyboxEnv, tmp_path: Path) -> None:
    root = tmp_path / "root"
    (busybox_env.stubs / "opkg.fail").write_text("")

    result = install(busybox_env, root, *ARGS)

    assert result.returncode == 1
    assert "opkg update failed" in result.stderr
    assert not (root / "usr/sbin/portico-agent").exists()
    assert busybox_env.uci_calls() == []


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

    assert result.returncode == 0, result.stderr
    assert busybox_env.uci_list("dhcp.lan.dhcp_option") == ["3,192.168.1.1", f"114,{API_URL}"]
    confdir = str(root / "etc/config")
    assert ["-c", confdir, "commit", "dhcp"] in busybox_env.uci_calls()
    assert f"option 114 (captive portal API) set to {API_URL}" in result.stdout

    again = install(busybox_env, root, *ARGS, f"--captive-api-url={API_URL}")  # idempotent
    assert again.returncode == 0, again.stderr
    assert busybox_env.uci_list("dhcp.lan.dhcp_option") == ["3,192.168.1.1", f"114,{API_URL}"]


def test_without_captive_api_url_dhcp_is_left_alone(
    busybox_env: BusyboxEnv, tmp_path: Path
) -> None:
    result = install(busybox_env, tmp_path / "root", *ARGS)

    assert result.returncode == 0, result.stderr
    assert not [call for call in busybox_env.uci_calls() if "dhcp" in " ".join(call)]


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
