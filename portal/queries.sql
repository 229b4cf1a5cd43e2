-- name: store_portal
SELECT brand_name, brand_color, welcome_en, welcome_zh, login_methods, terms_version,
       session_minutes, up_kbps, down_kbps, up_quota_kb, down_quota_kb, landing_url
FROM portal_settings WHERE merchant_id = $1 AND store_id = $2

-- name: upsert_store_portal
INSERT INTO portal_settings (merchant_id, store_id, brand_name, brand_color, welcome_en, welcome_zh,
                             login_methods, session_minutes, up_kbps, down_kbps, up_quota_kb,
                             down_quota_kb, landing_url)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
ON CONFLICT (merchant_id, store_id) DO UPDATE SET
    brand_name = EXCLUDED.brand_name, brand_color = EXCLUDED.brand_color,
    welcome_en = EXCLUDED.welcome_en, welcome_zh = EXCLUDED.welcome_zh,
    login_methods = EXCLUDED.login_methods, session_minutes = EXCLUDED.session_minutes,
    up_kbps = EXCLUDED.up_kbps, down_kbps = EXCLUDED.down_kbps,
    up_quota_kb = EXCLUDED.up_quota_kb, down_quota_kb = EXCLUDED.down_quota_kb,
    landing_url = EXCLUDED.landing_url

-- name: insert_session
INSERT INTO portal_sessions (merchant_id, session_id, store_id, router_id, device_hash, client_mac,
                             client_ip, method, terms_version, command_id, expires_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, now() + make_interval(mins => $11))

-- name: active_sessions_of_router
SELECT session_id, client_mac,
       ceil(extract(epoch FROM expires_at - now()) / 60)::integer AS minutes_left
FROM portal_sessions
WHERE merchant_id = $1 AND router_id = $2 AND status = 'active' AND expires_at > now()
      AND client_mac IS NOT NULL

-- name: session_status
SELECT router_id, device_hash, status,
       greatest(0, ceil(extract(epoch FROM expires_at - now()) / 60))::integer AS minutes_left
FROM portal_sessions
WHERE merchant_id = $1 AND session_id = $2
