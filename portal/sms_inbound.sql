-- Shoppers' replies to our texts (portal/sms_inbound.py; table: migration 0020).

-- name: merchants_with_sms_consents
-- The merchants where some number has a marketing-SMS consent in force.
SELECT DISTINCT merchant_id FROM shopper_consents
WHERE purpose = 'marketing_sms' AND withdrawn_at IS NULL

-- name: withdraw_sms_consents
-- A "T" reply: every marketing-SMS consent in force of the number, at each merchant ($1) under
-- its keyed hash there ($2).
UPDATE shopper_consents c SET withdrawn_at = now(), withdrawn_via = 'sms_reply'
FROM unnest($1::uuid[], $2::text[]) AS k (merchant_id, identity_hash)
WHERE c.merchant_id = k.merchant_id AND c.identity_hash = k.identity_hash
      AND c.purpose = 'marketing_sms' AND c.withdrawn_at IS NULL
RETURNING c.merchant_id, c.identity_hash, c.consent_id
