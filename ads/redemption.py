"""Coupons redeemed at the till: staff check a shopper's code, redeem it once, and may undo a
redemption within UNDO_WINDOW (a sale cancelled at the till: the code can be used again).

The console's till page is ads/redemption_page.py. Every function takes the merchant the
caller is acting for: a code of another merchant is simply unknown here.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import parse_qs, urlencode, urlsplit

import asyncpg

from accounts import audit
from ads import codes
from ads.services import queries, void_code
from kernel.errors import PorticoError
from kernel.shopper_events import OnShopperEvents, ShopperEvent, event_id

UNDO_WINDOW = timedelta(minutes=10)
TILL_PATH = "/till"  # the console page (ads/redemption_page.py)


class CodeMistyped(PorticoError):
    """Not a code at all (length, symbols) or its check symbol does not match: a typo."""

    message_id = "red_error_mistyped"
    status = 400


class CodeUnknown(PorticoError):
    message_id = "red_error_unknown"
    status = 404


class CodeNotClaimed(PorticoError):
    """A real code that no shopper claimed: it was never given out."""

    message_id = "red_error_not_claimed"
    status = 409


class CodeAlreadyRedeemed(PorticoError):
    message_id = "red_error_redeemed"
    status = 409


class CodeExpired(PorticoError):
    message_id = "red_error_expired"
    status = 410


class CodeVoid(PorticoError):
    message_id = "red_error_void"
    status = 409


class CodeLocked(PorticoError):
    """Locked by a POS while its sale goes through (ads/pos_redemption.py): nobody else may
    redeem it until the lock ends."""

    message_id = "red_error_locked"
    status = 409


class UndoTooLate(PorticoError):
    message_id = "red_error_undo_late"
    status = 409


@dataclass(frozen=True)
class CodeStatus:
    code: str
    title: str
    state: str  # available, claimed, locked, redeemed, void…
    valid_until: datetime
    expired: bool
    locked_until: datetime | None  # while locked: when the lock ends
    redemption_id: uuid.UUID | None  # its redemption, when redeemed
    redeemed_at: datetime | None
    undoable: bool  # redeemed less than UNDO_WINDOW ago

    @property
    def redeemable(self) -> bool:
        return self.state == "claimed" and not self.expired


@dataclass(frozen=True)
class Redemption:
    redemption_id: uuid.UUID
    code: str
    redeemed_at: datetime


def till_link(console_url: str, code: str) -> str:
    """What a coupon's QR code holds: the till page with the code, so staff who scan it with a
    phone's camera land on it, checked (after signing in); a scanner that types what it reads
    into the till's field gives the same code (read_code)."""
    return f"{console_url.rstrip('/')}{TILL_PATH}?{urlencode({'code': code})}"


def read_code(typed: str) -> str:
    """The canonical code typed or scanned at the till (the code, or its till link), or
    CodeMistyped. A merchant's own imported codes (ads/codes.py, imported_form) are read as
    they are; 11 symbols are always one of ours, so their typos stay typos."""
    text = typed.strip()[:512]
    if "code=" in text:  # a till link, as a scanner types it
        text = parse_qs(urlsplit(text).query).get("code", [""])[0]
    code = codes.normalize(text[:64]) or codes.imported_form(text[:64])
    if code is None:  # neither one of ours (11 symbols, right check) nor a merchant's own
        raise CodeMistyped(f"not a coupon code: {len(typed)} characters")
    return code


async def check_code(
    db: asyncpg.Pool, merchant_id: uuid.UUID, typed: str, language: str
) -> CodeStatus:
    """What the till shows before it redeems: the coupon and whether it can be redeemed."""
    code = read_code(typed)
    row = await db.fetchrow(queries.code_status, merchant_id, code, UNDO_WINDOW.total_seconds())
    if row is None:
        if codes.normalize(code) is None:  # not one of ours, and no import of the merchant
            raise CodeMistyped(f"not a coupon code here: {len(code)} characters")
        raise CodeUnknown(f"merchant {merchant_id} has no code {code}")
    return CodeStatus(
        code=code,
        title=row["title_zh"] if language == "zh-CN" else row["title_en"],
        state=row["state"],
        valid_until=row["valid_until"],
        expired=row["expired"],
        locked_until=row["locked_until"] if row["state"] == "locked" else None,
        redemption_id=row["redemption_id"],
        redeemed_at=row["redeemed_at"],
        undoable=bool(row["undoable"]),
    )


async def redeem(
    db: asyncpg.Pool,
    merchant_id: uuid.UUID,
    typed: str,
    *,
    store_id: uuid.UUID,
    user_id: uuid.UUID,
    on_events: OnShopperEvents | None = None,
) -> Redemption:
    """Redeem a claimed, unexpired code once (two tills at once: one wins, the other is told
    it was redeemed); anything else raises why it cannot be. The redemption is told to
    `on_events` in its transaction."""
    code = read_code(typed)
    args = (
        merchant_id,
        code,
        None,  # no POS lock
        uuid.uuid4(),
        store_id,
        None,  # no API key: the console user below
        user_id,
        None,  # no idempotency key
        None,  # no POS reference
    )
    row = await redeem_row(db, args, on_events)
    if row is not None:
        return Redemption(row["redemption_id"], code, row["redeemed_at"])
    raise why_not_redeemable(await check_code(db, merchant_id, code, "en"))


