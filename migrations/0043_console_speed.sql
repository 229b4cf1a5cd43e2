-- What the console's slowest pages needed (issue 10: every page p95 < 300 ms on 90 days × 20
-- stores of history).
--
-- Campaign reports (ads/reports.sql `shoppers`): a campaign's redemptions by coupon and time,
-- read once for the report's range, instead of every redemption of the merchant scanned for
-- each shopper (the claims have coupon_codes_claims, migration 0028).
CREATE INDEX coupon_redemptions_by_coupon ON coupon_redemptions (merchant_id, coupon_id, redeemed_at);
-- Their return visits (analytics/returns.sql): each shopper's device looked up in the logins
-- and the visits, instead of a hash join over every visit of the last 30 days.
CREATE INDEX events_logins_by_device ON events (merchant_id, device_hash, occurred_at)
    WHERE kind = 'login';
CREATE INDEX footfall_visits_by_visitor ON footfall_visits (merchant_id, device_hash, started_at)
    WHERE visitor;

-- The Routers page (controller/queries.sql fleet_routers): each router's last heartbeat in a
-- row of its own, written with the telemetry (insert_telemetry: the latest wins), instead of
-- looked up in router_telemetry, which grows by a row a minute per router and was read
-- backwards for each router (every heartbeat of the merchant for a router gone quiet). Not
-- columns of routers: the status handler rewrites that row at every heartbeat already, and
-- batches updating it too deadlocked against each other (a lock, then an update of the row
-- version the statement had seen, in the same statement).
CREATE TABLE router_heartbeats (
    merchant_id uuid NOT NULL,
    router_id text NOT NULL,
    occurred_at timestamptz NOT NULL,  -- the router's clock, as router_telemetry.occurred_at
    data jsonb NOT NULL,               -- the heartbeat's fields, as router_telemetry.data
    PRIMARY KEY (merchant_id, router_id),
    FOREIGN KEY (merchant_id, router_id) REFERENCES routers (merchant_id, router_id)
);
INSERT INTO router_heartbeats (merchant_id, router_id, occurred_at, data)
SELECT DISTINCT ON (merchant_id, router_id) merchant_id, router_id, occurred_at, data
FROM router_telemetry WHERE type = 'heartbeat'
ORDER BY merchant_id, router_id, occurred_at DESC, seq DESC;
