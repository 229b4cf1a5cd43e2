"""WeChat's event pushes at our endpoint (marketing/wechat_events.py, on the portal app as the
composition root makes it), pushed by the local model of WeChat (simulators/wechat.py) over
loopback, signed as WeChat signs them, against the real PostgreSQL: the URL check, a hostile
or broken request refused with nothing kept, a push handled once however often it comes, a
scene we did not make (or one expired) linking nobody, an old unfollow leaving a newer link;
and what marketing's export and erasure do with the links and codes."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import time
import uuid
from collections.abc import AsyncIterator

import aiohttp
import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from controller.services import CommandSender
from kernel.config import Settings
from marketing import privacy, wechat
from marketing.wechat_events import MAX_BODY, parse_event, signature
from marketing.wechat_follow import FollowCodes
from portico import runtime
from simulators.wechat import WeChatSim, event_xml, text_xml
from tests.marketing.test_engine import a_merchant

APP_ID, APP_SECRET, TEMPLATE = "wx00112233445566ff", "app-secret-events-0123", "TPL_ready"
OPENID = "oEvents_0123456789abcdefghij"


@pytest.fixture
async def sim() -> AsyncIterator[WeChatSim]:
    model = WeChatSim(APP_ID, APP_SECRET, templates={TEMPLATE})
    await model.start()
    yield model
    await model.stop()


@pytest.fixture
async def portal(
    settings: Settings, db: asyncpg.Pool, sender: CommandSender, sim: WeChatSim
) -> AsyncIterator[TestClient]:
    wired = dataclasses.replace(settings, marketing_wechat_api_url=sim.url)
    async with TestClient(TestServer(runtime.portal_app(wired, db, sender))) as client:
        yield client


@dataclasses.dataclass
class Account:
    merchant: uuid.UUID
    token: str
    path: str
    identity: str
    url: str  # what the shopper's follow code holds
    scene: str

    @property
    def key(self) -> str:
        return "i:" + self.identity


@pytest.fixture
async def account(
    db: asyncpg.Pool, settings: Settings, portal: TestClient, sim: WeChatSim
) -> Account:
    """A merchant whose account's 服务器配置 points at the portal, and one shopper's code."""
    merchant, _store = await a_merchant(db)
    token = await wechat.set_account(
        db,
        merchant,
        secret_key=settings.secret_key,
        app_id=APP_ID,
        app_secret=APP_SECRET,
        template_id=TEMPLATE,
    )
    path = wechat.EVENTS_PATH.format(merchant_id=merchant)
    await sim.set_server(str(portal.make_url(path)), token)
    identity = uuid.uuid4().hex
    codes = FollowCodes(db, sim.url, settings.secret_key)
    try:
        url = await codes.code_for(merchant, identity, "d" * 32)
    finally:
        await codes.close()
    assert url is not None
    scene = await db.fetchval(
        "SELECT scene_id FROM marketing_wechat_scenes WHERE merchant_id = $1", merchant
    )
    return Account(merchant, token, path, identity, url, scene)


async def followers(db: asyncpg.Pool, merchant: uuid.UUID) -> list[tuple[str, str]]:
    rows = await db.fetch(
        "SELECT profile_key, openid FROM marketing_wechat_followers WHERE merchant_id = $1"
        " ORDER BY profile_key",
        merchant,
    )
    return [(r["profile_key"], r["openid"]) for r in rows]


async def consents(db: asyncpg.Pool, merchant: uuid.UUID) -> list[bool]:
    rows = await db.fetch(
        "SELECT payload FROM marketing_inbox WHERE merchant_id = $1 AND kind = 'consent'"
        " ORDER BY received_at",
        merchant,
    )
    return [r["payload"]["given"] for r in rows]


def signed(token: str, *, at: int | None = None, nonce: str = "") -> dict[str, str]:
    timestamp = str(at if at is not None else int(time.time()))
    nonce = nonce or uuid.uuid4().hex[:10]
    return {"signature": signature(token, timestamp, nonce), "timestamp": timestamp, "nonce": nonce}


def a_push(openid: str, event: str, key: str, at: int | None = None) -> bytes:
    return event_xml("gh_test", openid, at or int(time.time()), event, key).encode()


# -- The URL check and the signature -----------------------------------------------------------


def test_the_signature_is_sha1_of_the_sorted_token_timestamp_and_nonce() -> None:
    # The three strings sorted ("1409659589" < "263014780" < "token") and joined.
    expected = hashlib.sha1(b"1409659589263014780token").hexdigest()  # noqa: S324
    assert signature("token", "1409659589", "263014780") == expected


async def test_the_url_check_answers_the_echostr_only_when_signed_with_the_token(
    portal: TestClient, account: Account
) -> None:
    good = await portal.get(account.path, params={**signed(account.token), "echostr": "4242"})
    assert (good.status, await good.text()) == (200, "4242")
    wrong = await portal.get(account.path, params={**signed("not-it"), "echostr": "4242"})
    assert wrong.status == 403 and "4242" not in await wrong.text()
    assert (await portal.get(account.path, params={"echostr": "4242"})).status == 403
    other = wechat.EVENTS_PATH.format(merchant_id=uuid.uuid4())  # no account there
    assert (await portal.get(other, params={**signed(account.token), "echostr": "1"})).status == 403
    assert (await portal.get("/wechat/events/nope", params=signed(account.token))).status == 404
    markup = {**signed(account.token), "echostr": "<b>x</b>"}
    assert (await portal.get(account.path, params=markup)).status == 400  # never reflected


@pytest.mark.parametrize(
    "query",
    [
        "none",  # no signature at all
        "wrong_token",  # signed, not with this account's token
        "tampered",  # the timestamp changed after signing
        "stale",  # signed ten minutes ago (a captured push replayed later)
    ],
)
async def test_a_push_not_signed_now_with_the_token_is_refused_and_nothing_kept(
    portal: TestClient, account: Account, db: asyncpg.Pool, query: str
) -> None:
    now = int(time.time())
    params = {
        "none": {},
        "wrong_token": signed("another-token"),
        "tampered": {**signed(account.token, at=now), "timestamp": str(now + 1)},
        "stale": signed(account.token, at=now - 600),
    }[query]
    answer = await portal.post(
        account.path, params=params, data=a_push(OPENID, "subscribe", "qrscene_" + account.scene)
    )
    assert answer.status == 403 and "Traceback" not in await answer.text()
    assert await followers(db, account.merchant) == []
    assert await consents(db, account.merchant) == []


# -- Hostile and broken bodies -------------------------------------------------------------------

BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<xml><ToUserName>&lol3;</ToUserName></xml>"""
EXTERNAL = b"""<?xml version="1.0"?>
<!DOCTYPE xml [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<xml><FromUserName>&secret;</FromUserName><MsgType>event</MsgType></xml>"""


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"", 400),
        (b"not xml at all", 400),
        (b"<xml><MsgType>event</MsgType>", 400),  # cut short
        (BOMB, 400),  # entity expansion ("billion laughs")
        (EXTERNAL, 400),  # an external entity
        (b"<html><MsgType>event</MsgType></html>", 400),  # not <xml>
        (b"<xml><MsgType>event</MsgType><MsgType>text</MsgType></xml>", 400),  # twice
        (b"<xml><ToUserName>gh</ToUserName><Encrypt>c2VjcmV0</Encrypt></xml>", 400),  # 安全模式
        (
            b"<xml><MsgType>event</MsgType><Event>subscribe</Event><FromUserName>a b</FromUserName>"
            b"<CreateTime>1</CreateTime></xml>",
            400,
        ),  # not an openid
        (
            b"<xml><MsgType>event</MsgType><Event>subscribe</Event><FromUserName>oK</FromUserName>"
            b"<CreateTime>soon</CreateTime></xml>",
            400,
        ),  # not a time
        (b"<xml>" + b"<A>" + b"x" * MAX_BODY + b"</A></xml>", 413),  # oversized
    ],
)
async def test_a_body_that_is_not_an_event_push_we_read_is_refused_and_nothing_kept(
    portal: TestClient, account: Account, db: asyncpg.Pool, sim: WeChatSim, body: bytes, status: int
) -> None:
    pushed = await sim.post(body, openid=OPENID)
    assert pushed.status == status and "Traceback" not in pushed.answer
    assert await followers(db, account.merchant) == []
    assert await consents(db, account.merchant) == []


