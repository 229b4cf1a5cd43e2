"""kernel/embedded.py: the private Mosquitto's configuration and lifecycle, the data folder lock.

The whole platform on its embedded defaults is tested in tests/test_embedded_defaults.py.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kernel.embedded import (
    EmbeddedError,
    PrivateMosquitto,
    data_dir_lock,
    free_port,
    mosquitto_binary,
    mosquitto_config,
)

MOSQUITTO = mosquitto_binary()
needs_mosquitto = pytest.mark.skipif(
    MOSQUITTO is None, reason="missing the mosquitto broker (apt-get install mosquitto)"
)


def test_config_listens_on_loopback_only_and_persists_in_the_data_folder(tmp_path: Path) -> None:
    lines = mosquitto_config(1999, tmp_path).splitlines()

    assert [line for line in lines if line.startswith(("listener", "port", "bind"))] == [
        "listener 1999 127.0.0.1"
    ]
    assert "persistence true" in lines
    assert f"persistence_location {tmp_path}/" in lines
    assert "allow_anonymous true" in lines
    assert not [line for line in lines if line.startswith(("password_file", "acl_file"))]
    assert "set_tcp_nodelay true" in lines  # no Nagle wait on every command and ack


def test_config_with_password_and_acl_files_refuses_anonymous_clients(tmp_path: Path) -> None:
    text = mosquitto_config(
        1999, tmp_path, password_file=tmp_path / "passwd", acl_file=tmp_path / "acl"
    )

    assert "allow_anonymous false" in text.splitlines()
    assert "allow_anonymous true" not in text
    assert f"password_file {tmp_path / 'passwd'}" in text
    assert f"acl_file {tmp_path / 'acl'}" in text


def test_a_second_holder_of_the_data_folder_gets_a_message(tmp_path: Path) -> None:
    with data_dir_lock(tmp_path):
        holder = subprocess.run(
            [
                sys.executable,
                "-c",
                "import sys; sys.path.insert(0, sys.argv[1]);"
                "from kernel.embedded import data_dir_lock, EmbeddedError\n"
                "try:\n with data_dir_lock(__import__('pathlib').Path(sys.argv[2])): pass\n"
                "except EmbeddedError as e: print(e)",
                str(Path(__file__).resolve().parents[2]),
                str(tmp_path),
            ],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert f"another Portico (pid {os.getpid()}) is running" in holder.stdout
    with data_dir_lock(tmp_path):  # released at the end of the first context
        pass


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0] != "Z"


@needs_mosquitto
def test_a_broker_left_behind_is_stopped_at_the_next_start(tmp_path: Path) -> None:
    assert MOSQUITTO is not None
    left = PrivateMosquitto(MOSQUITTO, tmp_path)
    left.start()
    stale, left.process = left.process, None  # forget it, as a killed parent would
    assert stale is not None
    stale_pid = stale.pid
    try:
        nxt = PrivateMosquitto(MOSQUITTO, tmp_path)
        nxt.start()
        try:
            nxt.wait_ready()
            deadline = time.monotonic() + 10
            while _alive(stale_pid):
                assert time.monotonic() < deadline, "the stale broker is still running"
                time.sleep(0.05)
            assert (tmp_path / "mosquitto" / "mosquitto.pid").read_text().strip() == str(
                nxt.process.pid if nxt.process else ""
            )
        finally:
            nxt.stop()
        assert not (tmp_path / "mosquitto" / "mosquitto.pid").exists()
    finally:
        if stale.poll() is None:
            stale.send_signal(signal.SIGKILL)
        stale.wait(10)


@needs_mosquitto
def test_a_busy_port_is_a_clear_error(tmp_path: Path) -> None:
    assert MOSQUITTO is not None
    first = PrivateMosquitto(MOSQUITTO, tmp_path / "a", port=free_port())
    first.start()
    try:
        first.wait_ready()
        second = PrivateMosquitto(MOSQUITTO, tmp_path / "b", port=first.port)
        with pytest.raises(EmbeddedError, match=f"127.0.0.1:{first.port} is in use"):
            second.start()
        assert second.process is None
    finally:
        first.stop()
