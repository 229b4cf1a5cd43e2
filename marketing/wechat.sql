-- WeChat template messages (marketing/wechat.py; tables of migration 0046).

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
INSERT INTO marketing_wechat_followers (merchant_id, profile_key, openid)
VALUES ($1, $2, $3)
ON CONFLICT (merchant_id, profile_key) DO UPDATE SET openid = EXCLUDED.openid, linked_at = now()

-- name: follower
SELECT openid FROM marketing_wechat_followers WHERE merchant_id = $1 AND profile_key = $2
