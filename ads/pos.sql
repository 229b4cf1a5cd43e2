-- The POS API's keys and locks (ads/pos_keys.py, ads/pos_redemption.py; tables of migration
-- 0025). Redeeming and rolling back share the till's statements (ads/queries.sql).

-- name: insert_key
-- A new key for the merchant, unless it already has $8 keys not revoked: then no row.
WITH made AS (
    INSERT INTO pos_api_keys (merchant_id, key_id, name, prefix, store_id, created_by)
    SELECT $1, $2, $3, $4, $5, $6
    WHERE (SELECT count(*) FROM pos_api_keys WHERE merchant_id = $1 AND revoked_at IS NULL) < $8
    RETURNING merchant_id, key_id
)
INSERT INTO pos_key_directory (key_hash, merchant_id, key_id)
SELECT $7, merchant_id, key_id FROM made
RETURNING key_id

-- name: revoke_key
UPDATE pos_api_keys SET revoked_at = now()
WHERE merchant_id = $1 AND key_id = $2 AND revoked_at IS NULL
RETURNING name

-- name: list_keys
-- The merchant's keys, those in use first, newest first.
SELECT key_id, name, prefix, store_id, created_by, created_at, last_used_at, revoked_at
FROM pos_api_keys
WHERE merchant_id = $1
ORDER BY revoked_at IS NOT NULL, created_at DESC, key_id

-- name: key_by_hash
-- The key with this hash ($1), revoked or not.
SELECT k.merchant_id, k.key_id, k.store_id, k.name, k.prefix, k.revoked_at
FROM pos_key_directory d
JOIN pos_api_keys k ON k.merchant_id = d.merchant_id AND k.key_id = d.key_id
WHERE d.key_hash = $1

-- name: touch_key
-- A key in use, asked for by a request it may act for, has its last use noted, at most once
-- every $3 seconds (a busy POS does not write a row a request, and two requests at once never
-- wait for each other: SKIP LOCKED).
WITH stale AS (
    SELECT merchant_id, key_id
    FROM pos_api_keys
    WHERE merchant_id = $1 AND key_id = $2 AND revoked_at IS NULL
          AND (last_used_at IS NULL OR last_used_at < now() - make_interval(secs => $3))
    FOR UPDATE SKIP LOCKED
)
UPDATE pos_api_keys p SET last_used_at = now()
FROM stale s WHERE p.merchant_id = s.merchant_id AND p.key_id = s.key_id

-- name: lock_code
-- Lock a claimed (or lock-ran-out), unexpired code for $3 seconds: $4 becomes its current lock,
-- taken by the API key $5 for the store $6 with the POS reference $7. No row: it cannot be
-- locked now (ads/redemption.py's code_status says why).
WITH code AS (
    UPDATE coupon_codes cc
    SET state = 'locked', lock_id = $4, locked_until = now() + make_interval(secs => $3)
    FROM coupons cp
    WHERE cc.merchant_id = $1 AND cc.code = $2
          AND (cc.state = 'claimed' OR (cc.state = 'locked' AND cc.locked_until <= now()))
          AND cp.merchant_id = cc.merchant_id AND cp.coupon_id = cc.coupon_id
          AND coalesce(cc.expires_at, cp.valid_until) > now()
    RETURNING cc.code, cc.locked_until
)
INSERT INTO coupon_locks (merchant_id, lock_id, code, api_key_id, store_id, pos_reference,
                          expires_at)
SELECT $1, $4, code, $5, $6, $7, locked_until FROM code
RETURNING lock_id, code, store_id, pos_reference, expires_at

-- name: release_lock
-- A lock still current ended early (the sale was cancelled): its code is 'claimed' again.
UPDATE coupon_codes cc SET state = 'claimed', locked_until = now()
FROM coupon_locks l
WHERE l.merchant_id = $1 AND l.lock_id = $2
      AND cc.merchant_id = l.merchant_id AND cc.code = l.code AND cc.lock_id = l.lock_id
      AND cc.state = 'locked' AND cc.locked_until > now()
RETURNING cc.code

-- name: lock_status
-- A lock ($2) and its code as they are now: why it cannot be redeemed or released.
SELECT l.code, cc.state,
       cc.state = 'expired' OR coalesce(cc.expires_at, cp.valid_until) <= now() AS expired
FROM coupon_locks l
JOIN coupon_codes cc ON cc.merchant_id = l.merchant_id AND cc.code = l.code
JOIN coupons cp ON cp.merchant_id = cc.merchant_id AND cp.coupon_id = cc.coupon_id
WHERE l.merchant_id = $1 AND l.lock_id = $2

-- name: redemption_status
-- A redemption ($2) as it is now: why it cannot be rolled back. Only one at the store $3 when
-- not NULL.
SELECT code, redeemed_at, rolled_back_at
FROM coupon_redemptions
WHERE merchant_id = $1 AND redemption_id = $2 AND ($3::uuid IS NULL OR store_id = $3)

-- name: purge_old_locks
-- Locks that ended more than $1 seconds ago (ads/pos_redemption.py, LOCKS_KEPT).
DELETE FROM coupon_locks WHERE expires_at < now() - make_interval(secs => $1)
