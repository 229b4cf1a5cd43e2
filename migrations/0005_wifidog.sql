-- WiFiDog gateways (wifidog-gateway, apfree-wifidog) ask the portal's auth-server protocol
-- instead of taking commands from our agent. The portal issues each client a single-use token
-- bound to its MAC and IP (login/), the gateway presents it once (auth/?stage=login), and then
-- reports the client's traffic every CheckInterval (auth/?stage=counters).

-- A token issued on the splash page. `session_id` is set when the gateway used it (stage=login);
-- the raw MAC is scrubbed (NULL) when that session ends, like portal_sessions.client_mac.
CREATE TABLE wifidog_tokens (
    merchant_id uuid NOT NULL,
    token text NOT NULL CHECK (token ~ '^[A-Za-z0-9_-]{16,64}$'),
    router_id text NOT NULL,
    client_mac text,
    client_ip inet NOT NULL,
    origin_url text NOT NULL DEFAULT '',
    terms_version text NOT NULL,
    issued_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at timestamptz,
    session_id uuid,
    PRIMARY KEY (merchant_id, token),
    FOREIGN KEY (merchant_id, router_id) REFERENCES routers,
    -- Deferred: stage=login takes the token first (its row lock decides a race between two
    -- uses of one token) and only then stores the session it points to, in one transaction.
    FOREIGN KEY (merchant_id, session_id) REFERENCES portal_sessions DEFERRABLE INITIALLY DEFERRED,
    CHECK ((used_at IS NULL) = (session_id IS NULL))
);

-- A WiFiDog session's traffic as the gateway last reported it (bytes since the client was let
-- through; `incoming` is towards the client, i.e. its download).
CREATE TABLE wifidog_usage (
    merchant_id uuid NOT NULL,
    session_id uuid NOT NULL,
    incoming bigint NOT NULL DEFAULT 0 CHECK (incoming >= 0),
    outgoing bigint NOT NULL DEFAULT 0 CHECK (outgoing >= 0),
    reports integer NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (merchant_id, session_id),
    FOREIGN KEY (merchant_id, session_id) REFERENCES portal_sessions
);
