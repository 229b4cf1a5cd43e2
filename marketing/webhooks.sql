-- Signed webhooks (marketing/webhooks.py; marketing_webhooks of migration 0045).

-- name: insert_webhook
INSERT INTO marketing_webhooks (merchant_id, webhook_id, url, sealed_secret)
VALUES ($1, $2, $3, $4)

-- name: webhook
SELECT url, sealed_secret FROM marketing_webhooks WHERE merchant_id = $1 AND webhook_id = $2
