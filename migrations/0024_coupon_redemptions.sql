-- Coupons redeemed at the till (issue 9, "Redemption"): staff type or scan a shopper's code in
-- the console; the code goes from 'claimed' to 'redeemed' and a redemption is recorded (who,
-- which store, when). Within the undo window a redemption may be rolled back: the code is
-- 'claimed' again and the row keeps when and by whom it was undone. One row per redemption,
-- so reports count redemptions and a code undone and redeemed again shows both.
CREATE TABLE coupon_redemptions (
    merchant_id uuid NOT NULL,
    redemption_id uuid NOT NULL,
    code text NOT NULL,
    coupon_id uuid NOT NULL,
    store_id uuid NOT NULL,
    device_hash text,                 -- who claimed it (a pseudonym), for attribution reports
    redeemed_by uuid NOT NULL,        -- the console user
    redeemed_at timestamptz NOT NULL DEFAULT now(),
    rolled_back_at timestamptz,
    rolled_back_by uuid,
    PRIMARY KEY (merchant_id, redemption_id),
    FOREIGN KEY (merchant_id, code) REFERENCES coupon_codes,
    CHECK ((rolled_back_at IS NULL) = (rolled_back_by IS NULL))
);
-- A code's redemptions, newest first (why a code cannot be redeemed: when and where it was).
CREATE INDEX coupon_redemptions_by_code ON coupon_redemptions (merchant_id, code, redeemed_at);
-- A store's till list, newest first.
CREATE INDEX coupon_redemptions_by_store ON coupon_redemptions (merchant_id, store_id, redeemed_at);
