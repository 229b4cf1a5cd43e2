-- The development email outbox (accounts/email.py). Table: email_outbox (migration 0035).

-- name: outbox_insert
INSERT INTO email_outbox (message_id, to_address, subject, body) VALUES ($1, $2, $3, $4)

-- name: outbox_page
SELECT created_at, to_address, subject, body
FROM email_outbox
ORDER BY created_at DESC, message_id
LIMIT $1

-- name: outbox_purge
DELETE FROM email_outbox WHERE created_at < now() - $1::interval
