-- name: store_portal
SELECT brand_name, brand_color, welcome_en, welcome_zh, login_methods, terms_version,
       session_minutes, up_kbps, down_kbps, up_quota_kb, down_quota_kb, landing_url,
       idle_minutes, extend_minutes, max_extensions, returning_days, page_color, text_color,
       logo_id, background_id
FROM portal_settings WHERE merchant_id = $1 AND store_id = $2

-- name: ensure_store_portal
-- A store without portal settings gets the platform's defaults, named after the store.
INSERT INTO portal_settings (merchant_id, store_id, brand_name) VALUES ($1, $2, $3)
ON CONFLICT (merchant_id, store_id) DO NOTHING

-- name: upsert_store_portal
INSERT INTO portal_settings (merchant_id, store_id, brand_name, brand_color, welcome_en, welcome_zh,
                             login_methods, session_minutes, up_kbps, down_kbps, up_quota_kb,
                             down_quota_kb, landing_url, idle_minutes, extend_minutes,
                             max_extensions, returning_days)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
ON CONFLICT (merchant_id, store_id) DO UPDATE SET
    brand_name = EXCLUDED.brand_name, brand_color = EXCLUDED.brand_color,
    welcome_en = EXCLUDED.welcome_en, welcome_zh = EXCLUDED.welcome_zh,
    login_methods = EXCLUDED.login_methods, session_minutes = EXCLUDED.session_minutes,
    up_kbps = EXCLUDED.up_kbps, down_kbps = EXCLUDED.down_kbps,
    up_quota_kb = EXCLUDED.up_quota_kb, down_quota_kb = EXCLUDED.down_quota_kb,
    landing_url = EXCLUDED.landing_url, idle_minutes = EXCLUDED.idle_minutes,
    extend_minutes = EXCLUDED.extend_minutes, max_extensions = EXCLUDED.max_extensions,
    returning_days = EXCLUDED.returning_days

-- name: insert_session
INSERT INTO portal_sessions (merchant_id, session_id, store_id, router_id, device_hash, client_mac,
                             client_ip, method, terms_version, command_id, expires_at,
                             identity_hash, voucher_code, idle_minutes)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, now() + make_interval(mins => $11), $12, $13, $14)

-- name: insert_sessions
INSERT INTO portal_sessions (merchant_id, session_id, store_id, router_id, device_hash, client_mac,
                             client_ip, method, terms_version, command_id, expires_at,
                             identity_hash, voucher_code, idle_minutes)
SELECT m, s, st, r, d, mac, ip, meth, terms, cmd, now() + make_interval(mins => mins), ident,
       voucher, idle
FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::text[],
            $7::inet[], $8::text[], $9::text[], $10::text[], $11::int[], $12::text[],
            $13::text[], $14::int[])
     AS x(m, s, st, r, d, mac, ip, meth, terms, cmd, mins, ident, voucher, idle)

-- name: active_sessions_of_router
SELECT session_id, client_mac, expires_at
FROM portal_sessions
WHERE merchant_id = $1 AND router_id = $2 AND status = 'active' AND expires_at > now()
      AND client_mac IS NOT NULL

-- name: wifidog_issue_token
INSERT INTO wifidog_tokens (merchant_id, token, router_id, client_mac, client_ip, origin_url,
                            terms_version, expires_at, method, identity_hash, voucher_code,
                            minutes, down_quota_kb, idle_minutes)
VALUES ($1, $2, $3, $4, $5, $6, $7, now() + make_interval(secs => $8), $9, $10, $11, $12, $13,
        $14)

-- name: wifidog_use_token
UPDATE wifidog_tokens SET used_at = now(), session_id = $6
WHERE merchant_id = $1 AND token = $2 AND router_id = $3 AND used_at IS NULL
      AND expires_at > now() AND client_mac = $4 AND client_ip = $5::inet
RETURNING terms_version, method, identity_hash, voucher_code, minutes, idle_minutes

-- name: wifidog_token_state
SELECT router_id, client_mac, host(client_ip) AS client_ip, used_at IS NOT NULL AS used,
       expires_at <= now() AS expired
