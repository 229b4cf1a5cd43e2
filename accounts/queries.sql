-- name: insert_merchant
INSERT INTO merchants (merchant_id, name) VALUES ($1, $2)

-- name: insert_store
INSERT INTO stores (merchant_id, store_id, name, timezone) VALUES ($1, $2, $3, $4)

-- name: list_stores
SELECT merchant_id, store_id, name, timezone
FROM stores
WHERE merchant_id = $1
ORDER BY name, store_id

-- name: get_store
SELECT merchant_id, store_id, name, timezone
FROM stores
WHERE merchant_id = $1 AND store_id = $2

-- name: insert_user
INSERT INTO user_accounts (user_id, email, display_name, password_hash)
VALUES ($1, $2, $3, $4)
ON CONFLICT (email) DO NOTHING
RETURNING user_id

-- name: user_by_email
SELECT user_id, email, display_name, password_hash
FROM user_accounts
WHERE email = $1

-- name: update_password_hash
UPDATE user_accounts SET password_hash = $2 WHERE user_id = $1

-- name: upsert_membership
INSERT INTO memberships (merchant_id, user_id, role) VALUES ($1, $2, $3)
ON CONFLICT (merchant_id, user_id) DO UPDATE SET role = EXCLUDED.role

-- name: memberships_of
-- A suspended merchant's members cannot use the console for it: it is left out.
SELECT m.merchant_id, merchants.name AS merchant_name, m.role
FROM memberships m
JOIN merchants USING (merchant_id)
WHERE m.user_id = $1 AND merchants.suspended_at IS NULL
ORDER BY merchants.name, m.merchant_id

-- name: memberships_and_suspended
-- memberships_of and the suspended ones with it, told apart: the console's layout needs both.
SELECT m.merchant_id, merchants.name AS merchant_name, m.role,
       merchants.suspended_at IS NOT NULL AS suspended
FROM memberships m
JOIN merchants USING (merchant_id)
WHERE m.user_id = $1
ORDER BY merchants.name, m.merchant_id

-- name: merchant_suspended
SELECT suspended_at IS NOT NULL FROM merchants WHERE merchant_id = $1

-- name: member_names
SELECT u.user_id, u.display_name
FROM memberships m JOIN user_accounts u USING (user_id)
WHERE m.merchant_id = $1 AND m.user_id = ANY($2::uuid[])

-- name: insert_login_attempt
INSERT INTO login_attempts (email, client_hash, succeeded) VALUES ($1, $2, $3)

-- name: lockout_ends_at
-- When the lock on this email from this client ($4) lifts, or NULL when there is none: the pair
-- is locked by $3 failures in the window $2 since its last success, the client by $5 failures
-- in the window whatever the emails (one address trying many accounts). A lock lifts once the
-- failure that completed its count leaves the window.
WITH pair AS (
    SELECT attempted_at FROM login_attempts
    WHERE email = $1 AND client_hash = $4 AND NOT succeeded
      AND attempted_at > now() - $2::interval
      AND attempted_at > coalesce(
          (SELECT max(attempted_at) FROM login_attempts
           WHERE email = $1 AND client_hash = $4 AND succeeded),
          '-infinity')
    ORDER BY attempted_at DESC
    OFFSET $3 - 1
    LIMIT 1
), client AS (
    SELECT attempted_at FROM login_attempts
    WHERE client_hash = $4 AND NOT succeeded AND attempted_at > now() - $2::interval
    ORDER BY attempted_at DESC
    OFFSET $5 - 1
    LIMIT 1
)
SELECT max(attempted_at) + $2::interval AS ends_at, bool_or(by_client) AS by_client
FROM (SELECT attempted_at, false AS by_client FROM pair
      UNION ALL SELECT attempted_at, true FROM client) AS locks

-- name: insert_session
INSERT INTO console_sessions (session_hash, user_id, csrf_token, expires_at, device)
VALUES ($1, $2, $3, $4, $5)

