-- Returning shoppers (portal/returning.py): tables of the portal (migrations 0001, 0020).

-- name: returning_shopper
-- The latest session within the window that makes this device a returning shopper at the
-- merchant, at any of its stores: the device's own, or one of an identity this device logged
-- in as (on any device). Voucher sessions and sessions staff ended do not count. A session
-- counts only if the store would let its shopper in itself: anyone when it has click-through
-- ($4), else only an identity of a kind its methods accept ($5; a phone number only verified).
-- $1 merchant, $2 device hash, $3 days. The identity: the session's, else the one this device
-- last logged in as.
WITH candidates AS (
    SELECT s.identity_hash, s.started_at
    FROM portal_sessions s
    WHERE s.merchant_id = $1 AND s.device_hash = $2
          AND s.started_at > now() - make_interval(days => $3)
          AND s.method <> 'voucher' AND s.end_reason IS DISTINCT FROM 'staff'
    UNION ALL
    SELECT s.identity_hash, s.started_at
    FROM shopper_devices d
    JOIN portal_sessions s ON s.merchant_id = d.merchant_id AND s.identity_hash = d.identity_hash
    WHERE d.merchant_id = $1 AND d.device_hash = $2
          AND s.started_at > now() - make_interval(days => $3)
          AND s.method <> 'voucher' AND s.end_reason IS DISTINCT FROM 'staff'
), qualified AS (
    SELECT c.identity_hash, c.started_at
    FROM candidates c
    LEFT JOIN shopper_identities i ON i.merchant_id = $1 AND i.identity_hash = c.identity_hash
    WHERE $4::bool
          OR (i.kind = ANY($5::text[]) AND (i.kind <> 'phone' OR i.verified_at IS NOT NULL))
    ORDER BY c.identity_hash IS NULL, c.started_at DESC
    LIMIT 1
)
SELECT coalesce(q.identity_hash, (
           SELECT d.identity_hash FROM shopper_devices d
           WHERE d.merchant_id = $1 AND d.device_hash = $2
           ORDER BY d.last_login_at DESC
           LIMIT 1
       )) AS identity_hash,
       q.started_at
FROM qualified q
