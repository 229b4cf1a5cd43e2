-- Email login's marketing consents (portal/email_login.py; table: migration 0020).

-- name: give_consent
-- A consent given; the same consent (identity, purpose, wording, store) given in the last ten
-- minutes and not withdrawn is that login's own retry: it is not recorded twice.
WITH earlier AS (
    SELECT consent_id FROM shopper_consents
    WHERE merchant_id = $1 AND identity_hash = $2 AND purpose = $3 AND wording_version = $4
          AND store_id = $5 AND withdrawn_at IS NULL AND given_at > now() - interval '10 minutes'
    ORDER BY given_at DESC
    LIMIT 1
), given AS (
    INSERT INTO shopper_consents (merchant_id, consent_id, identity_hash, purpose,
                                  wording_version, store_id)
    SELECT $1, $6, $2, $3, $4, $5
    WHERE NOT EXISTS (SELECT 1 FROM earlier)
    RETURNING consent_id
)
SELECT consent_id FROM given UNION ALL SELECT consent_id FROM earlier

-- name: consent
SELECT c.consent_id, c.identity_hash, c.purpose, c.wording_version, c.store_id, c.given_at,
       c.withdrawn_at, c.withdrawn_via, i.masked, s.brand_name
FROM shopper_consents c
JOIN shopper_identities i ON i.merchant_id = c.merchant_id AND i.identity_hash = c.identity_hash
LEFT JOIN portal_settings s ON s.merchant_id = c.merchant_id AND s.store_id = c.store_id
WHERE c.merchant_id = $1 AND c.consent_id = $2

-- name: withdraw_consent
-- Withdraws the consent and every other one still in force of the same identity and purpose
-- (the shopper's "no more offers by email" is not about one checkbox); none twice.
WITH target AS (
    SELECT identity_hash, purpose FROM shopper_consents WHERE merchant_id = $1 AND consent_id = $2
)
UPDATE shopper_consents c SET withdrawn_at = now(), withdrawn_via = $3
FROM target t
WHERE c.merchant_id = $1 AND c.identity_hash = t.identity_hash AND c.purpose = t.purpose
      AND c.withdrawn_at IS NULL
RETURNING c.consent_id

-- name: withdraw_identity_consents
UPDATE shopper_consents SET withdrawn_at = now(), withdrawn_via = $4
WHERE merchant_id = $1 AND identity_hash = $2 AND purpose = $3 AND withdrawn_at IS NULL
RETURNING consent_id

-- name: consent_of_session
-- The consent given in the login that started this session (at most 15 minutes before it:
-- a WiFiDog token or an authmon grant starts the session a little after the form).
SELECT c.consent_id, c.given_at, c.purpose
FROM portal_sessions s
JOIN shopper_consents c ON c.merchant_id = s.merchant_id AND c.identity_hash = s.identity_hash
WHERE s.merchant_id = $1 AND s.session_id = $2 AND c.purpose = ANY($3::text[])
      AND c.withdrawn_at IS NULL
      AND c.given_at BETWEEN s.started_at - interval '15 minutes' AND s.started_at
ORDER BY c.given_at DESC
LIMIT 1

-- name: consent_counts
-- Shoppers (identities) with a consent in force, and those whose every consent is withdrawn.
SELECT count(*) FILTER (WHERE in_force) AS active, count(*) FILTER (WHERE NOT in_force) AS withdrawn
FROM (
    SELECT bool_or(withdrawn_at IS NULL) AS in_force FROM shopper_consents
    WHERE merchant_id = $1 AND purpose = $2
    GROUP BY identity_hash
) AS shoppers
