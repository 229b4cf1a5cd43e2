-- What each session used (portal/session_usage.py, migration 0027) and what a voucher's
-- sessions used of its data limit.

-- name: keep_session_usage
-- Each session's folded use, unless someone kept another meanwhile ($3: the report time it was
-- folded from, as read) or its report was older. The sessions stored.
UPDATE portal_sessions s
SET down_used_kb = x.down, up_used_kb = x.up, usage_epoch = x.epoch,
    usage_epoch_down_kb = x.epoch_down, usage_epoch_up_kb = x.epoch_up, usage_reported_at = x.at
FROM unnest($2::uuid[], $3::timestamptz[], $4::bigint[], $5::bigint[], $6::text[],
            $7::bigint[], $8::bigint[], $9::timestamptz[])
     AS x(session_id, was, down, up, epoch, epoch_down, epoch_up, at)
WHERE s.merchant_id = $1 AND s.session_id = x.session_id
      AND s.usage_reported_at IS NOT DISTINCT FROM x.was
      AND x.down >= s.down_used_kb AND x.up >= s.up_used_kb
RETURNING s.session_id

-- name: voucher_usage
-- What a voucher's sessions, ended and running, used (download, kB, as kept; index
-- portal_sessions_by_voucher), and its running sessions our agent granted, by router: their use
-- is folded from the agent's last reports before the voucher's limit is counted.
SELECT coalesce(sum(down_used_kb), 0)::bigint AS used_kb,
       coalesce(array_agg(router_id) FILTER (WHERE live), '{}') AS agent_routers,
       coalesce(array_agg(session_id) FILTER (WHERE live), '{}') AS agent_sessions
FROM (
    SELECT down_used_kb, router_id, session_id,
           status = 'active' AND command_id <> 'wifidog' AND command_id NOT LIKE 'authmon-%'
               AS live
    FROM portal_sessions WHERE merchant_id = $1 AND voucher_code = $2
) s

-- name: sessions_of_used_up_vouchers
-- The running sessions of every voucher whose sessions together, ended and running, used its
-- data limit (download; a voucher without one is never used up), with how each was granted and
-- the raw MAC for the deauth. Up to $1.
WITH running AS (
    SELECT DISTINCT merchant_id, voucher_code FROM portal_sessions
    WHERE status = 'active' AND voucher_code IS NOT NULL
), used_up AS (
    SELECT r.merchant_id, r.voucher_code
    FROM running r
    JOIN vouchers v ON v.merchant_id = r.merchant_id AND v.code = r.voucher_code
    JOIN voucher_batches b ON b.merchant_id = v.merchant_id AND b.batch_id = v.batch_id
    WHERE b.quota_kb > 0
          AND (SELECT sum(s.down_used_kb) FROM portal_sessions s
               WHERE s.merchant_id = r.merchant_id AND s.voucher_code = r.voucher_code)
              >= b.quota_kb
)
SELECT s.merchant_id, s.session_id, s.router_id, s.command_id, s.client_mac, s.voucher_code
FROM used_up u
JOIN portal_sessions s ON s.merchant_id = u.merchant_id AND s.voucher_code = u.voucher_code
WHERE s.status = 'active'
ORDER BY s.merchant_id, s.router_id
LIMIT $1
