"""Visits and rollups from crafted observation streams (analytics/rollups.py): known answers,
late and duplicate data, the job's sharing, rebuild and retention."""

from __future__ import annotations

import argparse
import io
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from accounts import services as accounts
from analytics import rollups
from analytics.rollups import mark_dirty, rebuild, run_rollups
from kernel.config import Settings
from portico import cli
from tests.analytics.footfall_streams import (
    device,
    every,
    local,
    login,
    new_store,
    observe,
    settle,
)
from tests.pg_session import lock_timeout

MIN = timedelta(minutes=1)
DAY_ = (datetime.now(UTC) - timedelta(days=2)).date()
NOW = local(DAY_, 23, 0)  # the raw observations of DAY_ are still kept


async def hourly(db: asyncpg.Pool, store: accounts.Store, at: datetime, zone: str = "") -> dict:
    row = await db.fetchrow(
        "SELECT * FROM footfall_hourly WHERE merchant_id = $1 AND store_id = $2 AND zone = $3"
        " AND bucket_start = $4",
        store.merchant_id,
        store.store_id,
        zone,
        at,
    )
    return dict(row) if row else {}


async def daily(db: asyncpg.Pool, store: accounts.Store, zone: str = "") -> dict:
    row = await db.fetchrow(
        "SELECT * FROM footfall_daily WHERE merchant_id = $1 AND store_id = $2 AND zone = $3"
        " AND day = $4",
        store.merchant_id,
        store.store_id,
        zone,
        DAY_,
    )
    return dict(row) if row else {}


async def visits_of(db: asyncpg.Pool, store: accounts.Store, who: str) -> list[asyncpg.Record]:
    return await db.fetch(
        "SELECT * FROM footfall_visits WHERE merchant_id = $1 AND store_id = $2"
        " AND device_hash = $3 ORDER BY started_at",
        store.merchant_id,
        store.store_id,
        device(who),
    )


async def morning(db: asyncpg.Pool, store: accounts.Store) -> None:
    """12 visitors 10:00-10:30 (a sighting every 2 min at -60 dBm) in zone ap-1, 15 passers-by
    at 10:05 and 10:06 (-80 dBm) in zone ap-2; 5 of the passers-by have a random MAC."""
    for i in range(12):
        await observe(db, store, f"v{i}", every(local(DAY_, 10), local(DAY_, 10, 30), 2 * MIN))
    for i in range(15):
        times = [local(DAY_, 10, 5), local(DAY_, 10, 6)]
        await observe(db, store, f"p{i}", times, rssi=-80, zone="ap-2", randomized=i < 5)


async def test_an_hour_with_visitors_and_passers_by(db: asyncpg.Pool) -> None:
    store = await new_store(db)
    await morning(db, store)

    await settle(db, NOW)

    ten = local(DAY_, 10).astimezone(UTC)
    row = await hourly(db, store, ten)
    assert row["local_start"] == datetime(DAY_.year, DAY_.month, DAY_.day, 10)
    expected = {
        "detected": 27,
        "visitors": 12,
        "passers_by": 15,
        "connected": 0,
        "randomized": 5,
        "visits": 12,
        "entries": 12,
        "bounces": 0,
        "engaged": 12,
        "dwell_5_20": 0,
        "dwell_20_60": 12,
        "dwell_60_360": 0,
        "dwell_360_plus": 0,
        "dwell_sum": 12 * 1800,
        "returning_visits": 0,
        "new_visits": 12,
        "occupancy_peak": 27,
    }
    assert {k: row[k] for k in expected} == expected
    # Marks 10:00 … 10:55: 12, 27, 27, 27 (passers-by seen within 10 min), 12 ×5, 0 ×3.
    assert row["occupancy_avg"] == pytest.approx(153 / 12)
    zone1 = await hourly(db, store, ten, "ap-1")
    zone2 = await hourly(db, store, ten, "ap-2")
    assert (zone1["detected"], zone1["visitors"], zone1["visits"]) == (12, 12, 12)
    assert (zone2["detected"], zone2["passers_by"], zone2["visits"]) == (15, 15, 0)
    assert await hourly(db, store, ten + timedelta(hours=1)) == {}  # nobody at 11:00
    day = await daily(db, store)
    assert (day["detected"], day["visitors"], day["visits"], day["occupancy_peak"]) == (
        27,
        12,
        12,
        27,
    )
    assert day["occupancy_avg"] == pytest.approx(153 / 12 / 24)
    assert (
        await db.fetchval(
            "SELECT count(*) FROM footfall_dirty WHERE merchant_id = $1", store.merchant_id
        )
        == 0
    )


