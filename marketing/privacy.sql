-- A shopper's export and erasure in marketing (marketing/privacy.py, tables: migration 0045).

-- name: profiles_of_devices
SELECT profile_key FROM marketing_profile_devices
WHERE merchant_id = $1 AND device_hash = ANY($2::text[])

-- name: devices_of_profiles
SELECT device_hash, profile_key FROM marketing_profile_devices
WHERE merchant_id = $1 AND profile_key = ANY($2::text[])
ORDER BY profile_key, device_hash

-- name: profiles
SELECT * FROM marketing_profiles
WHERE merchant_id = $1 AND profile_key = ANY($2::text[])
ORDER BY profile_key

-- name: wechat_followers
-- The WeChat accounts linked to these profiles (migration 0046; deleted with a profile).
SELECT profile_key, openid, linked_at FROM marketing_wechat_followers
WHERE merchant_id = $1 AND profile_key = ANY($2::text[])

-- name: contacts
SELECT c.contact_id, c.trigger_id, t.name_en AS trigger_en, t.name_zh AS trigger_zh,
       c.trigger_version, c.offer_key, c.channel, c.store_id, c.event_at, c.decided_at, c.arm,
       c.status, c.reason, c.attempts, c.sent_at, c.converted_at, c.conversion
FROM marketing_contacts c
LEFT JOIN marketing_triggers t ON t.merchant_id = c.merchant_id AND t.trigger_id = c.trigger_id
WHERE c.merchant_id = $1 AND c.profile_key = ANY($2::text[])
ORDER BY c.decided_at, c.contact_id

-- name: events
-- The live stream's events of these devices ($2) or identities ($3), waiting or done (kept a
-- day); each of a sightings row's that is theirs, as a sighting.
SELECT kind, store_id, occurred_at, payload, received_at, done_at FROM marketing_inbox
WHERE merchant_id = $1 AND kind <> 'sightings'
  AND (device_hash = ANY($2::text[]) OR payload->>'identity_hash' = ANY($3::text[]))
UNION ALL
SELECT 'sighting', i.store_id, s.at, '{}'::jsonb, i.received_at, i.done_at
FROM marketing_inbox i, unnest(i.devices, i.seen_at) AS s (device_hash, at)
WHERE i.merchant_id = $1 AND i.kind = 'sightings' AND i.devices && $2::text[]
  AND s.device_hash = ANY($2::text[])
ORDER BY occurred_at, kind

-- name: segments
SELECT segment_id, name_zh, name_en, rule FROM marketing_segments
WHERE merchant_id = $1
ORDER BY created_at, segment_id

-- name: delete_events
-- The shopper's events ($2 devices, $3 identities): their own rows deleted, and their sightings
-- taken out of the sightings rows that hold them (a row left with none deleted).
WITH own AS (
    DELETE FROM marketing_inbox
    WHERE merchant_id = $1 AND kind <> 'sightings'
      AND (device_hash = ANY($2::text[]) OR payload->>'identity_hash' = ANY($3::text[]))
    RETURNING 1
), kept AS (
    SELECT i.event_id,
           array_agg(s.device_hash ORDER BY s.n) FILTER (WHERE s.device_hash <> ALL($2::text[]))
               AS devices,
           array_agg(s.at ORDER BY s.n) FILTER (WHERE s.device_hash <> ALL($2::text[])) AS seen_at,
           array_agg(s.id ORDER BY s.n) FILTER (WHERE s.device_hash <> ALL($2::text[])) AS ids,
           count(*) FILTER (WHERE s.device_hash = ANY($2::text[])) AS theirs
    FROM marketing_inbox i,
         unnest(i.devices, i.seen_at, i.sighting_ids) WITH ORDINALITY AS s (device_hash, at, id, n)
    WHERE i.merchant_id = $1 AND i.kind = 'sightings' AND i.devices && $2::text[]
    GROUP BY i.event_id
), emptied AS (
    DELETE FROM marketing_inbox i USING kept
    WHERE i.merchant_id = $1 AND i.event_id = kept.event_id AND kept.devices IS NULL
    RETURNING kept.theirs
), thinned AS (
    UPDATE marketing_inbox i
    SET devices = kept.devices, seen_at = kept.seen_at, sighting_ids = kept.ids,
        occurred_at = kept.seen_at[1]
    FROM kept
    WHERE i.merchant_id = $1 AND i.event_id = kept.event_id AND kept.devices IS NOT NULL
    RETURNING kept.theirs
)
SELECT (SELECT count(*) FROM own) + coalesce((SELECT sum(theirs) FROM emptied), 0)
       + coalesce((SELECT sum(theirs) FROM thinned), 0)

-- name: anonymise_contacts
-- Each contact keeps its trigger, channel, times and outcome (the trigger's report counts it)
-- under a key of its own that names nobody, and an event id that is its own; one not yet sent
-- never will be.
UPDATE marketing_contacts
SET profile_key = 'x:' || contact_id::text, event_id = contact_id,
    status = CASE WHEN status = 'pending' THEN 'suppressed' ELSE status END,
    reason = CASE WHEN status = 'pending' THEN 'opted_out' ELSE reason END,
    next_attempt_at = NULL
WHERE merchant_id = $1 AND profile_key = ANY($2::text[])

-- name: delete_devices
DELETE FROM marketing_profile_devices
WHERE merchant_id = $1 AND (device_hash = ANY($2::text[]) OR profile_key = ANY($3::text[]))

-- name: delete_profiles
DELETE FROM marketing_profiles
WHERE merchant_id = $1 AND profile_key = ANY($2::text[])
RETURNING profile_key, opted_out_at

-- name: keep_opt_outs
-- A profile that had opted out stays a bare row saying so (no fact, no tag): the shopper's
-- "no offers" outlives the erasure of what we knew.
INSERT INTO marketing_profiles (merchant_id, profile_key, created_at, opted_out_at, updated_at)
SELECT $1, k, now(), o, now() FROM unnest($2::text[], $3::timestamptz[]) AS x (k, o)

-- name: wechat_scenes
-- The WeChat follow codes made for these profiles (migration 0050; deleted with a profile).
SELECT profile_key, created_at, expires_at FROM marketing_wechat_scenes
WHERE merchant_id = $1 AND profile_key = ANY($2::text[])
ORDER BY profile_key, created_at