FROM wifidog_tokens WHERE merchant_id = $1 AND token = $2

-- name: wifidog_token_session
SELECT t.router_id, t.session_id, t.client_mac, host(t.client_ip) AS client_ip, t.origin_url,
       s.status, extract(epoch FROM s.expires_at)::float8 AS expires_epoch, t.down_quota_kb
FROM wifidog_tokens t JOIN portal_sessions s
     ON s.merchant_id = t.merchant_id AND s.session_id = t.session_id
WHERE t.merchant_id = $1 AND t.token = $2

-- name: wifidog_record_usage
-- `updated_at` is when the counters last grew (the first report: when it came): the session's
-- last traffic, which its idle timeout counts from (portal/session_end.py). The session keeps
-- its use, the counters at their highest (portal/session_usage.py), whatever ends it later.
WITH kept AS (
    UPDATE portal_sessions p
    SET down_used_kb = greatest(p.down_used_kb, least(x.i / 1024, 9007199254740992)),
        up_used_kb = greatest(p.up_used_kb, least(x.o / 1024, 9007199254740992))
    FROM unnest($1::uuid[], $2::uuid[], $3::bigint[], $4::bigint[]) AS x(m, s, i, o)
    WHERE p.merchant_id = x.m AND p.session_id = x.s AND p.status = 'active'
          AND (x.i / 1024 > p.down_used_kb OR x.o / 1024 > p.up_used_kb)
)
INSERT INTO wifidog_usage AS u (merchant_id, session_id, incoming, outgoing, reports)
SELECT m, s, i, o, 1 FROM unnest($1::uuid[], $2::uuid[], $3::bigint[], $4::bigint[]) AS x(m, s, i, o)
ON CONFLICT (merchant_id, session_id) DO UPDATE SET
    incoming = greatest(u.incoming, EXCLUDED.incoming),
    outgoing = greatest(u.outgoing, EXCLUDED.outgoing),
    reports = u.reports + 1,
    updated_at = CASE WHEN EXCLUDED.incoming > u.incoming OR EXCLUDED.outgoing > u.outgoing
                      THEN now() ELSE u.updated_at END

-- name: wifidog_usage_of
SELECT incoming, outgoing, reports FROM wifidog_usage WHERE merchant_id = $1 AND session_id = $2

-- name: wifidog_end_session
-- The counters stage ends a session ($3: why). One that ran out ended at its expiry, and only
-- if it still has: another worker may have extended it since this one cached the session.
-- The ended session's id, or none.
WITH ended AS (
    UPDATE portal_sessions SET status = 'ended', client_mac = NULL, end_reason = $3,
        ended_at = CASE WHEN $3 = 'expired' THEN least(now(), expires_at) ELSE now() END
    WHERE merchant_id = $1 AND session_id = $2 AND status = 'active'
          AND ($3 <> 'expired' OR expires_at <= now())
    RETURNING session_id
), tokens AS (
    UPDATE wifidog_tokens SET client_mac = NULL
    WHERE merchant_id = $1 AND session_id IN (SELECT session_id FROM ended)
)
SELECT session_id FROM ended

-- name: wifidog_log_out
WITH ended AS (
    UPDATE portal_sessions SET status = 'ended', client_mac = NULL, ended_at = now(),
        end_reason = 'logout'
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
                            up_kbps, down_kbps, up_quota_kb, down_quota_kb, custom, expires_at,
                            identity_hash, voucher_code, idle_minutes)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,
        now() + make_interval(secs => $18), $19, $20, $21)
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
          rhid, identity_hash, voucher_code, idle_minutes

-- name: cut_session_of_revoked_voucher
-- A session authmon confirmed for a voucher revoked after authmon took its grant: due now, as
-- the revocation made the voucher's other sessions (portal/vouchers.sql, revoke_code).
UPDATE portal_sessions s SET expires_at = least(s.expires_at, now()), end_reason = 'staff'
FROM vouchers v
WHERE s.merchant_id = $1 AND s.session_id = $2 AND v.merchant_id = $1 AND v.code = s.voucher_code
      AND v.revoked_at IS NOT NULL

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
          expires_at, identity_hash, voucher_code, idle_minutes