async def test_late_data_turns_a_passer_by_into_a_visitor_once(db: asyncpg.Pool) -> None:
    store = await new_store(db)
    await morning(db, store)
    await settle(db, NOW)

    # p1 was seen at 10:05 and 10:06 at -80; late rows: inside from 10:08 to 10:14.
    late = [local(DAY_, 10, 8), local(DAY_, 10, 14)]
    await observe(db, store, "p1", late, rssi=-60, zone="ap-2")
    await settle(db, NOW)

    (visit,) = await visits_of(db, store, "p1")
    assert (visit["started_at"], visit["ended_at"]) == (local(DAY_, 10, 5), local(DAY_, 10, 14))
    assert visit["visitor"] and visit["dwell"] == 540 and visit["sightings"] == 4
    row = await hourly(db, store, local(DAY_, 10).astimezone(UTC))
    assert (row["detected"], row["visitors"], row["passers_by"], row["visits"]) == (27, 13, 14, 13)
    assert row["dwell_5_20"] == 1
    assert (await daily(db, store))["visitors"] == 13


async def test_duplicate_data_changes_nothing(db: asyncpg.Pool) -> None:
    store = await new_store(db)
    await morning(db, store)
    await settle(db, NOW)
    before = (await hourly(db, store, local(DAY_, 10).astimezone(UTC)), await daily(db, store))
    visits = await db.fetchval(
        "SELECT count(*) FROM footfall_visits WHERE merchant_id = $1", store.merchant_id
    )

    await morning(db, store)  # the same rows again (an ingest retry), marked dirty again
    await settle(db, NOW)

    after = (await hourly(db, store, local(DAY_, 10).astimezone(UTC)), await daily(db, store))
    assert after == before
    assert visits == 27
    assert visits == await db.fetchval(
        "SELECT count(*) FROM footfall_visits WHERE merchant_id = $1", store.merchant_id
    )


async def test_a_bridging_sighting_merges_two_visits(db: asyncpg.Pool) -> None:
    store = await new_store(db)
    await observe(db, store, "d", every(local(DAY_, 9), local(DAY_, 9, 10), 2 * MIN))
    await observe(db, store, "d", every(local(DAY_, 9, 40), local(DAY_, 9, 50), 2 * MIN))
    await settle(db, NOW)
    assert len(await visits_of(db, store, "d")) == 2

    await observe(db, store, "d", [local(DAY_, 9, 25)])  # 15 min from each
    await settle(db, NOW)

    (visit,) = await visits_of(db, store, "d")
    assert (visit["started_at"], visit["ended_at"]) == (local(DAY_, 9), local(DAY_, 9, 50))
    row = await hourly(db, store, local(DAY_, 9).astimezone(UTC))
    assert (row["visits"], row["dwell_sum"], row["dwell_20_60"]) == (1, 3000, 1)


async def test_late_data_near_the_end_of_an_hour_updates_the_next_hours_occupancy(
    db: asyncpg.Pool,
) -> None:
    store = await new_store(db)
    await observe(db, store, "a", every(local(DAY_, 10, 20), local(DAY_, 10, 52), 4 * MIN))
    await settle(db, NOW)
    eleven = local(DAY_, 11).astimezone(UTC)
    assert (await hourly(db, store, eleven))["occupancy_avg"] == pytest.approx(1 / 12)

    await observe(db, store, "a", [local(DAY_, 10, 58)])  # late: seen until 10:58
    await settle(db, NOW)

    # Marks 11:00 and 11:05 now both see it within their last 10 minutes.
    row = await hourly(db, store, eleven)
    assert row["occupancy_avg"] == pytest.approx(2 / 12)
    assert row["detected"] == 0  # no visit in the hour itself


