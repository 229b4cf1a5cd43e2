"""The openNDS model (simulators/opennds.py) against openNDS 11's source and recorded answers."""

from __future__ import annotations

import random
import re
from itertools import pairwise
from urllib.parse import parse_qs, urlsplit

import pytest

from portal import fas
from portal.fas import parse_fas, raw_query_param, rhid, sha256_hex
from simulators.opennds import AUTHENTICATED, Gateway, OpenNds, Redirect, RefusalModel

FAS_URL = "http://portal.test:8080/fas/ap-1/"
FASKEY = "k" * 64


def gateway(nds: OpenNds) -> Gateway:
    return Gateway(
        nds=nds,
        fas_url=FAS_URL,
        faskey=FASKEY,
        gateway_name="Real Gateway",
        gateway_mac="d2:ed:73:a9:b4:ea",
        gateway_address="192.168.77.1:2050",
    )


def test_a_new_client_gets_an_eight_hex_token_and_is_preauthenticated() -> None:
    nds = OpenNds()
    client = nds.add_client("56:95:51:9c:82:a8", "192.168.77.10")
    assert len(client.token) == 8 and int(client.token, 16) >= 0
    assert nds.ndsctl_json(client.mac)["state"] == "Preauthenticated"
    assert nds.ndsctl_json("11:22:33:44:55:66") == {}


def test_ndsctl_auth_says_the_same_for_every_no() -> None:
    # ndsctl_do (src/ndsctl.c) prints ifno for any "No": unknown, authenticated, refused.
    nds = OpenNds()
    client = nds.add_client("56:95:51:9c:82:a8", "192.168.77.10")
    granted = nds.ndsctl_auth(client.mac, 120, 5000, 20000, 0, 0, "s-1")
    again = nds.ndsctl_auth(client.mac, 120, 5000, 20000, 0, 0, "s-1")
    unknown = nds.ndsctl_auth("11:22:33:44:55:66", 1, 0, 0, 0, 0, "")
    assert granted == (0, "Client 56:95:51:9c:82:a8,120,5000,20000,0,0,s-1 authenticated.")
    assert again == (1, "Failed to authenticate client 56:95:51:9c:82:a8,120,5000,20000,0,0,s-1.")
    assert unknown.exit_code == 1 and unknown.output.startswith("Failed to authenticate")


def test_the_binauth_race_refuses_at_its_rate_and_leaves_the_client_preauthenticated() -> None:
    nds = OpenNds(refusal_rate=0.5, rng=random.Random(7))
    refused = 0
    for n in range(400):
        client = nds.add_client(f"aa:00:00:00:{n // 256:02x}:{n % 256:02x}", "10.0.0.2")
        result = nds.ndsctl_auth(client.mac, 0, 0, 0, 0, 0, "")
        if result.exit_code:
            refused += 1
            assert nds.ndsctl_json(client.mac)["state"] == "Preauthenticated"
    assert 150 < refused < 250


def test_deauth_deletes_an_authenticated_client() -> None:
    nds = OpenNds()
    client = nds.add_client("56:95:51:9c:82:a8", "192.168.77.10")
    assert nds.ndsctl_deauth(client.mac) == (1, "Client 56:95:51:9c:82:a8 not found.")
    nds.ndsctl_auth(client.mac, 0, 0, 0, 0, 0, "")
    assert nds.ndsctl_deauth(client.mac) == (0, "Client 56:95:51:9c:82:a8 deauthenticated.")
    assert nds.ndsctl_json(client.mac) == {}


def test_the_splash_redirect_is_a_level_one_fas_the_portal_reads() -> None:
    nds = OpenNds()
    gw = gateway(nds)
    client = nds.add_client("56:95:51:9c:82:a8", "192.168.77.10")
    location = gw.splash_redirect(client, "http://10.200.0.2/x")
    assert location.startswith(FAS_URL + "?fas=")
    parsed = parse_fas(raw_query_param(urlsplit(location).query, "fas"))
    assert parsed.hid == sha256_hex(client.token)
    assert (parsed.client_mac, parsed.gateway_mac) == (client.mac, "d2:ed:73:a9:b4:ea")
    assert parsed.gateway_name == "Real Gateway"
    assert parsed.origin_url == "http://10.200.0.2/x"


