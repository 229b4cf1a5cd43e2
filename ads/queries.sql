-- name: eligible_ads
SELECT c.campaign_id, c.tier, c.advertiser, c.starts_at, c.ends_at, cr.creative_id, cr.headline_en, cr.headline_zh,
       cr.body_en, cr.body_zh, cp.coupon_id, cp.title_en AS coupon_en, cp.title_zh AS coupon_zh
FROM campaigns c
JOIN creatives cr ON cr.merchant_id = c.merchant_id AND cr.campaign_id = c.campaign_id
LEFT JOIN coupons cp ON cp.merchant_id = c.merchant_id AND cp.campaign_id = c.campaign_id
     AND cp.valid_until > $2
WHERE c.merchant_id = $1 AND c.approved AND c.ends_at > $2

-- name: creative_image
SELECT image_type, image FROM creatives WHERE merchant_id = $1 AND creative_id = $2

-- name: insert_campaign
INSERT INTO campaigns (merchant_id, campaign_id, advertiser, name, tier, approved, starts_at, ends_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)

-- name: insert_creative
INSERT INTO creatives (merchant_id, creative_id, campaign_id, headline_en, headline_zh, body_en,
                       body_zh, image_type, image)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)

-- name: insert_coupon
INSERT INTO coupons (merchant_id, coupon_id, campaign_id, title_en, title_zh, valid_until)
VALUES ($1, $2, $3, $4, $5, $6)

-- name: insert_code
INSERT INTO coupon_codes (merchant_id, code, coupon_id) VALUES ($1, $2, $3)
ON CONFLICT DO NOTHING

-- name: code_claimed_by
SELECT code FROM coupon_codes WHERE merchant_id = $1 AND coupon_id = $2 AND claimed_by = $3

-- name: claim_next_code
UPDATE coupon_codes SET state = 'claimed', claimed_by = $3, claimed_at = now()
WHERE merchant_id = $1 AND code = (
    SELECT code FROM coupon_codes
    WHERE merchant_id = $1 AND coupon_id = $2 AND state = 'available'
    LIMIT 1 FOR UPDATE SKIP LOCKED)
RETURNING code

-- name: coupon_exists
SELECT EXISTS (SELECT 1 FROM coupons WHERE merchant_id = $1 AND coupon_id = $2)

-- name: codes_held_by
SELECT cc.code, cp.title_en, cp.title_zh
FROM coupon_codes cc
JOIN coupons cp ON cp.merchant_id = cc.merchant_id AND cp.coupon_id = cc.coupon_id
WHERE cc.merchant_id = $1 AND cc.claimed_by = $2 AND cc.state = 'claimed' AND cp.valid_until > now()
ORDER BY cc.claimed_at DESC
LIMIT 5