def test_the_parser_refuses_entities_and_reads_cdata() -> None:
    with pytest.raises(ValueError, match="not XML we read"):
        parse_event(BOMB)
    fields = parse_event(a_push(OPENID, "subscribe", "qrscene_abc", at=123))
    assert fields["FromUserName"] == OPENID and fields["EventKey"] == "qrscene_abc"
    assert fields["CreateTime"] == "123"


async def test_a_message_to_the_account_is_answered_success_and_left_alone(
    account: Account, db: asyncpg.Pool, sim: WeChatSim
) -> None:
    pushed = await sim.post(text_xml("gh_test", OPENID, int(time.time()), "hi"), openid=OPENID)
    assert (pushed.status, pushed.answer) == (200, "success")
    menu = (  # a menu's scan event: elements inside a field we do not read
        f"<xml><ToUserName>gh</ToUserName><FromUserName>{OPENID}</FromUserName><CreateTime>1"
        "</CreateTime><MsgType>event</MsgType><Event>scancode_push</Event><EventKey>m1</EventKey>"
        "<ScanCodeInfo><ScanType>qrcode</ScanType><ScanResult>x</ScanResult></ScanCodeInfo></xml>"
    )
    pushed = await sim.post(menu.encode(), openid=OPENID)
    assert (pushed.status, pushed.answer) == (200, "success")
    assert (
        await followers(db, account.merchant) == [] and await consents(db, account.merchant) == []
    )


