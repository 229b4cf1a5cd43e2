-- Advertiser and merchant reports (ads/reports.py, docs/ad-reports.md): aggregates of a
-- campaign's ad events (migration 0030) and of its coupons' claims and redemptions (0024,
-- 0028). Return visits come from analytics (analytics.services.returning_shoppers), never from
-- its tables here. Parameters shared by the blocks: $1 advertiser, $2 campaign, $3 start and $4
-- end of the range (timestamptz, the report's local days), $5 merchant (null: every venue).

-- name: breakdown
-- The exposed group's delivery: the whole campaign (dim 'total'), per line item, per creative
-- and per local day ($6: the report's time zone). Reach and clickers count distinct shoppers
-- (an identity is a per-merchant pseudonym: a shopper is (merchant, identity)).
SELECT CASE WHEN grouping(e.line_item_id) = 0 THEN 'line_item'
            WHEN grouping(e.creative_id) = 0 THEN 'creative'
            WHEN grouping((e.occurred_at AT TIME ZONE $6)::date) = 0 THEN 'day'
            ELSE 'total' END AS dim,
       e.line_item_id, e.creative_id, (e.occurred_at AT TIME ZONE $6)::date AS day,
       count(*) FILTER (WHERE e.kind = 'impression') AS impressions,
       count(DISTINCT (e.merchant_id, e.identity)) FILTER (WHERE e.kind = 'impression') AS reach,
       count(*) FILTER (WHERE e.kind = 'click') AS clicks,
       count(DISTINCT (e.merchant_id, e.identity)) FILTER (WHERE e.kind = 'click') AS clickers
FROM ad_events e
WHERE e.advertiser_id = $1 AND e.campaign_id = $2 AND e.occurred_at >= $3 AND e.occurred_at < $4
  AND e.kind IN ('impression', 'click') AND ($5::uuid IS NULL OR e.merchant_id = $5)
GROUP BY GROUPING SETS ((), (e.line_item_id), (e.creative_id), ((e.occurred_at AT TIME ZONE $6)::date))

-- name: shoppers
-- One row per shopper the campaign reached in the range, held in memory to count the groups
-- (never shown or exported): exposed (an impression in the range) or holdout (a ghost and no
-- impression), from their first such event; whether they claimed one of the campaign's
-- coupons and redeemed it (not undone) within $6 (the attribution window) of that moment, on
-- any of their devices (a shopper known by phone or email: each device it was seen on).
WITH seen AS (
    SELECT e.merchant_id, e.identity,
           bool_or(e.kind = 'impression') AS exposed,
           min(e.occurred_at) FILTER (WHERE e.kind = 'impression') AS first_impression,
           min(e.occurred_at) FILTER (WHERE e.kind = 'ghost') AS first_ghost
    FROM ad_events e
    WHERE e.advertiser_id = $1 AND e.campaign_id = $2
      AND e.occurred_at >= $3 AND e.occurred_at < $4
      AND e.kind IN ('impression', 'ghost') AND ($5::uuid IS NULL OR e.merchant_id = $5)
    GROUP BY e.merchant_id, e.identity
), shopper AS (  -- with the devices the identity was seen on (migration 0032)
    SELECT s.merchant_id, s.identity, s.exposed,
           CASE WHEN s.exposed THEN s.first_impression ELSE s.first_ghost END AS first_at,
           ARRAY[s.identity] || ARRAY(
               SELECT l.device FROM ad_identity_devices l
               WHERE l.merchant_id = s.merchant_id AND l.identity = s.identity
           ) AS devices
    FROM seen s
), offer AS (
    SELECT merchant_id, coupon_id FROM coupons
    WHERE advertiser_id = $1 AND campaign_id = $2 AND ($5::uuid IS NULL OR merchant_id = $5)
)
SELECT s.merchant_id, s.identity, s.exposed, s.first_at, s.devices,
       EXISTS (
           SELECT 1 FROM coupon_codes cc JOIN offer o USING (merchant_id, coupon_id)
           WHERE cc.merchant_id = s.merchant_id AND cc.claimed_by = ANY (s.devices)
             AND cc.claimed_at >= s.first_at AND cc.claimed_at < s.first_at + $6::interval
       ) AS claimed,
       EXISTS (
           SELECT 1 FROM coupon_redemptions r JOIN offer o USING (merchant_id, coupon_id)
           WHERE r.merchant_id = s.merchant_id AND r.device_hash = ANY (s.devices)
             AND r.rolled_back_at IS NULL
             AND r.redeemed_at >= s.first_at AND r.redeemed_at < s.first_at + $6::interval
       ) AS redeemed
FROM shopper s

-- name: campaign_of_advertiser
SELECT campaign_id, name, starts_at, ends_at, holdout_share
FROM ad_campaigns WHERE advertiser_id = $1 AND campaign_id = $2

-- name: campaigns_at_merchant
-- The campaigns that ran in the merchant's venues (any event since $2), for its report page.
SELECT DISTINCT advertiser_id, campaign_id
FROM ad_events
WHERE merchant_id = $1 AND occurred_at >= $2

-- name: campaign_names
-- The names of campaigns ($1 advertisers, $2 campaigns, parallel) and of their advertisers.
SELECT c.advertiser_id, c.campaign_id, c.name, a.name AS advertiser_name
FROM unnest($1::uuid[], $2::uuid[]) AS u (advertiser_id, campaign_id)
JOIN ad_campaigns c USING (advertiser_id, campaign_id)
JOIN advertisers a USING (advertiser_id)
ORDER BY c.name, c.campaign_id
