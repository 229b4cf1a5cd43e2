"""The console's add-on history: what every console page shows, beside the footfall history.

    .venv/bin/python -m bench.console_history --database-url URL [--drop]

Run on a database seeded by `python -m bench.footfall seed … --keep` (its merchant "Bench
footfall history": N stores, D days of footfall and logins). Through the domains' own service
functions (never an INSERT into their tables), it adds what a merchant of that size has after
D days of operation, scaled by its stores and its logins:

- people: an operator, who puts the merchant on PLAN, an owner, STAFF_PER_STORE staff per
  store (invited by email and accepted, each given their store), PENDING_INVITATIONS
  invitations still open, console sessions; OTHER_MERCHANTS small merchants beside it (the
  operator's list);
- stores: address, city, category and opening hours; each store's portal (brand, welcome,
  login methods), logo and a second version of its terms;
- routers: ROUTERS_PER_STORE per store, online, with a heartbeat every HEARTBEAT_SECONDS over
  the D days (stored by the controller's telemetry ingest, a new boot every REBOOT_DAYS),
  but one that stopped reporting QUIET_SHARE into the history (offline since), and the
  members' diagnostics commands, answered by simulated routers over MQTT;
- text messages: SMS_SHARE of the logins asked for a code by SMS (the portal's own send, from
  a router's redirect; the texts in the development outbox);
- vouchers: a batch per store and month (VOUCHERS_PER_BATCH codes, VOUCHERS_USED of them
  used) and one batch of BIG_BATCH codes (the printable sheet; fewer for a history of fewer
  logins);
- ads: the merchant's own campaign each month with its coupon, a pool of imported codes, and
  the campaigns of ADVERTISERS advertisers at the merchant (line item, creative, cap,
  approved, a coupon), one more waiting for approval, a blocked category; every footfall login
  saw one running campaign: an impression (or a ghost, for its holdout), some clicks, claims
  of its coupon and redemptions at the till by the store's staff; a POS key per store;
- marketing: the default tags, one trigger (a lapsed shopper arriving → a portal offer) and one
  segment (the lapsed);
- the audit log: every change above that the console would log;
- statistics: ANALYZE at the end, as autovacuum would (some servers run without it: the
  planner then guesses, and the Routers page took 400 ms on 6 routers of 7 days).

Impressions, telemetry, voucher batches and logins carry their day of the history; what the
services stamp themselves (claims, redemptions, audit entries, commands) carries the moment
this step ran. Every record is found by its name (an email, a router id, a campaign's name, …)
before it is made (a router's heartbeats with it), and the events are keyed: a second run
adds nothing. A run stopped midway
leaves the campaign, router or texts it was making partly filled: drop the database and seed
again. The platform's secret key is the footfall seed's (bench.footfall.SECRET): a console
on this database runs with it (bench/console_pages.py does). The simulated routers leave
their retained statuses on the broker: drop the database with `--drop`, which clears them
first (bench.harness.forget_routers).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import io
import itertools
import json
import math
import os
import random
import re
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from urllib.parse import urlsplit

import asyncpg
from PIL import Image, ImageDraw, ImageFont

import accounts.services as accounts
import ads.services as ads
import analytics.services as analytics
from accounts import audit, invitations, operators, sessions
from accounts import stores as store_details
from accounts.email import Email, OutboxEmailProvider
from ads import advertisers, code_import, delivery, pos_keys, redemption
from bench.footfall import (  # the platform's secret key: the seed's
    MAINTENANCE_TIMEOUT,
    MERCHANT_NAME,
    SECRET,
)
from bench.harness import BenchError, forget_routers, with_database
from controller import topics
from controller.commands import CommandSender, RouterRef
from controller.fleet_ops import diagnose
from controller.services import (
    command_log,
    find_router,
    record_router_status,
    register_router,
)
from controller.telemetry import TelemetryIngest
from kernel.db import create_pool, migrate
from kernel.mqtt import Delivery
from marketing import segments as marketing_segments
from marketing import tags as marketing_tags
from marketing import triggers as marketing_triggers
from portal import fas, look, sms, terms, vouchers
from portal import stores as portal
from simulators.agent import tele_batches
from simulators.router import SimulatedRouter

PASSWORD = "bench console history"  # every account's: a throwaway database's
DOMAIN = "bench-history.example.com"
BY = audit.Actor.system("bench history")
SEED = 20261202

PLAN = "premium"  # no limit on stores, routers and seats (migration 0042)
STAFF_PER_STORE = 2
PENDING_INVITATIONS = 3
SESSIONS_PER_USER = 3
OTHER_MERCHANTS = 30
ROUTERS_PER_STORE = 2
HEARTBEAT_SECONDS = 60  # the agent's default (firmware-scripts: option heartbeat '60')
REBOOT_DAYS = 7
QUIET_SHARE = 0.5  # one router stopped reporting half-way through the history
COMMAND_DAYS = 7  # a member asks each router for its diagnostics about once a week
SMS_SHARE = 0.05  # of the logins: a code asked by text message
VOUCHER_MONTH_DAYS = 30
VOUCHERS_PER_BATCH = 100
VOUCHERS_USED = 0.3
BIG_BATCH = 500  # at most: as many as the history's logins
IMPORTED_CODES = 500
ADVERTISERS = (
    ("Jade Tea House", "food"),
    ("Lucky Bean Coffee", "food"),
    ("Pixel Phones", "electronics"),
)
HOLDOUT = Decimal("0.1")
CLICK = 0.06
CLAIM = 0.12  # of the shoppers shown an ad with a coupon
REDEEM = 0.5  # of the claims
CAMPAIGN_TAIL_DAYS = 60  # campaigns running today run on this much longer


def email(role: str) -> str:
    return f"{role}@{DOMAIN}"


def staff_email(store: int, n: int) -> str:
    return email(f"staff-{store:02d}-{n}")


def advertiser_email(n: int) -> str:
    return email(f"advertiser-{n}")


def chance(*key: object) -> float:
    """A number in [0, 1) that `key` always draws: what makes the history the same each run."""
    digest = hashlib.blake2b("|".join(map(str, key)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def keyed_id(*key: object) -> uuid.UUID:
    return uuid.uuid5(uuid.NAMESPACE_URL, "bench-history:" + "|".join(map(str, key)))


def picture(title: str, colour: str) -> bytes:
    """A PNG banner with `title`, drawn with Pillow: a logo or a creative."""
    image = Image.new("RGB", (800, 400), colour)
    draw = ImageDraw.Draw(image)
    draw.text((60, 160), title, font=ImageFont.load_default(size=56), fill="#ffffff")
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


# -- the merchant the footfall seed made ------------------------------------------------------


@dataclass(frozen=True)
class Login:
    at: datetime
    store_id: uuid.UUID
    device: str


@dataclass
class Merchant:
    merchant_id: uuid.UUID
    stores: list[accounts.Store]
    logins: list[Login]  # oldest first
    first: datetime  # the history's first login
    end: datetime  # when this step runs

    @property
    def days(self) -> int:
        return max(1, math.ceil((self.end - self.first) / timedelta(days=1)))


async def seeded_stores(db: asyncpg.Pool) -> tuple[uuid.UUID, list[accounts.Store]]:
    """The footfall seed's merchant and its stores."""
    merchant_id = await accounts.merchant_named(db, MERCHANT_NAME)
    if merchant_id is None:
        raise BenchError(
            f"no merchant {MERCHANT_NAME!r} here: run `python -m bench.footfall seed … --keep` "
            "first and give its database URL"
        )
    return merchant_id, await accounts.list_stores(db, merchant_id)


