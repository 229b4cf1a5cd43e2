-- Advertisers, their members and campaigns (ads/advertisers.py), and the venues' approvals and
-- block lists. Every query is scoped by the tenant id the console checked.

-- name: insert_advertiser
INSERT INTO advertisers (advertiser_id, name, category, merchant_id) VALUES ($1, $2, $3, $4)

-- name: upsert_member
INSERT INTO advertiser_members (advertiser_id, user_id, role) VALUES ($1, $2, $3)
ON CONFLICT (advertiser_id, user_id) DO UPDATE SET role = EXCLUDED.role

-- name: advertiser_memberships_of
SELECT m.advertiser_id, a.name AS advertiser_name, a.merchant_id, m.role
FROM advertiser_members m JOIN advertisers a USING (advertiser_id)
WHERE m.user_id = $1
ORDER BY a.name, m.advertiser_id

-- name: list_campaigns
SELECT c.campaign_id, c.name, c.category, c.starts_at, c.ends_at, c.status, c.holdout_share,
       (SELECT count(*) FROM ad_line_items li
        WHERE li.advertiser_id = c.advertiser_id AND li.campaign_id = c.campaign_id) AS line_items,
       (SELECT count(*) FROM ad_creatives cr
        WHERE cr.advertiser_id = c.advertiser_id AND cr.campaign_id = c.campaign_id) AS creatives
FROM ad_campaigns c
WHERE c.advertiser_id = $1
ORDER BY c.created_at DESC, c.campaign_id

-- name: get_campaign
SELECT campaign_id, name, category, starts_at, ends_at, status, holdout_share
FROM ad_campaigns WHERE advertiser_id = $1 AND campaign_id = $2

-- name: insert_campaign
INSERT INTO ad_campaigns (advertiser_id, campaign_id, name, category, starts_at, ends_at, status,
                          holdout_share)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)

-- name: update_campaign
-- A campaign's new fields, refused (no row) when a line item's flight would fall outside.
UPDATE ad_campaigns c
SET name = $3, category = $4, starts_at = $5, ends_at = $6, status = $7, holdout_share = $8,
    updated_at = now()
WHERE c.advertiser_id = $1 AND c.campaign_id = $2
      AND NOT EXISTS (SELECT 1 FROM ad_line_items li
                      WHERE li.advertiser_id = $1 AND li.campaign_id = $2
                            AND (li.starts_at < $5 OR li.ends_at > $6))
RETURNING campaign_id

-- name: list_line_items
SELECT * FROM ad_line_items WHERE advertiser_id = $1 AND campaign_id = $2
ORDER BY created_at, line_item_id

-- name: insert_line_item
INSERT INTO ad_line_items (advertiser_id, line_item_id, campaign_id, name, tier, pricing, bid_fen,
                           budget_fen, goal_impressions, pacing, starts_at, ends_at, dayparts,
                           weight, status, target_merchants, target_stores, target_categories,
                           target_cities, target_languages, target_segments, target_audience)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20,
        $21, $22)

-- name: update_line_item
UPDATE ad_line_items
SET name = $4, tier = $5, pricing = $6, bid_fen = $7, budget_fen = $8, goal_impressions = $9,
    pacing = $10, starts_at = $11, ends_at = $12, dayparts = $13, weight = $14, status = $15,
    target_merchants = $16, target_stores = $17, target_categories = $18, target_cities = $19,
    target_languages = $20, target_segments = $21, target_audience = $22, updated_at = now()
WHERE advertiser_id = $1 AND line_item_id = $2 AND campaign_id = $3
RETURNING line_item_id

-- name: list_caps
SELECT cap_id, scope, scope_id, max_count, period, window_seconds
FROM ad_frequency_caps WHERE advertiser_id = $1 ORDER BY created_at, cap_id

-- name: insert_cap
INSERT INTO ad_frequency_caps (advertiser_id, cap_id, scope, scope_id, max_count, period,
                               window_seconds)
VALUES ($1, $2, $3, $4, $5, $6, $7)

-- name: delete_cap
DELETE FROM ad_frequency_caps WHERE advertiser_id = $1 AND cap_id = $2 RETURNING cap_id

-- name: list_creatives
SELECT creative_id, kind, headline_zh, headline_en, body_zh, body_en, landing_url, file_id,
       thumbnail_file_id, countdown_seconds, status
FROM ad_creatives WHERE advertiser_id = $1 AND campaign_id = $2
ORDER BY created_at, creative_id

-- name: insert_creative
INSERT INTO ad_creatives (advertiser_id, creative_id, campaign_id, kind, headline_zh, headline_en,
                          body_zh, body_en, landing_url, file_id, thumbnail_file_id,
                          countdown_seconds, status)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 'active')

-- name: creative_file_of
SELECT file_id FROM ad_creatives
WHERE advertiser_id = $1 AND (file_id = $2 OR thumbnail_file_id = $2)
LIMIT 1

