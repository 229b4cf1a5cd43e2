-- Return visits for the ad reports (analytics.services.returning_shoppers): which of the given
-- shoppers ($1 merchants, $2 identities, $3 moments) came back to a venue of the merchant from
-- their moment plus $4 to their moment plus $5: a portal login, or a footfall visit as a
-- visitor, starting in that span. Joined (a hash join on merchant and device), not looked up
-- one shopper at a time.

-- name: returning_shoppers
WITH s AS (
    SELECT * FROM unnest($1::uuid[], $2::text[], $3::timestamptz[]) AS s (merchant_id, identity, at)
)
SELECT s.merchant_id, s.identity, s.at
FROM s JOIN events e
  ON e.merchant_id = s.merchant_id AND e.device_hash = s.identity AND e.kind = 'login'
 AND e.occurred_at >= s.at + $4::interval AND e.occurred_at < s.at + $5::interval
UNION
SELECT s.merchant_id, s.identity, s.at
FROM s JOIN footfall_visits v
  ON v.merchant_id = s.merchant_id AND v.device_hash = s.identity AND v.visitor
 AND v.started_at >= s.at + $4::interval AND v.started_at < s.at + $5::interval