async def logins_by_store(db: asyncpg.Pool, merchant_id: uuid.UUID) -> dict[uuid.UUID, int]:
    counts = await analytics.logins_by_store(
        db, merchant_id, datetime(2000, 1, 1, tzinfo=UTC), datetime.now(UTC)
    )
    return {store_id: c.logins for store_id, c in counts.items()}


async def busiest_store(
    db: asyncpg.Pool, merchant_id: uuid.UUID, stores: list[accounts.Store]
) -> tuple[int, accounts.Store]:
    """The store with the most logins (the one whose pages show the most), and its index."""
    counts = await logins_by_store(db, merchant_id)
    n = max(range(len(stores)), key=lambda i: counts.get(stores[i].store_id, 0))
    return n, stores[n]


async def seeded_merchant(db: asyncpg.Pool) -> Merchant:
    merchant_id, stores = await seeded_stores(db)
    end = datetime.now(UTC)
    rows = await analytics.recent_logins(db, merchant_id, end - timedelta(days=3650), 10**8)
    logins = [Login(r["occurred_at"], r["store_id"], r["device_hash"]) for r in reversed(rows)]
    if not stores or not logins:
        raise BenchError(f"{MERCHANT_NAME!r} has no stores or no logins: seed it again")
    return Merchant(merchant_id, stores, logins, logins[0].at, end)


# -- people -------------------------------------------------------------------------------------


@dataclass
class People:
    owner: uuid.UUID
    staff: dict[uuid.UUID, list[uuid.UUID]]  # store -> its staff
    operator: uuid.UUID


class CapturingOutbox:
    """The development outbox (accounts.email), also keeping the links it was given: an
    invitation's token reaches its invitee only by email."""

    def __init__(self, db: asyncpg.Pool) -> None:
        self._outbox = OutboxEmailProvider(db)
        self.tokens: dict[str, str] = {}  # address -> the token of the last link sent there

    async def send(self, message: Email) -> None:
        await self._outbox.send(message)
        found = re.search(r"token=([\w-]+)", message.body)
        if found:
            self.tokens[message.to] = found.group(1)


async def a_user(db: asyncpg.Pool, address: str, name: str) -> tuple[uuid.UUID, bool]:
    """The account of `address`, made with PASSWORD when there is none; (id, made now)."""
    found = await accounts.user_id_by_email(db, address)
    if found is not None:
        return found, False
    return await accounts.create_user(db, address, name, PASSWORD), True


async def add_people(db: asyncpg.Pool, m: Merchant, accept_url: str) -> People:
    """The operator, who puts the merchant on PLAN (its stores, routers and seats need it),
    the owner, the staff, pending invitations, everyone's console sessions."""
    operator, made = await a_user(db, email("operator"), "Bench Operator")
    if made:
        await operators.grant(db, operator)
    await operators.set_plan(db, m.merchant_id, PLAN, operator)
    owner, made = await a_user(db, email("owner"), "Bench Owner")
    if made:
        async with db.acquire() as conn, conn.transaction():
            await accounts.add_membership(conn, m.merchant_id, owner, "owner")
            await audit.record_change(
                conn,
                m.merchant_id,
                BY,
                "membership.create",
                target_id=owner,
                target_name=email("owner"),
                after={"email": email("owner"), "role": "owner"},
            )
    outbox = CapturingOutbox(db)
    staff: dict[uuid.UUID, list[uuid.UUID]] = {}
    for n, store in enumerate(m.stores):
        staff[store.store_id] = [
            await a_staff_member(db, outbox, m, owner, store, staff_email(n, k), accept_url)
            for k in range(STAFF_PER_STORE)
        ]
    waiting = {i.email for i in await invitations.pending(db, m.merchant_id)}
    for k in range(PENDING_INVITATIONS):
        if email(f"invited-{k}") not in waiting:
            await invitations.invite(
                db,
                outbox,
                m.merchant_id,
                owner,
                email=email(f"invited-{k}"),
                role="staff",
                store_ids=[m.stores[k % len(m.stores)].store_id],
                language="zh-CN",
                accept_url=accept_url,
            )
    for user in (owner, operator, *itertools.chain(*staff.values())):
        await console_sessions(db, user)
    return People(owner, staff, operator)


