-- Merchant sign-up with email verification (issue 10; accounts/signup.py, accounts/email.py,
-- docs/console.md "Sign-up"). Global tables: none of them belongs to a merchant yet.
--
-- A sign-up waits in `signup_requests` until its email's link is opened: only then are the
-- user, the merchant and the owner's membership created, so an address nobody verified never
-- gets an account, and a sign-up with an address that has one changes nothing. Only the
-- link token's SHA-256 is kept, with the password already hashed (argon2).
CREATE TABLE signup_requests (
    token_hash bytea PRIMARY KEY,
    email text NOT NULL,
    merchant_name text NOT NULL CHECK (length(merchant_name) BETWEEN 1 AND 200),
    password_hash text NOT NULL,
    language text NOT NULL CHECK (language IN ('zh-CN', 'en')),
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);
CREATE INDEX signup_requests_expiry ON signup_requests (expires_at);

-- Sign-ups per client (a keyed hash of its address, accounts.services.client_key), for the
-- per-address limit; kept only for the limit's window. Unlogged, as the other rate counters
-- (migration 0021): a crash forgets them, which only lifts limits early.
CREATE UNLOGGED TABLE signup_attempts (
    attempt_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    client_hash text NOT NULL,
    attempted_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX signup_attempts_client_time ON signup_attempts (client_hash, attempted_at);

-- The development email provider's outbox ("outbox", accounts/email.py): what would have been
-- sent, shown by the console's Email outbox page outside production; deleted after a day.
CREATE TABLE email_outbox (
    message_id uuid PRIMARY KEY,
    created_at timestamptz NOT NULL DEFAULT now(),
    to_address text NOT NULL,
    subject text NOT NULL,
    body text NOT NULL
);
CREATE INDEX email_outbox_created ON email_outbox (created_at);
