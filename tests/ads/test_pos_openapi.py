"""Schemathesis against the POS API as it runs: the console app on a loopback port, its OpenAPI
document loaded from /api/pos/v1/openapi.json, generated requests (valid and invalid) for
every operation, and every answer checked: never a 5xx, each status, header, content type and
body as the document says. Bounded: a few dozen requests an operation, seconds in all.

Some valid requests carry a real claimed code of the test's merchant instead of a random one,
so that the 200s are checked too. The refused-code limit is raised for this server (most
generated codes are refused; tests/ads/test_pos_api.py tests the 429 itself).
"""

from __future__ import annotations

import itertools
import json
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass

import asyncpg
import pytest
import schemathesis
from aiohttp import web
from schemathesis import GenerationMode

from ads import pos_keys, pos_openapi
from ads.pos_api import PREFIX
from kernel.config import Settings
from kernel.db import create_pool
from portal.rate_limits import Limit
from portico import pos_refusals
from portico.console_app import make_console_app
from tests.ads.test_redemption import claimed_code
from tests.console.test_console_app import new_member
from tests.threaded_server import in_a_thread

EXAMPLES = 25  # generated requests an operation and phase, at most
CODES = 60  # real claimed codes handed out to valid requests


@dataclass(frozen=True)
class Served:
    base_url: str
    key: str
    store_id: str
    codes: Iterator[str]


@pytest.fixture(scope="module")
def served(database_url: str, settings: Settings) -> Iterator[Served]:
    """The console app on 127.0.0.1 in a thread of its own (schemathesis calls it with blocking
    requests), a merchant with a key and claimed codes."""

    async def start() -> tuple[web.AppRunner, asyncpg.Pool, Served]:
        db = await create_pool(database_url, size=4)
        member = await new_member(db)
        made = await pos_keys.create_key(
            db,
            settings.secret_key,
            member.merchant_id,
            name="schemathesis",
            store_id=None,
            created_by=member.user_id,
        )
        codes = [await claimed_code(db, member, count=1) for _ in range(CODES)]
        runner = web.AppRunner(make_console_app(settings, db))
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        host, port = runner.addresses[0][:2]
        url = f"http://{host}:{port}"
        return runner, db, Served(url, made.token, str(member.store_id), itertools.cycle(codes))

    async def stop(started: tuple[web.AppRunner, asyncpg.Pool, Served]) -> None:
        runner, db, _ = started
        await runner.cleanup()
        await db.close()

    with pytest.MonkeyPatch.context() as patch:
        for name in ("KEY", "IP"):
            limit = getattr(pos_refusals, name)
            patch.setattr(pos_refusals, name, Limit(limit.kind, limit.window, 10**6, "x"))
        with in_a_thread(start, stop, "pos-api-server") as (_, _, state):
            yield state


# The document as the API serves it (test_the_document_tested_is_the_one_served): loaded here,
# when pytest collects the tests, before the server of the `served` fixture runs.
schema = schemathesis.openapi.from_dict(
    pos_openapi.document(),
    config=schemathesis.Config.from_dict(
        {
            "seed": 9,
            "generation": {"max-examples": EXAMPLES, "mode": "all"},
            "phases": {"stateful": {"enabled": False}},
            # A valid request may still name a code that does not exist, is mistyped (422:
            # no schema can check a code's check symbol), expired (410) or redeemed (409);
            # never a 400, which the API keeps for requests that do not match the document.
            "checks": {
                "positive_data_acceptance": {
                    "expected-statuses": ["2XX", 401, 403, 404, 409, 410, 422, 429]
                },
                # Schemathesis's own list, and 413: a generated body over 4 KiB (a long string of
                # 4-byte characters) is refused as too large before its fields are read.
                "negative_data_rejection": {
                    "expected-statuses": [
                        400,
                        401,
                        403,
                        404,
                        405,
                        406,
                        409,
                        413,
                        415,
                        422,
                        428,
                        429,
                        "5XX",
                    ]
                },
            },
        }
    ),
)


def test_the_document_tested_is_the_one_served(served: Served) -> None:
    url = served.base_url + PREFIX + "/openapi.json"
    with urllib.request.urlopen(url, timeout=10) as answer:  # noqa: S310 - http on loopback
        assert answer.status == 200
        assert json.load(answer) == pos_openapi.document()


@schema.parametrize()
def test_the_api_keeps_to_its_openapi_document(case: schemathesis.Case, served: Served) -> None:
    meta = case.meta
    positive = meta is not None and meta.generation.mode == GenerationMode.POSITIVE
    if positive and isinstance(case.body, dict):
        if "code" in case.body:
            case.body["code"] = next(served.codes)
        if "store_id" in case.body:
            case.body["store_id"] = served.store_id
    headers = {"Authorization": f"Bearer {served.key}", "Accept-Language": "en"}
    case.call_and_validate(base_url=served.base_url + PREFIX, headers=headers)
