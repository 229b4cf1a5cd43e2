import hashlib
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import aiohttp
import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from accounts import services as accounts
from accounts.messages import MESSAGES as ACCOUNT_MESSAGES
from accounts.web import ANONYMOUS_MAX_BODY, SESSION_COOKIE
from analytics import services as analytics
from analytics.messages import MESSAGES as ANALYTICS_MESSAGES
from controller import services as controller
from controller.messages import MESSAGES as CONTROLLER_MESSAGES
from kernel.config import Settings
from kernel.i18n import LANGUAGES
from portico.console_app import make_console_app
from tests.clock import away_from_midnight

PASSWORD = "correct horse battery"
EN = {"Accept-Language": "en-US,en;q=0.9"}
ZH = {"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"}
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass(frozen=True)
class Member:
    email: str
    user_id: uuid.UUID
    merchant_id: uuid.UUID
    store_id: uuid.UUID
    store_name: str


@pytest.fixture
async def client(settings: Settings, db: asyncpg.Pool) -> AsyncIterator[TestClient]:
    async with TestClient(TestServer(make_console_app(settings, db))) as client:
        yield client


async def new_member(db: asyncpg.Pool, store_name: str | None = None) -> Member:
    """A merchant with one Shanghai store and an owner who can sign in."""
    tag = uuid.uuid4().hex[:8]
    merchant_id = await accounts.create_merchant(db, f"Merchant {tag}")
    store_name = store_name or f"Store {tag}"
    store_id = await accounts.create_store(db, merchant_id, store_name, "Asia/Shanghai")
    email = f"owner-{uuid.uuid4().hex}@example.com"
    user_id = await accounts.create_user(db, email, f"Owner {tag}", PASSWORD)
    await accounts.add_membership(db, merchant_id, user_id, "owner")
    return Member(email, user_id, merchant_id, store_id, store_name)


