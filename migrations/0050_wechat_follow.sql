-- A shopper's WeChat, linked by following the merchant's Official Account (issue 14's wechat
-- channel; marketing/wechat_follow.py, marketing/wechat_events.py, docs/marketing.md "WeChat:
-- following the account"). The online page shows a temporary parametric QR code (带参数的二维码)
-- whose scene names the shopper's profile; WeChat pushes the scan (subscribe/SCAN) to our event
-- endpoint, which links the openid to the profile and gives the consent; an unsubscribe
-- withdraws it and removes the link.

-- The consent to WeChat template messages: given by following the account through the
-- shopper's own code, withdrawn by unfollowing or by the opt-out. Written by the engine only,
-- from the 'consent' events of channel 'wechat' (marketing/engine.py).
ALTER TABLE marketing_profiles ADD COLUMN consent_wechat boolean NOT NULL DEFAULT false;

-- The token WeChat signs its pushes with (the Official Account's 服务器配置 "Token"), sealed
-- (kernel.privacy.seal). NULL until one is made (`portico wechat show` or a change makes it).
ALTER TABLE marketing_wechat_accounts ADD COLUMN sealed_push_token bytea;

-- The push's CreateTime (WeChat's, seconds) that linked the follower: an older unsubscribe
-- (a retry, or a push delivered late) does not remove a newer link. NULL: linked otherwise.
ALTER TABLE marketing_wechat_followers ADD COLUMN event_time bigint;
-- An unsubscribe names the openid only.
CREATE INDEX marketing_wechat_followers_by_openid ON marketing_wechat_followers
    (merchant_id, openid);

-- A temporary parametric QR code made for one profile: its scene (random, the QR's
-- scene_str), what the code holds (WeChat's `url`), and until when WeChat accepts it. Kept per
-- profile until near its end (the online page shows the same code again), deleted once
-- expired, and with the profile (erasure).
CREATE TABLE marketing_wechat_scenes (
    merchant_id uuid NOT NULL,
    scene_id text NOT NULL CHECK (scene_id ~ '^[A-Za-z0-9_-]{16,64}$'),
    profile_key text NOT NULL,
    url text NOT NULL CHECK (length(url) BETWEEN 1 AND 500),
    expires_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    -- the CreateTime of the latest push handled through this scene: one not newer (a retry
    -- with a new signature, a push delivered late) is not handled again
    last_event_time bigint,
    PRIMARY KEY (merchant_id, scene_id),
    FOREIGN KEY (merchant_id, profile_key) REFERENCES marketing_profiles ON DELETE CASCADE
);
CREATE INDEX marketing_wechat_scenes_by_profile ON marketing_wechat_scenes
    (merchant_id, profile_key, expires_at);

-- Each signed push accepted, by its signature's timestamp and nonce, for as long as such a
-- timestamp is accepted at all: WeChat's signature does not cover the body, so a signature
-- seen once is not accepted with another body. Deleted after that window.
CREATE TABLE marketing_wechat_pushes (
    merchant_id uuid NOT NULL,
    signed_at bigint NOT NULL,
    nonce text NOT NULL CHECK (length(nonce) BETWEEN 1 AND 64),
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (merchant_id, signed_at, nonce)
);
