-- The console's trigger pages (marketing/console_triggers.py; migration 0045).

-- name: trigger
SELECT * FROM marketing_triggers WHERE merchant_id = $1 AND trigger_id = $2

-- name: trigger_for_update
SELECT * FROM marketing_triggers WHERE merchant_id = $1 AND trigger_id = $2 FOR UPDATE

-- name: trigger_version
SELECT version FROM marketing_triggers WHERE merchant_id = $1 AND trigger_id = $2

-- name: webhooks_of
-- The merchant's webhooks (made elsewhere; the console only chooses one for a trigger).
SELECT webhook_id, url, sealed_secret
FROM marketing_webhooks WHERE merchant_id = $1
ORDER BY created_at, webhook_id
