-- Footfall raw observations and the staff filter's tables (migration 0016), owned by
-- analytics/observations.py, analytics/ingest.py and analytics/retention.py.

-- name: insert_observations
-- Already hashed rows; a row seen before (same device, zone, second) is skipped. Returns what
-- was new, per store, for the rollups' dirty ranges.
WITH new AS (
    INSERT INTO footfall_observations
        (merchant_id, store_id, zone, seen_at, device_hash, source, rssi, randomized)
    SELECT m, s, z, to_timestamp(t), h, src, r, rnd
    FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::bigint[], $5::text[], $6::text[],
                $7::smallint[], $8::boolean[]) AS u(m, s, z, t, h, src, r, rnd)
    ON CONFLICT DO NOTHING
    RETURNING merchant_id, store_id, seen_at
)
SELECT merchant_id, store_id, min(seen_at) AS earliest, max(seen_at) AS latest,
       count(*) AS inserted
FROM new GROUP BY merchant_id, store_id

-- name: insert_store_observations
-- The same for rows of one store, zone and source (analytics.ingest's probe path, for imports):
-- only the varying columns travel as arrays.
WITH new AS (
    INSERT INTO footfall_observations
        (merchant_id, store_id, zone, seen_at, device_hash, source, rssi, randomized)
    SELECT $1::uuid, $2::uuid, $3::text, to_timestamp(t), h, $4::text, r, rnd
    FROM unnest($5::bigint[], $6::text[], $7::smallint[], $8::boolean[]) AS u(t, h, r, rnd)
    ON CONFLICT DO NOTHING
    RETURNING seen_at
)
SELECT min(seen_at) AS earliest, max(seen_at) AS latest, count(*) AS inserted FROM new

-- name: ensure_partitions
SELECT day, footfall_ensure_partition(day) AS created FROM unnest($1::date[]) AS day

-- name: missing_partitions
SELECT day FROM unnest($1::date[]) AS day
WHERE to_regclass('footfall_partitions.obs_' || to_char(day, 'YYYYMMDD')) IS NULL

-- name: lock_partition
-- The lock footfall_ensure_partition (migration 0016) takes for the same day.
SELECT pg_advisory_xact_lock(hashtext('footfall_partition:' || $1::text))

-- name: partition_exists
SELECT to_regclass('footfall_partitions.' || $1::text) IS NOT NULL

-- name: raw_keep_hours
-- How long raw observations are kept: the longest of the merchants' settings, at least the
-- default (partitions are shared by all merchants).
SELECT greatest($1::integer, coalesce(max(raw_hours), 0)) FROM footfall_retention

-- name: raw_hours_of
SELECT raw_hours FROM footfall_retention WHERE merchant_id = $1

-- name: retention_of
SELECT raw_hours, visits_days FROM footfall_retention WHERE merchant_id = $1

-- name: set_retention
INSERT INTO footfall_retention (merchant_id, raw_hours, visits_days) VALUES ($1, $2, $3)
ON CONFLICT (merchant_id) DO UPDATE
SET raw_hours = excluded.raw_hours, visits_days = excluded.visits_days, updated_at = now()

-- name: shorter_raw_retention
SELECT merchant_id, raw_hours FROM footfall_retention WHERE raw_hours < $1

-- name: delete_default_observations_before
-- Rows of merchants on the default raw retention ($2 hours), when partitions are kept longer
-- for another merchant.
DELETE FROM footfall_observations o
WHERE o.seen_at < $1 AND NOT EXISTS (
    SELECT 1 FROM footfall_retention r WHERE r.merchant_id = o.merchant_id
)

-- name: delete_merchant_observations_before
DELETE FROM footfall_observations WHERE merchant_id = $1 AND seen_at < $2

-- name: drop_partitions
SELECT footfall_drop_partitions($1) AS dropped

-- name: delete_old_long_stays
DELETE FROM footfall_long_stays WHERE day < $1

-- name: delete_undetected_fixed
-- A device detected as fixed that no longer meets the rule (long stays on >= n of the days
-- kept) becomes an ordinary device again; listed ones stay until the merchant removes them.
DELETE FROM footfall_fixed_devices f
WHERE f.reason = 'detected' AND (
    SELECT count(*) FROM footfall_long_stays l
    WHERE l.merchant_id = f.merchant_id AND l.store_id = f.store_id
        AND l.device_hash = f.device_hash AND l.day >= $1
) < $2

-- name: delete_old_device_os
DELETE FROM footfall_device_os WHERE seen_at < $1

-- name: fixed_devices_of_store
SELECT device_hash FROM footfall_fixed_devices WHERE merchant_id = $1 AND store_id = $2

-- name: list_fixed_device
INSERT INTO footfall_fixed_devices (merchant_id, store_id, device_hash, reason)
VALUES ($1, $2, $3, 'listed')
ON CONFLICT (merchant_id, store_id, device_hash) DO UPDATE SET reason = 'listed'

-- name: unlist_fixed_device
DELETE FROM footfall_fixed_devices
WHERE merchant_id = $1 AND store_id = $2 AND device_hash = $3 AND reason = 'listed'

-- name: record_long_stay
-- A device over the long-stay threshold on a day; then, when it has had long stays on at
-- least $6 of the days since $7, it is a fixed device (detected). Returns whether it is.
WITH stay AS (
    INSERT INTO footfall_long_stays (merchant_id, store_id, day, device_hash, seconds)
    VALUES ($1, $2, $3, $4, $5)
    ON CONFLICT (merchant_id, store_id, device_hash, day)
    DO UPDATE SET seconds = greatest(footfall_long_stays.seconds, excluded.seconds)
), days AS (
    -- this statement's own row is not visible here: count it apart
    SELECT count(*) + 1 AS n FROM footfall_long_stays
    WHERE merchant_id = $1 AND store_id = $2 AND device_hash = $4 AND day >= $7 AND day <> $3
), fixed AS (
    INSERT INTO footfall_fixed_devices (merchant_id, store_id, device_hash, reason)
    SELECT $1, $2, $4, 'detected' FROM days WHERE n >= $6
    ON CONFLICT (merchant_id, store_id, device_hash) DO NOTHING
)
SELECT n >= $6 AS fixed FROM days

-- name: record_device_os
INSERT INTO footfall_device_os (merchant_id, device_hash, os_family, seen_at)
SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::timestamptz[])
ON CONFLICT (merchant_id, device_hash) DO UPDATE
SET os_family = excluded.os_family, seen_at = greatest(footfall_device_os.seen_at, excluded.seen_at)
