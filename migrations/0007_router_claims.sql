-- Provisioning (controller/provisioning.py): a router is added to a store with a single-use
-- install code that expires. The router's installer redeems it once and receives its own MQTT
-- password, faskey and FAS settings. Only the code's sha256 is stored.
--
-- router_claims is a global look-up, like router_directory: a router presents its code before
-- anyone knows its merchant. `voided_at`: the code was replaced by a newer one, or its router
-- was revoked. `redeemed_from`: the address the winning redemption came from.
CREATE TABLE router_claims (
    code_hash bytea PRIMARY KEY,
    merchant_id uuid NOT NULL,
    router_id text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    redeemed_at timestamptz,
    redeemed_from inet,
    voided_at timestamptz,
    FOREIGN KEY (merchant_id, router_id) REFERENCES routers ON DELETE CASCADE
);
CREATE INDEX router_claims_router ON router_claims (merchant_id, router_id);

-- Failed redemptions by client address: the claim endpoint's rate limit counts them.
CREATE TABLE claim_attempts (
    attempt_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    client_ip inet NOT NULL,
    attempted_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX claim_attempts_ip_time ON claim_attempts (client_ip, attempted_at);
