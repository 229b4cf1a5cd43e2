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
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

TOKEN_LIFETIME = 7200  # seconds, as WeChat gives them
OVERLAP = 300  # seconds an earlier token still works after a new one was fetched


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
    url: str = ""
    _tokens: dict[str, float] = field(default_factory=dict)  # token -> valid until
    _replaced: dict[str, float] = field(default_factory=dict)  # token -> works until (newer one)
    _offset: float = 0.0  # `advance` moves the model's clock
    _runner: web.AppRunner | None = None
    _stopping: asyncio.Event = field(default_factory=asyncio.Event)

    async def start(self) -> str:
        app = web.Application()
        app.router.add_get("/cgi-bin/token", self._token)
        app.router.add_post("/cgi-bin/message/template/send", self._send)
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

    async def _answer(self, request: web.Request) -> tuple[int, web.Response]:
        token = request.query.get("access_token", "")
        if not token:
            return 41001, _error(41001, "access_token missing")
        until = self._tokens.get(token)
        if until is None or self._replaced.get(token, until) <= self.now():
            return 40001, _error(40001, "invalid credential, access_token is invalid or not latest")
        if until <= self.now():
            return 42001, _error(42001, "access_token expired")
        if self.fail_next:
            outage = self.fail_next.pop(0)
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


def _valid_data(data: object) -> bool:
    return isinstance(data, dict) and all(
        isinstance(v, dict) and isinstance(v.get("value"), str) for v in data.values()
    )


def _error(errcode: int, errmsg: str) -> web.Response:
    rid = secrets.token_hex(4) + "-" + secrets.token_hex(4)
    return web.json_response({"errcode": errcode, "errmsg": f"{errmsg} rid: {rid}"})
