-- Marketing dispatch (issue 14; marketing/dispatch.py, docs/marketing-dispatch.md): the pending
-- contacts of migration 0045 sent on their channel, each under its contact id as the delivery
-- id, and what became of them.

-- When the channel confirmed the contact: a portal offer shown on the online page, a webhook
-- answered 2xx. (`sent_at` is when it left; both stay NULL for a contact never sent.)
ALTER TABLE marketing_contacts ADD COLUMN delivered_at timestamptz;

-- The portal's online page asks for one shopper's recent offers at every page view.
CREATE INDEX marketing_contacts_portal_offers ON marketing_contacts
    (merchant_id, profile_key, event_at) WHERE channel = 'portal';

-- A merchant's WeChat Official Account (服务号) for template messages (marketing/wechat.py):
-- its AppID, its AppSecret sealed (kernel.privacy.seal), the template every message uses and
-- the template's keyword the message goes into. The access token is kept here, sealed, so that
-- every dispatcher shares one (WeChat: a new token replaces the old one within 5 minutes).
CREATE TABLE marketing_wechat_accounts (
    merchant_id uuid PRIMARY KEY,
    app_id text NOT NULL CHECK (app_id ~ '^[A-Za-z0-9_-]{1,64}$'),
    sealed_app_secret bytea NOT NULL,
    template_id text NOT NULL CHECK (template_id ~ '^[A-Za-z0-9_-]{1,128}$'),
    message_key text NOT NULL DEFAULT 'thing1' CHECK (message_key ~ '^[A-Za-z0-9_]{1,40}$'),
    sealed_access_token bytea,
    access_token_expires_at timestamptz,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- A profile's follower of the merchant's Official Account (its openid there). Nothing links
-- one yet (future work: the portal's WeChat login); tests link them directly.
CREATE TABLE marketing_wechat_followers (
    merchant_id uuid NOT NULL,
    profile_key text NOT NULL,
    openid text NOT NULL CHECK (openid ~ '^[A-Za-z0-9_-]{1,128}$'),
    linked_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (merchant_id, profile_key),
    FOREIGN KEY (merchant_id, profile_key) REFERENCES marketing_profiles ON DELETE CASCADE
);
