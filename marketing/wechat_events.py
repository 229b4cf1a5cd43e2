"""The Official Account's event pushes (接收事件推送): a shopper who follows the account through
their own QR code (marketing/wechat_follow.py) is linked, and gives their consent to WeChat
messages; one who unfollows withdraws it (docs/marketing.md, "WeChat: following the account").

The merchant enters, in the account's 服务器配置 (developer settings), the URL
`<portal>/wechat/events/<merchant id>` (marketing.wechat.events_url), the push token
(marketing.wechat.push_token; `portico wechat show`) and 消息加解密方式 "明文模式" (plain
text). What this relies on, from WeChat's public documentation (developers.weixin.qq.com):

- Verification (doc/offiaccount/Basic_Information/Access_Overview.html): WeChat sends
  `GET ?signature=&timestamp=&nonce=&echostr=`; `signature` is the hex SHA-1 of the three
  strings token, timestamp and nonce, sorted and joined; the server answers `echostr` when it
  matches. Every push carries the same signature query.
- Pushes (doc/offiaccount/Message_Management/Receiving_event_pushes.html): `POST` of
  `<xml><ToUserName/><FromUserName>openid</FromUserName><CreateTime>unix seconds</CreateTime>
  <MsgType>event</MsgType><Event>…</Event><EventKey/><Ticket/></xml>`. A follow through a
  parametric code is `subscribe` with EventKey `qrscene_<scene>`; a scan by a follower is
  `SCAN` with EventKey `<scene>`; an unfollow is `unsubscribe`. WeChat gives up on an answer
  after 5 seconds and pushes again, three times in all, and asks for "success" (or an empty
  answer) when there is nothing to reply; it recommends recognising a retry by FromUserName and
  CreateTime.
- 安全模式 (encrypted mode, `encrypt_type=aes` with `msg_signature`, the body an `<Encrypt>`):
  not supported yet. A push with no plain fields is refused (400) and logged; 兼容模式
  (compatible mode) carries the plain fields too and works.

How a push is handled, in one transaction (a failure rolls it all back: 500, and WeChat pushes
again):

1. The signature is checked against the merchant's push token (403 when it does not match, the
   merchant has no account or token, or its timestamp is more than MAX_SKEW from our clock).
   The signature does not cover the body, so each one is accepted once
   (marketing_wechat_pushes): the same signature again (WeChat's retry, or someone replaying
   it with another body) is answered "success" and handled no more.
2. The body is read whole up to MAX_BODY (413 past it) and parsed with defusedxml (no DTD, no
   entity, no external reference; 400 for anything that is not such an event).
3. `subscribe`/`SCAN` naming a scene we made and that has not expired: the openid is linked to
   the scene's profile (`wechat.link_follower`, with the push's CreateTime) and a 'consent'
   event `channel: wechat, given: true` goes into marketing's live stream
   (`intake.record_shopper_events`, named by the openid, CreateTime and scene: the same push
   is one event); the engine then sets the profile's consent_wechat. A push not newer than the
   last one handled through that scene (a retry with a new signature, one delivered late)
   changes nothing. An unknown or expired scene, or a follow without one (the account found
   another way), links nothing: logged, answered "success".
4. `unsubscribe`: every link of that openid made before it is removed, and each profile gets a
   'consent' event `given: false`. The link is removed rather than kept: the shopper cut the
   tie, the openid has no use to us any more, and following again through the code links
   them again. A link made by a newer push stays.

Anything else the account receives (the shopper's messages, menu clicks) is answered "success"
and not looked at: replying to the shopper is the merchant's own business.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from xml.etree.ElementTree import Element, ParseError

import asyncpg
from aiohttp import web
from cryptography.exceptions import InvalidTag
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from kernel.logs import Throttled
from kernel.shopper_events import ShopperEvent, event_id
from kernel.web import DB, SETTINGS
from marketing import intake, wechat

log = logging.getLogger("portico.marketing.wechat_events")
queries = wechat.queries
routes = web.RouteTableDef()

MAX_BODY = 16 * 1024  # bytes: an event push is a few hundred
MAX_SKEW = 300  # seconds between a signature's timestamp and our clock
SUCCESS = "success"
OPENID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")  # as marketing_wechat_followers keeps them
SCENE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")  # as wechat_follow makes them
DIGITS = re.compile(r"^[0-9]{1,12}$")
NONCE = re.compile(r"^[A-Za-z0-9]{1,64}$")
ECHOSTR = re.compile(r"^[A-Za-z0-9_-]{1,128}$")


class BadPush(ValueError):
    """Not an event push we can read: answered 400."""


class Refused(Exception):
    """A request we do not take: answered `status` with a short plain text."""

    def __init__(self, status: int, text: str) -> None:
        super().__init__(text)
        self.status = status
        self.text = text


def signature(token: str, timestamp: str, nonce: str) -> str:
    """WeChat's signature of a push: SHA-1 of token, timestamp and nonce, sorted and joined."""
    return hashlib.sha1("".join(sorted((token, timestamp, nonce))).encode()).hexdigest()  # noqa: S324 (WeChat's scheme)


