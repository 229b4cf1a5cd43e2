-- The ad decision's index and counters (ads/delivery.py, docs/ad-decision.md).

-- name: active_line_items
-- Every line item that can still run ($1: now), with its campaign and advertiser.
SELECT li.advertiser_id, li.line_item_id, li.campaign_id, li.tier, li.pricing, li.bid_fen,
       li.budget_fen, li.goal_impressions, li.pacing, li.starts_at, li.ends_at, li.dayparts,
       li.weight, li.target_merchants, li.target_stores, li.target_categories, li.target_cities,
       li.target_languages, li.target_segments, li.target_audience,
       c.starts_at AS c_starts_at, c.ends_at AS c_ends_at, c.holdout_share::float8 AS holdout_share,
       c.category AS c_category, a.category AS a_category, a.merchant_id AS own_merchant_id,
       a.name AS advertiser_name
FROM ad_line_items li
JOIN ad_campaigns c ON c.advertiser_id = li.advertiser_id AND c.campaign_id = li.campaign_id
JOIN advertisers a ON a.advertiser_id = li.advertiser_id
WHERE li.status = 'active' AND c.status = 'active' AND li.ends_at > $1 AND c.ends_at > $1

-- name: active_creatives
SELECT cr.advertiser_id, cr.creative_id, cr.campaign_id, cr.kind, cr.headline_zh, cr.headline_en,
       cr.body_zh, cr.body_en, cr.landing_url, cr.file_id, coalesce(cr.countdown_seconds, 0) AS countdown
FROM ad_creatives cr
JOIN ad_campaigns c ON c.advertiser_id = cr.advertiser_id AND c.campaign_id = cr.campaign_id
WHERE cr.status = 'active' AND cr.file_id IS NOT NULL AND c.status = 'active' AND c.ends_at > $1

-- name: frequency_caps
SELECT advertiser_id, scope, scope_id, max_count, period, coalesce(window_seconds, 0) AS window_seconds
FROM ad_frequency_caps

-- name: approvals
SELECT merchant_id, campaign_id FROM ad_approvals WHERE status = 'approved'

-- name: blocks
SELECT merchant_id, advertiser_id, category FROM ad_blocks

-- name: recent_impressions
-- Every process's impressions per 5-minute interval since $1 (each process's share, for pacing).
SELECT interval_start, sum(impressions)::bigint AS impressions
FROM ad_delivery WHERE interval_start >= $1
GROUP BY interval_start

-- name: line_item_totals
SELECT line_item_id, impressions, clicks, actions, spend_millifen FROM ad_line_item_totals

-- name: identity_seen
-- An identity's impressions at a merchant, newest first (what its caps count).
SELECT occurred_at, creative_id, line_item_id, campaign_id, advertiser_id
FROM ad_events
WHERE merchant_id = $1 AND identity = $2 AND kind = 'impression'
ORDER BY occurred_at DESC
LIMIT $3

-- name: note_identity_device
-- The identity was seen on this device (migration 0032): once per pair.
INSERT INTO ad_identity_devices (merchant_id, identity, device) VALUES ($1, $2, $3)
ON CONFLICT DO NOTHING

-- name: campaign_coupon
SELECT coupon_id, title_en, title_zh FROM coupons
WHERE merchant_id = $1 AND advertiser_id = $2 AND campaign_id = $3 AND valid_until > now()
ORDER BY valid_until
LIMIT 1

-- name: creative_file
SELECT content_type, data FROM creative_files WHERE advertiser_id = $1 AND file_id = $2

-- name: record_events
SELECT event_id, outcome
FROM ad_record_events($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,
                      $18, $19, $20)

-- name: count_refusal
INSERT INTO ad_event_refusals AS r (merchant_id, day, reason, count)
VALUES ($1, current_date, $2, 1)
ON CONFLICT (merchant_id, day, reason) DO UPDATE SET count = r.count + 1

-- name: refusals
SELECT reason, sum(count)::bigint AS count FROM ad_event_refusals
WHERE merchant_id = $1 GROUP BY reason

-- name: coupon_campaign
SELECT advertiser_id, campaign_id FROM coupons WHERE merchant_id = $1 AND coupon_id = $2
