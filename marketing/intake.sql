-- The trigger engine's inbox (marketing/intake.py, migration 0045).

-- name: insert_events
INSERT INTO marketing_inbox (merchant_id, event_id, kind, device_hash, store_id, occurred_at, payload)
SELECT m, e, k, d, s, o, p::jsonb
FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::uuid[], $6::timestamptz[], $7::text[])
         AS x (m, e, k, d, s, o, p)
ON CONFLICT (merchant_id, event_id) DO NOTHING

-- name: insert_sightings
-- One store's batch of sightings ($4 devices, $5 moments, $6 their event ids: parallel).
INSERT INTO marketing_inbox (merchant_id, event_id, kind, device_hash, store_id, occurred_at,
                             devices, seen_at, sighting_ids)
VALUES ($1, $2, 'sightings', '', $3, ($5::timestamptz[])[1], $4::text[], $5, $6::uuid[])
ON CONFLICT (merchant_id, event_id) DO NOTHING

-- name: count_waiting
SELECT coalesce(sum(coalesce(cardinality(devices), 1)), 0)
FROM marketing_inbox WHERE done_at IS NULL

-- name: purge_done
DELETE FROM marketing_inbox WHERE done_at < now() - $1::interval
