"""Who the gateway is and what its store shows: a router's store portal settings (cached), and
a shopper's arrival checked against the router it claims to come from (`open_visit`)."""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass
from typing import NamedTuple

import asyncpg

from accounts.services import get_store
from accounts.services import merchant_suspended as _read_suspended
from controller.services import AccessPolicy, Router, find_router
from kernel.cache import TtlCache
from kernel.errors import PorticoError
from kernel.privacy import device_hash
from kernel.sql import load_queries
from portal.fas import BadRedirect, FasClient, parse_fas, parse_fas_text, split_carried
from portal.fas_aes import decrypt_fas

queries = load_queries(__file__)

LOGIN_METHODS = frozenset({"click", "sms", "voucher", "email"})


class UnknownGateway(PorticoError):
    message_id = "error_unknown_gateway"
    status = 404


class ServiceUnavailable(PorticoError):
    """The router's merchant is suspended by the platform: the shopper gets a neutral page
    (nothing about the merchant's account) and no grant."""

    message_id = "error_service_unavailable"
    title_id = "error_service_unavailable_title"
    status = 503


@dataclass(frozen=True)
class StorePortal:
    brand_name: str
    brand_color: str
    welcome_en: str
    welcome_zh: str
    login_methods: list[str]
    terms_version: str
    session_minutes: int
    up_kbps: int
    down_kbps: int
    up_quota_kb: int
    down_quota_kb: int
    landing_url: str
    idle_minutes: int = 0  # an idle client is let go after this long (0: never)
    extend_minutes: int = 0  # a shopper may extend by this much (0: no extension) ...
    max_extensions: int = 0  # ... this many times
    returning_days: int = 0  # a shopper seen within this many days is let through (0: off)
    page_color: str = "#ffffff"  # the page's background and text (portal/look.py)
    text_color: str = "#1f2937"
    logo_id: uuid.UUID | None = None  # pictures in portal_images (None: none)
    background_id: uuid.UUID | None = None
    logo_url: str = ""  # where the splash finds them ('' for none), made once per load
    background_url: str = ""

    @property
    def policy(self) -> AccessPolicy:
        return AccessPolicy(
            self.session_minutes, self.up_kbps, self.down_kbps, self.up_quota_kb, self.down_quota_kb
        )


class Visit(NamedTuple):
    """A verified-as-far-as-we-can shopper arrival: router, store settings and the client (a
    NamedTuple, as FasClient: one is made on every splash view)."""

    router: Router
    portal: StorePortal
    client: FasClient
    device: str  # pseudonymous device id

    @property
    def merchant_id(self) -> uuid.UUID:
        return self.router.merchant_id


# A router and its store's portal settings change rarely and are read on every splash view;
# changes show within this many seconds.
SETTINGS_TTL = 5.0
_gateways: TtlCache[str, tuple[Router, StorePortal]] = TtlCache(SETTINGS_TTL)


async def store_gateway(db: asyncpg.Pool, router_id: str) -> tuple[Router, StorePortal]:
    """The router named in the portal URL and its store's portal settings (cached, and read
    again in the background shortly before they expire: see TtlCache)."""

    async def read() -> tuple[Router, StorePortal]:
        router = await find_router(db, router_id)
        if router is None:
            raise UnknownGateway(f"no router {router_id!r}")
        row = await db.fetchrow(queries.store_portal, router.merchant_id, router.store_id)
        if row is None:  # a store nobody has set up yet: the platform's defaults
            store = await get_store(db, router.merchant_id, router.store_id)
            if store is None:
                raise UnknownGateway(f"store of router {router_id} is gone")
            await ensure_store_portal(db, router.merchant_id, router.store_id, store.name)
            row = await db.fetchrow(queries.store_portal, router.merchant_id, router.store_id)
        paths = {
            "logo_url": image_path(router.merchant_id, router.store_id, row["logo_id"]),
            "background_url": image_path(router.merchant_id, router.store_id, row["background_id"]),
        }
        return router, StorePortal(**dict(row), **paths)

    return await _gateways.get_or_load(router_id, read, refresh_ahead=1.0)


def image_path(merchant_id: uuid.UUID, store_id: uuid.UUID, image_id: uuid.UUID | None) -> str:
    """Where the portal serves a store's picture ('' for none; portal/look.py stores them). The
    splash reads its store's two from StorePortal (logo_url, background_url), made when the
    settings are loaded."""
    return f"/look/{merchant_id}/{store_id}/{image_id}" if image_id else ""


MAX_BRAND = 80  # characters of a brand name (portal/look.py checks what owners type)


async def ensure_store_portal(
    db: asyncpg.Pool | asyncpg.Connection, merchant_id: uuid.UUID, store_id: uuid.UUID, name: str
) -> None:
    """Give a store without portal settings the platform's defaults (the table's), named after
    the store: a store added in the console serves its splash before anyone brands it."""
    await db.execute(queries.ensure_store_portal, merchant_id, store_id, name[:MAX_BRAND])


_suspensions: TtlCache[uuid.UUID, bool] = TtlCache(SETTINGS_TTL)


