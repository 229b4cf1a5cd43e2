-- Every login a merchant needs (issue 8; docs/logins.md). The portal owns these tables: the
-- store's login policy, versioned terms, shopper identities (a phone number or an email
-- address, sealed with AES-GCM and found by a keyed hash: PRODUCT.md §5), their devices (for
-- returning shoppers), marketing consents, SMS codes and the development SMS outbox, rate
-- limits, vouchers, and how each session was admitted and how it ended.

-- The store's session policy beyond length, rates and quota (migration 0001).
ALTER TABLE portal_settings
    -- An idle client is let go after this many minutes without traffic (0: never).
    ADD COLUMN idle_minutes integer NOT NULL DEFAULT 0 CHECK (idle_minutes BETWEEN 0 AND 1440),
    -- A shopper may extend a running session by this many minutes (0: no extension) ...
    ADD COLUMN extend_minutes integer NOT NULL DEFAULT 0
        CHECK (extend_minutes BETWEEN 0 AND 10080),
    -- ... at most this many times.
    ADD COLUMN max_extensions integer NOT NULL DEFAULT 0 CHECK (max_extensions BETWEEN 0 AND 10),
    -- A device or identity that logged in at one of the merchant's stores within this many
    -- days is let straight through (0: off).
    ADD COLUMN returning_days integer NOT NULL DEFAULT 0 CHECK (returning_days BETWEEN 0 AND 365);

-- The terms a shopper accepts, versioned per store; portal_settings.terms_version names the
-- current one. A published version is never changed: a new text is a new version.
CREATE TABLE portal_terms (
    merchant_id uuid NOT NULL,
    store_id uuid NOT NULL,
    version text NOT NULL CHECK (version ~ '^[0-9A-Za-z._-]{1,32}$'),
    body_en text NOT NULL CHECK (length(body_en) <= 20000),
    body_zh text NOT NULL CHECK (length(body_zh) <= 20000),
    published_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (merchant_id, store_id, version),
    FOREIGN KEY (merchant_id, store_id) REFERENCES stores
);
CREATE FUNCTION portal_terms_are_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'terms version % of store % is published: publish a new version instead',
        OLD.version, OLD.store_id;
END $$;
CREATE TRIGGER portal_terms_immutable BEFORE UPDATE ON portal_terms
    FOR EACH ROW EXECUTE FUNCTION portal_terms_are_immutable();

-- A phone number (verified by an SMS code) or an email address a shopper gave.
CREATE TABLE shopper_identities (
    merchant_id uuid NOT NULL,
    identity_hash text NOT NULL CHECK (identity_hash ~ '^[0-9a-f]{32}$'),
    kind text NOT NULL CHECK (kind IN ('phone', 'email')),
    sealed bytea NOT NULL,           -- kernel.privacy.seal: nonce + AES-GCM ciphertext
    masked text NOT NULL,            -- what staff may see: 138****5678, a***@example.com
    verified_at timestamptz,         -- when an SMS code proved the number (NULL for email)
    created_at timestamptz NOT NULL DEFAULT now(),
    last_login_at timestamptz,
    PRIMARY KEY (merchant_id, identity_hash)
);

-- Which identity logged in on which device: a returning device is known by its identity.
CREATE TABLE shopper_devices (
    merchant_id uuid NOT NULL,
    device_hash text NOT NULL,
    identity_hash text NOT NULL,
    last_login_at timestamptz NOT NULL,
    PRIMARY KEY (merchant_id, device_hash, identity_hash),
    FOREIGN KEY (merchant_id, identity_hash) REFERENCES shopper_identities ON DELETE CASCADE
);
CREATE INDEX shopper_devices_by_identity ON shopper_devices (merchant_id, identity_hash);

-- A marketing consent: what was agreed to (purpose, wording version), when and where, and
-- whether and how it was withdrawn. Never updated but to record the withdrawal.
CREATE TABLE shopper_consents (
    merchant_id uuid NOT NULL,
    consent_id uuid NOT NULL,
    identity_hash text NOT NULL,
    purpose text NOT NULL CHECK (purpose IN ('marketing_email', 'marketing_sms')),
    wording_version text NOT NULL CHECK (wording_version ~ '^[0-9A-Za-z._-]{1,32}$'),
    store_id uuid NOT NULL,
    given_at timestamptz NOT NULL DEFAULT now(),
    withdrawn_at timestamptz,
    withdrawn_via text CHECK (withdrawn_via IN ('link', 'console', 'portal')),
    CHECK ((withdrawn_at IS NULL) = (withdrawn_via IS NULL)),
    PRIMARY KEY (merchant_id, consent_id),
    FOREIGN KEY (merchant_id, identity_hash) REFERENCES shopper_identities ON DELETE CASCADE
);
CREATE INDEX shopper_consents_by_identity ON shopper_consents (merchant_id, identity_hash);

