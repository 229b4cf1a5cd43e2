"""The captive mini-browser's limits, at the HTTP level (issue 8, "The captive mini-browser"):
the splash's first load (its HTML and everything it makes the browser fetch) is under 60 KB
and names no other host; no shopper page sets a cookie; the coupon comes as a code and a QR
code. tests/portal/test_captive_browser_chromium.py runs the same flow in Chromium with
JavaScript off."""

from __future__ import annotations

import io
import random
import re
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from html.parser import HTMLParser
from urllib.parse import urlsplit

import asyncpg
import pytest
import segno
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient
from PIL import Image, ImageDraw, ImageFilter

import ads.services as ads
import portal.stores as portal_stores
from ads.redemption import till_link
from kernel.config import Settings
from kernel.web import make_templates
from portal import views
from portal.fas import encode_fas
from portal.qr import coupon_qr, qr_data_uri
from simulators.router import SimulatedRouter
from tests.factories import Tenant, make_tenant
from tests.portal import test_splash_fast_paths as fast_paths
from tests.portal.session_helpers import form_of
from tests.portal.test_wifidog import GW_ADDRESS, GW_PORT, auth_query, make_wd

FIRST_LOAD_LIMIT = 60 * 1024
PAGE_LIMIT = 16 * 1024  # the splash's own HTML, with every login method, leaves room for an ad
EVERY_METHOD = ("click", "sms", "voucher", "email")
# Attributes that make a browser fetch or go somewhere.
URL_ATTRIBUTES = {"src", "href", "action", "formaction", "srcset", "poster", "data", "background"}
FETCHED = {("img", "src"), ("img", "srcset"), ("script", "src"), ("link", "href")}


