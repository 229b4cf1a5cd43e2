"""Per-store footfall settings (footfall_settings): the metric definitions of PRODUCT.md §3,
each adjustable per store; a store without a row has the defaults written once here and in
migration 0017. Why these defaults: docs/footfall-metrics.md."""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass, fields, replace

import asyncpg

from analytics.occupancy import Calibration
from analytics.visits import Rules
from kernel.errors import PorticoError
from kernel.sql import load_queries

queries = load_queries(__file__, "footfall.sql")

Executor = asyncpg.Connection | asyncpg.Pool


class InvalidFootfallSetting(PorticoError):
    message_id = "error_generic"


@dataclass(frozen=True, slots=True)
class FootfallSettings:
    """RSSI in dBm, durations in seconds."""

    inside_rssi: int = -70
    detected_rssi: int = -85
    visitor_min_dwell: int = 300
    visit_gap: int = 900
    visit_cap: int = 43200
    bounce: int = 180
    engaged: int = 900

    def rules(self) -> Rules:
        return Rules(
            inside_rssi=self.inside_rssi,
            visitor_min_dwell=self.visitor_min_dwell,
            gap=self.visit_gap,
            cap=self.visit_cap,
        )


# The same bounds as the migration's CHECKs, so a bad value gets a clear error, not a 500.
LIMITS = {
    "inside_rssi": (-100, 0),
    "detected_rssi": (-127, 0),
    "visitor_min_dwell": (0, 86400),
    "visit_gap": (60, 14400),
    "visit_cap": (3600, 86400),
    "bounce": (0, 86400),
    "engaged": (0, 86400),
}
FIELDS = tuple(f.name for f in fields(FootfallSettings))


async def settings_of(
    db: Executor, merchant_id: uuid.UUID, store_id: uuid.UUID
) -> FootfallSettings:
    row = await db.fetchrow(queries.footfall_settings_of, merchant_id, store_id)
    return FootfallSettings(**{k: row[k] for k in FIELDS}) if row else FootfallSettings()


async def update_settings(
    db: Executor, merchant_id: uuid.UUID, store_id: uuid.UUID, **changes: int
) -> FootfallSettings:
    """Change some of a store's settings (the others keep their value); the new settings.
    Rollups already computed keep the old definitions until `portico analytics rebuild`."""
    for name, value in changes.items():
        if name not in LIMITS:
            raise InvalidFootfallSetting(f"unknown footfall setting {name!r}")
        low, high = LIMITS[name]
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise InvalidFootfallSetting(f"{name} must be a whole number from {low} to {high}")
    new = replace(await settings_of(db, merchant_id, store_id), **changes)
    if new.inside_rssi < new.detected_rssi:
        raise InvalidFootfallSetting("inside_rssi must not be below detected_rssi")
    await db.execute(
        queries.upsert_footfall_settings, merchant_id, store_id, *(getattr(new, k) for k in FIELDS)
    )
    return new


async def occupancy_calibration(
    db: Executor, merchant_id: uuid.UUID, store_id: uuid.UUID
) -> Calibration | None:
    """The store's fitted occupancy calibration (analytics.occupancy.fit_calibration, with the
    estimator's default parameters), or None."""
    row = await db.fetchrow(queries.occupancy_calibration_of, merchant_id, store_id)
    if row is None or row["occupancy_w_random"] is None:
        return None
    return Calibration(
        row["occupancy_w_random"], row["occupancy_w_static"], row["occupancy_intercept"]
    )


async def set_occupancy_calibration(
    db: Executor, merchant_id: uuid.UUID, store_id: uuid.UUID, calibration: Calibration | None
) -> None:
    """Store (or, with None, forget) the store's occupancy calibration."""
    values = (
        (calibration.w_random, calibration.w_static, calibration.intercept)
        if calibration is not None
        else (None, None, None)
    )
    for value in values:
        if value is not None and not math.isfinite(value):
            raise InvalidFootfallSetting("a calibration needs finite numbers")
    await db.execute(queries.set_occupancy_calibration, merchant_id, store_id, *values)
