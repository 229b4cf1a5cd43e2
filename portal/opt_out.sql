-- A shopper's "No more offers" (portal/opt_out.py; tables: migrations 0020, 0047).

-- name: record_opt_out
-- The opt-out of the session's shopper, once per session: nothing when it was recorded before
-- (a replayed request).
INSERT INTO shopper_opt_outs (merchant_id, session_id, store_id, device_hash, identity_hash)
SELECT merchant_id, session_id, store_id, device_hash, identity_hash
FROM portal_sessions WHERE merchant_id = $1 AND session_id = $2
ON CONFLICT (merchant_id, session_id) DO NOTHING
RETURNING store_id, device_hash, identity_hash, opted_out_at

-- name: opted_out_at
SELECT opted_out_at FROM shopper_opt_outs WHERE merchant_id = $1 AND session_id = $2

-- name: withdraw_device_consents
-- Every marketing consent in force of the identity the session logged in with ($3, or NULL)
-- and of every identity this device ($2) logged in under: the shopper's device says "no
-- more", and a consent given before it must not bring offers back at the next login.
UPDATE shopper_consents SET withdrawn_at = now(), withdrawn_via = 'portal'
WHERE merchant_id = $1 AND withdrawn_at IS NULL
      AND (identity_hash = $3 OR identity_hash IN (
          SELECT identity_hash FROM shopper_devices WHERE merchant_id = $1 AND device_hash = $2))
RETURNING consent_id, identity_hash, purpose
