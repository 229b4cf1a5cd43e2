-- name: find_router
SELECT r.merchant_id, r.router_id, r.store_id, r.name, r.gateway_mac, r.faskey, r.online,
       r.gateway, r.fas_level, r.faskey_next
FROM router_directory d
JOIN routers r ON r.merchant_id = d.merchant_id AND r.router_id = d.router_id
WHERE d.router_id = $1 AND r.revoked_at IS NULL

-- name: insert_directory_entry
INSERT INTO router_directory (router_id, merchant_id) VALUES ($1, $2)

-- name: insert_router
INSERT INTO routers (merchant_id, router_id, store_id, name, gateway_mac, faskey, mqtt_password_hash,
                     gateway, fas_level)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)

-- name: list_routers
-- `installed`: the router has redeemed an install code (or was given a password directly).
SELECT router_id, store_id, name, online, last_seen, gateway, fas_level,
       mqtt_password_hash IS NOT NULL AS installed
FROM routers WHERE merchant_id = $1 AND revoked_at IS NULL ORDER BY name

-- name: fleet_routers
-- list_routers with what the console's Routers page shows of each: firmware and agent from its last status, its last
-- heartbeat (clients, versions) and its configuration, desired against applied.
SELECT r.router_id, r.store_id, r.name, r.online, r.last_seen, r.gateway, r.fas_level,
       r.mqtt_password_hash IS NOT NULL AS installed, r.authmon_seen_at,
       r.last_status->>'fw' AS firmware, r.last_status->>'agent' AS agent_version,
       hb.data AS heartbeat, hb.occurred_at AS heartbeat_at,
       c.desired_version, c.applied_version, c.state_version, c.state_result, c.state_error
FROM routers r
LEFT JOIN router_configs c USING (merchant_id, router_id)
LEFT JOIN router_heartbeats hb USING (merchant_id, router_id)
WHERE r.merchant_id = $1 AND r.revoked_at IS NULL ORDER BY r.name

-- name: insert_commands
INSERT INTO router_commands (merchant_id, command_id, router_id, op, args, expires_at, sent_by)
SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::jsonb[],
                     $6::timestamptz[], $7::text[])

-- name: command_log
-- A router's commands, newest first: the audit log (who sent what, and what came of it).
SELECT command_id, op, args, sent_by, status, code, attempts, created_at, acked_at
FROM router_commands
WHERE merchant_id = $1 AND router_id = $2
ORDER BY created_at DESC
LIMIT $3

-- name: resend_command
-- The same command again after it got no ack: waiting once more, with a new expiry.
UPDATE router_commands SET status = 'sent', code = NULL, acked_at = NULL, expires_at = $4
WHERE merchant_id = $1 AND command_id = $2 AND router_id = $3
RETURNING true

-- name: record_acks
UPDATE router_commands AS c SET status = a.status, code = a.code, attempts = a.attempts,
                                acked_at = now()
FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::int[])
     AS a(merchant_id, command_id, status, code, attempts)
WHERE c.merchant_id = a.merchant_id AND c.command_id = a.command_id

-- name: record_timeout
UPDATE router_commands SET status = 'timeout'
WHERE merchant_id = $1 AND command_id = $2 AND status = 'sent'

-- name: record_status
UPDATE routers SET online = $3, last_status = $4, last_seen = now()
WHERE merchant_id = $1 AND router_id = $2

-- name: record_status_transition
-- A router's status; returns whether it was online before (NULL: never heard from).
WITH before AS (
    SELECT online, last_seen FROM routers WHERE merchant_id = $1 AND router_id = $2 FOR UPDATE
)
UPDATE routers r SET online = $3, last_status = $4, last_seen = now()
FROM before
WHERE r.merchant_id = $1 AND r.router_id = $2
RETURNING CASE WHEN before.last_seen IS NULL THEN NULL ELSE before.online END

-- name: mark_silent_offline
-- Routers marked online that nothing was heard from for $1 seconds (no Last Will came).
UPDATE routers SET online = false
WHERE online AND last_seen < now() - make_interval(secs => $1)
RETURNING merchant_id, router_id

-- name: offline_too_long
-- Routers that went offline between $2 and $1 seconds ago: one alert each per sweep window.
SELECT merchant_id, router_id, name FROM routers
WHERE NOT online AND last_seen IS NOT NULL
      AND last_seen <= now() - make_interval(secs => $1)
      AND last_seen > now() - make_interval(secs => $2)

