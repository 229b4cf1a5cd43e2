-- Footfall visits, rollups and metrics (analytics/settings.py, rollups.py, metrics.py).
-- Tables: migration 0017 (and footfall_observations, footfall_retention of 0016; events of 0001).

-- name: footfall_settings_of
SELECT inside_rssi, detected_rssi, visitor_min_dwell, visit_gap, visit_cap, bounce, engaged
FROM footfall_settings WHERE merchant_id = $1 AND store_id = $2

-- name: upsert_footfall_settings
INSERT INTO footfall_settings (merchant_id, store_id, inside_rssi, detected_rssi,
    visitor_min_dwell, visit_gap, visit_cap, bounce, engaged)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
ON CONFLICT (merchant_id, store_id) DO UPDATE SET
    inside_rssi = excluded.inside_rssi, detected_rssi = excluded.detected_rssi,
    visitor_min_dwell = excluded.visitor_min_dwell, visit_gap = excluded.visit_gap,
    visit_cap = excluded.visit_cap, bounce = excluded.bounce, engaged = excluded.engaged,
    updated_at = now()

-- name: occupancy_calibration_of
SELECT occupancy_w_random, occupancy_w_static, occupancy_intercept
FROM footfall_settings WHERE merchant_id = $1 AND store_id = $2

-- name: set_occupancy_calibration
INSERT INTO footfall_settings (merchant_id, store_id, occupancy_w_random, occupancy_w_static,
    occupancy_intercept)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (merchant_id, store_id) DO UPDATE SET
    occupancy_w_random = excluded.occupancy_w_random,
    occupancy_w_static = excluded.occupancy_w_static,
    occupancy_intercept = excluded.occupancy_intercept, updated_at = now()

-- name: recent_observations
SELECT seen_at, device_hash, rssi, randomized FROM footfall_observations
WHERE merchant_id = $1 AND store_id = $2 AND ($3::text IS NULL OR zone = $3)
    AND seen_at > $4 AND seen_at <= $5

-- Dirty hours ----------------------------------------------------------------------------------

-- name: mark_dirty
INSERT INTO footfall_dirty (merchant_id, store_id, bucket_start)
SELECT $1, $2, h
FROM generate_series(date_trunc('hour', $3::timestamptz AT TIME ZONE 'UTC') AT TIME ZONE 'UTC',
                     $4::timestamptz, interval '1 hour') AS h

-- name: dirty_stores
SELECT merchant_id, store_id, min(marked_at) AS oldest
FROM footfall_dirty
GROUP BY merchant_id, store_id
ORDER BY oldest
LIMIT $1

-- name: try_lock_store
SELECT pg_try_advisory_xact_lock(hashtextextended('footfall-store:' || $1::uuid::text || $2::uuid::text, 0))

-- name: lock_store
SELECT pg_advisory_xact_lock(hashtextextended('footfall-store:' || $1::uuid::text || $2::uuid::text, 0))

-- name: claim_dirty
SELECT mark_id, bucket_start FROM footfall_dirty
WHERE merchant_id = $1 AND store_id = $2
ORDER BY bucket_start
FOR UPDATE SKIP LOCKED

-- name: delete_dirty
DELETE FROM footfall_dirty WHERE merchant_id = $1 AND store_id = $2 AND mark_id = ANY($3::bigint[])

-- name: dirty_count
SELECT count(*) FROM footfall_dirty

-- Re-sessionising ------------------------------------------------------------------------------

-- name: changed_devices
SELECT DISTINCT device_hash FROM footfall_observations
WHERE merchant_id = $1 AND store_id = $2 AND seen_at >= $3 AND seen_at < $4
    AND (rssi IS NULL OR rssi >= $5)
UNION
SELECT device_hash FROM events
WHERE merchant_id = $1 AND kind = 'login' AND store_id = $2 AND device_hash IS NOT NULL
    AND occurred_at >= $3 AND occurred_at < $4

-- name: visits_reaching
SELECT device_hash, started_at, ended_at FROM footfall_visits
WHERE merchant_id = $1 AND store_id = $2 AND device_hash = ANY($3::text[]) AND ended_at >= $4

-- name: sightings_of
SELECT device_hash, seen_at, rssi, zone, source = 'assoc' AS connected, randomized
FROM footfall_observations
WHERE merchant_id = $1 AND store_id = $2 AND device_hash = ANY($3::text[]) AND seen_at >= $4
    AND (rssi IS NULL OR rssi >= $5)

