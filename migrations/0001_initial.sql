-- Portico's first schema. Every tenant table carries merchant_id first in its primary key so
-- the schema can be distributed by merchant on Citus. Tables without merchant_id are global
-- look-ups (Citus reference tables): user accounts, console sessions, the router directory.

-- accounts: tenants, stores, console users ---------------------------------------------------
CREATE TABLE merchants (
    merchant_id uuid PRIMARY KEY,
    name text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE stores (
    merchant_id uuid NOT NULL REFERENCES merchants,
    store_id uuid NOT NULL,
    name text NOT NULL,
    timezone text NOT NULL DEFAULT 'Asia/Shanghai',
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (merchant_id, store_id)
);

CREATE TABLE user_accounts (
    user_id uuid PRIMARY KEY,
    email text NOT NULL UNIQUE,
    display_name text NOT NULL,
    password_hash text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE memberships (
    merchant_id uuid NOT NULL REFERENCES merchants,
    user_id uuid NOT NULL REFERENCES user_accounts,
    role text NOT NULL CHECK (role IN ('owner', 'staff')),
    PRIMARY KEY (merchant_id, user_id)
);

CREATE TABLE console_sessions (
    session_hash bytea PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES user_accounts ON DELETE CASCADE,
    csrf_token text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);

CREATE TABLE login_attempts (
    attempt_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email text NOT NULL,
    attempted_at timestamptz NOT NULL DEFAULT now(),
    succeeded boolean NOT NULL
);
CREATE INDEX login_attempts_email_time ON login_attempts (email, attempted_at);

-- controller: routers and the commands sent to them -----------------------------------------
CREATE TABLE router_directory (
    router_id text PRIMARY KEY,
    merchant_id uuid NOT NULL
);

CREATE TABLE routers (
    merchant_id uuid NOT NULL REFERENCES merchants,
    router_id text NOT NULL CHECK (router_id ~ '^[A-Za-z0-9_-]{1,64}$'),
    store_id uuid NOT NULL,
    name text NOT NULL,
    gateway_mac text,
    faskey text NOT NULL,
    mqtt_password_hash text NOT NULL,
    online boolean NOT NULL DEFAULT false,
    last_status jsonb,
    last_seen timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (merchant_id, router_id),
    FOREIGN KEY (merchant_id, store_id) REFERENCES stores
);

CREATE TABLE router_commands (
    merchant_id uuid NOT NULL,
    command_id text NOT NULL,
    router_id text NOT NULL,
    op text NOT NULL,
    args jsonb NOT NULL,
    expires_at timestamptz NOT NULL,
    status text NOT NULL DEFAULT 'sent'
        CHECK (status IN ('sent', 'done', 'error', 'rejected', 'expired', 'duplicate', 'timeout')),
    code text,
    created_at timestamptz NOT NULL DEFAULT now(),
    acked_at timestamptz,
    PRIMARY KEY (merchant_id, command_id),
    FOREIGN KEY (merchant_id, router_id) REFERENCES routers
);

CREATE TABLE router_events (
    merchant_id uuid NOT NULL,
    event_id bigint GENERATED ALWAYS AS IDENTITY,
    router_id text NOT NULL,
    type text NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    payload jsonb NOT NULL,
    PRIMARY KEY (merchant_id, event_id)
);

-- portal: per-store login policy and branding, shopper sessions ------------------------------
CREATE TABLE portal_settings (
    merchant_id uuid NOT NULL,
    store_id uuid NOT NULL,
    brand_name text NOT NULL,
    brand_color text NOT NULL DEFAULT '#0a7d5a' CHECK (brand_color ~ '^#[0-9a-fA-F]{6}$'),
    welcome_en text NOT NULL DEFAULT '',
    welcome_zh text NOT NULL DEFAULT '',
    login_methods text[] NOT NULL DEFAULT '{click}',
    terms_version text NOT NULL DEFAULT '1',
    session_minutes integer NOT NULL DEFAULT 60 CHECK (session_minutes BETWEEN 1 AND 10080),
    up_kbps integer NOT NULL DEFAULT 0 CHECK (up_kbps >= 0),
    down_kbps integer NOT NULL DEFAULT 0 CHECK (down_kbps >= 0),
    up_quota_kb integer NOT NULL DEFAULT 0 CHECK (up_quota_kb >= 0),
    down_quota_kb integer NOT NULL DEFAULT 0 CHECK (down_quota_kb >= 0),
    landing_url text NOT NULL DEFAULT '',
    PRIMARY KEY (merchant_id, store_id),
    FOREIGN KEY (merchant_id, store_id) REFERENCES stores
);

CREATE TABLE portal_sessions (
    merchant_id uuid NOT NULL,
    session_id uuid NOT NULL,
    store_id uuid NOT NULL,
    router_id text NOT NULL,
    device_hash text NOT NULL,
    -- The raw MAC is kept only while the session is active (needed to re-grant and to end it).
    client_mac text,
    client_ip inet,
    method text NOT NULL,
    terms_version text NOT NULL,
    command_id text NOT NULL,
    status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'ended')),
    started_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (merchant_id, session_id)
);
CREATE INDEX portal_sessions_active ON portal_sessions (merchant_id, router_id) WHERE status = 'active';

