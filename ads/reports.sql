-- Advertiser and merchant reports (ads/reports.py, docs/ad-reports.md): aggregates of a
-- campaign's ad events (migration 0030) and of its coupons' claims and redemptions (0024,
-- 0028). Return visits come from analytics (analytics.services.returning_shoppers), never from
-- its tables here. Parameters shared by the blocks: $1 advertiser, $2 campaign, $3 start and $4
-- end of the range (timestamptz, the report's local days), $5 merchant (null: every venue).

-- name: breakdown
-- The exposed group's delivery: the whole campaign (dim 'total'), per line item, per creative
-- and per local day ($6: the report's time zone). Reach and clickers count distinct shoppers
-- (an identity is a per-merchant pseudonym: a shopper is (merchant, identity)), each as one
-- text, the merchant's 36-character UUID then the identity: the same count as of the pair, in
-- half the time (sorting row values compares them column by column through a lookup).
SELECT CASE WHEN grouping(e.line_item_id) = 0 THEN 'line_item'
            WHEN grouping(e.creative_id) = 0 THEN 'creative'
            WHEN grouping((e.occurred_at AT TIME ZONE $6)::date) = 0 THEN 'day'
            ELSE 'total' END AS dim,
       e.line_item_id, e.creative_id, (e.occurred_at AT TIME ZONE $6)::date AS day,
       count(*) FILTER (WHERE e.kind = 'impression') AS impressions,
       count(DISTINCT e.merchant_id::text || e.identity) FILTER (WHERE e.kind = 'impression') AS reach,
       count(*) FILTER (WHERE e.kind = 'click') AS clicks,
       count(DISTINCT e.merchant_id::text || e.identity) FILTER (WHERE e.kind = 'click') AS clickers
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
-- In one pass: the campaign's claims and redemptions from the range's start to its end plus
-- the window (every moment is in the range) are read once, by coupon and time (migration
-- 0043), and joined to the shoppers' devices; nothing is looked up shopper by shopper.
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
           ARRAY[s.identity]
               || array_agg(l.device ORDER BY l.device) FILTER (WHERE l.device IS NOT NULL)
               AS devices
    FROM seen s
    LEFT JOIN ad_identity_devices l ON l.merchant_id = s.merchant_id AND l.identity = s.identity
    GROUP BY s.merchant_id, s.identity, s.exposed, s.first_impression, s.first_ghost
), device AS (
    SELECT s.merchant_id, s.identity, s.first_at, d.device
    FROM shopper s, unnest(s.devices) AS d (device)
), offer AS (
    SELECT merchant_id, coupon_id FROM coupons
    WHERE advertiser_id = $1 AND campaign_id = $2 AND ($5::uuid IS NULL OR merchant_id = $5)
), claim AS MATERIALIZED (
    SELECT cc.merchant_id, cc.claimed_by AS device, cc.claimed_at AS at
    FROM offer o
    JOIN coupon_codes cc ON cc.merchant_id = o.merchant_id AND cc.coupon_id = o.coupon_id
    WHERE cc.claimed_at >= $3 AND cc.claimed_at < $4 + $6::interval
), redemption AS MATERIALIZED (
    SELECT r.merchant_id, r.device_hash AS device, r.redeemed_at AS at
    FROM offer o
    JOIN coupon_redemptions r ON r.merchant_id = o.merchant_id AND r.coupon_id = o.coupon_id
    WHERE r.redeemed_at >= $3 AND r.redeemed_at < $4 + $6::interval AND r.rolled_back_at IS NULL
), claimer AS (
    SELECT DISTINCT d.merchant_id, d.identity
    FROM claim c JOIN device d USING (merchant_id, device)
    WHERE c.at >= d.first_at AND c.at < d.first_at + $6::interval
), redeemer AS (
    SELECT DISTINCT d.merchant_id, d.identity
    FROM redemption r JOIN device d USING (merchant_id, device)
    WHERE r.at >= d.first_at AND r.at < d.first_at + $6::interval
)
SELECT s.merchant_id, s.identity, s.exposed, s.first_at, s.devices,
       c.identity IS NOT NULL AS claimed, r.identity IS NOT NULL AS redeemed
FROM shopper s
LEFT JOIN claimer c ON c.merchant_id = s.merchant_id AND c.identity = s.identity
LEFT JOIN redeemer r ON r.merchant_id = s.merchant_id AND r.identity = s.identity

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