-- name: insert_event
INSERT INTO router_events (merchant_id, router_id, type, payload) VALUES ($1, $2, $3, $4)

-- name: record_gateway_pings
UPDATE routers r SET online = true, last_seen = p.seen, last_status = p.status::jsonb
FROM unnest($1::uuid[], $2::text[], $3::text[], $4::timestamptz[]) AS p(merchant_id, router_id, status, seen)
WHERE r.merchant_id = p.merchant_id AND r.router_id = p.router_id

-- name: record_authmon_polls
UPDATE routers r SET authmon_seen_at = p.seen
FROM unnest($1::uuid[], $2::text[], $3::timestamptz[]) AS p(merchant_id, router_id, seen)
WHERE r.merchant_id = p.merchant_id AND r.router_id = p.router_id

-- name: record_late_ack
UPDATE router_commands SET status = $3, code = $4, attempts = $5, acked_at = now()
WHERE merchant_id = $1 AND command_id = $2 AND status = 'timeout'

-- name: later_grant_state
-- After a grant we gave up on ($4): 'done' when a later grant for the same MAC succeeded,
-- else 'sent' when one is still waiting for its ack, else NULL.
SELECT CASE WHEN bool_or(c.status = 'done') THEN 'done'
            WHEN bool_or(c.status = 'sent' AND c.expires_at > now()) THEN 'sent' END
FROM router_commands c
JOIN router_commands g ON g.merchant_id = c.merchant_id AND g.command_id = $4
WHERE c.merchant_id = $1 AND c.router_id = $2 AND c.op IN ('auth', 'restore')
      AND c.args ->> 'mac' = $3 AND c.command_id <> $4 AND c.created_at >= g.created_at

-- name: scrub_command_macs
-- A batch of settled commands' raw MAC and hid args (10 minutes on: nothing reads them then).
WITH batch AS (
    SELECT merchant_id, command_id FROM router_commands
    WHERE (args ? 'mac' OR args ? 'hid') AND created_at < now() - make_interval(secs => $1)
    LIMIT $2
)
UPDATE router_commands c SET args = c.args - 'mac' - 'hid'
FROM batch b
WHERE c.merchant_id = b.merchant_id AND c.command_id = b.command_id

