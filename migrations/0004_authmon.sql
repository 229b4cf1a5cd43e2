-- openNDS FAS level 3: grants waiting for a router's authmon daemon to fetch them
-- (forward_authentication_service/libs/authmon.sh polls the FAS with auth_get=view, runs
-- `ndsctl auth <rhid> <minutes> <up> <down> <up quota> <down quota> <custom>` for each entry, and
-- acks the rhids it authenticated). Used for level-3 routers whose agent is not connected; a
-- row becomes a portal_sessions row when authmon acks it. portal/authmon.py owns these tables.
CREATE TABLE authmon_grants (
    merchant_id uuid NOT NULL,
    router_id text NOT NULL,
    rhid text NOT NULL CHECK (rhid ~ '^[0-9a-f]{64}$'),
    gateway_hash text NOT NULL CHECK (gateway_hash ~ '^[0-9a-f]{64}$'),
    session_id uuid NOT NULL,
    store_id uuid NOT NULL,
    device_hash text NOT NULL,
    client_mac text NOT NULL,
    client_ip inet NOT NULL,
    method text NOT NULL,
    terms_version text NOT NULL,
    minutes integer NOT NULL CHECK (minutes BETWEEN 1 AND 10080),
    up_kbps integer NOT NULL CHECK (up_kbps >= 0),
    down_kbps integer NOT NULL CHECK (down_kbps >= 0),
    up_quota_kb integer NOT NULL CHECK (up_quota_kb >= 0),
    down_quota_kb integer NOT NULL CHECK (down_quota_kb >= 0),
    custom text NOT NULL CHECK (custom ~ '^[0-9a-f]{1,64}$'),
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (merchant_id, router_id, rhid),
    FOREIGN KEY (merchant_id, router_id) REFERENCES routers (merchant_id, router_id)
        ON DELETE CASCADE
);

-- The gatewayhash authmon sends for a router: sha256hex of the gatewayname field of the
-- router's own (faskey-encrypted, so verified) redirect. A poll with another hash is refused.
CREATE TABLE authmon_routers (
    merchant_id uuid NOT NULL,
    router_id text NOT NULL,
    gateway_hash text NOT NULL CHECK (gateway_hash ~ '^[0-9a-f]{64}$'),
    learned_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (merchant_id, router_id),
    FOREIGN KEY (merchant_id, router_id) REFERENCES routers (merchant_id, router_id)
        ON DELETE CASCADE
);
