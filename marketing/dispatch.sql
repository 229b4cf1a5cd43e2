-- Marketing dispatch (marketing/dispatch.py; migrations 0045 and 0046).

-- name: claim_due
-- Up to $1 pending contacts whose time has come, taken for $2 seconds (a lease): their next
-- try is put off by that much and counted, and the claim is committed before anything is sent.
-- Another dispatcher skips them (SKIP LOCKED while the claim runs, then the lease); one that
-- died mid-send leaves them to be taken again when the lease ends, under the same delivery id.
-- With each: its trigger's message and coupon, and its shopper's opt-out and SMS and WeChat
-- consent now. A portal offer has nothing to send (PortalChannel): with $3, one that passes
-- the dispatcher's checks (its shopper's profile there and not opted out, a try left of $4,
-- something to show) is recorded 'sent' by the claim itself, returned as such, and needs no
-- other statement.
WITH due AS (
    SELECT c.merchant_id, c.contact_id,
           $3::boolean AND c.channel = 'portal' AND c.attempts < $4::integer
           AND EXISTS (SELECT 1 FROM marketing_profiles p
                       WHERE p.merchant_id = c.merchant_id AND p.profile_key = c.profile_key
                         AND p.opted_out_at IS NULL)
           AND EXISTS (SELECT 1 FROM marketing_triggers t
                       WHERE t.merchant_id = c.merchant_id AND t.trigger_id = c.trigger_id
                         AND (coalesce(t.message_zh, '') <> '' OR coalesce(t.message_en, '') <> ''
                              OR t.coupon_id IS NOT NULL)) AS shown
    FROM marketing_contacts c
    WHERE c.status = 'pending' AND c.next_attempt_at <= now()
    ORDER BY c.next_attempt_at
    LIMIT $1
    FOR UPDATE OF c SKIP LOCKED
), claimed AS (
    UPDATE marketing_contacts c
    SET attempts = c.attempts + 1,
        status = CASE WHEN due.shown THEN 'sent' ELSE c.status END,
        sent_at = CASE WHEN due.shown THEN now() ELSE c.sent_at END,
        next_attempt_at = CASE WHEN due.shown THEN NULL ELSE now() + make_interval(secs => $2) END
    FROM due
    WHERE c.merchant_id = due.merchant_id AND c.contact_id = due.contact_id
    RETURNING c.merchant_id, c.contact_id, c.profile_key, c.trigger_id, c.offer_key, c.channel,
              c.store_id, c.event_at, c.decided_at, c.attempts, c.status
)
SELECT k.*, t.message_zh, t.message_en, t.coupon_id, t.webhook_id,
       p.profile_key IS NOT NULL AS profile_found, p.opted_out_at, p.consent_sms,
       p.consent_wechat
FROM claimed k
JOIN marketing_triggers t ON t.merchant_id = k.merchant_id AND t.trigger_id = k.trigger_id
LEFT JOIN marketing_profiles p ON p.merchant_id = k.merchant_id AND p.profile_key = k.profile_key
ORDER BY k.decided_at

-- name: mark
-- What tries came to (parallel arrays: $1 merchants, $2 contacts, $3 the attempt each took,
-- $4 'sent', 'delivered', 'retry' in $7 seconds, 'failed', 'suppressed' with reason $5; $6 the
-- error or note). Only a pending contact changes, and a failure only under this dispatcher's
-- claim (the attempt it took): a slower dispatcher whose lease ran out does not overwrite what
-- the one after it recorded; a success always counts. A contact suppressed here moves its
-- merchant's engine epoch on (migration 0049): an engine holding the shopper's contacts in
-- memory reads them again.
WITH outcome AS (
    SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::integer[], $4::text[], $5::text[],
                         $6::text[], $7::float8[])
        AS o (merchant_id, contact_id, attempt, status, reason, error, retry_after)
), marked AS (
    UPDATE marketing_contacts c SET
        status = CASE WHEN o.status = 'retry' THEN c.status ELSE o.status END,
        reason = o.reason,
        sent_at = CASE WHEN o.status IN ('sent', 'delivered') THEN coalesce(c.sent_at, now())
                       ELSE c.sent_at END,
        delivered_at = CASE WHEN o.status = 'delivered' THEN now() ELSE c.delivered_at END,
        next_attempt_at = CASE WHEN o.status = 'retry'
                               THEN now() + make_interval(secs => o.retry_after) END,
        last_error = coalesce(o.error, c.last_error)
    FROM outcome o
    WHERE c.merchant_id = o.merchant_id AND c.contact_id = o.contact_id AND c.status = 'pending'
      AND (o.status IN ('sent', 'delivered') OR c.attempts = o.attempt)
    RETURNING c.merchant_id, c.status
)
INSERT INTO marketing_engine_epochs (merchant_id, epoch)
SELECT DISTINCT merchant_id, 1 FROM marked WHERE status = 'suppressed'
ON CONFLICT (merchant_id) DO UPDATE SET epoch = marketing_engine_epochs.epoch + 1

-- name: due_count
SELECT count(*) FROM marketing_contacts WHERE status = 'pending' AND next_attempt_at <= now()
