-- Invitations and the team's memberships (accounts/invitations.py). Tables: invitations (0037),
-- memberships, membership_stores, user_accounts.

-- name: replace_invitation
-- Inviting an address again replaces its pending invitation (and so its link).
INSERT INTO invitations (merchant_id, invitation_id, token_hash, email, role, store_ids,
                         invited_by, language, expires_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, now() + $9::interval)
ON CONFLICT (merchant_id, email) DO UPDATE
SET invitation_id = EXCLUDED.invitation_id, token_hash = EXCLUDED.token_hash,
    role = EXCLUDED.role, store_ids = EXCLUDED.store_ids, invited_by = EXCLUDED.invited_by,
    language = EXCLUDED.language, created_at = now(), expires_at = EXCLUDED.expires_at,
    mail_failed_at = NULL

-- name: renew_invitation
-- Re-sending: a new link (the old one stops working), valid from now.
UPDATE invitations
SET token_hash = $3, invited_by = $4, created_at = now(), expires_at = now() + $5::interval,
    mail_failed_at = NULL
WHERE merchant_id = $1 AND invitation_id = $2 AND expires_at > now()
RETURNING email, role, store_ids, language

-- name: pending
SELECT i.invitation_id, i.email, i.role, i.store_ids, i.created_at, i.expires_at,
       u.display_name AS invited_by_name, i.mail_failed_at
FROM invitations i LEFT JOIN user_accounts u ON u.user_id = i.invited_by
WHERE i.merchant_id = $1 AND i.expires_at > now()
ORDER BY i.created_at DESC, i.invitation_id

-- name: mark_mail_failed
-- The send of the link with this token failed; a newer link (a re-send meanwhile) is not marked.
UPDATE invitations SET mail_failed_at = now()
WHERE merchant_id = $1 AND invitation_id = $2 AND token_hash = $3

-- name: delete_invitation
DELETE FROM invitations WHERE merchant_id = $1 AND invitation_id = $2
RETURNING email, role, store_ids

-- name: live_by_token
SELECT i.merchant_id, i.invitation_id, i.email, i.role, i.store_ids, i.language,
       m.name AS merchant_name,
       EXISTS (SELECT 1 FROM user_accounts u WHERE u.email = i.email) AS has_account
FROM invitations i JOIN merchants m USING (merchant_id)
WHERE i.token_hash = $1 AND i.expires_at > now()

-- name: take_by_token
-- A link works once: the invitation goes as it is read (it comes back if the transaction of
-- the membership rolls back).
DELETE FROM invitations
WHERE token_hash = $1 AND expires_at > now()
RETURNING merchant_id, invitation_id, email, role, store_ids

-- name: purge_invitations
DELETE FROM invitations WHERE expires_at <= now()

-- name: members
SELECT m.user_id, u.email, u.display_name, m.role,
       coalesce(array_agg(ms.store_id ORDER BY ms.store_id)
                FILTER (WHERE ms.store_id IS NOT NULL), '{}') AS store_ids
FROM memberships m
JOIN user_accounts u USING (user_id)
LEFT JOIN membership_stores ms ON ms.merchant_id = m.merchant_id AND ms.user_id = m.user_id
WHERE m.merchant_id = $1
GROUP BY m.user_id, u.email, u.display_name, m.role
ORDER BY m.role, u.display_name, u.email

-- name: lock_owners
-- The merchant's owners, locked: two owners demoting or removing each other at once cannot
-- leave the merchant without one.
SELECT user_id FROM memberships WHERE merchant_id = $1 AND role = 'owner'
ORDER BY user_id  -- one order of locks for every caller: no deadlock between them
FOR UPDATE

-- name: member_for_update
SELECT m.role, u.email,
       coalesce(array(SELECT store_id FROM membership_stores ms
                      WHERE ms.merchant_id = m.merchant_id AND ms.user_id = m.user_id
                      ORDER BY store_id), '{}') AS store_ids
FROM memberships m JOIN user_accounts u USING (user_id)
WHERE m.merchant_id = $1 AND m.user_id = $2
FOR UPDATE OF m

-- name: set_role
UPDATE memberships SET role = $3 WHERE merchant_id = $1 AND user_id = $2

-- name: delete_membership
DELETE FROM memberships WHERE merchant_id = $1 AND user_id = $2

-- name: store_ids_of
SELECT store_id FROM stores WHERE merchant_id = $1 AND store_id = ANY($2::uuid[])

-- name: is_member
SELECT EXISTS (SELECT 1 FROM memberships WHERE merchant_id = $1 AND user_id = $2)
