"""`portico demo` (what `make run` runs): demo data, the whole platform, simulated routers."""

from __future__ import annotations

import io
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import asyncpg
from PIL import Image, ImageDraw, ImageFont

import accounts.services as accounts
import ads.services as ads
import portal.stores as portal
from accounts import audit, operators, plans
from ads import advertisers, demo_history
from controller.commands import CommandSender
from controller.fleet_config import DesiredConfig, set_desired
from controller.services import (
    find_router,
    register_router,
    reset_router_password,
    router_count,
)
from kernel.config import Settings
from portal import vouchers
from portico import demo_footfall, demo_marketing
from portico.runtime import ROLES, infrastructure, running_roles, wait_for_stop_signal
from simulators.router import SimulatedRouter
from simulators.wifidog import WifidogGateway

log = logging.getLogger("portico.demo")

DEMO_MERCHANT = "Demo Mall"
DEMO_EMAIL = "demo@portico.local"
DEMO_PASSWORD = "portico-demo"  # noqa: S105 - printed for the person trying the demo
DEMO_ADVERTISER_EMAIL = "advertiser@portico.local"
DEMO_OPERATOR_EMAIL = "ops@portico.local"  # a platform operator: every merchant, at /operator
DEMO_ADVERTISER = "Jade Tea House"
DEMO_STORES = (
    ("Demo Mall · Ground Floor", "演示商场 · 一楼"),
    ("Demo Mall · Food Court", "演示商场 · 美食广场"),
)


@dataclass(frozen=True)
class DemoRouter:
    router_id: str
    store: int  # index into DEMO_STORES
    gateway: str  # "opennds" (with our agent) or "wifidog"
    fas_level: int
    port: int  # where its simulated gateway answers a browser
    agent: bool = True  # runs our agent; without it a level-3 openNDS grants through authmon


# One router of each kind a merchant may own: openNDS with our agent (FAS levels 1 and 2; at
# level 2 the redirect is encrypted with the router's faskey), openNDS at FAS level 3 without
# the agent (its authmon polls the portal), and a WiFiDog gateway.
DEMO_ROUTERS = (
    DemoRouter("ap-demo-1", 0, "opennds", 1, 2050),
    DemoRouter("ap-demo-2", 0, "opennds", 1, 2051),
    DemoRouter("ap-demo-3", 1, "opennds", 1, 2052),
    DemoRouter("ap-demo-4", 1, "opennds", 3, 2053, agent=False),
    DemoRouter("wd-demo-5", 1, "wifidog", 1, 2060),
    DemoRouter("ap-demo-6", 0, "opennds", 2, 2054),
)
DEMO_PLAN = "standard"  # its 2 stores, 6 routers and 1 owner fit, with room to try adding
SEED = audit.Actor.system("demo seed")  # who the audit log says made the demo's records
AUTHMON_INTERVAL = 2.0  # seconds between authmon's polls (openNDS: 5); a shorter wait to watch


async def seed(conn: asyncpg.Connection) -> uuid.UUID:
    """Create the demo merchant once, and any demo router it lacks (a data folder from an
    older version gets the new ones); what exists is left as it is."""
    merchant_id = await accounts.merchant_named(conn, DEMO_MERCHANT)
    if merchant_id is None:
        merchant_id = await _seed_merchant(conn)
    stores = await accounts.list_stores(conn, merchant_id)
    by_name = {store.name: store.store_id for store in stores}
    for demo in DEMO_ROUTERS:
        if await find_router(conn, demo.router_id) is not None:
            continue
        name = DEMO_STORES[demo.store][0]
        router_name = f"{name} AP {demo.router_id.rsplit('-', 1)[1]}"
        mac = _demo_gateway_mac(demo.router_id) if demo.gateway == "opennds" else None
        async with conn.transaction():  # the router and its audit entry, or neither
            await register_router(
                conn,
                merchant_id,
                by_name[name],
                demo.router_id,
                router_name,
                gateway_mac=mac,
                gateway=demo.gateway,
                fas_level=demo.fas_level,
            )
            await audit.record_change(
                conn,
                merchant_id,
                SEED,
                "router.create",
                target_id=demo.router_id,
                target_name=router_name,
                after={"name": router_name, "store": name, "fas_level": demo.fas_level},
            )
        log.info("added the demo router %s", demo.router_id)
    await _fit_plan(conn, merchant_id)
    return merchant_id