-- name: delete_old_telemetry
-- A batch of at most $2 router_telemetry rows past the retention of $1 days: those the router
-- dated more than $1 days ago (occurred_at, the time every reader goes by), and those dated in
-- the future (a router whose clock ran ahead) that arrived more than $1 days ago. Each
-- merchant's and type's rows are found through the table's index (merchant_id, type,
-- occurred_at), the merchants from routers (every row's router is one of them).
DELETE FROM router_telemetry WHERE ctid = ANY(ARRAY(
    SELECT old.ctid
    FROM (SELECT DISTINCT merchant_id FROM routers) m
    CROSS JOIN unnest('{heartbeat,station,usage}'::text[]) AS k(type)
    CROSS JOIN LATERAL (
        (SELECT t.ctid FROM router_telemetry t
         WHERE t.merchant_id = m.merchant_id AND t.type = k.type
               AND t.occurred_at < now() - make_interval(days => $1)
         LIMIT $2)
        UNION ALL
        (SELECT t.ctid FROM router_telemetry t
         WHERE t.merchant_id = m.merchant_id AND t.type = k.type AND t.occurred_at > now()
               AND t.received_at < now() - make_interval(days => $1)
         LIMIT $2)
    ) old
    LIMIT $2
))

-- name: broker_router_accounts
-- Every router the broker must let in (across merchants: there is one broker).
SELECT router_id, mqtt_password_hash FROM routers
WHERE mqtt_password_hash IS NOT NULL AND revoked_at IS NULL
ORDER BY router_id

-- name: notify_broker_accounts
SELECT pg_notify('portico_broker_accounts', $1)

-- name: get_router
SELECT router_id, store_id, name, gateway, fas_level, faskey, online, last_seen,
       mqtt_password_hash IS NOT NULL AS installed, revoked_at
FROM routers WHERE merchant_id = $1 AND router_id = $2

-- name: insert_claim
INSERT INTO router_claims (code_hash, merchant_id, router_id, expires_at)
VALUES ($1, $2, $3, now() + $4::interval)
RETURNING expires_at

-- name: void_claims
-- Codes of a router not redeemed yet stop working (a newer code replaces them, or it is revoked).
UPDATE router_claims SET voided_at = now()
WHERE merchant_id = $1 AND router_id = $2 AND redeemed_at IS NULL AND voided_at IS NULL

-- name: redeem_claim
-- Exactly one of several concurrent redemptions of a code matches: the others wait for its row
-- lock and then find redeemed_at set.
UPDATE router_claims c SET redeemed_at = now(), redeemed_from = $2
FROM routers r
WHERE c.code_hash = $1 AND c.redeemed_at IS NULL AND c.voided_at IS NULL
      AND c.expires_at > now()
      AND r.merchant_id = c.merchant_id AND r.router_id = c.router_id AND r.revoked_at IS NULL
RETURNING c.merchant_id, c.router_id, r.store_id, r.faskey, r.fas_level

-- name: claim_state
SELECT c.router_id, c.expires_at, c.expires_at <= now() AS expired, c.redeemed_at, c.voided_at,
       r.revoked_at
FROM router_claims c
JOIN routers r ON r.merchant_id = c.merchant_id AND r.router_id = c.router_id
WHERE c.code_hash = $1

-- name: set_router_password
UPDATE routers SET mqtt_password_hash = $3 WHERE merchant_id = $1 AND router_id = $2

-- name: revoke_router
UPDATE routers SET revoked_at = now(), online = false
WHERE merchant_id = $1 AND router_id = $2 AND revoked_at IS NULL
RETURNING name

-- name: failed_claim_attempts
SELECT count(*) FROM claim_attempts
WHERE client_ip = $1 AND attempted_at > now() - $2::interval

-- name: record_failed_claim
-- Attempts older than a day count for nothing: they go at the same time.
WITH old AS (DELETE FROM claim_attempts WHERE attempted_at < now() - interval '1 day')
INSERT INTO claim_attempts (client_ip) VALUES ($1)

-- name: insert_telemetry
-- A batch of telemetry events; one already stored (same router, boot and sequence) is skipped.
-- The newest heartbeat of each router in the batch becomes its last one (router_heartbeats,
-- for the Routers page) unless a later one is there already: the latest wins, in whatever
-- order batches commit. The rows are upserted in key order, so batches written at the same
-- time wait for each other and never deadlock. Returns how many events were stored.
WITH stored AS (
    INSERT INTO router_telemetry (merchant_id, router_id, boot_id, seq, type, occurred_at,
                                  device_hash, randomized, rssi, data)
    SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::bigint[], $5::text[],
                         $6::timestamptz[], $7::text[], $8::boolean[], $9::smallint[], $10::jsonb[])
    ON CONFLICT DO NOTHING
    RETURNING merchant_id, router_id, seq, type, occurred_at, data
), noted AS (
    INSERT INTO router_heartbeats (merchant_id, router_id, occurred_at, data)
    SELECT DISTINCT ON (merchant_id, router_id) merchant_id, router_id, occurred_at, data
    FROM stored WHERE type = 'heartbeat'
    ORDER BY merchant_id, router_id, occurred_at DESC, seq DESC
    ON CONFLICT (merchant_id, router_id) DO UPDATE
    SET occurred_at = EXCLUDED.occurred_at, data = EXCLUDED.data
    WHERE router_heartbeats.occurred_at < EXCLUDED.occurred_at
)
SELECT count(*) FROM stored

-- name: agent_routers_to_resend
-- Routers running our agent that are connected, or that said anything since $1 (unix s): a
-- broker that restarts sends its clients' Last Wills, so a router may be offline for a moment.
-- The most recently heard first: after a broker killed outright (no Last Wills) dead routers
-- still look connected, and each costs its tries' timeouts; the live ones are asked first.
SELECT merchant_id, router_id, online FROM routers
WHERE gateway = 'opennds' AND revoked_at IS NULL
      AND (online OR last_seen >= to_timestamp($1))
ORDER BY last_seen DESC NULLS LAST, merchant_id, router_id