def csrf_token(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "page has no CSRF field"
    return match.group(1)


async def sign_in(
    client: TestClient, email: str, password: str = PASSWORD, headers: dict[str, str] | None = None
) -> aiohttp.ClientResponse:
    page = await client.get("/login", headers=headers)
    token = csrf_token(await page.text())
    form = {"email": email, "password": password, "csrf_token": token}
    return await client.post("/login", data=form, headers=headers, allow_redirects=False)


def session_token(client: TestClient) -> str:
    cookies = client.session.cookie_jar.filter_cookies(client.make_url("/"))
    return cookies[SESSION_COOKIE].value


async def test_healthz(client: TestClient) -> None:
    response = await client.get("/healthz")
    assert response.status == 200
    assert await response.text() == "ok"


async def test_root_sends_a_signed_out_visitor_to_login(client: TestClient) -> None:
    response = await client.get("/", allow_redirects=False)
    assert response.status == 303
    assert response.headers["Location"] == "/login"
    dashboard = await client.get("/dashboard", allow_redirects=False)
    assert dashboard.headers["Location"] == "/login?next=/dashboard"  # back there after


async def test_sign_in_sets_a_protected_session_cookie(
    client: TestClient, db: asyncpg.Pool
) -> None:
    member = await new_member(db)

    response = await sign_in(client, member.email)

    assert response.status == 303
    assert response.headers["Location"] == "/dashboard"
    cookie = next(c for c in response.headers.getall("Set-Cookie") if c.startswith(SESSION_COOKIE))
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Path=/" in cookie
    token = session_token(client)
    stored = await db.fetchval(
        "SELECT user_id FROM console_sessions WHERE session_hash = $1",
        hashlib.sha256(token.encode()).digest(),
    )
    assert stored == member.user_id
    home = await client.get("/", allow_redirects=False)
    assert home.headers["Location"] == "/dashboard"


async def test_wrong_password_shows_the_form_again(client: TestClient, db: asyncpg.Pool) -> None:
    member = await new_member(db)

    response = await sign_in(client, member.email, "not the password", headers=EN)

    assert response.status == 401
    html = await response.text()
    assert "Wrong email or password." in html
    assert f'value="{member.email}"' in html
    assert SESSION_COOKIE not in client.session.cookie_jar.filter_cookies(client.make_url("/"))


async def test_repeated_failures_lock_the_sign_in(client: TestClient, db: asyncpg.Pool) -> None:
    member = await new_member(db)
    for _ in range(accounts.LOCKOUT_FAILURES):
        assert (await sign_in(client, member.email, "wrong password")).status == 401

    response = await sign_in(client, member.email, PASSWORD, headers=EN)

    assert response.status == 429
    assert "Too many failed sign-ins for this account. Try again in 15 minutes." in (
        await response.text()
    )


async def test_sign_in_without_csrf_token_is_rejected(client: TestClient, db: asyncpg.Pool) -> None:
    member = await new_member(db)
    await client.get("/login")  # the browser has the cookie, but the form lacks the token

    response = await client.post(
        "/login", data={"email": member.email, "password": PASSWORD}, allow_redirects=False
    )

    assert response.status == 403
    assert SESSION_COOKIE not in client.session.cookie_jar.filter_cookies(client.make_url("/"))


async def test_a_large_post_without_a_session_is_refused_before_it_is_read(
    client: TestClient,
) -> None:
    """Signed-in users may upload creatives (the console takes large bodies); anyone else's POST
    stops at accounts.web.ANONYMOUS_MAX_BODY."""
    await client.get("/login")
    body = {"email": "x@example.com", "password": "p" * (ANONYMOUS_MAX_BODY + 1)}
    response = await client.post("/login", data=body, headers={"Accept-Language": "en"})
    assert response.status == 413
    assert "too much to send at once" in await response.text()
    small = await client.post("/login", data={"email": "x@example.com", "password": "p"})
    assert small.status == 403  # read, and refused for its missing CSRF token


async def test_logout_needs_the_session_csrf_token(client: TestClient, db: asyncpg.Pool) -> None:
    member = await new_member(db)
    await sign_in(client, member.email)

    forged = await client.post("/logout", data={"csrf_token": "guess"}, allow_redirects=False)

    assert forged.status == 403
    assert (await client.get("/dashboard", allow_redirects=False)).status == 200


async def test_logout_deletes_the_session(client: TestClient, db: asyncpg.Pool) -> None:
    member = await new_member(db)
    await sign_in(client, member.email)
    token = session_token(client)
    dashboard = await client.get("/dashboard")

    response = await client.post(
        "/logout", data={"csrf_token": csrf_token(await dashboard.text())}, allow_redirects=False
    )

    assert response.status == 303
    assert response.headers["Location"] == "/login"
    assert await accounts.session_for_token(db, token) is None
    # Even a browser that kept the old cookie is signed out.
    client.session.cookie_jar.update_cookies({SESSION_COOKIE: token})
    assert (await client.get("/dashboard", allow_redirects=False)).status == 303


async def test_dashboard_shows_todays_logins_of_my_stores_only(
    client: TestClient, db: asyncpg.Pool
) -> None:
    me = await new_member(db)
    await accounts.create_store(db, me.merchant_id, "Second shop", "Europe/London")
    rival = await new_member(db, store_name=f"Rival store {uuid.uuid4().hex[:6]}")
    # The logins of the last 3 s and the page's "today" (the server's clock) on one store day
    # (Shanghai's midnight is 16:00 UTC).
    await away_from_midnight("Asia/Shanghai", past=5, ahead=60)
    now = datetime.now(UTC).replace(microsecond=0)
    for seconds_ago, device in ((3, "aaaa1111bbbb"), (2, "aaaa1111bbbb"), (1, "cccc2222dddd")):
        await analytics.record_event(
            db,
            me.merchant_id,
            "login",
            store_id=me.store_id,
            device_hash=device,
            data={"method": "click"},
            occurred_at=now - timedelta(seconds=seconds_ago),
        )
    last_login = (now - timedelta(seconds=1)).astimezone(ZoneInfo("Asia/Shanghai"))
    start, _ = analytics.day_bounds(datetime.now(UTC), "Asia/Shanghai")
    await analytics.record_event(  # yesterday in the store's time zone: not today's count
        db,
        me.merchant_id,
        "login",
        store_id=me.store_id,
        device_hash="eeee3333ffff",
        occurred_at=start - timedelta(minutes=1),
    )
    await analytics.record_event(
        db,
        rival.merchant_id,
        "login",
        store_id=rival.store_id,
        device_hash="9999rival999",
        data={"method": "sms"},
    )
    await sign_in(client, me.email)

    response = await client.get("/dashboard", headers=EN)

    assert response.status == 200
    html = await response.text()
    row = re.escape(me.store_name) + r'<span class="zone">Asia/Shanghai</span></td>\s*'
    cells = [f'<td class="num">{value}</td>' for value in (3, 2, f"{last_login:%H:%M}")]
    assert re.search(row + r"\s*".join(cells), html)
    second = r'Second shop<span class="zone">Europe/London</span></td>\s*'
    assert re.search(
        second + r'<td class="num">0</td>\s*<td class="num">0</td>\s*<td class="num">—</td>', html
    )
    assert "aaaa1111" in html and "aaaa1111bbbb" not in html  # shortened pseudonymous id
    assert "Click-through" in html
    assert '<meta http-equiv="refresh" content="30">' in html
    assert rival.store_name not in html
    assert "9999rival" not in html


async def test_dashboard_speaks_the_browsers_language(client: TestClient, db: asyncpg.Pool) -> None:
    member = await new_member(db)
    await sign_in(client, member.email)

    english = await (await client.get("/dashboard", headers=EN)).text()
    chinese = await (await client.get("/dashboard", headers=ZH)).text()

    assert '<html lang="en">' in english and "Today&#39;s WiFi logins" in english
    assert '<html lang="zh-CN">' in chinese and "今日 WiFi 登录" in chinese
    assert "Today&#39;s WiFi logins" not in chinese


async def test_language_switch_link_wins_and_is_remembered(
    client: TestClient, db: asyncpg.Pool
) -> None:
    member = await new_member(db)
    await sign_in(client, member.email)

    switched = await (await client.get("/dashboard?lang=en", headers=ZH)).text()
    later = await (await client.get("/dashboard", headers=ZH)).text()

    assert '<html lang="en">' in switched
    assert 'href="/dashboard?lang=zh-CN"' in switched
    assert '<html lang="en">' in later


async def test_store_names_are_escaped(client: TestClient, db: asyncpg.Pool) -> None:
    member = await new_member(db, store_name="<script>alert(1)</script>")
    await sign_in(client, member.email)

    html = await (await client.get("/dashboard")).text()

    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


async def test_a_user_without_merchants_sees_an_explanation(
    client: TestClient, db: asyncpg.Pool
) -> None:
    email = f"lonely-{uuid.uuid4().hex}@example.com"
    await accounts.create_user(db, email, "Lonely", PASSWORD)
    await sign_in(client, email)

    html = await (await client.get("/dashboard", headers=EN)).text()

    assert "not linked to any merchant" in html


async def test_unknown_page_is_a_translated_404_with_security_headers(client: TestClient) -> None:
    response = await client.get("/nope", headers=ZH)

    assert response.status == 404
    assert "页面不存在" in await response.text()
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


def test_every_console_message_has_both_languages() -> None:
    for catalog in (ACCOUNT_MESSAGES, ANALYTICS_MESSAGES, CONTROLLER_MESSAGES):
        for message_id, texts in catalog.items():
            assert set(texts) == set(LANGUAGES), message_id


async def test_dashboard_lists_my_routers_of_every_gateway_kind(
    client: TestClient, db: asyncpg.Pool
) -> None:
    me = await new_member(db)
    rival = await new_member(db)
    suffix = uuid.uuid4().hex[:8]
    async with db.acquire() as conn:
        mqtt = await controller.register_router(
            conn, me.merchant_id, me.store_id, f"ap-l3-{suffix}", "Entrance", fas_level=3
        )
        dog = await controller.register_router(
            conn, me.merchant_id, me.store_id, f"wd-{suffix}", "Food court", gateway="wifidog"
        )
        hidden = await controller.register_router(
            conn, rival.merchant_id, rival.store_id, f"ap-rival-{suffix}", "Rival AP"
        )
    await controller.record_router_status(db, mqtt.router, online=True, status={"v": 1})
    # A WiFiDog gateway that said Pong long ago: no Last Will, so silence means offline.
    await controller.record_router_status(db, dog.router, online=True, status={"v": 1})
    await db.execute(
        "UPDATE routers SET last_seen = now() - interval '10 minutes' WHERE router_id = $1",
        dog.router.router_id,
    )
    await sign_in(client, me.email)

    html = await (await client.get("/dashboard", headers=EN)).text()

    entrance = html[html.index("Entrance") : html.index("</tr>", html.index("Entrance"))]
    assert "openNDS + agent, FAS level 3" in entrance and 'class="status on"' in entrance
    court = html[html.index("Food court") : html.index("</tr>", html.index("Food court"))]
    assert "WiFiDog gateway" in court and 'class="status off"' in court
    assert hidden.router.router_id not in html
