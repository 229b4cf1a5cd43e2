"""SMS one-time codes (docs/logins.md, "SMS code"): the login method that proves a shopper's
mobile number.

A code is 6 random digits, sent through an `SmsProvider`; only its keyed hash is stored
(sms_codes), beside the number's keyed hash and the device that asked. It expires after
`CODE_TTL` seconds, allows `MAX_ATTEMPTS` attempts (counted atomically in PostgreSQL), is used
once, and only by that device. Sends are rate limited per number, device and IP address
(portal/rate_limits.py). The page that asks for the code carries a reference to it: the code's
id, the device and the number, sealed with AES-GCM under the merchant's key (kernel.privacy),
so it can be neither read nor altered, and no unverified number is kept anywhere but in it.
Once a code is right, the number is remembered as a verified identity (portal/identities.py).

Providers, chosen by `settings.sms_provider`:
- `OutboxProvider` ("outbox", development): the text goes to sms_outbox (masked number, sealed
  number, text), which the console shows (portal/console_sms.py); nothing leaves the machine.
- `AliyunSmsProvider` ("aliyun"): Alibaba Cloud SMS, Dysmsapi SendSms over HTTPS.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import re
import secrets
import unicodedata
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol
from urllib.parse import quote

import aiohttp
import asyncpg
from cryptography.exceptions import InvalidTag

from kernel.config import Settings
from kernel.errors import PorticoError
from kernel.i18n import translator
from kernel.privacy import mask_phone, merchant_key, seal, unseal
from kernel.sql import load_queries
from portal import identities, rate_limits
from portal.messages import CATALOG
from portal.rate_limits import Limit
from portal.stores import Visit

log = logging.getLogger("portico.portal.sms")
queries = load_queries(__file__, "sms.sql")

CODE_DIGITS = 6
CODE_TTL = 300  # seconds a code may be used
MAX_ATTEMPTS = 5
_CODE = re.compile(r"[0-9]{6}")

# Sends: one code a minute and 5 an hour per number, 5 an hour per device, and 600 an hour
# per IP address. The IP address is the router's public one: every shopper of a store (a
# mall) shares it, so its limit is that of a busy venue, against a script that forges arrivals.
PHONE_MINUTE = Limit("phone", 60, 1, "error_sms_wait")
PHONE_HOUR = Limit("phone", 3600, 5, "error_sms_too_many")
DEVICE_HOUR = Limit("device", 3600, 5, "error_sms_too_many")
IP_HOUR = Limit("ip", 3600, 600, "error_sms_too_many")


# -- failures ----------------------------------------------------------------------------------


class SmsSendFailed(PorticoError):
    """The provider did not take the text (down, refused our account, answered garbage)."""

    message_id = "error_sms_unavailable"
    status = 503


class SmsSendUnsure(SmsSendFailed):
    """The provider did not answer in time: the text may or may not be on its way."""


class SmsNumberRefused(PorticoError):
    """The provider says the number cannot receive texts."""

    message_id = "error_bad_phone"
    status = 400


class SmsThrottled(PorticoError):
    """The provider's own flow control for this number (Aliyun's isv.BUSINESS_LIMIT_CONTROL)."""

    message_id = "error_sms_too_many"
    status = 429


class BadCodeReference(PorticoError):
    """The code page's reference was altered, cut, or sealed for another merchant."""

    message_id = "error_sms_bad_reference"
    status = 400


class CodeOtherDevice(PorticoError):
    message_id = "error_sms_other_device"
    status = 403


class CodeRefused(PorticoError):
    """A code that does not let the shopper in; the code page says why. `can_retry`: another
    code may be typed into the same form."""

    can_retry = False


class CodeFormat(CodeRefused):
    message_id = "error_sms_code_format"
    status = 400
    can_retry = True


class CodeWrong(CodeRefused):
    message_id = "error_sms_code_wrong"
    status = 400
    can_retry = True


class CodeLocked(CodeRefused):
    message_id = "error_sms_code_locked"
    status = 429


class CodeExpired(CodeRefused):
    message_id = "error_sms_code_expired"
    status = 400


class CodeUsed(CodeRefused):
    message_id = "error_sms_code_used"
    status = 400


# -- providers ----------------------------------------------------------------------------------


