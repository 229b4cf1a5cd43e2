-- SMS one-time codes, the development SMS outbox and the portal's rate limits (portal/sms.py,
-- portal/rate_limits.py, portal/console_sms.py; tables of migration 0020).

-- name: hit_rate_limits
-- One hit on each subject's current fixed window ($3: its length in seconds), each row one
-- atomic upsert; the hits of every window so far, this one included.
INSERT INTO portal_rate_limits AS r (merchant_id, subject, window_start, hits)
SELECT $1, s, to_timestamp(floor(extract(epoch FROM now()) / w) * w), 1
FROM unnest($2::text[], $3::int[]) WITH ORDINALITY AS x(s, w, n)
ORDER BY n
ON CONFLICT (merchant_id, subject, window_start) DO UPDATE SET hits = r.hits + 1
RETURNING subject, hits

-- name: rate_limits_held_back
-- Read without a hit: of the counters $2 (windows $3 seconds, limits $4) those already at their
-- limit in the current window; the seconds until the last of their windows ends, or NULL.
SELECT max(x.w - mod(extract(epoch FROM now()), x.w))::float8
FROM unnest($2::text[], $3::int[], $4::int[]) AS x(s, w, m)
JOIN portal_rate_limits r ON r.merchant_id = $1 AND r.subject = x.s
     AND r.window_start = to_timestamp(floor(extract(epoch FROM now()) / x.w) * x.w)
WHERE r.hits >= x.m

-- name: count_and_store_code
-- A send: one hit on each of its counters ($2, windows $3, limits $4; as hit_rate_limits) and,
-- unless one is now over its limit, the new code (stored for $10 seconds); the hits.
WITH hits AS (
    INSERT INTO portal_rate_limits AS r (merchant_id, subject, window_start, hits)
    SELECT $1, s, to_timestamp(floor(extract(epoch FROM now()) / w) * w), 1
    FROM unnest($2::text[], $3::int[]) WITH ORDINALITY AS x(s, w, n)
    ORDER BY n
    ON CONFLICT (merchant_id, subject, window_start) DO UPDATE SET hits = r.hits + 1
    RETURNING subject, hits
), over AS (
    SELECT 1 FROM hits JOIN unnest($2::text[], $4::int[]) AS l(s, max_hits) ON l.s = hits.subject
    WHERE hits.hits > l.max_hits
), code AS (
    INSERT INTO sms_codes (merchant_id, code_id, identity_hash, device_hash, store_id,
                           code_hash, expires_at)
    SELECT $1, $5, $6, $7, $8, $9, now() + make_interval(secs => $10)
    WHERE NOT EXISTS (SELECT 1 FROM over)
)
SELECT subject, hits FROM hits

-- name: delete_code
DELETE FROM sms_codes WHERE merchant_id = $1 AND code_id = $2

-- name: try_code_and_remember
-- try_code, and when the code matches and was sent to the referenced number ($6, its identity
-- hash) that number remembered in the same statement: verified, sealed ($7, $8 masked), and
-- linked to the device (portal/queries.sql remember_identity_on_device, one round trip less).
WITH tried AS (
    UPDATE sms_codes SET attempts = attempts + 1,
                         used_at = CASE WHEN code_hash = $4 THEN now() END
    WHERE merchant_id = $1 AND code_id = $2 AND device_hash = $3
          AND used_at IS NULL AND expires_at > now() AND attempts < $5
    RETURNING identity_hash, used_at IS NOT NULL AS matched, attempts
), identity AS (
    INSERT INTO shopper_identities AS i (merchant_id, identity_hash, kind, sealed, masked,
                                         verified_at)
    SELECT $1, identity_hash, 'phone', $7, $8, now() FROM tried
    WHERE matched AND identity_hash = $6
    ON CONFLICT (merchant_id, identity_hash) DO UPDATE SET verified_at = now()
    RETURNING identity_hash
), link AS (
    INSERT INTO shopper_devices AS d (merchant_id, device_hash, identity_hash, last_login_at)
    SELECT $1, $3, identity_hash, now() FROM identity
    ON CONFLICT (merchant_id, device_hash, identity_hash) DO UPDATE SET
        last_login_at = greatest(d.last_login_at, EXCLUDED.last_login_at)
)
SELECT identity_hash, matched, attempts FROM tried

-- name: code_state
SELECT device_hash, used_at IS NOT NULL AS used, expires_at <= now() AS expired, attempts
FROM sms_codes WHERE merchant_id = $1 AND code_id = $2

-- name: release_code
-- A code whose login the router did not confirm may be tried again (the shopper's retry).
UPDATE sms_codes SET used_at = NULL
WHERE merchant_id = $1 AND code_id = $2 AND expires_at > now()

-- name: outbox_insert
-- One text per message id: a text sent again under its id (marketing's delivery id, after a
-- crash between the send and its record) is the text already there.
INSERT INTO sms_outbox (merchant_id, message_id, masked_phone, sealed_phone, body)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (merchant_id, message_id) DO NOTHING

-- name: outbox_page
SELECT message_id, masked_phone, body, created_at
FROM sms_outbox WHERE merchant_id = $1
ORDER BY created_at DESC, message_id DESC
LIMIT $2 OFFSET $3

-- name: outbox_phone
SELECT sealed_phone FROM sms_outbox WHERE merchant_id = $1 AND message_id = $2

-- name: purge_sms
-- What the SMS login keeps no longer than it needs (portal/retention.py): outbox texts older
-- than $1 seconds, codes expired, and rate-limit windows that began more than $2 seconds ago.
WITH outbox AS (
    DELETE FROM sms_outbox WHERE created_at < now() - make_interval(secs => $1) RETURNING 1
), codes AS (
    DELETE FROM sms_codes WHERE expires_at < now() RETURNING 1
), windows AS (
    DELETE FROM portal_rate_limits WHERE window_start < now() - make_interval(secs => $2)
    RETURNING 1
)
SELECT (SELECT count(*) FROM outbox) AS outbox, (SELECT count(*) FROM codes) AS codes,
       (SELECT count(*) FROM windows) AS windows