-- name: routers_online_among
-- Which of these routers ($1 merchant ids, $2 router ids, pairwise) are connected now.
SELECT r.merchant_id, r.router_id FROM routers r
JOIN unnest($1::uuid[], $2::text[]) AS w(merchant_id, router_id)
  ON r.merchant_id = w.merchant_id AND r.router_id = w.router_id
WHERE r.online

-- name: router_boot_id
-- The boot id of the router's last online status (NULL when none said it).
SELECT last_status->>'boot_id' FROM routers WHERE merchant_id = $1 AND router_id = $2

-- name: upsert_desired
-- A router's desired configuration: a new version only when the body changed.
INSERT INTO router_configs (merchant_id, router_id, desired_version, desired_body, desired_sha256)
VALUES ($1, $2, 1, $3, $4)
ON CONFLICT (merchant_id, router_id) DO UPDATE SET
    desired_version = router_configs.desired_version
        + (router_configs.desired_sha256 <> EXCLUDED.desired_sha256)::int,
    desired_body = EXCLUDED.desired_body,
    desired_at = CASE WHEN router_configs.desired_sha256 <> EXCLUDED.desired_sha256
        THEN now() ELSE router_configs.desired_at END,
    desired_sha256 = EXCLUDED.desired_sha256
RETURNING desired_version, (xmax = 0 OR desired_at = now()) AS changed

-- name: desired_body_of
SELECT desired_body FROM router_configs WHERE merchant_id = $1 AND router_id = $2

-- name: faskey_next_of
SELECT faskey_next FROM routers WHERE merchant_id = $1 AND router_id = $2

-- name: set_faskey_next
-- The first version carrying the key (later ones carry it too, until it is applied).
UPDATE routers SET faskey_next = $3, faskey_next_version = $4
WHERE merchant_id = $1 AND router_id = $2

-- name: promote_faskey
UPDATE routers SET faskey = faskey_next, faskey_next = NULL, faskey_next_version = NULL
WHERE merchant_id = $1 AND router_id = $2 AND faskey_next_version <= $3
RETURNING true

-- name: record_config_state
-- A router's retained state report (a report for a router with no desired row is dropped).
UPDATE router_configs SET applied_version = $4, state_version = $3, state_result = $5,
    state_error = $6, reported_at = now()
WHERE merchant_id = $1 AND router_id = $2

-- name: config_drift
SELECT c.router_id, r.name, c.desired_version, c.applied_version, c.state_version,
    c.state_result, c.state_error, c.reported_at,
    c.applied_version IS NOT DISTINCT FROM c.desired_version AS in_sync
FROM router_configs c JOIN routers r USING (merchant_id, router_id)
WHERE c.merchant_id = $1
ORDER BY c.router_id

-- name: latest_grants
-- The last grant (`auth` or `restore`) each client of a router got since $3, by its `custom`
-- (the portal's session key): what openNDS holds for it now. `duplicate` of a done counts.
SELECT DISTINCT ON (args ->> 'custom') args ->> 'custom' AS custom, args,
       coalesce(acked_at, created_at) AS granted_at
FROM router_commands
WHERE merchant_id = $1 AND router_id = $2 AND created_at >= $3
      AND op IN ('auth', 'restore') AND args ->> 'custom' = ANY($4::text[])
      AND (status = 'done' OR (status = 'duplicate' AND code = 'done'))
ORDER BY args ->> 'custom', created_at DESC

-- name: latest_client_usage
-- The last `usage` report of each of these devices at a router since $3 while openNDS held it
-- Authenticated (the agent's `ndsctl json` at every heartbeat; after an openNDS restart a
-- client is reported Preauthenticated with its counters gone until it is restored).
SELECT DISTINCT ON (device_hash) device_hash, occurred_at, received_at, data
FROM router_telemetry
WHERE merchant_id = $1 AND type = 'usage' AND occurred_at >= $3 AND router_id = $2
      AND device_hash = ANY($4::text[]) AND data ->> 'state' = 'Authenticated'
ORDER BY device_hash, occurred_at DESC, seq DESC

-- name: router_counts
-- Routers in service per merchant (the operator's merchant list).
SELECT merchant_id, count(*) AS routers FROM routers WHERE revoked_at IS NULL GROUP BY merchant_id

-- name: router_count
-- One merchant's routers in service: what its plan's router limit counts (accounts/plans.py).
SELECT count(*) FROM routers WHERE merchant_id = $1 AND revoked_at IS NULL