class SmsProvider(Protocol):
    async def send(
        self,
        phone_e164: str,
        text: str,
        template_params: Mapping[str, str],
        *,
        message_id: uuid.UUID | None = None,
    ) -> None:
        """Send one text, or raise SmsSendFailed (SmsSendUnsure when it may have gone),
        SmsNumberRefused or SmsThrottled. `text` is the message as the shopper reads it;
        `template_params` its variables, for a provider that sends an approved template.
        `message_id`: the text's own id, when the caller may send it again (marketing's
        delivery id): the outbox keeps one text per id, Alibaba Cloud carries it as OutId."""
        ...


class OutboxProvider:
    """Development: the text goes to the console's SMS outbox, the number masked and sealed."""

    def __init__(self, db: asyncpg.Pool, secret_key: str, merchant_id: uuid.UUID) -> None:
        self._db = db
        self._secret_key = secret_key
        self._merchant_id = merchant_id

    async def send(
        self,
        phone_e164: str,
        text: str,
        template_params: Mapping[str, str],
        *,
        message_id: uuid.UUID | None = None,
    ) -> None:
        """The text in the outbox; one already there under `message_id` stays as it was."""
        sealed = seal(self._secret_key, str(self._merchant_id), phone_e164)
        await self._db.execute(
            queries.outbox_insert,
            self._merchant_id,
            message_id or uuid.uuid4(),
            mask_phone(phone_e164),
            sealed,
            text,
        )


def percent_encode(value: str) -> str:
    """RFC 3986 percent-encoding of UTF-8 as Alibaba Cloud's RPC signature wants it: only
    A-Z a-z 0-9 - _ . ~ stay as they are (a space is %20, * is %2A, ~ stays ~)."""
    return quote(value, safe="~")


def rpc_string_to_sign(method: str, params: Mapping[str, str]) -> str:
    """HTTPMethod & percentEncode("/") & percentEncode(the sorted, encoded query)."""
    canonical = "&".join(
        f"{percent_encode(name)}={percent_encode(params[name])}" for name in sorted(params)
    )
    return f"{method}&{percent_encode('/')}&{percent_encode(canonical)}"


def rpc_signature(method: str, params: Mapping[str, str], access_key_secret: str) -> str:
    """Base64(HMAC-SHA1(AccessKeySecret + "&", StringToSign))."""
    digest = hmac.digest(
        f"{access_key_secret}&".encode(),
        rpc_string_to_sign(method, params).encode(),
        hashlib.sha1,
    )
    return base64.b64encode(digest).decode()


