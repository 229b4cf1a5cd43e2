"""The Sessions page: a user sees their own console sessions (browser, started, last used; no
IP address, no raw User-Agent) and ends one or every other; another user's session id is a
404; the posts need the CSRF token."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from accounts.sessions import describe_device, sessions_of
from kernel.config import Settings
from portico.console_app import make_console_app
from tests.console.test_console_app import EN, ZH, csrf_token, new_member, sign_in

ANDROID_CHROME = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Mobile Safari/537.36"
)
IPHONE_WECHAT = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Mobile/15E148 MicroMessenger/8.0.49(0x18003137) NetType/WIFI Language/zh_CN"
)


@pytest.fixture
async def browsers(settings: Settings, db: asyncpg.Pool) -> AsyncIterator[list[TestClient]]:
    clients = [TestClient(TestServer(make_console_app(settings, db))) for _n in range(3)]
    for client in clients:
        await client.start_server()
    yield clients
    for client in clients:
        await client.close()


@pytest.mark.parametrize(
    ("agent", "described"),
    [
        (ANDROID_CHROME, "Chrome · Android"),
        (IPHONE_WECHAT, "WeChat · iOS"),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/126.0.0.0 Safari/537.36 Edg/126.0.0.0",
            "Edge · Windows",
        ),
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like "
            "Gecko) Version/17.5 Safari/605.1.15",
            "Safari · macOS",
        ),
        (
            "Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0",
            "Firefox · Linux",
        ),
        ("curl/8.5.0", ""),
    ],
)
def test_a_user_agent_is_kept_as_browser_and_system_only(agent: str, described: str) -> None:
    assert describe_device(agent) == described


async def test_a_user_sees_their_sessions_and_ends_one_and_then_all_others(
    browsers: list[TestClient], db: asyncpg.Pool
) -> None:
    phone, desk, tablet = browsers
    member = await new_member(db)
    await sign_in(phone, member.email, headers={"User-Agent": ANDROID_CHROME})
    await sign_in(desk, member.email, headers={"User-Agent": IPHONE_WECHAT})
    await sign_in(tablet, member.email)

    page = await (await phone.get("/account/sessions", headers=EN)).text()

    assert page.count('<tr id="session-') == 3
    assert "Chrome · Android" in page and "WeChat · iOS" in page and "This session" in page
    assert "127.0.0.1" not in page and "Pixel" not in page
    assert "Chrome/126" not in str(await db.fetch("SELECT * FROM console_sessions"))
    found = await sessions_of(db, member.user_id)
    desk_id = next(s.session_id for s in found if s.device == "WeChat · iOS")
    token = csrf_token(page)
    ended = await phone.post(
        f"/account/sessions/{desk_id}/end", data={"csrf_token": token}, headers=EN
    )
    assert "The session was ended." in await ended.text()
    assert (await desk.get("/dashboard", allow_redirects=False)).status == 303
    assert (await tablet.get("/dashboard", allow_redirects=False)).status == 200

    others = await phone.post(
        "/account/sessions/end-others", data={"csrf_token": token}, headers=ZH
    )
    assert "其他所有会话均已结束。" in await others.text()
    assert (await tablet.get("/dashboard", allow_redirects=False)).status == 303
    assert (await phone.get("/dashboard", allow_redirects=False)).status == 200
    [left] = await sessions_of(db, member.user_id)
    assert left.device == "Chrome · Android"


async def test_ending_the_session_in_use_signs_out(
    browsers: list[TestClient], db: asyncpg.Pool
) -> None:
    client = browsers[0]
    member = await new_member(db)
    await sign_in(client, member.email)
    page = await (await client.get("/account/sessions", headers=EN)).text()
    [mine] = await sessions_of(db, member.user_id)
    response = await client.post(
        f"/account/sessions/{mine.session_id}/end",
        data={"csrf_token": csrf_token(page)},
        allow_redirects=False,
    )
    assert (response.status, response.headers["Location"]) == (303, "/login")
    assert await sessions_of(db, member.user_id) == []


async def test_another_users_session_is_a_404_and_posts_need_the_csrf_token(
    browsers: list[TestClient], db: asyncpg.Pool
) -> None:
    mine_client, theirs_client, _third = browsers
    mine, theirs = await new_member(db), await new_member(db)
    await sign_in(mine_client, mine.email)
    await sign_in(theirs_client, theirs.email)
    [their_session] = await sessions_of(db, theirs.user_id)
    token = csrf_token(await (await mine_client.get("/account/sessions", headers=EN)).text())

    for session_id in (their_session.session_id, uuid.uuid4(), "not-a-uuid"):
        response = await mine_client.post(
            f"/account/sessions/{session_id}/end", data={"csrf_token": token}, headers=EN
        )
        assert response.status == 404
    page = await (await mine_client.get("/account/sessions", headers=EN)).text()
    assert str(their_session.session_id) not in page
    for path in (
        f"/account/sessions/{their_session.session_id}/end",
        "/account/sessions/end-others",
    ):
        assert (await theirs_client.post(path, data={})).status == 403
    assert len(await sessions_of(db, theirs.user_id)) == 1
    assert (await theirs_client.get("/dashboard", allow_redirects=False)).status == 200


async def test_last_used_is_updated_at_most_once_a_minute(
    browsers: list[TestClient], db: asyncpg.Pool
) -> None:
    client = browsers[0]
    member = await new_member(db)
    await sign_in(client, member.email)
    await db.execute(
        "UPDATE console_sessions SET last_seen_at = now() - interval '10 minutes'"
        " WHERE user_id = $1",
        member.user_id,
    )
    await client.get("/dashboard")
    first = (await sessions_of(db, member.user_id))[0].last_seen_at
    await client.get("/dashboard")
    [again] = await sessions_of(db, member.user_id)
    assert again.last_seen_at == first  # not written again within the minute
    assert (again.last_seen_at - again.created_at).total_seconds() < 60