def test_opennds_auth_of_an_authenticated_client_bounces_back_with_status_authenticated() -> None:
    nds = OpenNds()
    gw = gateway(nds)
    client = nds.add_client("56:95:51:9c:82:a8", "192.168.77.10")
    nds.ndsctl_auth(client.mac, 0, 0, 0, 0, 0, "")
    answer = gw.opennds_auth(
        client, "tok=anything&redir=http%3A%2F%2Fportal.test%2Fonline%3Flang%3Den"
    )
    # get_query() rebuilds the query from MHD's decoded arguments: redir arrives decoded.
    assert answer == Redirect(
        307,
        FAS_URL + "?tok=anything&redir=http://portal.test/online?lang=en&status=authenticated",
    )


def test_opennds_auth_of_a_preauthenticated_client_checks_the_tok() -> None:
    nds = OpenNds()
    gw = gateway(nds)
    client = nds.add_client("56:95:51:9c:82:a8", "192.168.77.10")
    good = rhid(sha256_hex(client.token), FASKEY)
    assert gw.opennds_auth(client, f"tok={good}").status == 403  # no redir
    assert gw.opennds_auth(client, "redir=http%3A%2F%2Fexample.com%2F").status == 403  # no tok
    wrong = gw.opennds_auth(client, "tok=bad&redir=http%3A%2F%2Fexample.com%2F")
    assert wrong.status == 307 and wrong.location.startswith(FAS_URL + "?fas=")
    assert not client.authenticated
    right = gw.opennds_auth(client, f"tok={good}&redir=http%3A%2F%2Fexample.com%2F")
    assert right == Redirect(307, "http://example.com/") and client.authenticated
    assert parse_qs(urlsplit(wrong.location).query)  # a fresh splash redirect


def test_opennds_auth_with_no_query_from_an_authenticated_client_has_no_question_mark() -> None:
    # Recorded on openNDS 11: Location: http://10.200.0.2:8080/fas/ap-test/&status=authenticated
    nds = OpenNds()
    client = nds.add_client("56:95:51:9c:82:a8", "192.168.77.10")
    nds.ndsctl_auth(client.mac, 0, 0, 0, 0, 0, "")
    assert gateway(nds).opennds_auth(client, "") == Redirect(307, FAS_URL + "&status=authenticated")


def test_a_good_tok_that_loses_the_binauth_race_is_a_503() -> None:
    # Recorded once on openNDS 11: 503 "Error 503 - Service Unavailable", still Preauthenticated.
    nds = OpenNds(refusal_rate=1.0)
    client = nds.add_client("56:95:51:9c:82:a8", "192.168.77.10")
    good = rhid(sha256_hex(client.token), FASKEY)
    assert gateway(nds).opennds_auth(client, f"tok={good}&redir=http%3A%2F%2Fx.org%2F") == Redirect(
        503
    )
    assert not client.authenticated


# -- FAS levels 2 and 3 ------------------------------------------------------------------------


def _gateway(level: int) -> Gateway:
    return Gateway(
        nds=OpenNds(faskey="e93accba2290b8871a134650e8c7f38cd6fa6987b516f6cbca3c7b07221f4ccf"),
        fas_url="http://10.200.0.2:8080/fas/ap-test/",
        faskey="e93accba2290b8871a134650e8c7f38cd6fa6987b516f6cbca3c7b07221f4ccf",
        gateway_name="Portico Real Gateway",
        gateway_mac="16:c8:8c:13:7b:16",
        gateway_address="192.168.77.1:2050",
        fas_level=level,
    )