-- Venues' side -------------------------------------------------------------------------------

-- name: request_approval
-- Pending, or approved at once at the advertiser's own merchant ($4); a blocked advertiser or
-- category asks nothing; a decision already made is kept.
INSERT INTO ad_approvals (merchant_id, campaign_id, advertiser_id, status, decided_at)
SELECT $1, $2, $3, CASE WHEN $4 THEN 'approved' ELSE 'pending' END, CASE WHEN $4 THEN now() END
WHERE $4 OR NOT EXISTS (
    SELECT 1 FROM ad_blocks b
    WHERE b.merchant_id = $1 AND (b.advertiser_id = $3 OR b.category = ANY ($5::text[])))
ON CONFLICT (merchant_id, campaign_id) DO NOTHING
RETURNING status

-- name: approvals_of_campaign
SELECT merchant_id, status, reason, decided_at FROM ad_approvals
WHERE merchant_id = ANY ($1::uuid[]) AND campaign_id = $2

-- name: approval_queue
SELECT ap.campaign_id, ap.advertiser_id, ap.status, ap.requested_at, ap.decided_at, ap.reason,
       a.name AS advertiser_name, a.category AS advertiser_category, c.name AS campaign_name,
       c.category AS campaign_category, c.starts_at, c.ends_at,
       (SELECT cr.headline_en FROM ad_creatives cr
        WHERE cr.advertiser_id = c.advertiser_id AND cr.campaign_id = c.campaign_id
        ORDER BY cr.created_at LIMIT 1) AS headline_en,
       (SELECT cr.headline_zh FROM ad_creatives cr
        WHERE cr.advertiser_id = c.advertiser_id AND cr.campaign_id = c.campaign_id
        ORDER BY cr.created_at LIMIT 1) AS headline_zh
FROM ad_approvals ap
JOIN ad_campaigns c ON c.advertiser_id = ap.advertiser_id AND c.campaign_id = ap.campaign_id
JOIN advertisers a ON a.advertiser_id = ap.advertiser_id
WHERE ap.merchant_id = $1
ORDER BY ap.status <> 'pending', ap.requested_at DESC
LIMIT 200

-- name: approval_for_update
-- A request's status and its campaign's name, locked for the decision (the audit log's before).
SELECT ap.status, ap.reason, c.name AS campaign_name, a.name AS advertiser_name
FROM ad_approvals ap
JOIN ad_campaigns c ON c.advertiser_id = ap.advertiser_id AND c.campaign_id = ap.campaign_id
JOIN advertisers a ON a.advertiser_id = ap.advertiser_id
WHERE ap.merchant_id = $1 AND ap.campaign_id = $2
FOR UPDATE OF ap

-- name: decide_approval
UPDATE ad_approvals
SET status = $3, reason = $4, decided_by = $5, decided_at = now()
WHERE merchant_id = $1 AND campaign_id = $2
RETURNING campaign_id

-- name: list_blocks
SELECT b.block_id, b.advertiser_id, a.name AS advertiser_name, b.category, b.created_at
FROM ad_blocks b LEFT JOIN advertisers a ON a.advertiser_id = b.advertiser_id
WHERE b.merchant_id = $1
ORDER BY b.created_at

-- name: insert_block
INSERT INTO ad_blocks (merchant_id, block_id, advertiser_id, category, created_by)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT DO NOTHING
RETURNING block_id

-- name: reject_blocked_pending
-- A new block turns the merchant's pending requests it covers into rejections.
UPDATE ad_approvals ap
SET status = 'rejected', reason = $2, decided_by = $3, decided_at = now()
FROM ad_campaigns c, advertisers a
WHERE ap.merchant_id = $1 AND ap.status = 'pending'
      AND c.advertiser_id = ap.advertiser_id AND c.campaign_id = ap.campaign_id
      AND a.advertiser_id = ap.advertiser_id
      AND (ap.advertiser_id = $4 OR $5 IN (c.category, a.category))

-- name: delete_block
DELETE FROM ad_blocks WHERE merchant_id = $1 AND block_id = $2
RETURNING block_id, category,
          (SELECT name FROM advertisers a WHERE a.advertiser_id = ad_blocks.advertiser_id)
              AS advertiser_name

-- name: advertiser_name
SELECT name FROM advertisers WHERE advertiser_id = $1

-- name: attach_creative_file
-- A creative without a file (moved by migration 0029) gets one and is shown again.
UPDATE ad_creatives
SET kind = $3, file_id = $4, thumbnail_file_id = $5, countdown_seconds = $6, status = 'active',
    updated_at = now()
WHERE advertiser_id = $1 AND creative_id = $2 AND campaign_id = $7 AND file_id IS NULL
RETURNING creative_id

-- name: creatives_without_file
SELECT campaign_id, creative_id FROM ad_creatives WHERE advertiser_id = $1 AND file_id IS NULL

-- name: own_advertiser_of
SELECT advertiser_id FROM advertisers WHERE merchant_id = $1