-- name: logins_of
SELECT device_hash, occurred_at FROM events
WHERE merchant_id = $1 AND kind = 'login' AND store_id = $2 AND device_hash = ANY($3::text[])
    AND occurred_at >= $4

-- name: delete_visits_from
DELETE FROM footfall_visits v
USING unnest($3::text[], $4::timestamptz[]) AS x(device_hash, since)
WHERE v.merchant_id = $1 AND v.store_id = $2 AND v.device_hash = x.device_hash
    AND v.started_at >= x.since
RETURNING v.started_at, v.ended_at

-- name: insert_visits
INSERT INTO footfall_visits (merchant_id, store_id, device_hash, started_at, ended_at, zone,
    dwell, max_rssi, sightings, entered, visitor, connected, logged_in, randomized)
SELECT $1, $2, * FROM unnest($3::text[], $4::timestamptz[], $5::timestamptz[], $6::text[],
    $7::int[], $8::smallint[], $9::int[], $10::bool[], $11::bool[], $12::bool[], $13::bool[],
    $14::bool[])

-- name: delete_old_visits
DELETE FROM footfall_visits WHERE ctid = ANY(ARRAY(
    SELECT v.ctid FROM footfall_visits v
    LEFT JOIN footfall_retention r ON r.merchant_id = v.merchant_id
    WHERE v.started_at < now() - interval '1 day'
        AND v.started_at < now() - make_interval(days => coalesce(r.visits_days, 30))
    LIMIT $1))

-- Rollups --------------------------------------------------------------------------------------
-- $1 merchant, $2 store, $3/$4 the range, $5 the store's time zone, $6 bounce, $7 engaged
-- (seconds), $8 the visit cap (seconds: no visit starts earlier than $3 minus it and reaches in).
-- A visit counts in every bucket it overlaps for the device counts (detected, visitors, …), and
-- in the bucket it started in for the visit counts (visits, entries, bounces, dwell, …).
-- Occupancy: distinct devices seen in the 10 minutes before each 5-minute mark of the hour.

-- name: delete_hourly
DELETE FROM footfall_hourly
WHERE merchant_id = $1 AND store_id = $2 AND bucket_start >= $3 AND bucket_start < $4

-- name: insert_hourly
WITH buckets AS (
    SELECT b AS bucket_start, b + interval '1 hour' AS bucket_end
    FROM generate_series($3::timestamptz, $4::timestamptz - interval '1 hour', interval '1 hour') AS b
),
counts AS (
    SELECT b.bucket_start,
        CASE WHEN grouping(v.zone) = 1 THEN '' ELSE v.zone END AS zone,
        count(DISTINCT v.device_hash) AS detected,
        count(DISTINCT v.device_hash) FILTER (WHERE v.visitor) AS visitors,
        count(DISTINCT v.device_hash) FILTER (WHERE v.connected) AS connected,
        count(DISTINCT v.device_hash) FILTER (WHERE v.randomized) AS randomized,
        count(*) FILTER (WHERE v.started_at >= b.bucket_start AND v.visitor) AS visits,
        count(*) FILTER (WHERE v.started_at >= b.bucket_start AND v.entered) AS entries,
        count(*) FILTER (WHERE v.started_at >= b.bucket_start AND v.entered AND v.dwell < $6)
            AS bounces,
        count(*) FILTER (WHERE v.started_at >= b.bucket_start AND v.entered AND v.dwell >= $7)
            AS engaged,
        count(*) FILTER (WHERE v.started_at >= b.bucket_start AND v.visitor
            AND v.dwell >= 300 AND v.dwell < 1200) AS dwell_5_20,
        count(*) FILTER (WHERE v.started_at >= b.bucket_start AND v.visitor
            AND v.dwell >= 1200 AND v.dwell < 3600) AS dwell_20_60,
        count(*) FILTER (WHERE v.started_at >= b.bucket_start AND v.visitor
            AND v.dwell >= 3600 AND v.dwell < 21600) AS dwell_60_360,
        count(*) FILTER (WHERE v.started_at >= b.bucket_start AND v.visitor
            AND v.dwell >= 21600) AS dwell_360_plus,
        coalesce(sum(v.dwell) FILTER (WHERE v.started_at >= b.bucket_start AND v.visitor), 0)
            AS dwell_sum,
        count(*) FILTER (WHERE v.started_at >= b.bucket_start AND v.visitor AND EXISTS (
            SELECT 1 FROM footfall_visits p
            WHERE p.merchant_id = $1 AND p.store_id = $2 AND p.device_hash = v.device_hash
                AND p.visitor
                AND p.started_at < date_trunc('day', v.started_at AT TIME ZONE $5) AT TIME ZONE $5
        )) AS returned
    FROM buckets b
    JOIN footfall_visits v ON v.merchant_id = $1 AND v.store_id = $2
        AND v.started_at < b.bucket_end AND v.ended_at >= b.bucket_start
        AND v.started_at >= $3::timestamptz - make_interval(secs => $8)
    GROUP BY GROUPING SETS ((b.bucket_start, v.zone), (b.bucket_start))
    HAVING grouping(v.zone) = 1 OR v.zone <> ''
),
marks AS (
    SELECT b.bucket_start, m AS at
    FROM buckets b, generate_series(b.bucket_start, b.bucket_end - interval '5 minutes',
                                    interval '5 minutes') AS m
),
present AS (
    SELECT m.bucket_start, m.at,
        CASE WHEN grouping(v.zone) = 1 THEN '' ELSE v.zone END AS zone,
        count(DISTINCT v.device_hash) AS n
    FROM marks m
    JOIN footfall_visits v ON v.merchant_id = $1 AND v.store_id = $2
        AND v.started_at <= m.at AND v.ended_at >= m.at - interval '10 minutes'
        AND v.started_at >= $3::timestamptz - make_interval(secs => $8)
    GROUP BY GROUPING SETS ((m.bucket_start, m.at, v.zone), (m.bucket_start, m.at))
    HAVING grouping(v.zone) = 1 OR v.zone <> ''
),
occupancy AS (
    SELECT bucket_start, zone, sum(n) / 12.0 AS occupancy_avg, max(n) AS occupancy_peak
    FROM present GROUP BY bucket_start, zone
)
INSERT INTO footfall_hourly (merchant_id, store_id, zone, bucket_start, local_start, detected,
    passers_by, visitors, connected, randomized, visits, entries, bounces, engaged, dwell_5_20,
    dwell_20_60, dwell_60_360, dwell_360_plus, dwell_sum, returning_visits, new_visits, occupancy_avg,
    occupancy_peak)
