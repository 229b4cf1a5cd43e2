-- The console's Marketing overview and tag pages (marketing/console_pages.py; migration 0045).

-- name: tag_holders
-- How many of the merchant's profiles hold each tag now (as of each one's latest event).
SELECT k AS tag_id, count(*) AS holders
FROM marketing_profiles p, jsonb_object_keys(p.tags) AS k
WHERE p.merchant_id = $1
GROUP BY k

-- name: tag
SELECT tag_id, name_zh, name_en, rule, version, enabled
FROM marketing_tags WHERE merchant_id = $1 AND tag_id = $2

-- name: triggers_of
SELECT trigger_id, name_zh, name_en, event, dwell_minutes, store_id, channel, enabled
FROM marketing_triggers WHERE merchant_id = $1
ORDER BY created_at, trigger_id

-- name: recent_contacts
-- The merchant's contacts decided since $2, by trigger and status.
SELECT trigger_id, status, count(*) AS contacts
FROM marketing_contacts
WHERE merchant_id = $1 AND decided_at >= $2
GROUP BY trigger_id, status