async def test_logins_and_returning_visitors(db: asyncpg.Pool) -> None:
    store = await new_store(db)
    yesterday = DAY_ - timedelta(days=1)
    # Yesterday: r1 and r2 visit; today r1 and r2 come back, and n1 comes for the first time.
    for who in ("r1", "r2"):
        await observe(
            db,
            store,
            who,
            every(local(yesterday, 15), local(yesterday, 15, 10), 2 * MIN),
            source="assoc",
        )
    for who in ("r1", "r2", "n1"):
        await observe(db, store, who, every(local(DAY_, 11), local(DAY_, 11, 3), MIN), rssi=-80)
    await login(db, store, "r1", local(DAY_, 11, 1))
    await login(db, store, "n1", local(DAY_, 11, 2))
    # A login from a phone not seen by any sensor is still a visit, of no zone.
    await login(db, store, "ghost", local(DAY_, 11, 30))
    await settle(db, NOW)

    row = await hourly(db, store, local(DAY_, 11).astimezone(UTC))
    # r1, n1, ghost logged in: visitors and connected; r2 is a passer-by (-80 dBm, 3 min).
    assert (row["detected"], row["visitors"], row["connected"], row["passers_by"]) == (4, 3, 3, 1)
    assert (row["visits"], row["returning_visits"], row["new_visits"]) == (3, 1, 2)
    # The ghost bounced (dwell 0); r1 and n1 stayed 3 minutes: a bounce is under 3.
    assert (row["entries"], row["bounces"]) == (3, 1)
    ghost = (await visits_of(db, store, "ghost"))[0]
    assert ghost["zone"] == "" and ghost["logged_in"] and ghost["dwell"] == 0
    zone = await hourly(db, store, local(DAY_, 11).astimezone(UTC), "ap-1")
    assert zone["visitors"] == 2  # the ghost is in the store's total only
    previous = await db.fetchrow(
        "SELECT * FROM footfall_daily WHERE merchant_id = $1 AND zone = '' AND day = $2",
        store.merchant_id,
        yesterday,
    )
    assert (previous["connected"], previous["visitors"], previous["dwell_5_20"]) == (2, 2, 2)


async def test_hours_are_the_stores_local_hours(db: asyncpg.Pool) -> None:
    store = await new_store(db, "Asia/Kolkata")  # UTC+05:30
    at = local(DAY_, 10, 40, "Asia/Kolkata")
    await observe(db, store, "k", every(at, at + 10 * MIN, 2 * MIN))
    await settle(db, NOW)

    rows = await db.fetch(
        "SELECT bucket_start, local_start, detected, occupancy_peak FROM footfall_hourly"
        " WHERE merchant_id = $1 AND zone = '' ORDER BY bucket_start",
        store.merchant_id,
    )
    local_ten = local(DAY_, 10, 0, "Asia/Kolkata")
    assert [tuple(r) for r in rows] == [
        (local_ten, datetime(DAY_.year, DAY_.month, DAY_.day, 10), 1, 1),
        # Seen at 10:50: within the 10 minutes before the 11:00 mark, though not in the hour.
        (local_ten + timedelta(hours=1), datetime(DAY_.year, DAY_.month, DAY_.day, 11), 0, 1),
    ]


async def test_a_store_locked_by_another_controller_is_left_to_it(db: asyncpg.Pool) -> None:
    store = await new_store(db)
    await observe(db, store, "x", every(local(DAY_, 8), local(DAY_, 8, 10), 2 * MIN))
    async with db.acquire() as other, other.transaction():
        assert await other.fetchval(
            "SELECT pg_try_advisory_xact_lock(hashtextextended("
            "'footfall-store:' || $1::uuid::text || $2::uuid::text, 0))",
            store.merchant_id,
            store.store_id,
        )
        await run_rollups(db, now=NOW)
        assert await visits_of(db, store, "x") == []
    await settle(db, NOW)
    assert len(await visits_of(db, store, "x")) == 1


