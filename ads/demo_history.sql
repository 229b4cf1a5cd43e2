-- The demo's report history (ads/demo_history.py): a past campaign's events, claims and
-- redemptions at the demo mall, written once when the demo advertiser is made.

-- name: insert_events
INSERT INTO ad_events (merchant_id, event_id, kind, identity, store_id, advertiser_id,
                       campaign_id, line_item_id, creative_id, occurred_at)
SELECT $1, u.id, u.kind, u.identity, $2, $3, $4, $5, $6, u.at
FROM unnest($7::uuid[], $8::text[], $9::text[], $10::timestamptz[]) AS u (id, kind, identity, at)

-- name: claim_codes
-- Hand the coupon's next available codes to the shoppers $3 at the times $4 (as many as given).
WITH wanted AS (
    SELECT w.identity, w.at, row_number() OVER () AS n
    FROM unnest($3::text[], $4::timestamptz[]) AS w (identity, at)
), free AS (
    SELECT code, row_number() OVER (ORDER BY code) AS n
    FROM coupon_codes WHERE merchant_id = $1 AND coupon_id = $2 AND state = 'available'
)
UPDATE coupon_codes cc
SET state = 'claimed', claimed_by = w.identity, claimed_at = w.at, expires_at = c.valid_until
FROM wanted w JOIN free f USING (n), coupons c
WHERE cc.merchant_id = $1 AND cc.code = f.code AND c.merchant_id = $1 AND c.coupon_id = $2
RETURNING cc.code, cc.claimed_by

-- name: redeem_codes
-- Redeem the codes $3 at the times $4 at store $5 by console user $6.
WITH r AS (
    SELECT * FROM unnest($3::text[], $4::timestamptz[]) AS r (code, at)
), done AS (
    UPDATE coupon_codes cc SET state = 'redeemed'
    FROM r WHERE cc.merchant_id = $1 AND cc.code = r.code
    RETURNING cc.code, cc.claimed_by, r.at
)
INSERT INTO coupon_redemptions (merchant_id, redemption_id, code, coupon_id, store_id,
                                device_hash, redeemed_by, redeemed_at)
SELECT $1, gen_random_uuid(), d.code, $2, $5, d.claimed_by, $6, d.at FROM done d

-- name: count_claims
UPDATE coupons SET claims = claims + $3 WHERE merchant_id = $1 AND coupon_id = $2
