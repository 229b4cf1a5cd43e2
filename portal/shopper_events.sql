-- What the portal tells of shoppers' events (portal/shopper_events.py; tables: migration 0020).

-- name: consents_in_force
-- The marketing consents in force of these identities ($1 merchants, $2 identity hashes).
SELECT DISTINCT c.merchant_id, c.identity_hash, c.purpose
FROM unnest($1::uuid[], $2::text[]) AS k (merchant_id, identity_hash)
JOIN shopper_consents c ON c.merchant_id = k.merchant_id AND c.identity_hash = k.identity_hash
WHERE c.withdrawn_at IS NULL