async def a_staff_member(
    db: asyncpg.Pool,
    outbox: CapturingOutbox,
    m: Merchant,
    owner: uuid.UUID,
    store: accounts.Store,
    address: str,
    accept_url: str,
) -> uuid.UUID:
    """A member of staff given `store`: invited by the owner, the invitation accepted."""
    found = await accounts.user_id_by_email(db, address)
    if found is not None:
        return found
    await invitations.invite(
        db,
        outbox,
        m.merchant_id,
        owner,
        email=address,
        role="staff",
        store_ids=[store.store_id],
        language="en",
        accept_url=accept_url,
    )
    name = "Staff " + address.split("@")[0].removeprefix("staff-")
    user = await invitations.accept(
        db, outbox.tokens[address], password=PASSWORD, display_name=name, client="bench"
    )
    return user.user_id


DEVICES = ("Chrome on Windows", "Safari on iPhone", "WeChat on Android")


async def console_sessions(db: asyncpg.Pool, user: uuid.UUID) -> None:
    """SESSIONS_PER_USER console sessions of the user's (the Sessions page lists them)."""
    have = len(await sessions.sessions_of(db, user))
    for n in range(have, SESSIONS_PER_USER):
        await accounts.start_session(db, user, device=DEVICES[n % len(DEVICES)])


async def add_other_merchants(db: asyncpg.Pool) -> int:
    """OTHER_MERCHANTS small merchants with a store each: the platform the operator sees."""
    made = 0
    for n in range(OTHER_MERCHANTS):
        name = f"Bench neighbour {n:02d}"
        if await accounts.merchant_named(db, name) is not None:
            continue
        async with db.acquire() as conn, conn.transaction():
            merchant_id = await accounts.create_merchant(conn, name)
            await accounts.create_store(conn, merchant_id, f"{name} · shop")
        made += 1
    return made


# -- stores and their portals ---------------------------------------------------------------

CITIES = ("Shanghai", "Hangzhou", "Suzhou")
HOURS = {day: ("10:00", "22:00") for day in store_details.WEEKDAYS}


async def furnish_stores(db: asyncpg.Pool, m: Merchant) -> int:
    """Each store's details, portal, logo, login methods and a second version of its terms
    (the console's own services; the look and terms audited as the console audits them)."""
    furnished = 0
    for n, store in enumerate(m.stores):
        details = await store_details.store_details(db, m.merchant_id, store.store_id)
        if details is not None and details.address:
            continue
        await store_details.update_store(
            db,
            m.merchant_id,
            store.store_id,
            store_details.StoreDetails(
                store.name,
                f"{100 + n} Nanjing Road",
                CITIES[n % len(CITIES)],
                "food",
                store.timezone,
                HOURS,
            ),
            BY,
        )
        await portal.upsert_store_portal(
            db,
            m.merchant_id,
            store.store_id,
            brand_name=store.name,
            welcome_en=f"Welcome to {store.name}: free WiFi.",
            welcome_zh=f"欢迎光临 {store.name}：免费 WiFi。",
            login_methods=("click", "sms", "voucher", "email"),
            session_minutes=120,
            returning_days=7,
            idle_minutes=15,
        )
        await look.save_picture(
            db,
            m.merchant_id,
            store.store_id,
            store.name,
            "logo",
            picture(store.name[:20], "#0a7d5a"),
            BY,
        )
        if "2" not in {t.version for t in await terms.versions(db, m.merchant_id, store.store_id)}:
            await terms.publish(
                db,
                m.merchant_id,
                store.store_id,
                "2",
                "Terms of use, version 2.",
                "使用条款（第 2 版）。",
                actor=BY,
                store_name=store.name,
            )
        furnished += 1
    return furnished


# -- routers: telemetry and commands ----------------------------------------------------------


def router_ids(m: Merchant) -> Iterator[tuple[accounts.Store, str]]:
    short = m.merchant_id.hex[:8]
    for n, store in enumerate(m.stores):
        for k in range(ROUTERS_PER_STORE):
            yield store, f"bh{short}-{n:02d}-{k}"


def quiet_router(m: Merchant) -> str:
    """The router that stopped reporting (QUIET_SHARE into the history; offline since): the
    last store's last."""
    return list(router_ids(m))[-1][1]


def reported_until(m: Merchant, router_id: str) -> datetime:
    if router_id == quiet_router(m):
        return m.first + (m.end - m.first) * QUIET_SHARE
    return m.end


async def add_routers(db: asyncpg.Pool, m: Merchant) -> list[str]:
    """The stores' routers, each added with its audit entry and its last status (online, but
    the quiet one); the ids of those made now."""
    made = []
    for store, router_id in router_ids(m):
        if await find_router(db, router_id) is not None:
            continue
        name = f"{store.name} AP {router_id[-1]}"
        async with db.acquire() as conn, conn.transaction():
            new = await register_router(conn, m.merchant_id, store.store_id, router_id, name)
            await audit.record_change(
                conn,
                m.merchant_id,
                BY,
                "router.create",
                target_id=router_id,
                target_name=name,
                after={"name": name, "store": store.name},
            )
        online = router_id != quiet_router(m)
        status = {"v": 1, "online": online, "fw": FIRMWARE, "agent": AGENT}
        await record_router_status(db, new.router, online=online, status=status)
        made.append(router_id)
    return made


FIRMWARE = "OpenWrt 23.05.3"
AGENT = "portico-agent 1.4"


