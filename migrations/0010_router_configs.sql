-- Desired configuration per router and what the router reports of it (issue 6): the
-- controller publishes the desired document retained on ap/v1/<id>/desired (version grows by
-- one at every change, sha256 of its canonical body) and stores the router's retained
-- ap/v1/<id>/state reports here (controller/fleet_config.py), so desired versus applied
-- (drift) is one query. applied_version: the version in effect on the router (0: none yet);
-- state_version: the version its last report was about; state_result: ok, failed (applied,
-- broke something, rolled back) or rejected (not valid, nothing changed).
CREATE TABLE router_configs (
    merchant_id uuid NOT NULL,
    router_id text NOT NULL,
    desired_version bigint NOT NULL CHECK (desired_version > 0),
    desired_body jsonb NOT NULL,
    desired_sha256 text NOT NULL CHECK (desired_sha256 ~ '^[0-9a-f]{64}$'),
    desired_at timestamptz NOT NULL DEFAULT now(),
    applied_version bigint CHECK (applied_version >= 0),
    state_version bigint CHECK (state_version >= 0),
    state_result text CHECK (state_result IN ('ok', 'failed', 'rejected')),
    state_error text,
    reported_at timestamptz,
    PRIMARY KEY (merchant_id, router_id),
    FOREIGN KEY (merchant_id, router_id) REFERENCES routers (merchant_id, router_id)
);
