-- The console's Logins page (portal/console_logins.py): a store's login policy.

-- name: login_settings
SELECT login_methods, returning_days, terms_version
FROM portal_settings WHERE merchant_id = $1 AND store_id = $2

-- name: save_login_settings
-- A store without portal settings yet gets them, branded with its name ($5).
INSERT INTO portal_settings (merchant_id, store_id, brand_name, login_methods, returning_days)
VALUES ($1, $2, $5, $3, $4)
ON CONFLICT (merchant_id, store_id) DO UPDATE SET
    login_methods = EXCLUDED.login_methods, returning_days = EXCLUDED.returning_days
