"""Schemathesis against the advertiser API as it runs (ads/advertiser_openapi.py): the console
app on a loopback port, a signed-in member's session cookie, generated requests (valid and
invalid) for the report, and every answer checked against the document: never a 5xx, each
status, content type and body as documented. Valid requests name the member's real campaign
(seeded with enough shoppers for figures, hidden ones and lifts), so the 200s are checked too.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
import schemathesis
from aiohttp import web
from schemathesis import GenerationMode

from accounts import services as accounts
from accounts.web import SESSION_COOKIE
from ads import advertiser_openapi, advertisers
from ads.report_pages import API
from kernel.config import Settings
from kernel.db import create_pool
from portico.console_app import make_console_app
from tests.ads.test_ad_reports import people
from tests.ads.test_advertiser_pages import new_advertiser
from tests.ads.test_report_pages import campaign_of
from tests.threaded_server import in_a_thread

EXAMPLES = 40


@dataclass(frozen=True)
class Served:
    base_url: str
    cookie: str
    campaign_id: str
    advertiser_id: str


@pytest.fixture(scope="module")
def served(database_url: str, settings: Settings) -> Iterator[Served]:
    async def start() -> tuple[web.AppRunner, asyncpg.Pool, Served]:
        db = await create_pool(database_url, size=4)
        advertiser_id, email = await new_advertiser(db, role="viewer")
        user = await db.fetchval("SELECT user_id FROM user_accounts WHERE email = $1", email)
        assert await advertisers.memberships_of(db, user)
        seed = await campaign_of(db, advertiser_id)
        at = datetime.now(UTC) - timedelta(hours=2)
        seed.now = at
        await seed.events("impression", people("e", 80), at=at, each=2)
        await seed.events("click", people("e", 4), at=at)
        await seed.events("ghost", people("h", 55), at=at)
        await seed.claims(people("e", 20))
        session = await accounts.start_session(db, user)
        runner = web.AppRunner(make_console_app(settings, db))
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        host, port = runner.addresses[0][:2]
        served = Served(
            f"http://{host}:{port}",
            session.token,
            str(seed.made.campaign_id),
            str(advertiser_id),
        )
        return runner, db, served

    async def stop(started: tuple[web.AppRunner, asyncpg.Pool, Served]) -> None:
        runner, db, _ = started
        await runner.cleanup()
        await db.close()

    with in_a_thread(start, stop, "adv-api-server") as (_, _, state):
        yield state


schema = schemathesis.openapi.from_dict(
    advertiser_openapi.document(),
    config=schemathesis.Config.from_dict(
        {
            "seed": 9,
            "generation": {"max-examples": EXAMPLES, "mode": "all"},
            "phases": {"stateful": {"enabled": False}},
            "checks": {
                # A valid request may name a campaign or advertiser that is not the member's
                # (404) or a range that ends before it starts or is too long (422).
                "positive_data_acceptance": {"expected-statuses": ["2XX", 404, 422]},
            },
        }
    ),
)


def test_the_document_tested_is_the_one_served(served: Served) -> None:
    with urllib.request.urlopen(served.base_url + API + "/openapi.json", timeout=10) as answer:  # noqa: S310 - loopback
        assert answer.status == 200
        assert json.load(answer) == advertiser_openapi.document()


@schema.parametrize()
def test_the_api_keeps_to_its_openapi_document(case: schemathesis.Case, served: Served) -> None:
    meta = case.meta
    positive = meta is not None and meta.generation.mode == GenerationMode.POSITIVE
    if positive and case.path_parameters:
        case.path_parameters["campaign_id"] = served.campaign_id
        if case.query and "advertiser" in case.query:
            case.query["advertiser"] = served.advertiser_id
    case.call_and_validate(
        base_url=served.base_url + API,
        headers={"Cookie": f"{SESSION_COOKIE}={served.cookie}", "Accept-Language": "en"},
    )
