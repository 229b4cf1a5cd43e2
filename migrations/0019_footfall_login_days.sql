-- Footfall loyalty (issue 7): the store-local days each logged-in shopper logged in at each store,
-- recomputed by the rollup job from login events (analytics/rollups.py) like the other rollups.
-- Loyalty (analytics/metrics.py) reads these instead of every login event: one row per shopper,
-- store and day, its day already in the store's time zone. Kept as long as the login events are.
CREATE TABLE footfall_login_days (
    merchant_id uuid NOT NULL,
    store_id uuid NOT NULL,
    day date NOT NULL,
    device_hash text COLLATE "C" NOT NULL,
    PRIMARY KEY (merchant_id, store_id, day, device_hash)
);
-- The days of the few shoppers who came on more than one (analytics/footfall.sql loyalty_days_of).
CREATE INDEX footfall_login_days_by_device ON footfall_login_days (merchant_id, device_hash);

INSERT INTO footfall_login_days (merchant_id, store_id, day, device_hash)
SELECT DISTINCT e.merchant_id, e.store_id, (e.occurred_at AT TIME ZONE s.timezone)::date,
    e.device_hash
FROM events e
JOIN stores s ON s.merchant_id = e.merchant_id AND s.store_id = e.store_id
WHERE e.kind = 'login' AND e.device_hash IS NOT NULL;