async def _fit_plan(conn: asyncpg.Connection, merchant_id: uuid.UUID) -> None:
    """Put the demo merchant on DEMO_PLAN when it has more than its plan allows (a new one
    starts on Free, whose one store is fewer than the demo's two; accounts/plans.py), so that
    the demo shows a merchant within its plan."""
    usage = await plans.usage(conn, merchant_id, await router_count(conn, merchant_id))
    if usage.over():
        await operators.change_plan(conn, merchant_id, DEMO_PLAN, SEED)
        log.info("the demo merchant is on the %s plan (it had %s)", DEMO_PLAN, usage.plan.plan)


async def _seed_merchant(conn: asyncpg.Connection) -> uuid.UUID:
    async with conn.transaction():
        merchant_id = await accounts.create_merchant(conn, DEMO_MERCHANT)
        user_id = await accounts.create_user(conn, DEMO_EMAIL, "Demo Owner", DEMO_PASSWORD)
        await accounts.add_membership(conn, merchant_id, user_id, "owner")
        await audit.record_change(
            conn,
            merchant_id,
            SEED,
            "merchant.create",
            target_id=merchant_id,
            target_name=DEMO_MERCHANT,
            after={"name": DEMO_MERCHANT},
        )
        await audit.record_change(
            conn,
            merchant_id,
            SEED,
            "membership.create",
            target_id=user_id,
            target_name=DEMO_EMAIL,
            after={"email": DEMO_EMAIL, "role": "owner"},
        )
        for index, (name, name_zh) in enumerate(DEMO_STORES):
            store_id = await accounts.create_store(conn, merchant_id, name)
            await audit.record_change(
                conn,
                merchant_id,
                SEED,
                "store.create",
                target_id=store_id,
                target_name=name,
                after={"name": name},
            )
            await portal.upsert_store_portal(
                conn,
                merchant_id,
                store_id,
                brand_name=name,
                brand_color=("#0a7d5a", "#b45309")[index],
                welcome_en="Welcome! Free WiFi for our shoppers.",
                welcome_zh=f"欢迎光临{name_zh}！顾客免费 WiFi。",
                login_methods=("click",),
                session_minutes=120,
                down_kbps=20_000,
                up_kbps=5_000,
            )
        now = datetime.now(UTC)
        await ads.create_campaign(
            conn,
            merchant_id,
            advertiser="Lucky Bean Coffee",
            name="Autumn latte launch",
            starts_at=now - timedelta(days=1),
            ends_at=now + timedelta(days=365),
            headline_en="Lucky Bean: any latte ¥9.9 this week",
            headline_zh="幸运豆咖啡：本周任意拿铁 9.9 元",
            body_en="Two steps from the main entrance. Claim your coupon below.",
            body_zh="主入口旁两步即到，立即领取下方优惠券。",
            image=_demo_ad_image(),
            coupon=("¥10 off a latte", "拿铁立减 10 元", now + timedelta(days=365), 500),
        )
    log.info("seeded the demo merchant %s", DEMO_MERCHANT)
    return merchant_id


async def seed_logins(db: asyncpg.Pool, merchant_id: uuid.UUID) -> None:
    """Every login method on the ground floor (click-through, SMS code to the console's outbox,
    voucher, email), returning shoppers let through for 7 days, sessions that may be extended,
    and a printable batch of vouchers: once, also for a data folder from an older version."""
    if await vouchers.list_batches(db, merchant_id):
        return
    stores = {store.name: store for store in await accounts.list_stores(db, merchant_id)}
    ground = stores[DEMO_STORES[0][0]]
    await portal.set_login_policy(
        db,
        merchant_id,
        ground.store_id,
        login_methods=("click", "sms", "voucher", "email"),
        returning_days=7,
        idle_minutes=15,
        extend_minutes=30,
        max_extensions=2,
    )
    spec = vouchers.BatchSpec(
        name="Demo vouchers · 演示上网券",
        store_id=None,
        minutes=240,
        quota_kb=0,
        max_devices=2,
        valid_until=None,
        count=12,
    )
    await vouchers.create_batch(db, merchant_id, spec, now=datetime.now(UTC))
    log.info("demo: every login method on %s, and a batch of vouchers", ground.name)


def _demo_gateway_mac(router_id: str) -> str:
    number = int(router_id.rsplit("-", 1)[1])
    return f"02:00:5e:00:00:{number:02x}"


