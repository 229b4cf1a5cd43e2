-- Merchant sign-up (accounts/signup.py). Tables: signup_requests, signup_attempts (0035).

-- name: count_attempts
SELECT count(*) FROM signup_attempts
WHERE client_hash = $1 AND attempted_at > now() - $2::interval

-- name: insert_attempt
INSERT INTO signup_attempts (client_hash) VALUES ($1)

-- name: insert_request
INSERT INTO signup_requests (token_hash, email, merchant_name, password_hash, language,
                             expires_at)
VALUES ($1, $2, $3, $4, $5, now() + $6::interval)

-- name: take_request
-- A link is used once: the request goes as it is read (it comes back if the account's
-- transaction rolls back).
DELETE FROM signup_requests
WHERE token_hash = $1 AND expires_at > now()
RETURNING email, merchant_name, password_hash, language

-- name: request_is_live
SELECT EXISTS (SELECT 1 FROM signup_requests WHERE token_hash = $1 AND expires_at > now())

-- name: forget_requests_of
DELETE FROM signup_requests WHERE email = $1

-- name: purge_requests
DELETE FROM signup_requests WHERE expires_at <= now()

-- name: purge_attempts
DELETE FROM signup_attempts WHERE attempted_at < now() - $1::interval