async def merchant_suspended(db: asyncpg.Pool, merchant_id: uuid.UUID) -> bool:
    """Whether the platform suspended the merchant (accounts' answer, cached like the store's
    settings: a suspension or its end shows within SETTINGS_TTL seconds)."""

    async def read() -> bool:
        return await _read_suspended(db, merchant_id)

    return await _suspensions.get_or_load(merchant_id, read, refresh_ahead=1.0)


async def check_in_service(db: asyncpg.Pool, router: Router) -> None:
    """ServiceUnavailable when the router's merchant is suspended: called where a shopper
    arrives or asks to be let on (the openNDS splash and login, WiFiDog's login page and
    form), so nobody is granted; the gateway's own calls (auth, ping, session ends) go on."""
    if await merchant_suspended(db, router.merchant_id):
        raise ServiceUnavailable(f"merchant {router.merchant_id} is suspended")


def _decrypted(fas_part: str | None, iv_part: str | None, keys: tuple[str, ...]) -> FasClient:
    failure = BadRedirect("no faskey")
    for key in keys:
        try:
            return parse_fas_text(decrypt_fas(fas_part, iv_part, key))
        except BadRedirect as exc:  # garbage under the other key fails to parse, too
            failure = exc
    raise failure


async def open_visit(
    db: asyncpg.Pool, secret_key: str, router_id: str, raw_fas: str | None
) -> Visit:
    """Check an openNDS redirect against the router it claims to come from.

    `raw_fas` is the redirect as the splash carries it (fas.carried_redirect): at FAS level 1
    the base64 `fas`; at levels 2 and 3 `<fas>&iv=<iv>`, which must decrypt with the router's
    faskey (portal/fas_aes.py), so those redirects are authenticated by the router. While a
    new faskey is rotated in, either key will do (the router switches when it applies it).
    """
    router, portal = await store_gateway(db, router_id)
    await check_in_service(db, router)
    fas_part, iv_part = split_carried(raw_fas)
    if router.fas_level >= 2:
        client = _decrypted(fas_part, iv_part, router.faskeys)
    else:
        client = parse_fas(fas_part)
    if router.gateway_mac and client.gateway_mac and router.gateway_mac != client.gateway_mac:
        raise BadRedirect(f"gatewaymac {client.gateway_mac} is not router {router_id}'s")
    device = device_hash(secret_key, _text(router.merchant_id), client.client_mac)
    return Visit(router, portal, client, device)


# str(uuid) formats in Python (0.5 µs a splash view); the merchants served are few.
_text = functools.lru_cache(maxsize=4096)(str)


def landing_url(visit: Visit) -> str:
    """Where the online page sends the shopper on: the merchant's page, or what they asked."""
    return visit.portal.landing_url or visit.client.origin_url


async def upsert_store_portal(
    conn: asyncpg.Connection | asyncpg.Pool,
    merchant_id: uuid.UUID,
    store_id: uuid.UUID,
    *,
    brand_name: str,
    brand_color: str = "#0a7d5a",
    welcome_en: str = "",
    welcome_zh: str = "",
    login_methods: tuple[str, ...] = ("click",),
    session_minutes: int = 60,
    up_kbps: int = 0,
    down_kbps: int = 0,
    up_quota_kb: int = 0,
    down_quota_kb: int = 0,
    landing_url: str = "",
    idle_minutes: int = 0,
    extend_minutes: int = 0,
    max_extensions: int = 0,
    returning_days: int = 0,
) -> None:
    unknown = set(login_methods) - LOGIN_METHODS
    if unknown:
        raise ValueError(f"unknown login methods {sorted(unknown)}")
    await conn.execute(
        queries.upsert_store_portal,
        merchant_id,
        store_id,
        brand_name,
        brand_color,
        welcome_en,
        welcome_zh,
        list(login_methods),
        session_minutes,
        up_kbps,
        down_kbps,
        up_quota_kb,
        down_quota_kb,
        landing_url,
        idle_minutes,
        extend_minutes,
        max_extensions,
        returning_days,
    )


async def set_login_policy(
    conn: asyncpg.Connection | asyncpg.Pool,
    merchant_id: uuid.UUID,
    store_id: uuid.UUID,
    *,
    login_methods: tuple[str, ...],
    returning_days: int = 0,
    idle_minutes: int = 0,
    extend_minutes: int = 0,
    max_extensions: int = 0,
) -> None:
    """A store's login methods and session policy, its branding left as it is."""
    unknown = set(login_methods) - LOGIN_METHODS
    if unknown or not login_methods:
        raise ValueError(f"login methods {sorted(login_methods)}: none, or unknown ones")
    await conn.execute(
        queries.set_login_policy,
        merchant_id,
        store_id,
        list(login_methods),
        returning_days,
        idle_minutes,
        extend_minutes,
        max_extensions,
    )


async def branded_store_count(db: asyncpg.Pool | asyncpg.Connection, merchant_id: uuid.UUID) -> int:
    """How many of the merchant's stores show shoppers a portal of their own look (a welcome
    text or a colour of their own): the console's first-run checklist asks for one."""
    return await db.fetchval(queries.branded_stores, merchant_id)
