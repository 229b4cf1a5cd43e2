-- name: insert_event
INSERT INTO events (merchant_id, store_id, kind, device_hash, data, occurred_at)
VALUES ($1, $2, $3, $4, $5, coalesce($6, now()))

-- name: insert_events
INSERT INTO events (merchant_id, store_id, kind, device_hash, data)
SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::jsonb[])

-- name: logins_by_store_between
SELECT store_id, count(*) AS logins, count(DISTINCT device_hash) AS devices,
       max(occurred_at) AS last_login
FROM events
WHERE merchant_id = $1 AND kind = 'login' AND occurred_at >= $2 AND occurred_at < $3
GROUP BY store_id

-- name: recent_logins
SELECT occurred_at, store_id, device_hash, data->>'method' AS method
FROM events
WHERE merchant_id = $1 AND kind = 'login' AND occurred_at >= $2
ORDER BY occurred_at DESC
LIMIT $3
