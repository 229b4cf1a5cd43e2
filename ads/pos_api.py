"""The POS redemption API, /api/pos/v1 on the console (docs/coupons.md, "POS API"; its
OpenAPI document: ads/pos_openapi.py, served at /api/pos/v1/openapi.json).

A sub-application that the composition root mounts on the console: JSON in and out, every
error `{"error": {"code": ..., "message": ...}}` with its status (ads/pos_errors.py), never a
page or a traceback. A request authenticates with `Authorization: Bearer <key>`
(ads/pos_keys.py) and acts for that key's merchant; the console's cookie and CSRF token play
no part. A suspended merchant's keys are refused (403 merchant_suspended) before anything is
read or changed. Every body and parameter is checked before use: at most MAX_BODY bytes of UTF-8
JSON, an object with known fields of the right types; anything else is a 4xx that says what.
Refused codes are counted per key and address (ads/pos_guard.py).
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any

import asyncpg
from aiohttp import web

from ads import messages, pos_guard, pos_keys, pos_openapi, pos_redemption, redemption
from ads.pos_errors import (
    CODES,
    BadRequest,
    BodyTooLarge,
    KeyInvalid,
    KeyMissing,
    KeyRevoked,
    MerchantSuspended,
    MethodNotAllowed,
    NotFound,
    NotJson,
    ServerError,
    status_of,
)
from kernel.errors import PorticoError
from kernel.i18n import negotiate, translator
from kernel.logs import Throttled
from kernel.shopper_events import SHOPPER_EVENTS
from kernel.web import DB, SETTINGS, Handler, client_ip, returned

log = logging.getLogger("portico.ads.pos")
_bad_keys = Throttled(log, every=60.0)

PREFIX = "/api/pos/v1"
MAX_BODY = 4096  # bytes: the largest body is a code of 512 characters and a few ids
COUNTERS = web.AppKey("pos_refusal_counters", pos_guard.RefusalCounters)
CATALOG = {**messages.CONSOLE, **messages.POS_API}
_IDEMPOTENCY_KEY = re.compile(pos_openapi.IDEMPOTENCY_PATTERN.strip("^$"))
_NOT_IN_REFERENCE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_NO_STORE = {"Cache-Control": "no-store"}

Operation = Callable[[web.Request, pos_guard.Caller], Awaitable[web.Response]]


def make_app(counters: pos_guard.RefusalCounters) -> web.Application:
    """The API's sub-application: the composition root mounts it at PREFIX on the console
    (where DB and SETTINGS are) and gives it the refused-code counters."""
    app = web.Application(middlewares=[json_errors])
    app[COUNTERS] = counters
    app.router.add_get("/openapi.json", openapi_document)
    app.router.add_post("/codes/validate", authenticated(validate))
    app.router.add_post("/codes/lock", authenticated(lock))
    app.router.add_post("/locks/{lock_id}/release", authenticated(release))
    app.router.add_post("/codes/redeem", authenticated(redeem))
    app.router.add_post("/redemptions/{redemption_id}/rollback", authenticated(rollback))
    return app


# -- the endpoints ----------------------------------------------------------------------------


async def openapi_document(request: web.Request) -> web.Response:
    return web.json_response(pos_openapi.document())


async def validate(request: web.Request, caller: pos_guard.Caller) -> web.Response:
    body = await read_body(request, allowed={"code"})
    code = text_field(body, "code", pos_openapi.MAX_CODE, required=True)
    assert code is not None
    language = _language(request)
    status = await redemption.check_code(_db(request), caller.key.merchant_id, code, language)
    if status.state == "available":
        raise redemption.CodeNotClaimed(f"code {status.code} was never claimed")
    reason = None
    if not status.redeemable:
        why = redemption.why_not_redeemable(status)
        reason = {"code": CODES[type(why)], "message": _message(why, language)}
    return _ok(
        {
            "code": status.code,
            "title": status.title,
            "state": status.state,
            "valid_until": _time(status.valid_until),
            "redeemable": status.redeemable,
            "reason": reason,
            "locked_until": _time(status.locked_until),
            "redemption_id": _id(status.redemption_id),
            "redeemed_at": _time(status.redeemed_at),
        }
    )


async def lock(request: web.Request, caller: pos_guard.Caller) -> web.Response:
    body = await read_body(request, allowed={"code", "store_id", "pos_reference"})
    code = text_field(body, "code", pos_openapi.MAX_CODE, required=True)
    assert code is not None
    asked_store, pos_reference = uuid_field(body, "store_id"), reference_field(body)
    db = _db(request)
    store_id = await pos_redemption.acting_store(db, caller.key, asked_store)
    made = await pos_redemption.lock(
        db, caller.key, code, store_id=store_id, pos_reference=pos_reference
    )
    return _ok(
        {
            "lock_id": str(made.lock_id),
            "code": made.code,
            "store_id": _id(made.store_id),
            "pos_reference": made.pos_reference,
            "expires_at": _time(made.expires_at),
        }
    )


async def release(request: web.Request, caller: pos_guard.Caller) -> web.Response:
    lock_id = _path_uuid(request, "lock_id")
    await read_body(request, allowed=set(), required=False)
    code = await pos_redemption.release(_db(request), caller.key, lock_id)
    return _ok({"lock_id": str(lock_id), "code": code, "state": "claimed"})


async def redeem(request: web.Request, caller: pos_guard.Caller) -> web.Response:
    idempotency_key = request.headers.get("Idempotency-Key")
    if idempotency_key is None or not _IDEMPOTENCY_KEY.fullmatch(idempotency_key):
        raise BadRequest("the Idempotency-Key header must be 1-255 printable ASCII characters")
    body = await read_body(request, allowed={"code", "lock_id", "store_id", "pos_reference"})
    code = text_field(body, "code", pos_openapi.MAX_CODE)
    lock_id = uuid_field(body, "lock_id")
    if (code is None) == (lock_id is None):
        raise BadRequest("give either code or lock_id")
    asked_store = uuid_field(body, "store_id", required=True)
    pos_reference = reference_field(body)
    db = _db(request)
    store_id = await pos_redemption.acting_store(db, caller.key, asked_store)
    assert store_id is not None
    done = await pos_redemption.redeem(
        db,
        caller.key,
        typed=code,
        lock_id=lock_id,
        store_id=store_id,
        pos_reference=pos_reference,
        idempotency_key=idempotency_key,
        language=_language(request),
        on_events=request.config_dict.get(SHOPPER_EVENTS),  # the console's, the parent app
    )
    response = _ok(
        {
            "redemption_id": str(done.redemption_id),
            "code": done.code,
            "title": done.title,
            "store_id": str(done.store_id),
            "state": "redeemed" if done.rolled_back_at is None else "rolled_back",
            "redeemed_at": _time(done.redeemed_at),
            "undo_until": _time(done.undo_until),
            "rolled_back_at": _time(done.rolled_back_at),
            "pos_reference": done.pos_reference,
        }
    )
    response.headers["Idempotent-Replayed"] = "true" if done.replayed else "false"
    return response


async def rollback(request: web.Request, caller: pos_guard.Caller) -> web.Response:
    redemption_id = _path_uuid(request, "redemption_id")
    await read_body(request, allowed=set(), required=False)
    done = await pos_redemption.rollback(_db(request), caller.key, redemption_id)
    return _ok(
        {
            "redemption_id": str(done.redemption_id),
            "code": done.code,
            "rolled_back_at": _time(done.rolled_back_at),
            "code_state": "claimed",
        }
    )


# -- the key, and refused codes ---------------------------------------------------------------


def authenticated(operation: Operation) -> Handler:
    """Run `operation` for the request's key, unless its key or address is held back; count
    the codes it refuses (ads/pos_guard.py)."""

    async def handler(request: web.Request) -> web.Response:
        caller = pos_guard.Caller(await _key(request), client_ip(request))
        counters = request.config_dict[COUNTERS]
        await pos_guard.check(counters, caller)
        try:
            return await operation(request, caller)
        except pos_guard.GUESSES:
            await pos_guard.count_refusal(counters, caller)
            raise

    return handler


async def _key(request: web.Request) -> pos_keys.PosKey:
    header = request.headers.get("Authorization")
    if not header:
        raise KeyMissing("no Authorization header")
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        raise KeyMissing(f"Authorization scheme {scheme[:20]!r}, not Bearer")
    secret_key = request.config_dict[SETTINGS].secret_key
    found = await pos_keys.authenticate(_db(request), secret_key, token.strip())
    if found is None:
        _bad_keys.warning("POS API: an unknown API key from %s", client_ip(request))
        raise KeyInvalid("unknown API key")
    if found.revoked:
        raise KeyRevoked(f"API key {found.key.key_id} was revoked")
    if found.suspended:
        raise MerchantSuspended(f"merchant {found.key.merchant_id} is suspended")
    return found.key


# -- reading requests ---------------------------------------------------------------------------


async def read_body(
    request: web.Request, *, allowed: set[str], required: bool = True
) -> Mapping[str, Any]:
    """The body: a JSON object of at most MAX_BODY bytes of UTF-8 with only `allowed` fields.
    An empty body is an empty object when the endpoint needs none."""
    raw = await _read_limited(request)
    if not raw and not required:
        return {}
    if request.content_type != "application/json":
        raise NotJson(f"Content-Type {request.content_type[:60]!r}")
    try:
        body = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise BadRequest("the body is not UTF-8") from None
    except (ValueError, RecursionError):
        raise BadRequest("the body is not JSON") from None
    if not isinstance(body, dict):
        raise BadRequest("the body is not a JSON object")
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise BadRequest(f"unknown field {unknown[0][:40]!r}")
    return body


async def _read_limited(request: web.Request) -> bytes:
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise BodyTooLarge(f"Content-Length {request.content_length}")
    chunks: list[bytes] = []
    size = 0
    while chunk := await request.content.read(MAX_BODY + 1 - size):
        chunks.append(chunk)
        size += len(chunk)
        if size > MAX_BODY:
            raise BodyTooLarge(f"more than {MAX_BODY} bytes")
    return b"".join(chunks)


def text_field(
    body: Mapping[str, Any], name: str, max_length: int, *, required: bool = False
) -> str | None:
    value = body.get(name)
    if value is None:
        if required:
            raise BadRequest(f"{name} is required")
        return None
    if not isinstance(value, str) or len(value) > max_length:
        raise BadRequest(f"{name} must be a string of at most {max_length} characters")
    return value


def uuid_field(body: Mapping[str, Any], name: str, *, required: bool = False) -> uuid.UUID | None:
    value = body.get(name)
    if value is None:
        if required:
            raise BadRequest(f"{name} is required")
        return None
    return _uuid(value, name)


def reference_field(body: Mapping[str, Any]) -> str | None:
    value = text_field(body, "pos_reference", pos_openapi.MAX_REFERENCE)
    if value is not None and (not value or _NOT_IN_REFERENCE.search(value)):
        raise BadRequest("pos_reference must be 1-100 characters without control characters")
    return value


def _path_uuid(request: web.Request, name: str) -> uuid.UUID:
    return _uuid(request.match_info[name], name)


def _uuid(value: object, name: str) -> uuid.UUID:
    if not isinstance(value, str) or len(value) != 36:
        raise BadRequest(f"{name} must be a UUID")
    try:
        return uuid.UUID(value)
    except ValueError:
        raise BadRequest(f"{name} must be a UUID") from None


# -- answers ------------------------------------------------------------------------------------


def _ok(body: dict[str, Any]) -> web.Response:
    return web.json_response(body, headers=_NO_STORE)


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _id(value: uuid.UUID | None) -> str | None:
    return str(value) if value is not None else None


def _db(request: web.Request) -> asyncpg.Pool:
    return request.config_dict[DB]


def _language(request: web.Request) -> str:
    return negotiate(request.headers.get("Accept-Language"))


def _message(error: PorticoError, language: str) -> str:
    return translator(CATALOG, language)(error.message_id, **error.values)


def error_response(request: web.Request, error: PorticoError) -> web.Response:
    body = {"error": {"code": CODES[type(error)], "message": _message(error, _language(request))}}
    response = web.json_response(body, status=status_of(error), headers=_NO_STORE)
    if isinstance(error, KeyMissing | KeyInvalid | KeyRevoked):
        response.headers["WWW-Authenticate"] = 'Bearer realm="portico-pos"'
    if isinstance(error, pos_guard.HeldBack):
        response.headers["Retry-After"] = str(error.retry_after)
    return response


_HTTP_ERRORS: dict[int, type[PorticoError]] = {
    404: NotFound,
    405: MethodNotAllowed,
    413: BodyTooLarge,
}


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every failure as the API's JSON error; anything unexpected logged and a 500."""
    try:
        return await handler(request)
    except PorticoError as exc:
        if type(exc) not in CODES:
            log.exception("POS API %s %s: an error it does not know", request.method, request.path)
            return error_response(request, ServerError())
        if exc.status >= 500:
            log.error("POS API %s %s: %s", request.method, request.path, exc)
        return error_response(request, exc)
    except web.HTTPException as exc:
        if exc.status < 400:  # returned, not raised on: see kernel.web.returned
            return returned(exc)
        known = _HTTP_ERRORS.get(exc.status)
        answer = error_response(request, known(exc.reason) if known else BadRequest(exc.reason))
        if "Allow" in exc.headers:
            answer.headers["Allow"] = exc.headers["Allow"]
        return answer
    except Exception:
        log.exception("POS API %s %s failed", request.method, request.path)
        return error_response(request, ServerError())