SELECT $1, $2, zone, bucket_start, bucket_start AT TIME ZONE $5, coalesce(c.detected, 0),
    coalesce(c.detected - c.visitors, 0), coalesce(c.visitors, 0), coalesce(c.connected, 0),
    coalesce(c.randomized, 0), coalesce(c.visits, 0), coalesce(c.entries, 0),
    coalesce(c.bounces, 0), coalesce(c.engaged, 0), coalesce(c.dwell_5_20, 0),
    coalesce(c.dwell_20_60, 0), coalesce(c.dwell_60_360, 0), coalesce(c.dwell_360_plus, 0),
    coalesce(c.dwell_sum, 0), coalesce(c.returned, 0), coalesce(c.visits - c.returned, 0),
    coalesce(o.occupancy_avg, 0), coalesce(o.occupancy_peak, 0)
-- An hour can have occupancy without a visit in it: seen in the 10 minutes before its marks.
FROM counts c FULL JOIN occupancy o USING (bucket_start, zone)

-- $3/$4: the first and last store-local day; occupancy comes from the day's hourly rows
-- (recomputed first): the mean of the hours (hours without a row count as 0) and the peak.

-- name: delete_daily
DELETE FROM footfall_daily WHERE merchant_id = $1 AND store_id = $2 AND day BETWEEN $3 AND $4

