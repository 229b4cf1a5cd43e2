"""The contract's hostile-payload table, run against the shell agent (test_portico_agent.py)
and the simulated one (tests/simulators/test_agent_model.py) alike."""

from __future__ import annotations

import json
from pathlib import Path

from tests.firmware.harness import command, sha256_hex

MAC = "aa:bb:cc:dd:ee:ff"
TOKEN = "a1b2c3d4"


def auth_args(mac: str = MAC, token: str = TOKEN, **override: object) -> dict[str, object]:
    args: dict[str, object] = {
        "mac": mac,
        "hid": sha256_hex(token),
        "minutes": 60,
        "up_kbps": 0,
        "down_kbps": 0,
        "up_quota_kb": 0,
        "down_quota_kb": 0,
        "custom": "s-12345",
    }
    args.update(override)
    return args


def _cmd(**override: object) -> dict[str, object]:
    cmd: dict[str, object] = command("auth", auth_args())
    cmd.update(override)
    return cmd


def _text(cmd: dict[str, object]) -> str:
    return json.dumps(cmd)


Payload = bytes | str | dict[str, object]


def bad_payloads() -> list[tuple[str, Payload, str, str, bool]]:
    """(name, payload, expected status, expected code, whether the ack carries the id).

    Built when the test runs, so every exp is in the future. "{marker}" stands for a file
    that must never be created.
    """
    return [
        ("not json", "hello $(touch {marker})", "rejected", "malformed", False),
        ("empty", b"", "rejected", "malformed", False),
        ("unterminated object", _text(_cmd())[:-1], "rejected", "malformed", False),
        ("unterminated string", '{"v":1,"id":"abcdefgh', "rejected", "malformed", False),
        ("trailing garbage", _text(_cmd()) + " ; touch {marker}", "rejected", "malformed", False),
        ("two documents", _text(_cmd()) + _text(_cmd()), "rejected", "malformed", False),
        (
            "bad escape",
            _text(_cmd()).replace('"s-12345"', '"s-\\q"'),
            "rejected",
            "malformed",
            False,
        ),
        (
            "nul byte",
            _text(_cmd()).encode().replace(b"s-12345", b"s-\x00"),
            "rejected",
            "malformed",
            False,
        ),
        (
            "raw control char",
            _text(_cmd()).replace("s-12345", "s-\x01"),
            "rejected",
            "malformed",
            False,
        ),
        ("too deep", _text(_cmd(x=[[[[[[[[[[1]]]]]]]]]])), "rejected", "malformed", False),
        ("over-long", _text(_cmd(pad="x" * 5000)), "rejected", "malformed", False),
        ("top-level array", "[1,2]", "rejected", "malformed", False),
        ("duplicate key", _text(_cmd())[:-1] + ',"op":"ping"}', "rejected", "malformed", False),
        ("shell in id", _cmd(id="$(touch {marker})"), "rejected", "malformed", False),
        ("semicolon in id", _cmd(id="abcdefgh;touch {marker}"), "rejected", "malformed", False),
        ("short id", _cmd(id="abc"), "rejected", "malformed", False),
        ("id not a string", _cmd(id=12345678), "rejected", "malformed", False),
        ("wrong v", _cmd(v=2), "rejected", "bad_version", True),
        ("v as string", _cmd(v="1"), "rejected", "bad_version", True),
        (
            "missing exp",
            {k: v for k, v in _cmd().items() if k != "exp"},
            "rejected",
            "malformed",
            True,
        ),
        ("exp as string", _cmd(exp="9999999999"), "rejected", "malformed", True),
        ("args not object", _cmd(args=[]), "rejected", "malformed", True),
        ("unknown op", _cmd(op="shell"), "rejected", "unknown_op", True),
        ("backticks in op", _cmd(op="ping`touch {marker}`"), "rejected", "unknown_op", True),
        (
            "shell in mac",
            _cmd(args=auth_args(mac="$(touch {marker})")),
            "rejected",
            "bad_args",
            True,
        ),
        (
            "semicolon in mac",
            _cmd(args=auth_args(mac="aa:bb;touch {marker}")),
            "rejected",
            "bad_args",
            True,
        ),
        ("upper-case mac", _cmd(args=auth_args(mac=MAC.upper())), "rejected", "bad_args", True),
        (
            "shell in custom",
            _cmd(args=auth_args(custom="x;touch {marker}")),
            "rejected",
            "bad_args",
            True,
        ),
        (
            "subshell in custom",
            _cmd(args=auth_args(custom="$(touch {marker})")),
            "rejected",
            "bad_args",
            True,
        ),
        ("newline in custom", _cmd(args=auth_args(custom="a\nb")), "rejected", "bad_args", True),
        ("hid not hex", _cmd(args=auth_args(hid="z" * 64)), "rejected", "bad_args", True),
        ("minutes negative", _cmd(args=auth_args(minutes=-1)), "rejected", "bad_args", True),
        ("minutes fraction", _cmd(args=auth_args(minutes=1.5)), "rejected", "bad_args", True),
        ("minutes too big", _cmd(args=auth_args(minutes=10000001)), "rejected", "bad_args", True),
        ("minutes as string", _cmd(args=auth_args(minutes="60")), "rejected", "bad_args", True),
        (
            "up_kbps missing",
            _cmd(args={k: v for k, v in auth_args().items() if k != "up_kbps"}),
            "rejected",
            "bad_args",
            True,
        ),
    ]


def materialize(payload: bytes | str | dict[str, object], marker: Path) -> bytes:
    if isinstance(payload, dict):
        payload = json.dumps(payload)
    if isinstance(payload, str):
        payload = payload.replace("{marker}", str(marker)).encode()
    return payload