def heartbeats(router_id: str, start: float, end: float) -> Iterator[bytes]:
    """The agent's heartbeat events from `start` to `end` (unix seconds), one per
    HEARTBEAT_SECONDS, a new boot every REBOOT_DAYS (its id: the boot's time in hex)."""
    boot_every = REBOOT_DAYS * 86400
    rng = random.Random(f"{SEED}-{router_id}")
    ts = start
    while ts < end:
        boot = int(ts)
        for seq in range(1, boot_every // HEARTBEAT_SECONDS + 1):
            at = boot + seq * HEARTBEAT_SECONDS
            if at >= end:
                return
            event = {
                "v": topics.VERSION,
                "id": f"{boot:x}-{seq}",
                "type": "heartbeat",
                "ts": at,
                "uptime_s": at - boot,
                "load": [round(rng.random(), 2), 0.3, 0.2],
                "mem_total_kb": 121_344,
                "mem_free_kb": 40_000 + rng.randrange(20_000),
                "clients": rng.randrange(40),
                "stations": rng.randrange(60),
                "agent": AGENT,
                "fw": FIRMWARE,
                "nds": "11.0.0",
            }
            yield json.dumps(event, separators=(",", ":")).encode()
        ts = boot + boot_every


async def add_telemetry(db: asyncpg.Pool, m: Merchant, routers: list[str]) -> int:
    """The routers' heartbeats from an hour before the history's first login until they
    stopped reporting (now, but the quiet one), through the controller's ingest as the
    agent's spool flushes send them (batches of up to 16 KiB)."""
    ingest = TelemetryIngest(db, SECRET, max_batch=2000)

    def messages() -> Iterator[Delivery]:
        for router_id in routers:
            events = heartbeats(
                router_id, m.first.timestamp() - 3600, reported_until(m, router_id).timestamp()
            )
            for batch in tele_batches(list(events)):
                yield Delivery(topics.topic(router_id, "tele"), "tele", batch, retain=False)

    await in_parallel((ingest.handle(message) for message in messages()), 16)
    return ingest.stored


async def in_parallel(jobs: Iterable[Awaitable[object]], width: int) -> None:
    """Await the jobs, `width` at a time (taken from `jobs` as earlier ones finish)."""
    running: set[asyncio.Future[object]] = set()
    for job in jobs:
        running.add(asyncio.ensure_future(job))
        if len(running) >= width:
            done, running = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
            for finished in done:
                finished.result()
    await asyncio.gather(*running)


async def add_commands(db: asyncpg.Pool, m: Merchant, people: People, mqtt_url: str) -> int:
    """Diagnostics asked of each router online by members, about once a COMMAND_DAYS, for a
    router with no command yet: sent by the controller's CommandSender over MQTT and answered
    by a simulated router (simulators/router.py), as the Routers page's button does."""
    unasked = []
    for _store, router_id in router_ids(m):
        router = await find_router(db, router_id)
        if router is None or router_id == quiet_router(m):
            continue
        if not await command_log(db, router.ref, 1):
            unasked.append(router)
    if not unasked:
        return 0
    sims = [
        SimulatedRouter(
            r.router_id,
            mqtt_url=mqtt_url,
            password="",
            faskey=r.faskey,
            portal_url="http://127.0.0.1:9",
            gateway_mac="02:00:5e:00:00:01",
        )
        for r in unasked
    ]
    sender = CommandSender(mqtt_url, db, origin="console")
    sent = 0
    try:
        for sim in sims:
            await sim.start(http=False)
        await sender.start()
        members = [people.owner, *itertools.chain(*people.staff.values())]
        for n, router in enumerate(unasked):
            for k in range(max(1, m.days // COMMAND_DAYS)):
                by = members[(n + k) % len(members)]
                await diagnose(
                    sender, RouterRef(m.merchant_id, router.router_id), sent_by=f"user:{by}"
                )
                sent += 1
    finally:
        await sender.stop()
        for sim in sims:
            await sim.stop()
    return sent


# -- shoppers' text messages -----------------------------------------------------------------


def sms_redirect(n: int) -> str:
    """The openNDS redirect (FAS level 1) of shopper n's phone at a router of ours."""
    mac = "02:00:" + ":".join(f"{b:02x}" for b in n.to_bytes(4, "big"))
    fields = {
        "hid": hashlib.sha256(f"bench-sms-{n}".encode()).hexdigest(),
        "clientip": f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}",
        "clientmac": mac,
        "gatewayname": "Bench",
        "gatewayaddress": "192.168.8.1:2050",
        "originurl": "http://example.com/",
    }
    return fas.encode_fas(fields)


async def add_sms(db: asyncpg.Pool, m: Merchant) -> int:
    """SMS_SHARE of the logins asked for a code by text message: each through the portal's
    own send (a visit opened from a router's redirect, the limits counted, the code stored, the
    text in the development outbox the console shows). Made once: none when the merchant's
    outbox has any."""
    if await sms.outbox_page(db, m.merchant_id, 1, 0):
        return 0
    provider = sms.OutboxProvider(db, SECRET, m.merchant_id)
    router_of = dict(reversed([(s.store_id, r) for s, r in router_ids(m)]))
    sent = 0
    for n, login in enumerate(m.logins):
        if chance("sms", login.device, login.at) >= SMS_SHARE:
            continue
        visit = await portal.open_visit(db, SECRET, router_of[login.store_id], sms_redirect(n))
        ip = f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"
        await sms.send_code(db, provider, SECRET, visit, f"+86138{n:08d}", lang="zh-CN", ip=ip)
        sent += 1
    return sent


# -- vouchers and the till's keys ---------------------------------------------------------------


async def add_vouchers(db: asyncpg.Pool, m: Merchant, people: People) -> int:
    """A batch per store and VOUCHER_MONTH_DAYS (made on its day), VOUCHERS_USED of its codes
    used by shoppers at the store, and BIG_BATCH codes for the busiest store's opening night.
    A device using its code again is no new use: the uses are made once."""
    have = {b.name for b in await vouchers.list_batches(db, m.merchant_id)}
    _n, big = await busiest_store(db, m.merchant_id, m.stores)
    wanted = [(big, "Opening night", min(BIG_BATCH, len(m.logins)), m.first)]
    for store in m.stores:
        for month in range(math.ceil(m.days / VOUCHER_MONTH_DAYS)):
            made_at = m.first + timedelta(days=month * VOUCHER_MONTH_DAYS)
            wanted.append((store, f"Month {month + 1}", VOUCHERS_PER_BATCH, made_at))
    made = 0
    for store, label, count, made_at in wanted:
        name = f"{store.name} · {label}"
        if name in have:
            continue
        spec = vouchers.BatchSpec(name, store.store_id, 240, 0, 1, None, count)
        batch_id = await vouchers.create_batch(
            db, m.merchant_id, spec, created_by=people.owner, now=made_at, store_name=store.name
        )
        codes = await vouchers.codes_of_batch(db, m.merchant_id, batch_id)
        for voucher in codes[: int(len(codes) * VOUCHERS_USED)]:
            device = hashlib.sha256(f"voucher-{voucher.code}".encode()).hexdigest()[:32]
            await vouchers.redeem(db, m.merchant_id, store.store_id, voucher.code, device)
        made += 1
    return made


async def add_pos_keys(db: asyncpg.Pool, m: Merchant, people: People) -> int:
    """A POS API key for each store's till (the console's key page lists them)."""
    have = {k.name for k in await pos_keys.list_keys(db, m.merchant_id)}
    made = 0
    for store in m.stores:
        name = f"Till · {store.name}"
        if name not in have:
            await pos_keys.create_key(
                db,
                SECRET,
                m.merchant_id,
                name=name,
                store_id=store.store_id,
                created_by=people.owner,
                store_name=store.name,
            )
            made += 1
    return made


# -- ads: campaigns, their shoppers, claims and redemptions ----------------------------------


@dataclass(frozen=True)
class CampaignPlan:
    name: str
    advertiser: int | None  # index into ADVERTISERS; None: the merchant's own
    starts_at: datetime
    ends_at: datetime


@dataclass(frozen=True)
class Running:
    """A campaign made, as its events name it."""

    plan: CampaignPlan
    advertiser_id: uuid.UUID
    campaign_id: uuid.UUID
    line_item_id: uuid.UUID
    creative_id: uuid.UUID
    coupon_id: uuid.UUID


def campaign_plan(m: Merchant) -> list[CampaignPlan]:
    """The merchant's own campaign of each VOUCHER_MONTH_DAYS, and each advertiser's campaign
    over the whole history and on (ending CAMPAIGN_TAIL_DAYS from now)."""
    start = m.first - timedelta(hours=1)
    tail = m.end + timedelta(days=CAMPAIGN_TAIL_DAYS)
    plans = []
    months = math.ceil(m.days / VOUCHER_MONTH_DAYS)
    for month in range(months):
        begins = start + timedelta(days=month * VOUCHER_MONTH_DAYS)
        ends = tail if month == months - 1 else begins + timedelta(days=VOUCHER_MONTH_DAYS)
        plans.append(CampaignPlan(f"Offer of month {month + 1}", None, begins, ends))
    for n, (name, _category) in enumerate(ADVERTISERS):
        plans.append(CampaignPlan(f"{name} at the mall", n, start, tail))
    return plans


def coupon_valid_until(plan: CampaignPlan) -> datetime:
    """30 days after the campaign, or after now for an older one: its claims are made (and
    dated) when the history step runs, and claim_coupon refuses an ended coupon."""
    return max(plan.ends_at, datetime.now(UTC)) + timedelta(days=30)


def shown(login: Login, plans: list[CampaignPlan]) -> CampaignPlan:
    """The campaign a login saw: one of those running then, drawn by the login."""
    running = [p for p in plans if p.starts_at <= login.at < p.ends_at]
    return running[int(chance("ad", login.device, login.at) * len(running))]


async def add_ads(db: asyncpg.Pool, m: Merchant, people: People) -> dict[str, int]:
    """The campaigns of campaign_plan, each with its shoppers' events, claims and redemptions
    when it is made (a campaign found by its name has them already); then one campaign
    waiting for the owner's approval, a blocked category and an imported pool of codes."""
    plans = campaign_plan(m)
    seen: dict[CampaignPlan, list[Login]] = defaultdict(list)
    for login in m.logins:
        seen[shown(login, plans)].append(login)
    members = [await an_advertiser(db, n) for n in range(len(ADVERTISERS))]
    counts: dict[str, int] = defaultdict(int)
    for plan in plans:
        member = None if plan.advertiser is None else members[plan.advertiser]
        if await campaign_named(db, m, member, plan.name) is not None:
            continue
        coupons = max(10, int(len(seen[plan]) * CLAIM * 2))
        if member is None:
            running = await an_own_campaign(db, m, plan, coupons)
        else:
            running = await an_advertiser_campaign(db, m, people, plan, member, coupons)
        for key, n in (await shoppers_of(db, m, people, running, seen[plan])).items():
            counts[key] += n
        counts["campaigns"] += 1
    counts["waiting"] = await a_waiting_campaign(db, m, members[-1])
    if not await advertisers.list_blocks(db, m.merchant_id):
        await advertisers.add_block(
            db, m.merchant_id, advertiser_id=None, category="beauty", created_by=people.owner
        )
    counts["imported"] = await an_imported_pool(db, m)
    return dict(counts)


@dataclass(frozen=True)
class AdvertiserMember:
    advertiser_id: uuid.UUID
    user_id: uuid.UUID
    name: str
    category: str


async def an_advertiser(db: asyncpg.Pool, n: int) -> AdvertiserMember:
    """Advertiser n of ADVERTISERS and its admin (advertiser_email(n))."""
    name, category = ADVERTISERS[n]
    user, made = await a_user(db, advertiser_email(n), f"{name} admin")
    if made:
        async with db.acquire() as conn, conn.transaction():
            await advertisers.create_advertiser(conn, name, category=category, admin_user_id=user)
    (membership,) = await advertisers.memberships_of(db, user)
    return AdvertiserMember(membership.advertiser_id, user, name, category)


async def campaign_named(
    db: asyncpg.Pool, m: Merchant, member: AdvertiserMember | None, name: str
) -> uuid.UUID | None:
    """The campaign of this name of the advertiser (None: the merchant's own advertiser)."""
    if member is None:
        advertiser_id = await advertisers.own_advertiser_of(db, m.merchant_id)
    else:
        advertiser_id = member.advertiser_id
    if advertiser_id is None:
        return None
    for row in await advertisers.list_campaigns(db, advertiser_id):
        if row["name"] == name:
            return uuid.UUID(str(row["campaign_id"]))
    return None


async def an_own_campaign(
    db: asyncpg.Pool, m: Merchant, plan: CampaignPlan, coupons: int
) -> Running:
    """The merchant's own campaign in its venues, with a coupon of `coupons` codes."""
    async with db.acquire() as conn:
        made = await ads.create_campaign(
            conn,
            m.merchant_id,
            advertiser=MERCHANT_NAME,
            name=plan.name,
            starts_at=plan.starts_at,
            ends_at=plan.ends_at,
            headline_en=f"{plan.name}: 20% off",
            headline_zh=f"{plan.name}：八折",
            body_en="At every store of ours.",
            body_zh="全部门店适用。",
            image=picture(plan.name, "#6b3e26"),
            coupon=("20% off", "八折", coupon_valid_until(plan), coupons),
            holdout_share=HOLDOUT,
        )
    assert made.advertiser_id and made.line_item_id and made.coupon_id
    return Running(
        plan,
        made.advertiser_id,
        made.campaign_id,
        made.line_item_id,
        made.creative_id,
        made.coupon_id,
    )


def line_item(name: str, merchant_id: uuid.UUID, plan: CampaignPlan) -> advertisers.LineItemFields:
    """A performance line item (CPM ¥20) over the whole campaign, all day, asking the
    merchant's venues."""
    return advertisers.LineItemFields(
        name=name,
        tier="performance",
        pricing="cpm",
        bid_fen=2000,
        budget_fen=None,
        goal_impressions=None,
        pacing="even",
        starts_at=plan.starts_at,
        ends_at=plan.ends_at,
        dayparts=[],
        weight=1,
        status="active",
        target_merchants=[merchant_id],
        target_stores=[],
        target_categories=[],
        target_cities=[],
        target_languages=[],
        target_segments=[],
        target_audience="all",
    )


async def a_campaign_asking(
    db: asyncpg.Pool, m: Merchant, member: AdvertiserMember, plan: CampaignPlan
) -> tuple[uuid.UUID, uuid.UUID]:
    """The advertiser's campaign `plan` with a line item asking the merchant's venues (which
    asks the merchant's approval), as its admin makes them; (campaign, line item)."""
    fields = advertisers.CampaignFields(
        plan.name, member.category, plan.starts_at, plan.ends_at, "active", HOLDOUT
    )
    campaign_id = await advertisers.create_campaign(db, member.advertiser_id, fields)
    membership = advertisers.AdvertiserMembership(member.advertiser_id, member.name, None, "admin")
    line_item_id = await advertisers.save_line_item(
        db,
        membership,
        campaign_id,
        line_item(f"{plan.name}: all day", m.merchant_id, plan),
        actor=audit.Actor.user(member.user_id),
    )
    return campaign_id, line_item_id


async def an_advertiser_campaign(
    db: asyncpg.Pool,
    m: Merchant,
    people: People,
    plan: CampaignPlan,
    member: AdvertiserMember,
    coupons: int,
) -> Running:
    """An advertiser's campaign at the merchant, as its admin makes it in the advertiser
    console (campaign, line item, creative, a daily cap) and the owner approves it; with a
    coupon of `coupons` codes at the merchant."""
    adv = member.advertiser_id
    campaign_id, line_item_id = await a_campaign_asking(db, m, member, plan)
    texts = {
        "headline_en": f"{member.name}: two for one",
        "headline_zh": f"{member.name}：买一送一",
        "body_en": "Show this at the counter.",
        "body_zh": "到店出示即可。",
        "landing_url": "https://example.com/offer",
        "countdown_seconds": "",
    }
    creative_id = await advertisers.add_creative(
        db,
        adv,
        campaign_id,
        advertisers.creative_fields(texts),
        picture(member.name, "#14532d"),
        "banner.png",
    )
    cap = {"scope": "campaign", "scope_id": "", "max_count": "3", "period": "day"}
    await advertisers.add_cap(db, adv, campaign_id, cap, set())
    await advertisers.decide(db, m.merchant_id, campaign_id, "approved", "", people.owner)
    spec = ads.CouponSpec("Two for one", "买一送一", coupon_valid_until(plan), coupons)
    async with db.acquire() as conn:
        coupon_id = await ads.add_coupon(conn, m.merchant_id, adv, campaign_id, spec)
    return Running(plan, adv, campaign_id, line_item_id, creative_id, coupon_id)


async def shoppers_of(
    db: asyncpg.Pool, m: Merchant, people: People, running: Running, logins: list[Login]
) -> dict[str, int]:
    """What the campaign's logins did: each an impression (a ghost for a shopper in its
    holdout), CLICK of them a click; CLAIM of the shoppers shown it claim its coupon, REDEEM
    of those redeem it at the till of the store, by its staff (ads' own counting, claiming and
    redemption services)."""
    snapshot = await delivery.load_snapshot(db, datetime.now(UTC))
    zones = {s.store_id: s.timezone for s in m.stores}
    events = []
    claimants: dict[str, Login] = {}
    for login in logins:
        held = chance("holdout", running.campaign_id, login.device) < float(HOLDOUT)
        events.append(ad_event(m, running, login, "ghost" if held else "impression", login.at))
        if held:
            continue
        if chance("click", login.device, login.at) < CLICK:
            events.append(ad_event(m, running, login, "click", login.at + timedelta(seconds=15)))
        if chance("claim", running.campaign_id, login.device) < CLAIM:
            claimants.setdefault(login.device, login)
    outcomes = await delivery.record_events(db, events, snapshot, zones)
    redeemed = 0
    for login in claimants.values():
        async with db.acquire() as conn:
            claim = await ads.claim_coupon(conn, m.merchant_id, running.coupon_id, login.device)
        if chance("redeem", running.campaign_id, login.device) < REDEEM:
            clerk = people.staff[login.store_id][0]
            await redemption.redeem(
                db, m.merchant_id, claim.code, store_id=login.store_id, user_id=clerk
            )
            redeemed += 1
    return {
        "ad events": len(events),
        "counted": outcomes.count("counted"),
        "claims": len(claimants),
        "redemptions": redeemed,
    }


def ad_event(
    m: Merchant, running: Running, login: Login, kind: str, at: datetime
) -> delivery.Event:
    """An event of the login's, keyed by what it is of (so it is counted once)."""
    return delivery.Event(
        keyed_id(kind, running.campaign_id, login.device, login.at.isoformat()),
        kind,
        m.merchant_id,
        login.device,
        login.store_id,
        running.advertiser_id,
        running.campaign_id,
        running.line_item_id,
        running.creative_id,
        at,
    )


async def a_waiting_campaign(db: asyncpg.Pool, m: Merchant, member: AdvertiserMember) -> int:
    """A campaign of the advertiser's asking the merchant, not yet decided (the approval
    queue); 1 when made now."""
    name = f"{member.name}: autumn launch"
    if await campaign_named(db, m, member, name) is not None:
        return 0
    plan = CampaignPlan(name, None, m.end, m.end + timedelta(days=CAMPAIGN_TAIL_DAYS))
    await a_campaign_asking(db, m, member, plan)
    return 1


async def an_imported_pool(db: asyncpg.Pool, m: Merchant) -> int:
    """The merchant's own campaign whose coupon hands out IMPORTED_CODES codes of its POS's,
    imported from a CSV file (the console's import page); how many codes were imported now."""
    name = "Partner codes"
    if await campaign_named(db, m, None, name) is not None:
        return 0
    ends = m.end + timedelta(days=CAMPAIGN_TAIL_DAYS)
    async with db.acquire() as conn:
        made = await ads.create_campaign(
            conn,
            m.merchant_id,
            advertiser=MERCHANT_NAME,
            name=name,
            starts_at=m.end,
            ends_at=ends,
            headline_en="A partner's gift",
            headline_zh="合作伙伴礼品",
            body_en="",
            body_zh="",
            image=picture(name, "#1e3a8a"),
            coupon=("Partner gift", "合作礼品", ends, 0),
            pool="imported",
        )
        assert made.coupon_id is not None
        csv = "code\n" + "".join(
            f"BH{m.merchant_id.hex[:4].upper()}{n:06d}\n" for n in range(IMPORTED_CODES)
        )
        return await code_import.import_codes(
            conn, m.merchant_id, made.coupon_id, csv.encode(), actor=BY
        )


# -- what the console page benchmark walks with --------------------------------------------------


@dataclass(frozen=True)
class History:
    merchant_id: uuid.UUID
    stores: int
    logins: int
    emails: dict[str, str]  # role -> the account it signs in as (password PASSWORD)
    ids: dict[str, str]  # a path parameter's name -> the record the pages are opened with


async def _has_tag(db: asyncpg.Pool, merchant_id: uuid.UUID, tag_id: str) -> bool:
    return any(t.tag_id == tag_id for t in await marketing_tags.list_tags(db, merchant_id))


async def find_history(db: asyncpg.Pool) -> History:
    """The accounts and records the console pages are opened with: the busiest store, its
    router, logo and opening-night vouchers, its first member of staff, the first
    advertiser's campaign and creative file. BenchError naming what is missing."""
    merchant_id, stores = await seeded_stores(db)
    n, store = await busiest_store(db, merchant_id, stores)
    m = Merchant(merchant_id, stores, [], datetime.now(UTC), datetime.now(UTC))
    router_id = dict((s.store_id, r) for s, r in reversed(list(router_ids(m))))[store.store_id]
    current = await look.read_look(db, merchant_id, store.store_id)
    batches = {b.name: b.batch_id for b in await vouchers.list_batches(db, merchant_id)}
    staff = await accounts.user_id_by_email(db, staff_email(n, 0))
    advertiser = await accounts.user_id_by_email(db, advertiser_email(0))
    found: dict[str, object] = {
        "store_id": store.store_id,
        "image_id": current.logo_id if current else None,
        "router_id": router_id if await find_router(db, router_id) else None,
        "batch_id": batches.get(f"{store.name} · Opening night"),
        "user_id": staff,
        "tag_id": "frequent" if await _has_tag(db, merchant_id, "frequent") else None,
        "trigger_id": await marketing_triggers.trigger_named(db, merchant_id, MARKETING_TRIGGER),
        "segment_id": await _segment_named(db, merchant_id, MARKETING_SEGMENT),
    }
    if advertiser is not None:
        member = await an_advertiser(db, 0)
        campaign_id = await campaign_named(db, m, member, f"{ADVERTISERS[0][0]} at the mall")
        found["advertiser_id"] = member.advertiser_id
        found["campaign_id"] = campaign_id
        if campaign_id is not None:
            creatives = await advertisers.list_creatives(db, member.advertiser_id, campaign_id)
            found["file_id"] = creatives[0]["file_id"] if creatives else None
    missing = [k for k in ("advertiser_id", "campaign_id", "file_id") if k not in found]
    missing += [k for k, v in found.items() if v is None]
    if missing:
        raise BenchError(
            f"the console history is missing ({', '.join(missing)}): run `python -m "
            "bench.console_history --database-url URL` on the seeded database first"
        )
    emails = {
        "owner": email("owner"),
        "staff": staff_email(n, 0),
        "advertiser": advertiser_email(0),
        "operator": email("operator"),
    }
    ids = {k: str(v) for k, v in found.items()}
    logins = sum((await logins_by_store(db, merchant_id)).values())
    return History(merchant_id, len(stores), logins, emails, ids)


MARKETING_TRIGGER = "Welcome back"
MARKETING_SEGMENT = "Lapsed shoppers"


async def _segment_named(db: asyncpg.Pool, merchant_id: uuid.UUID, name: str) -> uuid.UUID | None:
    found = await marketing_segments.list_segments(db, merchant_id)
    return next((s.segment_id for s in found if s.name_en == name), None)


async def add_marketing(db: asyncpg.Pool, m: Merchant) -> str:
    """The merchant's default tags, a trigger (a lapsed shopper arriving → a portal offer) and
    a segment (the lapsed, shared with advertisers), through marketing's own functions; once."""
    await marketing_tags.ensure_defaults(db, m.merchant_id)
    if await marketing_triggers.trigger_named(db, m.merchant_id, MARKETING_TRIGGER) is None:
        await marketing_triggers.save_trigger(
            db,
            m.merchant_id,
            marketing_triggers.TriggerSpec(
                "欢迎回来",
                MARKETING_TRIGGER,
                "arrival",
                {"tag": "lapsed"},
                "portal",
                "welcome-back",
                message_zh="好久不见！",
                message_en="Good to see you again!",
            ),
        )
    if await _segment_named(db, m.merchant_id, MARKETING_SEGMENT) is None:
        await marketing_segments.save_segment(
            db,
            m.merchant_id,
            marketing_segments.SegmentSpec("流失顾客", MARKETING_SEGMENT, {"tag": "lapsed"}, True),
        )
    return "default tags, a trigger, a segment"


# -- running ----------------------------------------------------------------------------------

ACCEPT_URL = "http://127.0.0.1:8000/invite"  # the invitations' links (never followed)


async def step(label: str, work: Awaitable[object]) -> object:
    began = time.monotonic()
    result = await work
    print(f"history: {label}: {result} ({time.monotonic() - began:.1f} s)", flush=True)
    return result


async def add_history(database_url: str, mqtt_url: str) -> History:
    """Everything of the module docstring that the database lacks; the History to walk."""
    await migrate(database_url)  # a seed made by older code lacks the newer tables
    db = await create_pool(database_url, size=4)
    try:
        m = await seeded_merchant(db)
        print(
            f"history: {MERCHANT_NAME}: {len(m.stores)} stores, {len(m.logins):,} logins over "
            f"{m.days} days",
            flush=True,
        )
        people = await add_people(db, m, ACCEPT_URL)
        staff = sum(len(s) for s in people.staff.values())
        print(f"history: people: an owner, {staff} staff, an operator", flush=True)
        await step("other merchants made", add_other_merchants(db))
        await step("stores furnished", furnish_stores(db, m))
        routers = await add_routers(db, m)
        print(f"history: routers made: {len(routers)}", flush=True)
        await step("heartbeats stored", add_telemetry(db, m, routers))
        await step("commands sent", add_commands(db, m, people, mqtt_url))
        await step("text messages sent", add_sms(db, m))
        await step("voucher batches made", add_vouchers(db, m, people))
        await step("POS keys made", add_pos_keys(db, m, people))
        await step("ads", add_ads(db, m, people))
        await step("marketing", add_marketing(db, m))
        # As autovacuum would (off on some servers: SHOW autovacuum); longer than the pool's
        # 30 s statement timeout at 90 days × 20 stores.
        await db.execute("ANALYZE", timeout=MAINTENANCE_TIMEOUT)
        return await find_history(db)
    finally:
        await db.close()


async def drop(database_url: str) -> None:
    """Forget the database's routers on the broker (their retained statuses), then drop it."""
    await forget_routers(database_url)
    name = urlsplit(database_url).path.lstrip("/")
    admin = await asyncpg.connect(with_database(database_url, "postgres"))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()
    print(f"history: dropped {name}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--database-url", required=True, help="the seeded database")
    parser.add_argument(
        "--drop", action="store_true", help="forget its routers on the broker and drop it"
    )
    args = parser.parse_args()
    if args.drop:
        asyncio.run(drop(args.database_url))
        return
    mqtt_url = os.environ.get("MQTT_URL", "mqtt://127.0.0.1:1883")
    try:
        history = asyncio.run(add_history(args.database_url, mqtt_url))
    except BenchError as exc:
        sys.exit(f"console_history: {exc}")
    print(f"history: ready; the pages are opened with {history.ids}", flush=True)


if __name__ == "__main__":
    main()
