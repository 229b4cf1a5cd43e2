-- The trigger engine (marketing/engine.py, migration 0045).

-- name: take_events
-- The oldest waiting events, locked for this engine (another one skips them). $1: how many.
SELECT merchant_id, event_id, kind, device_hash, store_id, occurred_at, payload
FROM marketing_inbox
WHERE done_at IS NULL
ORDER BY received_at
LIMIT $1
FOR UPDATE SKIP LOCKED

-- name: mark_done
UPDATE marketing_inbox SET done_at = clock_timestamp()
FROM unnest($1::uuid[], $2::uuid[]) AS d (merchant_id, event_id)
WHERE marketing_inbox.merchant_id = d.merchant_id AND marketing_inbox.event_id = d.event_id

-- name: device_profiles
-- The profiles the devices were linked to ($1 merchants, $2 devices, parallel).
SELECT l.merchant_id, l.device_hash, l.profile_key
FROM unnest($1::uuid[], $2::text[]) AS d (merchant_id, device_hash)
JOIN marketing_profile_devices l USING (merchant_id, device_hash)

-- name: ensure_profiles
-- Rows for profiles not yet stored, so that every profile of the batch can be locked; in key
-- order, as the lock below, so that two engines never wait for each other in a circle.
INSERT INTO marketing_profiles (merchant_id, profile_key, created_at, updated_at)
SELECT merchant_id, profile_key, at, at
FROM unnest($1::uuid[], $2::text[], $3::timestamptz[]) AS p (merchant_id, profile_key, at)
ORDER BY merchant_id, profile_key
ON CONFLICT (merchant_id, profile_key) DO NOTHING

-- name: lock_profiles
SELECT p.*
FROM marketing_profiles p
JOIN unnest($1::uuid[], $2::text[]) AS k (merchant_id, profile_key) USING (merchant_id, profile_key)
ORDER BY p.merchant_id, p.profile_key
FOR UPDATE OF p

-- name: recent_contacts
-- The profiles' contacts of the last 8 days (the week's budget, read in the store's days), and
-- every contact in an arm (one offer once; a conversion counts for those).
SELECT c.merchant_id, c.profile_key, c.offer_key, c.decided_at, c.status, c.arm
FROM unnest($1::uuid[], $2::text[]) AS k (merchant_id, profile_key)
JOIN marketing_contacts c USING (merchant_id, profile_key)
WHERE c.decided_at >= $3 OR c.arm IS NOT NULL

-- name: save_profiles
INSERT INTO marketing_profiles (
    merchant_id, profile_key, created_at, visit_store, visit_started_at, last_seen_at,
    visits_total, recent_visits, previous_visit_at, dwell_seconds, longest_dwell_seconds, stores,
    claims, redemptions, login_methods, consent_sms, consent_email, opted_out_at, tags,
    updated_at)
SELECT p.merchant_id, p.profile_key, p.created_at, p.visit_store, p.visit_started_at,
       p.last_seen_at, p.visits_total, ARRAY(SELECT jsonb_array_elements_text(p.recent_visits))::timestamptz[],
       p.previous_visit_at, p.dwell_seconds, p.longest_dwell_seconds,
       ARRAY(SELECT jsonb_array_elements_text(p.stores))::uuid[], p.claims, p.redemptions,
       ARRAY(SELECT jsonb_array_elements_text(p.login_methods)), p.consent_sms, p.consent_email,
       p.opted_out_at, p.tags, p.updated_at
FROM jsonb_to_recordset($1::jsonb) AS p (
    merchant_id uuid, profile_key text, created_at timestamptz, visit_store uuid,
    visit_started_at timestamptz, last_seen_at timestamptz, visits_total integer,
    recent_visits jsonb, previous_visit_at timestamptz, dwell_seconds bigint,
    longest_dwell_seconds integer, stores jsonb, claims integer, redemptions integer,
    login_methods jsonb, consent_sms boolean, consent_email boolean, opted_out_at timestamptz,
    tags jsonb, updated_at timestamptz)
ON CONFLICT (merchant_id, profile_key) DO UPDATE SET
    created_at = EXCLUDED.created_at, visit_store = EXCLUDED.visit_store,
    visit_started_at = EXCLUDED.visit_started_at, last_seen_at = EXCLUDED.last_seen_at,
    visits_total = EXCLUDED.visits_total, recent_visits = EXCLUDED.recent_visits,
    previous_visit_at = EXCLUDED.previous_visit_at, dwell_seconds = EXCLUDED.dwell_seconds,
    longest_dwell_seconds = EXCLUDED.longest_dwell_seconds, stores = EXCLUDED.stores,
    claims = EXCLUDED.claims, redemptions = EXCLUDED.redemptions,
    login_methods = EXCLUDED.login_methods, consent_sms = EXCLUDED.consent_sms,
    consent_email = EXCLUDED.consent_email, opted_out_at = EXCLUDED.opted_out_at,
    tags = EXCLUDED.tags, updated_at = EXCLUDED.updated_at

-- name: link_devices
INSERT INTO marketing_profile_devices (merchant_id, device_hash, profile_key, linked_at)
SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::timestamptz[])
ON CONFLICT (merchant_id, device_hash) DO UPDATE
SET profile_key = EXCLUDED.profile_key, linked_at = EXCLUDED.linked_at

-- name: move_contacts
-- A merged device profile's contacts become its identity's ($1 merchant, $2 from, $3 into):
-- an offer both had stays with the identity's, the device's copy becomes a duplicate.
WITH both_had AS (
    UPDATE marketing_contacts d SET status = 'suppressed', reason = 'duplicate_offer', arm = NULL
    WHERE d.merchant_id = $1 AND d.profile_key = $2 AND d.status <> 'suppressed'
      AND EXISTS (SELECT 1 FROM marketing_contacts i
                  WHERE i.merchant_id = $1 AND i.profile_key = $3
                    AND i.offer_key = d.offer_key AND i.status <> 'suppressed')
    RETURNING d.contact_id
)
UPDATE marketing_contacts SET profile_key = $3
WHERE merchant_id = $1 AND profile_key = $2

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