class AliyunSmsProvider:
    """Alibaba Cloud SMS: Dysmsapi (2017-05-25) SendSms over HTTPS, RPC style, signed with
    signature method V2 (HMAC-SHA1, SignatureVersion 1.0), all parameters in a POST form body.

    Modelled on Alibaba Cloud's "SendSms" API reference (help.aliyun.com/document_detail/55284:
    PhoneNumbers with the country code and no "+", SignName, TemplateCode, TemplateParam as
    JSON; the answer's Code is "OK" or an error such as isv.BUSINESS_LIMIT_CONTROL), "Request
    syntax and signature method V2 for RPC APIs" (help.aliyun.com/document_detail/157269), and
    the official Python SDK's aliyunsdkcore/auth/composer/rpc_signature_composer.py
    (__compose_string_to_sign, __pop_standard_urlencode) with auth/algorithm/sha_hmac1.py.
    The documented signature example is a test (tests/portal/test_sms_aliyun.py).
    """

    VERSION = "2017-05-25"
    REGION = "cn-hangzhou"  # the SDK's default; SendSms is served at the one global endpoint

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        access_key_id: str,
        access_key_secret: str,
        sign_name: str,
        template_code: str,
        endpoint: str,
        timeout: float = 5.0,
    ) -> None:
        self._session = session
        self._access_key_id = access_key_id
        self._access_key_secret = access_key_secret
        self._sign_name = sign_name
        self._template_code = template_code
        self._endpoint = endpoint
        # Alibaba Cloud advises a timeout of at least a second for Chinese mainland SMS.
        self._timeout = aiohttp.ClientTimeout(total=timeout)

    def signed_params(
        self,
        phone_e164: str,
        template_params: Mapping[str, str],
        *,
        now: datetime | None = None,
        out_id: str = "",
    ) -> dict[str, str]:
        params = {
            "AccessKeyId": self._access_key_id,
            "Action": "SendSms",
            "Format": "JSON",
            "PhoneNumbers": phone_e164.removeprefix("+"),
            "RegionId": self.REGION,
            "SignName": self._sign_name,
            "SignatureMethod": "HMAC-SHA1",
            "SignatureNonce": str(uuid.uuid4()),
            "SignatureVersion": "1.0",
            "TemplateCode": self._template_code,
            "TemplateParam": json.dumps(dict(template_params), separators=(",", ":")),
            "Timestamp": (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "Version": self.VERSION,
        }
        if out_id:  # SendSms's OutId: ours, given back in its delivery receipts
            params["OutId"] = out_id
        params["Signature"] = rpc_signature("POST", params, self._access_key_secret)
        return params

    async def send(
        self,
        phone_e164: str,
        text: str,
        template_params: Mapping[str, str],
        *,
        message_id: uuid.UUID | None = None,
    ) -> None:
        """SendSms is not idempotent (its reference says so): a text sent again is a second
        text. `message_id` goes as OutId, so receipts and the console can tell them apart."""
        out_id = message_id.hex if message_id is not None else ""
        form = self.signed_params(phone_e164, template_params, out_id=out_id)
        try:
            async with self._session.post(
                self._endpoint, data=form, timeout=self._timeout
            ) as response:
                status, body = response.status, await response.read()
        except aiohttp.ClientConnectorError as exc:  # never reached the service: nothing sent
            raise SmsSendFailed(f"aliyun SendSms: cannot connect ({exc.os_error})") from None
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise SmsSendUnsure(f"aliyun SendSms: no answer ({type(exc).__name__})") from None
        _check_answer(status, body)


_THROTTLED = frozenset({"isv.BUSINESS_LIMIT_CONTROL"})
_BAD_NUMBER = frozenset({"isv.MOBILE_NUMBER_ILLEGAL"})


def _check_answer(status: int, body: bytes) -> None:
    """SendSms's answer: {"Code": "OK", "Message": "OK", "BizId": …, "RequestId": …}, or an
    error Code (HTTP 200 for the SMS service's own isv.*, 4xx/5xx for the gateway's)."""
    try:
        answer = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        answer = None
    if not isinstance(answer, dict):
        raise SmsSendFailed(f"aliyun SendSms: HTTP {status}, not a JSON object")
    code = str(answer.get("Code", ""))
    if status == 200 and code == "OK":
        return
    # The code and the request id only: the service's message may quote what we sent.
    detail = (
        f"aliyun SendSms: HTTP {status} {code or 'no Code'} (request {answer.get('RequestId')})"
    )
    if code in _BAD_NUMBER:
        raise SmsNumberRefused(detail)
    if code in _THROTTLED:
        raise SmsThrottled(detail)
    raise SmsSendFailed(detail)


class SmsProviders:
    """The provider each send goes through, as `settings.sms_provider` chooses; owns the HTTP
    client of the real one (close it at shutdown)."""

    def __init__(self, settings: Settings, db: asyncpg.Pool) -> None:
        self._settings = settings
        self._db = db
        self._aliyun: AliyunSmsProvider | None = None
        self._aliyun_coupons: AliyunSmsProvider | None = None
        self._aliyun_marketing: AliyunSmsProvider | None = None
        self._session: aiohttp.ClientSession | None = None

    def for_merchant(self, merchant_id: uuid.UUID) -> SmsProvider:
        settings = self._settings
        if settings.sms_provider == "outbox":
            return OutboxProvider(self._db, settings.secret_key, merchant_id)
        if self._aliyun is None:
            self._aliyun = self._aliyun_with(settings.aliyun_sms_template_code)
        return self._aliyun

    def for_coupons(self, merchant_id: uuid.UUID) -> SmsProvider | None:
        """The provider coupon texts go through; None when the real one has no approved
        coupon template (Alibaba Cloud sends templates only)."""
        settings = self._settings
        if settings.sms_provider == "outbox":
            return OutboxProvider(self._db, settings.secret_key, merchant_id)
        if not settings.aliyun_sms_coupon_template_code:
            return None
        if self._aliyun_coupons is None:
            self._aliyun_coupons = self._aliyun_with(settings.aliyun_sms_coupon_template_code)
        return self._aliyun_coupons

    def for_marketing(self, merchant_id: uuid.UUID) -> SmsProvider | None:
        """The provider marketing texts go through (marketing/dispatch.py, by way of
        portal/services.py); None when the real one has no approved marketing template."""
        settings = self._settings
        if settings.sms_provider == "outbox":
            return OutboxProvider(self._db, settings.secret_key, merchant_id)
        if not settings.aliyun_sms_marketing_template_code:
            return None
        if self._aliyun_marketing is None:
            self._aliyun_marketing = self._aliyun_with(settings.aliyun_sms_marketing_template_code)
        return self._aliyun_marketing

    def _aliyun_with(self, template_code: str) -> AliyunSmsProvider:
        settings = self._settings
        if self._session is None:
            self._session = aiohttp.ClientSession()
        return AliyunSmsProvider(
            self._session,
            access_key_id=settings.aliyun_sms_access_key_id,
            access_key_secret=settings.aliyun_sms_access_key_secret,
            sign_name=settings.aliyun_sms_sign_name,
            template_code=template_code,
            endpoint=settings.aliyun_sms_endpoint,
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session, self._aliyun, self._aliyun_coupons = None, None, None
            self._aliyun_marketing = None


# -- codes and their references -------------------------------------------------------------


def new_code() -> str:
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def code_hash(secret_key: str, merchant_id: uuid.UUID, code_id: uuid.UUID, code: str) -> str:
    """The keyed hash stored for a code: bound to its id, so equal codes hash apart."""
    key = merchant_key(secret_key, str(merchant_id))
    return hmac.digest(key, f"sms-code:{code_id.hex}:{code}".encode(), "sha256").hex()[:32]


@dataclass(frozen=True)
class CodeReference:
    """What the code page carries (sealed): which code, for which device and number."""

    code_id: uuid.UUID
    device: str
    phone_e164: str

    @property
    def masked(self) -> str:
        return mask_phone(self.phone_e164)


_REFERENCE_VERSION = "sms1"


def seal_reference(secret_key: str, merchant_id: uuid.UUID, reference: CodeReference) -> str:
    plain = "|".join(
        (_REFERENCE_VERSION, reference.code_id.hex, reference.device, reference.phone_e164)
    )
    sealed = seal(secret_key, str(merchant_id), plain)
    return base64.urlsafe_b64encode(sealed).decode().rstrip("=")


def open_reference(secret_key: str, merchant_id: uuid.UUID, text: str) -> CodeReference:
    """The reference a code page of this merchant carried, or BadCodeReference."""
    if not text or len(text) > 512:
        raise BadCodeReference("code reference missing or too long")
    try:
        sealed = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        plain = unseal(secret_key, str(merchant_id), sealed)
    except (binascii.Error, ValueError, InvalidTag):
        raise BadCodeReference("code reference does not open") from None
    version, code_id, device, phone = [*plain.split("|"), "", "", ""][:4]
    if version != _REFERENCE_VERSION:
        raise BadCodeReference(f"code reference version {version!r}")
    try:
        return CodeReference(uuid.UUID(hex=code_id), device, phone)
    except ValueError:
        raise BadCodeReference("code reference names no code") from None


# -- sending and checking -----------------------------------------------------------------------


@dataclass(frozen=True)
class SentCode:
    reference: str  # sealed, for the code page's form
    masked: str  # the number as the page shows it
    unsure: bool = False  # the provider did not answer in time: it may not arrive


def code_text(lang: str, brand: str, code: str) -> str:
    return translator(CATALOG, lang)(
        "sms_code_text", code=code, brand=brand, minutes=CODE_TTL // 60
    )


async def send_code(
    db: asyncpg.Pool,
    provider: SmsProvider,
    secret_key: str,
    visit: Visit,
    phone_e164: str,
    *,
    lang: str,
    ip: str,
) -> SentCode:
    """Count the send against its limits, store a new code and send it. The answer is the same
    whether or not the number ever logged in (nothing here looks it up)."""
    merchant_id = visit.merchant_id
    identity = identities.identify(secret_key, merchant_id, "phone", phone_e164)
    limits = rate_limits.counters(
        [
            (PHONE_MINUTE, identity.hash),
            (PHONE_HOUR, identity.hash),
            (DEVICE_HOUR, visit.device),
            (IP_HOUR, rate_limits.ip_hash(secret_key, merchant_id, ip)),
        ]
    )
    code_id, code = uuid.uuid4(), new_code()
    # One statement: the hits, and the code unless a limit is now exceeded.
    hits = await db.fetch(
        queries.count_and_store_code,
        merchant_id,
        limits.subjects,
        limits.windows,
        limits.max_hits,
        code_id,
        identity.hash,
        visit.device,
        visit.router.store_id,
        code_hash(secret_key, merchant_id, code_id, code),
        float(CODE_TTL),
    )
    rate_limits.check(limits, hits)
    unsure = False
    try:
        await provider.send(
            phone_e164, code_text(lang, visit.portal.brand_name, code), {"code": code}
        )
    except SmsSendUnsure as exc:
        # Alibaba Cloud: after a timeout the text may still arrive; keep the code for it.
        log.warning("sms code %s may not have been sent: %s", code_id, exc.detail)
        unsure = True
    except PorticoError:
        await db.execute(queries.delete_code, merchant_id, code_id)
        raise
    log.info("sms code %s sent for device %s at %s", code_id, visit.device, visit.router.router_id)
    reference = CodeReference(code_id, visit.device, phone_e164)
    return SentCode(seal_reference(secret_key, merchant_id, reference), identity.masked, unsure)


def normalize_code(text: str) -> str:
    """The digits typed (full-width digits and spaces as phone keyboards may give them)."""
    return "".join(unicodedata.normalize("NFKC", text[:64]).split())


async def verify_code(
    db: asyncpg.Pool, secret_key: str, visit: Visit, reference: CodeReference, typed: str
) -> identities.Identity:
    """One attempt at the referenced code from this visit's device. When the code is right the
    number it proved is remembered in the same statement (a verified identity, sealed, linked
    to this device) and returned; else a CodeRefused (or CodeOtherDevice) says why."""
    if reference.device != visit.device:
        raise CodeOtherDevice(f"code {reference.code_id} was sent for another device")
    code = normalize_code(typed)
    if not _CODE.fullmatch(code):
        raise CodeFormat(f"code {reference.code_id}: not {CODE_DIGITS} digits")
    merchant_id = visit.merchant_id
    identity, sealed = identities.sealed_identity(
        secret_key, merchant_id, "phone", reference.phone_e164
    )
    row = await db.fetchrow(
        queries.try_code_and_remember,
        merchant_id,
        reference.code_id,
        visit.device,
        code_hash(secret_key, merchant_id, reference.code_id, code),
        MAX_ATTEMPTS,
        identity.hash,
        sealed,
        identity.masked,
    )
    if row is None:
        raise await _refusal(db, merchant_id, reference.code_id)
    if row["identity_hash"] != identity.hash:
        raise BadCodeReference(f"code {reference.code_id} is not for the referenced number")
    if row["matched"]:
        return identity
    left = MAX_ATTEMPTS - row["attempts"]
    if left <= 0:
        raise CodeLocked(f"code {reference.code_id}: {MAX_ATTEMPTS} wrong attempts")
    raise CodeWrong(f"code {reference.code_id}: wrong, {left} tries left", tries_left=left)


async def _refusal(db: asyncpg.Pool, merchant_id: uuid.UUID, code_id: uuid.UUID) -> PorticoError:
    """Why an attempt found no code to try: used, locked, expired (or already deleted)."""
    state = await db.fetchrow(queries.code_state, merchant_id, code_id)
    if state is None:
        return CodeExpired(f"code {code_id} is gone (expired and deleted)")
    if state["used"]:
        return CodeUsed(f"code {code_id} was used already")
    if state["attempts"] >= MAX_ATTEMPTS:
        return CodeLocked(f"code {code_id}: no attempts left")
    return CodeExpired(f"code {code_id} expired")


async def release_code(db: asyncpg.Pool, merchant_id: uuid.UUID, code_id: uuid.UUID) -> None:
    """The router did not confirm the login a right code led to: let its retry use the code."""
    await db.execute(queries.release_code, merchant_id, code_id)


async def outbox_page(
    db: asyncpg.Pool, merchant_id: uuid.UUID, limit: int, offset: int
) -> list[asyncpg.Record]:
    """The merchant's outbox, newest first."""
    return await db.fetch(queries.outbox_page, merchant_id, limit, offset)


async def outbox_phone(
    db: asyncpg.Pool, secret_key: str, merchant_id: uuid.UUID, message_id: uuid.UUID
) -> str | None:
    """The number (E.164) a text in the merchant's outbox went to; None when no such text is
    there (never one, or deleted after its day)."""
    sealed = await db.fetchval(queries.outbox_phone, merchant_id, message_id)
    return unseal(secret_key, str(merchant_id), bytes(sealed)) if sealed is not None else None