-- name: insert_daily
WITH days AS (
    SELECT d::date AS day, d::date::timestamp AT TIME ZONE $5 AS day_start,
        (d::date + 1)::timestamp AT TIME ZONE $5 AS day_end
    FROM generate_series($3::date, $4::date, interval '1 day') AS d
),
counts AS (
    SELECT d.day,
        CASE WHEN grouping(v.zone) = 1 THEN '' ELSE v.zone END AS zone,
        count(DISTINCT v.device_hash) AS detected,
        count(DISTINCT v.device_hash) FILTER (WHERE v.visitor) AS visitors,
        count(DISTINCT v.device_hash) FILTER (WHERE v.connected) AS connected,
        count(DISTINCT v.device_hash) FILTER (WHERE v.randomized) AS randomized,
        count(*) FILTER (WHERE v.started_at >= d.day_start AND v.visitor) AS visits,
        count(*) FILTER (WHERE v.started_at >= d.day_start AND v.entered) AS entries,
        count(*) FILTER (WHERE v.started_at >= d.day_start AND v.entered AND v.dwell < $6)
            AS bounces,
        count(*) FILTER (WHERE v.started_at >= d.day_start AND v.entered AND v.dwell >= $7)
            AS engaged,
        count(*) FILTER (WHERE v.started_at >= d.day_start AND v.visitor
            AND v.dwell >= 300 AND v.dwell < 1200) AS dwell_5_20,
        count(*) FILTER (WHERE v.started_at >= d.day_start AND v.visitor
            AND v.dwell >= 1200 AND v.dwell < 3600) AS dwell_20_60,
        count(*) FILTER (WHERE v.started_at >= d.day_start AND v.visitor
            AND v.dwell >= 3600 AND v.dwell < 21600) AS dwell_60_360,
        count(*) FILTER (WHERE v.started_at >= d.day_start AND v.visitor
            AND v.dwell >= 21600) AS dwell_360_plus,
        coalesce(sum(v.dwell) FILTER (WHERE v.started_at >= d.day_start AND v.visitor), 0)
            AS dwell_sum,
        count(*) FILTER (WHERE v.started_at >= d.day_start AND v.visitor AND EXISTS (
            SELECT 1 FROM footfall_visits p
            WHERE p.merchant_id = $1 AND p.store_id = $2 AND p.device_hash = v.device_hash
                AND p.visitor AND p.started_at < d.day_start
        )) AS returned
    FROM days d
    JOIN footfall_visits v ON v.merchant_id = $1 AND v.store_id = $2
        AND v.started_at < d.day_end AND v.ended_at >= d.day_start
        AND v.started_at >= ($3::date::timestamp AT TIME ZONE $5) - make_interval(secs => $8)
    GROUP BY GROUPING SETS ((d.day, v.zone), (d.day))
    HAVING grouping(v.zone) = 1 OR v.zone <> ''
),
binned AS (
    SELECT d.day, v.zone,
        CASE WHEN v.dwell < 3600 THEN v.dwell / 60
             WHEN v.dwell < 21600 THEN 60 + (v.dwell - 3600) / 300
             WHEN v.dwell < 43200 THEN 120 + (v.dwell - 21600) / 1800
             ELSE 132 END + 1 AS bin
    FROM days d
    JOIN footfall_visits v ON v.merchant_id = $1 AND v.store_id = $2 AND v.visitor
        AND v.started_at >= d.day_start AND v.started_at < d.day_end
),
bins AS (
    SELECT day, CASE WHEN grouping(zone) = 1 THEN '' ELSE zone END AS zone, bin, count(*) AS n
    FROM binned
    GROUP BY GROUPING SETS ((day, zone, bin), (day, bin))
    HAVING grouping(zone) = 1 OR zone <> ''
),
histograms AS (
    SELECT c.day, c.zone, array_agg(coalesce(b.n, 0)::int ORDER BY i) AS dwell_hist
    FROM counts c CROSS JOIN generate_series(1, 133) AS i
    LEFT JOIN bins b ON b.day = c.day AND b.zone = c.zone AND b.bin = i
    GROUP BY c.day, c.zone
),
occupancy AS (
    SELECT d.day, h.zone,
        sum(h.occupancy_avg::float8) / (extract(epoch FROM d.day_end - d.day_start) / 3600)
            AS occupancy_avg,
        max(h.occupancy_peak) AS occupancy_peak
    FROM days d
    JOIN footfall_hourly h ON h.merchant_id = $1 AND h.store_id = $2
        AND h.bucket_start >= d.day_start AND h.bucket_start < d.day_end
    GROUP BY d.day, d.day_start, d.day_end, h.zone
)
INSERT INTO footfall_daily (merchant_id, store_id, zone, day, detected, passers_by, visitors,
    connected, randomized, visits, entries, bounces, engaged, dwell_5_20, dwell_20_60,
    dwell_60_360, dwell_360_plus, dwell_sum, returning_visits, new_visits, occupancy_avg,
    occupancy_peak, dwell_hist)
SELECT $1, $2, c.zone, c.day, c.detected, c.detected - c.visitors, c.visitors, c.connected,
    c.randomized, c.visits, c.entries, c.bounces, c.engaged, c.dwell_5_20, c.dwell_20_60,
    c.dwell_60_360, c.dwell_360_plus, c.dwell_sum, c.returned, c.visits - c.returned,
    coalesce(o.occupancy_avg, 0), coalesce(o.occupancy_peak, 0), h.dwell_hist
