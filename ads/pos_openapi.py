"""The POS API's OpenAPI 3.1 document, served at /api/pos/v1/openapi.json (ads/pos_api.py):
every endpoint, its body, its answers and each error code an answer can carry. Built here
from the API's own limits and error table (ads/pos_errors.py), so that it cannot drift from
them; tests/ads/test_pos_openapi.py has schemathesis call the running API against it.
"""

from __future__ import annotations

import functools
from typing import Any

from ads import pos_guard, pos_keys, pos_redemption, redemption
from ads.pos_errors import CODES

VERSION = "1.0.0"
MAX_CODE = 512  # characters: a code, or a till link as a scanner types it (ads/redemption.py)
MAX_REFERENCE = 100  # characters of a POS reference (migration 0025)
MAX_IDEMPOTENCY_KEY = 255
# What a POS reference may hold: no control characters (the API also refuses lone surrogates).
REFERENCE_PATTERN = "^[^\\u0000-\\u001f\\u007f-\\u009f]+$"
IDEMPOTENCY_PATTERN = "^[!-~]{1,255}$"  # printable ASCII, no spaces

Json = dict[str, Any]

# Errors every authenticated endpoint may answer, by status.
_COMMON: dict[int, tuple[str, ...]] = {
    400: ("bad_request",),
    401: ("key_missing", "key_invalid", "key_revoked"),
    403: ("merchant_suspended",),
    413: ("body_too_large",),
    415: ("unsupported_media_type",),
    429: ("too_many_refusals",),
}
_ERROR_TEXT = {
    400: "The body, a header or a parameter is not what this document says.",
    401: "No API key, an unknown one, or a revoked one.",
    403: "The API key's merchant is suspended by Portico (until it is unsuspended), or the "
    "key is limited to another store.",
    404: "Not this merchant's (another merchant's codes are simply unknown).",
    409: "The code, lock or redemption is not in a state that allows this.",
    410: "The coupon has expired.",
    413: "The body is larger than 4 KiB.",
    415: "The body is not sent as application/json.",
    422: "The request matches this document, but a value in it cannot be taken: a code that "
    "is mistyped (its check symbol), a store that is not the merchant's, an Idempotency-Key "
    "used before for another request.",
    429: "Too many refused codes from this key or address: wait Retry-After seconds.",
}


def _ref(name: str) -> Json:
    return {"$ref": f"#/components/schemas/{name}"}


def _error_schema(codes: tuple[str, ...]) -> Json:
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "additionalProperties": False,
                "required": ["code", "message"],
                "properties": {
                    "code": {"type": "string", "enum": list(codes)},
                    "message": {"type": "string", "description": "For a person to read."},
                },
            }
        },
    }


def _responses(ok: Json, ok_text: str, errors: dict[int, tuple[str, ...]]) -> Json:
    """The operation's 200 (`ok`) and its errors by status, the common ones included."""
    responses: Json = {
        "200": {"description": ok_text, "content": {"application/json": {"schema": ok}}}
    }
    statuses = dict(_COMMON)
    for status, codes in errors.items():
        statuses[status] = statuses.get(status, ()) + codes
    for status in sorted(statuses):
        answer: Json = {
            "description": _ERROR_TEXT[status] + " Codes: " + ", ".join(statuses[status]) + ".",
            "content": {"application/json": {"schema": _error_schema(statuses[status])}},
        }
        if status == 429:
            answer["headers"] = {
                "Retry-After": {
                    "description": "Seconds until the key or address may try again.",
                    "required": True,
                    "schema": {"type": "string", "pattern": "^[0-9]+$"},
                }
            }
        responses[str(status)] = answer
    return responses


def _body(schema: Json, required: bool = True) -> Json:
    return {"required": required, "content": {"application/json": {"schema": schema}}}


def _object(properties: Json, required: tuple[str, ...] = ()) -> Json:
    schema: Json = {"type": "object", "additionalProperties": False, "properties": properties}
    if required:
        schema["required"] = list(required)
    return schema


def _nullable(schema: Json) -> Json:
    return {"oneOf": [schema, {"type": "null"}]}


