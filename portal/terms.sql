-- Versioned terms per store (portal/terms.py; table: migration 0020).

-- name: insert_terms
-- A published version is never changed: publishing one that exists inserts nothing.
INSERT INTO portal_terms (merchant_id, store_id, version, body_en, body_zh)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (merchant_id, store_id, version) DO NOTHING
RETURNING published_at

-- name: current_version
SELECT terms_version FROM portal_settings WHERE merchant_id = $1 AND store_id = $2 FOR UPDATE

-- name: make_current
UPDATE portal_settings SET terms_version = $3 WHERE merchant_id = $1 AND store_id = $2
RETURNING terms_version

-- name: terms_page
-- The store's brand and current version, and the version asked for (NULL when unpublished).
SELECT s.brand_name, s.brand_color, s.terms_version AS current_version, t.version, t.body_en,
       t.body_zh, t.published_at
FROM portal_settings s
LEFT JOIN portal_terms t ON t.merchant_id = s.merchant_id AND t.store_id = s.store_id
                        AND t.version = $3
WHERE s.merchant_id = $1 AND s.store_id = $2

-- name: versions
SELECT version, body_en, body_zh, published_at FROM portal_terms
WHERE merchant_id = $1 AND store_id = $2
ORDER BY published_at DESC, version DESC