# -- Once, however often ----------------------------------------------------------------------


async def test_a_replayed_or_retried_push_links_and_tells_once(
    account: Account, db: asyncpg.Pool, sim: WeChatSim
) -> None:
    first = await sim.scan(account.url, OPENID)
    assert first is not None and (first.status, first.answer) == (200, "success")
    assert await followers(db, account.merchant) == [(account.key, OPENID)]
    assert await consents(db, account.merchant) == [True]

    # The very same request again (WeChat's retry with the same signature, or a replay).
    again = await sim.post(first.body, query=first.query)
    assert (again.status, again.answer) == (200, "success")
    # The same push with a new signature (a retry WeChat signed anew).
    resigned = await sim.post(first.body, openid=OPENID)
    assert (resigned.status, resigned.answer) == (200, "success")
    # Someone who saw a signature uses it with another body: accepted once only, so nothing.
    later = int(time.time()) + 5
    forged = await sim.post(a_push(OPENID, "unsubscribe", "", at=later), query=first.query)
    assert (forged.status, forged.answer) == (200, "success")

    assert await followers(db, account.merchant) == [(account.key, OPENID)]
    assert await consents(db, account.merchant) == [True]
    pushes = await db.fetchval(
        "SELECT count(*) FROM marketing_wechat_pushes WHERE merchant_id = $1", account.merchant
    )
    assert pushes == 2  # the first and the re-signed one; the repeats of a signature are not kept


async def test_a_slow_answer_is_pushed_again_and_still_handled_once(
    account: Account, db: asyncpg.Pool, sim: WeChatSim
) -> None:
    # WeChat gives up on an answer after 5 s and pushes again: a push slower than its patience
    # here (the row lock held by another transaction) is tried again, with a new signature.
    sim.answer_timeout, sim.resign_retries = 1.5, True
    async with db.acquire() as conn, conn.transaction():
        await conn.execute(
            "SELECT 1 FROM marketing_wechat_scenes WHERE merchant_id = $1 FOR UPDATE",
            account.merchant,
        )
        task = asyncio.ensure_future(sim.scan(account.url, OPENID))
        await asyncio.sleep(3.5)  # tries at 0 and 1.5 s time out; the third one waits
    pushed = await task
    assert pushed is not None and (pushed.tries, pushed.status, pushed.answer) == (
        3,
        200,
        "success",
    )
    assert await followers(db, account.merchant) == [(account.key, OPENID)]
    assert await consents(db, account.merchant) == [True]