async def redeem_row(
    db: asyncpg.Pool, args: Sequence[object], on_events: OnShopperEvents | None
) -> asyncpg.Record | None:
    """queries.redeem_code with `args` (its row, or None); a new redemption of a code a
    shopper's device claimed is told to `on_events` in the same transaction (a replayed POS
    request, which finds its earlier redemption, tells nothing)."""
    if on_events is None:
        return await db.fetchrow(queries.redeem_code, *args)
    async with db.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(queries.redeem_code, *args)
        if row is not None and not row["replayed"] and row["device_hash"]:
            merchant_id = args[0]
            assert isinstance(merchant_id, uuid.UUID)
            event = ShopperEvent(
                merchant_id,
                "redemption",
                event_id("redemption", merchant_id, row["redemption_id"]),
                row["device_hash"],
                row["store_id"],
                row["redeemed_at"],
                {"coupon_id": str(row["coupon_id"])},
            )
            await on_events(conn, [event])
    return row


def why_not_redeemable(status: CodeStatus) -> PorticoError:
    """The error that says why a code that could not be redeemed (or locked) cannot be."""
    code = status.code
    if status.state == "redeemed":
        return CodeAlreadyRedeemed(
            f"code {code} was redeemed at {status.redeemed_at}",
            when=status.redeemed_at.isoformat(timespec="minutes") if status.redeemed_at else "",
        )
    if status.expired:
        return CodeExpired(f"code {code} expired at {status.valid_until}")
    if status.state == "available":
        return CodeNotClaimed(f"code {code} was never claimed")
    if status.state == "locked":
        return CodeLocked(f"code {code} is locked until {status.locked_until}")
    return CodeVoid(f"code {code} is {status.state}")


async def undo(
    db: asyncpg.Pool,
    merchant_id: uuid.UUID,
    redemption_id: uuid.UUID,
    *,
    user_id: uuid.UUID,
    store_name: str = "",
) -> str:
    """Roll a redemption back within UNDO_WINDOW; the code, claimed again. The audit log
    records it (`coupon.undo`, by `user_id` at the till of `store_name`) in the same
    transaction."""
    async with db.acquire() as conn, conn.transaction():
        code = await conn.fetchval(
            queries.undo_redemption,
            merchant_id,
            redemption_id,
            UNDO_WINDOW.total_seconds(),
            user_id,
            None,
            None,
        )
        if code is None:
            raise UndoTooLate(f"redemption {redemption_id}: not found, undone, or too old")
        await _record_till_change(conn, merchant_id, user_id, "coupon.undo", code, store_name)
    return code


async def void(db: asyncpg.Pool, merchant_id: uuid.UUID, code: str, *, user_id: uuid.UUID) -> None:
    """An owner voids a code not yet redeemed (ads.services.void_code; VoidRefused when it
    cannot be), with its audit entry (`coupon.void`) in the same transaction."""
    async with db.acquire() as conn, conn.transaction():
        await void_code(conn, merchant_id, code, user_id)
        await _record_till_change(conn, merchant_id, user_id, "coupon.void", code)


async def _record_till_change(
    conn: asyncpg.Connection,
    merchant_id: uuid.UUID,
    user_id: uuid.UUID,
    action: str,
    code: str,
    store_name: str = "",
) -> None:
    """The audit log's entry of a change made at the till. The code is named by its last four
    characters only: the whole code is the shopper's coupon."""
    await audit.record_change(
        conn,
        merchant_id,
        audit.Actor.user(user_id),
        action,
        target_id="",
        target_name=f"…{code[-4:]}",
        after={"store": store_name} if store_name else None,
    )


@dataclass(frozen=True)
class TillLine:
    redemption_id: uuid.UUID
    code: str
    title: str
    redeemed_at: datetime
    undone: bool
    undoable: bool


async def recent_at_store(
    db: asyncpg.Pool, merchant_id: uuid.UUID, store_id: uuid.UUID, language: str, limit: int = 20
) -> list[TillLine]:
    """The store's latest redemptions, newest first (the till page's list)."""
    rows = await db.fetch(
        queries.recent_redemptions, merchant_id, store_id, limit, UNDO_WINDOW.total_seconds()
    )
    return [
        TillLine(
            r["redemption_id"],
            r["code"],
            r["title_zh"] if language == "zh-CN" else r["title_en"],
            r["redeemed_at"],
            r["rolled_back_at"] is not None,
            bool(r["undoable"]),
        )
        for r in rows
    ]
