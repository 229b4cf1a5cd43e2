-- A shopper's export and erasure in the controller (controller/privacy.py, docs/privacy.md;
-- tables of migrations 0001, 0009). $1 is the merchant; $2 the shopper's device pseudonyms;
-- $3 the raw MACs the request typed (normalised).

-- name: telemetry
-- The routers' station and usage events naming the device (kept 30 days), summed per router,
-- type and UTC day.
SELECT router_id, type, occurred_at::date AS day, count(*) AS events,
       min(occurred_at) AS first_at, max(occurred_at) AS last_at
FROM router_telemetry
WHERE merchant_id = $1 AND device_hash = ANY($2::text[])
GROUP BY router_id, type, occurred_at::date
ORDER BY day, router_id, type

-- name: commands
-- Commands that still carry the MAC (its first 10 minutes: controller/retention.py).
SELECT command_id, router_id, op, status, created_at FROM router_commands
WHERE merchant_id = $1 AND args->>'mac' = ANY($2::text[])
ORDER BY created_at, command_id

-- name: erase_telemetry
DELETE FROM router_telemetry WHERE merchant_id = $1 AND device_hash = ANY($2::text[])

-- name: erase_command_macs
-- What the retention job does after 10 minutes, now: the command, its router, op, outcome and
-- who sent it stay (the audit of what was done); the MAC and the hid go.
UPDATE router_commands SET args = args - 'mac' - 'hid'
WHERE merchant_id = $1 AND args->>'mac' = ANY($2::text[])
