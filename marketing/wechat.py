"""WeChat Official Account template messages (模板消息): the wechat channel of dispatch
(docs/marketing-dispatch.md), and the client of WeChat's API it uses.

What this relies on, from WeChat's public documentation (developers.weixin.qq.com):
- Sending: `POST /cgi-bin/message/template/send?access_token=ACCESS_TOKEN` with the JSON
  {"touser": openid, "template_id", "url" (optional), "data": {"<keyword>": {"value": "…"}}};
  the answer {"errcode": 0, "errmsg": "ok", "msgid": …}
  (doc/offiaccount/Message_Management/Template_Message_Interface.html). The same page says
  template messages are for service notices and "不支持广告等营销类消息": the merchant's
  template must be a service notice (an offer waiting at the store), not an advertisement.
- The access token: `GET /cgi-bin/token?grant_type=client_credential&appid=APPID&secret=
  APPSECRET` → {"access_token", "expires_in": 7200}, or {"errcode": 40013, "errmsg":
  "invalid appid"}. Fetching a new token replaces the old one, both working for 5 minutes, and
  WeChat asks for one central place that fetches and refreshes it, lest servers overwrite each
  other's (doc/offiaccount/Basic_Information/Get_access_token.html). So the token is kept in
  marketing_wechat_accounts, sealed, and refreshed under that row's lock by whichever process
  needs it first (a dispatcher sending, a portal making a QR code: `AccessTokens`).
- A temporary parametric QR code (doc/offiaccount/Account_Management/
  Generating_a_Parametric_QR_Code.html): `POST /cgi-bin/qrcode/create?access_token=` with
  {"expire_seconds": at most 2592000 (30 days; 60 when left out), "action_name":
  "QR_STR_SCENE", "action_info": {"scene": {"scene_str": 1 to 64 characters}}} →
  {"ticket", "expire_seconds", "url"}: `url` is what the code holds ("开发者可根据该地址自行生成
  需要的二维码图片"), so we draw the code ourselves and load nothing from WeChat's hosts.
- Return codes (doc/offiaccount/Getting_Started/Global_Return_Code.html): -1 system busy,
  try again later; 40001 a wrong AppSecret or an invalid access token; 40003 an invalid
  openid; 40013 an invalid AppID; 40037 an invalid template_id; 42001 the access token
  expired; 43004 "require subscribe", the user does not follow the account; 45009 the daily
  API quota is used up; 45011 the minute quota.

So: 40001/42001 at a send refresh the token and send once more; 43004 (and the other refusals
of the message itself) fail the contact; -1, 45009, 45011, HTTP errors and time-outs retry it
later. A token refused (40013, 40001 at /cgi-bin/token) fails it: the merchant's account needs
fixing. WeChat has no delivery id of ours: a message re-sent after a crash between its send and
its record arrives twice (marketing/dispatch.py says how short that window is).

A profile gets an openid when the shopper follows the merchant's account through the QR code
their "you're online" page shows (marketing/wechat_follow.py makes it through
`/cgi-bin/qrcode/create`, this client's `create_qr`) and WeChat pushes that scan to our event
endpoint (marketing/wechat_events.py): the openid is linked (`link_follower`) and the consent
given; an unfollow withdraws it and removes the link (docs/marketing.md, "WeChat: following the
account"). simulators/wechat.py is the model of the API and of the pushes the tests run against.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import aiohttp
import asyncpg
from cryptography.exceptions import InvalidTag

from kernel.privacy import seal, unseal
from kernel.sql import load_queries
from marketing import channels
from marketing.channels import Delivery, Outcome

queries = load_queries(__file__, "wechat.sql")

TOKEN_INVALID = frozenset({40001, 40014, 42001})  # the token, not the message, was refused
BUSY, DAILY_QUOTA, MINUTE_QUOTA = -1, 45009, 45011
REFRESH_EARLY = timedelta(minutes=5)  # a token this close to its end is refreshed first
MAX_QR_SECONDS = 2_592_000  # a temporary QR code lives 30 days at most
EVENTS_PATH = "/wechat/events/{merchant_id}"  # the account's 服务器地址(URL), on the portal
T = TypeVar("T")


class WeChatError(Exception):
    """WeChat answered with an errcode other than 0."""

    def __init__(self, errcode: int, errmsg: str) -> None:
        super().__init__(f"errcode {errcode}: {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg


class TokenRefused(WeChatError):
    """/cgi-bin/token refused the account's AppID or AppSecret."""


class WeChatUnreachable(Exception):
    """No answer in time, no connection, or not WeChat's JSON."""


@dataclass(frozen=True)
class QrCode:
    """A temporary parametric QR code: WeChat's ticket, what the code holds, its lifetime."""

    ticket: str
    url: str
    expire_seconds: int


