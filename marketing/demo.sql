-- The demo merchant's marketing (marketing/demo.py; tables: migration 0045).

-- name: insert_segment
-- A demo segment, once (its id is fixed per merchant and name).
INSERT INTO marketing_segments (merchant_id, segment_id, name_zh, name_en, rule,
                                shared_with_advertisers)
VALUES ($1, $2, $3, $4, $5::jsonb, $6)
ON CONFLICT (merchant_id, segment_id) DO NOTHING

-- name: trigger_count
SELECT count(*) FROM marketing_triggers WHERE merchant_id = $1

-- name: reacted_contacts
-- The demo history's contacts that shoppers react to (portico/demo_closed_loop.py): those in an
-- arm decided in [$2, $3) of the triggers offering one of $4 (offer keys).
SELECT contact_id, event_id, arm, status, decided_at
FROM marketing_contacts
WHERE merchant_id = $1 AND decided_at >= $2 AND decided_at < $3 AND arm IS NOT NULL
  AND offer_key = ANY($4::text[])
ORDER BY decided_at, contact_id

-- name: triggers_made_at
SELECT min(created_at) FROM marketing_triggers WHERE merchant_id = $1

-- name: history_waiting
-- Events of the merchant before $2 still waiting: a history cut short.
SELECT EXISTS (
    SELECT 1 FROM marketing_inbox WHERE merchant_id = $1 AND done_at IS NULL AND occurred_at < $2)

-- name: settle_history
-- The history's contacts that went out (decided before $2), as they would have ended:
-- delivered at their decision, never dispatched now.
UPDATE marketing_contacts
SET status = 'delivered', attempts = 1, sent_at = decided_at, delivered_at = decided_at,
    next_attempt_at = NULL
WHERE merchant_id = $1 AND status = 'pending' AND decided_at < $2
