-- The POS redemption API (issue 9, items 7 and 9; docs/coupons.md): a merchant's point-of-sale
-- systems check, lock, redeem and roll back shoppers' coupon codes with an API key.

-- A merchant's API keys, made and revoked by an owner in the console. The key itself is shown
-- once, at creation; only its keyed hash is kept (HMAC-SHA256 under a key derived from the
-- platform secret), in pos_key_directory, and `prefix`, its first characters, to tell keys
-- apart in the console. `store_id`: the key acts for that store only (NULL: for any store).
CREATE TABLE pos_api_keys (
    merchant_id uuid NOT NULL REFERENCES merchants,
    key_id uuid NOT NULL,
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    prefix text NOT NULL,
    store_id uuid,
    created_by uuid NOT NULL,          -- the owner who made it (a console user)
    created_at timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,          -- noted at most once a minute
    revoked_at timestamptz,
    PRIMARY KEY (merchant_id, key_id),
    FOREIGN KEY (merchant_id, store_id) REFERENCES stores
);

-- A global look-up, like router_directory: a POS presents its key before anyone knows its
-- merchant. No foreign key to pos_api_keys (a reference table may not point into a
-- distributed one); pos_api_keys.revoked_at decides whether a key still works.
CREATE TABLE pos_key_directory (
    key_hash bytea PRIMARY KEY,
    merchant_id uuid NOT NULL,
    key_id uuid NOT NULL
);

-- A code locked by a POS while its sale goes through (state 'locked' until `locked_until`):
-- nobody else may lock or redeem it meanwhile. A lock that ran out leaves the state 'locked'
-- with `locked_until` past: it reads as 'claimed' again (ads/queries.sql, code_status).
ALTER TABLE coupon_codes
    ADD COLUMN lock_id uuid,
    ADD COLUMN locked_until timestamptz,
    ADD CONSTRAINT coupon_codes_lock CHECK (state <> 'locked' OR locked_until IS NOT NULL);

-- Every lock taken, kept for review (many locks and few redemptions from one key); the code's
-- current lock is coupon_codes.lock_id.
CREATE TABLE coupon_locks (
    merchant_id uuid NOT NULL,
    lock_id uuid NOT NULL,
    code text NOT NULL,
    api_key_id uuid NOT NULL,
    store_id uuid,
    pos_reference text CHECK (length(pos_reference) BETWEEN 1 AND 100),
    locked_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (merchant_id, lock_id),
    FOREIGN KEY (merchant_id, code) REFERENCES coupon_codes,
    FOREIGN KEY (merchant_id, api_key_id) REFERENCES pos_api_keys
);

-- A redemption is made by a console user at the till (redeemed_by) or by a POS through an API
-- key (api_key_id), exactly one of them; likewise its rollback. A POS redemption carries the
-- POS's own reference and the Idempotency-Key it was asked with: the same key asking again
-- gets the same redemption back (unique per API key).
ALTER TABLE coupon_redemptions
    ALTER COLUMN redeemed_by DROP NOT NULL,
    ADD COLUMN api_key_id uuid,
    ADD COLUMN pos_reference text CHECK (length(pos_reference) BETWEEN 1 AND 100),
    ADD COLUMN idempotency_key text CHECK (length(idempotency_key) BETWEEN 1 AND 255),
    ADD COLUMN rolled_back_by_key uuid,
    ADD CONSTRAINT coupon_redemptions_by_whom CHECK (num_nonnulls(redeemed_by, api_key_id) = 1),
    ADD CONSTRAINT coupon_redemptions_idempotent_by_key
        CHECK (idempotency_key IS NULL OR api_key_id IS NOT NULL),
    ADD FOREIGN KEY (merchant_id, api_key_id) REFERENCES pos_api_keys,
    ADD FOREIGN KEY (merchant_id, rolled_back_by_key) REFERENCES pos_api_keys,
    DROP CONSTRAINT coupon_redemptions_check,
    ADD CONSTRAINT coupon_redemptions_rolled_back CHECK (
        (rolled_back_at IS NULL AND rolled_back_by IS NULL AND rolled_back_by_key IS NULL)
        OR (rolled_back_at IS NOT NULL AND num_nonnulls(rolled_back_by, rolled_back_by_key) = 1)
    );
CREATE UNIQUE INDEX coupon_redemptions_idempotency
    ON coupon_redemptions (merchant_id, api_key_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
