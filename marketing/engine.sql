-- The trigger engine (marketing/engine.py, migration 0045).

-- name: take_events
-- The oldest waiting rows, up to $1 events (and $1 rows at most; a sightings row is as many
-- events as it has sightings, and the first row is taken whatever its size), locked for this engine
-- (another one skips them) and marked done in the same statement: in the batch's transaction,
-- so a rollback leaves them waiting. Rows looked at but not taken stay locked until the commit
-- (another engine skips them meanwhile). RETURNING keeps no order: the engine sorts the rows by
-- received_at. A sighting's payload is always empty: not sent.
WITH looked AS (
    SELECT merchant_id, event_id, received_at, coalesce(cardinality(devices), 1) AS n
    FROM marketing_inbox
    WHERE done_at IS NULL
    ORDER BY received_at
    LIMIT $1
    FOR UPDATE SKIP LOCKED
), taken AS (
    SELECT merchant_id, event_id
    FROM (SELECT merchant_id, event_id, n,
                 sum(n) OVER (ORDER BY received_at, merchant_id, event_id) AS upto
          FROM looked) AS l
    WHERE upto - n < $1
)
UPDATE marketing_inbox i SET done_at = clock_timestamp()
FROM taken
WHERE i.merchant_id = taken.merchant_id AND i.event_id = taken.event_id
RETURNING i.merchant_id, i.event_id, i.kind, i.device_hash, i.store_id, i.occurred_at,
          CASE WHEN i.kind NOT IN ('sighting', 'sightings') THEN i.payload END AS payload,
          i.received_at, i.devices, i.seen_at, i.sighting_ids

-- name: device_profiles
-- The profiles the devices were linked to ($1 merchants, $2 devices, parallel).
SELECT l.merchant_id, l.device_hash, l.profile_key
FROM unnest($1::uuid[], $2::text[]) AS d (merchant_id, device_hash)
JOIN marketing_profile_devices l USING (merchant_id, device_hash)

-- name: lock_merchants
-- One engine at a time decides for a merchant ($1: the batch's merchants): the budget is read
-- and spent by one transaction at once, and a merchant's events are folded in order. Taken
-- in one order (sorted), so two engines never wait for each other in a circle.
SELECT count(pg_advisory_xact_lock(k))
FROM (SELECT DISTINCT hashtextextended('marketing:' || m::text, 0) AS k
      FROM unnest($1::uuid[]) AS m ORDER BY 1) AS keys

-- name: read_epochs
-- The merchants' epochs ($1): what the engine holds of a merchant is good while its epoch is the
-- one the engine's own last batch wrote (migration 0049).
SELECT merchant_id, epoch FROM marketing_engine_epochs WHERE merchant_id = ANY($1::uuid[])

-- name: bump_epochs
-- A batch's merchants ($1, sorted) move to their next epoch, last in the batch: each as the
-- batch's own when it is one on from what the batch read.
INSERT INTO marketing_engine_epochs (merchant_id, epoch)
SELECT m, 1 FROM unnest($1::uuid[]) AS m
ON CONFLICT (merchant_id) DO UPDATE SET epoch = marketing_engine_epochs.epoch + 1
RETURNING merchant_id, epoch

-- name: load_profiles
SELECT p.*
FROM marketing_profiles p
JOIN unnest($1::uuid[], $2::text[]) AS k (merchant_id, profile_key) USING (merchant_id, profile_key)

-- name: recent_contacts
-- The profiles' contacts of the last 8 days (the week's budget, read in the store's days), and
-- every contact in an arm (one offer once; a conversion counts for those).
SELECT c.merchant_id, c.profile_key, c.offer_key, c.decided_at, c.status, c.arm
FROM unnest($1::uuid[], $2::text[]) AS k (merchant_id, profile_key)
JOIN marketing_contacts c USING (merchant_id, profile_key)
WHERE c.decided_at >= $3 OR c.arm IS NOT NULL

-- name: save_profiles
-- The batch's profiles, as parallel arrays; the lists (visit starts, stores, login methods)
-- each as one array literal, since the rows' lists differ in length.
INSERT INTO marketing_profiles (
    merchant_id, profile_key, created_at, visit_store, visit_started_at, last_seen_at,
    visits_total, recent_visits, previous_visit_at, dwell_seconds, longest_dwell_seconds, stores,
    claims, redemptions, login_methods, consent_sms, consent_email, opted_out_at, tags,
    updated_at, consent_wechat)
SELECT m, k, c, vs, va, ls, vt, rv::timestamptz[], pv, ds, ld, st::uuid[], cl, rd, lm::text[],
       cs, ce, oo, tg, ua, cw
FROM unnest($1::uuid[], $2::text[], $3::timestamptz[], $4::uuid[], $5::timestamptz[],
            $6::timestamptz[], $7::integer[], $8::text[], $9::timestamptz[], $10::bigint[],
            $11::integer[], $12::text[], $13::integer[], $14::integer[], $15::text[],
            $16::boolean[], $17::boolean[], $18::timestamptz[], $19::jsonb[], $20::timestamptz[],
            $21::boolean[])
    AS p (m, k, c, vs, va, ls, vt, rv, pv, ds, ld, st, cl, rd, lm, cs, ce, oo, tg, ua, cw)
ON CONFLICT (merchant_id, profile_key) DO UPDATE SET
    created_at = EXCLUDED.created_at, visit_store = EXCLUDED.visit_store,
    visit_started_at = EXCLUDED.visit_started_at, last_seen_at = EXCLUDED.last_seen_at,
    visits_total = EXCLUDED.visits_total, recent_visits = EXCLUDED.recent_visits,
    previous_visit_at = EXCLUDED.previous_visit_at, dwell_seconds = EXCLUDED.dwell_seconds,
    longest_dwell_seconds = EXCLUDED.longest_dwell_seconds, stores = EXCLUDED.stores,
    claims = EXCLUDED.claims, redemptions = EXCLUDED.redemptions,
    login_methods = EXCLUDED.login_methods, consent_sms = EXCLUDED.consent_sms,
    consent_email = EXCLUDED.consent_email, opted_out_at = EXCLUDED.opted_out_at,
    tags = EXCLUDED.tags, updated_at = EXCLUDED.updated_at,
    consent_wechat = EXCLUDED.consent_wechat

-- name: link_devices
INSERT INTO marketing_profile_devices (merchant_id, device_hash, profile_key, linked_at)
SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::timestamptz[])
ON CONFLICT (merchant_id, device_hash) DO UPDATE
SET profile_key = EXCLUDED.profile_key, linked_at = EXCLUDED.linked_at

