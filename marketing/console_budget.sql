-- The console's contact budget page (marketing/console_budget.py; migration 0045).

-- name: budget
SELECT max_per_day, max_per_week, quiet_from, quiet_until, k_threshold
FROM marketing_settings WHERE merchant_id = $1

-- name: lock_budget
-- One budget edit of a merchant at a time (the audit entry's "before" is what it replaces).
SELECT pg_advisory_xact_lock(hashtextextended('marketing_settings:' || $1::uuid::text, 0))

-- name: save_budget
INSERT INTO marketing_settings AS s
    (merchant_id, max_per_day, max_per_week, quiet_from, quiet_until, k_threshold)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (merchant_id) DO UPDATE
SET max_per_day = EXCLUDED.max_per_day, max_per_week = EXCLUDED.max_per_week,
    quiet_from = EXCLUDED.quiet_from, quiet_until = EXCLUDED.quiet_until,
    k_threshold = EXCLUDED.k_threshold, updated_at = now()
