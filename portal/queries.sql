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

-- name: insert_sessions
INSERT INTO portal_sessions (merchant_id, session_id, store_id, router_id, device_hash, client_mac,
                             client_ip, method, terms_version, command_id, expires_at)
SELECT m, s, st, r, d, mac, ip, meth, terms, cmd, now() + make_interval(mins => mins)
FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::text[],
            $7::inet[], $8::text[], $9::text[], $10::text[], $11::int[])
     AS x(m, s, st, r, d, mac, ip, meth, terms, cmd, mins)

-- name: active_sessions_of_router
SELECT session_id, client_mac, expires_at
FROM portal_sessions
WHERE merchant_id = $1 AND router_id = $2 AND status = 'active' AND expires_at > now()
      AND client_mac IS NOT NULL

-- name: session_status
SELECT router_id, device_hash, status,
       greatest(0, ceil(extract(epoch FROM expires_at - now()) / 60))::integer AS minutes_left
FROM portal_sessions
WHERE merchant_id = $1 AND session_id = $2

-- name: wifidog_issue_token
INSERT INTO wifidog_tokens (merchant_id, token, router_id, client_mac, client_ip, origin_url,
                            terms_version, expires_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, now() + make_interval(secs => $8))

-- name: wifidog_use_token
UPDATE wifidog_tokens SET used_at = now(), session_id = $6
WHERE merchant_id = $1 AND token = $2 AND router_id = $3 AND used_at IS NULL
      AND expires_at > now() AND client_mac = $4 AND client_ip = $5::inet
RETURNING terms_version

-- name: wifidog_token_state
SELECT router_id, client_mac, host(client_ip) AS client_ip, used_at IS NOT NULL AS used,
       expires_at <= now() AS expired
FROM wifidog_tokens WHERE merchant_id = $1 AND token = $2

-- name: wifidog_token_session
SELECT t.router_id, t.session_id, t.client_mac, host(t.client_ip) AS client_ip, t.origin_url,
       s.status, extract(epoch FROM s.expires_at)::float8 AS expires_epoch
FROM wifidog_tokens t JOIN portal_sessions s
     ON s.merchant_id = t.merchant_id AND s.session_id = t.session_id
WHERE t.merchant_id = $1 AND t.token = $2

-- name: wifidog_record_usage
INSERT INTO wifidog_usage AS u (merchant_id, session_id, incoming, outgoing, reports)
SELECT m, s, i, o, 1 FROM unnest($1::uuid[], $2::uuid[], $3::bigint[], $4::bigint[]) AS x(m, s, i, o)
ON CONFLICT (merchant_id, session_id) DO UPDATE SET
    incoming = greatest(u.incoming, EXCLUDED.incoming),
    outgoing = greatest(u.outgoing, EXCLUDED.outgoing),
    reports = u.reports + 1, updated_at = now()

-- name: wifidog_usage_of
SELECT incoming, outgoing, reports FROM wifidog_usage WHERE merchant_id = $1 AND session_id = $2

-- name: wifidog_end_session
WITH ended AS (
    UPDATE portal_sessions SET status = 'ended', client_mac = NULL
    WHERE merchant_id = $1 AND session_id = $2 AND status = 'active'
    RETURNING session_id
)
UPDATE wifidog_tokens SET client_mac = NULL
WHERE merchant_id = $1 AND session_id = $2

-- name: wifidog_log_out
WITH ended AS (
    UPDATE portal_sessions SET status = 'ended', client_mac = NULL
    WHERE merchant_id = $1 AND session_id = $2 AND status = 'active'
    RETURNING session_id, store_id, device_hash
), scrubbed AS (
    UPDATE wifidog_tokens SET client_mac = NULL
    WHERE merchant_id = $1 AND session_id IN (SELECT session_id FROM ended)
)
SELECT store_id, device_hash FROM ended

-- name: wifidog_gateway_ids
SELECT router_id FROM routers WHERE gateway = 'wifidog'

