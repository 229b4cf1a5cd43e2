-- Console sessions listed and revocable (issue 10; accounts/sessions.py, docs/console.md
-- "Sessions"). A session gets an id the pages can name (the token's hash never leaves the
-- server), when it was last used (updated at most once a minute), and a coarse description of
-- the browser ("Chrome on Android") instead of the raw User-Agent; no IP address is kept.
ALTER TABLE console_sessions
    ADD COLUMN session_id uuid NOT NULL DEFAULT gen_random_uuid(),
    ADD COLUMN last_seen_at timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN device text NOT NULL DEFAULT '' CHECK (length(device) <= 80);
ALTER TABLE console_sessions ADD CONSTRAINT console_sessions_session_id_key UNIQUE (session_id);
CREATE INDEX console_sessions_user ON console_sessions (user_id);
