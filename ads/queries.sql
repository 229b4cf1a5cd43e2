-- name: creative_file
SELECT content_type, data FROM creative_files WHERE advertiser_id = $1 AND file_id = $2

-- name: own_advertiser
SELECT advertiser_id FROM advertisers WHERE merchant_id = $1

-- name: insert_advertiser
INSERT INTO advertisers (advertiser_id, name, category, merchant_id) VALUES ($1, $2, $3, $4)

-- name: insert_campaign
INSERT INTO ad_campaigns (advertiser_id, campaign_id, name, category, starts_at, ends_at, status,
                          holdout_share)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)

-- name: insert_line_item
INSERT INTO ad_line_items (advertiser_id, line_item_id, campaign_id, name, tier, pricing, bid_fen,
                           budget_fen, goal_impressions, pacing, starts_at, ends_at, dayparts,
                           weight, status, target_merchants, target_stores, target_categories,
                           target_cities, target_languages, target_segments, target_audience)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20,
        $21, $22)

-- name: insert_creative
INSERT INTO ad_creatives (advertiser_id, creative_id, campaign_id, kind, headline_zh, headline_en,
                          body_zh, body_en, landing_url, file_id, thumbnail_file_id,
                          countdown_seconds, status)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)

-- name: request_approval
-- A campaign asks to appear at a merchant: pending, or approved at once at its own merchant
-- ($4). A decision already made (or a blocked advertiser's request) is kept as it is.
INSERT INTO ad_approvals (merchant_id, campaign_id, advertiser_id, status, decided_at)
SELECT $1, $2, $3, CASE WHEN $4 THEN 'approved' ELSE 'pending' END,
       CASE WHEN $4 THEN now() END
ON CONFLICT (merchant_id, campaign_id) DO NOTHING

-- name: insert_coupon
INSERT INTO coupons (merchant_id, coupon_id, advertiser_id, campaign_id, title_en, title_zh,
                     valid_until, pool, generic_code, codes_on_claim, claim_days,
                     limit_per_shopper, limit_per_period, limit_period, limit_total, timezone)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)

-- name: insert_codes
-- A code already taken at this merchant (or drawn twice) is skipped: the caller draws another.
INSERT INTO coupon_codes (merchant_id, code, coupon_id)
SELECT $1, code, $2 FROM unnest($3::text[]) AS code
ON CONFLICT (merchant_id, code) DO NOTHING
RETURNING code

-- name: coupon_for_claim
-- The coupon a shopper claims, its row locked until the claim commits: two claims of one
-- coupon at once count its limits one after the other (ads/services.py, claim_coupon).
SELECT pool, generic_code, codes_on_claim, claim_days, limit_per_shopper, limit_per_period,
       limit_period, limit_total, timezone, valid_until, valid_until > now() AS open, claims
FROM coupons WHERE merchant_id = $1 AND coupon_id = $2
FOR NO KEY UPDATE

-- name: code_claimed_by
-- The code of this coupon the shopper holds now (claimed or locked, not past its end).
SELECT code FROM coupon_codes
WHERE merchant_id = $1 AND coupon_id = $2 AND claimed_by = $3 AND state IN ('claimed', 'locked')
      AND expires_at > now()
ORDER BY claimed_at DESC
LIMIT 1

-- name: claims_counted
-- The coupon's claims by the shopper $3 and those of the current period ($5: 'day', 'week'
-- or NULL, in the time zone $4), each an index range (coupon_codes_by_shopper,
-- coupon_codes_claims); the total is the coupon's own counter (coupons.claims). Every claim
-- counts, whatever became of it.
SELECT (SELECT count(*) FROM coupon_codes
        WHERE merchant_id = $1 AND claimed_by = $3 AND coupon_id = $2) AS by_shopper,
       (SELECT count(*) FROM coupon_codes
        WHERE merchant_id = $1 AND coupon_id = $2 AND claimed_at IS NOT NULL
              AND claimed_at >= CASE WHEN $5::text IS NULL THEN 'infinity'::timestamptz
                                     ELSE date_trunc($5::text, now() AT TIME ZONE $4::text)
                                          AT TIME ZONE $4::text END) AS in_period

-- name: count_claim
UPDATE coupons SET claims = claims + 1 WHERE merchant_id = $1 AND coupon_id = $2

-- name: claim_next_code
-- The next code of the pool to the shopper $3, valid until $4 (its own end).
UPDATE coupon_codes SET state = 'claimed', claimed_by = $3, claimed_at = now(), expires_at = $4
WHERE merchant_id = $1 AND code = (
    SELECT code FROM coupon_codes
    WHERE merchant_id = $1 AND coupon_id = $2 AND state = 'available'
    LIMIT 1 FOR UPDATE SKIP LOCKED)
RETURNING code

-- name: insert_claimed_code
-- A code made for one claim (a generic pool's, or a unique pool's made on claim). No row: the
-- code was taken already at the merchant, and the caller draws another.
INSERT INTO coupon_codes (merchant_id, code, coupon_id, state, claimed_by, claimed_at,
                          expires_at)
