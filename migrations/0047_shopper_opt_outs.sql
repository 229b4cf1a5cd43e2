-- A shopper's "No more offers" (issue 14; portal/opt_out.py, docs/marketing.md "One contact
-- budget"): one row per session whose online page asked for it. The row is the record of the
-- shopper's choice and the name of what was told to marketing: a replayed request finds it
-- and tells nothing again.
CREATE TABLE shopper_opt_outs (
    merchant_id uuid NOT NULL,
    session_id uuid NOT NULL,
    store_id uuid NOT NULL,
    device_hash text NOT NULL,       -- the session's device (merchant-keyed pseudonym)
    identity_hash text,              -- the identity it logged in with, if any
    opted_out_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (merchant_id, session_id),
    FOREIGN KEY (merchant_id, session_id) REFERENCES portal_sessions ON DELETE CASCADE
);
CREATE INDEX shopper_opt_outs_by_device ON shopper_opt_outs (merchant_id, device_hash);

-- A marketing-SMS consent may also end by the shopper's "T" reply to an offer text
-- (portal/sms_inbound.py: the SMS provider's inbound messages).
ALTER TABLE shopper_consents DROP CONSTRAINT shopper_consents_withdrawn_via_check;
ALTER TABLE shopper_consents ADD CONSTRAINT shopper_consents_withdrawn_via_check
    CHECK (withdrawn_via IN ('link', 'console', 'portal', 'sms_reply'));
