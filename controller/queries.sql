-- name: find_router
SELECT r.merchant_id, r.router_id, r.store_id, r.name, r.gateway_mac, r.faskey, r.online,
       r.gateway, r.fas_level
FROM router_directory d
JOIN routers r ON r.merchant_id = d.merchant_id AND r.router_id = d.router_id
WHERE d.router_id = $1

-- name: insert_directory_entry
INSERT INTO router_directory (router_id, merchant_id) VALUES ($1, $2)

-- name: insert_router
INSERT INTO routers (merchant_id, router_id, store_id, name, gateway_mac, faskey, mqtt_password_hash,
                     gateway, fas_level)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)

-- name: list_routers
SELECT router_id, store_id, name, online, last_seen, gateway, fas_level
FROM routers WHERE merchant_id = $1 ORDER BY name

-- name: insert_command
INSERT INTO router_commands (merchant_id, command_id, router_id, op, args, expires_at)
VALUES ($1, $2, $3, $4, $5, $6)

-- name: record_ack
UPDATE router_commands SET status = $3, code = $4, attempts = $5, acked_at = now()
WHERE merchant_id = $1 AND command_id = $2

-- name: record_timeout
UPDATE router_commands SET status = 'timeout'
WHERE merchant_id = $1 AND command_id = $2 AND status = 'sent'

-- name: record_status
UPDATE routers SET online = $3, last_status = $4, last_seen = now()
WHERE merchant_id = $1 AND router_id = $2

-- name: insert_event
INSERT INTO router_events (merchant_id, router_id, type, payload) VALUES ($1, $2, $3, $4)

-- name: record_gateway_pings
UPDATE routers r SET online = true, last_seen = p.seen, last_status = p.status::jsonb
FROM unnest($1::uuid[], $2::text[], $3::text[], $4::timestamptz[]) AS p(merchant_id, router_id, status, seen)
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
