"""An imported pool's codes: the merchant's own POS codes, uploaded as a text or CSV file
(docs/coupons.md, "Pools"), handed out one per claim like Portico's own.

A file is taken whole or not at all: every problem is reported with its line number (bad
symbols or length, a code twice in the file, a code the merchant has already) and nothing is
stored until there are none.
"""

from __future__ import annotations

import csv
import io
import uuid
from dataclasses import dataclass

import asyncpg

from accounts import audit
from ads import codes
from ads.services import UnknownCoupon, queries
from kernel.errors import PorticoError

MAX_BYTES = 1_000_000  # a file of codes; a console form's body is at most 1 MiB (accounts.web)
MAX_CODES = 100_000
REPORTED = 50  # problems listed at most (and how many more there were)
_HEADERS = frozenset({"CODE", "CODES", "COUPON", "COUPONCODE", "券码", "优惠码"})


@dataclass(frozen=True)
class Problem:
    line: int
    kind: str  # symbols, length, repeated, taken
    text: str  # the line's code as written (shortened), for the merchant to find it
    first_line: int | None = None  # repeated: where it first was


class ImportRefused(PorticoError):
    """The file was refused: `problems` (the first REPORTED) say why; nothing was stored."""

    message_id = "import_refused"
    status = 422

    def __init__(self, detail: str, problems: list[Problem], more: int = 0, **params: object):
        super().__init__(detail, **params)
        self.problems = problems
        self.more = more


class ImportUnreadable(PorticoError):
    """Not a file of codes at all: too big, too many lines, not UTF-8 text, empty; `reason`
    (size, count, encoding, csv, empty) names the message (import_unreadable_<reason>)."""

    message_id = "import_unreadable"
    status = 400

    def __init__(self, detail: str, *, reason: str, **values: object) -> None:
        super().__init__(detail, reason=reason, **values)
        self.message_id = f"import_unreadable_{reason}"


class NotImportedPool(PorticoError):
    message_id = "import_wrong_pool"
    status = 409


def read_codes(data: bytes) -> list[tuple[int, str]]:
    """(line number, canonical code) for every code of the file; ImportRefused with every
    problem found in the file itself, ImportUnreadable if it is no file of codes."""
    if len(data) > MAX_BYTES:
        raise ImportUnreadable(f"{len(data)} bytes", reason="size", limit=MAX_BYTES)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ImportUnreadable("not UTF-8", reason="encoding") from None
    if "\x00" in text:
        raise ImportUnreadable("a NUL byte", reason="encoding")
    found: list[tuple[int, str]] = []
    problems: list[Problem] = []
    first_seen: dict[str, int] = {}
    rows = csv.reader(io.StringIO(text, newline=""))
    try:
        for row in rows:
            number = rows.line_num
            cell = row[0].strip() if row else ""
            if not cell:
                continue
            if not found and not problems and _header(cell):
                continue
            if len(found) >= MAX_CODES:
                raise ImportUnreadable("too many codes", reason="count", limit=MAX_CODES)
            code = codes.imported_form(cell)
            if code is None:
                problems.append(Problem(number, _what_is_wrong(cell), cell[:40]))
            elif code in first_seen:
                problems.append(Problem(number, "repeated", cell[:40], first_seen[code]))
            else:
                first_seen[code] = number
                found.append((number, code))
    except csv.Error as exc:
        raise ImportUnreadable(f"CSV: {exc}", reason="csv") from None
    if problems:
        raise ImportRefused(
            f"{len(problems)} problems", problems[:REPORTED], max(0, len(problems) - REPORTED)
        )
    if not found:
        raise ImportUnreadable("no codes", reason="empty")
    return found


def _header(cell: str) -> bool:
    return cell.upper().replace(" ", "").replace("_", "") in _HEADERS


def _what_is_wrong(cell: str) -> str:
    raw = cell.upper().replace("-", "").replace(" ", "")
    if any(not ("A" <= ch <= "Z" or "0" <= ch <= "9") for ch in raw):
        return "symbols"
    return "length"


async def import_codes(
    conn: asyncpg.Connection,
    merchant_id: uuid.UUID,
    coupon_id: uuid.UUID,
    data: bytes,
    *,
    actor: audit.Actor,
) -> int:
    """Add the file's codes to an imported pool, all or none; how many were added. The audit
    log records how many (`coupon_codes.import`, by `actor`; never the codes)."""
    found = read_codes(data)
    async with conn.transaction():
        coupon = await conn.fetchrow(queries.coupon_pool, merchant_id, coupon_id)
        if coupon is None:
            raise UnknownCoupon(f"merchant {merchant_id} has no coupon {coupon_id}")
        if coupon["pool"] != "imported":
            raise NotImportedPool(f"coupon {coupon_id} has a {coupon['pool']} pool")
        line_of = {code: number for number, code in found}
        taken = await conn.fetch(queries.codes_taken, merchant_id, list(line_of))
        if taken:
            problems = sorted(
                (Problem(line_of[r["code"]], "taken", r["code"]) for r in taken),
                key=lambda p: p.line,
            )
            raise ImportRefused(
                f"{len(problems)} codes taken",
                problems[:REPORTED],
                max(0, len(problems) - REPORTED),
            )
        added = await conn.fetch(queries.insert_codes, merchant_id, coupon_id, list(line_of))
        if len(added) != len(line_of):  # another import took some since: store none
            raise ImportRefused("codes taken meanwhile", [], len(line_of) - len(added))
        await audit.record_change(
            conn,
            merchant_id,
            actor,
            "coupon_codes.import",
            target_id=coupon_id,
            target_name=coupon["title_en"],
            after={"codes_added": len(added)},
        )
    return len(added)
