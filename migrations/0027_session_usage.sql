-- A session's data use, kept on the session whatever ends it (portal/session_usage.py,
-- docs/logins.md "Vouchers: one data limit"), so that a voucher's data limit holds across its
-- devices and sessions: what its sessions used is the sum of these.
--
-- down_used_kb / up_used_kb: everything the session moved, never less than before (a counter
-- that goes back gives nothing back). openNDS (our agent's `usage` reports) counts from its
-- last grant of the client, and starts again at every grant (an extension, a restore after an
-- openNDS restart): the counter of the grant being counted is `usage_epoch` (which grant, and
-- openNDS's session_start), at `usage_epoch_down_kb`/`usage_epoch_up_kb` when last read,
-- from the report of `usage_reported_at` (the router's clock): a later reading of the same
-- counter adds what it grew by, a new or reset counter adds what it holds, an older report is
-- not read. WiFiDog: the gateway's counters (wifidog_usage) at their highest. openNDS's authmon
-- alone (level 3): nothing reports it, 0.
ALTER TABLE portal_sessions
    ADD COLUMN down_used_kb bigint NOT NULL DEFAULT 0 CHECK (down_used_kb >= 0),
    ADD COLUMN up_used_kb bigint NOT NULL DEFAULT 0 CHECK (up_used_kb >= 0),
    ADD COLUMN usage_epoch text,
    ADD COLUMN usage_epoch_down_kb bigint NOT NULL DEFAULT 0 CHECK (usage_epoch_down_kb >= 0),
    ADD COLUMN usage_epoch_up_kb bigint NOT NULL DEFAULT 0 CHECK (usage_epoch_up_kb >= 0),
    ADD COLUMN usage_reported_at timestamptz;
