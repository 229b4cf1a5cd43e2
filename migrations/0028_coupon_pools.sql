-- Coupon pools, claim limits and the rest of a code's states (issue 9, item 6; docs/coupons.md).
--
-- A coupon's pool: 'unique' (Portico's own codes, made when the coupon is made, or one by one
-- as shoppers claim them), 'generic' (one code, `generic_code`, said by every shopper at the
-- till; each claim is still a row of coupon_codes, under a Portico code of its own that its QR
-- carries) or 'imported' (the merchant's own POS codes, uploaded, handed out one per claim).
-- Limits count claims: per shopper (lifetime), per period (all shoppers, a day or a week in
-- the coupon's `timezone`: the venue's) and in total; NULL: no limit. `claim_days`: a claimed
-- code is valid that many days after its claim (and never after `valid_until`).
ALTER TABLE coupons
    ADD COLUMN pool text NOT NULL DEFAULT 'unique' CHECK (pool IN ('unique', 'generic', 'imported')),
    ADD COLUMN generic_code text CHECK (generic_code ~ '^[A-Z0-9]{4,32}$'),
    ADD COLUMN codes_on_claim boolean NOT NULL DEFAULT false,  -- unique: a code made per claim
    ADD COLUMN claim_days integer CHECK (claim_days BETWEEN 1 AND 3650),
    ADD COLUMN limit_per_shopper integer DEFAULT 1 CHECK (limit_per_shopper >= 1),
    ADD COLUMN limit_per_period integer CHECK (limit_per_period >= 1),
    ADD COLUMN limit_period text CHECK (limit_period IN ('day', 'week')),
    ADD COLUMN limit_total integer CHECK (limit_total >= 1),
    ADD COLUMN timezone text NOT NULL DEFAULT 'Asia/Shanghai',
    ADD COLUMN claims integer NOT NULL DEFAULT 0,  -- claims ever: the total limit's counter
    ADD CONSTRAINT coupons_generic_code CHECK ((pool = 'generic') = (generic_code IS NOT NULL)),
    ADD CONSTRAINT coupons_period CHECK ((limit_per_period IS NULL) = (limit_period IS NULL));

-- A claimed code's own end (`expires_at`: valid_until, or claim_days after the claim if
-- sooner), when and by whom it was voided (an owner in the console), and where it expired
-- (state 'expired', set by the expiry job once its end passed).
ALTER TABLE coupon_codes
    ADD COLUMN expires_at timestamptz,
    ADD COLUMN voided_at timestamptz,
    ADD COLUMN voided_by uuid,
    ADD CONSTRAINT coupon_codes_void CHECK ((state = 'void') = (voided_at IS NOT NULL));

-- A shopper may claim a coupon again (limit_per_shopper > 1, after redeeming): limits replace
-- the one-per-shopper index, enforced under the coupon's row lock (ads/services.py).
DROP INDEX coupon_codes_one_per_shopper;
CREATE INDEX coupon_codes_by_shopper ON coupon_codes (merchant_id, claimed_by, claimed_at)
    WHERE claimed_by IS NOT NULL;
CREATE INDEX coupon_codes_claims ON coupon_codes (merchant_id, coupon_id, claimed_at)
    WHERE claimed_at IS NOT NULL;
-- The expiry job's work: held codes whose end passed.
CREATE INDEX coupon_codes_held_until ON coupon_codes (expires_at)
    WHERE state IN ('claimed', 'locked');

UPDATE coupons cp SET claims = (
    SELECT count(*) FROM coupon_codes cc
    WHERE cc.merchant_id = cp.merchant_id AND cc.coupon_id = cp.coupon_id
          AND cc.claimed_at IS NOT NULL
);

UPDATE coupon_codes cc SET expires_at = cp.valid_until
FROM coupons cp
WHERE cp.merchant_id = cc.merchant_id AND cp.coupon_id = cc.coupon_id AND cc.claimed_at IS NOT NULL;
