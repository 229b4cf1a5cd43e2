"""RFC 8908 Captive Portal API: the per-network URI and the per-session one."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient

from kernel.config import Settings
from portal import stores as portal_stores
from simulators.router import SimulatedRouter
from tests.factories import Tenant, make_tenant
from tests.portal.test_logout import form_of, log_in

CAPTIVE = {"Accept": "application/captive+json"}


@pytest.fixture
async def tenant(db: asyncpg.Pool) -> Tenant:
    return await make_tenant(db, session_minutes=45, with_ad=False)


async def captive_json(response: ClientResponse) -> dict[str, Any]:
    assert response.headers["Content-Type"] == "application/captive+json"
    assert response.headers["Cache-Control"] == "private"
    return json.loads(await response.text())


async def test_the_network_uri_says_captive_and_names_the_venue_only_over_https(
    portal_client: TestClient, tenant: Tenant, db: asyncpg.Pool
) -> None:
    response = await portal_client.get(f"/captive-api/{tenant.router.router_id}", headers=CAPTIVE)
    assert response.status == 200
    assert await captive_json(response) == {"captive": True}

    await portal_stores.upsert_store_portal(
        db, tenant.merchant_id, tenant.store_id, brand_name="B", landing_url="https://shop.example/"
    )
    portal_stores._gateways.clear()
    again = await portal_client.get(f"/captive-api/{tenant.router.router_id}")
    assert await captive_json(again) == {
        "captive": True,
        "venue-info-url": "https://shop.example/",
    }


@pytest.mark.parametrize("path", ["/captive-api/ap-nobody", "/captive-api/" + "x" * 300])
async def test_an_unknown_network_is_a_json_404(portal_client: TestClient, path: str) -> None:
    response = await portal_client.get(path, headers=CAPTIVE)
    assert response.status == 404
    assert response.headers["Content-Type"].startswith("application/json")
    assert "captive" not in await response.json()


@pytest.mark.parametrize("via", ["online_link", "session_uri"])
async def test_the_session_uri_answers_per_client_until_the_session_ends(
    portal_client: TestClient,
    router: SimulatedRouter,
    settings: Settings,
    via: str,
) -> None:
    _client, link = await log_in(portal_client, router, "aa:bb:cc:20:00:01")
    target = urlsplit(link)
    uri = (
        link if via == "online_link" else f"/captive-api/{router.router_id}/session?{target.query}"
    )

    state = await captive_json(await portal_client.get(uri, headers=CAPTIVE))

    assert state["captive"] is False
    assert 45 * 60 - 5 <= state["seconds-remaining"] <= 45 * 60
    assert state["can-extend-session"] is False
    assert "bytes-remaining" not in state  # no usage counters from openNDS routers yet
    portal_url = urlsplit(state["user-portal-url"])
    assert f"{portal_url.scheme}://{portal_url.netloc}" == settings.portal_url
    assert portal_url.path == target.path and form_of(state["user-portal-url"]) == form_of(link)

    logout = await portal_client.post(f"/fas/{router.router_id}/logout", data=form_of(link))
    assert logout.status == 200
    ended = await captive_json(await portal_client.get(uri, headers=CAPTIVE))
    assert ended["captive"] is True and "seconds-remaining" not in ended
    assert ended["user-portal-url"] == state["user-portal-url"]


@pytest.mark.parametrize(
    "query",
    [
        "s=00000000-0000-0000-0000-000000000000&next=&sig=" + "0" * 32,
        "s=not-a-uuid&sig=zz",
        "",
    ],
)
async def test_a_session_uri_we_did_not_sign_is_a_json_404(
    portal_client: TestClient, tenant: Tenant, query: str
) -> None:
    router_id = tenant.router.router_id
    for path in (f"/captive-api/{router_id}/session?{query}", f"/fas/{router_id}/online?{query}"):
        response = await portal_client.get(path, headers=CAPTIVE)
        assert response.status == 404, path
        assert "captive" not in await response.json()


async def test_the_online_page_is_still_html_for_a_browser(
    portal_client: TestClient, router: SimulatedRouter
) -> None:
    _client, link = await log_in(portal_client, router, "aa:bb:cc:20:00:02")
    page = await portal_client.get(link, headers={"Accept": "text/html,*/*;q=0.8"})
    assert page.headers["Content-Type"].startswith("text/html")