@pytest.mark.parametrize("level", [2, 3])
def test_level_2_and_3_redirects_are_encrypted_as_the_real_gateway_sends_them(level: int) -> None:
    from portal.fas_aes import decrypt_fas
    from tests.portal.test_fas_aes import REAL_TEXT

    gateway = _gateway(level)
    client = gateway.nds.add_client("02:50:00:00:00:01", "192.168.77.11")
    location = gateway.splash_redirect(client, "http://10.200.0.99/")
    query = location.split("?", 1)[1]
    assert re.fullmatch(r"fas=[A-Za-z0-9+/=]+&iv=[0-9a-f]{16}", query)
    text = decrypt_fas(
        fas.raw_query_param(query, "fas"), fas.raw_query_param(query, "iv"), gateway.faskey
    )
    # the real one (recorded, tests/portal/test_fas_aes.py) but for its hid and version
    real = REAL_TEXT.replace("version=11.0.0beta", "version=11.0.0")
    real = re.sub(r"^hid=[0-9a-f]{64}", f"hid={sha256_hex(client.token)}", real)
    assert text == real


def test_ndsctl_auth_finds_a_client_by_its_rhid_as_authmon_asks() -> None:
    """client_list_find_by_any -> client_list_find_by_token: an argument longer than 8
    characters is compared with sha256hex(hid + faskey)."""
    gateway = _gateway(3)
    client = gateway.nds.add_client("02:50:00:00:00:02", "192.168.77.12")
    by_rhid = rhid(sha256_hex(client.token), gateway.faskey)
    assert gateway.nds.ndsctl_auth("f" * 64, 5, 0, 0, 0, 0, "x").exit_code == 1
    done = gateway.nds.ndsctl_auth(by_rhid, 5, 0, 0, 0, 0, "x")
    assert done == (0, f"Client {by_rhid},5,0,0,0,0,x authenticated.")
    assert client.state == AUTHENTICATED
    assert gateway.gateway_hash == sha256_hex("Portico%20Real%20Gateway%20Node%3a16c88c137b16%20")


def refusal_runs(outcomes: list[bool]) -> list[int]:
    """The lengths of the runs of refusals (True) in a sequence of binauth outcomes."""
    runs, current = [], 0
    for refused in outcomes:
        if refused:
            current += 1
        elif current:
            runs.append(current)
            current = 0
    return runs + ([current] if current else [])


@pytest.mark.parametrize(("rate", "run"), [(0.5, None), (0.5, 4.0), (0.25, 3.0)])
def test_refusals_keep_their_rate_and_come_in_runs_of_the_given_mean_length(
    rate: float, run: float | None
) -> None:
    model = RefusalModel(rate, run, random.Random(15))
    outcomes = [model.refuse() for _ in range(40_000)]
    runs = refusal_runs(outcomes)
    expected_run = run if run is not None else 1 / (1 - rate)
    assert sum(outcomes) / len(outcomes) == pytest.approx(rate, abs=0.02)
    assert sum(runs) / len(runs) == pytest.approx(expected_run, rel=0.06)


def test_the_race_is_the_gateways_so_a_run_spans_clients() -> None:
    # After a refusal the next grant of any client is refused more often than on average.
    nds = OpenNds(refusal_rate=0.5, refusal_run=4.0, rng=random.Random(3))
    outcomes = []
    for n in range(2_000):
        client = nds.add_client(f"aa:00:00:00:{n // 256:02x}:{n % 256:02x}", "10.0.0.2")
        outcomes.append(nds.ndsctl_auth(client.mac, 0, 0, 0, 0, 0, "").exit_code == 1)
    after_refusal = [b for a, b in pairwise(outcomes) if a]
    assert sum(after_refusal) / len(after_refusal) == pytest.approx(0.75, abs=0.05)


@pytest.mark.parametrize(
    ("rate", "run", "why"),
    [(1.5, None, "between 0 and 1"), (0.5, 0.5, "at least 1.00"), (0.8, 2.0, "at least 4.00")],
)
def test_an_impossible_refusal_model_is_refused(rate: float, run: float | None, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        RefusalModel(rate, run, random.Random(0))
