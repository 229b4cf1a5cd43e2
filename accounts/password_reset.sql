-- Password reset (accounts/password_reset.py). Tables: password_resets,
-- password_reset_attempts (0038, 0041); user_accounts, console_sessions.

-- name: insert_attempt
-- Counted before it is checked: requests sent at once cannot all pass. Returns the counts of
-- the address's and the client's requests in the window, this one included. The address is
-- its keyed hash (accounts.services.email_key), as the client is.
WITH new AS (
    INSERT INTO password_reset_attempts (email_hash, client_hash) VALUES ($1, $2)
)
SELECT
    1 + (SELECT count(*) FROM password_reset_attempts
         WHERE email_hash = $1 AND attempted_at > now() - $3::interval) AS by_address,
    1 + (SELECT count(*) FROM password_reset_attempts
         WHERE client_hash = $2 AND attempted_at > now() - $3::interval) AS by_client

-- name: insert_reset
INSERT INTO password_resets (token_hash, user_id, expires_at)
VALUES ($1, $2, now() + $3::interval)

-- name: reset_is_live
SELECT EXISTS (SELECT 1 FROM password_resets WHERE token_hash = $1 AND expires_at > now())

-- name: take_reset
DELETE FROM password_resets WHERE token_hash = $1 AND expires_at > now()
RETURNING user_id

-- name: forget_resets_of
DELETE FROM password_resets WHERE user_id = $1

-- name: end_sessions_of
DELETE FROM console_sessions WHERE user_id = $1

-- name: purge_resets
DELETE FROM password_resets WHERE expires_at <= now()

-- name: purge_attempts
DELETE FROM password_reset_attempts WHERE attempted_at < now() - $1::interval
