"""The agent's strict JSON reader (firmware-scripts/files/usr/lib/portico/json.awk)."""

from __future__ import annotations

import subprocess

import pytest

from tests.firmware.harness import BUSYBOX, JSON_AWK, needs_tools

pytestmark = needs_tools


def parse(document: bytes | str, *options: str) -> subprocess.CompletedProcess[str]:
    data = document.encode() if isinstance(document, str) else document
    args = [BUSYBOX, "awk"]
    for option in options:
        args += ["-v", option]
    result = subprocess.run(
        [*args, "-f", str(JSON_AWK)],
        input=data,
        capture_output=True,
        env={"LC_ALL": "C"},
        timeout=10,
    )
    return subprocess.CompletedProcess(
        result.args, result.returncode, result.stdout.decode(), result.stderr.decode()
    )


def lines(document: bytes | str, *options: str) -> list[str]:
    result = parse(document, *options)
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def test_command_flattens_to_paths() -> None:
    doc = (
        '{"v":1,"id":"0f9c2d6e","op":"auth","args":{"mac":"aa:bb:cc:dd:ee:ff","minutes":60,'
        '"ok":true,"no":false,"none":null,"list":[1,"x",{"k":-2.5e3}]},"exp":1764000030}'
    )
    assert lines(doc, "root=object") == [
        "v\tnumber\t1",
        "id\tstring\t0f9c2d6e",
        "op\tstring\tauth",
        "args\tobject\t",
        "args.mac\tstring\taa:bb:cc:dd:ee:ff",
        "args.minutes\tnumber\t60",
        "args.ok\tbool\ttrue",
        "args.no\tbool\tfalse",
        "args.none\tnull\t",
        "args.list\tarray\t",
        "args.list.0\tnumber\t1",
        "args.list.1\tstring\tx",
        "args.list.2\tobject\t",
        "args.list.2.k\tnumber\t-2.5e3",
        "exp\tnumber\t1764000030",
    ]


def test_ndsctl_style_output_with_newlines() -> None:
    doc = '{\n  "gatewayname":"x",\n  "mac":"aa:bb:cc:dd:ee:ff",\n  "token":"a1b2c3d4"\n}\n'
    assert lines(doc) == [
        "gatewayname\tstring\tx",
        "mac\tstring\taa:bb:cc:dd:ee:ff",
        "token\tstring\ta1b2c3d4",
    ]


def test_empty_object_prints_nothing() -> None:
    assert lines("{}", "root=object") == []
    assert lines(" { } \n") == []


def test_escapes_are_decoded_or_kept_escaped() -> None:
    doc = r'{"s":"a\"b\/c\u0041\\d\ne\tf\u00e9\u0001"}'
    # Printable ASCII is decoded; backslash, control characters and non-ASCII stay escaped,
    # so a value never holds a raw tab or newline.
    assert lines(doc) == ["s\tstring\t" + r'a"b/cA\\d\ne\tf\u00e9\u0001']


def test_raw_utf8_passes_through() -> None:
    assert lines('{"s":"caf\u00e9"}'.encode()) == ["s\tstring\tcaf\u00e9"]


def test_hex_input() -> None:
    doc = '{"a":\n[1,"x"]}'
    assert lines(doc.encode().hex(), "hex=1") == ["a\tarray\t", "a.0\tnumber\t1", "a.1\tstring\tx"]


@pytest.mark.parametrize(
    "document",
    [
        "",
        "   ",
        "{",
        '{"a":1',
        '{"a":"abc}',
        '{"a":1} x',
        '{"a":1}{"b":2}',
        '{"a":1,}',
        "[1,]",
        '{"a" 1}',
        "{a:1}",
        "{'a':1}",
        '{"a":01}',
        '{"a":1.}',
        '{"a":.5}',
        '{"a":+1}',
        '{"a":-}',
        '{"a":1e}',
        '{"a":tru}',
        '{"a":nul}',
        '{"a":True}',
        r'{"a":"\q"}',
        r'{"a":"\u12"}',
        r'{"a":"\u12G4"}',
        '{"a":"tab\there"}',
        '{"a":"line\nbreak"}',
        '{"a":1,"a":2}',
        '{"a":{"b":1},"a.b":2}',
        "[" * 17 + "]" * 17,
    ],
)
def test_invalid_documents_are_rejected(document: str) -> None:
    result = parse(document)

    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith("json.awk: ")


def test_root_type_is_enforced() -> None:
    assert parse("[1]", "root=object").returncode == 1
    assert parse('"x"', "root=object").returncode == 1
    assert lines("[1]", "root=array") == ["0\tnumber\t1"]


def test_depth_limit() -> None:
    assert parse('{"a":{"b":{}}}', "max_depth=3").returncode == 0
    assert parse('{"a":{"b":{"c":{}}}}', "max_depth=3").returncode == 1
    assert parse("[" * 16 + "]" * 16).returncode == 0


@pytest.mark.parametrize("hex_text", ["7b7d0", "7b7g", "7b00227d", "7b7d\n7b7d"])
def test_bad_hex_is_rejected(hex_text: str) -> None:
    assert parse(hex_text, "hex=1").returncode == 1
