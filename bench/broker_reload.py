"""How long a Mosquitto reload (SIGHUP) holds the broker up, with N accounts and C connected.

Revoking a router rewrites the password file and reloads the broker (controller/broker_auth.py);
Mosquitto then rereads the file and checks every connected client's password again. This
measures, three times, how long after the SIGHUP a new client gets its CONNACK.

    .venv/bin/python -m bench.broker_reload --accounts 10000 --connected 4000
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import pwd
import resource
import signal
import tempfile
import time
from pathlib import Path

import aiomqtt

from controller.broker_auth import BrokerFiles, generate_account, hash_password
from kernel.embedded import free_port, mosquitto_binary
from kernel.mqtt import parse_mqtt_url


async def measure(accounts: int, connected: int, workdir: Path) -> list[float]:
    port = free_port()
    controller = generate_account("controller", "127.0.0.1", port)
    routers = [(f"ap-{i:06d}", hash_password(f"pw-{i}")) for i in range(accounts)]
    files = BrokerFiles(workdir, [controller.account])
    files.write(routers)
    (workdir / "mosquitto.conf").write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous false\npersistence false\n"
        f"password_file {files.passwd_path}\nacl_file {files.acl_path}\nmax_connections -1\n"
        f"user {pwd.getpwuid(os.geteuid()).pw_name}\nlog_dest file {workdir / 'log'}\n"
    )
    binary = mosquitto_binary()
    assert binary, "needs mosquitto (apt-get install mosquitto)"
    broker = await asyncio.create_subprocess_exec(binary, "-c", str(workdir / "mosquitto.conf"))
    clients: list[aiomqtt.Client] = []
    try:
        await asyncio.sleep(0.5)
        for i in range(connected):
            client = aiomqtt.Client(
                "127.0.0.1", port, username=f"ap-{i:06d}", password=f"pw-{i}", keepalive=600
            )
            await client.__aenter__()
            clients.append(client)
        address = parse_mqtt_url(controller.url)
        stalls = []
        for trial in range(3):
            files.write(routers[: -1 - trial])  # one router fewer, as a revocation
            started = time.monotonic()
            broker.send_signal(signal.SIGHUP)
            await asyncio.sleep(0.001)
            async with aiomqtt.Client(
                "127.0.0.1", port, username=address.username, password=address.password
            ):
                stalls.append(time.monotonic() - started)
            await asyncio.sleep(1)
        return stalls
    finally:
        for client in clients:
            with contextlib.suppress(aiomqtt.MqttError):
                await client.__aexit__(None, None, None)
        broker.terminate()
        await asyncio.wait_for(broker.wait(), 10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--connected", type=int, default=1_000)
    args = parser.parse_args()
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    with tempfile.TemporaryDirectory(prefix="portico-reload-") as workdir:
        stalls = asyncio.run(measure(args.accounts, args.connected, Path(workdir)))
    print(
        f"{args.accounts} accounts, {args.connected} connected: a new client connected "
        + ", ".join(f"{s * 1000:.0f}" for s in stalls)
        + " ms after SIGHUP"
    )


if __name__ == "__main__":
    main()