async def test_marking_never_waits_for_a_running_job(db: asyncpg.Pool) -> None:
    store = await new_store(db)
    await observe(db, store, "x", [local(DAY_, 8)])
    async with db.acquire() as job, job.transaction():
        claimed = await job.fetch(
            "SELECT mark_id FROM footfall_dirty WHERE merchant_id = $1 FOR UPDATE",
            store.merchant_id,
        )
        assert claimed
        async with db.acquire() as ingest, lock_timeout(ingest, "1s"):
            await mark_dirty(
                ingest, store.merchant_id, store.store_id, local(DAY_, 8), local(DAY_, 8)
            )


async def test_mark_dirty_refuses_an_absurd_span(db: asyncpg.Pool) -> None:
    store = await new_store(db)
    with pytest.raises(ValueError, match="more than"):
        await mark_dirty(db, store.merchant_id, store.store_id, NOW - timedelta(days=500), NOW)


async def test_rebuild_recomputes_rollups_and_keeps_expired_days(db: asyncpg.Pool) -> None:
    store = await new_store(db)
    await morning(db, store)
    await settle(db, NOW)
    await db.execute(
        "UPDATE footfall_hourly SET visits = 999 WHERE merchant_id = $1", store.merchant_id
    )
    await db.execute(
        "UPDATE footfall_daily SET visits = 999 WHERE merchant_id = $1", store.merchant_id
    )
    out = io.StringIO()

    result = await rebuild(
        db, DAY_ - timedelta(days=1), DAY_, merchant_id=store.merchant_id, out=out, now=NOW
    )

    assert (result.store_days, result.visits, result.skipped_days) == (2, 27, 0)
    assert (await hourly(db, store, local(DAY_, 10).astimezone(UTC)))["visits"] == 12
    assert (await daily(db, store))["visits"] == 12
    # Forty days on, the visits are past retention: a rebuild keeps the rollups as they were.
    later = NOW + timedelta(days=40)
    assert await rollups.delete_old_visits(db) >= 0
    result = await rebuild(db, DAY_, DAY_, merchant_id=store.merchant_id, out=out, now=later)
    assert result.skipped_days == 1
    assert (await daily(db, store))["visits"] == 12


async def test_old_visits_are_deleted_and_rollups_kept(db: asyncpg.Pool) -> None:
    store = await new_store(db)
    long_ago = datetime.now(UTC) - timedelta(days=31)
    await db.execute(
        """INSERT INTO footfall_visits (merchant_id, store_id, device_hash, started_at, ended_at,
           zone, dwell, max_rssi, sightings, entered, visitor, connected, logged_in, randomized)
           VALUES ($1, $2, 'old', $3, $3, 'ap-1', 0, -60, 1, true, false, false, false, false),
                  ($1, $2, 'new', $4, $4, 'ap-1', 0, -60, 1, true, false, false, false, false)""",
        store.merchant_id,
        store.store_id,
        long_ago,
        long_ago + timedelta(days=2),
    )

    assert await rollups.delete_old_visits(db) >= 1

    left = await db.fetch(
        "SELECT device_hash FROM footfall_visits WHERE merchant_id = $1", store.merchant_id
    )
    assert [r["device_hash"] for r in left] == ["new"]


def _rebuild_args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="portico analytics")
    rollups.add_rebuild_parser(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(["rebuild", *argv])


def test_the_rebuild_command(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """As typed: `portico analytics rebuild` (portico/cli.py hands it the database)."""
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    day = str(DAY_)

    def portico(*argv: str) -> int:
        return cli.main(["analytics", "rebuild", *argv])

    done = portico("--from", day, "--to", day)
    unknown = portico("--from", day, "--to", day, "--store", "nope")
    backwards = portico("--from", day, "--to", "2000-01-01")

    out, err = capsys.readouterr()
    assert done == 0 and "rebuilt" in out
    assert unknown == 1 and "no store match --store 'nope'" in err
    assert backwards == 1 and "--to is before --from" in err
    with pytest.raises(SystemExit):
        _rebuild_args("--from", "yesterday", "--to", day)
