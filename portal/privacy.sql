-- A shopper's export and erasure in the portal (portal/privacy.py, docs/privacy.md; tables of
-- migrations 0001, 0004, 0005, 0020, 0022, 0047). $1 is the merchant throughout; the shopper is
-- named by identity hashes ($2: phone numbers', email addresses'), device pseudonyms ($3), raw
-- MACs ($4: only those the request typed, to find the rows that still hold one) and a voucher
-- code ($5, or NULL).

-- name: devices_of
-- The devices the named identities logged in on and those that logged in with the voucher.
SELECT device_hash FROM shopper_devices WHERE merchant_id = $1 AND identity_hash = ANY($2::text[])
UNION
SELECT device_hash FROM voucher_devices WHERE merchant_id = $1 AND code = $3

-- name: identities
SELECT identity_hash, kind, masked, verified_at IS NOT NULL AS verified, verified_at,
       created_at, last_login_at
FROM shopper_identities
WHERE merchant_id = $1 AND identity_hash = ANY($2::text[])
ORDER BY created_at, identity_hash

-- name: device_links
SELECT identity_hash, device_hash, last_login_at FROM shopper_devices
WHERE merchant_id = $1 AND (identity_hash = ANY($2::text[]) OR device_hash = ANY($3::text[]))
ORDER BY identity_hash, device_hash

-- name: consents
SELECT consent_id, identity_hash, purpose, wording_version, store_id, given_at, withdrawn_at,
       withdrawn_via
FROM shopper_consents
WHERE merchant_id = $1 AND identity_hash = ANY($2::text[])
ORDER BY given_at, consent_id

-- name: sessions
-- Each session: where, how and under which terms version it was let in (the record of the
-- terms the shopper accepted), how long, what it used and how it ended.
SELECT session_id, store_id, router_id, method, terms_version, status, started_at, expires_at,
       ended_at, end_reason, extensions, down_used_kb, up_used_kb, device_hash, identity_hash,
       voucher_code, client_mac IS NOT NULL AS mac_kept
FROM portal_sessions
WHERE merchant_id = $1
      AND (device_hash = ANY($3::text[]) OR identity_hash = ANY($2::text[])
           OR client_mac = ANY($4::text[]) OR voucher_code = $5)
ORDER BY started_at, session_id

-- name: opt_outs
SELECT session_id, store_id, device_hash, identity_hash, opted_out_at FROM shopper_opt_outs
WHERE merchant_id = $1 AND (device_hash = ANY($3::text[]) OR identity_hash = ANY($2::text[]))
ORDER BY opted_out_at, session_id

-- name: sms_codes
-- Never the code's hash: when it was asked for, where, and whether it was used.
SELECT code_id, store_id, identity_hash, device_hash, created_at, expires_at, used_at, attempts
FROM sms_codes
WHERE merchant_id = $1 AND (identity_hash = ANY($2::text[]) OR device_hash = ANY($3::text[]))
ORDER BY created_at, code_id

-- name: outbox
-- The merchant's outbox (kept a day): its numbers are sealed, so the caller opens each.
SELECT message_id, masked_phone, sealed_phone, body, created_at FROM sms_outbox
WHERE merchant_id = $1
ORDER BY created_at, message_id

-- name: voucher_devices
-- ($2: the devices, $3: the voucher code)
SELECT code, device_hash, redeemed_at FROM voucher_devices
WHERE merchant_id = $1 AND (device_hash = ANY($2::text[]) OR code = $3)
ORDER BY redeemed_at, code

-- name: rate_limits
-- Counters keyed by the shopper's phone number or device ('phone:<identity hash>:<window>').
SELECT split_part(subject, ':', 1) AS kind, window_start, hits FROM portal_rate_limits
WHERE merchant_id = $1 AND split_part(subject, ':', 2) = ANY($2::text[] || $3::text[])
ORDER BY window_start, subject

-- name: wifidog_tokens
-- A WiFiDog login's token: of the shopper's identity or MAC, or of one of their sessions.
SELECT t.router_id, t.method, t.issued_at, t.expires_at, t.used_at, t.session_id
FROM wifidog_tokens t
WHERE t.merchant_id = $1
      AND (t.identity_hash = ANY($2::text[]) OR t.client_mac = ANY($4::text[])
           OR t.voucher_code = $5
           OR t.session_id IN (
               SELECT session_id FROM portal_sessions
               WHERE merchant_id = $1
                     AND (device_hash = ANY($3::text[]) OR identity_hash = ANY($2::text[]))))