FROM counts c
JOIN histograms h USING (day, zone)
LEFT JOIN occupancy o USING (day, zone)

-- name: stores_with_data
SELECT DISTINCT merchant_id, store_id FROM footfall_daily WHERE day BETWEEN $1 AND $2
UNION
SELECT DISTINCT merchant_id, store_id FROM footfall_visits
WHERE started_at >= $3 AND started_at < $4
UNION
SELECT DISTINCT merchant_id, store_id FROM footfall_observations
WHERE seen_at >= $3 AND seen_at < $4

-- Metrics (analytics/metrics.py) -----------------------------------------------------------------
-- $1 merchant, $2 its stores asked for, $3 zone ('' = whole stores).

-- name: daily_totals
SELECT sum(detected) AS detected, sum(passers_by) AS passers_by, sum(visitors) AS visitors,
    sum(connected) AS connected, sum(randomized) AS randomized, sum(visits) AS visits,
    sum(entries) AS entries, sum(bounces) AS bounces, sum(engaged) AS engaged,
    sum(dwell_5_20) AS dwell_5_20, sum(dwell_20_60) AS dwell_20_60,
    sum(dwell_60_360) AS dwell_60_360, sum(dwell_360_plus) AS dwell_360_plus,
    sum(dwell_sum) AS dwell_sum, sum(returning_visits) AS returning_visits,
    sum(new_visits) AS new_visits
FROM footfall_daily
WHERE merchant_id = $1 AND store_id = ANY($2::uuid[]) AND zone = $3 AND day BETWEEN $4 AND $5

-- name: daily_series
SELECT CASE $6::text WHEN 'week' THEN date_trunc('week', day)::date
                     WHEN 'month' THEN date_trunc('month', day)::date
                     ELSE day END AS period,
    sum(detected) AS detected, sum(passers_by) AS passers_by, sum(visitors) AS visitors,
    sum(connected) AS connected, sum(randomized) AS randomized, sum(visits) AS visits,
    sum(entries) AS entries, sum(bounces) AS bounces, sum(engaged) AS engaged,
    sum(dwell_5_20) AS dwell_5_20, sum(dwell_20_60) AS dwell_20_60,
    sum(dwell_60_360) AS dwell_60_360, sum(dwell_360_plus) AS dwell_360_plus,
    sum(dwell_sum) AS dwell_sum, sum(returning_visits) AS returning_visits,
    sum(new_visits) AS new_visits
FROM footfall_daily
WHERE merchant_id = $1 AND store_id = ANY($2::uuid[]) AND zone = $3 AND day BETWEEN $4 AND $5
GROUP BY 1

-- name: hourly_series
SELECT local_start AS period,
    sum(detected) AS detected, sum(passers_by) AS passers_by, sum(visitors) AS visitors,
    sum(connected) AS connected, sum(randomized) AS randomized, sum(visits) AS visits,
    sum(entries) AS entries, sum(bounces) AS bounces, sum(engaged) AS engaged,
    sum(dwell_5_20) AS dwell_5_20, sum(dwell_20_60) AS dwell_20_60,
    sum(dwell_60_360) AS dwell_60_360, sum(dwell_360_plus) AS dwell_360_plus,
    sum(dwell_sum) AS dwell_sum, sum(returning_visits) AS returning_visits,
    sum(new_visits) AS new_visits
FROM footfall_hourly
WHERE merchant_id = $1 AND store_id = ANY($2::uuid[]) AND zone = $3
    AND local_start >= $4 AND local_start < $5
GROUP BY 1

-- name: heatmap
SELECT extract(isodow FROM local_start) AS weekday, extract(hour FROM local_start) AS hour,
    sum(visits) AS visits
FROM footfall_hourly
WHERE merchant_id = $1 AND store_id = ANY($2::uuid[]) AND zone = $3
    AND local_start >= $4 AND local_start < $5
GROUP BY 1, 2

-- name: dwell_histogram
SELECT u.bin, sum(u.n) AS n
FROM footfall_daily d, unnest(d.dwell_hist) WITH ORDINALITY AS u(n, bin)
WHERE d.merchant_id = $1 AND d.store_id = ANY($2::uuid[]) AND d.zone = $3
    AND d.day BETWEEN $4 AND $5
GROUP BY u.bin