class WeChatClient:
    """WeChat's server API at `base_url` (settings.marketing_wechat_api_url), every call
    under `timeout` seconds."""

    def __init__(self, http: aiohttp.ClientSession, base_url: str, *, timeout: float = 5.0):
        self._http = http
        self._base = base_url.rstrip("/")
        self._timeout = aiohttp.ClientTimeout(total=timeout)

    async def access_token(self, app_id: str, app_secret: str) -> tuple[str, int]:
        """A new access token and its lifetime in seconds; TokenRefused, WeChatUnreachable."""
        params = {"grant_type": "client_credential", "appid": app_id, "secret": app_secret}
        try:
            answer = await self._call("GET", "/cgi-bin/token", params)
        except WeChatError as exc:
            if exc.errcode == BUSY:
                raise
            raise TokenRefused(exc.errcode, exc.errmsg) from None
        token, expires_in = answer.get("access_token"), answer.get("expires_in")
        if not isinstance(token, str) or not token or not isinstance(expires_in, int):
            raise WeChatUnreachable("/cgi-bin/token answered without a token")
        return token, expires_in

    async def send_template(self, access_token: str, message: dict[str, Any]) -> int:
        """Send one template message; its msgid. WeChatError, WeChatUnreachable."""
        answer = await self._call(
            "POST", "/cgi-bin/message/template/send", {"access_token": access_token}, message
        )
        msgid = answer.get("msgid")
        return msgid if isinstance(msgid, int) else 0

    async def create_qr(self, access_token: str, scene: str, expire_seconds: int) -> QrCode:
        """A temporary QR code whose scene is `scene` (QR_STR_SCENE). WeChatError,
        WeChatUnreachable."""
        if not 1 <= len(scene) <= 64 or not 60 <= expire_seconds <= MAX_QR_SECONDS:
            raise ValueError("a scene is 1 to 64 characters, a code lives 60 s to 30 days")
        body = {
            "expire_seconds": expire_seconds,
            "action_name": "QR_STR_SCENE",
            "action_info": {"scene": {"scene_str": scene}},
        }
        answer = await self._call(
            "POST", "/cgi-bin/qrcode/create", {"access_token": access_token}, body
        )
        url, ticket, lifetime = (
            answer.get("url"),
            answer.get("ticket"),
            answer.get("expire_seconds"),
        )
        if not (isinstance(url, str) and 0 < len(url) <= 500 and url.isprintable()):
            raise WeChatUnreachable("/cgi-bin/qrcode/create answered without a url")
        if not isinstance(lifetime, int) or lifetime <= 0:
            lifetime = expire_seconds
        return QrCode(str(ticket or ""), url, min(lifetime, expire_seconds))

    async def _call(
        self, method: str, path: str, params: dict[str, str], body: object = None
    ) -> dict[str, Any]:
        try:
            async with self._http.request(
                method, self._base + path, params=params, json=body, timeout=self._timeout
            ) as response:
                if response.status != 200:
                    raise WeChatUnreachable(f"{path}: HTTP {response.status}")
                answer = await response.json(content_type=None)
        except (TimeoutError, aiohttp.ClientError, ValueError) as exc:
            # The exception's text is not shown: a URL in it would carry the secret or token.
            raise WeChatUnreachable(f"{path}: {type(exc).__name__}") from None
        if not isinstance(answer, dict):
            raise WeChatUnreachable(f"{path}: not a JSON object")
        errcode = answer.get("errcode", 0)
        if errcode != 0:
            code = errcode if isinstance(errcode, int) else BUSY
            raise WeChatError(code, str(answer.get("errmsg", ""))[:200])
        return answer


async def set_account(
    db: asyncpg.Pool | asyncpg.Connection,
    merchant_id: uuid.UUID,
    *,
    secret_key: str,
    app_id: str,
    app_secret: str,
    template_id: str,
    message_key: str = "thing1",
) -> str:
    """The merchant's Official Account: the message goes into `message_key` of the template
    `template_id` ({{thing1.DATA}} in the template's text). A change forgets its token. The
    account's push token (the one it had, or a new one): what the merchant enters as 服务器配置
    "Token" beside the URL `events_url`."""
    sealed = seal(secret_key, str(merchant_id), app_secret)
    await db.execute(queries.set_account, merchant_id, app_id, sealed, template_id, message_key)
    return await push_token(db, secret_key, merchant_id, make=True)


async def push_token(
    db: asyncpg.Pool | asyncpg.Connection,
    secret_key: str,
    merchant_id: uuid.UUID,
    *,
    make: bool = False,
    rotate: bool = False,
) -> str | None:
    """The token WeChat signs the account's pushes with; None without an account, or (unless
    `make`) without a token yet. `rotate`: a new one (the merchant enters it at WeChat too:
    pushes signed with the old one are refused from then on)."""
    if rotate or make:
        # 服务器配置: "Token … 必须为英文或数字，长度为3-32字符"
        fresh = seal(secret_key, str(merchant_id), secrets.token_hex(16))
        await db.execute(queries.make_push_token, merchant_id, fresh, rotate)
    sealed = await db.fetchval(queries.push_token, merchant_id)
    return None if sealed is None else unseal(secret_key, str(merchant_id), bytes(sealed))


