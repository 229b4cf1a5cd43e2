"""A local stand-in for Alibaba Cloud SMS's SendSms (Dysmsapi 2017-05-25), for tests: an aiohttp
server on loopback that checks each request as the service's gateway does and answers as the
service does. Never the network.

What it models, and from where:
- The RPC gateway's signature check, "Request syntax and signature method V2 for RPC APIs"
  (help.aliyun.com/document_detail/157269): parameters from the query and the form body
  together; every one but Signature sorted by name, `urlencode`d, then the whole string
  encoded again, as the official Python SDK's `__compose_string_to_sign`
  (aliyunsdkcore/auth/composer/rpc_signature_composer.py) builds it with its
  `__pop_standard_urlencode` (+ → %20, * → %2A, %7E → ~); HMAC-SHA1 keyed with
  AccessKeySecret + "&", Base64. Its errors, as the common error tables list them
  (help.aliyun.com/document_detail/48054): SignatureDoesNotMatch, SignatureNonceUsed (a nonce
  is good once), InvalidTimeStamp.Expired (more than 15 minutes off), Missing<Name> (HTTP 400),
  InvalidAccessKeyId.NotFound (HTTP 404).
- SendSms itself (help.aliyun.com/document_detail/55284, error codes
  help.aliyun.com/document_detail/101346): HTTP 200 with {"Code": "OK", "Message": "OK",
  "BizId", "RequestId"}; isv.MOBILE_NUMBER_ILLEGAL for a number that is not one;
  isv.BUSINESS_LIMIT_CONTROL for the service's own flow control of verification codes (one a
  minute per number and sign name; the same service allows 5 an hour and 10 a day).
- Outages a test asks for (`fail_next`): an HTTP 500 InternalError, or no answer ("hang").
- A shopper's reply (上行短信, MO), pushed as the service's "HTTP批量推送模式" pushes its SmsUp
  messages (help.aliyun.com/zh/sms/developer-reference/smsup-http): `push_replies` POSTs a JSON
  array of {phone_number (national, no +86), send_time, content, sign_name, dest_code,
  sequence_id} to the receiver's address; the receiver must answer HTTP 200 with a JSON object
  whose `code` is a number, or the service pushes again (after 1, 5 and 10 minutes).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import re
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

import aiohttp
from aiohttp import web

BEIJING = ZoneInfo("Asia/Shanghai")  # the service stamps times in Beijing time

COMMON = (
    "AccessKeyId",
    "Action",
    "Format",
    "SignatureMethod",
    "SignatureNonce",
    "SignatureVersion",
    "Timestamp",
    "Version",
    "Signature",
)
SEND_SMS = ("PhoneNumbers", "SignName", "TemplateCode")
TIMESTAMP_SKEW = 15 * 60  # seconds
_NUMBER = re.compile(r"^(?:86)?1[3-9][0-9]{9}$|^(?!86)[1-9][0-9]{6,14}$")


def _pop_standard_urlencode(text: str) -> str:
    return text.replace("+", "%20").replace("*", "%2A").replace("%7E", "~")


def string_to_sign(method: str, params: dict[str, str]) -> str:
    """As the SDK composes it: urlencode the sorted pairs, then encode that string again."""
    ordered = sorted((k, v) for k, v in params.items() if k != "Signature")
    query = _pop_standard_urlencode(urlencode(ordered))
    return method + "&%2F&" + _pop_standard_urlencode(quote(query, safe="/"))


def expected_signature(method: str, params: dict[str, str], secret: str) -> str:
    digest = hmac.new(f"{secret}&".encode(), string_to_sign(method, params).encode(), hashlib.sha1)
    return base64.b64encode(digest.digest()).decode()


@dataclass
class AliyunSmsSim:
    access_key_id: str
    access_key_secret: str
    sent: list[dict[str, str]] = field(default_factory=list)  # accepted SendSms parameters
    fail_next: list[str] = field(default_factory=list)  # "http500" or "hang", once each
    answers: list[tuple[int, str]] = field(default_factory=list)  # (HTTP status, Code) given
    _nonces: set[str] = field(default_factory=set)
    _last_sent: dict[tuple[str, str], float] = field(default_factory=dict)
    _runner: web.AppRunner | None = None
    _stopping: asyncio.Event = field(default_factory=asyncio.Event)
    url: str = ""

    async def start(self) -> str:
        app = web.Application()
        app.router.add_route("*", "/", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}/"
        return self.url

    async def stop(self) -> None:
        self._stopping.set()  # a hanging answer ends with the server
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        params = dict(request.query)
        if request.method == "POST":
            form = await request.post()
            params.update({k: v for k, v in form.items() if isinstance(v, str)})
        status, answer = await self._answer(request.method, params)
        self.answers.append((status, answer["Code"]))
        answer.setdefault("RequestId", str(uuid.uuid4()).upper())
        return web.json_response(answer, status=status)

    async def _answer(self, method: str, params: dict[str, str]) -> tuple[int, dict[str, str]]:
        failure = self._gateway_check(method, params)
        if failure is not None:
            return failure
        if self.fail_next:
            outage = self.fail_next.pop(0)
            if outage == "hang":
                await self._stopping.wait()  # the client gives up first
            return 500, {"Code": "InternalError", "Message": "The request processing has failed."}
        return self._send_sms(params)

    def _gateway_check(
        self, method: str, params: dict[str, str]
    ) -> tuple[int, dict[str, str]] | None:
        for name in COMMON:
            if not params.get(name):
                return 400, {"Code": f"Missing{name}", "Message": f"{name} is mandatory."}
        if params["AccessKeyId"] != self.access_key_id:
            return 404, {
                "Code": "InvalidAccessKeyId.NotFound",
                "Message": "Specified access key is not found.",
            }
        if (params["SignatureMethod"], params["SignatureVersion"]) != ("HMAC-SHA1", "1.0"):
            return 400, {"Code": "InvalidParameter", "Message": "SignatureMethod/Version"}
        try:
            stamp = datetime.strptime(params["Timestamp"], "%Y-%m-%dT%H:%M:%SZ")
        except ValueError:
            return 400, {"Code": "InvalidTimeStamp.Format", "Message": "not ISO 8601 UTC"}
        if abs(stamp.replace(tzinfo=UTC).timestamp() - time.time()) > TIMESTAMP_SKEW:
            return 400, {"Code": "InvalidTimeStamp.Expired", "Message": "time stamp expired"}
        expected = expected_signature(method, params, self.access_key_secret)
        if not hmac.compare_digest(expected, params["Signature"]):
            return 400, {
                "Code": "SignatureDoesNotMatch",
                "Message": "Specified signature is not matched with our calculation.",
            }
        if params["SignatureNonce"] in self._nonces:
            return 400, {"Code": "SignatureNonceUsed", "Message": "nonce was used already"}
        self._nonces.add(params["SignatureNonce"])
        if (params["Action"], params["Version"]) != ("SendSms", "2017-05-25"):
            return 400, {"Code": "InvalidApi.NotFound", "Message": "Specified api is not found"}
        return None

    async def push_replies(
        self, url: str, replies: list[tuple[str, str]], *, sequence: int | None = None
    ) -> tuple[int, object]:
        """Push (number, text) replies to `url` as one SmsUp batch; the receiver's HTTP status
        and JSON answer (None when it is not JSON). `sequence`: the first sequence_id (the same
        again: a push the service repeats)."""
        first = sequence if sequence is not None else int(time.time() * 1000)
        body = [
            {
                "phone_number": number.removeprefix("+86"),
                "send_time": datetime.now(BEIJING).strftime("%Y-%m-%d %H:%M:%S"),  # service time
                "content": content,
                "sign_name": "Portico",
                "dest_code": "1234",
                "sequence_id": first + n,
            }
            for n, (number, content) in enumerate(replies)
        ]
        async with aiohttp.ClientSession() as session, session.post(url, json=body) as response:
            try:
                answer: object = await response.json(content_type=None)
            except ValueError:
                answer = None
            return response.status, answer

    def _send_sms(self, params: dict[str, str]) -> tuple[int, dict[str, str]]:
        for name in SEND_SMS:
            if not params.get(name):
                return 400, {"Code": f"Missing{name}", "Message": f"{name} is mandatory."}
        number = params["PhoneNumbers"]
        if not _NUMBER.match(number):
            return 200, {"Code": "isv.MOBILE_NUMBER_ILLEGAL", "Message": "非法手机号"}
        try:
            template = json.loads(params.get("TemplateParam") or "{}")
        except ValueError:
            return 200, {"Code": "isv.INVALID_JSON_PARAM", "Message": "JSON参数不合法"}
        if not isinstance(template, dict) or not all(isinstance(v, str) for v in template.values()):
            return 200, {"Code": "isv.INVALID_JSON_PARAM", "Message": "只接受字符串值"}
        key = (number, params["SignName"])
        now = time.monotonic()
        if now - self._last_sent.get(key, -3600.0) < 60:
            return 200, {"Code": "isv.BUSINESS_LIMIT_CONTROL", "Message": "触发分钟级流控Permits:1"}
        self._last_sent[key] = now
        self.sent.append(params)
        biz = f"{int(time.time() * 1000)}^0"
        return 200, {"Code": "OK", "Message": "OK", "BizId": biz}
