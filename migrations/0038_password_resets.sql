-- Password reset by email (issue 10; accounts/password_reset.py, docs/console.md "Password
-- reset"). Global tables: a user's password is not a merchant's.
--
-- Only the SHA-256 of the link's token is kept; a link expires after an hour and works once.
CREATE TABLE password_resets (
    token_hash bytea PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES user_accounts ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);
CREATE INDEX password_resets_user ON password_resets (user_id);
CREATE INDEX password_resets_expiry ON password_resets (expires_at);

-- Reset requests per address and per client (a keyed hash, accounts.services.client_key), for
-- the limits; kept for the limits' window. Unlogged like the other rate counters (0021).
CREATE UNLOGGED TABLE password_reset_attempts (
    attempt_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email text NOT NULL,
    client_hash text NOT NULL,
    attempted_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX password_reset_attempts_email ON password_reset_attempts (email, attempted_at);
CREATE INDEX password_reset_attempts_client ON password_reset_attempts (client_hash, attempted_at);
