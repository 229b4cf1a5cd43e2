"""openNDS FAS level-1 redirect parsing: the raw query string, and hostile input."""

from __future__ import annotations

import base64

import pytest

from portal import fas

GOOD = {
    "hid": "a" * 64,
    "clientip": "192.168.8.23",
    "clientmac": "AA:BB:CC:DD:EE:01",
    "client_type": "cpd_can",
    "cpi_query": "(null)",
    "gatewayname": "Demo%20Mall%20Node:020000000001%20",
    "gatewayurl": "http%3A%2F%2F192.168.8.1%3A2050",
    "version": "11.0.0",
    "gatewayaddress": "192.168.8.1:2050",
    "gatewaymac": "020000000001",
    "originurl": "http%3A%2F%2Fexample.com%2Fnews%3Fa%3D1",
    "clientif": "br-lan",
    "themespec": "(null)",
    "venue": "north-gate",
}


def test_parses_a_real_shaped_redirect() -> None:
    client = fas.parse_fas(fas.encode_fas(GOOD))
    assert client.hid == "a" * 64
    assert client.client_mac == "aa:bb:cc:dd:ee:01"
    assert client.client_ip == "192.168.8.23"
    assert client.gateway_address == "192.168.8.1:2050"
    assert client.gateway_mac == "02:00:00:00:00:01"
    assert client.gateway_name == "Demo Mall"
    assert client.origin_url == "http://example.com/news?a=1"
    assert client.extra["venue"] == "north-gate"
    assert client.extra["cpi_query"] == ""


def test_plus_in_raw_query_is_not_a_space() -> None:
    # Find a field set whose base64 contains '+', as real openNDS output often does.
    for n in range(200):
        raw = fas.encode_fas({**GOOD, "venue": "v" * n + "~>?"})
        if "+" in raw:
            break
    else:
        pytest.fail("no base64 with '+' found")
    query = f"fas={raw}&lang=en"
    assert fas.raw_query_param(query, "fas") == raw
    assert fas.parse_fas(fas.raw_query_param(query, "fas")).hid == "a" * 64


@pytest.mark.parametrize(
    "raw",
    [
        None,
        "",
        "!!!not-base64!!!",
        base64.b64encode(b"\xff\xfe\xfd").decode(),
        fas.encode_fas({**GOOD, "hid": "xyz"}),
        fas.encode_fas({**GOOD, "clientmac": "not-a-mac"}),
        fas.encode_fas({**GOOD, "clientip": "999.1.1.1"}),
        fas.encode_fas({**GOOD, "gatewayaddress": "evil.example.com:80"}),
        fas.encode_fas({**GOOD, "gatewayaddress": "192.168.8.1:99999"}),
        fas.encode_fas({**GOOD, "gatewaymac": "zz"}),
        fas.encode_fas({**GOOD, "venue": "x" * 2000}),
        "A" * 5000,
    ],
)
def test_bad_redirects_are_refused(raw: str | None) -> None:
    with pytest.raises(fas.BadRedirect):
        fas.parse_fas(raw)


@pytest.mark.parametrize(
    "url", ["javascript:alert(1)", "http://x/\r\nSet-Cookie:a", "ftp://x/", "//x", "x" * 3000]
)
def test_unsafe_origin_urls_are_dropped(url: str) -> None:
    assert fas.safe_origin_url(url) == ""


def test_rhid_and_auth_url() -> None:
    client = fas.parse_fas(fas.encode_fas(GOOD))
    expected = fas.sha256_hex("a" * 64 + "key")
    assert fas.rhid(client.hid, "key") == expected
    url = fas.auth_url(client, "key", "http://shop.example/?a=1&b=2")
    assert url == (
        f"http://192.168.8.1:2050/opennds_auth/?tok={expected}"
        "&redir=http%3A%2F%2Fshop.example%2F%3Fa%3D1%26b%3D2"
    )


def test_the_splash_link_escapes_a_redirect_exactly_as_quote_does() -> None:
    from urllib.parse import quote

    from portal.views import quote_carried

    samples = [
        "aGlkPWFiYw==",
        "a+b/c==",
        "Zm9v+YmFy/&iv=0123456789abcdef",
        "",
        "%%%garbage",
        "fas with spaces & <tags> 中文",
    ]
    for raw in samples:
        assert quote_carried(raw) == quote(raw, safe=""), raw
