-- A shopper's export and erasure in ads (ads/privacy.py, docs/privacy.md; tables of migrations
-- 0001, 0024, 0030, 0032). $1 is the merchant; $2 the shopper's keys as ads knows them: the
-- identity hashes of their phone numbers and email addresses, and their devices' pseudonyms
-- (the ad decision counts a shopper by either; a claim is keyed by the device).

-- name: claims
SELECT cc.code, cc.coupon_id, c.title_en, c.title_zh, cc.state, cc.claimed_at, cc.expires_at,
       cc.claimed_by
FROM coupon_codes cc
JOIN coupons c ON c.merchant_id = cc.merchant_id AND c.coupon_id = cc.coupon_id
WHERE cc.merchant_id = $1 AND cc.claimed_by = ANY($2::text[])
ORDER BY cc.claimed_at, cc.code

-- name: redemptions
SELECT redemption_id, code, coupon_id, store_id, redeemed_at, rolled_back_at, device_hash
FROM coupon_redemptions
WHERE merchant_id = $1 AND device_hash = ANY($2::text[])
ORDER BY redeemed_at, redemption_id

-- name: ad_events
SELECT event_id, kind, identity, store_id, advertiser_id, campaign_id, line_item_id,
       creative_id, occurred_at
FROM ad_events
WHERE merchant_id = $1 AND identity = ANY($2::text[])
ORDER BY occurred_at, event_id

-- name: identity_devices
SELECT identity, device, first_seen_at FROM ad_identity_devices
WHERE merchant_id = $1 AND (identity = ANY($2::text[]) OR device = ANY($2::text[]))
ORDER BY identity, device

-- name: erase_claims
-- A claimed code stays what it is (claimed, redeemed, expired: the coupon's counts and the
-- merchant's codes stand; whoever holds a claimed code may still redeem it at the till) under a
-- key that names nobody, 'x:<code>'.
UPDATE coupon_codes SET claimed_by = 'x:' || code
WHERE merchant_id = $1 AND claimed_by = ANY($2::text[])

-- name: erase_redemptions
-- A redemption stays (the till's list, the coupon's reports) without whose it was.
UPDATE coupon_redemptions SET device_hash = NULL
WHERE merchant_id = $1 AND device_hash = ANY($2::text[])

-- name: erase_ad_events
-- Each impression, click and action stays counted (advertisers' reports and bills) under a key
-- of its own that names nobody and links no two events, 'x:<event id>'.
UPDATE ad_events SET identity = 'x:' || event_id::text
WHERE merchant_id = $1 AND identity = ANY($2::text[])

-- name: erase_identity_devices
DELETE FROM ad_identity_devices
WHERE merchant_id = $1 AND (identity = ANY($2::text[]) OR device = ANY($2::text[]))