-- name: move_contacts
-- A merged device profile's contacts become its identity's ($1 merchant, $2 from, $3 into):
-- an offer both had stays with the identity's, the device's copy becomes a duplicate. One
-- UPDATE (a row changed by a CTE and by its statement too keeps only one of the changes).
UPDATE marketing_contacts d
SET profile_key = $3,
    status = CASE WHEN x.duplicate THEN 'suppressed' ELSE d.status END,
    reason = CASE WHEN x.duplicate THEN 'duplicate_offer' ELSE d.reason END,
    arm = CASE WHEN x.duplicate THEN NULL ELSE d.arm END,
    next_attempt_at = CASE WHEN x.duplicate THEN NULL ELSE d.next_attempt_at END
FROM (
    SELECT c.contact_id,
           c.status <> 'suppressed' AND EXISTS (
               SELECT 1 FROM marketing_contacts i
               WHERE i.merchant_id = $1 AND i.profile_key = $3 AND i.offer_key = c.offer_key
                 AND i.status <> 'suppressed') AS duplicate
    FROM marketing_contacts c
    WHERE c.merchant_id = $1 AND c.profile_key = $2
) x
WHERE d.merchant_id = $1 AND d.contact_id = x.contact_id

-- name: delete_profiles
DELETE FROM marketing_profiles p
USING unnest($1::uuid[], $2::text[]) AS k (merchant_id, profile_key)
WHERE p.merchant_id = k.merchant_id AND p.profile_key = k.profile_key

-- name: insert_contacts
INSERT INTO marketing_contacts (
    merchant_id, contact_id, profile_key, trigger_id, trigger_version, offer_key, channel,
    store_id, event_id, event_at, decided_at, arm, status, reason, next_attempt_at)
SELECT c.merchant_id, c.contact_id, c.profile_key, c.trigger_id, c.trigger_version,
       c.offer_key, c.channel, c.store_id, c.event_id, c.event_at, c.decided_at, c.arm,
       c.status, c.reason, CASE WHEN c.status = 'pending' THEN c.decided_at END
FROM jsonb_to_recordset($1::jsonb) AS c (
    merchant_id uuid, contact_id uuid, profile_key text, trigger_id uuid,
    trigger_version integer, offer_key text, channel text, store_id uuid, event_id uuid,
    event_at timestamptz, decided_at timestamptz, arm text, status text, reason text)

-- name: convert_contacts
-- Conversions ($1 merchants, $2 profiles, $3 moments, $4 kinds 'redemption'/'return_visit',
-- $5 coupons or null): each profile's earlier contacts in an arm, still in their trigger's
-- window and not yet converted, converted by the first such moment. A return visit counts
-- from an hour after the contact (not the visit it was made in); a redemption counts when it
-- is of the trigger's coupon, or of any coupon for a trigger that offers none.
WITH hit AS (
    SELECT DISTINCT ON (c.merchant_id, c.contact_id) c.merchant_id, c.contact_id, x.at, x.kind
    FROM unnest($1::uuid[], $2::text[], $3::timestamptz[], $4::text[], $5::uuid[])
             AS x (merchant_id, profile_key, at, kind, coupon_id)
    JOIN marketing_contacts c ON c.merchant_id = x.merchant_id AND c.profile_key = x.profile_key
    JOIN marketing_triggers t ON t.merchant_id = c.merchant_id AND t.trigger_id = c.trigger_id
    WHERE c.arm IS NOT NULL AND c.converted_at IS NULL
      AND x.at > c.decided_at AND x.at < c.decided_at + make_interval(days => t.window_days)
      AND (x.kind = 'redemption' AND (t.coupon_id IS NULL OR t.coupon_id = x.coupon_id)
           OR x.kind = 'return_visit' AND x.at >= c.decided_at + interval '1 hour')
    ORDER BY c.merchant_id, c.contact_id, x.at
)
UPDATE marketing_contacts c SET converted_at = hit.at, conversion = hit.kind
FROM hit WHERE c.merchant_id = hit.merchant_id AND c.contact_id = hit.contact_id

-- name: merchant_config
SELECT max_per_day, max_per_week, quiet_from, quiet_until
FROM marketing_settings WHERE merchant_id = $1

-- name: merchant_triggers
SELECT trigger_id, version, event, dwell_minutes, store_id, rule, channel, offer_key,
       holdout_share
FROM marketing_triggers WHERE merchant_id = $1 AND enabled
ORDER BY created_at, trigger_id

-- name: notify_dispatch
SELECT pg_notify('marketing_dispatch', '')
