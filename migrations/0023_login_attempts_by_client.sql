-- Console sign-in lockout per client (issue 9, "Roles"): five failures for one email locked it
-- for everyone, so anyone who knew an owner's email could keep them out. A failure now counts
-- against the pair (email, client) and against the client across all emails; `client_hash` is
-- a keyed hash of the client's address (accounts/services.py client_key), never the address.
-- Rows from before this have no client (''): they age out of the 15-minute window.
ALTER TABLE login_attempts ADD COLUMN client_hash text NOT NULL DEFAULT '';
CREATE INDEX login_attempts_client_time ON login_attempts (client_hash, attempted_at);
DROP INDEX login_attempts_email_time;
CREATE INDEX login_attempts_email_client_time ON login_attempts (email, client_hash, attempted_at);
