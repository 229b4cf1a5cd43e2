-- Marketing's answers to other domains (marketing/services.py).

-- name: offers_for_device
-- The portal offers of a device's shopper ($1 merchant, $2 device): its linked profile, else
-- its own; waiting ('pending', 'sent') or shown ('delivered') within $3 of their event; none
-- once the shopper opted out (a pending one has not passed the dispatcher's check yet).
SELECT c.contact_id, c.offer_key, t.message_zh, t.message_en, t.coupon_id
FROM marketing_contacts c
JOIN marketing_triggers t ON t.merchant_id = c.merchant_id AND t.trigger_id = c.trigger_id
WHERE c.merchant_id = $1
  AND c.profile_key = coalesce(
        (SELECT profile_key FROM marketing_profile_devices
         WHERE merchant_id = $1 AND device_hash = $2),
        'd:' || $2)
  AND c.channel = 'portal' AND c.status IN ('pending', 'sent', 'delivered')
  AND c.event_at > now() - $3::interval
  AND NOT EXISTS (SELECT 1 FROM marketing_profiles p
                  WHERE p.merchant_id = $1 AND p.profile_key = c.profile_key
                    AND p.opted_out_at IS NOT NULL)
ORDER BY c.event_at DESC, c.contact_id
LIMIT $4

-- name: mark_offers_shown
UPDATE marketing_contacts
SET status = 'delivered', delivered_at = now(), sent_at = coalesce(sent_at, now()),
    next_attempt_at = NULL
WHERE merchant_id = $1 AND contact_id = ANY($2::uuid[]) AND channel = 'portal'
  AND status IN ('pending', 'sent')