-- A one-time SMS code: only its keyed hash is kept; 5 minutes, 5 attempts, used once.
CREATE TABLE sms_codes (
    merchant_id uuid NOT NULL,
    code_id uuid NOT NULL,
    identity_hash text NOT NULL,     -- the phone number's
    device_hash text NOT NULL,       -- the device that asked: only it may use the code
    store_id uuid NOT NULL,
    code_hash text NOT NULL,
    attempts smallint NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at timestamptz,
    PRIMARY KEY (merchant_id, code_id)
);
CREATE INDEX sms_codes_by_device ON sms_codes (merchant_id, device_hash, created_at);
CREATE INDEX sms_codes_by_age ON sms_codes (expires_at);

-- What the development SMS provider "sent": shown in the console instead of going out.
CREATE TABLE sms_outbox (
    merchant_id uuid NOT NULL,
    message_id uuid NOT NULL,
    masked_phone text NOT NULL,
    sealed_phone bytea NOT NULL,
    body text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (merchant_id, message_id)
);
CREATE INDEX sms_outbox_by_age ON sms_outbox (created_at);

-- Fixed-window counters for the portal's rate limits. `subject` names what is limited by a
-- keyed hash, never in the clear ('phone:<hash>', 'device:<hash>', 'ip:<hash>').
CREATE TABLE portal_rate_limits (
    merchant_id uuid NOT NULL,
    subject text NOT NULL,
    window_start timestamptz NOT NULL,
    hits integer NOT NULL CHECK (hits > 0),
    PRIMARY KEY (merchant_id, subject, window_start)
);
CREATE INDEX portal_rate_limits_by_age ON portal_rate_limits (window_start);

-- A merchant's batch of vouchers: each voucher lets up to max_devices devices in, for
-- `minutes` from its first use, within `quota_kb` of data (0: no limit).
CREATE TABLE voucher_batches (
    merchant_id uuid NOT NULL,
    batch_id uuid NOT NULL,
    store_id uuid,                   -- NULL: any store of the merchant
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    minutes integer NOT NULL CHECK (minutes BETWEEN 1 AND 525600),
    quota_kb bigint NOT NULL DEFAULT 0 CHECK (quota_kb >= 0),
    max_devices integer NOT NULL DEFAULT 1 CHECK (max_devices BETWEEN 1 AND 100),
    valid_until timestamptz,         -- not redeemable after (NULL: no end)
    created_by uuid,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (merchant_id, batch_id)
);

CREATE TABLE vouchers (
    merchant_id uuid NOT NULL,
    code text NOT NULL CHECK (code ~ '^[0-9A-Z]{6,16}$'),
    batch_id uuid NOT NULL,
    first_used_at timestamptz,
    revoked_at timestamptz,
    PRIMARY KEY (merchant_id, code),
    FOREIGN KEY (merchant_id, batch_id) REFERENCES voucher_batches ON DELETE CASCADE
);
CREATE INDEX vouchers_by_batch ON vouchers (merchant_id, batch_id);

CREATE TABLE voucher_devices (
    merchant_id uuid NOT NULL,
    code text NOT NULL,
    device_hash text NOT NULL,
    redeemed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (merchant_id, code, device_hash),
    FOREIGN KEY (merchant_id, code) REFERENCES vouchers ON DELETE CASCADE
);

-- How each session was admitted and how it ended.
ALTER TABLE portal_sessions
    ADD COLUMN identity_hash text,
    ADD COLUMN voucher_code text,
    ADD COLUMN idle_minutes integer NOT NULL DEFAULT 0,
    ADD COLUMN extensions smallint NOT NULL DEFAULT 0,
    ADD COLUMN ended_at timestamptz,
    ADD COLUMN end_reason text CHECK (end_reason IN
        ('expired', 'idle', 'quota', 'logout', 'gateway', 'staff', 'replaced'));
CREATE INDEX portal_sessions_by_identity ON portal_sessions (merchant_id, identity_hash, started_at)
    WHERE identity_hash IS NOT NULL;
-- A returning device's last session (portal/returning.py).
CREATE INDEX portal_sessions_by_device ON portal_sessions (merchant_id, device_hash, started_at);
-- The sessions the end-of-session job looks at (portal/session_end.py): the active ones.
CREATE INDEX portal_sessions_active_by_end ON portal_sessions (expires_at) WHERE status = 'active';

-- A WiFiDog token carries what the login method decided until the gateway's stage=login.
ALTER TABLE wifidog_tokens
    ADD COLUMN method text NOT NULL DEFAULT 'click',
    ADD COLUMN identity_hash text,
    ADD COLUMN voucher_code text,
    ADD COLUMN minutes integer,      -- the admission's policy (NULL: the store's, as before)
    ADD COLUMN down_quota_kb bigint,
    ADD COLUMN idle_minutes integer NOT NULL DEFAULT 0;
-- A session's token (several WiFiDog queries start from the session).
CREATE INDEX wifidog_tokens_by_session ON wifidog_tokens (merchant_id, session_id)
    WHERE session_id IS NOT NULL;

-- A grant queued for authmon (level 3 without our agent) carries the same until its ack.
ALTER TABLE authmon_grants
    ADD COLUMN identity_hash text,
    ADD COLUMN voucher_code text,
    ADD COLUMN idle_minutes integer NOT NULL DEFAULT 0;
