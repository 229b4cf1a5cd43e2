-- Return visits for the ad reports (analytics.services.returning_shoppers): which of the given
-- shoppers ($1 merchants, $2 identities, $3 moments) came back to a venue of the merchant from
-- their moment plus $4 to their moment plus $5: a portal login, or a footfall visit as a
-- visitor, starting in that span. Each shopper is looked up by their device in the two indexes
-- made for it (migration 0043), so the cost follows the shoppers asked about, not the venue's
-- history (a hash join read every visit of the last 30 days: 1.1 M rows at 20 busy stores).

-- name: returning_shoppers
SELECT s.merchant_id, s.identity, s.at
FROM unnest($1::uuid[], $2::text[], $3::timestamptz[]) AS s (merchant_id, identity, at)
WHERE EXISTS (
    SELECT 1 FROM events e
    WHERE e.merchant_id = s.merchant_id AND e.kind = 'login' AND e.device_hash = s.identity
      AND e.occurred_at >= s.at + $4::interval AND e.occurred_at < s.at + $5::interval
) OR EXISTS (
    SELECT 1 FROM footfall_visits v
    WHERE v.merchant_id = s.merchant_id AND v.visitor AND v.device_hash = s.identity
      AND v.started_at >= s.at + $4::interval AND v.started_at < s.at + $5::interval
)
