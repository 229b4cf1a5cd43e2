-- The footfall dashboards' own reads (analytics/dashboards.py); the metrics themselves are in
-- footfall.sql (analytics/metrics.py).

-- The zones (router ids) with rollups at a store since a day, for the zone picker.
-- name: store_zones
SELECT DISTINCT zone
FROM footfall_daily
WHERE merchant_id = $1 AND store_id = $2 AND zone <> '' AND day >= $3
ORDER BY zone
LIMIT $4
