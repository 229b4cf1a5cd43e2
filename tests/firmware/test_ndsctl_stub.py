"""The stub ndsctl refuses grants as the Python model of openNDS does (RefusalModel): at the
same rate, in runs of the same mean length, whatever client the run falls on."""

from __future__ import annotations

import subprocess
from itertools import pairwise

import pytest

from tests.firmware.harness import BusyboxEnv

CALLS = 400


def stub_outcomes(env: BusyboxEnv, calls: int) -> list[bool]:
    """`ndsctl auth` for `calls` fresh Preauthenticated clients: True where it was refused."""
    macs = [f"aa:00:00:00:{n // 256:02x}:{n % 256:02x}" for n in range(calls)]
    env.set_clients({mac: f"tok{n}" for n, mac in enumerate(macs)})
    outcomes = []
    for mac in macs:
        done = subprocess.run(
            [str(env.stubs / "ndsctl"), "auth", mac, "1", "0", "0", "0", "0", ""],
            env=env.env(),
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.stdout.startswith("Failed" if done.returncode else "Client"), done
        outcomes.append(done.returncode == 1)
    return outcomes


def test_the_stub_refuses_in_runs_like_the_model(busybox_env: BusyboxEnv) -> None:
    busybox_env.refuse_auth(50, run=4.0)

    outcomes = stub_outcomes(busybox_env, CALLS)

    after_refusal = [b for a, b in pairwise(outcomes) if a]
    after_grant = [b for a, b in pairwise(outcomes) if not a]
    # The model's chances: 0.75 after a refusal, 0.25 after a grant (mean run 4, rate 0.5).
    assert sum(outcomes) / CALLS == pytest.approx(0.5, abs=0.12)
    assert sum(after_refusal) / len(after_refusal) == pytest.approx(0.75, abs=0.1)
    assert sum(after_grant) / len(after_grant) == pytest.approx(0.25, abs=0.1)


@pytest.mark.parametrize(("percent", "refused"), [(0, 0), (100, CALLS // 8)])
def test_the_stub_never_or_always_refuses(
    busybox_env: BusyboxEnv, percent: int, refused: int
) -> None:
    busybox_env.refuse_auth(percent)

    assert sum(stub_outcomes(busybox_env, CALLS // 8)) == refused