def events_url(portal_url: str, merchant_id: uuid.UUID) -> str:
    """The account's event endpoint (服务器地址), on the portal: WeChat pushes follows here."""
    return portal_url.rstrip("/") + EVENTS_PATH.format(merchant_id=merchant_id)


async def link_follower(
    db: asyncpg.Pool | asyncpg.Connection,
    merchant_id: uuid.UUID,
    profile_key: str,
    openid: str,
    *,
    event_time: int | None = None,
) -> bool:
    """The profile follows the merchant's Official Account as `openid`, since the push of
    CreateTime `event_time` (None: linked otherwise). False when a newer push's link stands."""
    linked = await db.fetchval(queries.link_follower, merchant_id, profile_key, openid, event_time)
    return linked is not None


@dataclass
class _Token:
    value: str
    expires_at: datetime


class AccessTokens:
    """The merchants' access tokens, shared by every process through marketing_wechat_accounts
    (WeChat: one central place fetches and refreshes them)."""

    def __init__(self, db: asyncpg.Pool, client: WeChatClient, secret_key: str) -> None:
        self._db = db
        self.client = client
        self._secret_key = secret_key
        self._tokens: dict[uuid.UUID, _Token] = {}  # as last read or fetched, per merchant

    async def get(self, merchant_id: uuid.UUID, stale: str | None = None) -> str:
        """The account's access token: this process's copy, the stored one, or, when both
        are missing, old or `stale` (refused just now), a new one fetched under the account
        row's lock so that processes never fetch over each other. TokenRefused,
        WeChatUnreachable, WeChatError (busy), InvalidTag (a secret sealed with another key)."""
        now = datetime.now(UTC)
        known = self._tokens.get(merchant_id)
        if known is not None and known.value != stale and known.expires_at - REFRESH_EARLY > now:
            return known.value
        async with self._db.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(queries.lock_account, merchant_id)
            if row is None:
                raise TokenRefused(40013, "the account was removed")
            key = (self._secret_key, str(merchant_id))
            if row["sealed_access_token"] is not None and row["access_token_expires_at"]:
                stored = _Token(
                    unseal(*key, bytes(row["sealed_access_token"])),
                    row["access_token_expires_at"],
                )
                if stored.value != stale and stored.expires_at - REFRESH_EARLY > now:
                    self._tokens[merchant_id] = stored
                    return stored.value
            app_secret = unseal(*key, bytes(row["sealed_app_secret"]))
            value, lifetime = await self.client.access_token(row["app_id"], app_secret)
            fresh = _Token(value, now + timedelta(seconds=lifetime))
            await conn.execute(queries.save_token, merchant_id, seal(*key, value), fresh.expires_at)
        self._tokens[merchant_id] = fresh
        return fresh.value

    async def call(self, merchant_id: uuid.UUID, call: Callable[[str], Awaitable[T]]) -> T:
        """`call(token)`; once more with a new token when WeChat refused this one (expired, or
        replaced by a newer one)."""
        token = await self.get(merchant_id)
        try:
            return await call(token)
        except WeChatError as exc:
            if exc.errcode not in TOKEN_INVALID:
                raise
        # Refresh (unless another process already has) and call once more.
        return await call(await self.get(merchant_id, stale=token))


class WeChatChannel:
    def __init__(self, db: asyncpg.Pool, client: WeChatClient, secret_key: str) -> None:
        self._db = db
        self._tokens = AccessTokens(db, client, secret_key)

    async def send(self, delivery: Delivery) -> Outcome:
        merchant = delivery.merchant_id
        account = await self._db.fetchrow(queries.account, merchant)
        if account is None:
            return channels.failed("wechat: the merchant has no Official Account set")
        openid = await self._db.fetchval(queries.follower, merchant, delivery.profile_key)
        if openid is None:
            return channels.failed("wechat: no WeChat follower is linked to this shopper")
        text = delivery.message_zh or delivery.message_en
        if not text:
            return channels.failed("wechat: the trigger has no message")
        message = {
            "touser": openid,
            "template_id": account["template_id"],
            "data": {account["message_key"]: {"value": text}},
        }
        client = self._tokens.client
        try:
            await self._tokens.call(merchant, lambda token: client.send_template(token, message))
        except TokenRefused as exc:
            return channels.failed(f"wechat: the account's token was refused ({exc})")
        except InvalidTag:
            return channels.failed("wechat: the AppSecret does not open with this platform's key")
        except WeChatUnreachable as exc:
            return channels.retry(f"wechat: {exc}")
        except WeChatError as exc:
            return outcome_of(exc)
        return channels.sent()


def outcome_of(error: WeChatError) -> Outcome:
    """A refusal of the send, as the return codes above say."""
    text = f"wechat: {error}"
    if error.errcode in TOKEN_INVALID:
        return channels.retry(text + " (after a new token too)")
    if error.errcode == DAILY_QUOTA:
        return channels.retry(text, 3600.0)
    if error.errcode == MINUTE_QUOTA:
        return channels.retry(text, 60.0)
    if error.errcode == BUSY:
        return channels.retry(text)
    return channels.failed(text)