-- name: wifidog_purge_unused_tokens
-- Tokens never used, $1 seconds past their expiry; at most $2 (index wifidog_tokens_unused_expiry).
WITH doomed AS (
    SELECT merchant_id, token FROM wifidog_tokens
    WHERE used_at IS NULL AND expires_at < now() - make_interval(secs => $1)
    LIMIT $2
    FOR UPDATE SKIP LOCKED
)
DELETE FROM wifidog_tokens t USING doomed d
WHERE t.merchant_id = d.merchant_id AND t.token = d.token

-- name: wifidog_purge_used_tokens
-- Used tokens whose session ended, or expired $1 seconds ago, issued over $1 seconds ago; at
-- most $2 (index wifidog_tokens_used_expiry).
WITH doomed AS (
    SELECT t.merchant_id, t.token FROM wifidog_tokens t
    JOIN portal_sessions s ON s.merchant_id = t.merchant_id AND s.session_id = t.session_id
    WHERE t.used_at IS NOT NULL AND t.expires_at < now() - make_interval(secs => $1)
          AND (s.status = 'ended' OR s.expires_at < now() - make_interval(secs => $1))
    LIMIT $2
    FOR UPDATE OF t SKIP LOCKED
)
DELETE FROM wifidog_tokens t USING doomed d
WHERE t.merchant_id = d.merchant_id AND t.token = d.token

-- name: authmon_learn_gateway
INSERT INTO authmon_routers (merchant_id, router_id, gateway_hash) VALUES ($1, $2, $3)
ON CONFLICT (merchant_id, router_id) DO UPDATE SET gateway_hash = EXCLUDED.gateway_hash,
    learned_at = now()
WHERE authmon_routers.gateway_hash <> EXCLUDED.gateway_hash

-- name: authmon_gateway_hash
SELECT gateway_hash FROM authmon_routers WHERE merchant_id = $1 AND router_id = $2

-- name: authmon_enqueue
INSERT INTO authmon_grants (merchant_id, router_id, rhid, gateway_hash, session_id, store_id,
                            device_hash, client_mac, client_ip, method, terms_version, minutes,
                            up_kbps, down_kbps, up_quota_kb, down_quota_kb, custom, expires_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,
        now() + make_interval(secs => $18))
ON CONFLICT (merchant_id, router_id, rhid) DO UPDATE SET expires_at = EXCLUDED.expires_at,
    offered = 0
RETURNING session_id

-- name: authmon_purge_expired
-- Kept a while after expiry: the shopper's page still says what became of the grant; one that
-- authmon took is kept until its session could have ended (its `deauthed` may still come).
DELETE FROM authmon_grants
WHERE merchant_id = $1 AND router_id = $2 AND expires_at <= now() - interval '10 minutes'
      AND (offered = 0 OR expires_at + make_interval(mins => minutes) <= now() - interval '10 minutes')

-- name: authmon_view
-- The grants handed to authmon this poll, oldest first, each counted as offered once more.
WITH offered AS (
    SELECT merchant_id, router_id, rhid FROM authmon_grants
    WHERE merchant_id = $1 AND router_id = $2 AND gateway_hash = $3 AND expires_at > now()
    ORDER BY created_at, rhid
    LIMIT $4
    FOR UPDATE
)
UPDATE authmon_grants g SET offered = g.offered + 1
FROM offered o
WHERE g.merchant_id = o.merchant_id AND g.router_id = o.router_id AND g.rhid = o.rhid
RETURNING g.rhid, g.minutes, g.up_kbps, g.down_kbps, g.up_quota_kb, g.down_quota_kb, g.custom,
          g.created_at

-- name: authmon_ack
DELETE FROM authmon_grants
WHERE merchant_id = $1 AND router_id = $2 AND gateway_hash = $3 AND rhid = ANY($4::text[])
RETURNING session_id, store_id, device_hash, client_mac, client_ip, method, terms_version, minutes,
          rhid

-- name: authmon_clear
DELETE FROM authmon_grants
WHERE merchant_id = $1 AND router_id = $2 AND gateway_hash = $3
      AND created_at < now() - make_interval(secs => $4)

