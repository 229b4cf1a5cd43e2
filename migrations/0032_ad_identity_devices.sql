-- The devices each shopper identity was seen on at the ad decision (docs/ad-reports.md,
-- "Identities"). The decision counts a shopper by their phone or email identity when the
-- portal knows it, while claims, redemptions and return visits are keyed by the device's
-- pseudonym: a report reads a shopper's results on every device the identity was seen on.
-- Both columns are per-merchant pseudonyms (PRODUCT.md §5); a row is written once per pair.
CREATE TABLE ad_identity_devices (
    merchant_id uuid NOT NULL REFERENCES merchants,
    identity text NOT NULL CHECK (length(identity) BETWEEN 1 AND 200),
    device text NOT NULL CHECK (length(device) BETWEEN 1 AND 200),
    first_seen_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (merchant_id, identity, device)
);
