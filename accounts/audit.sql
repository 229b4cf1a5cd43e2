-- The merchant's audit log (accounts/audit.py). Table: audit_log (migration 0033).

-- name: insert_entry
INSERT INTO audit_log (merchant_id, actor_id, actor_label, action, target_id, target_name,
                       before, after)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
RETURNING entry_id

-- name: insert_entries
-- The same change in the log of each merchant of $1 (a record they share: a plan's limits).
INSERT INTO audit_log (merchant_id, actor_id, actor_label, action, target_id, target_name,
                       before, after)
SELECT merchant_id, $2::uuid, $3::text, $4::text, $5::text, $6::text, $7::jsonb, $8::jsonb
FROM unnest($1::uuid[]) AS merchant_id

-- name: entries
-- A page of the merchant's log, newest first: the entries older than $2 (NULL: the newest),
-- $3 at most, each with its actor's name and email when a user made it.
SELECT a.entry_id, a.at, a.actor_id, a.actor_label, a.action, a.target_id, a.target_name,
       a.before, a.after, u.display_name AS actor_name, u.email AS actor_email
FROM audit_log a
LEFT JOIN user_accounts u ON u.user_id = a.actor_id
WHERE a.merchant_id = $1 AND ($2::bigint IS NULL OR a.entry_id < $2)
ORDER BY a.entry_id DESC
LIMIT $3
