-- The demo merchant's marketing (marketing/demo.py; tables: migration 0045).

-- name: insert_segment
-- A demo segment, once (its id is fixed per merchant and name).
INSERT INTO marketing_segments (merchant_id, segment_id, name_zh, name_en, rule,
                                shared_with_advertisers)
VALUES ($1, $2, $3, $4, $5::jsonb, $6)
ON CONFLICT (merchant_id, segment_id) DO NOTHING

-- name: trigger_count
SELECT count(*) FROM marketing_triggers WHERE merchant_id = $1
