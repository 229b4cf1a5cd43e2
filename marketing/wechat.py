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
  marketing_wechat_accounts, sealed, and refreshed under that row's lock by whichever
  dispatcher needs it first.
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

No profile has an openid yet (linking a shopper's WeChat, through a WeChat login on the
portal, is future work): the engine suppresses wechat contacts as 'no_consent', and the
channel is proved end to end by tests that link a follower (`link_follower`) and insert the
contact directly. simulators/wechat.py is the model of the API the tests run against.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

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
) -> None:
    """The merchant's Official Account: the message goes into `message_key` of the template
    `template_id` ({{thing1.DATA}} in the template's text). A change forgets its token."""
    sealed = seal(secret_key, str(merchant_id), app_secret)
    await db.execute(queries.set_account, merchant_id, app_id, sealed, template_id, message_key)


async def link_follower(
    db: asyncpg.Pool | asyncpg.Connection, merchant_id: uuid.UUID, profile_key: str, openid: str
) -> None:
    """The profile follows the merchant's Official Account as `openid`."""
    await db.execute(queries.link_follower, merchant_id, profile_key, openid)


@dataclass
class _Token:
    value: str
    expires_at: datetime


class WeChatChannel:
    def __init__(self, db: asyncpg.Pool, client: WeChatClient, secret_key: str) -> None:
        self._db = db
        self._client = client
        self._secret_key = secret_key
        self._tokens: dict[uuid.UUID, _Token] = {}  # as last read or fetched, per merchant

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
        try:
            token = await self._token(merchant)
            try:
                await self._client.send_template(token, message)
            except WeChatError as exc:
                if exc.errcode not in TOKEN_INVALID:
                    raise
                # Expired, or replaced by a newer one: refresh (unless another dispatcher
                # already has) and send once more.
                token = await self._token(merchant, stale=token)
                await self._client.send_template(token, message)
        except TokenRefused as exc:
            return channels.failed(f"wechat: the account's token was refused ({exc})")
        except InvalidTag:
            return channels.failed("wechat: the AppSecret does not open with this platform's key")
        except WeChatUnreachable as exc:
            return channels.retry(f"wechat: {exc}")
        except WeChatError as exc:
            return outcome_of(exc)
        return channels.sent()

    async def _token(self, merchant_id: uuid.UUID, stale: str | None = None) -> str:
        """The account's access token: this process's copy, the stored one, or, when both
        are missing, old or `stale` (refused just now), a new one fetched under the account
        row's lock so that dispatchers never fetch over each other."""
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
            value, lifetime = await self._client.access_token(row["app_id"], app_secret)
            fresh = _Token(value, now + timedelta(seconds=lifetime))
            await conn.execute(queries.save_token, merchant_id, seal(*key, value), fresh.expires_at)
        self._tokens[merchant_id] = fresh
        return fresh.value


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
