-- A shopper's export and erasure in analytics (analytics/privacy.py, docs/privacy.md; tables of
-- migrations 0001, 0016, 0017, 0019). $1 is the merchant; $2 the shopper's device pseudonyms
-- (stable `device_hash`es, and the probe hashes of the days still kept).

-- name: events
SELECT event_id, kind, store_id, occurred_at, data FROM events
WHERE merchant_id = $1 AND device_hash = ANY($2::text[])
ORDER BY occurred_at, event_id

-- name: observations
-- The raw sightings (one a second at most), summed per store, zone, source and UTC day.
SELECT store_id, zone, source, seen_at::date AS day, count(*) AS sightings,
       min(seen_at) AS first_seen_at, max(seen_at) AS last_seen_at
FROM footfall_observations
WHERE merchant_id = $1 AND device_hash = ANY($2::text[])
GROUP BY store_id, zone, source, seen_at::date
ORDER BY day, store_id, zone, source

-- name: visits
SELECT store_id, zone, started_at, ended_at, dwell, sightings, max_rssi, entered, visitor,
       connected, logged_in, randomized
FROM footfall_visits
WHERE merchant_id = $1 AND device_hash = ANY($2::text[])
ORDER BY started_at, store_id

-- name: login_days
SELECT store_id, day FROM footfall_login_days
WHERE merchant_id = $1 AND device_hash = ANY($2::text[])
ORDER BY day, store_id

-- name: long_stays
SELECT store_id, day, seconds FROM footfall_long_stays
WHERE merchant_id = $1 AND device_hash = ANY($2::text[])
ORDER BY day, store_id

-- name: fixed_devices
SELECT store_id, reason, since FROM footfall_fixed_devices
WHERE merchant_id = $1 AND device_hash = ANY($2::text[])
ORDER BY since, store_id

-- name: device_os
SELECT os_family, seen_at FROM footfall_device_os
WHERE merchant_id = $1 AND device_hash = ANY($2::text[])

-- name: erase_events
-- Each login, logout and claim stays counted (the dashboard's login counts) without the device.
UPDATE events SET device_hash = NULL WHERE merchant_id = $1 AND device_hash = ANY($2::text[])

-- name: erase_observations
DELETE FROM footfall_observations WHERE merchant_id = $1 AND device_hash = ANY($2::text[])

-- name: erase_visits
DELETE FROM footfall_visits WHERE merchant_id = $1 AND device_hash = ANY($2::text[])

-- name: erase_login_days
DELETE FROM footfall_login_days WHERE merchant_id = $1 AND device_hash = ANY($2::text[])

-- name: erase_long_stays
DELETE FROM footfall_long_stays WHERE merchant_id = $1 AND device_hash = ANY($2::text[])

-- name: erase_fixed_devices
DELETE FROM footfall_fixed_devices WHERE merchant_id = $1 AND device_hash = ANY($2::text[])

-- name: erase_device_os
DELETE FROM footfall_device_os WHERE merchant_id = $1 AND device_hash = ANY($2::text[])
