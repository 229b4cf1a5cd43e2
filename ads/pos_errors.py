"""The POS API's errors: those of a request itself (its key, its body), and the stable `code`
each error has in the API's JSON answers, `{"error": {"code": ..., "message": ...}}`.
ads/pos_api.py answers with them and ads/pos_openapi.py documents them.
"""

from __future__ import annotations

from ads import pos_guard, pos_redemption, redemption
from kernel.errors import PorticoError


class BadRequest(PorticoError):
    """A body or parameter that is not what the endpoint takes; `problem` says what."""

    message_id = "pos_error_bad_request"
    status = 400

    def __init__(self, problem: str) -> None:
        super().__init__(problem, problem=problem)


class BodyTooLarge(PorticoError):
    message_id = "pos_error_body_too_large"
    status = 413


class NotJson(PorticoError):
    message_id = "pos_error_not_json"
    status = 415


class KeyMissing(PorticoError):
    message_id = "pos_error_key_missing"
    status = 401


class KeyInvalid(PorticoError):
    message_id = "pos_error_key_invalid"
    status = 401


class KeyRevoked(PorticoError):
    message_id = "pos_error_key_revoked"
    status = 401


class MerchantSuspended(PorticoError):
    """The key's merchant is suspended by the platform (docs/console.md, "A suspended
    merchant"): its keys act for nobody until the suspension ends."""

    message_id = "pos_error_merchant_suspended"
    status = 403


class NotFound(PorticoError):
    message_id = "pos_error_not_found"
    status = 404


class MethodNotAllowed(PorticoError):
    message_id = "pos_error_method_not_allowed"
    status = 405


class ServerError(PorticoError):
    message_id = "pos_error_server"
    status = 500


CODES: dict[type[PorticoError], str] = {
    BadRequest: "bad_request",
    BodyTooLarge: "body_too_large",
    NotJson: "unsupported_media_type",
    KeyMissing: "key_missing",
    KeyInvalid: "key_invalid",
    KeyRevoked: "key_revoked",
    MerchantSuspended: "merchant_suspended",
    NotFound: "not_found",
    MethodNotAllowed: "method_not_allowed",
    ServerError: "server_error",
    pos_guard.HeldBack: "too_many_refusals",
    redemption.CodeMistyped: "code_mistyped",
    redemption.CodeUnknown: "code_unknown",
    redemption.CodeNotClaimed: "code_not_claimed",
    redemption.CodeAlreadyRedeemed: "code_redeemed",
    redemption.CodeExpired: "code_expired",
    redemption.CodeVoid: "code_void",
    redemption.CodeLocked: "code_locked",
    redemption.UndoTooLate: "rollback_too_late",
    pos_redemption.LockUnknown: "lock_unknown",
    pos_redemption.LockEnded: "lock_ended",
    pos_redemption.RedemptionUnknown: "redemption_unknown",
    pos_redemption.AlreadyRolledBack: "already_rolled_back",
    pos_redemption.IdempotencyKeyReused: "idempotency_key_reused",
    pos_redemption.StoreUnknown: "store_unknown",
    pos_redemption.StoreNotAllowed: "store_not_allowed",
}


# The API answers 400 only for a request that does not match its OpenAPI document; a code
# whose check symbol is wrong matches it (no schema can say which codes exist), so it is a 422
# here, while the console's till says 400.
STATUSES: dict[type[PorticoError], int] = {redemption.CodeMistyped: 422}


def status_of(error: PorticoError) -> int:
    return STATUSES.get(type(error), error.status)
