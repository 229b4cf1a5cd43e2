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