-- name: session_by_hash
-- With whether the user is a platform operator (accounts/operators.py): every console page's
-- layout asks, and the session is read for every page anyway.
SELECT u.user_id, u.email, u.display_name, s.csrf_token, s.expires_at, s.session_id,
       s.last_seen_at < now() - interval '1 minute' AS stale,
       EXISTS (SELECT 1 FROM platform_operators o WHERE o.user_id = u.user_id) AS operator
FROM console_sessions s
JOIN user_accounts u USING (user_id)
WHERE s.session_hash = $1 AND s.expires_at > now()

-- name: touch_session
UPDATE console_sessions SET last_seen_at = now() WHERE session_hash = $1

-- name: delete_session
DELETE FROM console_sessions WHERE session_hash = $1

-- name: delete_expired_sessions
DELETE FROM console_sessions WHERE expires_at <= now()

-- name: delete_old_login_attempts
DELETE FROM login_attempts WHERE attempted_at < now() - $1::interval

-- name: merchant_named
SELECT merchant_id FROM merchants WHERE name = $1 ORDER BY created_at LIMIT 1

-- name: find_stores
-- Stores by id or by exact name (the command line's --store), optionally of one merchant given
-- by id or exact name ($2 NULL: any merchant), with their merchant's name.
SELECT s.merchant_id, s.store_id, s.name, s.timezone, m.name AS merchant_name
FROM stores s
JOIN merchants m USING (merchant_id)
WHERE (s.store_id::text = $1 OR s.name = $1)
      AND ($2::text IS NULL OR m.merchant_id::text = $2 OR m.name = $2)
ORDER BY m.name, s.name, s.store_id

-- name: venue_facts
-- One row per store (or one with a NULL store for a merchant without stores).
SELECT m.category, s.store_id, s.timezone, s.city, s.category AS store_category
FROM merchants m LEFT JOIN stores s ON s.merchant_id = m.merchant_id
WHERE m.merchant_id = $1

-- name: set_merchant_category
UPDATE merchants SET category = $2 WHERE merchant_id = $1

-- name: set_store_city
UPDATE stores SET city = $3 WHERE merchant_id = $1 AND store_id = $2

-- name: member_role
SELECT role FROM memberships WHERE merchant_id = $1 AND user_id = $2

-- name: member_stores
SELECT s.merchant_id, s.store_id, s.name, s.timezone
FROM membership_stores ms JOIN stores s USING (merchant_id, store_id)
WHERE ms.merchant_id = $1 AND ms.user_id = $2
ORDER BY s.name, s.store_id

-- name: clear_member_stores
DELETE FROM membership_stores WHERE merchant_id = $1 AND user_id = $2

-- name: add_member_stores
INSERT INTO membership_stores (merchant_id, user_id, store_id)
SELECT $1, $2, unnest($3::uuid[])
ON CONFLICT DO NOTHING

-- name: give_new_staff_every_store
INSERT INTO membership_stores (merchant_id, user_id, store_id)
SELECT $1, $2, store_id FROM stores
WHERE merchant_id = $1
      AND NOT EXISTS (SELECT 1 FROM membership_stores WHERE merchant_id = $1 AND user_id = $2)

-- name: merchant_names
SELECT merchant_id, name FROM merchants WHERE merchant_id = ANY ($1::uuid[])

-- name: count_members
SELECT count(*) FROM memberships WHERE merchant_id = $1 AND role = $2

-- name: sessions_of
SELECT session_id, created_at, last_seen_at, expires_at, device
FROM console_sessions
WHERE user_id = $1 AND expires_at > now()
ORDER BY last_seen_at DESC, session_id

-- name: end_session_of
DELETE FROM console_sessions WHERE user_id = $1 AND session_id = $2 RETURNING session_id

-- name: end_sessions_but
DELETE FROM console_sessions WHERE user_id = $1 AND session_id <> $2