-- name: insert_ended_session
-- A session learnt of only at its end (authmon's ack was lost; openNDS reported the deauth,
-- $15 says why).
INSERT INTO portal_sessions (merchant_id, session_id, store_id, router_id, device_hash, client_mac,
                             client_ip, method, terms_version, command_id, status, started_at,
                             expires_at, identity_hash, voucher_code, idle_minutes, ended_at,
                             end_reason)
VALUES ($1, $2, $3, $4, $5, NULL, $6, $7, $8, $9, 'ended', $10, $11, $12, $13, $14, $11, $15)
ON CONFLICT (merchant_id, session_id) DO NOTHING
RETURNING session_id

-- name: end_authmon_sessions
-- openNDS ended these authmon sessions (named by their command id `authmon-<rhid prefix>`),
-- $5 says why. The router's clock may be behind ours: a session never ends before it started.
UPDATE portal_sessions
SET status = 'ended', client_mac = NULL, expires_at = least(expires_at, greatest(started_at, $4)),
    ended_at = least(expires_at, greatest(started_at, $4)), end_reason = $5
WHERE merchant_id = $1 AND router_id = $2 AND command_id = ANY($3::text[]) AND status = 'active'
RETURNING session_id, store_id, device_hash, expires_at AS ended_at

-- name: session_for_logout
SELECT router_id, status, client_mac, store_id, device_hash
FROM portal_sessions WHERE merchant_id = $1 AND session_id = $2

