"""A local model of WeChat's Official Account API, for tests: the access token and template
messages, an aiohttp server on loopback that answers as WeChat's does. Never the network.

What it models, and from where (developers.weixin.qq.com):
- `GET /cgi-bin/token?grant_type=client_credential&appid=&secret=`
  (doc/offiaccount/Basic_Information/Get_access_token.html): {"access_token", "expires_in":
  7200}; a wrong grant_type is 40002, an unknown AppID 40013 "invalid appid", a wrong
  AppSecret 40001. "重复获取将导致上次获取的access_token失效" with both tokens usable for 5
  minutes: a new token leaves the earlier ones 300 more seconds (`OVERLAP`), after which they
  are "not latest" (40001), while a token that merely outlived its 7200 s is 42001.
- `POST /cgi-bin/message/template/send?access_token=`
  (doc/offiaccount/Message_Management/Template_Message_Interface.html): {"touser",
  "template_id", "url", "data": {key: {"value"}}} answered {"errcode": 0, "errmsg": "ok",
  "msgid"}. The return codes it gives are the global ones
  (doc/offiaccount/Getting_Started/Global_Return_Code.html): 41001 access_token missing,
  40001 "invalid credential, access_token is invalid or not latest", 42001 "access_token
  expired", 47001 data format error, 40003 invalid openid, 43004 "require subscribe" (a user
  who no longer follows the account), 40037 invalid template_id, 45009 "reach max api daily
  quota limit". WeChat answers HTTP 200 with an errcode, whatever went wrong.
- Outages a test asks for (`fail_next`, once each): "busy" (-1 system busy), "quota"
  (45009), "expired" (42001 for a token otherwise good), "http500", or "hang" (no answer).
- `POST /cgi-bin/qrcode/create?access_token=` (doc/offiaccount/Account_Management/
  Generating_a_Parametric_QR_Code.html): a temporary code {"expire_seconds", "action_name":
  "QR_STR_SCENE" (or QR_SCENE with a 32-bit "scene_id"), "action_info": {"scene": {"scene_str":
  1 to 64 characters}}} answered {"ticket", "expire_seconds", "url"}, `url` being what the code
  holds (http://weixin.qq.com/q/…). "expire_seconds" left out is 60 ("此字段如果不填，则默认有效
  期为60秒"); its maximum is 2592000 (30 days). The page gives no answer for a value past it or a
  scene of the wrong length: the model refuses those with the global code 40035 "invalid
  args" (不合法的参数), and a body that is no JSON with 47001 and an empty one with 44002.
- Scanning a code, as a phone's WeChat does (`scan`, `unfollow`): WeChat pushes to the server
  URL the merchant set (`set_server`, which verifies it first as WeChat does: `GET
  ?signature&timestamp&nonce&echostr`, answered with the echostr). The push is `POST
  ?signature=&timestamp=&nonce=&openid=` (the signature: SHA-1 of the sorted token, timestamp
  and nonce; doc/offiaccount/Basic_Information/Access_Overview.html) of the plain-text XML
  (doc/offiaccount/Message_Management/Receiving_event_pushes.html): a scan by someone who does
  not follow makes them follow and pushes `subscribe` with EventKey `qrscene_<scene>`; a scan
  by a follower pushes `SCAN` with EventKey `<scene>`; an unfollow pushes `unsubscribe`. A code
  past its end is not pushed (the phone says it expired). "微信服务器在五秒内收不到响应会断掉连接，
  并且重新发起请求，总共重试三次": no answer within `answer_timeout` is tried again, three tries in
  all; whether a retry carries a new signature the page does not say (`resign_retries` chooses).
  A person's follow, scan and unfollow are seconds apart: the model's CreateTime steps a second
  at least from one push to the next.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import escape

import aiohttp
from aiohttp import web

TOKEN_LIFETIME = 7200  # seconds, as WeChat gives them
OVERLAP = 300  # seconds an earlier token still works after a new one was fetched
MAX_QR_SECONDS = 2_592_000  # a temporary code's longest life (30 days)
PUSH_TRIES = 3  # an unanswered push is sent three times in all


@dataclass
class WeChatSim:
    app_id: str
    app_secret: str
    followers: set[str] = field(default_factory=set)  # openids that follow the account
    unfollowed: set[str] = field(default_factory=set)  # openids that followed once
    templates: set[str] = field(default_factory=set)
    daily_quota: int = 100_000
    fail_next: list[str] = field(default_factory=list)
    sent: list[dict[str, Any]] = field(default_factory=list)  # accepted messages
    answers: list[int] = field(default_factory=list)  # every send's errcode, in order
    token_requests: int = 0
    codes: dict[str, Code] = field(default_factory=dict)  # what a code holds -> its scene
    pushes: list[Pushed] = field(default_factory=list)  # every push, with its tries
    server_url: str = ""  # the merchant's 服务器地址 (set_server)
    push_token: str = ""
    account_id: str = "gh_0123456789ab"  # the account's own id, ToUserName of its pushes
    answer_timeout: float = 5.0  # seconds WeChat waits for the server's answer
    resign_retries: bool = False  # a retry carries a new timestamp, nonce and signature
    url: str = ""
    _tokens: dict[str, float] = field(default_factory=dict)  # token -> valid until
    _replaced: dict[str, float] = field(default_factory=dict)  # token -> works until (newer one)
    _offset: float = 0.0  # `advance` moves the model's clock
    _last_create_time: int = 0
    _runner: web.AppRunner | None = None
    _stopping: asyncio.Event = field(default_factory=asyncio.Event)

    async def start(self) -> str:
        app = web.Application()
        app.router.add_get("/cgi-bin/token", self._token)
        app.router.add_post("/cgi-bin/message/template/send", self._send)
        app.router.add_post("/cgi-bin/qrcode/create", self._create_qr)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        return self.url

    async def stop(self) -> None:
        self._stopping.set()
        if self._runner is not None:
            await self._runner.cleanup()

    def now(self) -> float:
        return time.monotonic() + self._offset

    def advance(self, seconds: float) -> None:
        """Time passes for the model (tokens expire)."""
        self._offset += seconds

    async def _token(self, request: web.Request) -> web.Response:
        self.token_requests += 1
        q = request.query
        if q.get("grant_type") != "client_credential":
            return _error(40002, "invalid grant_type")
        if q.get("appid") != self.app_id:
            return _error(40013, "invalid appid")
        if q.get("secret") != self.app_secret:
            return _error(40001, "invalid credential, access_token is invalid or not latest")
        now = self.now()
        for token in self._tokens:
            self._replaced.setdefault(token, now + OVERLAP)
        token = secrets.token_urlsafe(48)
        self._tokens[token] = now + TOKEN_LIFETIME
        return web.json_response({"access_token": token, "expires_in": TOKEN_LIFETIME})

    async def _send(self, request: web.Request) -> web.Response:
        errcode, answer = await self._answer(request)
        self.answers.append(errcode)
        return answer

    def _token_refusal(self, request: web.Request) -> tuple[int, web.Response] | None:
        token = request.query.get("access_token", "")
        if not token:
            return 41001, _error(41001, "access_token missing")
        until = self._tokens.get(token)
        if until is None or self._replaced.get(token, until) <= self.now():
            return 40001, _error(40001, "invalid credential, access_token is invalid or not latest")
        if until <= self.now():
            return 42001, _error(42001, "access_token expired")
        return None

    async def _answer(self, request: web.Request) -> tuple[int, web.Response]:
        refused = self._token_refusal(request)
        if refused is not None:
            return refused
        if self.fail_next:
            return await self._outage(self.fail_next.pop(0))
        try:
            message = json.loads(await request.read())
        except ValueError:
            return 47001, _error(47001, "data format error")
        if not isinstance(message, dict) or not _valid_data(message.get("data", {})):
            return 47001, _error(47001, "data format error")
        openid = message.get("touser")
        if openid in self.unfollowed:
            return 43004, _error(43004, "require subscribe")
        if openid not in self.followers:
            return 40003, _error(40003, "invalid openid")
        if message.get("template_id") not in self.templates:
            return 40037, _error(40037, "invalid template_id")
        if len(self.sent) >= self.daily_quota:
            return 45009, _error(45009, "reach max api daily quota limit")
        self.sent.append(message)
        msgid = 200_000_000 + len(self.sent)
        return 0, web.json_response({"errcode": 0, "errmsg": "ok", "msgid": msgid})

    async def _outage(self, outage: str) -> tuple[int, web.Response]:
        if outage == "hang":
            await self._stopping.wait()  # the client gives up first
            return 500, web.Response(status=500, text="stopped")
        if outage == "http500":
            return 500, web.Response(status=500, text="Internal Server Error")
        code, text = {
            "busy": (-1, "system error"),
            "quota": (45009, "reach max api daily quota limit"),
            "expired": (42001, "access_token expired"),
        }[outage]
        return code, _error(code, text)

    async def _create_qr(self, request: web.Request) -> web.Response:
        refused = self._token_refusal(request)
        if refused is not None:
            return refused[1]
        if self.fail_next:
            return (await self._outage(self.fail_next.pop(0)))[1]
        raw = await request.read()
        if not raw:
            return _error(44002, "empty post data")
        try:
            asked = json.loads(raw)
        except ValueError:
            return _error(47001, "data format error")
        if not isinstance(asked, dict):
            return _error(47001, "data format error")
        scene_of = asked.get("action_info", {})
        scene_of = scene_of.get("scene", {}) if isinstance(scene_of, dict) else {}
        action = asked.get("action_name")
        if action == "QR_STR_SCENE":
            scene = scene_of.get("scene_str") if isinstance(scene_of, dict) else None
            if not isinstance(scene, str) or not 1 <= len(scene) <= 64:
                return _error(40035, "invalid args")
        elif action == "QR_SCENE":
            number = scene_of.get("scene_id") if isinstance(scene_of, dict) else None
            if not isinstance(number, int) or not 0 < number < 2**32:
                return _error(40035, "invalid args")
            scene = str(number)
        else:
            return _error(40035, "invalid args")
        lifetime = asked.get("expire_seconds", 60)
        if not isinstance(lifetime, int) or not 0 < lifetime <= MAX_QR_SECONDS:
            return _error(40035, "invalid args")
        ticket = secrets.token_urlsafe(48)
        url = "http://weixin.qq.com/q/" + secrets.token_urlsafe(16)
        self.codes[url] = Code(ticket, scene, self.now() + lifetime)
        return web.json_response({"ticket": ticket, "expire_seconds": lifetime, "url": url})

    # -- the pushes to the merchant's server, as a phone's WeChat sets them off ---------------

    async def set_server(self, url: str, token: str) -> None:
        """The merchant saves 服务器配置: WeChat checks the URL answers the echostr it sends
        (signed with the token) before it takes it. AssertionError when it does not."""
        echostr = str(secrets.randbelow(10**18))
        query = {**self.signed_query(token), "echostr": echostr}
        async with aiohttp.ClientSession() as http, http.get(url, params=query) as answer:
            body = await answer.text()
        assert answer.status == 200 and body == echostr, f"verification: {answer.status} {body}"
        self.server_url, self.push_token = url, token

    def signed_query(self, token: str | None = None) -> dict[str, str]:
        """`signature`, `timestamp` and `nonce` as WeChat signs a request to the server."""
        timestamp, nonce = str(int(time.time())), str(secrets.randbelow(10**10))
        parts = sorted((token if token is not None else self.push_token, timestamp, nonce))
        signature = hashlib.sha1("".join(parts).encode()).hexdigest()  # noqa: S324 (WeChat's)
        return {"signature": signature, "timestamp": timestamp, "nonce": nonce}

    async def scan(self, code_url: str, openid: str) -> Pushed | None:
        """A phone's WeChat scans the code holding `code_url`: a `subscribe` (the person follows
        the account then) or a `SCAN` (a follower) pushed to the server; None for a code that
        expired or that WeChat never made (nothing is pushed)."""
        code = self.codes.get(code_url)
        if code is None or code.expires_at <= self.now():
            return None
        if openid in self.followers:
            return await self.push("SCAN", openid, code.scene, ticket=code.ticket)
        self.followers.add(openid)
        self.unfollowed.discard(openid)
        return await self.push("subscribe", openid, "qrscene_" + code.scene, ticket=code.ticket)

    async def unfollow(self, openid: str) -> Pushed:
        self.followers.discard(openid)
        self.unfollowed.add(openid)
        return await self.push("unsubscribe", openid, "")

    async def push(self, event: str, openid: str, event_key: str, *, ticket: str = "") -> Pushed:
        """An event pushed as WeChat pushes it (see the module): its last try's answer."""
        self._last_create_time = max(int(time.time()), self._last_create_time + 1)
        body = event_xml(
            self.account_id, openid, self._last_create_time, event, event_key, ticket
        ).encode()
        return await self.post(body, openid=openid)

    async def post(
        self, body: bytes, *, openid: str = "", query: dict[str, str] | None = None
    ) -> Pushed:
        """`body` posted to the server with WeChat's retries (or the exact `query` given)."""
        query = query or {**self.signed_query(), "openid": openid}
        pushed = Pushed(query, body)
        self.pushes.append(pushed)
        async with aiohttp.ClientSession() as http:
            for _ in range(PUSH_TRIES):
                pushed.tries += 1
                try:
                    async with http.post(
                        self.server_url,
                        params=query,
                        data=body,
                        headers={"Content-Type": "text/xml"},
                        timeout=aiohttp.ClientTimeout(total=self.answer_timeout),
                    ) as answer:
                        pushed.status, pushed.answer = answer.status, await answer.text()
                        return pushed
                except (TimeoutError, aiohttp.ClientError):
                    pushed.status, pushed.answer = 0, ""
                if self.resign_retries:
                    query = {**self.signed_query(), "openid": openid}
                    pushed.query = query
        return pushed


