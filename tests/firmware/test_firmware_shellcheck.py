"""Every firmware shell script is POSIX sh (shellcheck -s sh) and parses in busybox ash."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.firmware.harness import BUSYBOX, FIRMWARE, needs_tools

SCRIPTS = sorted(
    path
    for path in FIRMWARE.rglob("*")
    if path.is_file() and path.read_bytes().startswith(b"#!/bin/sh")
)


def test_all_scripts_are_found() -> None:
    names = {path.relative_to(FIRMWARE).as_posix() for path in SCRIPTS}
    assert names == {
        "install.sh",
        "uninstall.sh",
        "files/usr/sbin/portico-agent",
        "files/etc/init.d/portico-agent",
        "files/etc/hotplug.d/dhcp/90-portico",
    }


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.relative_to(FIRMWARE).as_posix())
def test_shellcheck_clean(script) -> None:
    shellcheck = shutil.which("shellcheck")
    assert shellcheck, "shellcheck is missing: apt-get install shellcheck"

    result = subprocess.run(
        [shellcheck, "-s", "sh", str(script)], capture_output=True, text=True, timeout=60
    )

    assert result.returncode == 0, result.stdout + result.stderr


@needs_tools
@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.relative_to(FIRMWARE).as_posix())
def test_busybox_sh_parses(script) -> None:
    result = subprocess.run(
        [BUSYBOX, "sh", "-n", str(script)], capture_output=True, text=True, timeout=10
    )

    assert result.returncode == 0, result.stderr
