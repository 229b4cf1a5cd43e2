-- WeChat: template messages (marketing/wechat.py), the follow QR codes (wechat_follow.py) and
-- the event pushes (wechat_events.py); tables of migrations 0046 and 0050.

-- name: set_account
INSERT INTO marketing_wechat_accounts (merchant_id, app_id, sealed_app_secret, template_id,
                                       message_key)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (merchant_id) DO UPDATE SET
    app_id = EXCLUDED.app_id, sealed_app_secret = EXCLUDED.sealed_app_secret,
    template_id = EXCLUDED.template_id, message_key = EXCLUDED.message_key,
    sealed_access_token = NULL, access_token_expires_at = NULL, updated_at = now()

-- name: account
SELECT template_id, message_key FROM marketing_wechat_accounts WHERE merchant_id = $1

-- name: lock_account
-- The account with its stored token, locked while a dispatcher refreshes the token.
SELECT app_id, sealed_app_secret, sealed_access_token, access_token_expires_at
FROM marketing_wechat_accounts WHERE merchant_id = $1
FOR UPDATE

-- name: save_token
UPDATE marketing_wechat_accounts
SET sealed_access_token = $2, access_token_expires_at = $3, updated_at = now()
WHERE merchant_id = $1

-- name: link_follower
-- The profile ($2) follows as $3 since the push of CreateTime $4 (NULL: linked otherwise); a
-- link made by a newer push stands (nothing returned then).
INSERT INTO marketing_wechat_followers (merchant_id, profile_key, openid, event_time)
VALUES ($1, $2, $3, $4)
ON CONFLICT (merchant_id, profile_key) DO UPDATE
SET openid = EXCLUDED.openid, linked_at = now(), event_time = EXCLUDED.event_time
WHERE marketing_wechat_followers.event_time IS NULL OR EXCLUDED.event_time IS NULL
      OR marketing_wechat_followers.event_time < EXCLUDED.event_time
RETURNING profile_key

-- name: follower
SELECT openid FROM marketing_wechat_followers WHERE merchant_id = $1 AND profile_key = $2

-- name: make_push_token
-- A push token for the account ($2, sealed): when it has none, or always with $3 (rotate).
UPDATE marketing_wechat_accounts SET sealed_push_token = $2, updated_at = now()
WHERE merchant_id = $1 AND (sealed_push_token IS NULL OR $3::boolean)

-- name: push_token
SELECT sealed_push_token FROM marketing_wechat_accounts WHERE merchant_id = $1

-- name: account_settings
-- What the merchant's operator sees of the account (`portico wechat show`): never a secret.
SELECT app_id, template_id, message_key, sealed_push_token IS NOT NULL AS has_push_token,
       updated_at
FROM marketing_wechat_accounts WHERE merchant_id = $1

-- name: has_account
SELECT EXISTS (SELECT 1 FROM marketing_wechat_accounts WHERE merchant_id = $1)

-- name: follow_state
-- The profile's opt-out and WeChat consent, if it is stored.
SELECT opted_out_at, consent_wechat FROM marketing_profiles
WHERE merchant_id = $1 AND profile_key = $2

-- name: device_identity
-- The identity profile a device's login linked it to ($2 device), if any.
SELECT profile_key FROM marketing_profile_devices
WHERE merchant_id = $1 AND device_hash = $2 AND profile_key LIKE 'i:%'

-- name: ensure_profile
-- A bare profile for an identity the engine has not folded yet (its login is in the inbox):
-- the QR code's scene refers to it. The engine's next write of it fills it in.
INSERT INTO marketing_profiles (merchant_id, profile_key, created_at, updated_at)
VALUES ($1, $2, now(), now())
ON CONFLICT (merchant_id, profile_key) DO NOTHING

-- name: usable_scene
-- The profile's QR code still good for at least $3, the longest-lived first.
SELECT scene_id, url, expires_at FROM marketing_wechat_scenes
WHERE merchant_id = $1 AND profile_key = $2 AND expires_at > now() + $3::interval
ORDER BY expires_at DESC
LIMIT 1

-- name: save_scene
INSERT INTO marketing_wechat_scenes (merchant_id, scene_id, profile_key, url, expires_at)
VALUES ($1, $2, $3, $4, $5)

-- name: delete_expired_scenes
-- The merchant's codes WeChat no longer accepts (each is deleted once: at the next code made).
DELETE FROM marketing_wechat_scenes WHERE merchant_id = $1 AND expires_at < now()

-- name: accept_push
-- A signed push's signature, once ($2 its timestamp, $3 its nonce): nothing returned when it
-- was accepted before (WeChat's retry with the same signature, or a replay).
INSERT INTO marketing_wechat_pushes (merchant_id, signed_at, nonce) VALUES ($1, $2, $3)
ON CONFLICT DO NOTHING
RETURNING signed_at

-- name: forget_pushes
-- Signatures older than any timestamp still accepted ($2, unix seconds).
DELETE FROM marketing_wechat_pushes WHERE merchant_id = $1 AND signed_at < $2

-- name: take_scene
-- The scene a push names ($2), locked, with whether it is still good and whether this push
-- ($3 its CreateTime) is newer than the last one handled through it.
SELECT profile_key, expires_at > now() AS good,
       last_event_time IS NULL OR last_event_time < $3 AS newer
FROM marketing_wechat_scenes WHERE merchant_id = $1 AND scene_id = $2
FOR UPDATE

-- name: scene_handled
UPDATE marketing_wechat_scenes SET last_event_time = $3 WHERE merchant_id = $1 AND scene_id = $2

-- name: unlink_openid
-- An unfollow ($2 the openid, $3 its CreateTime): the links it ends (not one a later push
-- made; one of the same second is taken as before it: consent errs on the side of "no").
DELETE FROM marketing_wechat_followers
WHERE merchant_id = $1 AND openid = $2 AND (event_time IS NULL OR event_time <= $3)
RETURNING profile_key