@dataclass
class Code:
    """A temporary parametric QR code WeChat made."""

    ticket: str
    scene: str
    expires_at: float  # the model's clock


@dataclass
class Pushed:
    """One push to the merchant's server: what was sent, and the last try's answer."""

    query: dict[str, str]
    body: bytes
    tries: int = 0
    status: int = 0  # 0: no answer in time
    answer: str = ""


def event_xml(
    to: str, openid: str, create_time: int, event: str, event_key: str, ticket: str = ""
) -> str:
    """An event push's plain-text XML, as WeChat writes it (CDATA text fields)."""

    def cdata(text: str) -> str:
        return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"

    key = f"<EventKey>{cdata(event_key)}</EventKey>" if event != "unsubscribe" else ""
    tick = f"<Ticket>{cdata(ticket)}</Ticket>" if ticket else ""
    return (
        f"<xml><ToUserName>{cdata(to)}</ToUserName><FromUserName>{cdata(openid)}</FromUserName>"
        f"<CreateTime>{create_time}</CreateTime><MsgType>{cdata('event')}</MsgType>"
        f"<Event>{cdata(event)}</Event>{key}{tick}</xml>"
    )


def text_xml(to: str, openid: str, create_time: int, content: str) -> str:
    """A follower's text message to the account (MsgType text), for the server to ignore."""
    return (
        f"<xml><ToUserName>{escape(to)}</ToUserName><FromUserName>{escape(openid)}"
        f"</FromUserName><CreateTime>{create_time}</CreateTime><MsgType>text</MsgType>"
        f"<Content>{escape(content)}</Content><MsgId>1</MsgId></xml>"
    )


def _valid_data(data: object) -> bool:
    return isinstance(data, dict) and all(
        isinstance(v, dict) and isinstance(v.get("value"), str) for v in data.values()
    )


def _error(errcode: int, errmsg: str) -> web.Response:
    rid = secrets.token_hex(4) + "-" + secrets.token_hex(4)
    return web.json_response({"errcode": errcode, "errmsg": f"{errmsg} rid: {rid}"})