def ad_photo() -> bytes:
    """An ad as the portal serves one: an 800 x 400 JPEG of a busy picture at quality 75,
    about 27 KB (the page's own bytes are about 11 KB: an ad may weigh up to about 45 KB)."""
    rng = random.Random(8)
    image = Image.new("RGB", (800, 400))
    draw = ImageDraw.Draw(image)
    for x in range(0, 800, 8):
        draw.rectangle([x, 0, x + 7, 400], fill=(100 + x // 8, 60 + x // 12, 40 + x // 20))
    for _ in range(900):  # texture, as a photo has
        x, y, r = rng.randrange(800), rng.randrange(400), rng.randrange(2, 9)
        colour = (rng.randrange(256), rng.randrange(200), rng.randrange(120))
        draw.ellipse([x, y, x + r, y + r], fill=colour)
    draw.ellipse([480, 80, 720, 320], fill=(245, 230, 211))
    draw.ellipse([510, 110, 690, 290], fill=(139, 90, 60))
    draw.text((60, 150), "Lucky Bean  Latte 9.9", fill=(255, 255, 255))
    buffer = io.BytesIO()
    image.filter(ImageFilter.GaussianBlur(0.8)).save(buffer, "JPEG", quality=75)
    return buffer.getvalue()


async def shop_with_every_method(db: asyncpg.Pool) -> Tenant:
    """A store offering every login method, with a photo ad and a coupon: the fullest splash."""
    tenant = await make_tenant(db, with_ad=False)
    await portal_stores.upsert_store_portal(
        db,
        tenant.merchant_id,
        tenant.store_id,
        brand_name=tenant.brand_name,
        welcome_en="Welcome to our store! Free WiFi for our shoppers.",
        welcome_zh="欢迎光临！顾客免费 WiFi。",
        login_methods=EVERY_METHOD,
        session_minutes=60,
        idle_minutes=30,
        down_kbps=8000,
        up_kbps=2000,
        down_quota_kb=2048 * 1024,
        extend_minutes=30,
        max_extensions=1,
    )
    now = datetime.now(UTC)
    async with db.acquire() as conn:
        campaign = await ads.create_campaign(
            conn,
            tenant.merchant_id,
            advertiser="Lucky Bean Coffee",
            name="Latte",
            starts_at=now - timedelta(hours=1),
            ends_at=now + timedelta(days=1),
            headline_en="Lucky Bean: any latte ¥9.9 this week",
            headline_zh="幸运豆咖啡：本周任意拿铁 9.9 元",
            body_en="Two steps from the main entrance. Claim your coupon below.",
            body_zh="主入口旁两步即到，立即领取下方优惠券。",
            image=ad_photo(),
            coupon=("¥10 off a latte", "拿铁立减 10 元", now + timedelta(days=1), 5),
            holdout_share=Decimal(0),  # every test shopper sees it
        )
    return Tenant(
        tenant.merchant_id,
        tenant.store_id,
        tenant.router,
        tenant.mqtt_password,
        campaign.coupon_id,
        tenant.brand_name,
    )


@pytest.fixture
async def tenant(db: asyncpg.Pool) -> Tenant:
    return await shop_with_every_method(db)


class References(HTMLParser):
    """Every URL a page names, with its tag and attribute; and any style url() or script."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[tuple[str, str, str]] = []
        self.scripts = 0
        self._in_style = False
        self.style_urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.scripts += tag == "script"
        self._in_style = tag == "style"
        for name, value in attrs:
            if name in URL_ATTRIBUTES and value is not None:
                self.urls.append((tag, name, value))
            if name == "style" and value and "url(" in value:
                self.style_urls.append(value)

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style and "url(" in data:
            self.style_urls.append(data)


def references(page: str) -> References:
    parser = References()
    parser.feed(page)
    return parser


def other_host(url: str, origin: str) -> bool:
    """Whether following `url` from a page of `origin` reaches another host (a data: URI is
    the page's own bytes)."""
    parts = urlsplit(url)
    if parts.scheme == "data":
        return False
    if not parts.scheme and not parts.netloc:
        return False  # relative: the page's own origin
    return f"{parts.scheme}://{parts.netloc}" != origin


async def first_load(portal: TestClient, path: str) -> tuple[int, dict[str, int], References]:
    """What a browser fetches to show the page at `path` (its HTML, then each image, script and
    stylesheet it names, from our own origin), in bytes; the page's references."""
    response = await portal.get(path, headers={"Accept-Language": "zh-CN"})
    assert response.status == 200
    body = await response.read()
    sizes = {path: len(body)}
    refs = references(body.decode())
    for tag, attribute, url in refs.urls:
        if (tag, attribute) not in FETCHED or url.startswith("data:"):
            continue
        fetched = await portal.get(url)
        assert fetched.status == 200, url
        sizes[url] = len(await fetched.read())
    return sum(sizes.values()), sizes, refs


async def test_the_splash_first_load_is_under_60_kb_and_names_no_other_host(
    portal_client: TestClient, router: SimulatedRouter, tenant: Tenant
) -> None:
    client = router.add_client("aa:bb:cc:40:00:01", "10.0.0.5")
    path = f"/fas/{router.router_id}/?fas={encode_fas(router.fas_fields(client, 'http://a.cn/'))}"
    origin = str(portal_client.make_url("")).rstrip("/")

    total, sizes, refs = await first_load(portal_client, path)

    assert total < FIRST_LOAD_LIMIT, sizes
    assert len(sizes) == 2, sizes  # the HTML and the ad image: nothing else is fetched
    assert sizes[path] < PAGE_LIMIT, sizes
    assert refs.scripts == 0 and refs.style_urls == []
    assert [u for u in refs.urls if other_host(u[2], origin)] == []
    forms = {tag for tag, attribute, _url in refs.urls if attribute == "action"}
    assert forms == {"form"}
    # Every login method's form is there (the fullest splash a store can have).
    page = (await (await portal_client.get(path)).read()).decode()
    for form in ("/login", "/sms/send", "/voucher", "/email"):
        assert f'action="/fas/{router.router_id}{form}"' in page, form


async def test_the_claimed_coupon_comes_as_a_code_and_a_qr_code(
    portal_client: TestClient, router: SimulatedRouter, tenant: Tenant, settings: Settings
) -> None:
    client = router.add_client("aa:bb:cc:40:00:02", "10.0.0.6")
    form = {"fas": encode_fas(router.fas_fields(client)), "coupon": str(tenant.coupon_id)}

    claimed = await portal_client.post(f"/fas/{router.router_id}/coupon", data=form)

    page = await claimed.text()
    code = re.search(r'id="coupon-code">([^<]+)<', page)
    qr = re.search(r'<img class="qr" id="coupon-qr" src="([^"]+)"', page)
    assert code and qr
    assert qr.group(1).startswith("data:image/svg+xml")
    # This shopper's code, not another's, as its link to the console's till page.
    link = till_link(settings.console_url, code.group(1))
    assert qr.group(1) == coupon_qr(settings.console_url, code.group(1)) == qr_data_uri(link)
    assert link == f"{settings.console_url}/till?code={code.group(1)}"
    assert len(page.encode()) < FIRST_LOAD_LIMIT  # the QR code adds about 1 KB

    # The online page after the login shows the same code and QR code.
    login = await portal_client.post(
        f"/fas/{router.router_id}/login",
        data={"fas": form["fas"], "accept": "1", "lang": "en"},
        allow_redirects=False,
    )
    online = await (await portal_client.get(login.headers["Location"])).text()
    assert f">{code.group(1)}<" in online
    assert f'src="{qr.group(1)}"' in online


def test_the_qr_code_is_a_full_qr_code_of_the_code() -> None:
    """Phone scanners read QR codes, rarely Micro QR: segno would pick Micro QR for a short
    code unless told not to."""
    code = "7KQ3-M9XW-TJ2"
    made = segno.make(code, micro=False, error="m", boost_error=False)
    assert not made.is_micro and made.error == "M"
    uri = qr_data_uri(code)
    side = (made.symbol_size(scale=4, border=4))[0]
    assert f"width%3D%27{side}%27" in uri and f"height%3D%27{side}%27" in uri
    assert len(uri) < 4096
    assert qr_data_uri("7KQ3-M9XW-TJ3") != uri


# -- no cookies --------------------------------------------------------------------------------


class CookieWatch:
    """Every shopper response the test client got, checked for Set-Cookie."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        self.cookies: list[tuple[str, str]] = []

    def check(self, response: ClientResponse) -> ClientResponse:
        self.seen.append(f"{response.method} {response.url.path} {response.status}")
        for value in response.headers.getall("Set-Cookie", []):
            self.cookies.append((str(response.url), value))
        return response


async def test_no_shopper_page_sets_a_cookie(
    portal_client: TestClient, router: SimulatedRouter, tenant: Tenant, db: asyncpg.Pool
) -> None:
    watch = CookieWatch()
    get, post = portal_client.get, portal_client.post

    async def g(path: str, **kw: object) -> ClientResponse:
        return watch.check(await get(path, allow_redirects=False, **kw))  # type: ignore[arg-type]

    async def p(path: str, data: object, **kw: object) -> ClientResponse:
        return watch.check(await post(path, data=data, allow_redirects=False, **kw))  # type: ignore[arg-type]

    r = router.router_id
    client = router.add_client("aa:bb:cc:40:00:03", "10.0.0.7")
    fas = encode_fas(router.fas_fields(client, "http://a.cn/"))
    splash = await g(f"/fas/{r}/?fas={fas}")
    page = await splash.text()
    image = re.search(r'<img src="([^"]+)"', page)
    assert image is not None
    await g(image.group(1).replace("&amp;", "&"))
    await p(f"/fas/{r}/coupon", {"fas": fas, "coupon": str(tenant.coupon_id)})
    await p(f"/fas/{r}/login", {"fas": fas, "lang": "en"})  # terms not accepted: 400
    login = await p(f"/fas/{r}/login", {"fas": fas, "accept": "1", "lang": "en"})
    link = login.headers["Location"]
    await g(link)
    await g(link, headers={"Accept": "application/captive+json"})
    await g(f"/captive-api/{r}")
    await g(f"/captive-api/{r}/session?{urlsplit(link).query}")
    extended = await p(f"/fas/{r}/extend", form_of(link))
    await g(extended.headers["Location"])
    await p(f"/fas/{r}/extend", form_of(link))  # refused: the one extension is used
    await p(f"/fas/{r}/logout", form_of(link))
    await g(f"/fas/{r}/online?s={uuid.uuid4()}&next=&sig=x")  # a link we did not sign
    await g(f"/fas/{r}/?status=authenticated")
    await g(f"/fas/{r}/?fas=bm90IGEgcmVkaXJlY3Q=")  # a bad redirect: an error page
    await g("/online")

    wd = await make_wd(db, extend_minutes=10, max_extensions=1)
    gw = wd.router.router_id
    mac, ip = "0a:11:22:33:44:77", "192.168.1.30"
    query = (
        f"/wifidog/login/?gw_address={GW_ADDRESS}&gw_port={GW_PORT}&gw_id={gw}"
        f"&ip={ip}&mac={mac}&url=http%3A%2F%2Fa.cn%2F"
    )
    ticket = re.search(r'name="fas" value="([^"]+)"', await (await g(query)).text())
    assert ticket is not None
    connect = await p("/wifidog/login/", {"fas": ticket.group(1), "accept": "1", "lang": "en"})
    token = urlsplit(connect.headers["Location"]).query.split("token=")[1]
    await g(auth_query("login", gw, token, mac=mac, ip=ip))
    await g(f"/wifidog/portal/?gw_id={gw}&token={token}&lang=en")
    fields = {"gw_id": gw, "token": token, "lang": "en"}
    await p("/wifidog/extend", fields)
    await p("/wifidog/logout", fields)
    await g(f"/wifidog/gw_message.php?message=denied&gw_id={gw}")

    assert len(watch.seen) == 24, watch.seen
    assert watch.cookies == [], watch.cookies


def test_the_qr_code_is_a_shopper_field_of_the_two_step_splash() -> None:
    """The claimed code's QR code is filled into the look's pre-rendered page like the code
    itself (portal/views.py, `_SHOPPER_FIELDS`), byte for byte what jinja2 renders."""
    env = make_templates("portal")
    views._skeletons.clear()
    for code in ("7KQ3-M9XW-TJ2", "ZZZZ-ZZZZ-ZZ1", "AB<12>&"):
        look, shopper = fast_paths.a_view("en", fast_paths.AD, None, code, "aGlkPWFiYw+/==")
        shopper["coupon_qr"] = qr_data_uri(code)
        look = look._replace(present=tuple(map(bool, shopper.values())))
        page = views._splash_page(env, look, shopper)
        assert page == fast_paths.full_page(env, look, shopper)
        assert f'id="coupon-qr" src="{qr_data_uri(code)}"'.encode() in page
    [(_expiry, skeleton)] = views._skeletons._entries.values()
    assert not isinstance(skeleton, str)  # the two-step page, not "render in full"
    assert "coupon_qr" in skeleton[1]
