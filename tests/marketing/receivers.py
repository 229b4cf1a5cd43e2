"""What the dispatch tests share: a merchant with triggers, contacts made as the engine makes
them, and a webhook receiver on loopback that checks signatures and counts what it got."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import asyncpg
from aiohttp import web
from aiohttp.test_utils import TestServer

from marketing import triggers, webhooks

T0 = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)


async def a_trigger(
    db: asyncpg.Pool, merchant: uuid.UUID, channel: str, **changes: object
) -> uuid.UUID:
    spec: dict[str, object] = dict(
        name_zh="欢迎",
        name_en="Welcome",
        event="arrival",
        rule={"all": []},
        channel=channel,
        offer_key=f"{channel}-{uuid.uuid4().hex[:8]}",
        message_zh="欢迎光临，今天奶茶八折",
        message_en="Welcome back: 20% off milk tea today",
        holdout_share=0.0,
    )
    spec.update(changes)
    return await triggers.save_trigger(db, merchant, triggers.TriggerSpec(**spec))  # type: ignore[arg-type]


async def a_contact(
    db: asyncpg.Pool,
    merchant: uuid.UUID,
    trigger: uuid.UUID,
    profile_key: str,
    *,
    channel: str,
    consent_sms: bool = False,
    at: datetime | None = None,
) -> uuid.UUID:
    """A pending contact as the engine leaves it (its profile made if new)."""
    at = at or datetime.now(UTC)
    contact = uuid.uuid4()
    async with db.acquire() as conn, conn.transaction():
        await conn.execute(
            "INSERT INTO marketing_profiles (merchant_id, profile_key, created_at, updated_at,"
            " consent_sms) VALUES ($1, $2, $3, $3, $4) ON CONFLICT DO NOTHING",
            merchant,
            profile_key,
            at,
            consent_sms,
        )
        offer = await conn.fetchval(
            "SELECT offer_key FROM marketing_triggers WHERE merchant_id = $1 AND trigger_id = $2",
            merchant,
            trigger,
        )
        await conn.execute(
            "INSERT INTO marketing_contacts (merchant_id, contact_id, profile_key, trigger_id,"
            " trigger_version, offer_key, channel, event_id, event_at, decided_at, arm, status,"
            " next_attempt_at) VALUES ($1, $2, $3, $4, 1, $5, $6, $7, $8, $8, 'treatment',"
            " 'pending', $8)",
            merchant,
            contact,
            profile_key,
            trigger,
            f"{offer}-{contact.hex[:6]}",  # one offer once: each test contact its own
            channel,
            uuid.uuid4(),
            at,
        )
    return contact


async def contact_row(db: asyncpg.Pool, merchant: uuid.UUID, contact: uuid.UUID) -> asyncpg.Record:
    return await db.fetchrow(
        "SELECT * FROM marketing_contacts WHERE merchant_id = $1 AND contact_id = $2",
        merchant,
        contact,
    )


async def postpone_waiting(db: asyncpg.Pool) -> None:
    """Contacts left pending by earlier tests (the database is the run's) wait forever, so a
    test's dispatcher takes only the test's own."""
    await db.execute(
        "UPDATE marketing_contacts SET next_attempt_at = 'infinity'"
        " WHERE status = 'pending' AND next_attempt_at < 'infinity'"
    )


async def make_due(db: asyncpg.Pool, merchant: uuid.UUID) -> None:
    """The merchant's waiting contacts due now (a test does not wait out a back-off)."""
    await db.execute(
        "UPDATE marketing_contacts SET next_attempt_at = now() - interval '1 second'"
        " WHERE merchant_id = $1 AND status = 'pending'",
        merchant,
    )


@dataclass
class Receiver:
    """A merchant's webhook endpoint: checks each post's signature, answers with the next of
    `statuses` (then 200), counts every post and every distinct delivery."""

    secret: str = ""
    statuses: list[int] = field(default_factory=list)
    delay: float = 0.0
    posts: list[tuple[str, bytes, bool]] = field(default_factory=list)  # (id, body, signed ok)
    server: TestServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return str(self.server.make_url("/hook"))

    @property
    def deliveries(self) -> Counter[str]:
        return Counter(delivery for delivery, _, _ in self.posts)

    def bodies(self) -> dict[str, set[bytes]]:
        seen: dict[str, set[bytes]] = {}
        for delivery, body, _ in self.posts:
            seen.setdefault(delivery, set()).add(body)
        return seen

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/hook", self._handle)
        self.server = TestServer(app, host="127.0.0.1")
        await self.server.start_server()

    async def close(self) -> None:
        if self.server is not None:
            await self.server.close()

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        ok = webhooks.verify_signature(
            self.secret, request.headers.get(webhooks.SIGNATURE_HEADER, ""), body
        )
        delivery = request.headers.get(webhooks.DELIVERY_HEADER, "")
        assert json.loads(body)["delivery_id"] == delivery
        self.posts.append((delivery, body, ok))
        if self.delay:
            await asyncio.sleep(self.delay)
        status = self.statuses.pop(0) if self.statuses else 200
        return web.Response(status=status, text="ok" if status < 300 else "no")


async def a_webhook(
    db: asyncpg.Pool, merchant: uuid.UUID, receiver: Receiver, secret_key: str
) -> uuid.UUID:
    webhook_id, secret = await webhooks.create_webhook(
        db, merchant, receiver.url, secret_key=secret_key, allow_private=True
    )
    receiver.secret = secret
    return webhook_id


def later(seconds: float) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)