-- name: session_identity
-- Whom the session logged in as (portal/online.py: marketing's follow code names the shopper).
SELECT identity_hash, voucher_code FROM portal_sessions WHERE merchant_id = $1 AND session_id = $2

-- name: end_session
-- Ends an active session ($3: why) and drops its raw MAC (PRODUCT.md §5); no row when it had
-- ended already.
UPDATE portal_sessions SET status = 'ended', client_mac = NULL, ended_at = now(), end_reason = $3
WHERE merchant_id = $1 AND session_id = $2 AND status = 'active'
RETURNING store_id, device_hash

-- name: client_has_active_session
SELECT EXISTS (
    SELECT 1 FROM portal_sessions
    WHERE merchant_id = $1 AND router_id = $2 AND client_mac = $3 AND status = 'active'
          AND expires_at > now()
)

-- Shopper identities (portal/identities.py) ------------------------------------------------

-- name: remember_identity
INSERT INTO shopper_identities (merchant_id, identity_hash, kind, sealed, masked, verified_at)
VALUES ($1, $2, $3, $4, $5, CASE WHEN $6::bool THEN now() END)
ON CONFLICT (merchant_id, identity_hash) DO UPDATE SET
    verified_at = coalesce(CASE WHEN $6::bool THEN now() END, shopper_identities.verified_at)

-- name: remember_identity_on_device
-- remember_identity and link_device ($7: the device) in one round trip.
WITH identity AS (
    INSERT INTO shopper_identities (merchant_id, identity_hash, kind, sealed, masked, verified_at)
    VALUES ($1, $2, $3, $4, $5, CASE WHEN $6::bool THEN now() END)
    ON CONFLICT (merchant_id, identity_hash) DO UPDATE SET
        verified_at = coalesce(CASE WHEN $6::bool THEN now() END, shopper_identities.verified_at)
    RETURNING identity_hash
)
INSERT INTO shopper_devices (merchant_id, device_hash, identity_hash, last_login_at)
SELECT $1, $7, identity_hash, now() FROM identity
ON CONFLICT (merchant_id, device_hash, identity_hash) DO UPDATE SET
    last_login_at = greatest(shopper_devices.last_login_at, EXCLUDED.last_login_at)

-- name: link_device
INSERT INTO shopper_devices (merchant_id, device_hash, identity_hash, last_login_at)
VALUES ($1, $2, $3, coalesce($4, now()))
ON CONFLICT (merchant_id, device_hash, identity_hash) DO UPDATE SET
    last_login_at = greatest(shopper_devices.last_login_at, EXCLUDED.last_login_at)

-- Session policy to the end (portal/sessions.py, portal/session_end.py) ---------------------

-- name: live_sessions
-- Sessions as the online page, the captive API and the end job see them; a WiFiDog session
-- with its token's own data quota and its usage (`traffic_at`: when its counters last grew);
-- the use kept on each (migration 0027), and for a voucher's its data limit (0: none) and what
-- the voucher's other sessions used (portal/session_usage.py).
SELECT s.session_id, s.router_id, s.store_id, s.device_hash, s.command_id, s.client_mac,
       s.started_at, s.expires_at, s.idle_minutes, s.extensions, s.status, s.end_reason,
       s.status = 'active' AND s.expires_at > now() AS active,
       greatest(0, floor(extract(epoch FROM s.expires_at - now())))::bigint AS seconds_left,
       t.down_quota_kb AS token_down_quota_kb, u.incoming, u.outgoing,
       greatest(0, floor(extract(epoch FROM now() - u.updated_at)))::bigint AS quiet_seconds,
       s.down_used_kb, s.up_used_kb, s.usage_epoch, s.usage_epoch_down_kb, s.usage_epoch_up_kb,
       s.usage_reported_at, s.voucher_code, coalesce(vq.quota_kb, 0) AS voucher_quota_kb,
       coalesce(vq.others_kb, 0) AS voucher_others_kb
FROM portal_sessions s
LEFT JOIN LATERAL (
    SELECT b.quota_kb,
           (SELECT sum(o.down_used_kb) FROM portal_sessions o
            WHERE o.merchant_id = s.merchant_id AND o.voucher_code = s.voucher_code
                  AND o.session_id <> s.session_id)::bigint AS others_kb
    FROM vouchers v
    JOIN voucher_batches b ON b.merchant_id = v.merchant_id AND b.batch_id = v.batch_id
    WHERE s.voucher_code IS NOT NULL AND v.merchant_id = s.merchant_id
          AND v.code = s.voucher_code AND b.quota_kb > 0
) vq ON true
LEFT JOIN LATERAL (
    SELECT down_quota_kb FROM wifidog_tokens w
    WHERE s.command_id = 'wifidog' AND w.merchant_id = s.merchant_id
          AND w.session_id = s.session_id
    LIMIT 1
) t ON true
LEFT JOIN wifidog_usage u ON u.merchant_id = s.merchant_id AND u.session_id = s.session_id
WHERE s.merchant_id = $1 AND s.session_id = ANY($2::uuid[])

-- name: extend_session
-- One more extension of $3 minutes, if the session still runs and has had fewer than $4.
UPDATE portal_sessions
SET extensions = extensions + 1, expires_at = expires_at + make_interval(mins => $3)
WHERE merchant_id = $1 AND session_id = $2 AND status = 'active' AND expires_at > now()
      AND extensions < $4
RETURNING expires_at, extensions, client_mac

-- name: undo_extension
-- The router kept the old grant: the extension numbered $4 is taken back.
UPDATE portal_sessions
SET extensions = extensions - 1, expires_at = expires_at - make_interval(mins => $3)
WHERE merchant_id = $1 AND session_id = $2 AND status = 'active' AND extensions = $4

-- name: end_expired_sessions
-- A batch of sessions past their end, ended as expired at their end (or as 'staff' when a
-- revoked voucher made them due); with the raw MAC they had, for the deauth (several
-- processes may run this: each row is taken once).
WITH due AS (
    SELECT merchant_id, session_id, client_mac FROM portal_sessions
    WHERE status = 'active' AND expires_at <= now()
    ORDER BY expires_at
    LIMIT $1
    FOR UPDATE SKIP LOCKED
)
UPDATE portal_sessions s
SET status = 'ended', client_mac = NULL, ended_at = s.expires_at,
    end_reason = coalesce(s.end_reason, 'expired')  -- 'staff': its voucher was revoked
FROM due d
WHERE s.merchant_id = d.merchant_id AND s.session_id = d.session_id
RETURNING s.merchant_id, s.session_id, s.router_id, s.command_id, d.client_mac

-- name: end_idle_wifidog_sessions
-- WiFiDog sessions whose counters have not grown for their idle timeout (since the login when
-- the gateway reported none yet): ended as idle, their token's MAC dropped. The gateway gets
-- `Auth: 0` at its next counters report.
WITH idle AS (
    UPDATE portal_sessions s
    SET status = 'ended', client_mac = NULL, ended_at = now(), end_reason = 'idle'
    FROM portal_sessions p
    LEFT JOIN wifidog_usage u ON u.merchant_id = p.merchant_id AND u.session_id = p.session_id
    WHERE p.status = 'active' AND p.command_id = 'wifidog' AND p.idle_minutes > 0
          AND p.expires_at > now()
          AND coalesce(u.updated_at, p.started_at) <= now() - make_interval(mins => p.idle_minutes)
          AND s.merchant_id = p.merchant_id AND s.session_id = p.session_id
    RETURNING s.merchant_id, s.session_id, s.router_id
), scrubbed AS (
    UPDATE wifidog_tokens t SET client_mac = NULL
    FROM idle i WHERE t.merchant_id = i.merchant_id AND t.session_id = i.session_id
)
SELECT merchant_id, session_id, router_id FROM idle

-- name: agent_sessions_to_watch
-- Active sessions our agent granted (not WiFiDog's, not authmon's), by router: their use is
-- kept from the agent's usage reports (also of those due to end now: their last report), and
-- their idle timeout and data quota are checked against them.
SELECT merchant_id, router_id, session_id
FROM portal_sessions
WHERE status = 'active' AND client_mac IS NOT NULL
      AND command_id <> 'wifidog' AND command_id NOT LIKE 'authmon-%'
ORDER BY merchant_id, router_id
LIMIT $1

-- name: end_session_of_used_up_voucher
-- A running WiFiDog or authmon session whose voucher's data limit is used (portal/session_end.py):
-- ended as 'quota', its raw MACs dropped (its WiFiDog token's too). Whether it ended now.
WITH ended AS (
    UPDATE portal_sessions SET status = 'ended', client_mac = NULL, ended_at = now(),
        end_reason = 'quota'
    WHERE merchant_id = $1 AND session_id = $2 AND status = 'active'
    RETURNING merchant_id, session_id
), scrubbed AS (
    UPDATE wifidog_tokens t SET client_mac = NULL
    FROM ended e WHERE t.merchant_id = e.merchant_id AND t.session_id = e.session_id
)
SELECT count(*) > 0 FROM ended

-- name: set_login_policy
UPDATE portal_settings SET login_methods = $3, returning_days = $4, idle_minutes = $5,
    extend_minutes = $6, max_extensions = $7
WHERE merchant_id = $1 AND store_id = $2

-- name: verified_phone_of_device
SELECT i.sealed
FROM shopper_devices d
JOIN shopper_identities i ON i.merchant_id = d.merchant_id AND i.identity_hash = d.identity_hash
WHERE d.merchant_id = $1 AND d.device_hash = $2 AND i.kind = 'phone' AND i.verified_at IS NOT NULL
ORDER BY d.last_login_at DESC
LIMIT 1

-- name: verified_phone_of_identity
SELECT sealed FROM shopper_identities
WHERE merchant_id = $1 AND identity_hash = $2 AND kind = 'phone' AND verified_at IS NOT NULL

-- name: branded_stores
-- How many of the merchant's stores have a portal of their own look: a welcome text in either
-- language, a colour other than the defaults (migrations 0001 and 0036) or a picture.
SELECT count(*) FROM portal_settings
WHERE merchant_id = $1
  AND (welcome_en <> '' OR welcome_zh <> '' OR brand_color <> '#0a7d5a'
       OR page_color <> '#ffffff' OR text_color <> '#1f2937' OR logo_id IS NOT NULL
       OR background_id IS NOT NULL)
