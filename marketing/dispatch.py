"""The dispatcher: pending contacts sent on their channel, exactly once as counted at the
receivers (docs/marketing-dispatch.md).

The engine (marketing/engine.py) commits contacts as 'pending' and notifies
`marketing_dispatch`. The dispatcher wakes on that (or polls every POLL seconds) and:

1. claims due contacts in one short transaction (`FOR UPDATE SKIP LOCKED`): each one's next
   try is put off by the lease and its attempts counted, then committed. Nothing is sent while
   a transaction is open, and a second dispatcher takes other contacts;
2. sends each on its channel (marketing/channels.py, webhooks.py, wechat.py) under the contact
   id as the delivery id, many at once;
3. records each outcome: 'sent' or 'delivered'; a retry after an exponential back-off with
   jitter (`backoff`) into next_attempt_at with last_error; 'failed' once it cannot succeed or
   after `max_attempts` tries; 'suppressed' when the shopper opted out (or withdrew SMS or
   WeChat consent) since the engine decided.

A crash (or a failed record) between a send and its record leaves the contact pending under
its lease: when the lease ends it is claimed again and sent again **under the same delivery
id**, and the receiver recognises it: the SMS outbox keeps one row per message id, a webhook
receiver dedupes by `X-Portico-Delivery`, a portal offer is its contact row. Every try counts
against `max_attempts`, so a contact whose sends keep crashing the process ends 'failed'.
The channels that cannot dedupe (Alibaba Cloud SMS, WeChat) may then deliver twice: the
window is the time between the receiver's answer and the record, milliseconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, replace
from typing import Any

import aiohttp
import asyncpg

from kernel.config import Settings
from kernel.sql import load_queries
from marketing import channels, webhooks, wechat
from marketing.channels import Channel, Delivery, Outcome
from portal import services as portal

log = logging.getLogger("portico.marketing.dispatch")
queries = load_queries(__file__, "dispatch.sql")

NOTIFY_CHANNEL = "marketing_dispatch"  # what the engine notifies after a commit with contacts
POLL = 1.0  # seconds between looks when nothing woke the dispatcher
BATCH = 200  # contacts claimed at once
# Contacts in flight at once: a portal offer's send is a record, a webhook's waits for its
# receiver (at most webhooks.PER_HOST requests at once to one).
CONCURRENCY = 400
MARK_BATCH = 500  # outcomes recorded by one statement at most
LEASE = 60.0  # seconds a claim holds a contact: longer than any channel's sends together
BACKOFF_CAP = 3600.0  # the longest wait between two tries


@dataclass(frozen=True)
class Policy:
    """How hard the dispatcher tries (settings: PORTICO_MARKETING_MAX_ATTEMPTS,
    PORTICO_MARKETING_BACKOFF_BASE, PORTICO_MARKETING_LEASE)."""

    max_attempts: int = 8
    backoff_base: float = 5.0
    backoff_cap: float = BACKOFF_CAP
    lease: float = LEASE

    @classmethod
    def from_settings(cls, settings: Settings) -> Policy:
        return cls(
            settings.marketing_max_attempts,
            settings.marketing_backoff_base,
            lease=settings.marketing_lease,
        )


def backoff(attempt: int, base: float, cap: float = BACKOFF_CAP, rng: Any = random) -> float:
    """Seconds to wait after try `attempt` (1, 2, …) failed: base·2^(attempt−1), at most `cap`,
    with "equal jitter" (a uniform draw between half of it and all of it), so that contacts that
    failed together (a receiver down for a minute) do not all come back in the same second."""
    ceiling = min(cap, base * 2.0 ** (attempt - 1))
    return ceiling / 2 + rng.uniform(0, ceiling / 2)


def delivery_of(row: Mapping[str, Any]) -> Delivery:
    return Delivery(
        merchant_id=row["merchant_id"],
        contact_id=row["contact_id"],
        profile_key=row["profile_key"],
        trigger_id=row["trigger_id"],
        offer_key=row["offer_key"],
        channel=row["channel"],
        store_id=row["store_id"],
        event_at=row["event_at"],
        decided_at=row["decided_at"],
        attempt=row["attempts"],
        message_zh=row["message_zh"],
        message_en=row["message_en"],
        coupon_id=row["coupon_id"],
        webhook_id=row["webhook_id"],
    )


def precheck(row: Mapping[str, Any], policy: Policy) -> Outcome | None:
    """What a claimed contact comes to before any send, or None to send it: the shopper's
    opt-out (and SMS or WeChat consent) as it is now, and the tries a crashing process used up."""
    if not row["profile_found"]:
        return channels.failed("the shopper's profile is gone (deleted on request)")
    if row["opted_out_at"] is not None:
        return channels.suppressed("opted_out")
    if row["channel"] == "sms" and not row["consent_sms"]:
        return channels.suppressed("no_consent")
    if row["channel"] == "wechat" and not row["consent_wechat"]:
        return channels.suppressed("no_consent")  # unfollowed since (marketing/wechat_events.py)
    if row["attempts"] > policy.max_attempts:
        return channels.failed(
            f"gave up: {policy.max_attempts} tries were taken and none reported back"
        )
    return None


class Dispatcher:
    """Sends pending contacts: one claim at a time (`step`), or until stopped (`run`)."""

    def __init__(
        self,
        db: asyncpg.Pool,
        channel_map: Mapping[str, Channel],
        *,
        policy: Policy | None = None,
        batch: int = BATCH,
        concurrency: int = CONCURRENCY,
        poll: float = POLL,
        rng: Any = None,
    ) -> None:
        self.db = db
        self.channels = dict(channel_map)
        self.policy = policy or Policy()
        self.batch = batch
        self.concurrency = concurrency
        self.poll = poll
        self.rng = rng or random.Random()
        self.outcomes: dict[str, int] = {}  # how many of each status this dispatcher recorded
        self._to_mark: list[tuple[Delivery, Outcome, asyncio.Future[None]]] = []
        self._marking: asyncio.Task[None] | None = None

    async def step(self) -> int:
        """Claim due contacts (at most `batch`), send them all and record each; how many."""
        claimed = await self._claim(self.batch)
        await asyncio.gather(*(self._deliver(row) for row in self._to_send(claimed)))
        return len(claimed)

    async def run(self, stop: asyncio.Event) -> None:
        """Until `stop` is set: claims while contacts are due and there is room in flight;
        else waits for the engine's notification, a send to finish, or POLL seconds. At stop
        the sends in flight finish; cancelled, it abandons them to their lease."""
        in_flight: set[asyncio.Task[None]] = set()
        wake = asyncio.Event()
        try:
            async with self._listening(wake):
                while not stop.is_set():
                    wake.clear()  # a notification from here on wakes the wait below
                    room = self.concurrency - len(in_flight)
                    claimed = await self._claim_safely(min(room, self.batch)) if room > 0 else []
                    for row in self._to_send(claimed):
                        task = asyncio.create_task(self._deliver(row))
                        in_flight.add(task)
                        task.add_done_callback(in_flight.discard)
                    full = len(in_flight) >= self.concurrency
                    if claimed and not full:
                        continue  # more may be due
                    await _first_of(stop, wake, in_flight if full else set(), self.poll)
        except asyncio.CancelledError:
            for task in in_flight:
                task.cancel()
            await asyncio.gather(*in_flight, return_exceptions=True)
            raise
        await asyncio.gather(*in_flight)

    @contextlib.asynccontextmanager
    async def _listening(self, wake: asyncio.Event) -> AsyncIterator[None]:
        """LISTEN on a connection of its own while running; without it, the poll still finds
        every contact (within POLL seconds)."""

        def notified(*_: object) -> None:
            wake.set()

        try:
            conn = await self.db.acquire()
        except (OSError, asyncpg.PostgresError) as exc:
            log.warning("marketing dispatch: no LISTEN connection, polling only: %s", exc)
            yield
            return
        try:
            await conn.add_listener(NOTIFY_CHANNEL, notified)
            yield
        finally:
            with contextlib.suppress(asyncpg.InterfaceError):  # the connection already broke
                await conn.remove_listener(NOTIFY_CHANNEL, notified)
            await self.db.release(conn)

    async def _claim_safely(self, limit: int) -> list[asyncpg.Record]:
        try:
            return await self._claim(limit)
        except (OSError, asyncpg.PostgresError) as exc:
            log.warning("marketing dispatch: claim failed, trying again: %s", exc)
            return []

    async def _claim(self, limit: int) -> list[asyncpg.Record]:
        return await self.db.fetch(
            queries.claim_due,
            limit,
            self.policy.lease,
            isinstance(self.channels.get("portal"), channels.PortalChannel),
            self.policy.max_attempts,
        )

    def _to_send(self, claimed: list[asyncpg.Record]) -> list[asyncpg.Record]:
        """The claimed contacts left to send: the portal offers the claim recorded 'sent' are
        counted (PortalChannel's outcome, without a statement of their own)."""
        left = []
        for row in claimed:
            if row["status"] == channels.SENT:
                self.outcomes[channels.SENT] = self.outcomes.get(channels.SENT, 0) + 1
            else:
                left.append(row)
        return left

    async def _deliver(self, row: asyncpg.Record) -> None:
        """One contact: the precheck or its channel's send, then the record of it. A record
        that fails leaves the contact pending under its lease: it is sent again later, under
        the same delivery id (the receivers dedupe by it)."""
        delivery = delivery_of(row)
        outcome = precheck(row, self.policy) or await self._send(delivery)
        outcome = self._settle(delivery, outcome)
        try:
            await self._mark(delivery, outcome)
        except (OSError, asyncpg.PostgresError) as exc:
            log.warning(
                "marketing dispatch: contact %s %s but not recorded (%s); it is sent again "
                "under the same delivery id when its lease ends",
                delivery.contact_id,
                outcome.status,
                exc,
            )
            return
        self.outcomes[outcome.status] = self.outcomes.get(outcome.status, 0) + 1
        # A thousand sends a second at peak: each success at debug, anything else at info.
        succeeded = outcome.status in (channels.SENT, channels.DELIVERED)
        log.log(
            logging.DEBUG if succeeded else logging.INFO,
            "marketing contact %s via %s try %d: %s%s",
            delivery.contact_id,
            delivery.channel,
            delivery.attempt,
            outcome.status,
            f" ({outcome.error or outcome.reason})" if outcome.error or outcome.reason else "",
        )

    async def _send(self, delivery: Delivery) -> Outcome:
        channel = self.channels.get(delivery.channel)
        if channel is None:
            return channels.failed(f"no {delivery.channel} channel in this dispatcher")
        try:
            return await channel.send(delivery)
        except (OSError, asyncpg.PostgresError, aiohttp.ClientError, TimeoutError) as exc:
            # Our own side (the database, a socket) failed mid-send: try again later.
            log.warning(
                "marketing contact %s: %s send broke: %r",
                delivery.contact_id,
                delivery.channel,
                exc,
            )
            return channels.retry(f"{delivery.channel}: {type(exc).__name__}: {exc}")

    def _settle(self, delivery: Delivery, outcome: Outcome) -> Outcome:
        """A retry past the last allowed try fails; else its wait, the channel's hint or the
        back-off, whichever is longer."""
        if outcome.status != channels.RETRY:
            return outcome
        if delivery.attempt >= self.policy.max_attempts:
            return channels.failed(f"gave up after {delivery.attempt} tries: {outcome.error}")
        wait = backoff(
            delivery.attempt, self.policy.backoff_base, self.policy.backoff_cap, self.rng
        )
        return replace(outcome, retry_after=max(outcome.retry_after, wait))

    async def _mark(self, delivery: Delivery, outcome: Outcome) -> None:
        """Record one outcome, together with those of the sends that finished meanwhile (one
        statement for up to MARK_BATCH: a round trip and a commit each was the dispatcher's
        limit); raises what that statement raised."""
        recorded = asyncio.get_running_loop().create_future()
        self._to_mark.append((delivery, outcome, recorded))
        if self._marking is None or self._marking.done():
            self._marking = asyncio.create_task(self._mark_waiting(), name="marketing-marks")
        await recorded

    async def _mark_waiting(self) -> None:
        while self._to_mark:
            group, self._to_mark = self._to_mark[:MARK_BATCH], self._to_mark[MARK_BATCH:]
            try:
                await self.db.execute(
                    queries.mark,
                    [d.merchant_id for d, _o, _r in group],
                    [d.contact_id for d, _o, _r in group],
                    [d.attempt for d, _o, _r in group],
                    [o.status for _d, o, _r in group],
                    [o.reason for _d, o, _r in group],
                    [o.error for _d, o, _r in group],
                    [o.retry_after for _d, o, _r in group],
                )
            except asyncio.CancelledError:
                for _d, _o, recorded in group:
                    recorded.cancel()
                raise
            except Exception as exc:  # each waiting send is told, and logs it (_deliver)
                for _d, _o, recorded in group:
                    if not recorded.done():
                        recorded.set_exception(exc)
                continue
            for _d, _o, recorded in group:
                if not recorded.done():  # its send was cancelled meanwhile
                    recorded.set_result(None)


async def _first_of(
    stop: asyncio.Event, wake: asyncio.Event, tasks: set[asyncio.Task[None]], timeout: float
) -> None:
    """Wait until stop or wake is set, one of `tasks` ends, or `timeout` seconds pass."""
    waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(wake.wait())]
    try:
        await asyncio.wait([*waiters, *tasks], timeout=timeout, return_when="FIRST_COMPLETED")
    finally:
        for waiter in waiters:
            waiter.cancel()


async def due(db: asyncpg.Pool | asyncpg.Connection) -> int:
    """How many pending contacts are due now."""
    return await db.fetchval(queries.due_count)


def standard_channels(
    db: asyncpg.Pool,
    settings: Settings,
    http: aiohttp.ClientSession,
    sms: portal.SmsProviders,
) -> dict[str, Channel]:
    """Every channel as the settings make it (the composition root's dispatcher). `http`: a
    session whose connector refuses private addresses in production (webhooks.http_session)."""
    timeout = settings.marketing_send_timeout
    return {
        "portal": channels.PortalChannel(),
        "sms": channels.SmsChannel(db, sms, settings.secret_key),
        "webhook": webhooks.WebhookChannel(
            db, http, settings.secret_key, timeout=timeout, allow_private=not settings.production
        ),
        "wechat": wechat.WeChatChannel(
            db,
            wechat.WeChatClient(http, settings.marketing_wechat_api_url, timeout=timeout),
            settings.secret_key,
        ),
    }