VALUES ($1, $2, $3, 'claimed', $4, now(), $5)
ON CONFLICT (merchant_id, code) DO NOTHING
RETURNING code

-- name: codes_held_by
SELECT cc.code, coalesce(cp.generic_code, cc.code) AS said, cc.claimed_at, cp.title_en,
       cp.title_zh
FROM coupon_codes cc
JOIN coupons cp ON cp.merchant_id = cc.merchant_id AND cp.coupon_id = cc.coupon_id
WHERE cc.merchant_id = $1 AND cc.claimed_by = $2 AND cc.state IN ('claimed', 'locked')
      AND coalesce(cc.expires_at, cp.valid_until) > now()
ORDER BY cc.claimed_at DESC
LIMIT 5

-- name: wallet
-- A shopper's coupons at the merchant, for the wallet page: those held, and those used,
-- expired or voided in the last $3 days, newest claim first. A lock that ran out reads as
-- claimed; a held code past its end as expired, whether or not the expiry job came by.
SELECT cc.code, coalesce(cp.generic_code, cc.code) AS said, cp.title_en, cp.title_zh,
       coalesce(cc.expires_at, cp.valid_until) AS valid_until, cp.timezone, cc.claimed_at,
       CASE WHEN cc.state IN ('claimed', 'locked')
                 AND coalesce(cc.expires_at, cp.valid_until) <= now() THEN 'expired'
            WHEN cc.state = 'locked' AND cc.locked_until <= now() THEN 'claimed'
            ELSE cc.state END AS state
FROM coupon_codes cc
JOIN coupons cp ON cp.merchant_id = cc.merchant_id AND cp.coupon_id = cc.coupon_id
WHERE cc.merchant_id = $1 AND cc.claimed_by = $2
      AND cc.claimed_at > now() - make_interval(days => $3)
ORDER BY cc.claimed_at DESC
LIMIT $4

-- name: codes_taken
-- Which of these codes ($2) the merchant has already (an import's duplicates).
SELECT code FROM coupon_codes WHERE merchant_id = $1 AND code = ANY($2::text[])

-- name: coupon_pool
SELECT pool, title_en FROM coupons WHERE merchant_id = $1 AND coupon_id = $2 FOR NO KEY UPDATE

-- name: expire_codes
-- The expiry job: held codes past their own end, and codes never claimed of coupons past
-- valid_until, become 'expired' ($1 at most at a time).
WITH due AS (
    SELECT cc.merchant_id, cc.code
    FROM coupon_codes cc
    WHERE cc.state IN ('claimed', 'locked') AND cc.expires_at <= now()
    LIMIT $1
), unused AS (
    SELECT cc.merchant_id, cc.code
    FROM coupon_codes cc
    JOIN coupons cp ON cp.merchant_id = cc.merchant_id AND cp.coupon_id = cc.coupon_id
    WHERE cc.state = 'available' AND cp.valid_until <= now()
    LIMIT $1
)
UPDATE coupon_codes cc SET state = 'expired'
FROM (SELECT * FROM due UNION ALL SELECT * FROM unused) x
WHERE cc.merchant_id = x.merchant_id AND cc.code = x.code

-- name: void_code
-- An owner voids a code not yet redeemed (given out by mistake, or abused): nobody can lock or
-- redeem it any more. A code locked by a POS right now is left alone.
UPDATE coupon_codes
SET state = 'void', voided_at = now(), voided_by = $3
WHERE merchant_id = $1 AND code = $2
      AND (state IN ('available', 'claimed') OR (state = 'locked' AND locked_until <= now()))
RETURNING code

-- Redemption at the till and through the POS API (ads/redemption.py, ads/pos_redemption.py) --

-- name: code_status
-- A code as the till and the POS API see it: its coupon, state (a lock that ran out reads as
-- 'claimed' again), validity, its current lock and its last redemption if any.
SELECT cc.code,
       CASE WHEN cc.state = 'locked' AND cc.locked_until <= now() THEN 'claimed' ELSE cc.state END
           AS state,
       cc.claimed_at, cc.locked_until, cp.title_en, cp.title_zh,
       coalesce(cc.expires_at, cp.valid_until) AS valid_until,
       cc.state = 'expired' OR coalesce(cc.expires_at, cp.valid_until) <= now() AS expired,
       r.redemption_id, r.redeemed_at, r.store_id AS redeemed_store_id,
       r.redeemed_at > now() - make_interval(secs => $3) AS undoable
FROM coupon_codes cc
JOIN coupons cp ON cp.merchant_id = cc.merchant_id AND cp.coupon_id = cc.coupon_id
LEFT JOIN LATERAL (
    SELECT redemption_id, redeemed_at, store_id FROM coupon_redemptions
    WHERE merchant_id = cc.merchant_id AND code = cc.code AND rolled_back_at IS NULL
    ORDER BY redeemed_at DESC LIMIT 1
) r ON true
WHERE cc.merchant_id = $1 AND cc.code = $2

-- name: redeem_code
-- A claimed, unexpired code redeemed once: two tills at once, one row (the other sees none).
-- The code is $2, or the code of the lock $3, which must then be the code's current lock (a
-- code locked by someone else is redeemed by nobody else until the lock runs out). At the till
-- $7 is the console user; through the POS API $6 is the API key, and with an idempotency key
-- $8 a redemption the API key already made under it comes back instead (`replayed`, and
-- `same_request`: for the same code, store $5 and POS reference $9).
WITH target AS (
    SELECT coalesce($2::text,
                    (SELECT code FROM coupon_locks WHERE merchant_id = $1 AND lock_id = $3)) AS code
), prior AS (
    SELECT r.redemption_id, r.code, r.coupon_id, r.store_id, r.redeemed_at, r.rolled_back_at,
           r.pos_reference, r.device_hash,
           r.code IS NOT DISTINCT FROM t.code AND r.store_id = $5
               AND r.pos_reference IS NOT DISTINCT FROM $9 AS same_request
    FROM coupon_redemptions r, target t
    WHERE r.merchant_id = $1 AND r.api_key_id = $6 AND r.idempotency_key = $8
), code AS (
    UPDATE coupon_codes cc SET state = 'redeemed'
    FROM coupons cp, target t
    WHERE cc.merchant_id = $1 AND cc.code = t.code AND NOT EXISTS (SELECT 1 FROM prior)
          AND cp.merchant_id = cc.merchant_id AND cp.coupon_id = cc.coupon_id
          AND coalesce(cc.expires_at, cp.valid_until) > now()
          AND CASE WHEN $3::uuid IS NULL
                   THEN cc.state = 'claimed' OR (cc.state = 'locked' AND cc.locked_until <= now())
                   ELSE cc.state = 'locked' AND cc.lock_id = $3 AND cc.locked_until > now() END
    RETURNING cc.code, cc.coupon_id, cc.claimed_by
), new AS (
    INSERT INTO coupon_redemptions (merchant_id, redemption_id, code, coupon_id, store_id,
                                    device_hash, redeemed_by, api_key_id, idempotency_key,
                                    pos_reference)
    SELECT $1, $4, code, coupon_id, $5, claimed_by, $7, $6, $8, $9 FROM code
    RETURNING redemption_id, code, coupon_id, store_id, redeemed_at, rolled_back_at, pos_reference,
              device_hash
)
SELECT x.redemption_id, x.code, x.store_id, x.redeemed_at, x.rolled_back_at, x.pos_reference,
       x.replayed, x.same_request, cp.title_en, cp.title_zh, x.coupon_id, x.device_hash
