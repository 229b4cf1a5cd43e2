-- Vouchers (portal/vouchers.py, docs/logins.md "Vouchers"): migration 0020's voucher_batches,
-- vouchers and voucher_devices, and the voucher part of portal_rate_limits.

-- name: insert_batch
INSERT INTO voucher_batches (merchant_id, batch_id, store_id, name, minutes, quota_kb,
                             max_devices, valid_until, created_by)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)

-- name: insert_codes
-- A code already taken at this merchant is skipped: the caller draws another for it.
INSERT INTO vouchers (merchant_id, code, batch_id)
SELECT $1, code, $2 FROM unnest($3::text[]) AS code
ON CONFLICT (merchant_id, code) DO NOTHING
RETURNING code

-- name: batches
SELECT b.batch_id, b.store_id, b.name, b.minutes, b.quota_kb, b.max_devices, b.valid_until,
       b.created_at,
       count(v.code)::integer AS total,
       count(v.code) FILTER (WHERE v.first_used_at IS NOT NULL)::integer AS used,
       count(v.code) FILTER (WHERE v.revoked_at IS NOT NULL)::integer AS revoked,
       count(v.code) FILTER (WHERE v.first_used_at IS NULL AND v.revoked_at IS NULL)::integer
           AS unused
FROM voucher_batches b
LEFT JOIN vouchers v ON v.merchant_id = b.merchant_id AND v.batch_id = b.batch_id
WHERE b.merchant_id = $1 AND ($2::uuid IS NULL OR b.batch_id = $2)
GROUP BY b.merchant_id, b.batch_id
ORDER BY b.created_at DESC, b.batch_id
LIMIT $3

-- name: batch_owner
-- Which of the merchants $1 holds batch $2 (the primary key's index: merchant, then batch).
SELECT merchant_id FROM voucher_batches WHERE merchant_id = ANY($1::uuid[]) AND batch_id = $2

-- name: codes_of_batch
SELECT v.code, v.first_used_at, v.revoked_at,
       (SELECT count(*) FROM voucher_devices d
        WHERE d.merchant_id = v.merchant_id AND d.code = v.code)::integer AS devices
FROM vouchers v
WHERE v.merchant_id = $1 AND v.batch_id = $2
ORDER BY v.code

-- name: revoke_batch
-- Every live code of the batch revoked, and the sessions running on them due now: the session
-- end job ends them as 'staff' and deauths their clients (portal/session_end.py). Grants still
-- waiting for a level-3 router's authmon are withdrawn (no poll hands them over). How many.
WITH revoked AS (
    UPDATE vouchers SET revoked_at = now()
    WHERE merchant_id = $1 AND batch_id = $2 AND revoked_at IS NULL
    RETURNING code
), cut AS (
    UPDATE portal_sessions s SET expires_at = least(s.expires_at, now()), end_reason = 'staff'
    FROM revoked r
    WHERE s.merchant_id = $1 AND s.voucher_code = r.code AND s.status = 'active'
), withdrawn AS (
    UPDATE authmon_grants g SET expires_at = now()
    FROM revoked r
    WHERE g.merchant_id = $1 AND g.voucher_code = r.code AND g.expires_at > now()
)
SELECT count(*) AS revoked,
       (SELECT name FROM voucher_batches WHERE merchant_id = $1 AND batch_id = $2) AS name
FROM revoked

-- name: revoke_code
-- One code revoked, its running sessions due now and its authmon grants withdrawn (as
-- revoke_batch); its batch's name (no row: not a live code of the batch).
WITH revoked AS (
    UPDATE vouchers SET revoked_at = now()
    WHERE merchant_id = $1 AND code = $2 AND batch_id = $3 AND revoked_at IS NULL
    RETURNING code
), cut AS (
    UPDATE portal_sessions s SET expires_at = least(s.expires_at, now()), end_reason = 'staff'
    FROM revoked r
    WHERE s.merchant_id = $1 AND s.voucher_code = r.code AND s.status = 'active'
), withdrawn AS (
    UPDATE authmon_grants g SET expires_at = now()
    FROM revoked r
    WHERE g.merchant_id = $1 AND g.voucher_code = r.code AND g.expires_at > now()
)
SELECT b.name FROM revoked JOIN voucher_batches b ON b.merchant_id = $1 AND b.batch_id = $3

-- name: brand_of_store
SELECT brand_name FROM portal_settings WHERE merchant_id = $1 AND store_id = $2

-- name: lock_voucher
-- The row lock serialises every redemption of one code; after waiting for it, PostgreSQL
-- returns the row as the previous holder left it (READ COMMITTED re-reads a locked row).
SELECT v.first_used_at, v.revoked_at, b.store_id, b.minutes, b.quota_kb, b.max_devices,
       b.valid_until, now() AS now
FROM vouchers v
JOIN voucher_batches b ON b.merchant_id = v.merchant_id AND b.batch_id = v.batch_id
WHERE v.merchant_id = $1 AND v.code = $2
FOR UPDATE OF v

-- name: voucher_devices
-- Run after lock_voucher in the same transaction: this statement's snapshot is newer than the
-- lock, so it sees every device the earlier holders added. `held_back`: the rate-limit counters
-- ($4, windows $5, limits $6: portal/rate_limits.py's, read without a hit) already at their
-- limit in the current window.
SELECT count(*)::integer AS devices, coalesce(bool_or(device_hash = $3), false) AS mine,
       (SELECT count(*) FROM unnest($4::text[], $5::int[], $6::int[]) AS x(s, w, m)
        JOIN portal_rate_limits r ON r.merchant_id = $1 AND r.subject = x.s
             AND r.window_start = to_timestamp(floor(extract(epoch FROM now()) / x.w) * x.w)
        WHERE r.hits >= x.m)::integer AS held_back
FROM voucher_devices WHERE merchant_id = $1 AND code = $2

-- name: add_voucher_device
WITH added AS (
    INSERT INTO voucher_devices (merchant_id, code, device_hash, redeemed_at)
    VALUES ($1, $2, $3, $4)
)
UPDATE vouchers SET first_used_at = coalesce(first_used_at, $4)
WHERE merchant_id = $1 AND code = $2