_UUID: Json = {"type": "string", "format": "uuid"}
_TIME: Json = {"type": "string", "format": "date-time"}
_CODE_IN: Json = {
    "type": "string",
    "maxLength": MAX_CODE,
    "description": "The shopper's code as typed or scanned: case, dashes, spaces and the "
    "look-alikes O, I, L do not matter; a scanned till link gives its code.",
    "examples": ["7KQ2-M9XD-4TR"],
}
_CODE_OUT: Json = {
    "type": "string",
    "pattern": "^([0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z*~$=]{3}|[0-9A-Z]{4,10}|[0-9A-Z]{12,32})$",
    "description": "The code in its canonical form: one of Portico's (`XXXX-XXXX-XXX`), or one "
    "of the merchant's own imported codes (4 to 32 letters and digits, not 11: upper case, "
    "without dashes or spaces).",
}
_REFERENCE: Json = {
    "type": "string",
    "minLength": 1,
    "maxLength": MAX_REFERENCE,
    "pattern": REFERENCE_PATTERN,
    "description": "The POS's own reference of the sale (a receipt number), kept with it.",
}
_REASON: Json = _nullable(
    _object(
        {
            "code": {
                "type": "string",
                "enum": ["code_redeemed", "code_expired", "code_locked", "code_void"],
            },
            "message": {"type": "string"},
        },
        ("code", "message"),
    )
)

SCHEMAS: dict[str, Json] = {
    "CodeStatus": _object(
        {
            "code": _CODE_OUT,
            "title": {"type": "string", "description": "The coupon, in Accept-Language."},
            "state": {
                "type": "string",
                "enum": ["claimed", "locked", "redeemed", "expired", "void", "rolled_back"],
            },
            "valid_until": _TIME,
            "redeemable": {"type": "boolean"},
            "reason": _REASON,
            "locked_until": _nullable(_TIME),
            "redemption_id": _nullable(_UUID),
            "redeemed_at": _nullable(_TIME),
        },
        (
            "code",
            "title",
            "state",
            "valid_until",
            "redeemable",
            "reason",
            "locked_until",
            "redemption_id",
            "redeemed_at",
        ),
    ),
    "Lock": _object(
        {
            "lock_id": _UUID,
            "code": _CODE_OUT,
            "store_id": _nullable(_UUID),
            "pos_reference": _nullable(_REFERENCE),
            "expires_at": _TIME,
        },
        ("lock_id", "code", "store_id", "pos_reference", "expires_at"),
    ),
    "Released": _object(
        {"lock_id": _UUID, "code": _CODE_OUT, "state": {"const": "claimed"}},
        ("lock_id", "code", "state"),
    ),
    "Redemption": _object(
        {
            "redemption_id": _UUID,
            "code": _CODE_OUT,
            "title": {"type": "string"},
            "store_id": _UUID,
            "state": {"type": "string", "enum": ["redeemed", "rolled_back"]},
            "redeemed_at": _TIME,
            "undo_until": _TIME,
            "rolled_back_at": _nullable(_TIME),
            "pos_reference": _nullable(_REFERENCE),
        },
        (
            "redemption_id",
            "code",
            "title",
            "store_id",
            "state",
            "redeemed_at",
            "undo_until",
            "rolled_back_at",
            "pos_reference",
        ),
    ),
    "Rollback": _object(
        {
            "redemption_id": _UUID,
            "code": _CODE_OUT,
            "rolled_back_at": _TIME,
            "code_state": {"const": "claimed"},
        },
        ("redemption_id", "code", "rolled_back_at", "code_state"),
    ),
}