async def test_an_unknown_or_expired_scene_or_a_plain_follow_links_nobody(
    account: Account, db: asyncpg.Pool, sim: WeChatSim, caplog: pytest.LogCaptureFixture
) -> None:
    for key in ("qrscene_" + "x" * 32, "qrscene_short", ""):
        pushed = await sim.push("subscribe", OPENID, key)
        assert (pushed.status, pushed.answer) == (200, "success")
    await db.execute(
        "UPDATE marketing_wechat_scenes SET expires_at = now() - interval '1 second'"
        " WHERE merchant_id = $1",
        account.merchant,
    )
    sim.advance(7 * 86_400 + 1)
    assert await sim.scan(account.url, OPENID) is None  # WeChat itself pushes no expired code
    with caplog.at_level("INFO", logger="portico.marketing.wechat_events"):
        expired = await sim.push("subscribe", OPENID, "qrscene_" + account.scene)
    assert (expired.status, expired.answer) == (200, "success")
    assert "of an expired code: nothing linked" in caplog.text
    assert await followers(db, account.merchant) == []
    assert await consents(db, account.merchant) == []


async def test_a_follower_scanning_is_linked_by_scan_and_an_old_unfollow_leaves_the_link(
    account: Account, db: asyncpg.Pool, sim: WeChatSim
) -> None:
    sim.followers.add(OPENID)  # followed the account before, another way
    scanned = await sim.scan(account.url, OPENID)
    assert scanned is not None and b"<Event><![CDATA[SCAN]]></Event>" in scanned.body
    assert await followers(db, account.merchant) == [(account.key, OPENID)]
    linked_at = int(scanned.body.split(b"<CreateTime>")[1].split(b"<")[0])

    # An unfollow from before the link (a push delivered late) does not undo it.
    late = await sim.post(a_push(OPENID, "unsubscribe", "", at=linked_at - 30), openid=OPENID)
    assert (late.status, late.answer) == (200, "success")
    assert await followers(db, account.merchant) == [(account.key, OPENID)]
    # Nor does a follow of before the link, through the same code.
    old = a_push(OPENID, "subscribe", "qrscene_" + account.scene, at=linked_at - 20)
    assert (await sim.post(old, openid=OPENID)).answer == "success"
    assert await consents(db, account.merchant) == [True]

    await sim.unfollow(OPENID)
    assert await followers(db, account.merchant) == []
    assert await consents(db, account.merchant) == [True, False]
    again = await sim.unfollow(OPENID)  # nothing left to end: nothing told
    assert again.answer == "success" and await consents(db, account.merchant) == [True, False]


# -- Export and erasure ---------------------------------------------------------------------------


async def test_export_shows_the_link_codes_and_consent_and_erasure_removes_them(
    account: Account, db: asyncpg.Pool, sim: WeChatSim
) -> None:
    from marketing.engine import Engine

    await sim.scan(account.url, OPENID)
    engine = Engine(db)
    while await engine.step():
        pass
    shopper = privacy.Shopper(identity_hash=account.identity)
    async with db.acquire() as conn:
        exported = await privacy.export_shopper(conn, account.merchant, shopper)
    [profile] = exported["profiles"]
    assert profile["stored"]["consent_wechat"] is True
    assert profile["wechat"]["openid"] == OPENID
    [code] = profile["wechat_codes"]
    assert code["expires_at"] > code["created_at"]
    assert [e["payload"]["channel"] for e in exported["events"]] == ["wechat"]

    async with db.acquire() as conn, conn.transaction():
        erased = await privacy.erase_shopper(conn, account.merchant, shopper)
    assert erased.profiles == 1
    assert await followers(db, account.merchant) == []
    left = await db.fetchval(
        "SELECT count(*) FROM marketing_wechat_scenes WHERE merchant_id = $1", account.merchant
    )
    assert left == 0
    # The erased shopper's code links nobody any more.
    pushed = await sim.push("SCAN", OPENID, account.scene)
    assert pushed.answer == "success" and await followers(db, account.merchant) == []


async def test_the_code_is_made_through_the_api_and_kept(
    db: asyncpg.Pool, settings: Settings, sim: WeChatSim, account: Account
) -> None:
    async with aiohttp.ClientSession() as http:
        codes = FollowCodes(db, sim.url, settings.secret_key, http=http)
        again = await codes.code_for(account.merchant, account.identity, "d" * 32)
        other = await codes.code_for(account.merchant, uuid.uuid4().hex, "e" * 32)
        none = await codes.code_for(account.merchant, None, "f" * 32)  # no identity
    assert again == account.url  # kept while it has more than a day left
    assert other is not None and other != account.url and none is None
    assert len(sim.codes) == 2
    body = {c.scene for c in sim.codes.values()}
    assert account.scene in body