-- name: authmon_grant_state
SELECT expires_at > now() AS waiting, offered
FROM authmon_grants
WHERE merchant_id = $1 AND router_id = $2 AND session_id = $3
ORDER BY created_at DESC
LIMIT 1

-- name: scrub_expired_session_macs
-- A batch of expired sessions' raw MACs (10 minutes on: a restore re-grants only live ones).
WITH batch AS (
    SELECT merchant_id, session_id FROM portal_sessions
    WHERE client_mac IS NOT NULL AND expires_at < now() - make_interval(secs => $1)
    LIMIT $2
)
UPDATE portal_sessions s SET client_mac = NULL
FROM batch b
WHERE s.merchant_id = b.merchant_id AND s.session_id = b.session_id

-- name: scrub_expired_token_macs
UPDATE wifidog_tokens t SET client_mac = NULL
FROM portal_sessions s
WHERE t.merchant_id = s.merchant_id AND t.session_id = s.session_id
      AND t.client_mac IS NOT NULL AND s.expires_at < now() - make_interval(secs => $1)

-- name: purge_old_authmon_grants
DELETE FROM authmon_grants
WHERE expires_at <= now() - interval '10 minutes'
      AND (offered = 0 OR expires_at + make_interval(mins => minutes) <= now() - interval '10 minutes')

-- name: scrub_expired_authmon_macs
UPDATE authmon_grants SET client_mac = NULL
WHERE client_mac IS NOT NULL AND expires_at <= now() - make_interval(secs => $1)

-- name: authmon_take_unconfirmed
-- A grant authmon took (offered) whose ack never came, named by its rhid: taken once.
DELETE FROM authmon_grants
WHERE merchant_id = $1 AND router_id = $2 AND rhid = ANY($3::text[]) AND offered > 0
RETURNING session_id, store_id, device_hash, client_ip, method, terms_version, rhid, created_at,
          expires_at

-- name: insert_ended_session
-- A session learnt of only at its end (authmon's ack was lost; openNDS reported the deauth).
INSERT INTO portal_sessions (merchant_id, session_id, store_id, router_id, device_hash, client_mac,
                             client_ip, method, terms_version, command_id, status, started_at,
                             expires_at)
VALUES ($1, $2, $3, $4, $5, NULL, $6, $7, $8, $9, 'ended', $10, $11)
ON CONFLICT (merchant_id, session_id) DO NOTHING
RETURNING session_id

-- name: end_authmon_sessions
-- openNDS ended these authmon sessions (named by their command id `authmon-<rhid prefix>`).
-- The router's clock may be behind ours: a session never ends before it started here.
UPDATE portal_sessions
SET status = 'ended', client_mac = NULL, expires_at = least(expires_at, greatest(started_at, $4))
WHERE merchant_id = $1 AND router_id = $2 AND command_id = ANY($3::text[]) AND status = 'active'
RETURNING session_id, store_id, device_hash, expires_at AS ended_at

-- name: session_for_logout
SELECT router_id, status, client_mac, store_id, device_hash
FROM portal_sessions WHERE merchant_id = $1 AND session_id = $2

-- name: end_session
-- Ends an active session and drops its raw MAC (PRODUCT.md §5); no row when it had ended.
UPDATE portal_sessions SET status = 'ended', client_mac = NULL
WHERE merchant_id = $1 AND session_id = $2 AND status = 'active'
RETURNING store_id, device_hash

-- name: client_has_active_session
SELECT EXISTS (
    SELECT 1 FROM portal_sessions
    WHERE merchant_id = $1 AND router_id = $2 AND client_mac = $3 AND status = 'active'
          AND expires_at > now()
)

-- name: session_api_status
SELECT router_id, status = 'active' AND expires_at > now() AS active,
       greatest(0, floor(extract(epoch FROM expires_at - now())))::bigint AS seconds_left
FROM portal_sessions
WHERE merchant_id = $1 AND session_id = $2
