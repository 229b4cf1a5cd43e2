"""`portico demo` (what `make run` runs): demo data, the whole platform, simulated routers."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import asyncpg

import accounts.services as accounts
import ads.services as ads
import portal.stores as portal
from controller.commands import CommandSender
from controller.fleet_config import DesiredConfig, set_desired
from controller.services import find_router, register_router, reset_router_password
from kernel.config import Settings
from portal import vouchers
from portico import demo_footfall
from portico.runtime import ROLES, infrastructure, running_roles, wait_for_stop_signal
from simulators.router import SimulatedRouter
from simulators.wifidog import WifidogGateway

log = logging.getLogger("portico.demo")

DEMO_MERCHANT = "Demo Mall"
DEMO_EMAIL = "demo@portico.local"
DEMO_PASSWORD = "portico-demo"  # noqa: S105 - printed for the person trying the demo
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
        await register_router(
            conn,
            merchant_id,
            by_name[name],
            demo.router_id,
            f"{name} AP {demo.router_id.rsplit('-', 1)[1]}",
            gateway_mac=_demo_gateway_mac(demo.router_id) if demo.gateway == "opennds" else None,
            gateway=demo.gateway,
            fas_level=demo.fas_level,
        )
        log.info("added the demo router %s", demo.router_id)
    return merchant_id


async def _seed_merchant(conn: asyncpg.Connection) -> uuid.UUID:
    async with conn.transaction():
        merchant_id = await accounts.create_merchant(conn, DEMO_MERCHANT)
        user_id = await accounts.create_user(conn, DEMO_EMAIL, "Demo Owner", DEMO_PASSWORD)
        await accounts.add_membership(conn, merchant_id, user_id, "owner")
        for index, (name, name_zh) in enumerate(DEMO_STORES):
            store_id = await accounts.create_store(conn, merchant_id, name)
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
            image_type="image/svg+xml",
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


def _demo_ad_image() -> bytes:
    return (
        b'<svg xmlns="http://www.w3.org/2000/svg" width="800" height="400" viewBox="0 0 800 400">'
        b'<defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="1">'
        b'<stop offset="0" stop-color="#6b3e26"/><stop offset="1" stop-color="#c08552"/>'
        b"</linearGradient></defs>"
        b'<rect width="800" height="400" fill="url(#g)"/>'
        b'<circle cx="620" cy="200" r="120" fill="#f5e6d3"/>'
        b'<circle cx="620" cy="200" r="92" fill="#8b5a3c"/>'
        b'<path d="M575 190 q45 -50 90 0 q-45 50 -90 0z" fill="#f5e6d3"/>'
        b'<text x="60" y="170" font-family="sans-serif" font-size="64" font-weight="700" '
        b'fill="#fff">Lucky Bean</text>'
        b'<text x="60" y="250" font-family="sans-serif" font-size="44" fill="#fde68a">'
        b"Latte \xc2\xa59.9</text></svg>"
    )


@dataclass
class RunningRouter:
    demo: DemoRouter
    url: str  # the simulated gateway's address for a browser
    sim: SimulatedRouter | WifidogGateway


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