-- ads: campaigns with creatives and coupons --------------------------------------------------
CREATE TABLE campaigns (
    merchant_id uuid NOT NULL REFERENCES merchants,
    campaign_id uuid NOT NULL,
    advertiser text NOT NULL,
    name text NOT NULL,
    tier text NOT NULL DEFAULT 'sponsorship' CHECK (tier IN ('sponsorship', 'guaranteed', 'performance', 'house')),
    approved boolean NOT NULL DEFAULT false,
    starts_at timestamptz NOT NULL,
    ends_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (merchant_id, campaign_id),
    CHECK (ends_at > starts_at)
);

CREATE TABLE creatives (
    merchant_id uuid NOT NULL,
    creative_id uuid NOT NULL,
    campaign_id uuid NOT NULL,
    headline_en text NOT NULL,
    headline_zh text NOT NULL,
    body_en text NOT NULL DEFAULT '',
    body_zh text NOT NULL DEFAULT '',
    image_type text NOT NULL CHECK (image_type IN ('image/png', 'image/jpeg', 'image/svg+xml')),
    image bytea NOT NULL,
    PRIMARY KEY (merchant_id, creative_id),
    FOREIGN KEY (merchant_id, campaign_id) REFERENCES campaigns
);

CREATE TABLE coupons (
    merchant_id uuid NOT NULL,
    coupon_id uuid NOT NULL,
    campaign_id uuid NOT NULL,
    title_en text NOT NULL,
    title_zh text NOT NULL,
    valid_until timestamptz NOT NULL,
    PRIMARY KEY (merchant_id, coupon_id),
    FOREIGN KEY (merchant_id, campaign_id) REFERENCES campaigns
);

CREATE TABLE coupon_codes (
    merchant_id uuid NOT NULL,
    code text NOT NULL,
    coupon_id uuid NOT NULL,
    state text NOT NULL DEFAULT 'available'
        CHECK (state IN ('available', 'claimed', 'locked', 'redeemed', 'expired', 'void', 'rolled_back')),
    claimed_by text,
    claimed_at timestamptz,
    PRIMARY KEY (merchant_id, code),
    FOREIGN KEY (merchant_id, coupon_id) REFERENCES coupons
);
CREATE INDEX coupon_codes_available ON coupon_codes (merchant_id, coupon_id) WHERE state = 'available';
CREATE UNIQUE INDEX coupon_codes_one_per_shopper ON coupon_codes (merchant_id, coupon_id, claimed_by);

-- analytics: the event store -----------------------------------------------------------------
CREATE TABLE events (
    merchant_id uuid NOT NULL,
    event_id bigint GENERATED ALWAYS AS IDENTITY,
    occurred_at timestamptz NOT NULL DEFAULT now(),
    store_id uuid,
    kind text NOT NULL,
    device_hash text,
    data jsonb NOT NULL DEFAULT '{}',
    PRIMARY KEY (merchant_id, event_id)
);
CREATE INDEX events_by_kind_time ON events (merchant_id, kind, occurred_at);
