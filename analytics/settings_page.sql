-- The footfall settings page (analytics/settings_page.py). Tables: footfall_fixed_devices,
-- footfall_long_stays, footfall_observations (migration 0016).

-- name: fixed_devices
-- A store's staff and fixed devices, newest first, with their long stays of the days kept
-- (7: analytics.retention deletes older ones); $3 rows at most.
SELECT f.device_hash, f.reason, f.since,
    count(l.day) AS long_days, max(l.day) AS last_long_day, max(l.seconds) AS longest
FROM footfall_fixed_devices f
LEFT JOIN footfall_long_stays l
    ON l.merchant_id = f.merchant_id AND l.store_id = f.store_id
    AND l.device_hash = f.device_hash
WHERE f.merchant_id = $1 AND f.store_id = $2
GROUP BY f.device_hash, f.reason, f.since
ORDER BY f.since DESC, f.device_hash
LIMIT $3

-- name: count_fixed_devices
SELECT count(*) FROM footfall_fixed_devices WHERE merchant_id = $1 AND store_id = $2

-- name: unlist_fixed_hash
-- Take a device the merchant listed off the list, by its hash (the page never has the MAC);
-- a detected one stays until the retention job releases it.
DELETE FROM footfall_fixed_devices
WHERE merchant_id = $1 AND store_id = $2 AND device_hash = $3 AND reason = 'listed'

-- name: observations_between
SELECT seen_at, device_hash, rssi, randomized FROM footfall_observations
WHERE merchant_id = $1 AND store_id = $2 AND seen_at >= $3 AND seen_at < $4
