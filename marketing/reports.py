"""The closed loop's report of one trigger over a range of store-local days (issue 14 item 6,
docs/marketing.md "The closed loop").

- **Contacts** decided in the range, per arm (treatment, holdout, and `outside`: contacts in
  no arm, the shopper could not be contacted at all or had the offer already): by status
  (pending, sent, delivered, failed, holdout, suppressed), suppressed by reason, and how many
  converted, by the kind of their conversion (a redemption, a return visit).
- **The experiment**, intent to treat: each shopper (profile) counted once, in the arm of
  their first contact of the trigger in an arm, in the range of that first contact: a
  treated shopper the budget held back (quiet hours, the day's or week's contacts) stays in
  the treatment arm, as a holdout shopper stays in the holdout. The shopper converted when that
  first contact did: a redemption, or a return visit from an hour after it, within the
  trigger's window (marketing/engine.py marks it). A shopper whose window has not ended yet
  counts as not converted yet: read the days whose windows have ended.
- **Uplift** = the treatment arm's conversion rate − the holdout arm's, for any conversion and
  for each kind, with a 95 % Newcombe hybrid score interval (kernel/stats.py). A kind is the
  kind of the first conversion: a shopper who came back and then redeemed counts as a return
  visit.
- **Days**: per store-local day and arm, contacts decided and going out (pending, sent,
  delivered), shoppers first assigned and how many of them converted: the charts.

The merchant reads its own triggers' reports in full: every figure counts the merchant's own
contacts and its own shoppers' redemptions and visits, which its till and its footfall pages
know already, and no report carries a profile. The k-threshold (marketing_settings,
PRODUCT.md §4) is for what an advertiser sees (marketing/segments.py); no advertiser sees a
trigger report.
"""

from __future__ import annotations

import asyncio
import csv
import io
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import asyncpg

from accounts import services as accounts
from kernel.errors import PorticoError
from kernel.sql import load_queries
from kernel.stats import newcombe

queries = load_queries(__file__, "reports.sql")

MAX_RANGE_DAYS = 366
ARMS = ("treatment", "holdout")
OUTSIDE = "outside"  # contacts in no arm
STATUSES = ("pending", "sent", "delivered", "failed", "holdout", "suppressed")
GOES_OUT = ("pending", "sent", "delivered")
REASONS = (
    "quiet_hours",
    "budget_day",
    "budget_week",
    "no_consent",
    "opted_out",
    "duplicate_offer",
    "no_channel",
)
KINDS = ("redemption", "return_visit")
MEASURES = ("converted", *KINDS)  # any conversion, then each kind


class ReportRangeError(PorticoError):
    """The range's days are the wrong way round or too many."""

    message_id = "mk_report_range"


class TriggerUnknown(PorticoError):
    """Not a trigger of this merchant."""

    message_id = "mk_trigger_unknown"
    status = 404


@dataclass
class Contacts:
    """Contacts decided in the range (of one arm, outside the arms, or all)."""

    decided: int = 0
    statuses: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STATUSES, 0))
    reasons: dict[str, int] = field(default_factory=lambda: dict.fromkeys(REASONS, 0))
    converted: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))

    @property
    def going_out(self) -> int:
        return sum(self.statuses[s] for s in GOES_OUT)


@dataclass
class Arm:
    """An arm's shoppers (each once) and how many converted, in all and by kind."""

    shoppers: int = 0
    converted: int = 0
    redemption: int = 0
    return_visit: int = 0

    def rate(self, measure: str = "converted") -> float | None:
        return getattr(self, measure) / self.shoppers if self.shoppers else None


@dataclass(frozen=True)
class Uplift:
    """Treatment rate − holdout rate and its 95 % interval (fractions)."""

    difference: float
    low: float
    high: float


@dataclass
class Day:
    """One store-local day of one arm (None: contacts in no arm)."""

    day: date
    arm: str | None
    decided: int = 0
    going_out: int = 0
    shoppers: int = 0  # first assigned to the arm that day
    converted: int = 0  # of those shoppers


@dataclass
class TriggerReport:
    merchant_id: uuid.UUID
    trigger_id: uuid.UUID
    name_zh: str
    name_en: str
    offer_key: str
    channel: str
    holdout_share: float
    window_days: int
    first: date
    last: date
    timezone: str
    contacts: dict[str, Contacts]  # 'treatment', 'holdout', 'outside', 'all'
    arms: dict[str, Arm]  # 'treatment', 'holdout'
    uplift: dict[str, Uplift | None]  # 'converted', 'redemption', 'return_visit'
    days: list[Day]


def uplift(treatment: Arm, holdout: Arm, measure: str = "converted") -> Uplift | None:
    """The arms' difference in `measure` with its interval; None while an arm is empty."""
    if not treatment.shoppers or not holdout.shoppers:
        return None
    d, low, high = newcombe(
        getattr(treatment, measure), treatment.shoppers, getattr(holdout, measure), holdout.shoppers
    )
    return Uplift(d, low, high)