_LOCK_MINUTES = int(pos_redemption.LOCK_TIME.total_seconds() // 60)
_UNDO_MINUTES = int(redemption.UNDO_WINDOW.total_seconds() // 60)
_CODE_REFUSED = ("code_not_claimed", "code_redeemed", "code_locked", "code_void")


def _post(
    operation_id: str,
    summary: str,
    body: Json,
    responses: Json,
    *,
    description: str = "",
    parameters: tuple[Json, ...] = (),
) -> Json:
    operation: Json = {"operationId": operation_id, "summary": summary}
    if description:
        operation["description"] = description
    if parameters:
        operation["parameters"] = list(parameters)
    return {"post": operation | {"requestBody": body, "responses": responses}}


_STORE_IN: Json = {
    **_UUID,
    "description": "The merchant's store; a key limited to a store acts for it only.",
}
_IDEMPOTENCY_KEY: Json = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": True,
    "description": "Unique to this sale, e.g. a UUID (1-255 printable ASCII characters).",
    "schema": {
        "type": "string",
        "minLength": 1,
        "maxLength": MAX_IDEMPOTENCY_KEY,
        "pattern": IDEMPOTENCY_PATTERN,
    },
}
_NO_BODY = _body(_object({}), required=False)


def _operations() -> Json:
    return {
        "/codes/validate": _post(
            "validateCode",
            "Check a code: its coupon, its state, and whether it can be redeemed",
            _body(_object({"code": _CODE_IN}, ("code",))),
            _responses(
                _ref("CodeStatus"),
                "A code given to a shopper; `reason` says why it cannot be redeemed now.",
                {404: ("code_unknown",), 409: ("code_not_claimed",), 422: ("code_mistyped",)},
            ),
        ),
        "/codes/lock": _post(
            "lockCode",
            f"Lock a code for {_LOCK_MINUTES} minutes while the sale goes through",
            _body(
                _object(
                    {"code": _CODE_IN, "store_id": _STORE_IN, "pos_reference": _REFERENCE},
                    ("code",),
                )
            ),
            _responses(
                _ref("Lock"),
                "The lock: redeem it with its lock_id before expires_at.",
                {
                    403: ("store_not_allowed",),
                    404: ("code_unknown",),
                    409: _CODE_REFUSED,
                    410: ("code_expired",),
                    422: ("code_mistyped", "store_unknown"),
                },
            ),
            description="Nobody else (another POS, the console's till) can lock or redeem the "
            "code until the lock is redeemed, released or runs out.",
        ),
        "/locks/{lock_id}/release": _post(
            "releaseLock",
            "End a lock early (the sale was cancelled): the code is claimed again",
            _NO_BODY,
            _responses(
                _ref("Released"),
                "Released.",
                {
                    404: ("lock_unknown",),
                    409: ("lock_ended", "code_redeemed"),
                    410: ("code_expired",),
                },
            ),
            parameters=(_path_id("lock_id"),),
        ),
        "/codes/redeem": _post(
            "redeemCode",
            "Redeem a code, or the code of a lock, once",
            _body(
                {
                    **_object(
                        {
                            "code": _CODE_IN,
                            "lock_id": {**_UUID, "description": "A current lock's id."},
                            "store_id": _STORE_IN,
                            "pos_reference": _REFERENCE,
                        },
                        ("store_id",),
                    ),
                    "oneOf": [{"required": ["code"]}, {"required": ["lock_id"]}],
                    "description": "`code` or `lock_id`, not both, and the store where the code "
                    "is redeemed.",
                }
            ),
            _redeem_responses(),
            description="Idempotent: the same request again with the same Idempotency-Key "
            "gets the same redemption (200, header Idempotent-Replayed: true); another code "
            "under a used key is a 422, another key for a redeemed code a 409.",
            parameters=(_IDEMPOTENCY_KEY,),
        ),
        "/redemptions/{redemption_id}/rollback": _post(
            "rollbackRedemption",
            f"Roll a redemption back within {_UNDO_MINUTES} minutes",
            _NO_BODY,
            _responses(
                _ref("Rollback"),
                "Rolled back.",
                {
                    404: ("redemption_unknown",),
                    409: ("rollback_too_late", "already_rolled_back"),
                },
            ),
            description="The code is claimed again and can be redeemed anew.",
            parameters=(_path_id("redemption_id"),),
        ),
    }


def _redeem_responses() -> Json:
    responses = _responses(
        _ref("Redemption"),
        "Redeemed (or, under a used Idempotency-Key, the redemption made then).",
        {
            403: ("store_not_allowed",),
            404: ("code_unknown", "lock_unknown"),
            409: (*_CODE_REFUSED, "lock_ended"),
            410: ("code_expired",),
            422: ("code_mistyped", "store_unknown", "idempotency_key_reused"),
        },
    )
    responses["200"]["headers"] = {
        "Idempotent-Replayed": {
            "description": "true when this redemption was made by an earlier request.",
            "required": True,
            "schema": {"type": "string", "enum": ["true", "false"]},
        }
    }
    return responses


def _path_id(name: str) -> Json:
    return {"name": name, "in": "path", "required": True, "schema": _UUID}


@functools.cache
def document() -> Json:
    """The OpenAPI 3.1 document of the POS API (server: /api/pos/v1)."""
    codes = sorted(CODES.values())
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Portico POS redemption API",
            "version": VERSION,
            "description": (
                "Point-of-sale systems check, lock, redeem and roll back shoppers' coupon "
                "codes (docs/coupons.md). Authenticate with a merchant's API key, made by an "
                "owner in the console: `Authorization: Bearer pos_…`. Bodies are JSON of at "
                "most 4 KiB; unknown fields are refused. Every error is "
                '`{"error": {"code": ..., "message": ...}}`, the message in Accept-Language '
                f"(zh-CN or en). Error codes: {', '.join(codes)}. A key or client address "
                f"with {pos_guard.KEY_REFUSALS} refused codes (mistyped, unknown, never given "
                f"out, unknown lock or redemption) in {pos_guard.REFUSAL_WINDOW // 60} minutes "
                "is answered 429 until the window ends. The keys of a merchant suspended by "
                "Portico are answered 403 merchant_suspended, and nothing is done, until the "
                "suspension ends."
            ),
        },
        "servers": [{"url": "/api/pos/v1"}],
        "security": [{"posApiKey": []}],
        "paths": _operations(),
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "posApiKey": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": f"A merchant's POS API key, `{pos_keys.KEY_START}` and 43 "
                    "characters.",
                }
            },
        },
    }
