-- The merchant's audit log (issue 10, "An audit log of every change"; accounts/audit.py,
-- docs/console.md): who changed what, when, and the record before and after as JSON. Written
-- only through accounts.audit.record_change, in the transaction of the change it records; read
-- by the merchant's owners on the console's Audit log page, newest first.
--
-- `actor_id` is the console user who made the change (NULL: the platform itself, e.g. the
-- command line); `actor_label` says which, for a reader, when there is no user. `entry_id`
-- increases with time, so the page pages by it (keyset: "older than entry N").
CREATE TABLE audit_log (
    merchant_id uuid NOT NULL REFERENCES merchants,
    entry_id bigint GENERATED ALWAYS AS IDENTITY,
    at timestamptz NOT NULL DEFAULT now(),
    actor_id uuid REFERENCES user_accounts,
    actor_label text NOT NULL DEFAULT '' CHECK (length(actor_label) <= 80),
    action text NOT NULL CHECK (action ~ '^[a-z_]+\.[a-z_]+$'),
    target_id text NOT NULL DEFAULT '' CHECK (length(target_id) <= 200),
    target_name text NOT NULL DEFAULT '' CHECK (length(target_name) <= 200),
    before jsonb,
    after jsonb,
    PRIMARY KEY (merchant_id, entry_id)
);
