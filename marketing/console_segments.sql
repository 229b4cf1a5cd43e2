-- The console's segment pages (marketing/console_segments.py; migration 0045).

-- name: lock_segments
-- One segment save of a merchant at a time (a new one is counted against the limit first).
SELECT pg_advisory_xact_lock(hashtextextended('marketing_segments:' || $1::uuid::text, 0))

-- name: segment_count
SELECT count(*) FROM marketing_segments WHERE merchant_id = $1
