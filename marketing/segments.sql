-- Segments (marketing/segments.py, migration 0045).

-- name: insert_segment
INSERT INTO marketing_segments (merchant_id, segment_id, name_zh, name_en, rule,
                                shared_with_advertisers)
VALUES ($1, $2, $3, $4, $5::jsonb, $6)
RETURNING segment_id, name_zh, name_en, rule, shared_with_advertisers, updated_at

-- name: update_segment
UPDATE marketing_segments
SET name_zh = $3, name_en = $4, rule = $5::jsonb, shared_with_advertisers = $6,
    updated_at = clock_timestamp()
WHERE merchant_id = $1 AND segment_id = $2
RETURNING segment_id, name_zh, name_en, rule, shared_with_advertisers, updated_at

-- name: list_segments
SELECT segment_id, name_zh, name_en, rule, shared_with_advertisers, updated_at
FROM marketing_segments WHERE merchant_id = $1 ORDER BY name_en, segment_id

-- name: k_threshold
SELECT k_threshold FROM marketing_settings WHERE merchant_id = $1

-- name: segment
SELECT segment_id, name_zh, name_en, rule, shared_with_advertisers, updated_at
FROM marketing_segments WHERE merchant_id = $1 AND segment_id = $2

-- name: segment_for_update
SELECT segment_id, name_zh, name_en, rule, shared_with_advertisers, updated_at
FROM marketing_segments WHERE merchant_id = $1 AND segment_id = $2
FOR UPDATE

-- name: delete_segment
DELETE FROM marketing_segments WHERE merchant_id = $1 AND segment_id = $2
RETURNING segment_id, name_zh, name_en, rule, shared_with_advertisers, updated_at