-- name: daily_totals_by_store
SELECT store_id, sum(detected) AS detected, sum(passers_by) AS passers_by,
    sum(visitors) AS visitors, sum(connected) AS connected, sum(randomized) AS randomized,
    sum(visits) AS visits, sum(entries) AS entries, sum(bounces) AS bounces,
    sum(engaged) AS engaged, sum(dwell_5_20) AS dwell_5_20, sum(dwell_20_60) AS dwell_20_60,
    sum(dwell_60_360) AS dwell_60_360, sum(dwell_360_plus) AS dwell_360_plus,
    sum(dwell_sum) AS dwell_sum, sum(returning_visits) AS returning_visits,
    sum(new_visits) AS new_visits
FROM footfall_daily
WHERE merchant_id = $1 AND store_id = ANY($2::uuid[]) AND zone = $3 AND day BETWEEN $4 AND $5
GROUP BY store_id

-- name: dwell_histogram_by_store
SELECT d.store_id, u.bin, sum(u.n) AS n
FROM footfall_daily d, unnest(d.dwell_hist) WITH ORDINALITY AS u(n, bin)
WHERE d.merchant_id = $1 AND d.store_id = ANY($2::uuid[]) AND d.zone = $3
    AND d.day BETWEEN $4 AND $5
GROUP BY d.store_id, u.bin

-- Distinct devices of each store seen in ($4, $5] at or above its detected RSSI.
-- name: devices_seen_since
SELECT count(DISTINCT (o.store_id, o.device_hash))
FROM footfall_observations o
LEFT JOIN footfall_settings fs ON fs.merchant_id = o.merchant_id AND fs.store_id = o.store_id
WHERE o.merchant_id = $1 AND o.store_id = ANY($2::uuid[]) AND ($3::text IS NULL OR o.zone = $3)
    AND o.seen_at > $4 AND o.seen_at <= $5
    AND (o.rssi IS NULL OR o.rssi >= coalesce(fs.detected_rssi, -85))

-- $2/$4: (store, store-local hour start) pairs.
-- name: occupancy_at
SELECT sum(h.occupancy_avg)
FROM unnest($2::uuid[], $4::timestamp[]) AS x(store_id, local_start)
JOIN footfall_hourly h ON h.merchant_id = $1 AND h.store_id = x.store_id AND h.zone = $3
    AND h.local_start = x.local_start

-- name: occupancy_since
SELECT bucket_start, sum(occupancy_avg) AS occupancy_avg, sum(occupancy_peak) AS occupancy_peak
FROM footfall_hourly
WHERE merchant_id = $1 AND store_id = ANY($2::uuid[]) AND zone = $3
    AND bucket_start > $4::timestamptz - interval '1 hour'
GROUP BY bucket_start
ORDER BY bucket_start

-- Loyalty's shoppers at stores $2 with login days from $3 (the lookback) to $4, of whom those
-- with a login from $5 on are the period's: how many logged in on one day only (first time),
-- and the device hashes of the others (footfall_login_days: days already store-local).
-- name: loyalty_shoppers
WITH per AS (
    SELECT device_hash, min(day) AS first_day, max(day) AS last_day
    FROM footfall_login_days
    WHERE merchant_id = $1 AND store_id = ANY($2::uuid[]) AND day BETWEEN $3 AND $4
    GROUP BY device_hash
    HAVING max(day) >= $5
)
SELECT count(*) FILTER (WHERE first_day = last_day) AS single,
    array_agg(device_hash) FILTER (WHERE first_day < last_day) AS repeaters
FROM per

-- The distinct login days, in order, of the shoppers $5 at stores $2 from $3 to $4.
-- name: loyalty_days_of
SELECT device_hash, array_agg(DISTINCT day ORDER BY day) AS days
FROM footfall_login_days
WHERE merchant_id = $1 AND device_hash = ANY($5::text[]) AND store_id = ANY($2::uuid[])
    AND day BETWEEN $3 AND $4
GROUP BY device_hash

-- The store-local days [$3, $4] of the login days, recomputed from the login events ($5: the
-- store's time zone).
-- name: delete_login_days
DELETE FROM footfall_login_days WHERE merchant_id = $1 AND store_id = $2 AND day BETWEEN $3 AND $4

-- name: insert_login_days
INSERT INTO footfall_login_days (merchant_id, store_id, day, device_hash)
SELECT DISTINCT $1::uuid, $2::uuid, (occurred_at AT TIME ZONE $5)::date, device_hash
FROM events
WHERE merchant_id = $1 AND kind = 'login' AND store_id = $2 AND device_hash IS NOT NULL
    AND occurred_at >= $3::date::timestamp AT TIME ZONE $5
    AND occurred_at < ($4::date + 1)::timestamp AT TIME ZONE $5