async def trigger_report(
    db: asyncpg.Pool,
    merchant_id: uuid.UUID,
    trigger_id: uuid.UUID,
    first: date,
    last: date,
    *,
    timezone: str | None = None,
) -> TriggerReport:
    """The trigger's report over store-local days `first`…`last` (in `timezone`, by default
    the merchant's: its stores' when they share one, else UTC). TriggerUnknown for another
    merchant's trigger; ReportRangeError for a range backwards or over MAX_RANGE_DAYS."""
    if not 0 <= (last - first).days < MAX_RANGE_DAYS:
        raise ReportRangeError(f"{first}…{last}", days=MAX_RANGE_DAYS)
    trigger = await db.fetchrow(queries.trigger_of_merchant, merchant_id, trigger_id)
    if trigger is None:
        raise TriggerUnknown(f"merchant {merchant_id} has no trigger {trigger_id}")
    zone = timezone or await accounts.merchant_zone(db, merchant_id)
    start, end = (
        datetime.combine(d, time(), ZoneInfo(zone)) for d in (first, last + timedelta(days=1))
    )
    args = (merchant_id, trigger_id, start, end, zone)
    contact_rows, shopper_rows = await asyncio.gather(
        db.fetch(queries.contacts, *args), db.fetch(queries.shoppers, *args)
    )
    contacts = {name: Contacts() for name in (*ARMS, OUTSIDE, "all")}
    days: dict[tuple[date, str | None], Day] = {}
    for r in contact_rows:
        for one in (contacts[r["arm"] or OUTSIDE], contacts["all"]):
            one.decided += r["contacts"]
            one.statuses[r["status"]] += r["contacts"]
            if r["reason"] is not None:
                one.reasons[r["reason"]] += r["contacts"]
            for kind in KINDS:
                one.converted[kind] += r[kind]
        day = days.setdefault((r["day"], r["arm"]), Day(r["day"], r["arm"]))
        day.decided += r["contacts"]
        day.going_out += r["contacts"] if r["status"] in GOES_OUT else 0
    arms = {name: Arm() for name in ARMS}
    for r in shopper_rows:
        arm = arms[r["arm"]]
        for measure in ("shoppers", *MEASURES):
            setattr(arm, measure, getattr(arm, measure) + r[measure])
        day = days.setdefault((r["day"], r["arm"]), Day(r["day"], r["arm"]))
        day.shoppers += r["shoppers"]
        day.converted += r["converted"]
    return TriggerReport(
        merchant_id=merchant_id,
        trigger_id=trigger_id,
        **dict(trigger),  # its names, offer, channel, holdout share and window
        first=first,
        last=last,
        timezone=zone,
        contacts=contacts,
        arms=arms,
        uplift={m: uplift(arms["treatment"], arms["holdout"], m) for m in MEASURES},
        days=sorted(days.values(), key=lambda d: (d.day, _arm_order(d.arm))),
    )


def _arm_order(arm: str | None) -> int:
    return ARMS.index(arm) if arm in ARMS else len(ARMS)


def report_csv(report: TriggerReport) -> str:
    """The report as CSV (English headers; blank lines between its tables): the contacts per
    arm, the arms' shoppers, the uplift, the days. Aggregates only, never a shopper."""
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["trigger", "name", "offer_key", "first", "last", "timezone", "window_days"])
    w.writerow(
        [
            report.trigger_id,
            report.name_en,
            report.offer_key,
            report.first,
            report.last,
            report.timezone,
            report.window_days,
        ]
    )
    w.writerow([])
    w.writerow(
        ["contacts", "decided", *STATUSES, *(f"suppressed_{r}" for r in REASONS)]
        + [f"converted_{k}" for k in KINDS]
    )
    for name, c in report.contacts.items():
        w.writerow(
            [name, c.decided]
            + [c.statuses[s] for s in STATUSES]
            + [c.reasons[r] for r in REASONS]
            + [c.converted[k] for k in KINDS]
        )
    w.writerow([])
    w.writerow(["arm", "shoppers", *MEASURES, *(f"{m}_rate" for m in MEASURES)])
    for name, arm in report.arms.items():
        rates = [_number(arm.rate(m)) for m in MEASURES]
        w.writerow([name, arm.shoppers, *(getattr(arm, m) for m in MEASURES), *rates])
    w.writerow([])
    w.writerow(["uplift", "difference", "low_95", "high_95"])
    for measure, u in report.uplift.items():
        if u is None:
            w.writerow([measure, "", "", ""])
        else:
            w.writerow([measure, _number(u.difference), _number(u.low), _number(u.high)])
    w.writerow([])
    w.writerow(["day", "arm", "decided", "going_out", "shoppers", "converted"])
    for d in report.days:
        w.writerow([d.day, d.arm or OUTSIDE, d.decided, d.going_out, d.shoppers, d.converted])
    return out.getvalue()


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:.6f}"
