-- A store's session policy on the console's Logins page (portal/console_session_policy.py).

-- name: session_policy
SELECT session_minutes, idle_minutes, up_kbps, down_kbps, up_quota_kb, down_quota_kb,
       extend_minutes, max_extensions
FROM portal_settings WHERE merchant_id = $1 AND store_id = $2

-- name: save_session_policy
-- A store without portal settings yet gets them, branded with its name ($11).
INSERT INTO portal_settings (merchant_id, store_id, brand_name, session_minutes, idle_minutes,
                             up_kbps, down_kbps, up_quota_kb, down_quota_kb, extend_minutes,
                             max_extensions)
VALUES ($1, $2, $11, $3, $4, $5, $6, $7, $8, $9, $10)
ON CONFLICT (merchant_id, store_id) DO UPDATE SET
    session_minutes = EXCLUDED.session_minutes, idle_minutes = EXCLUDED.idle_minutes,
    up_kbps = EXCLUDED.up_kbps, down_kbps = EXCLUDED.down_kbps,
    up_quota_kb = EXCLUDED.up_quota_kb, down_quota_kb = EXCLUDED.down_quota_kb,
    extend_minutes = EXCLUDED.extend_minutes, max_extensions = EXCLUDED.max_extensions