def _demo_tea_image() -> bytes:
    """The demo advertiser's creative: a green PNG drawn with Pillow."""
    image = Image.new("RGB", (800, 400), "#14532d")
    draw = ImageDraw.Draw(image)
    draw.ellipse((520, 90, 740, 310), fill="#d9f99d")
    draw.rounded_rectangle((560, 170, 700, 280), radius=30, fill="#f0fdf4")
    draw.arc((680, 190, 740, 250), 270, 90, fill="#f0fdf4", width=12)
    draw.text((60, 120), "Jade Tea House", font=ImageFont.load_default(size=60), fill="#ffffff")
    draw.text(
        (60, 210), "Spring tea, 2 for 1", font=ImageFont.load_default(size=40), fill="#bbf7d0"
    )
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def _demo_ad_image() -> bytes:
    """The demo's ad: a PNG drawn with Pillow (SVG uploads are refused by the product)."""
    image = Image.new("RGB", (800, 400), "#6b3e26")
    draw = ImageDraw.Draw(image)
    for y in range(400):  # a brown gradient, top to bottom
        shade = 0x6B + (0xC0 - 0x6B) * y // 400
        draw.line([(0, y), (800, y)], fill=(shade, 0x3E + (0x85 - 0x3E) * y // 400, 0x26 + y // 8))
    draw.ellipse((500, 80, 740, 320), fill="#f5e6d3")
    draw.ellipse((528, 108, 712, 292), fill="#8b5a3c")
    draw.chord((575, 150, 665, 250), 180, 360, fill="#f5e6d3")
    font = ImageFont.load_default(size=64)
    draw.text((60, 110), "Lucky Bean", font=font, fill="#ffffff")
    draw.text((60, 200), "Any latte 9.9", font=ImageFont.load_default(size=44), fill="#fde68a")
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


@dataclass
class RunningRouter:
    demo: DemoRouter
    url: str  # the simulated gateway's address for a browser
    sim: SimulatedRouter | WifidogGateway


async def seed_ad_images(db: asyncpg.Pool, merchant_id: uuid.UUID) -> None:
    """The mall's own creatives that lost their image when migration 0029 moved them (a data
    folder from an older version) get the demo's PNG again."""
    own = await advertisers.own_advertiser_of(db, merchant_id)
    if own is None:
        return
    for campaign_id, creative_id in await advertisers.creatives_without_file(db, own):
        await advertisers.attach_file(
            db, own, campaign_id, creative_id, _demo_ad_image(), "lucky-bean.png"
        )
        log.info("gave the demo creative %s its image again", creative_id)


async def seed_operator(db: asyncpg.Pool) -> None:
    """A platform operator, once: ops@portico.local, who sees the merchants at /operator (as
    `portico operator add` makes one; sign-up never does)."""
    async with db.acquire() as conn, conn.transaction():
        if await accounts.user_id_by_email(conn, DEMO_OPERATOR_EMAIL) is not None:
            return
        user_id = await accounts.create_user(
            conn, DEMO_OPERATOR_EMAIL, "Demo Operator", DEMO_PASSWORD
        )
        await operators.grant(conn, user_id)


async def seed_advertiser(db: asyncpg.Pool, merchant_id: uuid.UUID) -> uuid.UUID | None:
    """Another company advertising at the demo mall, once: advertiser@portico.local (admin of
    Jade Tea House) with an active campaign whose line item targets the mall, waiting in the
    mall's approval queue. None when it exists already."""
    async with db.acquire() as conn, conn.transaction():
        if await accounts.user_id_by_email(conn, DEMO_ADVERTISER_EMAIL) is not None:
            return None
        user_id = await accounts.create_user(
            conn, DEMO_ADVERTISER_EMAIL, "Demo Advertiser", DEMO_PASSWORD
        )
        advertiser_id = await advertisers.create_advertiser(
            conn, DEMO_ADVERTISER, category="food", admin_user_id=user_id
        )
        for store in await accounts.list_stores(conn, merchant_id):
            await accounts.set_store_city(conn, merchant_id, store.store_id, "Shanghai")
    now = datetime.now(UTC)
    campaign = advertisers.CampaignFields(
        "Spring tea at Demo Mall",
        "food",
        now - timedelta(days=1),
        now + timedelta(days=90),
        "active",
        Decimal("0.1"),
    )
    campaign_id = await advertisers.create_campaign(db, advertiser_id, campaign)
    form = {
        "name": "Lunchtime, Demo Mall",
        "tier": "performance",
        "pricing": "cpc",
        "bid": "0.80",
        "budget": "2000",
        "goal_impressions": "",
        "pacing": "even",
        "starts_at": campaign.starts_at.isoformat(),
        "ends_at": campaign.ends_at.isoformat(),
        "dayparts": "",
        "weight": "1",
        "status": "active",
        "target_merchants": str(merchant_id),
        "target_stores": "",
        "target_cities": "",
        "target_segments": "",
        "target_audience": "all",
    }
    fields = advertisers.line_item_fields(form, ZoneInfo("Asia/Shanghai"), campaign)
    membership = advertisers.AdvertiserMembership(advertiser_id, DEMO_ADVERTISER, None, "admin")
    await advertisers.save_line_item(db, membership, campaign_id, fields, actor=SEED)
    texts = {
        "headline_zh": "翠玉茶馆：春茶买一送一",
        "headline_en": "Jade Tea House: spring tea, two for one",
        "body_zh": "美食广场二楼，午市限定。",
        "body_en": "Food court, 2nd floor, lunchtime only.",
        "landing_url": "https://example.com/jade-tea",
        "countdown_seconds": "",
    }
    await advertisers.add_creative(
        db,
        advertiser_id,
        campaign_id,
        advertisers.creative_fields(texts),
        _demo_tea_image(),
        "jade-tea.png",
    )
    # A past campaign with a report to read (ads/demo_history.py, docs/ad-reports.md).
    async with db.acquire() as conn:
        owner_id = await accounts.user_id_by_email(conn, DEMO_EMAIL)
    stores = await accounts.list_stores(db, merchant_id)
    if owner_id is not None and stores:
        await demo_history.seed(
            db, merchant_id, stores[0].store_id, advertiser_id, owner_id, _demo_tea_image()
        )
    log.info("seeded the demo advertiser %s, pending at %s", DEMO_ADVERTISER, DEMO_MERCHANT)
    return advertiser_id


async def demo_passwords(db: asyncpg.Pool, merchant_id: uuid.UUID) -> dict[str, str]:
    """A new broker password for each demo router that runs our agent: the simulated routers
    log in to the broker with their own accounts, as real ones do (only hashes are stored, so
    the demo makes new ones at every start)."""
    return {
        demo.router_id: await reset_router_password(db, merchant_id, demo.router_id)
        for demo in DEMO_ROUTERS
        if demo.gateway == "opennds" and demo.agent
    }


async def start_fleet(
    settings: Settings, db: asyncpg.Pool, passwords: dict[str, str], host: str = "127.0.0.1"
) -> list[RunningRouter]:
    fleet = []
    try:
        for demo in DEMO_ROUTERS:
            router = await find_router(db, demo.router_id)
            if router is None:
                raise RuntimeError(f"demo router {demo.router_id} is missing from the database")
            sim: SimulatedRouter | WifidogGateway
            if demo.gateway == "wifidog":
                sim = WifidogGateway(
                    demo.router_id,
                    auth_server=f"{settings.portal_url}/wifidog/",
                    gateway_host=host,
                    gateway_port=demo.port,
                )
                await sim.start()
                url = sim.gateway_url
            else:
                sim = SimulatedRouter(
                    demo.router_id,
                    mqtt_url=settings.mqtt_url,
                    password=passwords.get(demo.router_id, ""),
                    faskey=router.faskey,
                    portal_url=settings.portal_url,
                    gateway_mac=router.gateway_mac or _demo_gateway_mac(demo.router_id),
                    gateway_name=DEMO_MERCHANT,
                    gateway_host=host,
                    gateway_port=demo.port,
                    fas_level=router.fas_level,
                    with_agent=demo.agent,
                    authmon_interval=AUTHMON_INTERVAL,
                    authmon_start_delay=AUTHMON_INTERVAL,
                    # A real openNDS 11 refuses some good grants by accident (its binauth race);
                    # the demo's routers do too, so the agent's retries are part of the demo.
                    refusal_rate=DEMO_REFUSAL_RATE,
                    heartbeat=DEMO_HEARTBEAT if demo.agent else None,
                )
                await sim.start()
                url = f"http://{sim.gateway_address}/"
            fleet.append(RunningRouter(demo, url, sim))
    except BaseException:
        await stop_fleet(fleet)
        raise
    return fleet


async def stop_fleet(fleet: list[RunningRouter]) -> None:
    for running in fleet:
        await running.sim.stop()


DEMO_REFUSAL_RATE = 0.25
DEMO_HEARTBEAT = 30.0  # seconds between the simulated agents' telemetry


async def publish_desired(settings: Settings, db: asyncpg.Pool) -> None:
    """Each agent router's desired configuration: the portal reachable before login (its walled
    garden) and the stores' session policy. The routers apply it, and the console's Routers
    page shows it applied."""
    portal_url = urlsplit(settings.portal_url)
    host = portal_url.hostname or "127.0.0.1"
    port = portal_url.port or (443 if portal_url.scheme == "https" else 80)
    config = DesiredConfig(
        walled_garden=((host, port),), minutes=120, up_kbps=5_000, down_kbps=20_000
    )
    sender = CommandSender(settings.mqtt_url, db)
    await sender.start()
    try:
        for demo in DEMO_ROUTERS:
            router = await find_router(db, demo.router_id)
            if router is not None and demo.gateway == "opennds" and demo.agent:
                await set_desired(db, sender, router.ref, config)
    finally:
        await sender.stop()


async def run_demo(settings: Settings) -> None:
    async with infrastructure(settings) as infra:
        async with infra.db.acquire() as conn:
            merchant_id = await seed(conn)
        await seed_logins(infra.db, merchant_id)
        await seed_ad_images(infra.db, merchant_id)
        await seed_advertiser(infra.db, merchant_id)
        await seed_operator(infra.db)
        # Tags, segments, the stores' recent shoppers as profiles, then triggers (first start).
        await demo_marketing.prepare(infra.settings, infra.db, merchant_id, store_zones())
        passwords = await demo_passwords(infra.db, merchant_id)
        if infra.sync_broker is not None:
            await infra.sync_broker()  # the broker knows the new passwords before they log in
        async with running_roles(infra, ROLES):
            fleet = await start_fleet(infra.settings, infra.db, passwords)
            stores = [name for name, _ in DEMO_STORES]
            placed = [(r.demo.store, r.sim) for r in fleet]
            footfall = await demo_footfall.start(
                infra.settings, infra.db, merchant_id, placed, stores, passwords
            )
            try:
                await publish_desired(infra.settings, infra.db)
                _print_banner(infra.settings, fleet)
                await wait_for_stop_signal()
            finally:
                await footfall.stop()
                await stop_fleet(fleet)


def store_zones() -> dict[str, list[str]]:
    """Each demo store's routers that run our agent (the footfall zones), in fleet order, by
    store name: what the live presence plays the store's shoppers through."""
    return {
        name: [
            r.router_id
            for r in DEMO_ROUTERS
            if r.store == index and r.gateway == "opennds" and r.agent
        ]
        for index, (name, _zh) in enumerate(DEMO_STORES)
    }


def _print_banner(settings: Settings, fleet: list[RunningRouter]) -> None:
    lines = [
        "",
        "Portico demo is running. Press Ctrl-C to stop.",
        "",
        "Shopper: open a simulated router's captive page in a browser; it sends you to the",
        "portal exactly as that gateway would (a browser is one phone; a private window, another):",
    ]
    lines += [
        f"  {r.url:<26} {r.demo.router_id} · {_kind(r.demo)} · {DEMO_STORES[r.demo.store][0]}"
        for r in fleet
    ]
    lines += [
        "",
        f"Merchant console: {settings.console_url}/   login {DEMO_EMAIL} / {DEMO_PASSWORD}",
        f"  {DEMO_ADVERTISER}'s campaign waits for approval at {settings.console_url}/approvals",
        f"Advertiser console: {settings.console_url}/advertiser   login {DEMO_ADVERTISER_EMAIL}"
        f" / {DEMO_PASSWORD}",
        f"Operator (every merchant): {settings.console_url}/operator   login "
        f"{DEMO_OPERATOR_EMAIL} / {DEMO_PASSWORD}",
        "Precision marketing: the mall's shoppers (and your logins) set off its 3 triggers within"
        " seconds; see docs/marketing.md",
        f"Portal (what routers redirect to): {settings.portal_url}/fas/<router-id>/",
        "Add a real router (prints its one-line install command), in another terminal:",
        f"  .venv/bin/portico router add --store '{DEMO_STORES[1][0]}'",
        "",
    ]
    print("\n".join(lines), flush=True)


def _kind(demo: DemoRouter) -> str:
    if demo.gateway == "wifidog":
        return "WiFiDog gateway"
    if not demo.agent:
        return f"openNDS FAS level {demo.fas_level}, authmon, no agent"
    return f"openNDS FAS level {demo.fas_level} + agent"
