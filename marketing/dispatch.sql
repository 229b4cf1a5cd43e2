-- Marketing dispatch (marketing/dispatch.py; migrations 0045 and 0046).

-- name: claim_due
-- Up to $1 pending contacts whose time has come, taken for $2 seconds (a lease): their next
-- try is put off by that much and counted, and the claim is committed before anything is sent.
-- Another dispatcher skips them (SKIP LOCKED while the claim runs, then the lease); one that
-- died mid-send leaves them to be taken again when the lease ends, under the same delivery id.
-- With each: its trigger's message and coupon, and its shopper's opt-out and SMS and WeChat
-- consent now.
WITH due AS (
    SELECT merchant_id, contact_id
    FROM marketing_contacts
    WHERE status = 'pending' AND next_attempt_at <= now()
    ORDER BY next_attempt_at
    LIMIT $1
    FOR UPDATE SKIP LOCKED
), claimed AS (
    UPDATE marketing_contacts c
    SET attempts = c.attempts + 1, next_attempt_at = now() + make_interval(secs => $2)
    FROM due
    WHERE c.merchant_id = due.merchant_id AND c.contact_id = due.contact_id
    RETURNING c.merchant_id, c.contact_id, c.profile_key, c.trigger_id, c.offer_key, c.channel,
              c.store_id, c.event_at, c.decided_at, c.attempts
)
SELECT k.*, t.message_zh, t.message_en, t.coupon_id, t.webhook_id,
       p.profile_key IS NOT NULL AS profile_found, p.opted_out_at, p.consent_sms,
       p.consent_wechat
FROM claimed k
JOIN marketing_triggers t ON t.merchant_id = k.merchant_id AND t.trigger_id = k.trigger_id
LEFT JOIN marketing_profiles p ON p.merchant_id = k.merchant_id AND p.profile_key = k.profile_key
ORDER BY k.decided_at

-- name: mark
-- What one try came to ($4: 'sent', 'delivered', 'retry' in $7 seconds, 'failed',
-- 'suppressed' with reason $5; $6 the error or note). Only a pending contact changes, and a
-- failure only under this dispatcher's claim ($3: the attempt it took): a slower dispatcher
-- whose lease ran out does not overwrite what the one after it recorded; a success always
-- counts.
-- A contact suppressed here moves its merchant's engine epoch on (migration 0049): an engine
-- holding the shopper's contacts in memory reads them again.
WITH marked AS (
    UPDATE marketing_contacts SET
        status = CASE WHEN $4::text = 'retry' THEN status ELSE $4::text END,
        reason = $5,
        sent_at = CASE WHEN $4::text IN ('sent', 'delivered') THEN coalesce(sent_at, now())
                       ELSE sent_at END,
        delivered_at = CASE WHEN $4::text = 'delivered' THEN now() ELSE delivered_at END,
        next_attempt_at = CASE WHEN $4::text = 'retry' THEN now() + make_interval(secs => $7) END,
        last_error = coalesce($6, last_error)
    WHERE merchant_id = $1 AND contact_id = $2 AND status = 'pending'
      AND ($4::text IN ('sent', 'delivered') OR attempts = $3)
    RETURNING merchant_id, status
)
INSERT INTO marketing_engine_epochs (merchant_id, epoch)
SELECT merchant_id, 1 FROM marked WHERE status = 'suppressed'
ON CONFLICT (merchant_id) DO UPDATE SET epoch = marketing_engine_epochs.epoch + 1

-- name: due_count
SELECT count(*) FROM marketing_contacts WHERE status = 'pending' AND next_attempt_at <= now()