FROM (
    SELECT new.*, false AS replayed, true AS same_request FROM new
    UNION ALL
    SELECT redemption_id, code, coupon_id, store_id, redeemed_at, rolled_back_at, pos_reference,
           device_hash, true, same_request
    FROM prior
) x
JOIN coupons cp ON cp.merchant_id = $1 AND cp.coupon_id = x.coupon_id

-- name: undo_redemption
-- A redemption rolled back within the window ($3 seconds), by a console user $4 or an API key
-- $5 (of the store $6 only, when not NULL): the code is 'claimed' again.
WITH undone AS (
    UPDATE coupon_redemptions
    SET rolled_back_at = now(), rolled_back_by = $4, rolled_back_by_key = $5
    WHERE merchant_id = $1 AND redemption_id = $2 AND rolled_back_at IS NULL
          AND redeemed_at > now() - make_interval(secs => $3)
          AND ($6::uuid IS NULL OR store_id = $6)
    RETURNING code, rolled_back_at
)
UPDATE coupon_codes cc SET state = 'claimed'
FROM undone u
WHERE cc.merchant_id = $1 AND cc.code = u.code AND cc.state = 'redeemed'
RETURNING cc.code, u.rolled_back_at

-- name: recent_redemptions
-- A store's latest redemptions at the till, newest first.
SELECT r.redemption_id, r.code, r.redeemed_at, r.rolled_back_at, cp.title_en, cp.title_zh,
       r.redeemed_at > now() - make_interval(secs => $4) AND r.rolled_back_at IS NULL
           AS undoable
FROM coupon_redemptions r
JOIN coupons cp ON cp.merchant_id = r.merchant_id AND cp.coupon_id = r.coupon_id
WHERE r.merchant_id = $1 AND r.store_id = $2
ORDER BY r.redeemed_at DESC
LIMIT $3

-- name: imported_pools
-- The merchant's coupons with an imported pool, for the import page: how many codes each
-- holds and how many are still to hand out.
SELECT cp.coupon_id, cp.title_en, cp.title_zh, cp.valid_until, cp.timezone,
       count(cc.code) AS codes, count(cc.code) FILTER (WHERE cc.state = 'available') AS available
FROM coupons cp
LEFT JOIN coupon_codes cc ON cc.merchant_id = cp.merchant_id AND cc.coupon_id = cp.coupon_id
WHERE cp.merchant_id = $1 AND cp.pool = 'imported'
GROUP BY cp.merchant_id, cp.coupon_id
ORDER BY cp.valid_until DESC, cp.coupon_id
