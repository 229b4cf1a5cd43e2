-- Triggers (marketing/triggers.py, migration 0045).

-- name: insert_trigger
INSERT INTO marketing_triggers (
    merchant_id, trigger_id, name_zh, name_en, event, dwell_minutes, store_id, rule, channel,
    offer_key, message_zh, message_en, coupon_id, webhook_id, holdout_share, window_days, enabled)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9, $10, $11, $12, $13, $14, $15, $16, $17)

-- name: update_trigger
UPDATE marketing_triggers
SET name_zh = $3, name_en = $4, event = $5, dwell_minutes = $6, store_id = $7, rule = $8::jsonb,
    channel = $9, offer_key = $10, message_zh = $11, message_en = $12, coupon_id = $13,
    webhook_id = $14, holdout_share = $15, window_days = $16, enabled = $17,
    version = version + 1, updated_at = now()
WHERE merchant_id = $1 AND trigger_id = $2
RETURNING version

-- name: trigger_named
SELECT trigger_id FROM marketing_triggers WHERE merchant_id = $1 AND name_en = $2
ORDER BY created_at LIMIT 1