def parse_event(body: bytes) -> dict[str, str]:
    """The push's fields (each child of <xml> holding text, by its name), or BadPush. defusedxml
    refuses a DTD, entities and external references, so no expansion and no fetch can happen."""
    if not body.strip():
        raise BadPush("an empty body")
    try:
        root = fromstring(body, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (ParseError, DefusedXmlException, ValueError) as exc:
        raise BadPush(f"not XML we read: {type(exc).__name__}") from None
    if not isinstance(root, Element) or root.tag != "xml":
        raise BadPush("the root is not <xml>")
    fields: dict[str, str] = {}
    seen: set[str] = set()
    for child in root:
        if child.tag in seen:
            raise BadPush(f"<{str(child.tag)[:40]}> twice")
        seen.add(child.tag)
        if not len(child):  # one with elements inside (a menu event's) is none we read
            fields[child.tag] = (child.text or "").strip()
    return fields


@routes.get("/wechat/events/{merchant_id}", name="wechat_events_verify")
async def verify(request: web.Request) -> web.Response:
    """WeChat's check of the URL when the merchant saves the account's server settings."""
    try:
        merchant_id = await _signed(request, fresh=False)
    except Refused as exc:
        return _refuse(exc.status, exc.text)
    echostr = request.query.get("echostr", "")
    if not ECHOSTR.match(echostr):
        return _refuse(400, "no echostr")
    log.info("merchant %s: WeChat verified the event URL", merchant_id)
    return web.Response(text=echostr, content_type="text/plain")


@routes.post("/wechat/events/{merchant_id}", name="wechat_events")
async def receive(request: web.Request) -> web.Response:
    """One event push (see the module): "success" once handled, or refused."""
    try:
        merchant_id = await _signed(request, fresh=True)
    except Refused as exc:
        return _refuse(exc.status, exc.text)
    if request.content_length is not None and request.content_length > MAX_BODY:
        return _refuse(413, "too large")
    body = await request.content.read(MAX_BODY + 1)
    if len(body) > MAX_BODY:
        return _refuse(413, "too large")
    try:
        fields = parse_event(body)
        push = _push_of(fields, request.query.get("encrypt_type", ""))
    except BadPush as exc:
        _bad.warning("merchant %s: a WeChat push refused: %s", merchant_id, exc)
        return _refuse(400, "not an event push we read")
    q = request.query
    await handle(request.app[DB], merchant_id, int(q["timestamp"]), q["nonce"], push)
    return web.Response(text=SUCCESS, content_type="text/plain")


@dataclass(frozen=True, slots=True)
class Push:
    """What we act on of an event push: the event, who (openid), when (WeChat's CreateTime)
    and the scene of the code it names, if any."""

    event: str  # 'subscribe', 'SCAN', 'unsubscribe'
    openid: str
    create_time: int
    scene: str | None


def _push_of(fields: dict[str, str], encrypt_type: str) -> Push | None:
    if "MsgType" not in fields:
        if "Encrypt" in fields or encrypt_type:
            raise BadPush("an encrypted push (安全模式): not supported, use 明文模式 or 兼容模式")
        raise BadPush("no MsgType")
    if fields["MsgType"] != "event":
        return None  # a message to the account: not ours to answer
    event = fields.get("Event", "")
    if event not in ("subscribe", "SCAN", "unsubscribe"):
        return None
    openid, created = fields.get("FromUserName", ""), fields.get("CreateTime", "")
    if not OPENID.match(openid):
        raise BadPush("FromUserName is not an openid")
    if not DIGITS.match(created):
        raise BadPush("CreateTime is not a time")
    key = fields.get("EventKey", "")
    scene = key.removeprefix("qrscene_") if event == "subscribe" else key
    if event == "subscribe" and not key.startswith("qrscene_"):
        scene = ""  # followed without a parametric code
    return Push(event, openid, int(created), scene or None)


async def _signed(request: web.Request, *, fresh: bool) -> uuid.UUID:
    """The merchant whose push token signed this request (see the module), or an HTTP error."""
    try:
        merchant_id = uuid.UUID(request.match_info["merchant_id"])
    except ValueError:
        raise Refused(404, "no such account") from None
    q = request.query
    sig, timestamp, nonce = q.get("signature", ""), q.get("timestamp", ""), q.get("nonce", "")
    if not (DIGITS.match(timestamp) and NONCE.match(nonce) and len(sig) == 40):
        _bad.warning("merchant %s: a WeChat push without a signature we read", merchant_id)
        raise Refused(403, "bad signature")
    settings = request.app[SETTINGS]
    try:
        token = await wechat.push_token(request.app[DB], settings.secret_key, merchant_id)
    except InvalidTag:
        token = None  # sealed under another platform key: nothing can be checked
    expected = signature(token, timestamp, nonce) if token else ""
    if not token or not hmac.compare_digest(expected.encode(), sig.lower().encode()):
        _bad.warning("merchant %s: a WeChat push with a wrong signature", merchant_id)
        raise Refused(403, "bad signature")
    if fresh and abs(time.time() - int(timestamp)) > MAX_SKEW:
        _bad.warning("merchant %s: a WeChat push signed %s s ago", merchant_id, timestamp)
        raise Refused(403, "stale signature")
    return merchant_id


async def handle(
    db: asyncpg.Pool, merchant_id: uuid.UUID, signed_at: int, nonce: str, push: Push | None
) -> str:
    """Handle one signed push in one transaction (see the module); what became of it:
    'replayed', 'ignored', 'unknown_scene', 'expired', 'stale', 'linked', 'unlinked'."""
    async with db.acquire() as conn, conn.transaction():
        if await conn.fetchval(queries.accept_push, merchant_id, signed_at, nonce) is None:
            return "replayed"
        await conn.execute(queries.forget_pushes, merchant_id, int(time.time()) - 2 * MAX_SKEW)
        if push is None:
            return "ignored"
        if push.event == "unsubscribe":
            return await _unfollow(conn, merchant_id, push)
        return await _follow(conn, merchant_id, push)


async def _follow(conn: asyncpg.Connection, merchant_id: uuid.UUID, push: Push) -> str:
    if push.scene is None:
        log.info(
            "merchant %s: a WeChat %s without a code of ours: nothing linked",
            merchant_id,
            push.event,
        )
        return "ignored"
    scene = push.scene if SCENE.match(push.scene) else None
    row = (
        await conn.fetchrow(queries.take_scene, merchant_id, scene, push.create_time)
        if scene
        else None
    )
    if row is None:
        _unknown.warning("merchant %s: a WeChat %s of an unknown scene", merchant_id, push.event)
        return "unknown_scene"
    if not row["good"]:
        log.info(
            "merchant %s: a WeChat %s of an expired code: nothing linked", merchant_id, push.event
        )
        return "expired"
    if not row["newer"]:
        return "stale"  # this push (or a newer one) was handled through this scene already
    await conn.execute(queries.scene_handled, merchant_id, scene, push.create_time)
    key = row["profile_key"]
    if not await wechat.link_follower(
        conn, merchant_id, key, push.openid, event_time=push.create_time
    ):
        return "stale"
    await intake.record_shopper_events(
        conn, [_consent(merchant_id, key, True, "wechat-follow", push, scene)]
    )
    log.info(
        "merchant %s: a shopper follows the WeChat account (scene %s…)", merchant_id, scene[:6]
    )
    return "linked"


async def _unfollow(conn: asyncpg.Connection, merchant_id: uuid.UUID, push: Push) -> str:
    keys = [
        r["profile_key"]
        for r in await conn.fetch(queries.unlink_openid, merchant_id, push.openid, push.create_time)
    ]
    if not keys:
        return "ignored"
    await intake.record_shopper_events(
        conn, [_consent(merchant_id, key, False, "wechat-unfollow", push, key) for key in keys]
    )
    log.info("merchant %s: a follower left the WeChat account (%d links)", merchant_id, len(keys))
    return "unlinked"


def _consent(
    merchant_id: uuid.UUID, key: str, given: bool, kind: str, push: Push, name: str
) -> ShopperEvent:
    """The consent event of a profile key, as the engine addresses one: an identity's by its
    hash, a device's by the device (named by the push: the same push is the same event)."""
    identity = key[2:] if key.startswith("i:") else None
    data: dict[str, object] = {"channel": "wechat", "given": given}
    if identity:
        data["identity_hash"] = identity
    return ShopperEvent(
        merchant_id,
        "consent",
        event_id(kind, merchant_id, push.openid, push.create_time, name),
        None if identity else key[2:],
        None,
        datetime.now(UTC),
        data,
    )


def _refuse(status: int, text: str) -> web.Response:
    return web.Response(status=status, text=text, content_type="text/plain")


_bad = Throttled(log, 60.0)
_unknown = Throttled(log, 60.0)