ORDER BY t.issued_at, t.session_id

-- name: authmon_grants
SELECT router_id, session_id, store_id, method, terms_version, created_at, expires_at
FROM authmon_grants
WHERE merchant_id = $1
      AND (device_hash = ANY($3::text[]) OR identity_hash = ANY($2::text[])
           OR client_mac = ANY($4::text[]) OR voucher_code = $5)
ORDER BY created_at, session_id

-- name: erase_sessions
-- Each session stays (the merchant's counts of logins, time online and data, and a voucher's
-- use stand) under a device key of its own that names nobody, 'x:<session id>', without its
-- identity or address; a session still running keeps its raw MAC until it ends (the router
-- needs it to end the session; the retention job drops it then, as for every session).
UPDATE portal_sessions
SET device_hash = 'x:' || session_id::text, identity_hash = NULL, client_ip = NULL,
    client_mac = CASE WHEN status = 'active' THEN client_mac END
WHERE merchant_id = $1
      AND (device_hash = ANY($3::text[]) OR identity_hash = ANY($2::text[])
           OR client_mac = ANY($4::text[]) OR voucher_code = $5)

-- name: delete_done_tokens
-- The shopper's WiFiDog tokens whose session has ended, or that were never used and expired.
-- (Run before erase_sessions: the sessions are found by the shopper's keys.)
DELETE FROM wifidog_tokens t
WHERE t.merchant_id = $1
      AND (t.identity_hash = ANY($2::text[]) OR t.client_mac = ANY($4::text[])
           OR t.voucher_code = $5
           OR t.session_id IN (
               SELECT session_id FROM portal_sessions
               WHERE merchant_id = $1
                     AND (device_hash = ANY($3::text[]) OR identity_hash = ANY($2::text[]))))
      AND (t.used_at IS NULL AND t.expires_at <= now()
           OR EXISTS (SELECT 1 FROM portal_sessions s
                      WHERE s.merchant_id = t.merchant_id AND s.session_id = t.session_id
                            AND s.status = 'ended'))

-- name: anonymise_live_tokens
-- The others (a login under way, a session running) lose the identity and the page the
-- shopper came from; the retention job deletes them after their session (portal/retention.py).
UPDATE wifidog_tokens t SET identity_hash = NULL, origin_url = ''
WHERE t.merchant_id = $1
      AND (t.identity_hash = ANY($2::text[]) OR t.client_mac = ANY($4::text[])
           OR t.voucher_code = $5
           OR t.session_id IN (
               SELECT session_id FROM portal_sessions
               WHERE merchant_id = $1
                     AND (device_hash = ANY($3::text[]) OR identity_hash = ANY($2::text[]))))

-- name: erase_authmon_grants
-- A grant waiting for a level-3 router's authmon (minutes at most) is a login under way: it
-- keeps what the router needs and loses who the shopper is.
UPDATE authmon_grants
SET device_hash = 'x:' || session_id::text, identity_hash = NULL
WHERE merchant_id = $1
      AND (device_hash = ANY($3::text[]) OR identity_hash = ANY($2::text[])
           OR client_mac = ANY($4::text[]) OR voucher_code = $5)

-- name: erase_sms_codes
DELETE FROM sms_codes
WHERE merchant_id = $1 AND (identity_hash = ANY($2::text[]) OR device_hash = ANY($3::text[]))

-- name: erase_outbox
DELETE FROM sms_outbox WHERE merchant_id = $1 AND message_id = ANY($2::uuid[])

-- name: erase_voucher_devices
-- The voucher keeps the slot the device took (its devices are counted against its limit)
-- under a key that names nobody.
UPDATE voucher_devices SET device_hash = 'x:' || gen_random_uuid()::text
WHERE merchant_id = $1 AND device_hash = ANY($2::text[])

-- name: erase_rate_limits
DELETE FROM portal_rate_limits
WHERE merchant_id = $1 AND split_part(subject, ':', 2) = ANY($2::text[] || $3::text[])

-- name: erase_device_links
DELETE FROM shopper_devices
WHERE merchant_id = $1 AND (identity_hash = ANY($2::text[]) OR device_hash = ANY($3::text[]))

-- name: erase_consents
DELETE FROM shopper_consents WHERE merchant_id = $1 AND identity_hash = ANY($2::text[])

-- name: erase_identities
DELETE FROM shopper_identities WHERE merchant_id = $1 AND identity_hash = ANY($2::text[])
